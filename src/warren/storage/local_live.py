"""Embedded live state: run events in SQLite, signals, locks and counters in this process.

Embedded mode is one process by design (`warren serve` holds a lock on the data dir),
so in-process asyncio primitives are the whole truth here.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warren.storage.live import (
    TERMINAL_EVENT,
    InvalidEventId,
    LiveState,
    LoggedEvent,
    SandboxLease,
)
from warren.storage.sqlite import Database, dumps, from_ts, ts

_POLL_SECONDS = 5.0
_BATCH_ROWS = 500  # 4 parameters a row: far below SQLite's limit on bound parameters
TAIL_EVENTS = 2_000  # events of a live run kept in memory for its followers

# One statement appends a whole batch, so it is one transaction (one commit) and one trip to
# the database thread. Each run's ids continue from its highest stored id, in batch order.
_APPEND_BATCH = (
    "WITH batch(ord, run_id, type, data) AS (VALUES {values})"
    " INSERT INTO run_events (run_id, seq, type, data)"
    " SELECT run_id,"
    "  COALESCE((SELECT MAX(e.seq) FROM run_events e WHERE e.run_id = batch.run_id), 0)"
    "  + ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY ord), type, data"
    " FROM batch ORDER BY ord RETURNING run_id, seq"
)


def _seq(event_id: str | None) -> int:
    if event_id is None:
        return 0
    if not event_id.isdigit():
        raise InvalidEventId(event_id)
    return int(event_id)


@dataclass(slots=True)
class _Pending:
    run_id: str
    type: str
    raw: str
    data: dict[str, Any]
    future: asyncio.Future[str]


class _Tail:
    """The latest committed events of one live run, for its followers: `events[i]` has id
    `base + i + 1`. Older events (and those of finished runs) are read from SQLite."""

    __slots__ = ("base", "events")

    def __init__(self, base: int) -> None:
        self.base = base
        self.events: list[LoggedEvent] = []

    def add(self, seq: int, event: LoggedEvent) -> None:
        if seq != self.base + len(self.events) + 1:  # not contiguous (the log was deleted)
            self.base, self.events = seq - 1, []
        self.events.append(event)
        if len(self.events) > 2 * TAIL_EVENTS:
            drop = len(self.events) - TAIL_EVENTS
            del self.events[:drop]
            self.base += drop

    def after(self, seq: int) -> list[LoggedEvent]:
        return self.events[seq - self.base :]


class SqliteEventLog:
    """Run event logs in SQLite, with group commit and an in-memory tail per live run.

    Appends wait in a queue; one writer at a time commits everything queued in a single
    statement, then publishes the batch: an event reaches followers only once it is
    committed, so no follower ever sees an id that a crash could lose (after a restart the
    next id continues from the highest committed one). Followers of a live run read its
    tail in memory (embedded mode is one process); older events come from SQLite.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._signals: dict[str, asyncio.Event] = {}
        self._tails: dict[str, _Tail] = {}
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    def is_valid_id(self, event_id: str) -> bool:
        return event_id.isdigit()

    def _signal(self, run_id: str) -> asyncio.Event:
        return self._signals.setdefault(run_id, asyncio.Event())

    async def append(self, run_id: str, type_: str, data: dict[str, Any]) -> str:
        return await self._enqueue(run_id, type_, data)

    async def append_many(
        self, run_id: str, events: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[str]:
        queued = [self._enqueue(run_id, type_, data) for type_, data in events]
        return list(await asyncio.gather(*queued))

    def _enqueue(self, run_id: str, type_: str, data: dict[str, Any]) -> asyncio.Future[str]:
        """Queue one event for the writer (started if none runs); the future is its id."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(run_id, type_, dumps(data), data, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="event-log-writer")
        return future

    async def _write(self) -> None:
        """Commit what is queued, batch after batch, until the queue is empty."""
        while self._queue:
            batch, self._queue = self._queue[:_BATCH_ROWS], self._queue[_BATCH_ROWS:]
            try:
                seqs = await self._commit(batch)
            except Exception as exc:
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            for pending, seq in zip(batch, seqs, strict=True):
                self._publish(pending, seq)

    async def _commit(self, batch: list[_Pending]) -> list[int]:
        params: list[Any] = []
        for order, pending in enumerate(batch):
            params += (order, pending.run_id, pending.type, pending.raw)
        sql = _APPEND_BATCH.format(values=",".join(["(?,?,?,?)"] * len(batch)))
        rows = await self.db.fetchall(sql, tuple(params))
        # RETURNING order is unspecified: a run's ids, ascending, follow its batch order.
        issued: dict[str, list[int]] = {}
        for row in rows:
            issued.setdefault(row["run_id"], []).append(row["seq"])
        for seqs in issued.values():
            seqs.sort(reverse=True)
        return [issued[pending.run_id].pop() for pending in batch]

    def _publish(self, pending: _Pending, seq: int) -> None:
        run_id = pending.run_id
        event = LoggedEvent(str(seq), pending.type, pending.data, pending.raw)
        if pending.type == TERMINAL_EVENT:
            self._tails.pop(run_id, None)  # finished: later followers read SQLite
        else:
            tail = self._tails.get(run_id)
            if tail is None:
                tail = self._tails[run_id] = _Tail(seq - 1)
            tail.add(seq, event)
        signal = self._signals.pop(run_id, None)
        if signal is not None:
            signal.set()
        if not pending.future.done():  # its appender may have been cancelled meanwhile
            pending.future.set_result(event.id)

    async def read(self, run_id: str, after: str | None = None) -> list[LoggedEvent]:
        rows = await self.db.fetchall(
            "SELECT seq, type, data FROM run_events WHERE run_id = ? AND seq > ?"
            " AND NOT EXISTS (SELECT 1 FROM run_event_expiry"
            "  WHERE run_id = ? AND expires_at <= ?)"  # expired: gone, even before the sweep
            " ORDER BY seq",
            (run_id, _seq(after), run_id, time.time()),
        )
        return [
            LoggedEvent(str(row["seq"]), row["type"], json.loads(row["data"]), row["data"])
            for row in rows
        ]

    async def follow(self, run_id: str, after: str | None = None) -> AsyncIterator[LoggedEvent]:
        cursor = _seq(after)
        if after is not None and run_id not in self._tails:  # a live run has not ended
            last = await self.db.fetchone(
                "SELECT seq, type FROM run_events WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
                (run_id,),
            )
            if last is not None and last["type"] == TERMINAL_EVENT and last["seq"] <= cursor:
                return  # resumed at or after `done`: nothing more will come
        while True:
            signal = self._signal(run_id)  # taken before reading, so no append is missed
            tail = self._tails.get(run_id)
            if tail is not None and cursor >= tail.base:
                events = tail.after(cursor)
            else:  # no live tail here, or behind it: committed events are in SQLite
                events = await self.read(run_id, str(cursor))
            for event in events:
                yield event
                cursor = int(event.id)
                if event.type == TERMINAL_EVENT:
                    self._signals.pop(run_id, None)  # nothing follows `done`
                    return
            if events:
                continue
            try:
                await asyncio.wait_for(signal.wait(), _POLL_SECONDS)
            except TimeoutError:
                continue

    async def expire(self, run_id: str, seconds: float) -> None:
        await self.db.execute(
            "INSERT INTO run_event_expiry (run_id, expires_at) VALUES (?, ?)"
            " ON CONFLICT (run_id) DO UPDATE SET expires_at = excluded.expires_at",
            (run_id, time.time() + seconds),
        )

    async def delete(self, run_id: str) -> None:
        self._tails.pop(run_id, None)
        await self.db.execute("DELETE FROM run_events WHERE run_id = ?", (run_id,))
        await self.db.execute("DELETE FROM run_event_expiry WHERE run_id = ?", (run_id,))
        self._tails.pop(run_id, None)

    async def sweep(self) -> int:
        """Delete the logs whose retention window has passed; return how many."""
        rows = await self.db.fetchall(
            "SELECT run_id FROM run_event_expiry WHERE expires_at <= ?", (time.time(),)
        )
        for row in rows:
            await self.delete(row["run_id"])
        return len(rows)


class LocalCancelBus:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    async def request(self, run_id: str) -> None:
        self._events.setdefault(run_id, asyncio.Event()).set()

    async def is_requested(self, run_id: str) -> bool:
        event = self._events.get(run_id)
        return event is not None and event.is_set()

    async def wait(self, run_id: str) -> None:
        await self._events.setdefault(run_id, asyncio.Event()).wait()

    async def clear(self, run_id: str) -> None:
        self._events.pop(run_id, None)


class LocalRunLocks:
    def __init__(self) -> None:
        self._leases: dict[str, tuple[str, float]] = {}

    def _live_owner(self, thread_id: str) -> str | None:
        lease = self._leases.get(thread_id)
        if lease is None:
            return None
        owner, expires = lease
        if expires <= time.monotonic():
            del self._leases[thread_id]
            return None
        return owner

    async def acquire(self, thread_id: str, owner: str, ttl: float) -> bool:
        if self._live_owner(thread_id) is not None:
            return False
        self._leases[thread_id] = (owner, time.monotonic() + ttl)
        return True

    async def renew(self, thread_id: str, owner: str, ttl: float) -> bool:
        if self._live_owner(thread_id) != owner:
            return False
        self._leases[thread_id] = (owner, time.monotonic() + ttl)
        return True

    async def release(self, thread_id: str, owner: str) -> bool:
        if self._live_owner(thread_id) != owner:
            return False
        del self._leases[thread_id]
        return True

    async def holder(self, thread_id: str) -> str | None:
        return self._live_owner(thread_id)


class LocalRunQueue:
    """In-process FIFOs: `{thread: {run: (order, expires)}}`; empty queues are dropped."""

    def __init__(self) -> None:
        self._queues: dict[str, dict[str, tuple[int, float]]] = {}
        self._order = 0

    def _live(self, thread_id: str) -> dict[str, tuple[int, float]]:
        queue = self._queues.get(thread_id, {})
        now = time.monotonic()
        for run_id in [r for r, (_, expires) in queue.items() if expires <= now]:
            del queue[run_id]
        if not queue:
            self._queues.pop(thread_id, None)
        return queue

    async def push(
        self, thread_id: str, run_id: str, *, ttl: float, limit: int | None, front: bool = False
    ) -> bool:
        queue = self._live(thread_id)
        if limit is not None and len(queue) >= limit:
            return False
        self._order += 1
        order = -self._order if front else self._order
        self._queues.setdefault(thread_id, queue)[run_id] = (order, time.monotonic() + ttl)
        return True

    async def renew(self, thread_id: str, run_id: str, ttl: float) -> bool:
        queue = self._live(thread_id)
        if run_id not in queue:
            return False
        queue[run_id] = (queue[run_id][0], time.monotonic() + ttl)
        return True

    async def entries(self, thread_id: str) -> list[str]:
        queue = self._live(thread_id)
        return sorted(queue, key=lambda run_id: queue[run_id][0])

    async def remove(self, thread_id: str, run_id: str) -> bool:
        queue = self._live(thread_id)
        removed = queue.pop(run_id, None) is not None
        if not queue:
            self._queues.pop(thread_id, None)
        return removed


class LocalThrottle:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, limit: int, window: float) -> float | None:
        now = time.monotonic()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        if len(self._windows) > 100_000:  # bound memory under a flood of distinct keys
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window}
        if count > limit:
            return max(0.0, start + window - now)
        return None

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)


class SqliteSandboxLeases:
    """Leases in the live-state SQLite file: they can be rebuilt from sandbox metadata."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _lease(row: Any) -> SandboxLease:
        created, used = from_ts(row["created_at"]), from_ts(row["last_used_at"])
        assert created is not None
        assert used is not None
        return SandboxLease(
            thread_id=row["thread_id"],
            user_id=row["user_id"],
            provider=row["provider"],
            sandbox_id=row["sandbox_id"],
            created_at=created,
            last_used_at=used,
            expires_at=from_ts(row["expires_at"]),
        )

    async def get(self, thread_id: str) -> SandboxLease | None:
        row = await self.db.fetchone(
            "SELECT * FROM sandbox_leases WHERE thread_id = ?", (thread_id,)
        )
        return None if row is None else self._lease(row)

    async def put(self, lease: SandboxLease) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO sandbox_leases (thread_id, user_id, provider, sandbox_id,"
            " created_at, last_used_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                lease.thread_id,
                lease.user_id,
                lease.provider,
                lease.sandbox_id,
                ts(lease.created_at),
                ts(lease.last_used_at),
                ts(lease.expires_at),
            ),
        )

    async def touch(
        self, thread_id: str, sandbox_id: str, *, used_at: datetime, expires_at: datetime | None
    ) -> bool:
        changed = await self.db.execute(
            "UPDATE sandbox_leases SET last_used_at = MAX(last_used_at, ?), expires_at = ?"
            " WHERE thread_id = ? AND sandbox_id = ?",
            (ts(used_at), ts(expires_at), thread_id, sandbox_id),
        )
        return changed > 0

    async def delete(self, thread_id: str, sandbox_id: str | None = None) -> bool:
        changed = await self.db.execute(
            "DELETE FROM sandbox_leases WHERE thread_id = ? AND (? IS NULL OR sandbox_id = ?)",
            (thread_id, sandbox_id, sandbox_id),
        )
        return changed > 0

    async def all(self) -> list[SandboxLease]:
        rows = await self.db.fetchall("SELECT * FROM sandbox_leases ORDER BY thread_id")
        return [self._lease(row) for row in rows]


def local_live_state(db: Database) -> tuple[LiveState, SqliteEventLog]:
    events = SqliteEventLog(db)
    live = LiveState(
        events=events,
        cancels=LocalCancelBus(),
        locks=LocalRunLocks(),
        throttle=LocalThrottle(),
        mutex=LocalRunLocks(),
        leases=SqliteSandboxLeases(db),
        queues=LocalRunQueue(),
    )
    return live, events
