"""Live-state interfaces: run event logs, cancel signals, locks, run queues, sandbox leases,
login throttle.

Production keeps these in Redis (`storage.redis_live`) so any replica sees them;
embedded mode keeps them in SQLite and in-process asyncio (`storage.local_live`).
Both pass the contract suites in `tests/storage/`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

TERMINAL_EVENT = "done"


class InvalidEventId(ValueError):
    """An event id (e.g. a `Last-Event-ID`) that this log never issued."""


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event as stored: its log-assigned id, its type and its JSON payload (`raw`: the
    same payload as the JSON text the log stored, when it has it, so that it is not
    serialized again for every subscriber)."""

    id: str
    type: str
    data: dict[str, Any]
    raw: str | None = field(default=None, compare=False, repr=False)


class EventLog(Protocol):
    """An append-only, per-run log of events with monotonic, opaque string ids."""

    def is_valid_id(self, event_id: str) -> bool:
        """Whether `event_id` has the form of an id this log issues."""
        ...

    async def append(self, run_id: str, type_: str, data: dict[str, Any]) -> str:
        """Append one event; return its id."""
        ...

    async def append_many(
        self, run_id: str, events: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[str]:
        """Append several events of one run, in order (one write where the backend can);
        return their ids."""
        ...

    async def read(self, run_id: str, after: str | None = None) -> list[LoggedEvent]:
        """The events stored after `after` (all when `None`), oldest first."""
        ...

    def follow(self, run_id: str, after: str | None = None) -> AsyncIterator[LoggedEvent]:
        """Replay the events after `after`, then wait for new ones; stop after `done`."""
        ...

    async def expire(self, run_id: str, seconds: float) -> None:
        """Drop the run's log `seconds` from now (the retention window)."""
        ...

    async def delete(self, run_id: str) -> None: ...


class CancelBus(Protocol):
    """Cancel signals that reach the replica running a run, wherever it was asked."""

    async def request(self, run_id: str) -> None: ...
    async def is_requested(self, run_id: str) -> bool: ...
    async def wait(self, run_id: str) -> None:
        """Return once a cancel of `run_id` has been requested (also if it already was)."""
        ...

    async def clear(self, run_id: str) -> None: ...


class RunLocks(Protocol):
    """Named leases with an owner and an expiry: one active run per thread (keyed by thread
    id), and the mutexes of `LiveState.mutex` (sandbox creation, background leaders)."""

    async def acquire(self, thread_id: str, owner: str, ttl: float) -> bool: ...
    async def renew(self, thread_id: str, owner: str, ttl: float) -> bool: ...
    async def release(self, thread_id: str, owner: str) -> bool: ...
    async def holder(self, thread_id: str) -> str | None: ...


class RunQueue(Protocol):
    """Per-thread FIFOs of runs waiting for the thread (`multitask_strategy: "enqueue"`).

    An entry is a lease: the replica whose task waits for the run renews it, so the entry of
    a replica that died expires and never blocks the runs behind it. Only live entries count.
    """

    async def push(
        self, thread_id: str, run_id: str, *, ttl: float, limit: int | None, front: bool = False
    ) -> bool:
        """Add `run_id` at the back (or the front) unless `limit` live entries wait already."""
        ...

    async def renew(self, thread_id: str, run_id: str, ttl: float) -> bool:
        """Extend the entry's lease; `False` if it is no longer queued."""
        ...

    async def entries(self, thread_id: str) -> list[str]:
        """The live entries, first to run first."""
        ...

    async def remove(self, thread_id: str, run_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class SandboxLease:
    """Which sandbox a thread uses. The sandbox's metadata names the thread too, so either
    side can rebuild the other."""

    thread_id: str
    user_id: str
    provider: str
    sandbox_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime | None  # None: the provider never expires it


class SandboxLeases(Protocol):
    async def get(self, thread_id: str) -> SandboxLease | None: ...
    async def put(self, lease: SandboxLease) -> None:
        """Create or replace the thread's lease."""
        ...

    async def touch(
        self, thread_id: str, sandbox_id: str, *, used_at: datetime, expires_at: datetime | None
    ) -> bool:
        """Record use and expiry, only if the lease still names `sandbox_id`."""
        ...

    async def delete(self, thread_id: str, sandbox_id: str | None = None) -> bool:
        """Drop the lease (only if it still names `sandbox_id`, when given)."""
        ...

    async def all(self) -> list[SandboxLease]: ...


class Throttle(Protocol):
    """Fixed-window attempt counters (login rate limiting)."""

    async def hit(self, key: str, limit: int, window: float) -> float | None:
        """Count one attempt; return seconds to wait if over `limit`, else `None`."""
        ...

    async def reset(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class LiveState:
    events: EventLog
    cancels: CancelBus
    locks: RunLocks
    throttle: Throttle
    mutex: RunLocks
    leases: SandboxLeases
    queues: RunQueue
