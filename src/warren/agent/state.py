"""Normalised conversation state for clients: messages, todos and pending interrupts."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.types import StateSnapshot
from pydantic import BaseModel

from warren.agent.hitl import PendingReview, pending
from warren.agent.translate import message_text
from warren.runs.events import Todo


class ToolCallInfo(BaseModel):
    id: str
    name: str
    args: dict[str, Any]


class Message(BaseModel):
    """One message, normalised: never a raw LangChain dump or private state."""

    id: str
    role: Literal["user", "assistant", "tool"]
    content: str
    tool_calls: list[ToolCallInfo] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    status: Literal["success", "error"] | None = None  # tool messages: how the call ended


class Conversation(BaseModel):
    messages: list[Message]
    todos: list[Todo]
    interrupts: list[PendingReview]


def normalise(message: BaseMessage) -> Message | None:
    """A client-facing `Message`, or `None` for messages clients never see (system)."""
    message_id = message.id or ""
    if isinstance(message, HumanMessage):
        return Message(id=message_id, role="user", content=message_text(message.content))
    if isinstance(message, AIMessage):
        calls = [
            ToolCallInfo(id=c.get("id") or "", name=c["name"], args=dict(c["args"]))
            for c in message.tool_calls
        ]
        return Message(
            id=message_id,
            role="assistant",
            content=message_text(message.content),
            tool_calls=calls or None,
            name=message.name,
        )
    if isinstance(message, ToolMessage):
        return Message(
            id=message_id,
            role="tool",
            content=message_text(message.content),
            tool_call_id=message.tool_call_id,
            name=message.name,
            status="error" if message.status == "error" else "success",
        )
    return None


def normalise_all(messages: list[BaseMessage]) -> list[Message]:
    return [m for m in (normalise(message) for message in messages) if m is not None]


def conversation(snapshot: StateSnapshot) -> Conversation:
    values = snapshot.values if isinstance(snapshot.values, dict) else {}
    todos = [Todo.model_validate(t) for t in values.get("todos") or []]
    return Conversation(
        messages=normalise_all(list(values.get("messages") or [])),
        todos=todos,
        interrupts=pending(snapshot),
    )
