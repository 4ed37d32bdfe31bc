"""Translation of LangGraph stream chunks into run events, on the edge cases."""

from __future__ import annotations

from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langchain_core.messages.tool import tool_call_chunk
from langgraph.types import Interrupt

from warren.agent.translate import Translator, message_text
from warren.runs import events as ev

MODEL = {"langgraph_node": "model"}


def test_tool_call_chunks_merge_by_index_when_calls_interleave() -> None:
    t = Translator("r")
    chunks = [
        AIMessageChunk(
            content="",
            id="m1",
            tool_call_chunks=[tool_call_chunk(name="ls", args="", id="a", index=0)],
        ),
        AIMessageChunk(
            content="",
            id="m1",
            tool_call_chunks=[tool_call_chunk(name="grep", args='{"p', id="b", index=1)],
        ),
        AIMessageChunk(
            content="", id="m1", tool_call_chunks=[tool_call_chunk(args='{"path"', index=0)]
        ),
        AIMessageChunk(
            content="", id="m1", tool_call_chunks=[tool_call_chunk(args='": "x"}', index=1)]
        ),
        AIMessageChunk(
            content="", id="m1", tool_call_chunks=[tool_call_chunk(args=': "/"}', index=0)]
        ),
    ]
    out = [e for c in chunks for e in t.feed((), "messages", (c, MODEL))]
    assert all(isinstance(e, ev.ToolCallDelta) for e in out)
    merged: dict[str, str] = {}
    for e in out:
        assert isinstance(e, ev.ToolCallDelta)
        merged[e.tool_call_id] = merged.get(e.tool_call_id, "") + e.args_delta
        assert e.name == {"a": "ls", "b": "grep"}[e.tool_call_id]
    assert merged == {"a": '{"path": "/"}', "b": '{"p": "x"}'}


def test_text_comes_from_strings_and_text_blocks_only_of_model_nodes() -> None:
    t = Translator("r")
    blocks = AIMessageChunk(
        content=[{"type": "text", "text": "Hel", "index": 0}, {"type": "tool_use", "id": "x"}],
        id="m",
    )
    assert [e.content for e in t.feed((), "messages", (blocks, MODEL))] == ["Hel"]  # type: ignore[union-attr]
    summary = AIMessageChunk(content="a summary", id="s")
    assert (
        t.feed(
            (), "messages", (summary, {"langgraph_node": "SummarizationMiddleware.before_model"})
        )
        == []
    )
    assert t.feed((), "messages", (ToolMessage(content="x", tool_call_id="c"), MODEL)) == []
    assert message_text(["a", {"type": "text", "text": "b"}, {"type": "image"}]) == "ab"


def test_updates_give_complete_calls_results_usage_and_todos() -> None:
    t = Translator("r")
    ai = AIMessage(
        content="",
        tool_calls=[{"name": "write_todos", "args": {"todos": []}, "id": "c1"}],
        usage_metadata={"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
    )
    out = t.feed((), "updates", {"model": {"messages": [ai]}})
    assert out == [
        ev.ToolCall(run_id="r", ns=[], tool_call_id="c1", name="write_todos", args={"todos": []})
    ]
    result = ToolMessage(content="failed", tool_call_id="c1", status="error")
    todos = [{"content": "x", "status": "pending"}]
    out = t.feed((), "updates", {"tools": {"messages": [result], "todos": todos}})
    assert out[0] == ev.ToolResult(
        run_id="r", ns=[], tool_call_id="c1", name="write_todos", content="failed", status="error"
    )
    assert out[1] == ev.Todos(run_id="r", todos=[ev.Todo(content="x", status="pending")])
    assert t.usage() == ev.Usage(run_id="r", input_tokens=3, output_tokens=2)
    assert t.feed((), "updates", {"SomeMiddleware.before_model": None}) == []


def test_subagent_namespaces_map_to_their_task_calls_even_when_nested() -> None:
    t = Translator("r")
    outer = {
        "name": "task",
        "args": {"subagent_type": "researcher", "description": "d"},
        "id": "call-outer",
    }
    inner = {
        "name": "task",
        "args": {"subagent_type": "critic", "description": "e"},
        "id": "call-inner",
    }
    started = t.feed((), "tasks", {"id": "T1", "name": "tools", "input": [outer], "triggers": []})
    assert started == [
        ev.SubagentStarted(
            run_id="r",
            ns=[],
            tool_call_id="call-outer",
            subagent_type="researcher",
            description="d",
        )
    ]
    nested = t.feed(
        ("tools:T1",), "tasks", {"id": "T2", "name": "tools", "input": [inner], "triggers": []}
    )
    assert nested[0].ns == ["call-outer"]  # type: ignore[union-attr]
    assert t.ns(("tools:T1", "tools:T2")) == ["call-outer", "call-inner"]
    chunk = AIMessageChunk(content="deep", id="m")
    deep = t.feed(("tools:T1", "tools:T2"), "messages", (chunk, MODEL))
    assert deep == [
        ev.MessageDelta(run_id="r", ns=["call-outer", "call-inner"], message_id="m", content="deep")
    ]
    failed = t.feed(
        ("tools:T1",), "tasks", {"id": "T2", "name": "tools", "error": "boom", "result": None}
    )
    assert failed[0].status == "error"  # type: ignore[union-attr]
    ok = t.feed((), "tasks", {"id": "T1", "name": "tools", "error": None, "result": {}})
    assert ok == [
        ev.SubagentFinished(
            run_id="r",
            ns=[],
            tool_call_id="call-outer",
            subagent_type="researcher",
            status="success",
        )
    ]


def test_interrupts_and_custom_sandbox_events() -> None:
    t = Translator("r")
    value = {
        "action_requests": [
            {
                "name": "execute",
                "args": {"command": "ls"},
                "description": "check",
                "tool_call_id": "call-1",
                "ns": ["call-task"],
            }
        ],
        "review_configs": [{"action_name": "execute", "allowed_decisions": ["approve"]}],
    }
    pause = Interrupt(value=value, id="i1")
    # a subagent's pause is reported in its namespace and again in its parent's
    out = t.feed(("tools:t1",), "updates", {"__interrupt__": (pause,)})
    assert t.feed((), "updates", {"__interrupt__": (pause,)}) == []
    assert out == [
        ev.InterruptEvent(
            run_id="r",
            interrupt_id="i1",
            ns=["call-task"],
            action_requests=[
                ev.ActionRequest(
                    name="execute",
                    args={"command": "ls"},
                    description="check",
                    tool_call_id="call-1",
                )
            ],
            review_configs=[ev.ReviewConfig(action_name="execute", allowed_decisions=["approve"])],
        )
    ]
    assert t.interrupted
    # a pause that is not a review is still reported, with nothing to decide
    odd = t.feed(
        (), "updates", {"__interrupt__": (Interrupt(value={"review_configs": [1]}, id="i2"),)}
    )
    assert odd == [
        ev.InterruptEvent(
            run_id="r", interrupt_id="i2", ns=[], action_requests=[], review_configs=[]
        )
    ]
    sandbox = t.feed((), "custom", {"type": "sandbox", "status": "ready", "detail": "up"})
    assert sandbox == [ev.SandboxEvent(run_id="r", status="ready", detail="up")]
    assert t.feed((), "custom", {"type": "something-else"}) == []
