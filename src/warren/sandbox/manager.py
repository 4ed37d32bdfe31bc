"""`SandboxManager`: which sandbox serves a thread, and its whole lifecycle.

A thread gets a sandbox on first use only. Creation happens under a per-thread mutex
(Redis `SET NX PX` in production) so two replicas never create two; the lease records the
choice and the sandbox's metadata names its thread, so either can rebuild the other. A
sandbox found gone is recreated (the run is told, and setup hooks such as skill restore run
again). One leader at a time renews leases and reaps idle sandboxes. Shutdown never kills
a sandbox: a restarted server reconnects through the leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from warren.config import Settings
from warren.logs import get_logger
from warren.sandbox.pip import ensure_pip
from warren.sandbox.protocol import (
    META_OWNER,
    META_THREAD,
    META_USER,
    ExecResult,
    SandboxGone,
    SandboxProvider,
    SandboxUnavailable,
)
from warren.sandbox.upkeep import CREATE_LOCK_SECONDS, Upkeep
from warren.storage.live import LiveState, SandboxLease

log = get_logger(__name__)

Notify = Callable[[str, str], None]  # (status, detail) -> a `sandbox` event for the run
# (user_id, thread_id, sandbox_id). Runs while the thread's creation lock is held: a hook
# works on the sandbox through `manager.provider`, never through the manager itself.
SetupHook = Callable[[str, str, str], Awaitable[None]]
ThreadExists = Callable[[str, str], Awaitable[bool]]  # (user_id, thread_id)

LOST_MID_COMMAND = (
    "[the sandbox was lost while this command ran, so its outcome is unknown; a new sandbox "
    "was created and files from before are gone. Run the command again if it is safe to.]"
)
CACHE_LIMIT = 10_000  # threads remembered per process; beyond, the caches start over
TOUCH_EVERY_SECONDS = 60.0


def _quiet(status: str, detail: str) -> None:
    return None


def _now() -> datetime:
    return datetime.now(UTC)


class SandboxManager:
    def __init__(
        self,
        provider: SandboxProvider,
        live: LiveState,
        settings: Settings,
        *,
        thread_exists: ThreadExists,
        maintain_every: float | None = None,
    ) -> None:
        self.provider = provider
        self.leases = live.leases
        self.mutex = live.mutex
        self.owner = settings.sandbox_owner
        self.ttl = timedelta(hours=settings.sandbox_timeout_hours)
        self.idle = timedelta(hours=settings.sandbox_idle_reap_hours) or None
        self.command_timeout = settings.sandbox_command_timeout_seconds
        self.thread_exists = thread_exists
        self.setup_hooks: list[SetupHook] = []  # run on every new or recreated sandbox
        self.on_created: list[Callable[[float], None]] = []  # seconds a creation took (metrics)
        self.maintain_every = maintain_every or min(self.ttl.total_seconds() / 4, 600.0)
        self.instance_id = f"{uuid.uuid4()}"
        self._known: dict[str, str] = {}  # thread -> sandbox verified by this process
        self._touched: dict[str, float] = {}
        self._local: dict[str, asyncio.Lock] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.upkeep = Upkeep(self)

    # -- which sandbox ---------------------------------------------------------------

    async def existing(self, thread_id: str) -> str | None:
        """The thread's sandbox id if it has one; never creates."""
        known = self._known.get(thread_id)
        if known is not None:
            return known
        lease = await self.leases.get(thread_id)
        if lease is None or lease.provider != self.provider.name:
            return None
        return lease.sandbox_id

    def forget(self, thread_id: str, sandbox_id: str) -> None:
        """`sandbox_id` was found gone: stop using it for the thread."""
        if self._known.get(thread_id) == sandbox_id:
            del self._known[thread_id]

    async def sandbox_for(
        self, thread_id: str, user_id: str, notify: Notify = _quiet, *, stale: str | None = None
    ) -> str:
        """The thread's sandbox, created on first use. `stale` names an id just found gone."""
        if stale is not None and self._known.get(thread_id) == stale:
            del self._known[thread_id]
        known = self._known.get(thread_id)
        if known is not None:
            await self._touch(thread_id, known)
            return known
        async with self._local.setdefault(thread_id, asyncio.Lock()):  # one creator here ...
            known = self._known.get(thread_id)
            if known is None:
                try:
                    known = await self._resolve(thread_id, user_id, notify, stale)
                except SandboxUnavailable as exc:
                    log.warning("sandbox unavailable", thread_id=thread_id, error=str(exc))
                    notify("failed", "the sandbox could not be started; try again shortly")
                    raise
                self._prune()
                self._known[thread_id] = known
            return known

    def _prune(self) -> None:
        """Keep the per-thread caches bounded: they only save lease lookups."""
        if len(self._known) >= CACHE_LIMIT:
            self._known.clear()
            self._touched.clear()
        if len(self._local) >= CACHE_LIMIT:
            self._local = {key: lock for key, lock in self._local.items() if lock.locked()}

    async def _resolve(
        self, thread_id: str, user_id: str, notify: Notify, stale: str | None
    ) -> str:
        lease = await self.leases.get(thread_id)
        if lease is not None and lease.provider == self.provider.name:
            if lease.sandbox_id != stale and await self.alive(lease.sandbox_id):
                await self._touch(thread_id, lease.sandbox_id, force=True)
                return lease.sandbox_id
            stale = lease.sandbox_id
        # ... and one across replicas.
        token = f"{self.instance_id}:{uuid.uuid4()}"
        deadline = time.monotonic() + CREATE_LOCK_SECONDS
        while not await self.mutex.acquire(f"sandbox:{thread_id}", token, CREATE_LOCK_SECONDS):
            if time.monotonic() > deadline:
                raise SandboxUnavailable("timed out waiting for another sandbox creation")
            await asyncio.sleep(0.1)
            lease = await self.leases.get(thread_id)
            if lease is not None and lease.sandbox_id != stale:
                return lease.sandbox_id  # another replica created it meanwhile
        heartbeat = asyncio.create_task(self._hold(f"sandbox:{thread_id}", token))
        try:
            lease = await self.leases.get(thread_id)
            if lease is not None and lease.sandbox_id != stale:
                if lease.provider == self.provider.name and await self.alive(lease.sandbox_id):
                    return lease.sandbox_id
                stale = lease.sandbox_id
            adopted = await self._adopt(thread_id, user_id, stale)
            if adopted is not None:
                return adopted
            if not await self.thread_exists(user_id, thread_id):  # deleted meanwhile
                raise SandboxUnavailable("the thread no longer exists")
            return await self._create(thread_id, user_id, notify, recreated=stale is not None)
        finally:
            heartbeat.cancel()
            await self.mutex.release(f"sandbox:{thread_id}", token)

    async def _hold(self, name: str, token: str) -> None:
        """Keep a creation lock alive while a slow creation (an image pull) goes on."""
        while True:
            await asyncio.sleep(CREATE_LOCK_SECONDS / 3)
            if not await self.mutex.renew(name, token, CREATE_LOCK_SECONDS):
                log.warning("a sandbox creation outlived its lock", lock=name)
                return

    async def alive(self, sandbox_id: str) -> bool:
        try:
            await self.provider.connect(sandbox_id)
        except SandboxGone:
            return False
        return True

    async def _adopt(self, thread_id: str, user_id: str, stale: str | None) -> str | None:
        """A sandbox stamped with this thread whose lease was lost (e.g. Redis flushed)."""
        found = await self.provider.list({META_OWNER: self.owner, META_THREAD: thread_id})
        for info in found:
            if info.id != stale and info.metadata.get(META_USER) == user_id:
                await self.put_lease(thread_id, user_id, info.id, info.expires_at, _now())
                log.info("sandbox adopted", thread_id=thread_id, sandbox_id=info.id)
                return info.id
        return None

    async def _create(
        self, thread_id: str, user_id: str, notify: Notify, *, recreated: bool
    ) -> str:
        notify("provisioning", "creating a new sandbox" if not recreated else "sandbox was lost")
        started = time.perf_counter()
        info = await self.provider.create(
            {META_THREAD: thread_id, META_USER: user_id, META_OWNER: self.owner}
        )
        created = _now()
        await self.put_lease(thread_id, user_id, info.id, info.expires_at, created)
        for hook in self.setup_hooks:
            try:
                await hook(user_id, thread_id, info.id)
            except Exception:
                log.exception("sandbox setup hook failed", thread_id=thread_id)
        self._spawn(self._prepare(info.id))
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        for observe in self.on_created:
            observe(elapsed / 1000)
        log.info(
            "sandbox created",
            thread_id=thread_id,
            sandbox_id=info.id,
            provider=self.provider.name,
            recreated=recreated,
            ms=elapsed,
        )
        notify("recreated" if recreated else "ready", f"sandbox {info.id} ready in {elapsed:g} ms")
        return info.id

    async def _prepare(self, sandbox_id: str) -> None:
        try:
            await ensure_pip(self.provider, sandbox_id)
        except Exception:
            log.warning("could not provide pip in a new sandbox", sandbox_id=sandbox_id)

    async def put_lease(
        self,
        thread_id: str,
        user_id: str,
        sandbox_id: str,
        expires_at: datetime | None,
        created: datetime,
    ) -> SandboxLease:
        lease = SandboxLease(
            thread_id=thread_id,
            user_id=user_id,
            provider=self.provider.name,
            sandbox_id=sandbox_id,
            created_at=created,
            last_used_at=created,
            expires_at=expires_at,
        )
        await self.leases.put(lease)
        self._touched[thread_id] = time.monotonic()
        return lease

    async def _touch(self, thread_id: str, sandbox_id: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._touched.get(thread_id, 0.0) < TOUCH_EVERY_SECONDS:
            return
        self._touched[thread_id] = now
        lease = await self.leases.get(thread_id)
        expires = lease.expires_at if lease is not None else None
        await self.leases.touch(thread_id, sandbox_id, used_at=_now(), expires_at=expires)

    # -- operations, recreating a sandbox found gone -----------------------------------

    async def execute(
        self,
        thread_id: str,
        user_id: str,
        command: str,
        *,
        timeout: float | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        notify: Notify = _quiet,
    ) -> ExecResult:
        limit = min(timeout or self.command_timeout, self.command_timeout)
        sandbox_id = await self.sandbox_for(thread_id, user_id, notify)
        try:
            return await self.provider.execute(sandbox_id, command, timeout=limit, cwd=cwd, env=env)
        except SandboxGone as gone:
            sandbox_id = await self.sandbox_for(thread_id, user_id, notify, stale=sandbox_id)
            if gone.started:  # it may have done part of its work: never run it twice
                return ExecResult(output=LOST_MID_COMMAND, exit_code=None)
            return await self.provider.execute(sandbox_id, command, timeout=limit, cwd=cwd, env=env)

    async def upload(
        self, thread_id: str, user_id: str, path: str, data: bytes, notify: Notify = _quiet
    ) -> None:
        sandbox_id = await self.sandbox_for(thread_id, user_id, notify)
        try:
            await self.provider.upload(sandbox_id, path, data)
        except SandboxGone:
            sandbox_id = await self.sandbox_for(thread_id, user_id, notify, stale=sandbox_id)
            await self.provider.upload(sandbox_id, path, data)

    async def download(self, thread_id: str, path: str) -> AsyncIterator[bytes]:
        """Stream a file from the thread's sandbox; `SandboxGone` when it has none."""
        for _attempt in range(2):  # a sandbox found gone may have a successor in the lease
            sandbox_id = await self.existing(thread_id)
            if sandbox_id is None:
                break
            chunks = self.provider.download(sandbox_id, path)
            try:
                first = await anext(chunks, None)
            except SandboxGone:
                self.forget(thread_id, sandbox_id)
                continue
            if first is not None:
                yield first
                async for chunk in chunks:
                    yield chunk
            return
        raise SandboxGone(f"thread:{thread_id}")

    # -- end of life -------------------------------------------------------------------

    async def destroy(self, thread_id: str) -> None:
        """Kill the thread's sandboxes and drop its lease (the thread is being deleted).

        A provider outage does not block the deletion: the lease goes anyway, and the next
        reconciliation kills the sandbox, whose metadata names a thread that no longer exists.
        """
        token = f"{self.instance_id}:destroy"
        deadline = time.monotonic() + CREATE_LOCK_SECONDS
        while not await self.mutex.acquire(f"sandbox:{thread_id}", token, CREATE_LOCK_SECONDS):
            if time.monotonic() > deadline:
                break  # a stuck creator: its sandbox is found by metadata below anyway
            await asyncio.sleep(0.1)
        try:
            self._known.pop(thread_id, None)
            self._touched.pop(thread_id, None)
            self._local.pop(thread_id, None)
            lease = await self.leases.get(thread_id)
            try:
                if lease is not None and lease.provider == self.provider.name:
                    await self.provider.kill(lease.sandbox_id)
                stamped = {META_OWNER: self.owner, META_THREAD: thread_id}
                for info in await self.provider.list(stamped):
                    await self.provider.kill(info.id)
            except SandboxUnavailable as exc:
                log.warning(
                    "sandbox not killed yet; reconciliation will",
                    thread_id=thread_id,
                    error=str(exc),
                )
            await self.leases.delete(thread_id)
        finally:
            await self.mutex.release(f"sandbox:{thread_id}", token)

    # -- upkeep (see `upkeep.py`) ----------------------------------------------------------

    async def reconcile(self) -> dict[str, int]:
        return await self.upkeep.reconcile()

    async def reconcile_as_leader(self) -> None:
        await self.upkeep.reconcile_as_leader()

    async def maintain(self) -> dict[str, int]:
        return await self.upkeep.maintain()

    async def run_maintenance(self) -> None:
        await self.upkeep.run_maintenance()

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        """Stop background work. Sandboxes are left running: a restart reconnects."""
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.provider.aclose()
