"""Backends for the storage contract suites: every interface against every implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from warren.storage.live import LiveState
from warren.storage.local_live import local_live_state
from warren.storage.mongo_records import connect_mongo, ensure_indexes, mongo_records
from warren.storage.records import Records
from warren.storage.redis_live import connect_redis, redis_live_state
from warren.storage.sqlite import EVENTS_SCHEMA, RECORDS_SCHEMA, Database
from warren.storage.sqlite_records import sqlite_records


@pytest.fixture(params=["sqlite", "mongo"])
async def records(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Records]:
    if request.param == "sqlite":
        db = await Database.open(tmp_path / "records.sqlite3", RECORDS_SCHEMA)
        try:
            yield sqlite_records(db)
        finally:
            await db.close()
        return
    client = connect_mongo(request.getfixturevalue("mongo_uri"))
    try:
        database = client[request.getfixturevalue("mongo_db_name")]
        await ensure_indexes(database)
        await ensure_indexes(database)  # idempotent
        yield mongo_records(database)
    finally:
        await client.close()


@pytest.fixture(params=["local", "redis"])
async def live(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LiveState]:
    if request.param == "local":
        db = await Database.open(tmp_path / "live.sqlite3", EVENTS_SCHEMA, "NORMAL")
        try:
            state, _log = local_live_state(db)
            yield state
        finally:
            await db.close()
        return
    redis = connect_redis(request.getfixturevalue("redis_url"))
    try:
        yield redis_live_state(redis)
    finally:
        await redis.aclose()
