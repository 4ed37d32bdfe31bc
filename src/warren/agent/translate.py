"""Turns LangGraph stream chunks into Warren run events.

The run streams with `stream_mode=["messages", "updates", "tasks", "custom"]` and
`subgraphs=True`, so every chunk is `(namespace, mode, data)`:

- `messages`: token chunks of model calls → `message` and `tool_call_delta` (only the
  first chunk of a tool call carries its id and name, so chunks are merged by index);
- `updates`: each node's state update → `tool_call` (complete arguments), `tool_result`,
  `todos`, `interrupt`, and token usage;
- `tasks`: Pregel task starts and results. A tool call runs as its own task, and a
  subagent's namespace is `tools:<that task id>`, which is how `ns` and the
  `subagent_started` / `subagent_finished` events link to the parent `task` call;
- `custom`: events written by tools (e.g. `sandbox`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langgraph.types import Interrupt

from warren.agent import hitl
from warren.runs import events as ev

SUBAGENT_TOOL = "task"
MODEL_NODE = "model"


@dataclass(frozen=True, slots=True)
class _CallRef:
    tool_call_id: str
    name: str
    args: Mapping[str, Any]
    ns: list[str]


def message_text(content: Any) -> str:
    """The text of a message's content: a string, or the text blocks of a block list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    return "" if content is None else json.dumps(content, default=str)


def _as_messages(value: Any) -> list[BaseMessage]:
    if isinstance(value, BaseMessage):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [m for m in value if isinstance(m, BaseMessage)]
    return []


def _tool_calls_in(task_input: Any) -> list[Mapping[str, Any]]:
    """The tool calls a `tools` task was started with (one per task since Send-per-call)."""
    if isinstance(task_input, Mapping) and isinstance(task_input.get("tool_call"), Mapping):
        return [task_input["tool_call"]]
    if isinstance(task_input, Sequence) and not isinstance(task_input, str):
        return [c for c in task_input if isinstance(c, Mapping) and "id" in c and "name" in c]
    return []


