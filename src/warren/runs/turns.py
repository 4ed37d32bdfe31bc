"""Whose turn it is on a thread: taking its run lock (`reject`, `interrupt`) and waiting in its
queue (`enqueue`). Only live state and the thread record are involved, so any replica can
take or wait for a turn; `RunManager` decides what a run does with it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from warren.errors import Conflict
from warren.metrics import Metrics
from warren.storage.live import LiveState
from warren.storage.records import Records, Run, RunStatus

QUEUE_POLL_SECONDS = 0.1  # how often a queued run looks whether its turn has come
INTERRUPT_WAIT_SECONDS = 5.0  # how long `interrupt` waits for the cancelled run to let go


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a run ended badly, as its `error` event and record tell it."""

    code: str
    detail: str


class ThreadTurns:
    def __init__(
        self, live: LiveState, records: Records, metrics: Metrics, lock_ttl: float
    ) -> None:
        self.live = live
        self.records = records
        self.metrics = metrics
        self.lock_ttl = lock_ttl
        self.interrupt_wait = INTERRUPT_WAIT_SECONDS

    async def take(self, thread_id: str, run_id: str, strategy: str) -> None:
        """Take the thread's lock for `run_id`: at once (`reject`, 409 if busy), or after
        cancelling the run that holds it (`interrupt`, 409 if it does not stop in time)."""
        if strategy != "interrupt":
            if await self.live.locks.acquire(thread_id, run_id, self.lock_ttl):
                if not await self.live.queues.entries(thread_id):
                    return
                await self.live.locks.release(thread_id, run_id)  # queued runs go first
            raise Conflict(
                "this thread already has an active run; wait for it or cancel it",
                code="thread_busy",
            )
        # At the front of the queue, so queued runs let this one go first.
        ttl = self.interrupt_wait + self.lock_ttl
        await self.live.queues.push(thread_id, run_id, ttl=ttl, limit=None, front=True)
        cancelled: str | None = None
        try:
            async with asyncio.timeout(self.interrupt_wait):
                while not await self.live.locks.acquire(thread_id, run_id, self.lock_ttl):
                    holder = await self.live.locks.holder(thread_id)
                    if holder is not None and holder != cancelled and ":" not in holder:
                        await self.live.cancels.request(holder)  # a run's lock names the run
                        self.metrics.cancels.labels(reason="interrupt").inc()
                        cancelled = holder
                    await asyncio.sleep(QUEUE_POLL_SECONDS)
            if cancelled is not None:  # it let go of the thread: its cancel flag is spent
                await self.live.cancels.clear(cancelled)
        except TimeoutError:
            raise Conflict(
                "the thread's active run did not stop in time; try again",
                code="thread_busy",
            ) from None
        finally:
            await self.live.queues.remove(thread_id, run_id)

    async def wait(self, run: Run) -> tuple[RunStatus, Failure | None] | None:
        """Wait until `run` is first in its thread's queue and takes the lock (`None`), or
        return how it ends without running: cancelled, thread deleted, queue entry lost.
        The entry is left only once the lock is held, so no other run slips in between."""
        thread_id = run.thread_id
        cancel = asyncio.create_task(self.live.cancels.wait(run.id))
        renew_at = check_at = time.monotonic()
        try:
            while True:
                if cancel.done():
                    cancel.result()  # a failing cancel bus is an error, not a cancel
                    return RunStatus.CANCELLED, None
                entries = await self.live.queues.entries(thread_id)
                if run.id not in entries:
                    lost = Failure("queue_lost", "this run lost its place in the queue")
                    return RunStatus.ERROR, lost
                if entries[0] == run.id and await self.live.locks.acquire(
                    thread_id, run.id, self.lock_ttl
                ):
                    return None
                now = time.monotonic()
                if now >= renew_at:
                    await self.live.queues.renew(thread_id, run.id, self.lock_ttl)
                    renew_at = now + self.lock_ttl / 3
                if now >= check_at:
                    if await self.records.threads.get(run.user_id, thread_id) is None:
                        gone = Failure("thread_deleted", "the thread was deleted")
                        return RunStatus.CANCELLED, gone
                    check_at = now + 1.0
                await asyncio.wait({cancel}, timeout=QUEUE_POLL_SECONDS)
        finally:
            cancel.cancel()
            await asyncio.shield(self.live.queues.remove(thread_id, run.id))
