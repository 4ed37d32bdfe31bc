"""The optional OpenSandbox warm pool: a few ready sandboxes, claimed by patching metadata.

Pool sandboxes carry the deployment's `owner`, `POOLED_KEY` (so they are listed without
the threads' sandboxes) and `POOL_KEY`: `warming.<epoch seconds>` while they are being
created, `free` once ready. The pool lives on the server, shared by
every replica, so a restart adopts it. A claim lists the free ones and patches the first to
the thread's metadata (dropping `POOL_KEY`) while holding the pool lock (`LiveState.mutex`
across replicas, an asyncio lock within this one): no sandbox goes to two callers. Every
locked section is cut off at a third of the lock's lifetime, so it can never run on after
the lock has lapsed and another replica has taken it. One
background task per replica tops the pool up after each claim, trims it when replicas
overfilled it, and kills warming ones whose creator died. Shutdown leaves the pool alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from warren.logs import get_logger
from warren.sandbox.protocol import META_OWNER, SandboxGone, SandboxInfo

if TYPE_CHECKING:
    from warren.sandbox.opensandbox import OpenSandboxProvider
    from warren.storage.live import RunLocks

log = get_logger(__name__)

POOL_KEY = "warren-pool"
POOLED_KEY = "warren-pooled"
POOLED = "yes"
FREE = "free"
WARMING = "warming."
LOCK_NAME = "sandbox-pool"
LOCK_TTL = 90.0
SECTION_SECONDS = LOCK_TTL / 3  # the longest a locked section may run
LOCK_WAIT = 2.0  # a claim waits this long for the lock, then creates a fresh sandbox


class WarmPool:
    def __init__(self, provider: OpenSandboxProvider, size: int, *, lock: RunLocks | None) -> None:
        self.provider = provider
        self.size = size
        self._locks = lock
        self._local = asyncio.Lock()
        self._me = uuid.uuid4().hex
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # a warming sandbox older than this was abandoned by a replica that died
        self._stale_after = 2 * provider.ready_timeout.total_seconds() + 60

    def start(self, *, nudge: bool = True) -> None:
        """Start the background top-up (and, with `nudge`, have it look at the pool now);
        needs a running event loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._fill_loop(), name="sandbox-warm-pool")
            nudge = True
        if nudge:
            self._wake.set()

    async def claim(self, metadata: Mapping[str, str]) -> SandboxInfo | None:
        """A free pool sandbox, now stamped with `metadata`; None when there is none."""
        self.start()
        try:
            claimed = await self._claim(metadata)
        except Exception as exc:  # the pool is an optimisation: never fail a create for it
            log.warning("could not claim a warm sandbox", error=str(exc))
            return None
        if claimed is None:
            return None
        until = datetime.now(UTC) + self.provider.ttl
        try:
            expires = await self.provider.renew(claimed.id, until)
        except SandboxGone:
            return None
        return SandboxInfo(id=claimed.id, metadata=claimed.metadata, expires_at=expires)

    async def _claim(self, metadata: Mapping[str, str]) -> SandboxInfo | None:
        async with self._locked() as held:
            if not held:
                return None
            async with asyncio.timeout(SECTION_SECONDS):
                wanted = {META_OWNER: self.provider.owner, POOLED_KEY: POOLED, POOL_KEY: FREE}
                for info in await self.provider.list(wanted):
                    patch = {**metadata, POOL_KEY: None, POOLED_KEY: None}
                    try:
                        return await self.provider.patch_metadata(info.id, patch)
                    except SandboxGone:
                        continue
        return None

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[bool]:
        try:
            async with asyncio.timeout(LOCK_WAIT):
                await self._local.acquire()
        except TimeoutError:
            yield False
            return
        try:
            if self._locks is None:
                yield True
                return
            token = f"{self._me}:{uuid.uuid4().hex}"
            give_up = time.monotonic() + LOCK_WAIT
            while not await self._locks.acquire(LOCK_NAME, token, LOCK_TTL):
                if time.monotonic() > give_up:
                    yield False
                    return
                await asyncio.sleep(0.05)
            try:
                yield True
            finally:
                await self._locks.release(LOCK_NAME, token)
        finally:
            self._local.release()

    async def _fill_loop(self) -> None:
        backoff = 1.0
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while await self._top_up():
                    pass
                backoff = 1.0
            except Exception as exc:
                log.warning("could not fill the sandbox warm pool", error=str(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                self._wake.set()

    async def _top_up(self) -> bool:
        """Add one sandbox if the pool is short; False when it is full (or busy)."""
        async with self._locked() as held:
            if not held:
                return False
            async with asyncio.timeout(SECTION_SECONDS):
                free, warming = await self._members()
                for sandbox_id in free[self.size :]:  # replicas filled it concurrently
                    await self.provider.kill(sandbox_id)
                if len(free[: self.size]) + warming >= self.size:
                    return False
        marker = f"{WARMING}{int(time.time())}"
        info = await self.provider.create_sandbox(
            {META_OWNER: self.provider.owner, POOLED_KEY: POOLED, POOL_KEY: marker}
        )
        await self.provider.patch_metadata(info.id, {POOL_KEY: FREE})
        return True

    async def _members(self) -> tuple[list[str], int]:
        """The free pool sandboxes, and how many are still warming (killing abandoned ones)."""
        free: list[str] = []
        warming = 0
        now = time.time()
        for info in await self.provider.list({META_OWNER: self.provider.owner, POOLED_KEY: POOLED}):
            marker = info.metadata.get(POOL_KEY)
            if marker == FREE:
                free.append(info.id)
            elif marker is not None and marker.startswith(WARMING):
                started = _epoch(marker[len(WARMING) :])
                if now - started > self._stale_after:
                    await self.provider.kill(info.id)
                else:
                    warming += 1
        return sorted(free), warming

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _epoch(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0
