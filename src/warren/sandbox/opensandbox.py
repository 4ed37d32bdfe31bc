"""The OpenSandbox provider: per-thread sandboxes on an OpenSandbox server, via its async SDK.

One shared HTTP transport serves every call; idempotent requests (GET, DELETE) are retried
by it on 429/502/503 and connection failures, renew and metadata patches by us. Sandbox
handles (execd endpoints) are cached per id. A sandbox is gone when the lifecycle API says
404 or a terminal state; any other failure is `SandboxUnavailable`. Commands run detached in
execd and are followed by polling (`opensandbox_exec`). Shutdown closes the HTTP clients and
never kills a sandbox.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import httpx
from opensandbox import Sandbox, SandboxManager
from opensandbox.config import ConnectionConfig
from opensandbox.exceptions import SandboxException
from opensandbox.models.filesystem import WriteEntry
from opensandbox.models.sandboxes import SandboxFilter
from opensandbox.models.sandboxes import SandboxInfo as SdkSandboxInfo
from opensandbox.transport import RetryAsyncTransport, RetryPolicy

from warren.errors import ConfigError
from warren.logs import get_logger
from warren.sandbox.opensandbox_exec import follow, start_background
from warren.sandbox.opensandbox_pool import WarmPool
from warren.sandbox.opensandbox_sdk import (
    FILE_ERRORS,
    TRANSIENT,
    aware,
    retrying,
    shell_quote,
    split_url,
    status_of,
    to_info,
    unavailable,
)
from warren.sandbox.protocol import (
    WORKDIR,
    ExecResult,
    SandboxError,
    SandboxFileError,
    SandboxGone,
    SandboxInfo,
    SandboxUnavailable,
    check_env,
    normalize_path,
)

if TYPE_CHECKING:
    from warren.config import Settings
    from warren.storage.live import RunLocks

log = get_logger(__name__)

LIVE_STATES = ["Pending", "Running"]
DEAD_STATES = frozenset({"Stopping", "Terminated", "Failed"})
MIN_TTL = timedelta(seconds=60)  # the lifecycle API's minimum `timeout`
FILE_MODE = 644  # the SDK's decimal-digit convention for 0o644 (its default, 755, is not ours)
_HANDLES = 256  # cached execd handles
_RETRY = RetryPolicy(
    max_retries=3,
    initial_backoff=timedelta(milliseconds=100),
    max_backoff=timedelta(seconds=1),
)


class OpenSandboxProvider:
    name = "opensandbox"

    def __init__(
        self,
        *,
        server_url: str,
        api_key: str | None,
        image: str,
        cpu: str,
        memory: str,
        ttl: timedelta,
        request_timeout: float,
        max_output_bytes: int,
        pool_size: int = 0,
        pool_lock: RunLocks | None = None,
        owner: str = "warren",
        ready_timeout: float = 180.0,
        use_server_proxy: bool = False,
    ) -> None:
        domain, protocol = split_url(server_url)
        self.server_url = f"{protocol}://{domain}"
        self.image = image
        self.resource = {"cpu": cpu, "memory": memory}
        self.ttl = max(ttl, MIN_TTL)
        self.request_timeout = request_timeout
        self.ready_timeout = timedelta(seconds=ready_timeout)
        self.max_output_bytes = max_output_bytes
        self.owner = owner
        self._transport = RetryAsyncTransport(httpx.AsyncHTTPTransport(), _RETRY, owns_inner=True)
        self._config = ConnectionConfig(
            domain=domain,
            protocol=protocol,
            api_key=api_key,
            request_timeout=timedelta(seconds=request_timeout),
            transport=self._transport,
            use_server_proxy=use_server_proxy,
        )
        self._manager: SandboxManager | None = None
        self._handles: OrderedDict[str, Sandbox] = OrderedDict()
        self.pool = WarmPool(self, pool_size, lock=pool_lock) if pool_size > 0 else None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, pool_lock: RunLocks | None = None
    ) -> OpenSandboxProvider:
        if settings.opensandbox_server_url is None:
            raise ConfigError("SANDBOX_PROVIDER=opensandbox needs OPENSANDBOX_SERVER_URL")
        key = settings.opensandbox_api_key
        return cls(
            server_url=settings.opensandbox_server_url,
            api_key=key.get_secret_value() if key is not None else None,
            image=settings.opensandbox_image,
            cpu=settings.opensandbox_cpu,
            memory=settings.opensandbox_memory,
            ttl=timedelta(hours=settings.sandbox_timeout_hours),
            request_timeout=settings.opensandbox_request_timeout_seconds,
            max_output_bytes=settings.sandbox_max_output_bytes,
            pool_size=settings.opensandbox_warm_pool_size,
            pool_lock=pool_lock,
            owner=settings.sandbox_owner,
            use_server_proxy=settings.opensandbox_use_server_proxy,
        )

    # -- lifecycle -----------------------------------------------------------------

    async def _lifecycle(self) -> SandboxManager:
        if self._manager is None:
            self._manager = await SandboxManager.create(self._config)
        return self._manager

    async def create(self, metadata: Mapping[str, str]) -> SandboxInfo:
        if self.pool is not None:
            claimed = await self.pool.claim(metadata)
            if claimed is not None:
                return claimed
        return await self.create_sandbox(metadata)

    async def create_sandbox(self, metadata: Mapping[str, str]) -> SandboxInfo:
        """A brand-new sandbox (never from the pool), ready for commands."""
        try:
            sandbox = await Sandbox.create(
                self.image,
                timeout=self.ttl,
                ready_timeout=self.ready_timeout,
                metadata=dict(metadata),
                resource=dict(self.resource),
                connection_config=self._config,
            )
        except SandboxException as exc:
            raise unavailable("create a sandbox", exc) from exc
        self._remember(sandbox)
        try:
            await sandbox.files.create_directories([WriteEntry(path=WORKDIR, mode=755)])
        except SandboxException as exc:
            log.warning("could not create the workdir", sandbox_id=sandbox.id, error=str(exc))
        return await self.connect(sandbox.id)

    async def connect(self, sandbox_id: str) -> SandboxInfo:
        info = await self._info(sandbox_id)
        if info.status.state in DEAD_STATES:
            self._forget(sandbox_id)
            raise SandboxGone(sandbox_id)
        return to_info(info)

    async def _info(self, sandbox_id: str) -> SdkSandboxInfo:
        manager = await self._lifecycle()
        try:
            return await manager.get_sandbox_info(sandbox_id)
        except SandboxException as exc:
            raise self._lifecycle_error(exc, sandbox_id, "reach the sandbox") from exc

    async def renew(self, sandbox_id: str, until: datetime) -> datetime | None:
        info = await self.connect(sandbox_id)
        current = info.expires_at
        if current is None:
            return None  # created for manual cleanup: it never expires
        # OpenSandbox sets the expiry to exactly what it is sent, earlier or later.
        remaining = until - datetime.now(UTC)
        if until <= current or remaining <= timedelta(0):
            return current
        manager = await self._lifecycle()
        try:
            renewed = await retrying(lambda: manager.renew_sandbox(sandbox_id, remaining))
        except SandboxException as exc:
            raise self._lifecycle_error(exc, sandbox_id, "renew the sandbox") from exc
        return aware(renewed.expires_at)

    async def patch_metadata(self, sandbox_id: str, patch: Mapping[str, str | None]) -> SandboxInfo:
        manager = await self._lifecycle()
        try:
            info = await retrying(lambda: manager.patch_sandbox_metadata(sandbox_id, dict(patch)))
        except SandboxException as exc:
            raise self._lifecycle_error(exc, sandbox_id, "update the sandbox") from exc
        return to_info(info)

    async def kill(self, sandbox_id: str) -> None:
        self._forget(sandbox_id)
        manager = await self._lifecycle()
        try:
            await manager.kill_sandbox(sandbox_id)
        except SandboxException as exc:
            if status_of(exc) == 404:
                return  # already gone
            if status_of(exc) == 409 and not await self._alive(sandbox_id):
                return  # already stopping
            raise unavailable("kill the sandbox", exc) from exc

    async def list(self, metadata: Mapping[str, str]) -> Sequence[SandboxInfo]:
        manager = await self._lifecycle()
        found: list[SandboxInfo] = []
        page = 1
        while True:
            wanted = SandboxFilter(
                states=LIVE_STATES, metadata=dict(metadata) or None, page=page, page_size=100
            )
            try:
                paged = await manager.list_sandbox_infos(wanted)
            except SandboxException as exc:
                raise unavailable("list sandboxes", exc) from exc
            found.extend(to_info(info) for info in paged.sandbox_infos)
            if not paged.pagination.has_next_page or not paged.sandbox_infos:
                return found
            page += 1

    async def check(self) -> None:
        manager = await self._lifecycle()
        try:
            await manager.list_sandbox_infos(SandboxFilter(page=1, page_size=1))
        except SandboxException as exc:
            if status_of(exc) in (401, 403):
                raise SandboxUnavailable(
                    f"the OpenSandbox server at {self.server_url} rejected the API key"
                ) from exc
            raise SandboxUnavailable(
                f"the OpenSandbox server at {self.server_url} is not answering: {exc}"
            ) from exc
        if self.pool is not None:
            self.pool.start(nudge=False)  # the first readiness check starts filling it

    async def aclose(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()
        self._handles.clear()
        if self._manager is not None:
            await self._manager.close()  # a no-op for the shared transport, closed below
        await self._transport.aclose()

    # -- execd handles and errors ------------------------------------------------------

    async def _handle(self, sandbox_id: str) -> Sandbox:
        handle = self._handles.get(sandbox_id)
        if handle is not None:
            self._handles.move_to_end(sandbox_id)
            return handle
        try:
            handle = await Sandbox.connect(
                sandbox_id,
                connection_config=self._config,
                connect_timeout=timedelta(seconds=self.request_timeout),
                skip_health_check=True,
            )
        except SandboxException as exc:
            raise self._lifecycle_error(exc, sandbox_id, "reach the sandbox") from exc
        self._remember(handle)
        return handle

    def _remember(self, sandbox: Sandbox) -> None:
        self._handles[sandbox.id] = sandbox
        while len(self._handles) > _HANDLES:
            self._handles.popitem(last=False)

    def _forget(self, sandbox_id: str) -> None:
        self._handles.pop(sandbox_id, None)

    def _lifecycle_error(self, exc: SandboxException, sandbox_id: str, what: str) -> SandboxError:
        if status_of(exc) == 404:
            self._forget(sandbox_id)
            return SandboxGone(sandbox_id)
        return unavailable(what, exc)

    async def _alive(self, sandbox_id: str) -> bool:
        """Whether the lifecycle API still has the sandbox (True when it cannot tell)."""
        try:
            await self.connect(sandbox_id)
        except SandboxGone:
            return False
        except SandboxUnavailable:
            return True
        return True

    async def _raise_if_gone(
        self, exc: SandboxException, sandbox_id: str, *, started: bool = False
    ) -> None:
        """After an execd failure: `SandboxGone` if the sandbox no longer exists."""
        self._forget(sandbox_id)  # the endpoint may have moved; resolve it again next time
        if not await self._alive(sandbox_id):
            raise SandboxGone(sandbox_id, started=started) from exc

    async def _execd_error(self, exc: SandboxException, sandbox_id: str, what: str) -> SandboxError:
        await self._raise_if_gone(exc, sandbox_id)
        return unavailable(what, exc)

    # -- commands ------------------------------------------------------------------------

    async def execute(
        self,
        sandbox_id: str,
        command: str,
        *,
        timeout: float,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        check_env(env)
        # cd in the script rather than execd's `cwd`: a missing directory is then the
        # command's own failure (exit 1 and a message), not an execd error.
        if cwd is None:  # the agent may have removed its workdir: never strand every command
            script = f"mkdir -p {WORKDIR} 2>/dev/null; cd -- {WORKDIR} || cd /\n{command}"
        else:
            script = f"cd -- {shell_quote(cwd)} || exit 1\n{command}"
        handle = await self._handle(sandbox_id)
        commands = handle.commands
        try:
            command_id = await start_background(
                commands, script, timeout=timeout, env=env, start_timeout=self.request_timeout
            )
        except SandboxException as exc:
            raise await self._execd_error(exc, sandbox_id, "start the command") from exc

        async def check(exc: SandboxException) -> None:
            await self._raise_if_gone(exc, sandbox_id, started=True)

        return await follow(
            commands, command_id, timeout=timeout, limit=self.max_output_bytes, check=check
        )

    # -- files -------------------------------------------------------------------------

    async def upload(self, sandbox_id: str, path: str, data: bytes) -> None:
        path = normalize_path(path)
        handle = await self._handle(sandbox_id)
        try:  # execd creates the parent directories; rewriting the same bytes is safe
            await retrying(lambda: handle.files.write_file(path, data, mode=FILE_MODE))
        except SandboxException as exc:
            raise await self._file_error(exc, sandbox_id, path) from exc

    async def download(self, sandbox_id: str, path: str) -> AsyncIterator[bytes]:
        path = normalize_path(path)
        handle = await self._handle(sandbox_id)
        try:
            # execd would start streaming a directory as if it were a file: ask first.
            entries = await handle.files.get_file_info([path])
            entry = entries.get(path)
            if entry is None:
                raise SandboxFileError("file_not_found", path)
            if entry.entry_type == "directory":
                raise SandboxFileError("is_directory", path)
            if entry.entry_type not in (None, "file"):  # a symlink or FIFO: execd follows or blocks
                raise SandboxFileError("invalid_path", path)
            chunks = await handle.files.read_bytes_stream(path)
        except SandboxException as exc:
            raise await self._file_error(exc, sandbox_id, path) from exc
        stream = cast(AsyncGenerator[bytes, None], chunks)
        try:
            async for chunk in stream:
                yield chunk
        except httpx.HTTPError as exc:
            raise SandboxUnavailable(f"the download of {path} broke off: {exc}") from exc
        finally:
            await stream.aclose()  # releases the connection if the reader stopped early

    async def _file_error(self, exc: SandboxException, sandbox_id: str, path: str) -> SandboxError:
        status = status_of(exc)
        if status is None or status in TRANSIENT:  # no answer from execd itself
            return await self._execd_error(exc, sandbox_id, f"access {path}")
        if status == 404:  # a missing file, or a sandbox the proxy no longer knows
            code = exc.error.code if exc.error is not None else None
            if code != "FILE_NOT_FOUND":  # execd itself says the file is missing: no doubt
                await self._raise_if_gone(exc, sandbox_id)
            return SandboxFileError("file_not_found", path)
        message = (exc.error.message or "").lower() if exc.error is not None else ""
        for needle, file_code in FILE_ERRORS:
            if needle in message:
                return SandboxFileError(file_code, path)
        return await self._execd_error(exc, sandbox_id, f"access {path}")
