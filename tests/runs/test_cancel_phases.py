"""Cancel in every phase of a run: mid-answer, while the model holds its answer, before the
first token, inside a file tool, inside a subagent (waiting for the model, or running a
command) and inside a sandbox command on both providers.

Every case runs on both deployments (the `backend` fixture) and checks one contract:
`done{status:"cancelled"}` within 2 s, exactly one `done` and nothing after it (a second
cancel is accepted and changes nothing), the model call in flight dropped, no process of
the run left on the host, and the thread takes a new run at once. (`tests/api/test_runs.py`
covers the plain cancel of a run waiting on a gated model, and deleting a busy thread.)"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SettingsFactory
from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.fakes.opensandbox_server import running_opensandbox
from tests.fakes.tavily_server import TavilyStandIn
from tests.helpers import Api, Stream, registered_api
from tests.runs.streams import (
    assert_same_frames,
    follow_into,
    live_stream,
    text_of,
    wait_for_frames,
)
from warren.config import Settings
from warren.sandbox.local import LocalProvider

MAIN = "You are Warren, a capable assistant"
RESEARCHER = "You are Warren's researcher"
CANCEL_BOUND = 2.0 + 0.5  # the 2 s, with a little room for a loaded 2-core machine
AFTERWARDS = "A fresh start."


@dataclass
class Running:
    api: Api
    thread_id: str
    stream: Stream
    watching: asyncio.Task[None]

    @property
    def runs(self) -> str:
        return f"/api/threads/{self.thread_id}/runs"

    @property
    def run_id(self) -> str:
        return str(self.stream.frames[0].data["run_id"])


async def start_run(api: Api, text: str = "go") -> Running:
    thread = await api.new_thread()
    stream = live_stream()
    body = {"messages": [{"role": "user", "content": text}]}
    url = f"/api/threads/{thread['id']}/runs/stream"
    watching = asyncio.create_task(follow_into(api, "POST", url, stream, json=body))
    await wait_for_frames(stream, "run_started")
    return Running(api, thread["id"], stream, watching)


async def cancel_and_check(run: Running) -> None:
    """Cancel; assert the whole cancel contract; then start the next run on the thread."""
    api = run.api
    started = asyncio.get_running_loop().time()
    assert (await api.request("POST", f"{run.runs}/{run.run_id}/cancel")).status_code == 202
    await asyncio.wait_for(run.watching, 15)
    elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < CANCEL_BOUND, f"the cancel took {elapsed:.2f} s"
    assert run.stream.frames[-1].data == {
        "type": "done",
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "status": "cancelled",
    }
    assert run.stream.types.count("done") == 1
    # idempotent: accepted again, and no second `done`, nor anything else, follows
    assert (await api.request("POST", f"{run.runs}/{run.run_id}/cancel")).status_code == 202
    await asyncio.sleep(0.5)
    log = await api.stream("GET", f"{run.runs}/{run.run_id}/stream")
    assert_same_frames(log.frames, run.stream.frames)
    record = (await api.request("GET", f"{run.runs}/{run.run_id}")).json()
    assert record["status"] == "cancelled"
    assert record["error"] is None
    # the thread is free at once
    after = await api.request(
        "POST", run.runs, json={"messages": [{"role": "user", "content": "next"}]}
    )
    assert after.status_code == 200, after.text
    assert after.json()["status"] == "success"
    assert after.json()["messages"][-1]["content"] == AFTERWARDS


def processes_with(token: str) -> list[str]:
    """Command lines of the host's processes that mention `token` (sandboxed ones
    included: their `bwrap` and `sh -c` carry the command)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace")[:200])
    return found


async def wait_for(condition: Any, timeout: float = 30, what: str = "condition") -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def marker_files(root: Path, name: str) -> list[Path]:
    return [p for p in root.rglob(name) if p.is_file()]


async def assert_stopped(root: Path, token: str) -> None:
    """No process mentions `token` any more, and its marker file has stopped growing."""
    assert processes_with(token) == []
    (marker,) = marker_files(root, f"m-{token}")
    size = marker.stat().st_size
    await asyncio.sleep(1)
    assert marker.stat().st_size == size, "the command is still writing"


def looping_command(token: str) -> str:
    """A background loop writing a marker, and a long `sleep` in the foreground."""
    loop = f"while :; do echo tick >> /workspace/m-{token}; sleep 0.1; done"
    return f"sh -c '{loop}' & sleep 60 # {token}"


# -- the model --------------------------------------------------------------------------


