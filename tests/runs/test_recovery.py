"""Crash recovery by live replicas: runs left by a dead replica are closed by a sweep."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, cast

from tests.conftest import SettingsFactory
from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.helpers import Api, make_settings, running_warren
from warren.runs.manager import RunManager
from warren.storage.factory import Storage, open_storage
from warren.storage.live import LoggedEvent
from warren.storage.mongo_records import connect_mongo, mongo_records
from warren.storage.records import Run, RunStatus, Thread, ThreadStatus, utcnow
from warren.storage.redis_live import connect_redis, redis_live_state

MAIN = "You are Warren, a capable assistant"


def manager(storage: Storage, settings: Any) -> RunManager:
    """A RunManager as a replica's sweep uses it (the sweep never touches the agents)."""
    return RunManager(cast(Any, None), storage, settings)


async def left_behind(storage: Storage, thread_id: str, user_id: str, status: RunStatus) -> Run:
    """A run as a replica that died mid-run leaves it: unfinished, its lock lease gone."""
    run = Run(
        id=str(uuid.uuid4()),
        thread_id=thread_id,
        user_id=user_id,
        status=status,
        model="gpt-test",
        created_at=utcnow(),
        started_at=utcnow() if status is RunStatus.RUNNING else None,
    )
    await storage.records.runs.create(run)
    await storage.live.events.append(run.id, "run_started", {"type": "run_started"})
    await storage.live.events.append(run.id, "message", {"type": "message", "content": "hal"})
    return run


async def new_thread(storage: Storage) -> Thread:
    now = utcnow()
    thread = Thread(
        id=str(uuid.uuid4()),
        user_id=str(uuid.uuid4()),
        title="",
        metadata={},
        status=ThreadStatus.BUSY,
        created_at=now,
        updated_at=now,
    )
    await storage.records.threads.create(thread)
    return thread


async def collect(storage: Storage, run_id: str) -> list[LoggedEvent]:
    return [event async for event in storage.live.events.follow(run_id)]


async def test_concurrent_sweeps_close_a_dead_replicas_run_once(
    settings_for: SettingsFactory,
) -> None:
    settings = settings_for(run_event_retention_hours=1 / 3600)
    async with open_storage(settings) as storage:
        thread = await new_thread(storage)
        dead = await left_behind(storage, thread.id, thread.user_id, RunStatus.RUNNING)
        follower = asyncio.create_task(collect(storage, dead.id))
        # runs that are alive elsewhere are left alone: one holds its lock, one waits queued
        held_thread, queued_thread = await new_thread(storage), await new_thread(storage)
        held = await left_behind(storage, held_thread.id, held_thread.user_id, RunStatus.RUNNING)
        queued = await left_behind(
            storage, queued_thread.id, queued_thread.user_id, RunStatus.PENDING
        )
        assert await storage.live.locks.acquire(held_thread.id, held.id, 30)
        assert await storage.live.queues.push(queued_thread.id, queued.id, ttl=30, limit=10)

        one, two = manager(storage, settings), manager(storage, settings)
        counts = await asyncio.gather(one.sweep(), two.sweep(), one.sweep())
        assert sum(counts) == 1

        events = await asyncio.wait_for(follower, 10)
        assert [e.type for e in events] == ["run_started", "message", "error", "done"]
        assert events[-2].data["code"] == "run_lost"
        assert events[-1].data["status"] == "interrupted"
        assert [e.type for e in await storage.live.events.read(dead.id)].count("done") == 1
        record = await storage.records.runs.get(thread.id, dead.id)
        assert record is not None
        assert (record.status, record.error_code) == (RunStatus.INTERRUPTED, "run_lost")
        closed = await storage.records.threads.get(thread.user_id, thread.id)
        assert closed is not None
        assert closed.status is ThreadStatus.ERROR  # the client sees something went wrong
        for alive, where in ((held, held_thread), (queued, queued_thread)):
            still = await storage.records.runs.get(where.id, alive.id)
            assert still is not None
            assert not still.status.finished

        # the swept run's log is trimmed after the retention window like any other
        await asyncio.sleep(1.5)
        assert await storage.live.events.read(dead.id) == []


async def test_a_queued_run_whose_replica_died_is_swept_once_its_entry_expires(
    settings_for: SettingsFactory,
) -> None:
    settings = settings_for()
    async with open_storage(settings) as storage:
        thread = await new_thread(storage)
        queued = await left_behind(storage, thread.id, thread.user_id, RunStatus.PENDING)
        assert await storage.live.queues.push(thread.id, queued.id, ttl=0.3, limit=10)
        sweeper = manager(storage, settings)
        assert await sweeper.sweep() == 0  # its waiter may still be alive
        await asyncio.sleep(0.5)  # ... until its entry's lease runs out unrenewed
        assert await sweeper.sweep() == 1
        record = await storage.records.runs.get(thread.id, queued.id)
        assert record is not None
        assert record.status is RunStatus.INTERRUPTED
        assert await storage.live.queues.entries(thread.id) == []


async def test_a_live_replica_closes_a_dead_replicas_run_and_its_followers_finish(
    tmp_path: Path, llm: ScriptedLLM, redis_url: str, mongo_uri: str, mongo_db_name: str
) -> None:
    llm.script([(MAIN, [Reply(text="back in business")])])
    settings = make_settings(
        tmp_path / "data",
        backend="production",
        redis_url=redis_url,
        mongo_uri=mongo_uri,
        mongo_db_name=mongo_db_name,
        model_api_key="sk-test",
        model_base_url=llm.base_url,
        run_lock_ttl_seconds=3,  # the live replica sweeps every 3 s
    )
    mongo = connect_mongo(mongo_uri)
    redis = connect_redis(redis_url)
    # the dead replica's view of the shared stores
    records = mongo_records(mongo[mongo_db_name])
    live = redis_live_state(redis)
    async with running_warren(settings) as url:
        api = Api(url)
        user = await api.register()
        thread = await api.new_thread()
        run = Run(
            id=str(uuid.uuid4()),
            thread_id=thread["id"],
            user_id=user["user"]["id"],
            status=RunStatus.RUNNING,
            model="gpt-test",
            created_at=utcnow(),
            started_at=utcnow(),
        )
        await records.runs.create(run)
        await records.threads.set_status(thread["id"], ThreadStatus.BUSY, utcnow())
        await live.events.append(run.id, "run_started", {"type": "run_started"})
        stream_url = f"/api/threads/{thread['id']}/runs/{run.id}/stream"
        stream = await asyncio.wait_for(api.stream("GET", stream_url), 15)
        assert stream.types == ["run_started", "error", "done"]
        assert stream.frames[-1].data["status"] == "interrupted"
        record = (await api.request("GET", f"/api/threads/{thread['id']}/runs/{run.id}")).json()
        assert (record["status"], record["error"]["code"]) == ("interrupted", "run_lost")
        again = await api.request(
            "POST",
            f"/api/threads/{thread['id']}/runs",
            json={"messages": [{"role": "user", "content": "still there?"}]},
        )
        assert again.json()["status"] == "success"  # the thread can be continued
        await api.aclose()
    await redis.aclose()
    await mongo.close()
