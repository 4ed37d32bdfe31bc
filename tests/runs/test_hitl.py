"""Human in the loop, end to end: a scripted model, the real local sandbox, real HTTP.

A gated tool call pauses the run (`interrupt`, then `done{status: "interrupted"}`), the
thread waits in `interrupted`, `/state` shows the pause after the stream is gone, and a run
with `resume` answers it: approve (the tool runs), edit (the edited call runs), reject (it
does not; the model reads why), respond (the model reads the human's answer as the result).
A pause inside a subagent surfaces with its `ns` and resumes through the parent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deepagents.middleware.subagents import DEFAULT_SUBAGENT_PROMPT

from tests.conftest import SettingsFactory
from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.fakes.serving import served
from tests.helpers import Api, Stream, make_settings, registered_api
from warren.app import create_app
from warren.config import Settings
from warren.runs.manager import RunRequest

MAIN = "You are Warren, a capable assistant"
RESEARCHER = "You are Warren's researcher"
GENERAL = DEFAULT_SUBAGENT_PROMPT[:60]
ALL_DECISIONS = ["approve", "edit", "reject", "respond"]


def settings(tmp_path: Path, llm: ScriptedLLM, hitl_tools: list[str]) -> Settings:
    return make_settings(
        tmp_path / "data",
        model_api_key="sk-test",
        model_base_url=llm.base_url,
        hitl_tools=hitl_tools,
    )


def runs_url(thread_id: str) -> str:
    return f"/api/threads/{thread_id}/runs/stream"


async def resume(api: Api, thread_id: str, *decisions: dict[str, Any]) -> Stream:
    body = {"resume": {"decisions": list(decisions)}}
    return await api.stream("POST", runs_url(thread_id), json=body)


def of_type(stream: Stream, kind: str) -> list[dict[str, Any]]:
    return [f.data for f in stream.frames if f.event == kind]


def done(stream: Stream) -> str:
    assert stream.status == 200, stream.body
    assert stream.frames[-1].event == "done", stream.types
    assert of_type(stream, "error") == []
    status: str = stream.frames[-1].data["status"]
    return status


def the_interrupt(stream: Stream) -> dict[str, Any]:
    """The run paused exactly once, and ended `interrupted` right after."""
    assert done(stream) == "interrupted"
    interrupts = of_type(stream, "interrupt")
    assert len(interrupts) == 1, stream.types
    assert stream.types[-3:] == ["interrupt", "usage", "done"]
    return interrupts[0]


def action(call: ToolCall) -> dict[str, Any]:
    return {
        "name": call.name,
        "args": call.args,
        "description": f"Tool execution requires approval\n\nTool: {call.name}\nArgs: {call.args}",
        "tool_call_id": call.id,
    }


def review(*names: str) -> list[dict[str, Any]]:
    return [{"action_name": n, "allowed_decisions": ALL_DECISIONS} for n in names]


async def thread_status(api: Api, thread_id: str) -> str:
    response = await api.request("GET", f"/api/threads/{thread_id}")
    assert response.status_code == 200
    status: str = response.json()["status"]
    return status


async def state(api: Api, thread_id: str) -> dict[str, Any]:
    response = await api.request("GET", f"/api/threads/{thread_id}/state")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def sandbox_file(api: Api, thread_id: str, path: str) -> str | None:
    """A file of the thread's sandbox, read through the API; `None` if there is none."""
    response = await api.request(
        "GET", f"/api/threads/{thread_id}/files/content", params={"path": path}
    )
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.text


def tool_messages(llm: ScriptedLLM, request_index: int = -1) -> dict[str, str]:
    """What the model was told each tool call returned, in one of its requests."""
    return {
        m["tool_call_id"]: m["content"]
        for m in llm.requests[request_index]["messages"]
        if m["role"] == "tool"
    }


def script_ok(llm: ScriptedLLM) -> None:
    assert llm.errors == []
    assert all(n == 0 for n in llm.remaining().values()), llm.remaining()


# approve ------------------------------------------------------------------------------


