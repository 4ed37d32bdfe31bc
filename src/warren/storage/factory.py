"""Builds every storage client from settings, once, and closes them in reverse order.

This is the only module that decides between the deployments: MongoDB or SQLite for
records, checkpoints and memories; Redis or in-process state for what is live.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.mongodb import MongoDBSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.store.base import BaseStore
from langgraph.store.sqlite.aio import AsyncSqliteStore
from pymongo import MongoClient

from warren.config import Settings
from warren.errors import ConfigError
from warren.storage.live import LiveState
from warren.storage.local_live import local_live_state
from warren.storage.mongo_records import connect_mongo, ensure_indexes, mongo_records
from warren.storage.mongo_store import FixedMongoDBStore
from warren.storage.records import Records
from warren.storage.redis_live import connect_redis, redis_live_state
from warren.storage.sqlite import EVENTS_SCHEMA, RECORDS_SCHEMA, Database, connect
from warren.storage.sqlite_records import sqlite_records

Check = Callable[[], Awaitable[object]]

RECORDS_FILE = "warren.sqlite3"
EVENTS_FILE = "events.sqlite3"
LANGGRAPH_FILE = "langgraph.sqlite3"
LOCK_FILE = "warren.lock"
MEMORIES_COLLECTION = "memories"


@dataclass
class Storage:
    """Everything persistent or live that the rest of Warren uses."""

    records: Records
    live: LiveState
    checkpointer: BaseCheckpointSaver[Any]
    store: BaseStore
    checks: dict[str, Check] = field(default_factory=dict)  # readiness pings, by dependency
    maintenance: list[Callable[[], Awaitable[object]]] = field(default_factory=list)


def _lock_data_dir(data_dir: Path) -> int:
    """Hold an exclusive lock on the data dir: in-process live state allows one process."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(
            f"another Warren process is using {data_dir}; without REDIS_URL only one "
            "process may serve a data dir"
        ) from None
    return fd


def _release_lock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@asynccontextmanager
async def open_storage(settings: Settings) -> AsyncIterator[Storage]:
    async with AsyncExitStack() as stack:
        data_dir = settings.warren_data_dir
        if settings.redis_url is None or settings.mongo_uri is None:
            data_dir.mkdir(parents=True, exist_ok=True)  # some state lives in SQLite files
        checks: dict[str, Check] = {}

        if settings.redis_url is None:
            stack.callback(_release_lock, _lock_data_dir(data_dir))

        if settings.mongo_uri is not None:
            records, checkpointer, store = await _open_mongo(settings, stack, checks)
        else:
            db = await Database.open(data_dir / RECORDS_FILE, RECORDS_SCHEMA)
            stack.push_async_callback(db.close)
            checks["sqlite"] = db.ping
            records, checkpointer, store = await _open_sqlite(db, data_dir, stack)

        maintenance: list[Callable[[], Awaitable[object]]] = []
        if settings.redis_url is not None:
            redis = connect_redis(settings.redis_url.get_secret_value())
            stack.push_async_callback(redis.aclose)
            await redis.ping()
            checks["redis"] = redis.ping
            live = redis_live_state(redis)
        else:
            # Events are live state: their own file, fsynced like Redis' everysec.
            events_db = await Database.open(data_dir / EVENTS_FILE, EVENTS_SCHEMA, "NORMAL")
            stack.push_async_callback(events_db.close)
            live, event_log = local_live_state(events_db)
            maintenance.append(event_log.sweep)

        yield Storage(
            records=records,
            live=live,
            checkpointer=checkpointer,
            store=store,
            checks=checks,
            maintenance=maintenance,
        )


async def _open_sqlite(
    db: Database, data_dir: Path, stack: AsyncExitStack
) -> tuple[Records, BaseCheckpointSaver[Any], BaseStore]:
    saver_conn = await connect(data_dir / LANGGRAPH_FILE)
    stack.push_async_callback(saver_conn.close)
    store_conn = await connect(data_dir / LANGGRAPH_FILE)
    stack.push_async_callback(store_conn.close)
    saver_conn.row_factory = None
    store_conn.row_factory = None
    checkpointer = AsyncSqliteSaver(saver_conn)
    await checkpointer.setup()
    store = AsyncSqliteStore(store_conn)
    await store.setup()
    return sqlite_records(db), checkpointer, store


async def _open_mongo(
    settings: Settings, stack: AsyncExitStack, checks: dict[str, Check]
) -> tuple[Records, BaseCheckpointSaver[Any], BaseStore]:
    assert settings.mongo_uri is not None
    uri = settings.mongo_uri.get_secret_value()
    client = connect_mongo(uri)
    stack.push_async_callback(client.close)
    db = client[settings.mongo_db_name]
    await client.admin.command("ping")
    await ensure_indexes(db)
    checks["mongo"] = lambda: client.admin.command("ping")

    # The LangGraph classes take a sync client and run their I/O in threads.
    sync_client: MongoClient[dict[str, Any]] = MongoClient(
        uri,
        w="majority",
        journal=True,
        tz_aware=True,
        serverSelectionTimeoutMS=10_000,
        appname="warren-langgraph",
    )
    stack.callback(sync_client.close)

    def build() -> tuple[MongoDBSaver, FixedMongoDBStore]:
        saver = MongoDBSaver(sync_client, db_name=settings.mongo_db_name)
        store = FixedMongoDBStore(sync_client[settings.mongo_db_name][MEMORIES_COLLECTION])
        return saver, store

    checkpointer, store = await asyncio.to_thread(build)
    return mongo_records(db), checkpointer, store
