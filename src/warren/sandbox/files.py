"""The files service behind `/api/threads/{id}/files`: list, download and upload.

Listing and downloading never create a sandbox: a thread without one has no files.
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from warren.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable
from warren.logs import get_logger
from warren.sandbox.manager import SandboxManager
from warren.sandbox.protocol import (
    SandboxFileError,
    SandboxGone,
    SandboxUnavailable,
    normalize_path,
)

log = get_logger(__name__)

LIST_LIMIT = 5000
LIST_TIMEOUT_SECONDS = 30.0
_BAD_NAME = re.compile(r"[/\x00]")

_LIST_SCRIPT = """
import json, os, sys, base64
path = base64.b64decode(sys.argv[1]).decode()
limit = int(sys.argv[2])
try:
    entries = []
    with os.scandir(path) as it:
        for n, entry in enumerate(it):
            if n >= limit:
                print(json.dumps({"truncated": True}))
                break
            st = entry.stat(follow_symlinks=False)
            entries.append(entry)
            print(json.dumps({"name": entry.name, "is_dir": entry.is_dir(follow_symlinks=False),
                              "is_link": entry.is_symlink(), "size": st.st_size,
                              "mtime": st.st_mtime}))
except FileNotFoundError:
    print(json.dumps({"error": "file_not_found"}))
except NotADirectoryError:
    print(json.dumps({"error": "not_a_directory"}))
except PermissionError:
    print(json.dumps({"error": "permission_denied"}))
"""


@dataclass(frozen=True, slots=True)
class FileEntry:
    name: str
    path: str
    is_dir: bool
    is_symlink: bool
    size: int
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class Listing:
    path: str
    entries: list[FileEntry]
    truncated: bool


def checked_path(path: str) -> str:
    try:
        return normalize_path(path)
    except SandboxFileError:
        raise BadRequest(
            "paths must be absolute sandbox paths such as /workspace/report.md",
            code="invalid_path",
        ) from None


def file_error(exc: SandboxFileError) -> Exception:
    """The API error for an expected file failure."""
    if exc.code == "file_not_found":
        return NotFound(f"no such file: {exc.path}", code="file_not_found")
    if exc.code == "permission_denied":
        return Forbidden(f"not allowed: {exc.path}", code="permission_denied")
    if exc.code == "is_directory":
        return BadRequest(f"{exc.path} is a directory", code="is_directory")
    return BadRequest(f"{exc.path} cannot be used (symlink or special file)", code="invalid_path")


def _unavailable(exc: SandboxUnavailable) -> ServiceUnavailable:
    log.warning("sandbox unavailable for a files request", error=str(exc))  # details: log only
    return ServiceUnavailable(
        "the sandbox is unavailable right now; try again shortly", code="sandbox_unavailable"
    )


class SandboxFiles:
    def __init__(self, manager: SandboxManager, max_upload_bytes: int) -> None:
        self.manager = manager
        self.max_upload_bytes = max_upload_bytes

    async def list_dir(self, thread_id: str, path: str) -> Listing:
        path = checked_path(path)
        encoded = base64.b64encode(path.encode()).decode()
        command = f"python3 -c '{_LIST_SCRIPT}' {encoded} {LIST_LIMIT}"
        for _attempt in range(2):  # a sandbox found gone may have a successor in the lease
            sandbox_id = await self.manager.existing(thread_id)
            if sandbox_id is None:
                break
            try:
                result = await self.manager.provider.execute(
                    sandbox_id, command, timeout=LIST_TIMEOUT_SECONDS
                )
            except SandboxGone:
                self.manager.forget(thread_id, sandbox_id)
                continue
            except SandboxUnavailable as exc:
                raise _unavailable(exc) from None
            return _parse_listing(path, result.output, result.exit_code)
        return Listing(path=path, entries=[], truncated=False)

    async def download(self, thread_id: str, path: str) -> AsyncIterator[bytes]:
        """The file's chunks; errors are raised before the first chunk is returned."""
        path = checked_path(path)
        chunks = self.manager.download(thread_id, path)
        try:
            first = await anext(chunks, b"")
        except SandboxFileError as exc:
            raise file_error(exc) from None
        except SandboxGone:
            raise NotFound(f"no such file: {path}", code="file_not_found") from None
        except SandboxUnavailable as exc:
            raise _unavailable(exc) from None

        async def stream() -> AsyncIterator[bytes]:
            if first:
                yield first
            async for chunk in chunks:
                yield chunk

        return stream()

    async def upload(
        self, thread_id: str, user_id: str, directory: str, files: Sequence[tuple[str, bytes]]
    ) -> list[str]:
        """Write every file into `directory`, after checking all of them first."""
        directory = checked_path(directory)
        if not files:
            raise BadRequest("send at least one `file` part", code="no_files")
        targets = []
        for name, data in files:
            if not name or name in (".", "..") or _BAD_NAME.search(name) or len(name) > 255:
                raise BadRequest(f"not a usable file name: {name!r}", code="invalid_name")
            targets.append((posixpath.join(directory, name), data))
        if len({target for target, _ in targets}) != len(targets):
            raise BadRequest("two files have the same name", code="duplicate_name")
        total = sum(len(data) for _, data in files)
        if total > self.max_upload_bytes:
            raise BadRequest(
                f"uploads are limited to {self.max_upload_bytes} bytes", code="upload_too_large"
            )
        try:
            for target, data in targets:
                await self.manager.upload(thread_id, user_id, target, data)
        except SandboxFileError as exc:
            raise file_error(exc) from None
        except SandboxUnavailable as exc:
            raise _unavailable(exc) from None
        return [target for target, _ in targets]


def _parse_listing(path: str, output: str, exit_code: int | None) -> Listing:
    entries: list[FileEntry] = []
    truncated = False
    for line in output.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        if "error" in item:
            if item["error"] == "file_not_found":
                raise NotFound(f"no such directory: {path}", code="file_not_found")
            if item["error"] == "permission_denied":
                raise Forbidden(f"not allowed: {path}", code="permission_denied")
            raise BadRequest(f"{path} is not a directory", code="not_a_directory")
        if item.get("truncated"):
            truncated = True
            continue
        entries.append(
            FileEntry(
                name=item["name"],
                path=posixpath.join(path, item["name"]),
                is_dir=bool(item["is_dir"]),
                is_symlink=bool(item["is_link"]),
                size=int(item["size"]),
                modified_at=datetime.fromtimestamp(float(item["mtime"]), UTC),
            )
        )
    if exit_code not in (0, None) and not entries:
        raise ServiceUnavailable(
            "could not list the directory (the sandbox needs python3)", code="sandbox_unavailable"
        )
    entries.sort(key=lambda entry: (not entry.is_dir, entry.name))
    return Listing(path=path, entries=entries, truncated=truncated)
