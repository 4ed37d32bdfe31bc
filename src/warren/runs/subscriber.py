"""A bounded buffer between a run's event log and one client: memory stays bounded, and a
client that stops reading is dropped with a resumable gap instead of holding on forever."""

from __future__ import annotations

import asyncio
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
    stream ends without `done`, and the client resumes after the last id it got."""
    queue: asyncio.Queue[LoggedEvent] = asyncio.Queue(maxsize=size)

    async def pump() -> bool:
        """Read the log into the buffer; `True` if the reader was dropped."""
        try:
            async for event in source:
                try:
                    await asyncio.wait_for(queue.put(event), stall)
                except TimeoutError:
                    return True
                if event.type == TERMINAL_EVENT:
                    break
            return False
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()

    reader = asyncio.create_task(pump())
    getter: asyncio.Future[LoggedEvent] | None = None
    try:
        while True:
            if not queue.empty():
                yield queue.get_nowait()
                continue
            if reader.done():
                if reader.result():
                    log.info("slow stream subscriber dropped", buffered=size)
                    if on_drop is not None:
                        on_drop()
                return
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield getter.result()
            else:
                getter.cancel()  # an item not taken stays in the queue
    finally:
        if getter is not None:
            getter.cancel()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
