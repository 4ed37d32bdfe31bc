"""The run outbox: events leave in order, the first at once, and only deltas that wait
behind an append in flight are merged (each merged event still a valid delta)."""

from __future__ import annotations

import asyncio

import pytest

from warren.runs import events as ev
from warren.runs.outbox import MAX_PENDING, Outbox

RUN = "run-1"


def delta(text: str, message_id: str = "m1", ns: list[str] | None = None) -> ev.MessageDelta:
    return ev.MessageDelta(run_id=RUN, ns=ns or [], message_id=message_id, content=text)


class SlowLog:
    """An `emit` whose appends wait until released, recording what they were given."""

    def __init__(self) -> None:
        self.batches: list[list[ev.RunEvent]] = []
        self.gate = asyncio.Event()
        self.fail: Exception | None = None

    @property
    def written(self) -> list[ev.RunEvent]:
        return [event for batch in self.batches for event in batch]

    async def emit(self, events: list[ev.RunEvent]) -> None:
        self.batches.append(events)
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail


async def test_the_first_delta_leaves_at_once_and_later_ones_merge_while_it_is_written() -> None:
    log = SlowLog()
    outbox = Outbox(log.emit)
    await outbox.put(delta("Hel"))
    await asyncio.sleep(0)
    assert log.written == [delta("Hel")]  # not held back to wait for more
    for text in ("lo", ", ", "world"):
        await outbox.put(delta(text))
    await outbox.put(
        ev.ToolCallDelta(run_id=RUN, ns=[], tool_call_id="c", name="ls", args_delta="{")
    )
    await outbox.put(
        ev.ToolCallDelta(run_id=RUN, ns=[], tool_call_id="c", name="ls", args_delta="}")
    )
    await outbox.put(delta("!"))
    await outbox.put(delta("other", message_id="m2"))
    await outbox.put(delta("sub", ns=["tools:1"]))
    log.gate.set()
    await outbox.flush()
    assert len(log.batches) == 2  # what waited behind the first append went in one write
    assert log.written == [
        delta("Hel"),
        delta("lo, world"),
        ev.ToolCallDelta(run_id=RUN, ns=[], tool_call_id="c", name="ls", args_delta="{}"),
        delta("!"),
        delta("other", message_id="m2"),
        delta("sub", ns=["tools:1"]),
    ]


async def test_other_events_are_never_merged_and_keep_their_order() -> None:
    log = SlowLog()
    log.gate.set()
    outbox = Outbox(log.emit)
    events: list[ev.RunEvent] = [
        ev.RunStarted(run_id=RUN, thread_id="t"),
        ev.Usage(run_id=RUN, input_tokens=1, output_tokens=2),
        ev.Usage(run_id=RUN, input_tokens=1, output_tokens=2),
        ev.ErrorEvent(run_id=RUN, code="x", detail="y"),
    ]
    for event in events:
        await outbox.put(event)
    await outbox.flush()
    assert log.written == events


async def test_discard_drops_what_waits_and_stops_the_append_in_flight() -> None:
    log = SlowLog()
    outbox = Outbox(log.emit)
    await outbox.put(delta("a"))
    await asyncio.sleep(0)
    await outbox.put(
        ev.ToolCallDelta(run_id=RUN, ns=[], tool_call_id="c", name="ls", args_delta="{")
    )
    await outbox.discard()
    log.gate.set()
    await asyncio.sleep(0.01)
    assert log.written == [delta("a")]  # the waiting event never reached the log


async def test_an_append_failure_reaches_the_run() -> None:
    log = SlowLog()
    log.fail = RuntimeError("disk full")
    log.gate.set()
    outbox = Outbox(log.emit)
    await outbox.put(delta("a"))
    with pytest.raises(RuntimeError, match="disk full"):
        await outbox.flush()
    with pytest.raises(RuntimeError, match="disk full"):
        await outbox.put(delta("b"))


async def test_the_agent_waits_when_too_many_events_wait() -> None:
    log = SlowLog()
    outbox = Outbox(log.emit)
    usage = ev.Usage(run_id=RUN, input_tokens=0, output_tokens=0)  # never merged
    await outbox.put(usage)
    await asyncio.sleep(0)  # in flight, held by the slow log
    for _ in range(MAX_PENDING - 1):
        await outbox.put(usage)  # waiting, up to the bound
    blocked = asyncio.create_task(outbox.put(usage))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    log.gate.set()
    await asyncio.wait_for(blocked, 5)
    await outbox.flush()
    assert len(log.written) == MAX_PENDING + 1
