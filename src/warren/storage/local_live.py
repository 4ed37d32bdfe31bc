"""Embedded live state: run events in SQLite, signals, locks and counters in this process.

Embedded mode is one process by design (`warren serve` holds a lock on the data dir),
so in-process asyncio primitives are the whole truth here.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
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


def _seq(event_id: str | None) -> int:
    if event_id is None:
        return 0
    if not event_id.isdigit():
        raise InvalidEventId(event_id)
    return int(event_id)


class SqliteEventLog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._signals: dict[str, asyncio.Event] = {}

    def is_valid_id(self, event_id: str) -> bool:
        return event_id.isdigit()

    def _signal(self, run_id: str) -> asyncio.Event:
        return self._signals.setdefault(run_id, asyncio.Event())

    async def append(self, run_id: str, type_: str, data: dict[str, Any]) -> str:
        row = await self.db.fetchone(
            "INSERT INTO run_events (run_id, seq, type, data)"
            " SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ? FROM run_events WHERE run_id = ?"
            " RETURNING seq",
            (run_id, type_, dumps(data), run_id),
        )
        assert row is not None
        signal = self._signals.pop(run_id, None)
        if signal is not None:
            signal.set()
        return str(row["seq"])

    async def read(self, run_id: str, after: str | None = None) -> list[LoggedEvent]:
        rows = await self.db.fetchall(
            "SELECT seq, type, data FROM run_events WHERE run_id = ? AND seq > ?"
            " AND NOT EXISTS (SELECT 1 FROM run_event_expiry"
            "  WHERE run_id = ? AND expires_at <= ?)"  # expired: gone, even before the sweep
            " ORDER BY seq",
            (run_id, _seq(after), run_id, time.time()),
        )
        return [LoggedEvent(str(row["seq"]), row["type"], json.loads(row["data"])) for row in rows]

    async def follow(self, run_id: str, after: str | None = None) -> AsyncIterator[LoggedEvent]:
        cursor = after
        if after is not None:
            last = await self.db.fetchone(
                "SELECT seq, type FROM run_events WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
                (run_id,),
            )
            if last is not None and last["type"] == TERMINAL_EVENT and last["seq"] <= _seq(after):
                return  # resumed at or after `done`: nothing more will come
        while True:
            signal = self._signal(run_id)  # taken before reading, so no append is missed
            for event in await self.read(run_id, cursor):
                yield event
                cursor = event.id
                if event.type == TERMINAL_EVENT:
                    self._signals.pop(run_id, None)  # nothing follows `done`
                    return
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
        await self.db.execute("DELETE FROM run_events WHERE run_id = ?", (run_id,))
        await self.db.execute("DELETE FROM run_event_expiry WHERE run_id = ?", (run_id,))

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
