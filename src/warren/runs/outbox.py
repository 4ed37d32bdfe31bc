"""A run's events on their way to its log: the agent never waits for an append, and deltas
that pile up behind one are merged.

The agent's stream produces events one chunk at a time; appending each before reading the
next chunk made every token wait for the log. Here the run hands events over and goes on; a
single task appends them in order. While an append is in flight, consecutive text deltas of
the same message (or argument deltas of the same tool call) are joined into one event, so a
busy server writes, relays and frames fewer, larger events. Nothing waits to be merged: the
first delta goes out at once, and a delta only grows while the one before it is being
written. Each merged event is still one valid `message` / `tool_call_delta` event and the
concatenated text is unchanged (API.md: deltas are concatenated by `message_id`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from warren.runs import events as ev

MAX_PENDING = 256  # events held before the agent waits for the log (backpressure)


def merged(last: ev.RunEvent, event: ev.RunEvent) -> ev.RunEvent | None:
    """`last` followed by `event` as one event, when they are deltas of the same thing."""
    if (
        isinstance(last, ev.MessageDelta)
        and isinstance(event, ev.MessageDelta)
        and (last.message_id, last.ns) == (event.message_id, event.ns)
    ):
        return last.model_copy(update={"content": last.content + event.content})
    if (
        isinstance(last, ev.ToolCallDelta)
        and isinstance(event, ev.ToolCallDelta)
        and (last.tool_call_id, last.name, last.ns) == (event.tool_call_id, event.name, event.ns)
    ):
        return last.model_copy(update={"args_delta": last.args_delta + event.args_delta})
    return None


class Outbox:
    """Appends one run's events in order through `emit` (all that wait, in one call), off
    the agent's path.

    `put` returns at once (unless `MAX_PENDING` events wait); `flush` returns once all are
    in the log and raises what an append raised; `discard` drops what was not yet appended
    (the run was cancelled: nothing it produced may follow its `done`)."""

    def __init__(self, emit: Callable[[list[ev.RunEvent]], Awaitable[object]]) -> None:
        self._emit = emit
        self._pending: deque[ev.RunEvent] = deque()
        self._writer: asyncio.Task[None] | None = None

    async def put(self, event: ev.RunEvent) -> None:
        self._raise_failure()
        if self._pending:
            joined = merged(self._pending[-1], event)
            if joined is not None:
                self._pending[-1] = joined
                return
        self._pending.append(event)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        elif len(self._pending) >= MAX_PENDING:
            await asyncio.shield(self._writer)

    async def _write(self) -> None:
        while self._pending:
            # Everything waiting goes in one write; taken out first, so only events that
            # arrive meanwhile are merged into.
            batch = list(self._pending)
            self._pending.clear()
            await self._emit(batch)

    def _raise_failure(self) -> None:
        if self._writer is not None and self._writer.done() and not self._writer.cancelled():
            self._writer.result()

    async def flush(self) -> None:
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def discard(self) -> None:
        self._pending.clear()
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
