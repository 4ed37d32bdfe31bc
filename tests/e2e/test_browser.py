"""The web client end to end in a real browser: `client/e2e/browser.mjs` (playwright-core and
Chromium) against a real Warren serving the built client, in embedded mode, and the scripted
OpenAI-compatible model. Screenshots land in `test-output/e2e/`."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.helpers import make_settings, running_warren

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


def chromium() -> str:
    found = os.environ.get("WARREN_TEST_CHROMIUM") or shutil.which("chromium")
    assert found, "Chromium is missing: scripts/ensure-test-services installs it"
    return found


@pytest.mark.timeout(240)
async def test_the_client_in_a_real_browser(tmp_path: Path, llm: ScriptedLLM) -> None:
    dist = CLIENT / "dist"
    assert (dist / "index.html").is_file(), "build the client first: make client"
    assert (CLIENT / "node_modules" / "playwright-core").is_dir(), "run: make client"
    todos = [
        {"content": "Choose a park", "status": "completed"},
        {"content": "Pack the basket", "status": "in_progress"},
    ]
    notes = {"file_path": "/workspace/picnic.md", "content": "# Picnic\n- bread\n- cheese\n"}
    llm.script(
        [
            (
                MAIN,
                [
                    Reply(tool_calls=[ToolCall("write_todos", {"todos": todos})]),
                    Reply(tool_calls=[ToolCall("write_file", notes)]),
                    Reply(text=ANSWER, text_chunks=60, delay=0.1),  # long enough to reload in
                    Reply(text=STORY, text_chunks=400, delay=0.1),  # stopped by the user
                ],
            )
        ]
    )
    upload = tmp_path / "guests.csv"
    upload.write_text("name,brings\nAda,bread\nGrace,cheese\n")
    settings = make_settings(
        tmp_path / "data",
        model_api_key="sk-test",
        model_base_url=llm.base_url,
        warren_client_dir=dist,
    )
    shutil.rmtree(OUTPUT, ignore_errors=True)
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
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 200)
    log = output.decode(errors="replace")
    (OUTPUT / "browser.log").write_text(log)
    assert process.returncode == 0, log
    assert log.rstrip().endswith("step: done"), log
    shots = {path.name for path in OUTPUT.glob("*.png")}
    assert {"01-register.png", "03-chat.png", "05-files.png", "07-phone-dark.png"} <= shots
    # the browser's upload really reached the thread's sandbox
    uploaded = list((tmp_path / "data" / "sandboxes").glob("lsb-*/root/workspace/guests.csv"))
    assert [path.read_text() for path in uploaded] == [upload.read_text()]
