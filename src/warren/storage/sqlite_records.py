"""Record repositories on the embedded SQLite database."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

import aiosqlite

from warren.storage.records import (
    ApiKey,
    ConsumeOutcome,
    Records,
    RefreshToken,
    Run,
    RunOutcome,
    RunStatus,
    Skill,
    Thread,
    ThreadPage,
    ThreadPatch,
    ThreadQuery,
    ThreadStatus,
    User,
    UsernameTaken,
    utcnow,
)
from warren.storage.sqlite import Database, dumps, from_ts, ts


def _dt(value: str) -> datetime:
    parsed = from_ts(value)
    assert parsed is not None
    return parsed


class SqliteUsers:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, user: User) -> None:
        try:
            await self.db.execute(
                "INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)",
                (user.id, user.username, user.password_hash, ts(user.created_at)),
            )
        except sqlite3.IntegrityError as exc:
            raise UsernameTaken(user.username) from exc

    async def get(self, user_id: str) -> User | None:
        row = await self.db.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))
        return _user(row) if row else None

    async def get_by_username(self, username: str) -> User | None:
        row = await self.db.fetchone("SELECT * FROM users WHERE username = ?", (username,))
        return _user(row) if row else None


def _user(row: aiosqlite.Row) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        password_hash=row["password_hash"],
        created_at=_dt(row["created_at"]),
    )


class SqliteApiKeys:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, key: ApiKey) -> None:
        await self.db.execute(
            "INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, created_at, expires_at,"
            " last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key.id,
                key.user_id,
                key.name,
                key.prefix,
                key.secret_hash,
                ts(key.created_at),
                ts(key.expires_at),
                ts(key.last_used_at),
            ),
        )

    async def list_for_user(self, user_id: str) -> list[ApiKey]:
        rows = await self.db.fetchall(
            "SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at DESC, id DESC",
            (user_id,),
        )
        return [_api_key(row) for row in rows]

    async def get_by_hash(self, secret_hash: str) -> ApiKey | None:
        row = await self.db.fetchone("SELECT * FROM api_keys WHERE secret_hash = ?", (secret_hash,))
        return _api_key(row) if row else None

    async def touch(self, key_id: str, when: datetime) -> None:
        await self.db.execute(
            "UPDATE api_keys SET last_used_at = ? WHERE id = ?", (ts(when), key_id)
        )

    async def delete(self, user_id: str, key_id: str) -> bool:
        changed = await self.db.execute(
            "DELETE FROM api_keys WHERE id = ? AND user_id = ?", (key_id, user_id)
        )
        return changed > 0


def _api_key(row: aiosqlite.Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        prefix=row["prefix"],
        secret_hash=row["secret_hash"],
        created_at=_dt(row["created_at"]),
        expires_at=from_ts(row["expires_at"]),
        last_used_at=from_ts(row["last_used_at"]),
    )


class SqliteRefreshTokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, token: RefreshToken) -> None:
        await self.db.execute(
            "INSERT INTO refresh_tokens (id, family_id, user_id, expires_at, used_at, revoked)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                token.id,
                token.family_id,
                token.user_id,
                ts(token.expires_at),
                ts(token.used_at),
                int(token.revoked),
            ),
        )
        # Expired tokens are useless; prune them as new ones arrive.
        await self.db.execute("DELETE FROM refresh_tokens WHERE expires_at < ?", (ts(utcnow()),))

    async def consume(
        self, token_id: str, now: datetime
    ) -> tuple[ConsumeOutcome, RefreshToken | None]:
        changed = await self.db.execute(
            "UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL"
            " AND revoked = 0 AND expires_at > ?",
            (ts(now), token_id, ts(now)),
        )
        row = await self.db.fetchone("SELECT * FROM refresh_tokens WHERE id = ?", (token_id,))
        if row is None:
            return ConsumeOutcome.INVALID, None
        token = _refresh(row)
        if changed:
            return ConsumeOutcome.OK, token
        if token.used_at is not None and not token.revoked and token.expires_at > now:
            return ConsumeOutcome.REUSED, token
        return ConsumeOutcome.INVALID, token

    async def revoke_family(self, family_id: str) -> None:
        await self.db.execute(
            "UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ?", (family_id,)
        )


def _refresh(row: aiosqlite.Row) -> RefreshToken:
    return RefreshToken(
        id=row["id"],
        family_id=row["family_id"],
        user_id=row["user_id"],
        expires_at=_dt(row["expires_at"]),
        used_at=from_ts(row["used_at"]),
        revoked=bool(row["revoked"]),
    )


class SqliteThreads:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, thread: Thread) -> None:
        await self.db.execute(
            "INSERT INTO threads (id, user_id, title, metadata, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                thread.id,
                thread.user_id,
                thread.title,
                dumps(thread.metadata),
                thread.status.value,
                ts(thread.created_at),
                ts(thread.updated_at),
            ),
        )

    async def get(self, user_id: str, thread_id: str) -> Thread | None:
        row = await self.db.fetchone(
            "SELECT * FROM threads WHERE id = ? AND user_id = ?", (thread_id, user_id)
        )
        return _thread(row) if row else None

    async def list(self, query: ThreadQuery) -> ThreadPage:
        where = ["user_id = ?"]
        params: list[Any] = [query.user_id]
        if query.q:
            where.append("instr(lower(title), lower(?)) > 0")
            params.append(query.q)
        if query.status is not None:
            where.append("status = ?")
            params.append(query.status.value)
        count_row = await self.db.fetchone(
            f"SELECT count(*) AS n FROM threads WHERE {' AND '.join(where)}",  # noqa: S608
            tuple(params),
        )
        if query.before is not None:
            stamp, last_id = query.before
            where.append("(updated_at < ? OR (updated_at = ? AND id < ?))")
            params.extend([ts(stamp), ts(stamp), last_id])
        rows = await self.db.fetchall(
            f"SELECT * FROM threads WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY updated_at DESC, id DESC LIMIT ?",
            (*params, query.limit),
        )
        total = int(count_row["n"]) if count_row else 0
        return ThreadPage(threads=[_thread(row) for row in rows], total=total)

    async def update(
        self, user_id: str, thread_id: str, patch: ThreadPatch, now: datetime
    ) -> Thread | None:
        sets = ["updated_at = ?"]
        params: list[Any] = [ts(now)]
        if patch.title is not None:
            sets.append("title = ?")
            params.append(patch.title)
        if patch.metadata is not None:
            sets.append("metadata = ?")
            params.append(dumps(patch.metadata))
        changed = await self.db.execute(
            f"UPDATE threads SET {', '.join(sets)} WHERE id = ? AND user_id = ?",  # noqa: S608
            (*params, thread_id, user_id),
        )
        return await self.get(user_id, thread_id) if changed else None

    async def set_status(self, thread_id: str, status: ThreadStatus, now: datetime) -> None:
        await self.db.execute(
            "UPDATE threads SET status = ?, updated_at = ? WHERE id = ?",
            (status.value, ts(now), thread_id),
        )

    async def delete(self, user_id: str, thread_id: str) -> bool:
        changed = await self.db.execute(
            "DELETE FROM threads WHERE id = ? AND user_id = ?", (thread_id, user_id)
        )
        return changed > 0


def _thread(row: aiosqlite.Row) -> Thread:
    return Thread(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        metadata=json.loads(row["metadata"]),
        status=ThreadStatus(row["status"]),
        created_at=_dt(row["created_at"]),
        updated_at=_dt(row["updated_at"]),
    )


class SqliteRuns:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, run: Run) -> None:
        await self.db.execute(
            "INSERT INTO runs (id, thread_id, user_id, status, model, created_at, started_at,"
            " finished_at, input_tokens, output_tokens, error_code, error_detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.id,
                run.thread_id,
                run.user_id,
                run.status.value,
                run.model,
                ts(run.created_at),
                ts(run.started_at),
                ts(run.finished_at),
                run.input_tokens,
                run.output_tokens,
                run.error_code,
                run.error_detail,
            ),
        )

    async def get(self, thread_id: str, run_id: str) -> Run | None:
        row = await self.db.fetchone(
            "SELECT * FROM runs WHERE id = ? AND thread_id = ?", (run_id, thread_id)
        )
        return _run(row) if row else None

    async def list_for_thread(self, thread_id: str, limit: int) -> list[Run]:
        rows = await self.db.fetchall(
            "SELECT * FROM runs WHERE thread_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
            (thread_id, limit),
        )
        return [_run(row) for row in rows]

    async def list_unfinished(self) -> list[Run]:
        rows = await self.db.fetchall(
            "SELECT * FROM runs WHERE status IN (?, ?) ORDER BY created_at",
            (RunStatus.PENDING.value, RunStatus.RUNNING.value),
        )
        return [_run(row) for row in rows]

    async def mark_running(self, run_id: str, when: datetime) -> None:
        await self.db.execute(
            "UPDATE runs SET status = ?, started_at = ? WHERE id = ? AND status = ?",
            (RunStatus.RUNNING.value, ts(when), run_id, RunStatus.PENDING.value),
        )

    async def finish(self, run_id: str, outcome: RunOutcome) -> bool:
        changed = await self.db.execute(
            "UPDATE runs SET status = ?, finished_at = ?, input_tokens = ?, output_tokens = ?,"
            " error_code = ?, error_detail = ? WHERE id = ? AND status IN (?, ?)",
            (
                outcome.status.value,
                ts(outcome.finished_at),
                outcome.input_tokens,
                outcome.output_tokens,
                outcome.error_code,
                outcome.error_detail,
                run_id,
                RunStatus.PENDING.value,
                RunStatus.RUNNING.value,
            ),
        )
        return changed > 0

    async def delete_for_thread(self, thread_id: str) -> list[str]:
        rows = await self.db.fetchall(
            "DELETE FROM runs WHERE thread_id = ? RETURNING id", (thread_id,)
        )
        return [row["id"] for row in rows]


def _run(row: aiosqlite.Row) -> Run:
    return Run(
        id=row["id"],
        thread_id=row["thread_id"],
        user_id=row["user_id"],
        status=RunStatus(row["status"]),
        model=row["model"],
        created_at=_dt(row["created_at"]),
        started_at=from_ts(row["started_at"]),
        finished_at=from_ts(row["finished_at"]),
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        error_code=row["error_code"],
        error_detail=row["error_detail"],
    )


class SqliteSkills:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, skill: Skill, archive: bytes) -> None:
        old = await self.db.fetchone(
            "SELECT sha256 FROM skills WHERE user_id = ? AND name = ?", (skill.user_id, skill.name)
        )
        # the record first: from then on no collection can take the archive away
        await self.db.execute(
            "INSERT INTO skills (user_id, name, description, sha256, source_url, size,"
            " installed_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, name) DO UPDATE"
            " SET description = excluded.description, sha256 = excluded.sha256,"
            " source_url = excluded.source_url, size = excluded.size,"
            " installed_at = excluded.installed_at",
            (
                skill.user_id,
                skill.name,
                skill.description,
                skill.sha256,
                skill.source_url,
                skill.size,
                ts(skill.installed_at),
            ),
        )
        await self.db.execute(
            "INSERT INTO skill_blobs (sha256, data) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING",
            (skill.sha256, archive),
        )
        if old is not None and old["sha256"] != skill.sha256:
            await self._collect(old["sha256"])

    async def _collect(self, sha256: str) -> None:
        """Remove an archive no skill refers to, in one statement (check and delete)."""
        await self.db.execute(
            "DELETE FROM skill_blobs WHERE sha256 = ?"
            " AND NOT EXISTS (SELECT 1 FROM skills WHERE sha256 = ?)",
            (sha256, sha256),
        )

    async def get(self, user_id: str, name: str) -> Skill | None:
        row = await self.db.fetchone(
            "SELECT * FROM skills WHERE user_id = ? AND name = ?", (user_id, name)
        )
        return _skill(row) if row else None

    async def list_for_user(self, user_id: str) -> list[Skill]:
        rows = await self.db.fetchall(
            "SELECT * FROM skills WHERE user_id = ? ORDER BY name", (user_id,)
        )
        return [_skill(row) for row in rows]

    async def archive(self, sha256: str) -> bytes | None:
        row = await self.db.fetchone("SELECT data FROM skill_blobs WHERE sha256 = ?", (sha256,))
        return bytes(row["data"]) if row else None

    async def delete(self, user_id: str, name: str) -> bool:
        rows = await self.db.fetchall(
            "DELETE FROM skills WHERE user_id = ? AND name = ? RETURNING sha256", (user_id, name)
        )
        for row in rows:
            await self._collect(row["sha256"])
        return bool(rows)

    async def delete_for_user(self, user_id: str) -> int:
        rows = await self.db.fetchall(
            "DELETE FROM skills WHERE user_id = ? RETURNING sha256", (user_id,)
        )
        for sha256 in {row["sha256"] for row in rows}:
            await self._collect(sha256)
        return len(rows)


def _skill(row: aiosqlite.Row) -> Skill:
    return Skill(
        user_id=row["user_id"],
        name=row["name"],
        description=row["description"],
        sha256=row["sha256"],
        source_url=row["source_url"],
        size=row["size"],
        installed_at=_dt(row["installed_at"]),
    )


def sqlite_records(db: Database) -> Records:
    return Records(
        users=SqliteUsers(db),
        api_keys=SqliteApiKeys(db),
        refresh_tokens=SqliteRefreshTokens(db),
        threads=SqliteThreads(db),
        runs=SqliteRuns(db),
        skills=SqliteSkills(db),
    )