class Translator:
    """Stateful translation for one run; call `feed` per chunk, then `usage`."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self._task_calls: dict[str, _CallRef] = {}  # Pregel task id → the tool call it runs
        self._call_names: dict[str, str] = {}  # tool call id → tool name
        self._call_status: dict[str, str] = {}  # tool call id → result status
        self._chunk_calls: dict[tuple[tuple[str, ...], str, int], tuple[str, str]] = {}
        self.input_tokens = 0
        self.output_tokens = 0
        self.interrupted = False
        self._interrupts_seen: set[str] = set()

    def ns(self, namespace: Iterable[str]) -> list[str]:
        """The agent path of a LangGraph namespace: the `task` call ids above it."""
        path = []
        for part in namespace:
            _node, _, task_id = part.partition(":")
            ref = self._task_calls.get(task_id)
            if ref is not None:
                path.append(ref.tool_call_id)
        return path

    def feed(self, namespace: tuple[str, ...], mode: str, data: Any) -> list[ev.RunEvent]:
        if mode == "messages":
            chunk, metadata = data
            return self._on_message(namespace, chunk, metadata)
        if mode == "updates":
            return self._on_updates(namespace, data)
        if mode == "tasks":
            return self._on_task(namespace, data)
        if mode == "custom":
            return self._on_custom(data)
        return []

    def usage(self) -> ev.Usage:
        return ev.Usage(
            run_id=self.run_id, input_tokens=self.input_tokens, output_tokens=self.output_tokens
        )

    # messages ---------------------------------------------------------------

    def _on_message(
        self, namespace: tuple[str, ...], chunk: Any, metadata: Mapping[str, Any]
    ) -> list[ev.RunEvent]:
        if not isinstance(chunk, AIMessageChunk) or metadata.get("langgraph_node") != MODEL_NODE:
            return []
        out: list[ev.RunEvent] = []
        ns = self.ns(namespace)
        message_id = chunk.id or ""
        text = message_text(chunk.content)
        if text:
            out.append(
                ev.MessageDelta(run_id=self.run_id, ns=ns, message_id=message_id, content=text)
            )
        for position, piece in enumerate(chunk.tool_call_chunks):
            index = piece.get("index")
            key = (namespace, message_id, position if index is None else index)
            if piece.get("id") and piece.get("name"):
                self._chunk_calls[key] = (str(piece["id"]), str(piece["name"]))
            known = self._chunk_calls.get(key)
            if known is None:
                continue
            out.append(
                ev.ToolCallDelta(
                    run_id=self.run_id,
                    ns=ns,
                    tool_call_id=known[0],
                    name=known[1],
                    args_delta=piece.get("args") or "",
                )
            )
        return out

    # updates ----------------------------------------------------------------

    def _on_updates(self, namespace: tuple[str, ...], data: Any) -> list[ev.RunEvent]:
        if not isinstance(data, Mapping):
            return []
        out: list[ev.RunEvent] = []
        ns = self.ns(namespace)
        for node, update in data.items():
            if node == "__interrupt__":
                out.extend(self._on_interrupts(update))
                continue
            if not isinstance(update, Mapping):
                continue
            for message in _as_messages(update.get("messages")):
                if isinstance(message, AIMessage) and node != MODEL_NODE:
                    # A model message re-emitted by middleware (e.g. after a human
                    # decision): its calls were reported and its tokens counted.
                    continue
                out.extend(self._on_state_message(ns, message))
            if "todos" in update and not namespace and isinstance(update["todos"], list):
                todos = [ev.Todo.model_validate(t) for t in update["todos"]]
                out.append(ev.Todos(run_id=self.run_id, todos=todos))
        return out

    def _on_state_message(self, ns: list[str], message: BaseMessage) -> list[ev.RunEvent]:
        if isinstance(message, AIMessage):
            usage = message.usage_metadata
            if usage:
                self.input_tokens += int(usage.get("input_tokens", 0))
                self.output_tokens += int(usage.get("output_tokens", 0))
            calls: list[ev.RunEvent] = []
            for call in message.tool_calls:
                call_id = call.get("id") or ""
                self._call_names[call_id] = call["name"]
                calls.append(
                    ev.ToolCall(
                        run_id=self.run_id,
                        ns=ns,
                        tool_call_id=call_id,
                        name=call["name"],
                        args=dict(call["args"]),
                    )
                )
            return calls
        if isinstance(message, ToolMessage):
            status = "error" if message.status == "error" else "success"
            self._call_status[message.tool_call_id] = status
            return [
                ev.ToolResult(
                    run_id=self.run_id,
                    ns=ns,
                    tool_call_id=message.tool_call_id,
                    name=message.name or self._call_names.get(message.tool_call_id, ""),
                    content=message_text(message.content),
                    status=status,
                )
            ]
        return []

    def _on_interrupts(self, update: Any) -> list[ev.RunEvent]:
        """One `interrupt` event per pause. A subagent's pause is reported twice, in its
        namespace and in its parent's: only the first is kept. Its `ns` comes from the pause
        itself, which `RunApproval` stamps with the agent path."""
        items = update if isinstance(update, Sequence) else [update]
        out: list[ev.RunEvent] = []
        for item in items:
            if not isinstance(item, Interrupt):
                continue
            self.interrupted = True
            if item.id in self._interrupts_seen:
                continue
            self._interrupts_seen.add(item.id)
            review = hitl.describe(item)
            out.append(
                ev.InterruptEvent(
                    run_id=self.run_id,
                    interrupt_id=review.id,
                    ns=review.ns,
                    action_requests=review.action_requests,
                    review_configs=review.review_configs,
                )
            )
        return out

    # tasks ------------------------------------------------------------------

    def _on_task(self, namespace: tuple[str, ...], data: Any) -> list[ev.RunEvent]:
        if not isinstance(data, Mapping) or data.get("name") != "tools":
            return []
        task_id = str(data.get("id"))
        if "input" in data:  # the task starts
            calls = _tool_calls_in(data["input"])
            if len(calls) != 1:
                return []
            call = calls[0]
            args = call.get("args") if isinstance(call.get("args"), Mapping) else {}
            ref = _CallRef(str(call["id"]), str(call["name"]), args or {}, self.ns(namespace))
            self._task_calls[task_id] = ref
            if ref.name != SUBAGENT_TOOL:
                return []
            return [
                ev.SubagentStarted(
                    run_id=self.run_id,
                    ns=ref.ns,
                    tool_call_id=ref.tool_call_id,
                    subagent_type=str(ref.args.get("subagent_type", "")),
                    description=str(ref.args.get("description", "")),
                )
            ]
        finished = self._task_calls.get(task_id)  # the task finished
        if finished is None or finished.name != SUBAGENT_TOOL or data.get("interrupts"):
            return []  # a paused subagent has not finished: it goes on when resumed
        failed = bool(data.get("error")) or self._call_status.get(finished.tool_call_id) == "error"
        return [
            ev.SubagentFinished(
                run_id=self.run_id,
                ns=finished.ns,
                tool_call_id=finished.tool_call_id,
                subagent_type=str(finished.args.get("subagent_type", "")),
                status="error" if failed else "success",
            )
        ]

    # custom -----------------------------------------------------------------

    def _on_custom(self, data: Any) -> list[ev.RunEvent]:
        if isinstance(data, Mapping) and data.get("type") == "sandbox":
            return [
                ev.SandboxEvent(
                    run_id=self.run_id,
                    status=data.get("status", "ready"),
                    detail=str(data.get("detail", "")),
                )
            ]
        return []
