"""The local provider: one directory per sandbox in the data dir, commands under bubblewrap.

Each sandbox directory holds `meta.json` and `root/`, which the sandbox sees as its own
writable `/`: `/notes.md`, `/workspace/x` and `/tmp/y` all live there and persist. The
host's `/usr` (and the `/bin`, `/lib` links into it) and a few `/etc` files are mounted
read-only on top. Commands run as uid 1000 in fresh user, pid, ipc, uts and (by default)
network namespaces with every capability dropped; killing the `bwrap` process group kills
everything the command started.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import os
import re
import resource
import signal
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from warren.logs import get_logger
from warren.sandbox import localfs
from warren.sandbox.bwrap import (
    ETC,
    GROUP,
    HOME,
    HOSTS,
    NETWORK_ETC,
    PASSWD,
    PATH_ENV,
    SYSTEM_DIRS,
    bwrap_argv,
    find_bwrap,
)
from warren.sandbox.protocol import (
    WORKDIR,
    ExecResult,
    SandboxGone,
    SandboxInfo,
    SandboxUnavailable,
    check_env,
)

log = get_logger(__name__)

_READ_CHUNK = 65536

_ID = re.compile(r"^lsb-[0-9a-f]{32}$")


class LocalProvider:
    name = "local"

    def __init__(
        self,
        base_dir: Path,
        *,
        network: bool = False,
        allow_unisolated: bool = False,
        memory_mb: int = 0,
        max_processes: int = 0,
        max_output_bytes: int = 2 * 1024 * 1024,
        bwrap: str | None = None,
    ) -> None:
        self.base_dir = base_dir
        self.network = network
        self.allow_unisolated = allow_unisolated
        self.memory_mb = memory_mb
        self.max_processes = max_processes
        self.max_output_bytes = max_output_bytes
        self.bwrap = bwrap or find_bwrap()
        self.isolated: bool | None = None  # decided by `probe()`
        self._running: dict[str, set[int]] = {}  # sandbox id -> process groups of its commands
        self.problem: str | None = None  # why isolation is unavailable

    # -- isolation -----------------------------------------------------------------

    async def probe(self) -> None:
        """Find out once whether bubblewrap can isolate commands here."""
        await asyncio.to_thread(self.base_dir.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(self._sweep)
        self.problem = await self._probe_bwrap()
        self.isolated = self.problem is None
        if self.isolated:
            return
        if self.allow_unisolated:
            log.error(
                "SANDBOXES ARE NOT ISOLATED: commands run as plain subprocesses with this "
                "server's rights (SANDBOX_LOCAL_ALLOW_UNISOLATED is set)",
                reason=self.problem,
            )
        else:
            log.error("local sandboxes are unavailable", reason=self.problem)

    def _sweep(self) -> None:
        """Finish removals and creations that a crash interrupted."""
        for entry in self.base_dir.iterdir():
            if entry.name.startswith((".trash-", ".new-")):
                localfs.remove_tree(entry)

    async def _probe_bwrap(self) -> str | None:
        if self.bwrap is None:
            return "bubblewrap (bwrap) is not installed"
        probe_root = self.base_dir / ".probe"
        await asyncio.to_thread(probe_root.mkdir, exist_ok=True)
        await asyncio.to_thread(localfs.repair_root, probe_root, SYSTEM_DIRS)
        argv = [*self._argv(probe_root, None), "/bin/true"]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await asyncio.wait_for(process.communicate(), 10)
        except (OSError, TimeoutError) as exc:
            return f"bubblewrap could not start: {exc}"
        if process.returncode != 0:
            reason = err.decode(errors="replace").strip() or f"exit {process.returncode}"
            return f"bubblewrap cannot create namespaces here: {reason}"
        return None

    @property
    def warning(self) -> str | None:
        """Said loudly by `/readyz` while commands run without isolation."""
        if self.isolated is False and self.allow_unisolated:
            return (
                "UNISOLATED: sandbox commands run as plain subprocesses with the server's "
                f"rights ({self.problem})"
            )
        return None

    async def check(self) -> None:
        if self.isolated is None:
            await self.probe()
        if not self.isolated and not self.allow_unisolated:
            raise SandboxUnavailable(
                f"{self.problem}; install bubblewrap and allow user namespaces, or set "
                "SANDBOX_LOCAL_ALLOW_UNISOLATED=true to run commands without isolation"
            )

    # -- lifecycle -----------------------------------------------------------------

    def _dir(self, sandbox_id: str) -> Path:
        if not _ID.match(sandbox_id):
            raise SandboxGone(sandbox_id)
        return self.base_dir / sandbox_id

    def _root(self, sandbox_id: str) -> Path:
        return self._dir(sandbox_id) / "root"

    async def create(self, metadata: Mapping[str, str]) -> SandboxInfo:
        await self.check()
        sandbox_id = f"lsb-{uuid.uuid4().hex}"
        await asyncio.to_thread(self._make, self._dir(sandbox_id), dict(metadata))
        return SandboxInfo(id=sandbox_id, metadata=dict(metadata))

    def _make(self, directory: Path, metadata: dict[str, str]) -> None:
        staging = directory.with_name(f".new-{directory.name}")
        try:
            self._populate(staging, metadata)
            staging.rename(directory)  # a sandbox appears whole or not at all
        except BaseException:
            localfs.remove_tree(staging)
            raise

    @staticmethod
    def _populate(staging: Path, metadata: dict[str, str]) -> None:
        root = staging / "root"
        for sub in ("workspace", "tmp", "etc", HOME.lstrip("/")):
            (root / sub).mkdir(parents=True)
        (root / "tmp").chmod(0o1777)
        (root / "etc" / "passwd").write_text(PASSWD)
        (root / "etc" / "group").write_text(GROUP)
        (root / "etc" / "hosts").write_text(HOSTS)
        (root / "etc" / "hostname").write_text("sandbox\n")
        localfs.repair_root(root, SYSTEM_DIRS)
        meta = {"metadata": metadata, "created_at": datetime.now(UTC).isoformat()}
        (staging / "meta.json").write_text(json.dumps(meta))

    async def connect(self, sandbox_id: str) -> SandboxInfo:
        meta = await asyncio.to_thread(self._read_meta, self._dir(sandbox_id))
        if meta is None:
            raise SandboxGone(sandbox_id)
        return SandboxInfo(id=sandbox_id, metadata=meta)

    @staticmethod
    def _read_meta(directory: Path) -> dict[str, str] | None:
        try:
            data = json.loads((directory / "meta.json").read_text())
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return None
        return {str(k): str(v) for k, v in data.get("metadata", {}).items()}

    async def renew(self, sandbox_id: str, until: datetime) -> datetime | None:
        await self.connect(sandbox_id)
        return None  # local sandboxes never expire

    async def kill(self, sandbox_id: str) -> None:
        try:
            directory = self._dir(sandbox_id)
        except SandboxGone:
            return
        for group in self._running.pop(sandbox_id, set()):
            _kill_group(group)  # nothing of it may keep writing while its files go
        await asyncio.to_thread(_remove_tree, directory)

    async def list(self, metadata: Mapping[str, str]) -> Sequence[SandboxInfo]:
        return await asyncio.to_thread(self._list, dict(metadata))

    def _list(self, wanted: dict[str, str]) -> builtins.list[SandboxInfo]:
        found = []
        for entry in sorted(self.base_dir.iterdir()) if self.base_dir.is_dir() else []:
            if not _ID.match(entry.name):
                continue
            meta = self._read_meta(entry)
            if meta is not None and all(meta.get(k) == v for k, v in wanted.items()):
                found.append(SandboxInfo(id=entry.name, metadata=meta))
        return found

    async def aclose(self) -> None:
        return None  # nothing to close; sandboxes outlive the server

    # -- files -----------------------------------------------------------------------

    def _host_path(self, sandbox_id: str, path: str) -> tuple[Path, str]:
        """The directory file operations are confined to, and the path inside it."""
        if self.isolated:
            localfs.refuse_mounted(path, self._mounted_paths())
            return self._root(sandbox_id), path
        return Path("/"), path  # unisolated: sandbox paths are host paths

    def _mounted_paths(self) -> tuple[str, ...]:
        etc = tuple(f"/etc/{name}" for name in (*ETC, *NETWORK_ETC))
        return (*(f"/{d}" for d in SYSTEM_DIRS), "/proc", "/dev", *etc)

    async def upload(self, sandbox_id: str, path: str, data: bytes) -> None:
        await self.connect(sandbox_id)
        root, inside = self._host_path(sandbox_id, path)
        await asyncio.to_thread(localfs.write_file, root, inside, data)

    async def download(self, sandbox_id: str, path: str) -> AsyncIterator[bytes]:
        await self.connect(sandbox_id)
        root, inside = self._host_path(sandbox_id, path)
        fd = await asyncio.to_thread(localfs.open_file, root, inside)
        try:
            while chunk := await asyncio.to_thread(os.read, fd, _READ_CHUNK * 16):
                yield chunk
        finally:
            os.close(fd)

    # -- commands --------------------------------------------------------------------

    def _argv(self, root: Path, env: Mapping[str, str] | None) -> builtins.list[str]:
        assert self.bwrap is not None
        return bwrap_argv(self.bwrap, root, env, network=self.network)

    def _limits(self) -> None:  # runs in the child, before exec
        if self.memory_mb:
            limit = self.memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if self.max_processes:
            resource.setrlimit(resource.RLIMIT_NPROC, (self.max_processes, self.max_processes))

    async def execute(
        self,
        sandbox_id: str,
        command: str,
        *,
        timeout: float,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        await self.check()
        directory = self._dir(sandbox_id)
        check_env(env)
        if cwd is not None:
            command = f"cd -- {_quote(cwd)} || exit 1\n{command}"
        if self.isolated:
            ok = await asyncio.to_thread(localfs.repair_root, directory / "root", SYSTEM_DIRS)
            if not ok:
                raise SandboxGone(sandbox_id)
            argv = [*self._argv(directory / "root", env), "/bin/sh", "-c", command]
            run_env: dict[str, str] | None = None
            run_cwd: Path | None = None
        else:
            if not await asyncio.to_thread((directory / "root").is_dir):
                raise SandboxGone(sandbox_id)
            argv = ["/bin/sh", "-c", command]
            run_env = {"PATH": os.environ.get("PATH", PATH_ENV), "LANG": "C.UTF-8", **(env or {})}
            run_cwd = directory / "root" / WORKDIR.lstrip("/")
        return await self._run(sandbox_id, argv, timeout, run_env, run_cwd)

    async def _run(
        self,
        sandbox_id: str,
        argv: builtins.list[str],
        timeout: float,
        env: dict[str, str] | None,
        cwd: Path | None,
    ) -> ExecResult:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # one process group to kill
            preexec_fn=self._limits,
            env=env,
            cwd=cwd,
        )
        assert process.stdout is not None
        running = self._running.setdefault(sandbox_id, set())
        running.add(process.pid)
        output = bytearray()
        truncated = False

        async def collect() -> None:
            nonlocal truncated
            assert process.stdout is not None
            while chunk := await process.stdout.read(_READ_CHUNK):
                room = self.max_output_bytes - len(output)
                if len(chunk) > room:
                    truncated = True
                output.extend(chunk[: max(room, 0)])
            await process.wait()

        timed_out = False
        try:
            await asyncio.wait_for(collect(), timeout)
        except TimeoutError:
            timed_out = True
        finally:
            running.discard(process.pid)
            if not running and self._running.get(sandbox_id) is running:
                del self._running[sandbox_id]
            if process.returncode is None:
                _kill_group(process.pid)
                with contextlib.suppress(ProcessLookupError):
                    await asyncio.shield(process.wait())
        text = output.decode("utf-8", errors="replace")
        code = None if timed_out else process.returncode
        return ExecResult(output=text, exit_code=code, timed_out=timed_out, truncated=truncated)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _remove_tree(directory: Path) -> None:
    """Delete a sandbox: renamed away first, so it is gone at once even if removal is slow.
    Blocking: `kill` runs it in a worker thread."""
    trash = directory.with_name(f".trash-{directory.name}")
    try:
        directory.rename(trash)
    except FileNotFoundError:
        return
    for attempt in range(5):
        try:
            localfs.remove_tree(trash)
            return
        except OSError:  # something still wrote into it as it went: once more
            time.sleep(0.05 * (attempt + 1))
    log.warning("sandbox files left for the next start to remove", path=str(trash))
