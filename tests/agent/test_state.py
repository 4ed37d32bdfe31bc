"""Messages as clients see them: normalised, with how each tool call ended."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from warren.agent.state import normalise_all


def test_messages_are_normalised_with_tool_outcomes() -> None:
    call = {"id": "call_1", "name": "execute", "args": {"command": "false"}}
    messages = normalise_all(
        [
            SystemMessage("hidden", id="s"),
            HumanMessage("run it", id="h"),
            AIMessage("", id="a", tool_calls=[call]),
            ToolMessage("exit 1", tool_call_id="call_1", name="execute", status="error", id="t1"),
            ToolMessage("ok", tool_call_id="call_2", name="ls", id="t2"),
        ]
    )
    assert [m.role for m in messages] == ["user", "assistant", "tool", "tool"]
    assert messages[1].tool_calls is not None
    assert messages[1].tool_calls[0].model_dump() == call
    assert [(m.tool_call_id, m.status) for m in messages[2:]] == [
        ("call_1", "error"),
        ("call_2", "success"),
    ]
    assert messages[0].status is None
    assert "status" not in messages[0].model_dump(exclude_none=True)
