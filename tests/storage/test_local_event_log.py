"""The embedded event log's own mechanics: group commit, the in-memory tail of live runs,
and ids that continue from what was committed when the process restarts."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from warren.storage import local_live
from warren.storage.live import LoggedEvent
from warren.storage.local_live import SqliteEventLog
from warren.storage.sqlite import EVENTS_SCHEMA, Database


async def collect(log: SqliteEventLog, run: str, after: str | None = None) -> list[LoggedEvent]:
    return [event async for event in log.follow(run, after)]


async def test_an_event_reaches_followers_only_once_committed(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "live.sqlite3", EVENTS_SCHEMA, "NORMAL")
    other = await Database.open(tmp_path / "live.sqlite3", EVENTS_SCHEMA, "NORMAL")
    try:
        log = SqliteEventLog(db)
        run = str(uuid.uuid4())
        await log.append(run, "run_started", {})
        seen: list[tuple[str, int]] = []

        async def watch() -> None:
            async for event in log.follow(run):
                # what a follower gets is already in the file, as another connection reads it
                rows = await other.fetchall(
                    "SELECT seq FROM run_events WHERE run_id = ? AND seq = ?", (run, int(event.id))
                )
                seen.append((event.id, len(rows)))

        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(log.append(run, "message", {"n": n}) for n in range(40)))
        await log.append(run, "done", {})
        await asyncio.wait_for(watcher, 10)
        assert [event_id for event_id, _ in seen] == [str(n) for n in range(1, 43)]
        assert all(count == 1 for _, count in seen)
    finally:
        await other.close()
        await db.close()


async def test_ids_continue_after_a_restart_and_old_events_come_from_sqlite(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.sqlite3"
    run = str(uuid.uuid4())
    db = await Database.open(path, EVENTS_SCHEMA, "NORMAL")
    first = SqliteEventLog(db)
    before = [await first.append(run, "message", {"n": n}) for n in range(3)]
    await db.close()

    db = await Database.open(path, EVENTS_SCHEMA, "NORMAL")  # a new process: no tail yet
    try:
        log = SqliteEventLog(db)
        follower = asyncio.create_task(collect(log, run))
        joined = asyncio.create_task(collect(log, run, before[0]))
        after = [await log.append(run, "error", {"n": 3}), await log.append(run, "done", {"n": 4})]
        assert before + after == ["1", "2", "3", "4", "5"]
        for got, start in ((await follower, 0), (await joined, 1)):
            assert [e.data["n"] for e in got] == list(range(start, 5))
    finally:
        await db.close()


async def test_a_follower_behind_the_memory_tail_reads_the_rest_from_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_live, "TAIL_EVENTS", 4)
    db = await Database.open(tmp_path / "live.sqlite3", EVENTS_SCHEMA, "NORMAL")
    try:
        log = SqliteEventLog(db)
        run = str(uuid.uuid4())
        ids = [await log.append(run, "message", {"n": n}) for n in range(30)]
        tail = log._tails[run]
        assert tail.base > 0  # memory holds only the latest events
        assert len(tail.events) <= 8
        slow = log.follow(run)
        got = [await anext(slow) for _ in range(2)]
        for n in range(30, 60):
            ids.append(await log.append(run, "message", {"n": n}))
        ids.append(await log.append(run, "done", {"n": 60}))
        got += [event async for event in slow]
        assert [e.id for e in got] == ids
        assert [e.data["n"] for e in got] == list(range(61))
        assert run not in log._tails  # a finished run's followers read SQLite
        assert [e.data["n"] for e in await collect(log, run, ids[57])] == [58, 59, 60]
    finally:
        await db.close()


async def test_events_keep_the_json_text_that_was_stored(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "live.sqlite3", EVENTS_SCHEMA, "NORMAL")
    try:
        log = SqliteEventLog(db)
        run = str(uuid.uuid4())
        data = {"content": 'héllo "world"', "ns": []}
        await log.append(run, "message", data)
        await log.append(run, "done", {})
        for event in [*(await collect(log, run)), *(await log.read(run))]:
            assert event.raw is not None
            assert json.loads(event.raw) == event.data
        assert (await log.read(run))[0].data == data
    finally:
        await db.close()
