"""The web client end to end in a real browser: `client/e2e/browser.mjs` (playwright-core and
Chromium) against a real Warren serving the built client, in embedded mode, and the scripted
OpenAI-compatible model. `execute` needs approval (`HITL_TOOLS`), and a skill is installed
from a zip served on an allowlisted loopback port. Screenshots land in `test-output/e2e/`."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.helpers import make_settings, running_warren
from warren.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client"
OUTPUT = ROOT / "test-output" / "e2e"
MAIN = "You are Warren, a capable assistant"

HEADING = "Sunny-day picnic plan"
LAST_LINE = "Enjoy the picnic, and bring a blanket."
ANSWER = (
    f"# {HEADING}\n\n"
    "I wrote the list to `/workspace/picnic.md`. The plan:\n\n"
    "| When | What |\n|---|---|\n| 11:00 | Meet at the park |\n| 12:30 | Lunch |\n\n"
    "- [x] Choose a park\n- [ ] Pack the basket\n\n"
    "```python\nbasket = ['bread', 'cheese', 'grapes']\nprint(len(basket))\n```\n\n"
    + " ".join(f"Step {n} goes smoothly." for n in range(1, 25))
    + f"\n\n{LAST_LINE}"
)
STORY = "Once upon a time " + " ".join(f"there was a hill number {n}." for n in range(400))
APPROVED = "Added grapes to the picnic list."
SKILL = "picnic-planner"
SKILL_DESCRIPTION = "Plans picnics, from the park to the basket and the weather."


def skill_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "SKILL.md",
            f"---\nname: {SKILL}\ndescription: {SKILL_DESCRIPTION}\n---\n\n# Picnics\n"
            "Check the forecast first.\n",
        )
    return buffer.getvalue()


@contextmanager
def serving(files: dict[str, bytes]) -> Iterator[str]:
    """Serve `files` at `http://127.0.0.1:<port>/<name>`; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = files.get(self.path.lstrip("/"))
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def chromium() -> str:
    found = os.environ.get("WARREN_TEST_CHROMIUM") or shutil.which("chromium")
    assert found, "Chromium is missing: scripts/ensure-test-services installs it"
    return found


@pytest.mark.timeout(300)
async def test_the_client_in_a_real_browser(tmp_path: Path, llm: ScriptedLLM) -> None:
    dist = CLIENT / "dist"
    assert (dist / "index.html").is_file(), "build the client first: make client"
    assert (CLIENT / "node_modules" / "playwright-core").is_dir(), "run: make client"
    todos = [
        {"content": "Choose a park", "status": "completed"},
        {"content": "Pack the basket", "status": "in_progress"},
    ]
    notes = {"file_path": "/workspace/picnic.md", "content": "# Picnic\n- bread\n- cheese\n"}
    picnic = "/workspace/picnic.md"
    grapes = {"command": f"echo '- grapes' >> {picnic} && tail -n 1 {picnic}"}
    llm.script(
        [
            (
                MAIN,
                [
                    Reply(tool_calls=[ToolCall("write_todos", {"todos": todos})]),
                    Reply(tool_calls=[ToolCall("write_file", notes)]),
                    Reply(text=ANSWER, text_chunks=60, delay=0.1),  # long enough to reload in
                    Reply(text=STORY, text_chunks=400, delay=0.1),  # stopped by the user
                    Reply(tool_calls=[ToolCall("execute", grapes)]),  # waits for approval
                    Reply(text=APPROVED),  # after the approved command ran
                ],
            )
        ]
    )
    upload = tmp_path / "guests.csv"
    upload.write_text("name,brings\nAda,bread\nGrace,cheese\n")
    shutil.rmtree(OUTPUT, ignore_errors=True)
    with serving({f"{SKILL}.zip": skill_zip()}) as skills_base:
        settings = make_settings(
            tmp_path / "data",
            model_api_key="sk-test",
            model_base_url=llm.base_url,
            warren_client_dir=dist,
            hitl_tools=["execute"],
            warren_fetch_allow_hosts=[skills_base.removeprefix("http://")],
        )
        log, returncode = await drive_browser(settings, upload, f"{skills_base}/{SKILL}.zip")
    (OUTPUT / "browser.log").write_text(log)
    assert returncode == 0, log
    assert log.rstrip().endswith("step: done"), log
    shots = {path.name for path in OUTPUT.glob("*.png")}
    assert {
        "01-register.png",
        "03-chat.png",
        "05-approval.png",
        "06-files.png",
        "07-settings.png",
        "08-phone-dark.png",
    } <= shots
    # the browser's upload really reached the thread's sandbox, and the approved command ran
    workspaces = list((tmp_path / "data" / "sandboxes").glob("lsb-*/root/workspace"))
    assert [(path / "guests.csv").read_text() for path in workspaces] == [upload.read_text()]
    assert (workspaces[0] / "picnic.md").read_text().endswith("- grapes\n")


async def drive_browser(settings: Settings, upload: Path, skill_url: str) -> tuple[str, int | None]:
    """Run `client/e2e/browser.mjs` against a Warren with `settings`; its log and exit code."""
    async with running_warren(settings) as url:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(CLIENT / "e2e" / "browser.mjs"),
            cwd=CLIENT,
            env={
                **os.environ,
                "WARREN_URL": url,
                "CHROMIUM": chromium(),
                "SCREENSHOTS": str(OUTPUT),
                "UPLOAD_FILE": str(upload),
                "SKILL_URL": skill_url,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 230)
    return output.decode(errors="replace"), process.returncode
