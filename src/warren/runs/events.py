"""The run event union: what a run's SSE stream carries (see API.md, "SSE wire format")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

RunOutcomeStatus = Literal["success", "error", "interrupted", "cancelled"]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str


class RunStarted(_Event):
    type: Literal["run_started"] = "run_started"
    thread_id: str


class MessageDelta(_Event):
    """A piece of assistant text, in order; concatenate by `message_id`."""

    type: Literal["message"] = "message"
    ns: list[str]
    message_id: str
    content: str


class ToolCallDelta(_Event):
    """Raw partial JSON of a tool call's arguments while the model writes them."""

    type: Literal["tool_call_delta"] = "tool_call_delta"
    ns: list[str]
    tool_call_id: str
    name: str
    args_delta: str


class ToolCall(_Event):
    type: Literal["tool_call"] = "tool_call"
    ns: list[str]
    tool_call_id: str
    name: str
    args: dict[str, Any]


class ToolResult(_Event):
    type: Literal["tool_result"] = "tool_result"
    ns: list[str]
    tool_call_id: str
    name: str
    content: str
    status: Literal["success", "error"]


class Todo(BaseModel):
    content: str
    status: Literal["pending", "in_progress", "completed"]


class Todos(_Event):
    type: Literal["todos"] = "todos"
    todos: list[Todo]


class SubagentStarted(_Event):
    type: Literal["subagent_started"] = "subagent_started"
    ns: list[str]
    tool_call_id: str
    subagent_type: str
    description: str


class SubagentFinished(_Event):
    type: Literal["subagent_finished"] = "subagent_finished"
    ns: list[str]
    tool_call_id: str
    subagent_type: str
    status: Literal["success", "error"]


class ActionRequest(BaseModel):
    """One tool call waiting for a human decision."""

    name: str = Field(description="the tool")
    args: dict[str, Any] = Field(description="the arguments the model gave it")
    description: str = Field(description="what the reviewer is asked to approve")
    tool_call_id: str = Field(description="the model's tool call id")


class ReviewConfig(BaseModel):
    action_name: str = Field(description="the tool this applies to")
    allowed_decisions: list[Literal["approve", "edit", "reject", "respond"]]


class InterruptEvent(_Event):
    """The run paused for human review; it ends with `done{status: "interrupted"}` and
    continues with a run whose body is `resume` (one decision per action request)."""

    type: Literal["interrupt"] = "interrupt"
    interrupt_id: str
    ns: list[str] = Field(description="`[]` for the main agent, else the subagent's path")
    action_requests: list[ActionRequest]
    review_configs: list[ReviewConfig]


class SandboxEvent(_Event):
    type: Literal["sandbox"] = "sandbox"
    status: Literal["provisioning", "ready", "recreated", "failed"]
    detail: str


class Usage(_Event):
    type: Literal["usage"] = "usage"
    input_tokens: int
    output_tokens: int


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    code: str
    detail: str


class Done(_Event):
    type: Literal["done"] = "done"
    thread_id: str
    status: RunOutcomeStatus


RunEvent = Annotated[
    RunStarted
    | MessageDelta
    | ToolCallDelta
    | ToolCall
    | ToolResult
    | Todos
    | SubagentStarted
    | SubagentFinished
    | InterruptEvent
    | SandboxEvent
    | Usage
    | ErrorEvent
    | Done,
    Field(discriminator="type"),
]

run_event_adapter: TypeAdapter[RunEvent] = TypeAdapter(RunEvent)
