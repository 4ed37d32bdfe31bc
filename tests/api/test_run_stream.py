"""A full run over SSE: todos, a file tool and a subagent, on both storage backends."""

from __future__ import annotations

import itertools
import json
from typing import Any

from tests.conftest import SettingsFactory
from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.helpers import Api, Frame, running_warren

MAIN = "You are Warren, a capable assistant"
RESEARCHER = "You are Warren's researcher"

TODOS = [
    {"content": "Research the topic", "status": "in_progress"},
    {"content": "Write the notes", "status": "pending"},
]


def script(llm: ScriptedLLM) -> dict[str, ToolCall]:
    calls = {
        "todos": ToolCall("write_todos", {"todos": TODOS}),
        "write": ToolCall("write_file", {"file_path": "/notes.md", "content": "# Notes\n"}),
        "task": ToolCall(
            "task", {"description": "Find three facts about otters", "subagent_type": "researcher"}
        ),
        "sub_write": ToolCall(
            "write_file", {"file_path": "/research/otters.md", "content": "Otters hold hands."}
        ),
    }
    llm.script(
        [
            (
                RESEARCHER,
                [
                    Reply(tool_calls=[calls["sub_write"]]),
                    Reply(text="Report: otters hold hands while sleeping."),
                ],
            ),
            (
                MAIN,
                [
                    Reply(text="Let me plan this.", tool_calls=[calls["todos"]]),
                    Reply(tool_calls=[calls["write"]]),
                    Reply(tool_calls=[calls["task"]]),
                    Reply(text="Done: see /notes.md."),
                ],
            ),
        ]
    )
    return calls


def squeeze(frames: list[Frame]) -> list[str]:
    """Event types with runs of streamed deltas collapsed, tagged with their agent path."""
    labels = []
    for f in frames:
        depth = len(f.data.get("ns", []))
        labels.append(("  " * depth) + (f.event or ""))
    return [label for label, _ in itertools.groupby(labels)]


def id_key(event_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in event_id.split("-"))


async def test_full_run_streams_the_exact_event_sequence(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    calls = script(llm)
    settings = settings_for(model_api_key="sk-test", model_base_url=llm.base_url)
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        thread = await api.new_thread(title="Otters")
        stream = await api.run_stream(thread["id"], "Research otters and take notes.")
        await api.aclose()

    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["cache-control"] == "no-cache"
    assert stream.headers["x-accel-buffering"] == "no"
    assert llm.errors == []
    assert all(n == 0 for n in llm.remaining().values())

    assert squeeze(stream.frames) == [
        "run_started",
        "message",
        "tool_call_delta",
        "tool_call",
        "tool_result",
        "todos",
        "tool_call_delta",
        "tool_call",
        "sandbox",  # the first file tool call creates the thread's sandbox
        "tool_result",
        "tool_call_delta",
        "tool_call",
        "subagent_started",
        "  tool_call_delta",
        "  tool_call",
        "  tool_result",
        "  message",
        "tool_result",
        "subagent_finished",
        "message",
        "usage",
        "done",
    ]

    frames = stream.frames
    run_id = frames[0].data["run_id"]
    for f in frames:
        assert f.data["type"] == f.event
        assert f.data["run_id"] == run_id
        assert f.id
    ids = [id_key(f.id or "") for f in frames]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)

    assert frames[0].data["thread_id"] == thread["id"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for f in frames:
        by_type.setdefault(f.event or "", []).append(f.data)

    # every tool call gets exactly one result, with the same name
    results = {r["tool_call_id"]: r for r in by_type["tool_result"]}
    assert len(results) == len(by_type["tool_result"]) == len(by_type["tool_call"]) == 4
    for call in by_type["tool_call"]:
        assert results[call["tool_call_id"]]["name"] == call["name"]
        assert results[call["tool_call_id"]]["status"] == "success"
    assert {c["tool_call_id"]: c["args"] for c in by_type["tool_call"]} == {
        c.id: c.args for c in calls.values()
    }

    # the argument deltas, merged by call, are the complete JSON of each call
    merged: dict[str, str] = {}
    for delta in by_type["tool_call_delta"]:
        merged[delta["tool_call_id"]] = merged.get(delta["tool_call_id"], "") + delta["args_delta"]
        assert delta["name"] == next(
            c.name for c in calls.values() if c.id == delta["tool_call_id"]
        )
    assert {k: json.loads(v) for k, v in merged.items()} == {c.id: c.args for c in calls.values()}

    # subagent events are linked to the parent `task` call
    task_id = calls["task"].id
    started, finished = by_type["subagent_started"][0], by_type["subagent_finished"][0]
    assert started == {
        "type": "subagent_started",
        "run_id": run_id,
        "ns": [],
        "tool_call_id": task_id,
        "subagent_type": "researcher",
        "description": "Find three facts about otters",
    }
    assert finished["tool_call_id"] == task_id
    assert finished["status"] == "success"
    sub_frames = [f for f in frames if f.data.get("ns")]
    assert sub_frames
    assert all(f.data["ns"] == [task_id] for f in sub_frames)
    assert results[task_id]["content"] == "Report: otters hold hands while sleeping."

    assert by_type["todos"] == [{"type": "todos", "run_id": run_id, "todos": TODOS}]
    assert [s["status"] for s in by_type["sandbox"]] == ["provisioning", "ready"]
    text = "".join(m["content"] for m in by_type["message"] if not m["ns"])
    assert text == "Let me plan this.Done: see /notes.md."
    assert by_type["usage"][0]["input_tokens"] == 6 * 11
    assert by_type["usage"][0]["output_tokens"] == 6 * 7
    assert by_type["done"] == [
        {"type": "done", "run_id": run_id, "thread_id": thread["id"], "status": "success"}
    ]
