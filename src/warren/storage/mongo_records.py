"""Record repositories on MongoDB, through pymongo's `AsyncMongoClient`."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

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
)

Doc = dict[str, Any]

INDEXES: dict[str, list[IndexModel]] = {
    "users": [IndexModel([("username", ASCENDING)], unique=True, name="username_unique")],
    "api_keys": [
        IndexModel([("secret_hash", ASCENDING)], unique=True, name="secret_hash_unique"),
        IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_created"),
    ],
    "refresh_tokens": [
        IndexModel([("family_id", ASCENDING)], name="family"),
        # expired refresh tokens are useless: MongoDB deletes them
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expiry_ttl"),
    ],
    "threads": [
        IndexModel(
            [("user_id", ASCENDING), ("updated_at", DESCENDING), ("_id", DESCENDING)],
            name="user_activity",
        )
    ],
    "runs": [
        IndexModel([("thread_id", ASCENDING), ("created_at", DESCENDING)], name="thread_created"),
        IndexModel([("status", ASCENDING)], name="status"),
    ],
    "skills": [
        IndexModel([("user_id", ASCENDING), ("name", ASCENDING)], name="user_name"),
        IndexModel([("sha256", ASCENDING)], name="sha256"),
    ],
}


def connect_mongo(uri: str) -> AsyncMongoClient[Doc]:
    """The async client for records: majority writes with journal, aware UTC datetimes."""
    return AsyncMongoClient(
        uri,
        w="majority",
        journal=True,
        tz_aware=True,
        serverSelectionTimeoutMS=10_000,
        appname="warren",
    )


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    """Create every index Warren needs; a no-op when they already exist."""
    for collection, models in INDEXES.items():
        await db[collection].create_indexes(models)


class MongoUsers:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.col: AsyncCollection[Doc] = db["users"]

    async def create(self, user: User) -> None:
        try:
            await self.col.insert_one(
                {
                    "_id": user.id,
                    "username": user.username,
                    "password_hash": user.password_hash,
                    "created_at": user.created_at,
                }
            )
        except DuplicateKeyError as exc:
            raise UsernameTaken(user.username) from exc

    async def get(self, user_id: str) -> User | None:
        doc = await self.col.find_one({"_id": user_id})
        return _user(doc) if doc else None

    async def get_by_username(self, username: str) -> User | None:
        doc = await self.col.find_one({"username": username})
        return _user(doc) if doc else None


def _user(doc: Doc) -> User:
    return User(
        id=doc["_id"],
        username=doc["username"],
        password_hash=doc["password_hash"],
        created_at=doc["created_at"],
    )


class MongoApiKeys:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.col: AsyncCollection[Doc] = db["api_keys"]

    async def create(self, key: ApiKey) -> None:
        await self.col.insert_one(
            {
                "_id": key.id,
                "user_id": key.user_id,
                "name": key.name,
                "prefix": key.prefix,
                "secret_hash": key.secret_hash,
                "created_at": key.created_at,
                "expires_at": key.expires_at,
                "last_used_at": key.last_used_at,
            }
        )

    async def list_for_user(self, user_id: str) -> list[ApiKey]:
        cursor = self.col.find({"user_id": user_id}).sort(
            [("created_at", DESCENDING), ("_id", DESCENDING)]
        )
        return [_api_key(doc) async for doc in cursor]

    async def get_by_hash(self, secret_hash: str) -> ApiKey | None:
        doc = await self.col.find_one({"secret_hash": secret_hash})
        return _api_key(doc) if doc else None

    async def touch(self, key_id: str, when: datetime) -> None:
        await self.col.update_one({"_id": key_id}, {"$set": {"last_used_at": when}})

    async def delete(self, user_id: str, key_id: str) -> bool:
        result = await self.col.delete_one({"_id": key_id, "user_id": user_id})
        return result.deleted_count > 0


def _api_key(doc: Doc) -> ApiKey:
    return ApiKey(
        id=doc["_id"],
        user_id=doc["user_id"],
        name=doc["name"],
        prefix=doc["prefix"],
        secret_hash=doc["secret_hash"],
        created_at=doc["created_at"],
        expires_at=doc.get("expires_at"),
        last_used_at=doc.get("last_used_at"),
    )


class MongoRefreshTokens:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.col: AsyncCollection[Doc] = db["refresh_tokens"]

    async def create(self, token: RefreshToken) -> None:
        await self.col.insert_one(
            {
                "_id": token.id,
                "family_id": token.family_id,
                "user_id": token.user_id,
                "expires_at": token.expires_at,
                "used_at": token.used_at,
                "revoked": token.revoked,
            }
        )

    async def consume(
        self, token_id: str, now: datetime
    ) -> tuple[ConsumeOutcome, RefreshToken | None]:
        doc = await self.col.find_one_and_update(
            {"_id": token_id, "used_at": None, "revoked": False, "expires_at": {"$gt": now}},
            {"$set": {"used_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            return ConsumeOutcome.OK, _refresh(doc)
        doc = await self.col.find_one({"_id": token_id})
        if doc is None:
            return ConsumeOutcome.INVALID, None
        token = _refresh(doc)
        if token.used_at is not None and not token.revoked and token.expires_at > now:
            return ConsumeOutcome.REUSED, token
        return ConsumeOutcome.INVALID, token

    async def revoke_family(self, family_id: str) -> None:
        await self.col.update_many({"family_id": family_id}, {"$set": {"revoked": True}})


def _refresh(doc: Doc) -> RefreshToken:
    return RefreshToken(
        id=doc["_id"],
        family_id=doc["family_id"],
        user_id=doc["user_id"],
        expires_at=doc["expires_at"],
        used_at=doc.get("used_at"),
        revoked=bool(doc.get("revoked")),
    )


class MongoThreads:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.col: AsyncCollection[Doc] = db["threads"]

    async def create(self, thread: Thread) -> None:
        await self.col.insert_one(
            {
                "_id": thread.id,
                "user_id": thread.user_id,
                "title": thread.title,
                "metadata": thread.metadata,
                "status": thread.status.value,
                "created_at": thread.created_at,
                "updated_at": thread.updated_at,
            }
        )

    async def get(self, user_id: str, thread_id: str) -> Thread | None:
        doc = await self.col.find_one({"_id": thread_id, "user_id": user_id})
        return _thread(doc) if doc else None

    async def list(self, query: ThreadQuery) -> ThreadPage:
        match: Doc = {"user_id": query.user_id}
        if query.q:
            match["title"] = {"$regex": re.escape(query.q), "$options": "i"}
        if query.status is not None:
            match["status"] = query.status.value
        total = await self.col.count_documents(match)
        page = dict(match)
        if query.before is not None:
            stamp, last_id = query.before
            page["$or"] = [
                {"updated_at": {"$lt": stamp}},
                {"updated_at": stamp, "_id": {"$lt": last_id}},
            ]
        cursor = (
            self.col.find(page)
            .sort([("updated_at", DESCENDING), ("_id", DESCENDING)])
            .limit(query.limit)
        )
        return ThreadPage(threads=[_thread(doc) async for doc in cursor], total=total)

    async def update(
        self, user_id: str, thread_id: str, patch: ThreadPatch, now: datetime
    ) -> Thread | None:
        changes: Doc = {"updated_at": now}
        if patch.title is not None:
            changes["title"] = patch.title
        if patch.metadata is not None:
            changes["metadata"] = patch.metadata
        doc = await self.col.find_one_and_update(
            {"_id": thread_id, "user_id": user_id},
            {"$set": changes},
            return_document=ReturnDocument.AFTER,
        )
        return _thread(doc) if doc else None

    async def set_status(self, thread_id: str, status: ThreadStatus, now: datetime) -> None:
        await self.col.update_one(
            {"_id": thread_id}, {"$set": {"status": status.value, "updated_at": now}}
        )

    async def delete(self, user_id: str, thread_id: str) -> bool:
        result = await self.col.delete_one({"_id": thread_id, "user_id": user_id})
        return result.deleted_count > 0


def _thread(doc: Doc) -> Thread:
    return Thread(
        id=doc["_id"],
        user_id=doc["user_id"],
        title=doc["title"],
        metadata=doc.get("metadata") or {},
        status=ThreadStatus(doc["status"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


class MongoRuns:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.col: AsyncCollection[Doc] = db["runs"]

    async def create(self, run: Run) -> None:
        await self.col.insert_one(
            {
                "_id": run.id,
                "thread_id": run.thread_id,
                "user_id": run.user_id,
                "status": run.status.value,
                "model": run.model,
                "created_at": run.created_at,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "input_tokens": run.input_tokens,
                "output_tokens": run.output_tokens,
                "error_code": run.error_code,
                "error_detail": run.error_detail,
            }
        )

    async def get(self, thread_id: str, run_id: str) -> Run | None:
        doc = await self.col.find_one({"_id": run_id, "thread_id": thread_id})
        return _run(doc) if doc else None

    async def list_for_thread(self, thread_id: str, limit: int) -> list[Run]:
        cursor = (
            self.col.find({"thread_id": thread_id})
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [_run(doc) async for doc in cursor]

    async def list_unfinished(self) -> list[Run]:
        cursor = self.col.find(
            {"status": {"$in": [RunStatus.PENDING.value, RunStatus.RUNNING.value]}}
        ).sort("created_at", ASCENDING)
        return [_run(doc) async for doc in cursor]

    async def mark_running(self, run_id: str, when: datetime) -> None:
        await self.col.update_one(
            {"_id": run_id, "status": RunStatus.PENDING.value},
            {"$set": {"status": RunStatus.RUNNING.value, "started_at": when}},
        )

    async def finish(self, run_id: str, outcome: RunOutcome) -> bool:
        result = await self.col.update_one(
            {
                "_id": run_id,
                "status": {"$in": [RunStatus.PENDING.value, RunStatus.RUNNING.value]},
            },
            {
                "$set": {
                    "status": outcome.status.value,
                    "finished_at": outcome.finished_at,
                    "input_tokens": outcome.input_tokens,
                    "output_tokens": outcome.output_tokens,
                    "error_code": outcome.error_code,
                    "error_detail": outcome.error_detail,
                }
            },
        )
        return result.modified_count > 0

    async def delete_for_thread(self, thread_id: str) -> list[str]:
        ids = [doc["_id"] async for doc in self.col.find({"thread_id": thread_id}, {"_id": 1})]
        if ids:
            await self.col.delete_many({"_id": {"$in": ids}})
        return ids


def _run(doc: Doc) -> Run:
    return Run(
        id=doc["_id"],
        thread_id=doc["thread_id"],
        user_id=doc["user_id"],
        status=RunStatus(doc["status"]),
        model=doc["model"],
        created_at=doc["created_at"],
        started_at=doc.get("started_at"),
        finished_at=doc.get("finished_at"),
        input_tokens=int(doc.get("input_tokens") or 0),
        output_tokens=int(doc.get("output_tokens") or 0),
        error_code=doc.get("error_code"),
        error_detail=doc.get("error_detail"),
    )


class MongoSkills:
    """Skills in `skills` (`_id` = user id / name); archives in `skill_blobs` (`_id` = sha256).

    Every write of an archive changes its `token`, and a collection deletes the archive only
    if the token it read is still there: an install racing a removal keeps its archive.
    """

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.col: AsyncCollection[Doc] = db["skills"]
        self.blobs: AsyncCollection[Doc] = db["skill_blobs"]

    async def put(self, skill: Skill, archive: bytes) -> None:
        # the record first: from then on no collection can take the archive away
        old = await self.col.find_one_and_replace(
            {"_id": _skill_id(skill.user_id, skill.name)},
            {
                "user_id": skill.user_id,
                "name": skill.name,
                "description": skill.description,
                "sha256": skill.sha256,
                "source_url": skill.source_url,
                "size": skill.size,
                "installed_at": skill.installed_at,
            },
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        await self.blobs.update_one(
            {"_id": skill.sha256},
            {"$setOnInsert": {"data": archive}, "$set": {"token": uuid.uuid4().hex}},
            upsert=True,
        )
        if old is not None and old["sha256"] != skill.sha256:
            await self._collect(old["sha256"])

    async def _collect(self, sha256: str) -> None:
        blob = await self.blobs.find_one({"_id": sha256}, {"token": 1})
        if blob is None or await self.col.count_documents({"sha256": sha256}, limit=1):
            return
        await self.blobs.delete_one({"_id": sha256, "token": blob.get("token")})

    async def get(self, user_id: str, name: str) -> Skill | None:
        doc = await self.col.find_one({"_id": _skill_id(user_id, name)})
        return _skill(doc) if doc else None

    async def list_for_user(self, user_id: str) -> list[Skill]:
        cursor = self.col.find({"user_id": user_id}).sort("name", ASCENDING)
        return [_skill(doc) async for doc in cursor]

    async def archive(self, sha256: str) -> bytes | None:
        doc = await self.blobs.find_one({"_id": sha256})
        return bytes(doc["data"]) if doc else None

    async def delete(self, user_id: str, name: str) -> bool:
        doc = await self.col.find_one_and_delete({"_id": _skill_id(user_id, name)})
        if doc is None:
            return False
        await self._collect(doc["sha256"])
        return True

    async def delete_for_user(self, user_id: str) -> int:
        docs = [doc async for doc in self.col.find({"user_id": user_id}, {"sha256": 1})]
        if docs:
            await self.col.delete_many({"_id": {"$in": [doc["_id"] for doc in docs]}})
        for sha256 in {doc["sha256"] for doc in docs}:
            await self._collect(sha256)
        return len(docs)


def _skill_id(user_id: str, name: str) -> str:
    return f"{user_id}/{name}"


def _skill(doc: Doc) -> Skill:
    return Skill(
        user_id=doc["user_id"],
        name=doc["name"],
        description=doc["description"],
        sha256=doc["sha256"],
        source_url=doc["source_url"],
        size=int(doc["size"]),
        installed_at=doc["installed_at"],
    )


def mongo_records(db: AsyncDatabase[Doc]) -> Records:
    return Records(
        users=MongoUsers(db),
        api_keys=MongoApiKeys(db),
        refresh_tokens=MongoRefreshTokens(db),
        threads=MongoThreads(db),
        runs=MongoRuns(db),
        skills=MongoSkills(db),
    )
