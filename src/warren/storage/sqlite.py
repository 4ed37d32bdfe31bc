"""The embedded SQLite database: one WAL connection with full fsync, and its schema."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import aiosqlite

RECORDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    last_used_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_user ON api_keys (user_id, created_at);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    id TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_expiry ON refresh_tokens (expires_at);
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    title TEXT NOT NULL,
    metadata TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS threads_user_activity ON threads (user_id, updated_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    model TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_detail TEXT
);
CREATE INDEX IF NOT EXISTS runs_thread ON runs (thread_id, created_at DESC);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE TABLE IF NOT EXISTS skills (
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    source_url TEXT NOT NULL,
    size INTEGER NOT NULL,
    installed_at TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
);
CREATE INDEX IF NOT EXISTS skills_sha256 ON skills (sha256);
CREATE TABLE IF NOT EXISTS skill_blobs (
    sha256 TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
"""

EVENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_event_expiry (
    run_id TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS run_event_expiry_at ON run_event_expiry (expires_at);
CREATE TABLE IF NOT EXISTS sandbox_leases (
    thread_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    sandbox_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT NOT NULL,
    expires_at TEXT
);
"""


Synchronous = Literal["FULL", "NORMAL"]


async def connect(path: Path | str, synchronous: Synchronous = "FULL") -> aiosqlite.Connection:
    """Open a connection in autocommit mode with WAL and a busy timeout.

    `FULL` fsyncs every commit: for what must never be lost. `NORMAL` (live state, like
    Redis with `appendfsync everysec`) survives a crash of the process, not of the machine.
    """
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute(f"PRAGMA synchronous={synchronous}")
    await conn.execute("PRAGMA busy_timeout=5000")
    await conn.execute("PRAGMA foreign_keys=ON")
    return conn


class Database:
    """One of Warren's own SQLite files (records, or run events).

    One connection, whose thread runs one statement at a time, in the order they were
    asked for; every statement is its own transaction (autocommit), so no coroutine can
    ever see or roll back another's. Each statement runs and is read in a single trip to
    that thread (no lock held across trips): under load, a lock held for a whole round
    trip through a busy event loop capped the whole file at one statement per loop turn.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    @classmethod
    async def open(
        cls, path: Path | str, schema: str, synchronous: Synchronous = "FULL"
    ) -> Database:
        conn = await connect(path, synchronous)
        await conn.executescript(schema)
        return cls(conn)

    async def close(self) -> None:
        await self.conn.close()

    async def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        """The first row of a query that returns at most a few (it reads them all)."""
        rows = await self.conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one statement (not one returning rows: use `fetchall`); return the number of
        rows it changed. It has run to its end when `execute` returns; closing the cursor
        after is only cleanup."""
        async with self.conn.execute(sql, params) as cursor:
            return cursor.rowcount

    async def ping(self) -> None:
        await self.fetchone("SELECT 1")


def ts(value: datetime | None) -> str | None:
    """A datetime as sortable ISO text (always with microseconds)."""
    return None if value is None else value.isoformat(timespec="microseconds")


def from_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
