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


async def test_concurrent_appends_keep_each_runs_order_and_unique_ids(live: LiveState) -> None:
    """Many runs appending at once (batched into shared commits where the backend does so):
    each run's log holds its events once, in the order each run appended them."""
    runs = [uid() for _ in range(8)]

    async def writer(run: str) -> list[str]:
        ids = []
        for n in range(30):
            ids.append(await live.events.append(run, "message", {"n": n}))
            if n % 7 == 0:
                await asyncio.sleep(0)
        return ids

    issued = await asyncio.gather(*(writer(run) for run in runs))
    for run, ids in zip(runs, issued, strict=True):
        events = await live.events.read(run)
        assert [e.id for e in events] == ids
        assert [e.data["n"] for e in events] == list(range(30))

    # appends to one run raced against each other: every one stored once, ids unique
    run = uid()
    raced = await asyncio.gather(*(live.events.append(run, "message", {"n": n}) for n in range(50)))
    assert len(set(raced)) == 50
    events = await live.events.read(run)
    assert sorted(e.data["n"] for e in events) == list(range(50))
    assert {e.id for e in events} == set(raced)
    by_id = {e.id: e.data["n"] for e in events}
    assert all(by_id[event_id] == n for n, event_id in enumerate(raced))


async def test_followers_joining_mid_run_see_every_event_once(live: LiveState) -> None:
    run = uid()
    ids = [await live.events.append(run, "run_started", {"n": 0})]
    followers: list[asyncio.Task[list[LoggedEvent]]] = []

    async def produce() -> None:
        for n in range(1, 120):
            ids.append(await live.events.append(run, "message", {"n": n}))
            if n % 20 == 0:  # followers join while the run goes on, from the start or an id
                followers.append(asyncio.create_task(collect(live, run)))
                followers.append(asyncio.create_task(collect(live, run, ids[n // 2])))
                await asyncio.sleep(0.01)
        ids.append(await live.events.append(run, "done", {"n": 120}))

    await asyncio.wait_for(produce(), 20)
    results = await asyncio.wait_for(asyncio.gather(*followers), 20)
    for index, got in enumerate(results):
        joined_at = 20 * (index // 2 + 1)
        start = 0 if index % 2 == 0 else joined_at // 2 + 1
        assert [e.data["n"] for e in got] == list(range(start, 121))
        assert [e.id for e in got] == ids[start:]
        assert got[-1].type == "done"


async def test_append_many_keeps_order_and_ids_continue(live: LiveState) -> None:
    run = uid()
    first = await live.events.append(run, "run_started", {"n": 0})
    batch = [("message", {"n": n}) for n in range(1, 6)] + [("tool_call", {"n": 6})]
    ids = await live.events.append_many(run, batch)
    assert await live.events.append_many(run, []) == []
    last = await live.events.append(run, "done", {"n": 7})
    events = await live.events.read(run)
    assert [e.id for e in events] == [first, *ids, last]
    assert [e.data["n"] for e in events] == list(range(8))
    assert [e.type for e in events][1:7] == [t for t, _ in batch]
    assert [e.data["n"] for e in await asyncio.wait_for(collect(live, run, ids[2]), 5)] == [
        4, 5, 6, 7,
    ]  # fmt: skip
