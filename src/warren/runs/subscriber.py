"""A bounded buffer between a run's event log and one client: memory stays bounded, and a
client that stops reading is dropped with a resumable gap instead of holding on forever."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

from warren.logs import get_logger
from warren.storage.live import TERMINAL_EVENT, LoggedEvent

log = get_logger(__name__)

STALL_SECONDS = 10.0  # a full buffer this long means the client stopped reading


async def bounded(
    source: AsyncIterator[LoggedEvent],
    size: int,
    *,
    stall: float = STALL_SECONDS,
    on_drop: Callable[[], None] | None = None,
) -> AsyncIterator[LoggedEvent]:
    """Relay `source` through at most `size` buffered events. When the buffer stays full
    for `stall` seconds, stop reading: the buffered events are still delivered, then the
    stream ends without `done`, and the client resumes after the last id it got.

    One reader task fills the buffer; the two sides wake each other through one future
    each (not a queue's getter and putter futures plus `asyncio.wait`), so an event costs
    as few trips through the event loop as possible."""
    loop = asyncio.get_running_loop()
    buffer: deque[LoggedEvent] = deque()
    has_items: asyncio.Future[None] | None = None  # the client side waits for an event
    has_room: asyncio.Future[None] | None = None  # the reader waits for a free slot

    def wake(waiter: asyncio.Future[None] | None) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def pump() -> bool:
        """Read the log into the buffer; `True` if the reader was dropped."""
        nonlocal has_room
        try:
            async for event in source:
                if len(buffer) >= size:
                    has_room = loop.create_future()
                    try:
                        await asyncio.wait_for(has_room, stall)
                    except TimeoutError:
                        return True
                buffer.append(event)
                wake(has_items)
                if event.type == TERMINAL_EVENT:
                    break
            return False
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()

    reader: asyncio.Task[bool] | None = None
    try:
        # The first event is read here: no reader task stands between a new stream and its
        # first frame (a client that never reads it holds nothing but this generator).
        first = await anext(source, None)
        if first is None:
            return
        yield first
        if first.type == TERMINAL_EVENT:
            return
        reader = asyncio.create_task(pump())
        reader.add_done_callback(lambda _: wake(has_items))
        while True:
            if buffer:
                event = buffer.popleft()
                wake(has_room)
                yield event
                continue
            if reader.done():
                if reader.result():
                    log.info("slow stream subscriber dropped", buffered=size)
                    if on_drop is not None:
                        on_drop()
                return
            has_items = loop.create_future()
            await has_items
    finally:
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()  # a no-op when the reader closed it already
