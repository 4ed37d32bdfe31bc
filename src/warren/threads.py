"""The thread service: owner-scoped thread CRUD, state, run records and deletion."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warren.agent import hitl
from warren.agent.builder import Agents
from warren.agent.state import Conversation, conversation
from warren.errors import BadRequest, Conflict, NotFound
from warren.logs import get_logger
from warren.runs.manager import RunManager
from warren.sandbox.manager import SandboxManager
from warren.storage.factory import Storage
from warren.storage.records import (
    Run,
    Thread,
    ThreadPatch,
    ThreadQuery,
    ThreadStatus,
    User,
    utcnow,
)

log = get_logger(__name__)

AUTO_TITLE_LENGTH = 80
DELETE_WAIT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ThreadListing:
    threads: list[Thread]
    total: int
    next_cursor: str | None


def encode_cursor(thread: Thread) -> str:
    raw = json.dumps([thread.updated_at.isoformat(), thread.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, thread_id = json.loads(raw)
        return datetime.fromisoformat(stamp), str(thread_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise BadRequest(
            "the cursor is not one this server issued", code="invalid_cursor"
        ) from None


def auto_title(text: str) -> str:
    line = " ".join(text.split())
    if len(line) <= AUTO_TITLE_LENGTH:
        return line
    return line[: AUTO_TITLE_LENGTH - 1].rstrip() + "…"


class ThreadService:
    def __init__(
        self, storage: Storage, agents: Agents, runs: RunManager, sandboxes: SandboxManager
    ) -> None:
        self.storage = storage
        self.records = storage.records
        self.agents = agents
        self.runs = runs
        self.sandboxes = sandboxes

    async def create(self, user: User, title: str | None, metadata: dict[str, Any]) -> Thread:
        self.agents.hitl.validate(metadata)
        now = utcnow()
        thread = Thread(
            id=str(uuid.uuid4()),
            user_id=user.id,
            title=title or "",
            metadata=metadata,
            status=ThreadStatus.IDLE,
            created_at=now,
            updated_at=now,
        )
        await self.records.threads.create(thread)
        return thread

    async def get(self, user: User, thread_id: str) -> Thread:
        thread = await self.records.threads.get(user.id, thread_id)
        if thread is None:
            raise NotFound("no such thread", code="thread_not_found")
        return thread

    async def listing(
        self,
        user: User,
        *,
        limit: int,
        cursor: str | None,
        q: str | None,
        status: ThreadStatus | None,
    ) -> ThreadListing:
        query = ThreadQuery(
            user_id=user.id,
            limit=limit,
            before=decode_cursor(cursor) if cursor else None,
            q=q or None,
            status=status,
        )
        page = await self.records.threads.list(query)
        more = len(page.threads) == limit
        next_cursor = encode_cursor(page.threads[-1]) if more and page.threads else None
        return ThreadListing(threads=page.threads, total=page.total, next_cursor=next_cursor)

    async def update(
        self, user: User, thread_id: str, title: str | None, metadata: dict[str, Any] | None
    ) -> Thread:
        self.agents.hitl.validate(metadata)
        thread = await self.records.threads.update(
            user.id, thread_id, ThreadPatch(title=title, metadata=metadata), utcnow()
        )
        if thread is None:
            raise NotFound("no such thread", code="thread_not_found")
        return thread

    async def name_from_message(self, thread: Thread, text: str) -> None:
        """Give an untitled thread a title from its first message."""
        if not thread.title and text.strip():
            await self.records.threads.update(
                thread.user_id, thread.id, ThreadPatch(title=auto_title(text)), utcnow()
            )

    async def conversation(self, thread: Thread) -> Conversation:
        snapshot = await self.agents.reader.aget_state({"configurable": {"thread_id": thread.id}})
        return conversation(snapshot)

    async def check_resume(self, thread: Thread, decisions: list[dict[str, Any]]) -> None:
        """409 if nothing on the thread waits for a decision; 422 unless the decisions answer
        the pending action requests (checked again when the run starts)."""
        snapshot = await self.agents.reader.aget_state({"configurable": {"thread_id": thread.id}})
        hitl.plan_resume(hitl.pending(snapshot), decisions)

    async def get_run(self, thread: Thread, run_id: str) -> Run:
        run = await self.records.runs.get(thread.id, run_id)
        if run is None:
            raise NotFound("no such run", code="run_not_found")
        return run

    async def list_runs(self, thread: Thread, limit: int) -> list[Run]:
        return await self.records.runs.list_for_thread(thread.id, limit)

    async def delete(self, user: User, thread_id: str) -> None:
        """Cancel the thread's run, then delete its sandbox, checkpoints, events, runs and
        record."""
        thread = await self.get(user, thread_id)
        owner = f"delete:{uuid.uuid4()}"
        locks = self.storage.live.locks
        while not await locks.acquire(thread.id, owner, DELETE_WAIT_SECONDS * 2):
            holder = await locks.holder(thread.id)
            if holder and not holder.startswith("delete:"):
                run = await self.records.runs.get(thread.id, holder)
                if run is not None:
                    await self.runs.cancel(run)
            if not await self.runs.wait_idle(thread.id, DELETE_WAIT_SECONDS):
                raise Conflict(
                    "the thread's run did not stop in time; try again", code="thread_busy"
                )
        try:
            await self.sandboxes.destroy(thread.id)
            await self.storage.checkpointer.adelete_thread(thread.id)
            for run_id in await self.records.runs.delete_for_thread(thread.id):
                await self.storage.live.events.delete(run_id)
            await self.records.threads.delete(user.id, thread.id)
        finally:
            await locks.release(thread.id, owner)
        log.info("thread deleted", thread_id=thread.id)
