"""The sandbox manager's upkeep: reconciliation, renewal and idle reaping.

Sandboxes and leases drift apart: a lease is lost (Redis flushed), a sandbox outlives its
thread (deleted while the provider was down), a lifetime runs out. `Upkeep` puts them
straight again, one replica at a time (the `sandbox-renewer` mutex). It is
owned by `SandboxManager`, whose state it works on.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from warren.logs import get_logger
from warren.sandbox.protocol import (
    META_OWNER,
    META_THREAD,
    META_USER,
    SandboxGone,
    SandboxUnavailable,
)
from warren.storage.live import SandboxLease

if TYPE_CHECKING:
    from warren.sandbox.manager import SandboxManager

log = get_logger(__name__)

RENEWER = "sandbox-renewer"
CREATE_LOCK_SECONDS = 180.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class Upkeep:
    """Reconcile, renew and reap, on the state of one `SandboxManager`."""

    def __init__(self, manager: SandboxManager) -> None:
        self.m = manager

    async def reconcile(self) -> dict[str, int]:
        """Adopt stamped sandboxes without a lease, kill those of deleted threads (or
        duplicates), and drop leases whose sandbox is gone. Each decision to kill is taken
        on a fresh look under the thread's creation lock, so a sandbox being created or
        recreated right now is never mistaken for an orphan."""
        counts = {"adopted": 0, "killed": 0, "dropped": 0}
        leases = {lease.thread_id: lease for lease in await self.m.leases.all()}
        seen: set[str] = set()
        for info in await self.m.provider.list({META_OWNER: self.m.owner}):
            thread_id, user_id = info.metadata.get(META_THREAD), info.metadata.get(META_USER)
            if not thread_id or not user_id:
                continue  # not a thread's sandbox (e.g. a warm-pool one)
            seen.add(info.id)
            lease = leases.get(thread_id)
            if lease is not None and lease.sandbox_id == info.id:
                if not await self.m.thread_exists(user_id, thread_id):
                    await self._settle(thread_id, user_id, info.id, info.expires_at, counts)
                continue
            await self._settle(thread_id, user_id, info.id, info.expires_at, counts)
        for lease in leases.values():
            if lease.sandbox_id in seen:
                continue
            if lease.provider != self.m.provider.name or not await self.m.alive(lease.sandbox_id):
                await self.m.leases.delete(lease.thread_id, lease.sandbox_id)
                counts["dropped"] += 1
        if any(counts.values()):
            log.info("sandboxes reconciled", **counts)
        return counts

    async def _settle(
        self,
        thread_id: str,
        user_id: str,
        sandbox_id: str,
        expires_at: datetime | None,
        counts: dict[str, int],
    ) -> None:
        """Decide about one stamped sandbox whose lease does not match (or whose thread
        may be gone): adopt it, kill it, or leave it to a creation in progress."""
        token = f"{self.m.instance_id}:reconcile:{uuid.uuid4()}"
        if not await self.m.mutex.acquire(f"sandbox:{thread_id}", token, CREATE_LOCK_SECONDS):
            return  # a creation is under way for this thread: look again next time
        try:
            lease = await self.m.leases.get(thread_id)
            exists = await self.m.thread_exists(user_id, thread_id)
            if exists and lease is not None and lease.sandbox_id == sandbox_id:
                return  # it became the thread's sandbox meanwhile
            if exists and lease is None:
                await self.m.put_lease(thread_id, user_id, sandbox_id, expires_at, utcnow())
                counts["adopted"] += 1
                return
            await self.m.provider.kill(sandbox_id)
            if lease is not None and (not exists or lease.sandbox_id == sandbox_id):
                await self.m.leases.delete(thread_id, lease.sandbox_id)
            self.m.forget(thread_id, sandbox_id)
            counts["killed"] += 1
        finally:
            await self.m.mutex.release(f"sandbox:{thread_id}", token)

    async def maintain(self) -> dict[str, int]:
        """Renew leases that will expire soon and reap idle sandboxes; leader only."""
        counts = {"renewed": 0, "reaped": 0, "dropped": 0}
        token = f"{self.m.instance_id}:maintain"
        if not await self.m.mutex.acquire(RENEWER, token, self.m.maintain_every * 2):
            return counts
        try:
            now = utcnow()
            for lease in await self.m.leases.all():
                if lease.provider != self.m.provider.name:
                    continue
                try:
                    await self._maintain_one(lease, now, counts)
                except SandboxUnavailable as exc:
                    log.warning(
                        "sandbox maintenance failed", thread_id=lease.thread_id, error=str(exc)
                    )
        finally:
            await self.m.mutex.release(RENEWER, token)
        if any(counts.values()):
            log.info("sandboxes maintained", **counts)
        return counts

    async def _maintain_one(
        self, lease: SandboxLease, now: datetime, counts: dict[str, int]
    ) -> None:
        if self.m.idle is not None and now - lease.last_used_at > self.m.idle:
            await self.m.provider.kill(lease.sandbox_id)
            await self.m.leases.delete(lease.thread_id, lease.sandbox_id)
            self.m.forget(lease.thread_id, lease.sandbox_id)
            counts["reaped"] += 1
            return
        if lease.expires_at is None or lease.expires_at - now > self.m.ttl / 2:
            return
        try:
            expires = await self.m.provider.renew(lease.sandbox_id, now + self.m.ttl)
        except SandboxGone:
            await self.m.leases.delete(lease.thread_id, lease.sandbox_id)
            self.m.forget(lease.thread_id, lease.sandbox_id)
            counts["dropped"] += 1
            return
        await self.m.leases.touch(
            lease.thread_id, lease.sandbox_id, used_at=lease.last_used_at, expires_at=expires
        )
        counts["renewed"] += 1

    async def run_maintenance(self) -> None:
        """The background loop: maintain, then sleep with jitter so replicas spread out.
        Reconciliation runs here too (leader only), so the sandbox of a thread deleted while
        the provider was down does not outlive it for long."""
        while True:
            try:
                await self.maintain()
                await self.reconcile_as_leader()
            except Exception:
                log.exception("sandbox maintenance failed")
            await asyncio.sleep(self.m.maintain_every * random.uniform(0.8, 1.2))  # noqa: S311

    async def reconcile_as_leader(self) -> None:
        token = f"{self.m.instance_id}:reconcile"
        if not await self.m.mutex.acquire(RENEWER, token, self.m.maintain_every * 2):
            return
        try:
            await self.reconcile()
        finally:
            await self.m.mutex.release(RENEWER, token)
