"""The live-state contract (events, cancels, locks, throttle, sandbox leases), local and Redis."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from warren.storage.live import InvalidEventId, LiveState, LoggedEvent, SandboxLease


def uid() -> str:
    return str(uuid.uuid4())


async def collect(live: LiveState, run_id: str, after: str | None = None) -> list[LoggedEvent]:
    return [event async for event in live.events.follow(run_id, after)]


async def test_event_ids_are_monotonic_and_read_after_an_id(live: LiveState) -> None:
    run = uid()
    ids = [await live.events.append(run, "message", {"n": i}) for i in range(5)]
    assert all(live.events.is_valid_id(i) for i in ids)
    assert len(set(ids)) == 5
    events = await live.events.read(run)
    assert [e.id for e in events] == ids
    assert [e.data["n"] for e in events] == [0, 1, 2, 3, 4]
    assert [e.data["n"] for e in await live.events.read(run, ids[2])] == [3, 4]
    assert await live.events.read(run, ids[-1]) == []
    assert await live.events.read(uid()) == []


async def test_follow_replays_then_streams_live_until_done(live: LiveState) -> None:
    run = uid()
    first = await live.events.append(run, "run_started", {"n": 0})
    await live.events.append(run, "message", {"n": 1})
    follower = asyncio.create_task(collect(live, run))
    late_joiner = asyncio.create_task(collect(live, run, first))
    await asyncio.sleep(0.1)
    assert not follower.done()
    await live.events.append(run, "message", {"n": 2})
    await live.events.append(run, "done", {"n": 3})
    await live.events.append(run, "message", {"n": 4})  # nothing after done is followed
    everything = await asyncio.wait_for(follower, 10)
    assert [e.data["n"] for e in everything] == [0, 1, 2, 3]
    assert [e.data["n"] for e in await asyncio.wait_for(late_joiner, 10)] == [1, 2, 3]
    assert [e.type for e in everything] == ["run_started", "message", "message", "done"]


async def test_follow_after_done_returns_at_once(live: LiveState) -> None:
    run = uid()
    await live.events.append(run, "message", {})
    done = await live.events.append(run, "done", {})
    assert [e.type for e in await asyncio.wait_for(collect(live, run), 5)] == ["message", "done"]
    assert await asyncio.wait_for(collect(live, run, done), 5) == []


async def test_foreign_event_ids_are_refused(live: LiveState) -> None:
    assert not live.events.is_valid_id("not-an-id")
    with pytest.raises(InvalidEventId):
        await live.events.read(uid(), "not-an-id")
    with pytest.raises(InvalidEventId):
        await collect(live, uid(), "../../etc")


async def test_logs_expire_and_delete(live: LiveState) -> None:
    kept, expiring, deleted = uid(), uid(), uid()
    for run in (kept, expiring, deleted):
        await live.events.append(run, "done", {})
    await live.events.expire(expiring, 0.2)
    await live.events.delete(deleted)
    assert len(await live.events.read(expiring)) == 1
    await asyncio.sleep(0.5)
    assert await live.events.read(expiring) == []
    sweep = getattr(live.events, "sweep", None)
    if sweep is not None:  # the SQLite log reclaims expired logs in a periodic sweep
        assert await sweep() == 1
        assert await sweep() == 0
    assert await live.events.read(expiring) == []
    assert await live.events.read(deleted) == []
    assert len(await live.events.read(kept)) == 1


async def test_cancel_reaches_a_waiter_and_an_early_request_is_kept(live: LiveState) -> None:
    run, early = uid(), uid()
    waiter = asyncio.create_task(live.cancels.wait(run))
    await asyncio.sleep(0.1)
    assert not waiter.done()
    assert not await live.cancels.is_requested(run)
    await live.cancels.request(run)
    await asyncio.wait_for(waiter, 5)
    assert await live.cancels.is_requested(run)

    await live.cancels.request(early)  # before anyone waits: the run has not started yet
    await asyncio.wait_for(live.cancels.wait(early), 5)
    await live.cancels.clear(early)
    assert not await live.cancels.is_requested(early)


async def test_run_lock_is_exclusive_and_owned(live: LiveState) -> None:
    thread = uid()
    assert await live.locks.acquire(thread, "run-a", 30)
    assert not await live.locks.acquire(thread, "run-b", 30)
    assert await live.locks.holder(thread) == "run-a"
    assert not await live.locks.renew(thread, "run-b", 30)
    assert not await live.locks.release(thread, "run-b")
    assert await live.locks.renew(thread, "run-a", 30)
    assert await live.locks.release(thread, "run-a")
    assert await live.locks.holder(thread) is None
    assert await live.locks.acquire(thread, "run-b", 30)


async def test_run_lock_expires_unless_renewed(live: LiveState) -> None:
    thread = uid()
    assert await live.locks.acquire(thread, "run-a", 0.3)
    await asyncio.sleep(0.15)
    assert await live.locks.renew(thread, "run-a", 0.3)
    await asyncio.sleep(0.2)
    assert await live.locks.holder(thread) == "run-a"  # renewed: still held
    await asyncio.sleep(0.3)
    assert await live.locks.holder(thread) is None
    assert not await live.locks.renew(thread, "run-a", 0.3)
    assert await live.locks.acquire(thread, "run-b", 30)


async def test_throttle_counts_attempts_per_window(live: LiveState) -> None:
    key = uid()
    assert [await live.throttle.hit(key, 3, 0.5) for _ in range(3)] == [None, None, None]
    wait = await live.throttle.hit(key, 3, 0.5)
    assert wait is not None
    assert 0 < wait <= 0.5
    assert await live.throttle.hit(uid(), 3, 0.5) is None  # keys are independent
    await asyncio.sleep(0.6)
    assert await live.throttle.hit(key, 3, 0.5) is None  # a new window
    for _ in range(3):
        await live.throttle.hit(key, 3, 0.5)
    await live.throttle.reset(key)
    assert await live.throttle.hit(key, 3, 0.5) is None


def lease(thread_id: str, sandbox_id: str = "sb-1", **changes: object) -> SandboxLease:
    now = datetime.now(UTC)
    fields: dict[str, object] = {
        "thread_id": thread_id,
        "user_id": "user-1",
        "provider": "local",
        "sandbox_id": sandbox_id,
        "created_at": now,
        "last_used_at": now,
        "expires_at": now + timedelta(hours=1),
    }
    fields.update(changes)
    return SandboxLease(**fields)  # type: ignore[arg-type]


async def test_sandbox_lease_round_trip_and_replace(live: LiveState) -> None:
    thread = uid()
    assert await live.leases.get(thread) is None
    first = lease(thread)
    await live.leases.put(first)
    assert await live.leases.get(thread) == first
    never_expires = lease(thread, "sb-2", expires_at=None)
    await live.leases.put(never_expires)
    assert await live.leases.get(thread) == never_expires
    assert thread in {found.thread_id for found in await live.leases.all()}


async def test_sandbox_lease_touch_and_delete_only_for_the_same_sandbox(live: LiveState) -> None:
    thread = uid()
    original = lease(thread)
    await live.leases.put(original)
    later = original.last_used_at + timedelta(minutes=5)
    expiry = original.created_at + timedelta(hours=3)
    assert not await live.leases.touch(thread, "other", used_at=later, expires_at=expiry)
    assert await live.leases.touch(thread, "sb-1", used_at=later, expires_at=expiry)
    touched = await live.leases.get(thread)
    assert touched is not None
    assert (touched.last_used_at, touched.expires_at) == (later, expiry)
    # last use never moves backwards (two replicas touching out of order)
    assert await live.leases.touch(thread, "sb-1", used_at=original.last_used_at, expires_at=None)
    touched = await live.leases.get(thread)
    assert touched is not None
    assert (touched.last_used_at, touched.expires_at) == (later, None)

    assert not await live.leases.delete(thread, "other")
    assert await live.leases.get(thread) is not None
    assert await live.leases.delete(thread, "sb-1")
    assert await live.leases.get(thread) is None
    assert thread not in {found.thread_id for found in await live.leases.all()}
    assert not await live.leases.touch(thread, "sb-1", used_at=later, expires_at=None)

    await live.leases.put(lease(thread))
    assert await live.leases.delete(thread)
    assert not await live.leases.delete(thread)


async def test_mutex_is_separate_from_run_locks(live: LiveState) -> None:
    name = uid()
    assert await live.mutex.acquire(name, "a", 5)
    assert not await live.mutex.acquire(name, "b", 5)
    assert await live.locks.acquire(name, "b", 5)  # same name, other namespace
    assert await live.mutex.holder(name) == "a"
    assert await live.mutex.release(name, "a")
    assert await live.mutex.acquire(name, "b", 5)


async def test_run_queue_is_fifo_bounded_and_front_pushes_go_first(live: LiveState) -> None:
    thread, other = uid(), uid()
    runs = [uid() for _ in range(3)]
    for run in runs:
        assert await live.queues.push(thread, run, ttl=10, limit=3)
    assert not await live.queues.push(thread, uid(), ttl=10, limit=3)  # full
    assert await live.queues.entries(thread) == runs
    assert await live.queues.entries(other) == []
    urgent = uid()
    assert await live.queues.push(thread, urgent, ttl=10, limit=None, front=True)
    assert await live.queues.entries(thread) == [urgent, *runs]
    assert await live.queues.remove(thread, urgent)
    assert not await live.queues.remove(thread, urgent)
    assert await live.queues.remove(thread, runs[1])
    assert await live.queues.entries(thread) == [runs[0], runs[2]]
    for run in (runs[0], runs[2]):
        assert await live.queues.remove(thread, run)
    assert await live.queues.entries(thread) == []
    assert not await live.queues.renew(thread, runs[0], 10)


async def test_run_queue_entries_expire_unless_renewed(live: LiveState) -> None:
    thread = uid()
    dead, alive = uid(), uid()
    assert await live.queues.push(thread, dead, ttl=0.3, limit=2)
    assert await live.queues.push(thread, alive, ttl=0.3, limit=2)
    for _ in range(3):
        await asyncio.sleep(0.15)
        assert await live.queues.renew(thread, alive, 0.3)
    # the entry whose waiter stopped renewing (its replica died) is gone, and frees a slot
    assert await live.queues.entries(thread) == [alive]
    assert not await live.queues.renew(thread, dead, 0.3)
    assert await live.queues.push(thread, dead, ttl=0.3, limit=2)
    await asyncio.sleep(0.5)
    assert await live.queues.entries(thread) == []
