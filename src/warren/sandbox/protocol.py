"""The provider protocol: the smallest surface Warren needs from a place that runs commands.

A provider owns sandboxes, each one persistent, writable filesystem with a shell. Sandbox
paths are absolute POSIX paths as the sandbox sees them (`/workspace/x`). Providers raise
`SandboxGone` when a sandbox no longer exists, `SandboxFileError` for an expected file
failure, and `SandboxUnavailable` when the provider itself cannot be reached.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

# Metadata keys every Warren sandbox carries, so a lease can be rebuilt from the sandbox.
META_THREAD = "thread_id"
META_USER = "user_id"
META_OWNER = "owner"

WORKDIR = "/workspace"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

FileErrorCode = Literal["file_not_found", "permission_denied", "is_directory", "invalid_path"]


class SandboxError(Exception):
    """Root of the sandbox errors."""


class SandboxUnavailable(SandboxError):
    """The provider could not be reached or failed; retrying later may succeed."""


class SandboxGone(SandboxError):
    """The sandbox no longer exists (expired, killed, or never existed)."""

    def __init__(self, sandbox_id: str, *, started: bool = False) -> None:
        super().__init__(f"sandbox {sandbox_id} is gone")
        self.sandbox_id = sandbox_id
        self.started = started  # a command had started in it: running it again is not safe


class SandboxFileError(SandboxError):
    """An expected file failure, with a code the agent and the API can act on."""

    def __init__(self, code: FileErrorCode, path: str) -> None:
        super().__init__(f"{code}: {path}")
        self.code: FileErrorCode = code
        self.path = path


@dataclass(frozen=True, slots=True)
class SandboxInfo:
    id: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    expires_at: datetime | None = None  # None: the provider never expires it


@dataclass(frozen=True, slots=True)
class ExecResult:
    output: str  # stdout and stderr interleaved in order, line breaks kept
    exit_code: int | None  # None when the command was killed before it reported one
    timed_out: bool = False
    truncated: bool = False


class SandboxProvider(Protocol):
    """Creates, reaches and removes sandboxes. Every method is async and never blocks."""

    name: str

    async def create(self, metadata: Mapping[str, str]) -> SandboxInfo: ...

    async def connect(self, sandbox_id: str) -> SandboxInfo:
        """The sandbox's current info; `SandboxGone` if it no longer exists."""
        ...

    async def execute(
        self,
        sandbox_id: str,
        command: str,
        *,
        timeout: float,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run `command` with `sh -c`. Over `timeout` seconds the command and its
        children are killed and the result says `timed_out`."""
        ...

    async def upload(self, sandbox_id: str, path: str, data: bytes) -> None:
        """Write `data` to `path` (mode 644), creating parent directories."""
        ...

    def download(self, sandbox_id: str, path: str) -> AsyncIterator[bytes]:
        """Stream the file at `path`; raises before the first chunk if it cannot be read."""
        ...

    async def renew(self, sandbox_id: str, until: datetime) -> datetime | None:
        """Keep the sandbox alive at least until `until`; return its new expiry."""
        ...

    async def kill(self, sandbox_id: str) -> None:
        """Remove the sandbox. Already gone counts as success."""
        ...

    async def list(self, metadata: Mapping[str, str]) -> Sequence[SandboxInfo]:
        """The live sandboxes whose metadata contains every item of `metadata`."""
        ...

    async def check(self) -> None:
        """Raise `SandboxUnavailable` when the provider cannot serve (for `/readyz`)."""
        ...

    async def aclose(self) -> None: ...


def normalize_path(path: str) -> str:
    """An absolute, normalised sandbox path, or `SandboxFileError('invalid_path')`."""
    if not path.startswith("/") or "\x00" in path:
        raise SandboxFileError("invalid_path", path)
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/")  # normpath keeps a leading '//'


def check_env(env: Mapping[str, str] | None) -> None:
    """Refuse environment variable names a shell could not take."""
    for key in env or {}:
        if not _ENV_NAME.match(key):
            raise ValueError(f"invalid environment variable name: {key!r}")


async def read_all(chunks: AsyncIterator[bytes], limit: int | None = None) -> bytes:
    """Join a download, refusing one larger than `limit` bytes."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if limit is not None and size > limit:
            raise ValueError(f"file is larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)