async def test_cancel_mid_answer_drops_the_model_call_and_nothing_follows_done(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    answer = "".join(f"w{i} " for i in range(200))
    llm.script([(MAIN, [Reply(text=answer, text_chunks=200, delay=0.05), Reply(text=AFTERWARDS)])])
    settings = settings_for(model_api_key="sk-test", model_base_url=llm.base_url)
    async with registered_api(settings) as api:
        run = await start_run(api)
        await wait_for_frames(run.stream, "message", 5)
        await cancel_and_check(run)
        assert 0 < len(text_of(run.stream.frames)) < len(answer)  # stopped mid-answer
        assert llm.aborted == [0]  # the streamed HTTP response was dropped, not drained


async def test_cancel_while_the_model_holds_its_answer_aborts_the_http_call(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    gate = asyncio.Event()  # never set: the model answers nothing until the call is dropped
    llm.script([(MAIN, [Reply(text="never", gate=gate), Reply(text=AFTERWARDS)])])
    settings = settings_for(model_api_key="sk-test", model_base_url=llm.base_url)
    async with registered_api(settings) as api:
        run = await start_run(api)
        await llm.wait_for_requests(1)
        await cancel_and_check(run)
        assert llm.aborted == [0]
        assert "message" not in run.stream.types


async def test_cancel_before_the_first_token(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    gate = asyncio.Event()

    def answer(body: dict[str, Any]) -> Reply:
        # the cancelled run may or may not have asked yet: answer by what is asked
        last = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
        return Reply(text=AFTERWARDS) if last == "next" else Reply(text="never", gate=gate)

    llm.responder = answer
    settings = settings_for(model_api_key="sk-test", model_base_url=llm.base_url)
    async with registered_api(settings) as api:
        run = await start_run(api)  # returns as soon as `run_started` arrives
        await cancel_and_check(run)
        assert "message" not in run.stream.types
        # a model call made before the cancel landed was dropped, not left hanging
        first_run_calls = len(llm.requests) - 1  # the last one is the next run's
        await llm.wait_for_aborted(first_run_calls)
        assert llm.aborted == list(range(first_run_calls))
        gate.set()


# -- tools and subagents ------------------------------------------------------------------


async def test_cancel_inside_a_tool(
    tmp_path: Path, settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    """`web_search` waits on a search service that does not answer: the cancel stops the
    run inside the tool. (A built-in file tool cannot be made to block: deepagents' read
    refuses anything but a regular file.)"""
    tavily = TavilyStandIn()
    tavily.delay = 60.0
    await tavily.start()
    try:
        search = ToolCall("web_search", {"query": "otters"})
        llm.script([(MAIN, [Reply(tool_calls=[search]), Reply(text=AFTERWARDS)])])
        settings = settings_for(
            model_api_key="sk-test",
            model_base_url=llm.base_url,
            tavily_api_key=tavily.api_key,
            tavily_base_url=tavily.base_url,
            search_timeout_seconds=120,
        )
        async with registered_api(settings) as api:
            run = await start_run(api)
            await wait_for(lambda: len(tavily.requests) == 1, what="the search request")
            assert "tool_result" not in run.stream.types  # still inside the tool
            await cancel_and_check(run)
            calls = [f.data["tool_call_id"] for f in run.stream.frames if f.event == "tool_call"]
            assert calls == [search.id]
    finally:
        await tavily.stop()


async def test_cancel_inside_a_subagent_waiting_for_the_model(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    gate = asyncio.Event()
    task = ToolCall("task", {"description": "Look into it", "subagent_type": "researcher"})
    llm.script(
        [
            (RESEARCHER, [Reply(text="never", gate=gate)]),
            (MAIN, [Reply(tool_calls=[task]), Reply(text=AFTERWARDS)]),
        ]
    )
    settings = settings_for(model_api_key="sk-test", model_base_url=llm.base_url)
    async with registered_api(settings) as api:
        run = await start_run(api)
        await wait_for_frames(run.stream, "subagent_started")
        await llm.wait_for_requests(2)  # the main agent's, then the subagent's
        await cancel_and_check(run)
        assert llm.aborted == [1]  # the subagent's model call
        assert "subagent_finished" not in run.stream.types


async def test_cancel_inside_a_subagents_command(
    tmp_path: Path, settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    token = uuid.uuid4().hex
    task = ToolCall("task", {"description": "Run the loop", "subagent_type": "researcher"})
    loop = ToolCall("execute", {"command": looping_command(token)})
    llm.script(
        [
            (RESEARCHER, [Reply(tool_calls=[loop]), Reply(text="never reached")]),
            (MAIN, [Reply(tool_calls=[task]), Reply(text=AFTERWARDS)]),
        ]
    )
    settings = settings_for(model_api_key="sk-test", model_base_url=llm.base_url)
    async with registered_api(settings) as api:
        run = await start_run(api)
        await wait_for(lambda: marker_files(tmp_path, f"m-{token}"), what="the marker")
        assert processes_with(token)
        await cancel_and_check(run)
        await assert_stopped(tmp_path, token)
        calls = [f.data for f in run.stream.frames if f.event == "tool_call"]
        assert [(c["name"], c["ns"]) for c in calls] == [("task", []), ("execute", [task.id])]


# -- sandbox commands, on both providers --------------------------------------------------


@asynccontextmanager
async def settings_with_provider(
    provider: str, settings_for: SettingsFactory, llm: ScriptedLLM, tmp_path: Path
) -> AsyncIterator[Settings]:
    model = {"model_api_key": "sk-test", "model_base_url": llm.base_url}
    if provider == "local":
        yield settings_for(**model)
        return
    backing = LocalProvider(tmp_path / "backing")
    await backing.probe()
    async with running_opensandbox(backing) as server:
        yield settings_for(
            **model,
            sandbox_provider="opensandbox",
            opensandbox_server_url=server.url,
            opensandbox_api_key=server.api_key,
        )


@pytest.mark.parametrize("provider", ["local", "opensandbox"])
async def test_cancel_inside_a_sandbox_command_kills_everything_it_started(
    provider: str, tmp_path: Path, settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    token = uuid.uuid4().hex
    loop = ToolCall("execute", {"command": looping_command(token)})
    llm.script([(MAIN, [Reply(tool_calls=[loop]), Reply(text=AFTERWARDS)])])
    async with (
        settings_with_provider(provider, settings_for, llm, tmp_path) as settings,
        registered_api(settings) as api,
    ):
        run = await start_run(api)
        await wait_for(lambda: marker_files(tmp_path, f"m-{token}"), what="the marker")
        (marker,) = marker_files(tmp_path, f"m-{token}")
        await wait_for(lambda: marker.stat().st_size > 10, what="the loop")
        assert len(processes_with(token)) >= 2  # the command and its background loop
        await cancel_and_check(run)
        await assert_stopped(tmp_path, token)
        assert "tool_result" not in run.stream.types  # the command never finished
