"""The README's API clients (`examples/`) run against a real Warren process and do what they
say: the stream, its resume after a dropped connection (nothing lost, nothing twice), and a
cancel. The README shows each file whole, so it cannot drift from the tested code."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.runs.processes import server_env, warren_process

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MAIN = "You are Warren, a capable assistant"
HAIKU = "Otters hold paws while they sleep, drifting on the kelp, never apart."
USER = {"username": "example-user", "password": "a long example password"}


def script(llm: ScriptedLLM) -> None:
    never = asyncio.Event()  # the epic never comes: the run waits until it is cancelled
    llm.script(
        [(MAIN, [Reply(text=HAIKU, text_chunks=12, delay=0.05), Reply(text="Sing", gate=never)])]
    )


async def run(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


@pytest.mark.parametrize("path", ["api_client.py", "api_client.sh"])
def test_readme_shows_each_example_whole(path: str) -> None:
    assert (EXAMPLES / path).read_text().strip() in (ROOT / "README.md").read_text()


@pytest.fixture
async def warren(tmp_path: Path, llm: ScriptedLLM) -> AsyncIterator[tuple[str, str]]:
    """A Warren process with a registered user: its address and the user's access token."""
    script(llm)
    env = server_env(tmp_path / "data", llm.base_url)
    async with (
        warren_process(env, tmp_path / "warren.log") as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as http,
    ):
        registered = await http.post("/api/auth/register", json=USER)
        assert registered.status_code == 201
        yield server.url, registered.json()["access_token"]


async def test_python_client_streams_resumes_and_cancels(
    warren: tuple[str, str], tmp_path: Path
) -> None:
    url, token = warren
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        key = await http.post(
            "/api/auth/api-keys",
            json={"name": "example"},
            headers={"Authorization": f"Bearer {token}"},
        )
    client_env = {**os.environ, "WARREN_URL": url, "WARREN_API_KEY": key.json()["secret"]}
    output = await run([sys.executable, str(EXAMPLES / "api_client.py")], client_env, tmp_path)
    done = re.findall(r"\[run ([0-9a-f-]+): (\w+)\]", output)
    assert [status for _, status in done] == ["success", "cancelled"]
    assert done[0][0] != done[1][0]
    # the first part came before the dropped connection, the rest after the resume
    text = output.split("[run")[0]
    assert text.strip() == HAIKU


async def test_shell_client_streams_resumes_and_cancels(
    warren: tuple[str, str], tmp_path: Path
) -> None:
    url, _ = warren
    client_env = {
        **os.environ,
        "WARREN_URL": url,
        "WARREN_USER": USER["username"],
        "WARREN_PASSWORD": USER["password"],
    }
    output = await run(["bash", str(EXAMPLES / "api_client.sh")], client_env, tmp_path)
    events = [
        json.loads(line.removeprefix("data: "))
        for line in output.splitlines()
        if line.startswith("data: ")
    ]
    first_run = events[0]["run_id"]
    ids = [
        int(line.removeprefix("id: ")) for line in output.splitlines() if line.startswith("id: ")
    ]
    resumed = [event for event in events if event["run_id"] == first_run]
    assert ids[: len(resumed)] == list(range(1, len(resumed) + 1))  # none lost, none twice
    text = "".join(e["content"] for e in resumed if e["type"] == "message")
    assert text == HAIKU
    assert resumed[-1] == {**resumed[-1], "type": "done", "status": "success"}
    assert events[-1]["type"] == "done"
    assert events[-1]["status"] == "cancelled"
    assert events[-1]["run_id"] != first_run