async def test_approve_pauses_then_runs_the_tool(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    run = ToolCall(
        "execute", {"command": "echo approved > /workspace/a.txt && cat /workspace/a.txt"}
    )
    look = ToolCall("ls", {"path": "/workspace"})  # not gated: runs before the pause ends
    llm.script([(MAIN, [Reply(tool_calls=[look]), Reply(tool_calls=[run]), Reply(text="Ran it.")])])
    config = settings_for(
        model_api_key="sk-test", model_base_url=llm.base_url, hitl_tools=["execute"]
    )
    async with registered_api(config) as api:
        thread = await api.new_thread()
        first = await api.run_stream(thread["id"], "Write a file.")

        paused = the_interrupt(first)
        assert paused["ns"] == []
        assert paused["action_requests"] == [action(run)]
        assert paused["review_configs"] == review("execute")
        assert paused["interrupt_id"]
        results = {r["tool_call_id"]: r for r in of_type(first, "tool_result")}
        assert list(results) == [look.id]  # the gated call did not run
        assert [c["tool_call_id"] for c in of_type(first, "tool_call")] == [look.id, run.id]
        assert await sandbox_file(api, thread["id"], "/workspace/a.txt") is None

        assert await thread_status(api, thread["id"]) == "interrupted"
        listed = await api.request("GET", "/api/threads", params={"status": "interrupted"})
        assert [t["id"] for t in listed.json()["data"]] == [thread["id"]]
        runs = await api.request("GET", f"/api/threads/{thread['id']}/runs")
        assert [r["status"] for r in runs.json()["data"]] == ["interrupted"]

        # after a reload: the stream is gone, the state still shows the pause
        pending = (await state(api, thread["id"]))["interrupts"]
        assert len(pending) == 1
        assert pending[0]["id"] == paused["interrupt_id"]
        assert pending[0]["ns"] == []
        assert pending[0]["action_requests"] == [action(run)]
        assert pending[0]["review_configs"] == review("execute")

        second = await resume(api, thread["id"], {"type": "approve"})
        assert done(second) == "success"
        assert of_type(second, "interrupt") == []
        [result] = of_type(second, "tool_result")
        assert result["tool_call_id"] == run.id
        assert result["status"] == "success"
        assert result["content"].startswith("approved\n")
        # the model's call is not reported again, nor its tokens counted twice
        assert of_type(second, "tool_call") == []
        assert of_type(second, "usage")[0]["input_tokens"] == 11
        assert "".join(m["content"] for m in of_type(second, "message")) == "Ran it."

        assert await sandbox_file(api, thread["id"], "/workspace/a.txt") == "approved\n"
        assert tool_messages(llm)[run.id].startswith("approved\n")
        assert await thread_status(api, thread["id"]) == "idle"
        after = await state(api, thread["id"])
        assert after["interrupts"] == []
        assert after["status"] == "idle"
        assert [m["role"] for m in after["messages"]] == [
            "user", "assistant", "tool", "assistant", "tool", "assistant"
        ]  # fmt: skip
    script_ok(llm)


# edit, reject, respond ------------------------------------------------------------------


async def test_edit_runs_the_edited_call(tmp_path: Path, llm: ScriptedLLM) -> None:
    run = ToolCall("execute", {"command": "echo original > /workspace/e.txt"})
    llm.script([(MAIN, [Reply(tool_calls=[run]), Reply(text="Edited and ran.")])])
    async with registered_api(settings(tmp_path, llm, ["execute"])) as api:
        thread = await api.new_thread()
        the_interrupt(await api.run_stream(thread["id"], "Write e.txt."))

        edited = {"command": "echo edited > /workspace/e.txt && echo wrote-edited"}
        second = await resume(
            api,
            thread["id"],
            {"type": "edit", "edited_action": {"name": "execute", "args": edited}},
        )
        assert done(second) == "success"
        [result] = of_type(second, "tool_result")
        assert result["tool_call_id"] == run.id
        assert result["status"] == "success"
        assert "wrote-edited" in result["content"]
        assert "replaced this tool call" in result["content"]  # the model is told

        assert await sandbox_file(api, thread["id"], "/workspace/e.txt") == "edited\n"
        told = tool_messages(llm)[run.id]
        assert "wrote-edited" in told
        assert "echo edited" in told  # what ran instead
    script_ok(llm)


async def test_reject_and_approve_in_one_turn(tmp_path: Path, llm: ScriptedLLM) -> None:
    """Two gated calls in one model turn: one pause, one decision per call, in order."""
    keep = ToolCall("write_file", {"file_path": "/workspace/keep.md", "content": "kept"})
    drop = ToolCall("execute", {"command": "echo dropped > /workspace/drop.txt"})
    llm.script([(MAIN, [Reply(tool_calls=[keep, drop]), Reply(text="One of two.")])])
    async with registered_api(settings(tmp_path, llm, ["execute", "write_file"])) as api:
        thread = await api.new_thread()
        paused = the_interrupt(await api.run_stream(thread["id"], "Write two files."))
        assert paused["action_requests"] == [action(keep), action(drop)]
        assert paused["review_configs"] == review("write_file", "execute")

        second = await resume(
            api,
            thread["id"],
            {"type": "approve"},
            {"type": "reject", "message": "no shell commands today"},
        )
        assert done(second) == "success"
        results = {r["tool_call_id"]: r for r in of_type(second, "tool_result")}
        assert results[keep.id]["status"] == "success"
        assert results[drop.id]["status"] == "error"
        assert "no shell commands today" in results[drop.id]["content"]

        assert await sandbox_file(api, thread["id"], "/workspace/keep.md") == "kept"
        assert await sandbox_file(api, thread["id"], "/workspace/drop.txt") is None
        told = tool_messages(llm)
        assert "no shell commands today" in told[drop.id]
        assert "rejected" in told[drop.id]
    script_ok(llm)


async def test_respond_answers_for_the_tool(tmp_path: Path, llm: ScriptedLLM) -> None:
    ask = ToolCall("execute", {"command": "echo ran > /workspace/r.txt"})
    llm.script([(MAIN, [Reply(tool_calls=[ask]), Reply(text="Thanks.")])])
    async with registered_api(settings(tmp_path, llm, ["execute"])) as api:
        thread = await api.new_thread()
        the_interrupt(await api.run_stream(thread["id"], "Run something."))

        # the blocking route takes a resume too
        response = await api.request(
            "POST",
            f"/api/threads/{thread['id']}/runs",
            json={"resume": {"decisions": [{"type": "respond", "message": "It printed 42."}]}},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "success"
        tool = next(m for m in body["messages"] if m["role"] == "tool")
        assert tool["tool_call_id"] == ask.id
        assert tool["content"] == "It printed 42."
        assert tool["status"] == "success"
        assert body["messages"][-1]["content"] == "Thanks."

        assert tool_messages(llm)[ask.id] == "It printed 42."
        assert await sandbox_file(api, thread["id"], "/workspace/r.txt") is None
    script_ok(llm)


# subagents ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subagent", "marker"),
    [("researcher", RESEARCHER), ("general-purpose", GENERAL)],
    ids=["researcher", "general-purpose"],
)
async def test_a_pause_inside_a_subagent_surfaces_and_resumes(
    tmp_path: Path, llm: ScriptedLLM, subagent: str, marker: str
) -> None:
    task = ToolCall("task", {"description": "Write the report", "subagent_type": subagent})
    sub_run = ToolCall("execute", {"command": "echo report > /workspace/report.txt && echo ok"})
    llm.script(
        [
            (marker, [Reply(tool_calls=[sub_run]), Reply(text="Report written.")]),
            (MAIN, [Reply(tool_calls=[task]), Reply(text="The subagent wrote it.")]),
        ]
    )
    async with registered_api(settings(tmp_path, llm, ["execute"])) as api:
        thread = await api.new_thread()
        first = await api.run_stream(thread["id"], "Delegate the report.")
        paused = the_interrupt(first)
        assert paused["ns"] == [task.id]
        assert paused["action_requests"] == [action(sub_run)]
        assert [e["tool_call_id"] for e in of_type(first, "subagent_started")] == [task.id]
        assert of_type(first, "subagent_finished") == []  # paused, not finished
        assert await sandbox_file(api, thread["id"], "/workspace/report.txt") is None

        pending = (await state(api, thread["id"]))["interrupts"]
        assert [(p["id"], p["ns"]) for p in pending] == [(paused["interrupt_id"], [task.id])]
        assert pending[0]["action_requests"] == [action(sub_run)]

        second = await resume(api, thread["id"], {"type": "approve"})
        assert done(second) == "success"
        results = {r["tool_call_id"]: r for r in of_type(second, "tool_result")}
        assert results[sub_run.id]["ns"] == [task.id]
        assert results[sub_run.id]["content"].startswith("ok\n")
        assert results[task.id]["ns"] == []
        assert results[task.id]["content"] == "Report written."
        finished = of_type(second, "subagent_finished")
        assert [(e["tool_call_id"], e["status"]) for e in finished] == [(task.id, "success")]
        assert second.frames[-3].data["type"] == "message"

        assert await sandbox_file(api, thread["id"], "/workspace/report.txt") == "report\n"
        assert (await state(api, thread["id"]))["interrupts"] == []
        assert await thread_status(api, thread["id"]) == "idle"
    script_ok(llm)


# per-thread lists -----------------------------------------------------------------------


async def test_a_threads_metadata_overrides_the_servers_list(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    run = ToolCall("execute", {"command": "echo free"})
    write = ToolCall("write_file", {"file_path": "/workspace/w.md", "content": "w"})
    llm.script([(MAIN, [Reply(tool_calls=[run]), Reply(text="Ran."), Reply(tool_calls=[write])])])
    async with registered_api(settings(tmp_path, llm, ["execute"])) as api:
        # an empty list turns approval off for this thread
        off = await api.new_thread(metadata={"hitl_tools": []})
        assert done(await api.run_stream(off["id"], "Run it.")) == "success"

        # its own list replaces the server's
        own = await api.new_thread()
        patched = await api.request(
            "PATCH", f"/api/threads/{own['id']}", json={"metadata": {"hitl_tools": ["write_file"]}}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["metadata"] == {"hitl_tools": ["write_file"]}
        paused = the_interrupt(await api.run_stream(own["id"], "Write it."))
        assert paused["action_requests"] == [action(write)]
    script_ok(llm)


async def test_bad_tool_lists_are_refused_before_anything_is_written(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    async with registered_api(settings(tmp_path, llm, [])) as api:
        for bad in [["execute", "no_such_tool"], "execute", [1], {"execute": True}]:
            response = await api.request(
                "POST", "/api/threads", json={"metadata": {"hitl_tools": bad}}
            )
            assert response.status_code == 422, (bad, response.text)
            assert response.json()["error"] == "invalid_hitl_tools"
        assert (
            "no_such_tool"
            in (
                await api.request(
                    "POST", "/api/threads", json={"metadata": {"hitl_tools": ["no_such_tool"]}}
                )
            ).json()["detail"]
        )
        listed = await api.request("GET", "/api/threads")
        assert listed.json()["count"] == 0

        thread = await api.new_thread(metadata={"hitl_tools": ["task", "write_file"], "x": 1})
        response = await api.request(
            "PATCH", f"/api/threads/{thread['id']}", json={"metadata": {"hitl_tools": ["nope"]}}
        )
        assert response.status_code == 422
        again = await api.request("GET", f"/api/threads/{thread['id']}")
        assert again.json()["metadata"] == {"hitl_tools": ["task", "write_file"], "x": 1}


async def test_a_resume_answers_the_paused_calls_even_if_the_list_changed(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    """Taking a tool off the thread's list while it waits must not run a call the reviewer
    rejects."""
    run = ToolCall("execute", {"command": "echo ran > /workspace/x.txt"})
    llm.script([(MAIN, [Reply(tool_calls=[run]), Reply(text="Understood.")])])
    async with registered_api(settings(tmp_path, llm, [])) as api:
        thread = await api.new_thread(metadata={"hitl_tools": ["execute"]})
        the_interrupt(await api.run_stream(thread["id"], "Run it."))
        patched = await api.request(
            "PATCH", f"/api/threads/{thread['id']}", json={"metadata": {"hitl_tools": []}}
        )
        assert patched.status_code == 200

        second = await resume(api, thread["id"], {"type": "reject"})
        assert done(second) == "success"
        [result] = of_type(second, "tool_result")
        assert result["status"] == "error"
        assert "not executed" in result["content"]
        assert await sandbox_file(api, thread["id"], "/workspace/x.txt") is None
    script_ok(llm)


# validation ---------------------------------------------------------------------------


async def test_run_bodies_are_validated(tmp_path: Path, llm: ScriptedLLM) -> None:
    first = ToolCall("execute", {"command": "echo one > /workspace/one.txt"})
    llm.script([(MAIN, [Reply(tool_calls=[first]), Reply(text="Fine.")])])
    async with registered_api(settings(tmp_path, llm, ["execute"])) as api:
        thread = await api.new_thread()
        url = runs_url(thread["id"])
        message = [{"role": "user", "content": "hi"}]
        approve = {"decisions": [{"type": "approve"}]}

        # nothing waits for a decision yet
        early = await api.stream("POST", url, json={"resume": approve})
        assert early.status == 409
        assert early.body["error"] == "no_pending_interrupt"

        the_interrupt(await api.run_stream(thread["id"], "Do it."))

        bad_bodies: list[dict[str, Any]] = [
            {},  # neither
            {"messages": message, "resume": approve},  # both
            {"resume": {"decisions": []}},
            {"resume": {"decisions": [{"type": "maybe"}]}},
            {"resume": {"decisions": [{"type": "respond"}]}},  # respond needs its message
            {"resume": {"decisions": [{"type": "edit", "edited_action": {"name": "execute"}}]}},
        ]
        for body in bad_bodies:
            response = await api.stream("POST", url, json=body)
            assert response.status == 422, (body, response.body)
            assert response.body["error"] == "invalid_request", response.body

        too_many = await resume(api, thread["id"], {"type": "approve"}, {"type": "approve"})
        assert too_many.status == 422
        assert too_many.body["error"] == "decision_count_mismatch"
        other_tool = await resume(
            api,
            thread["id"],
            {"type": "edit", "edited_action": {"name": "write_file", "args": {}}},
        )
        assert other_tool.status == 422
        assert other_tool.body["error"] == "invalid_decision"

        # none of these started a run or touched the pause
        runs = await api.request("GET", f"/api/threads/{thread['id']}/runs")
        assert [r["status"] for r in runs.json()["data"]] == ["interrupted"]
        assert await thread_status(api, thread["id"]) == "interrupted"
        assert len((await state(api, thread["id"]))["interrupts"]) == 1

        assert done(await resume(api, thread["id"], {"type": "approve"})) == "success"
        assert await sandbox_file(api, thread["id"], "/workspace/one.txt") == "one\n"
        gone = await resume(api, thread["id"], {"type": "approve"})
        assert gone.status == 409
        assert gone.body["error"] == "no_pending_interrupt"
    script_ok(llm)


async def test_a_new_message_instead_of_a_decision_moves_on(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    """Writing again rather than deciding drops the pause: the gated call never runs."""
    run = ToolCall("execute", {"command": "echo ran > /workspace/n.txt"})
    llm.script([(MAIN, [Reply(tool_calls=[run]), Reply(text="Something else, then.")])])
    async with registered_api(settings(tmp_path, llm, ["execute"])) as api:
        thread = await api.new_thread()
        the_interrupt(await api.run_stream(thread["id"], "Run it."))
        second = await api.run_stream(thread["id"], "Never mind, do something else.")
        assert done(second) == "success"
        assert of_type(second, "interrupt") == []
        after = await state(api, thread["id"])
        assert after["interrupts"] == []
        assert after["messages"][-1]["content"] == "Something else, then."
        assert await sandbox_file(api, thread["id"], "/workspace/n.txt") is None
        assert await thread_status(api, thread["id"]) == "idle"
        gone = await resume(api, thread["id"], {"type": "approve"})
        assert gone.status == 409
    script_ok(llm)


async def test_a_resume_whose_pause_was_settled_before_it_ran_leaves_the_thread_idle(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    """The API checks for a pending pause before it starts a resume; if another run settles
    the pause in between (here: no pause at all when the run starts), the resume ends with
    `no_pending_interrupt` and the thread is idle, not in error: nothing of it failed."""
    app = create_app(settings(tmp_path, llm, ["execute"]))
    async with served(app, lifespan="on") as url:
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        me = (await api.request("GET", "/api/auth/me")).json()
        services = app.state.services
        record = await services.storage.records.threads.get(me["id"], thread["id"])
        run = await services.runs.start(
            record, RunRequest(messages=[], resume=[{"type": "approve"}])
        )
        events = [event async for event in services.runs.follow(run.id)]
        assert [(e.type, e.data.get("code") or e.data.get("status")) for e in events][-2:] == [
            ("error", "no_pending_interrupt"),
            ("done", "error"),
        ]
        assert (await api.request("GET", f"/api/threads/{thread['id']}")).json()["status"] == "idle"
        assert llm.requests == []  # the model was never asked
        await api.aclose()
