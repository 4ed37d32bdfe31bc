"""How Warren's own tools reach the run's sandbox: its thread, their paths, what a path is.

Tools get the thread from the run (`RunContext`, or the run config as `ThreadSandbox` reads
it), never from how they were built: one tool object serves every thread. Their expected
failures are `ToolFailure`s, whose message is returned to the model as the tool's result.
"""

from __future__ import annotations

import posixpath
import shlex
from typing import Any, Literal

from langchain.tools import ToolRuntime

from warren.agent.context import RunContext
from warren.logs import get_logger
from warren.sandbox.manager import SandboxManager
from warren.sandbox.protocol import (
    WORKDIR,
    SandboxError,
    SandboxFileError,
    normalize_path,
)

log = get_logger(__name__)

PATH_MAX_CHARS = 1024
STAT_TIMEOUT_SECONDS = 30.0
PathKind = Literal["file", "directory", "symlink", "other", "missing"]
_STAT = (
    "if [ -L {p} ]; then echo symlink; elif [ -d {p} ]; then echo directory; "
    "elif [ -f {p} ]; then echo file; elif [ -e {p} ]; then echo other; else echo missing; fi"
)
_FILE_ERRORS = {
    "file_not_found": "no such file",
    "permission_denied": "that location is read-only or not allowed",
    "is_directory": "that path is a directory",
    "invalid_path": "that path cannot be used (a symlink or special file is in the way)",
}


class ToolFailure(Exception):
    """An expected failure; `str(exc)` is what the model is told."""


def run_thread(runtime: ToolRuntime[Any, Any]) -> tuple[str, str]:
    """(thread_id, user_id) of the run calling the tool."""
    context = runtime.context
    if isinstance(context, RunContext):
        return context.thread_id, context.user_id
    configurable = (runtime.config or {}).get("configurable", {})
    thread_id, user_id = configurable.get("thread_id"), configurable.get("user_id")
    if not thread_id or not user_id:
        raise ToolFailure("Error: this tool only works inside a conversation.")
    return str(thread_id), str(user_id)


def resolve_path(path: str) -> str:
    """An absolute, normalised sandbox path; relative paths are under /workspace."""
    path = path.strip()
    if not path:
        raise ToolFailure("Error: give a file path, such as report.pdf or /workspace/report.pdf.")
    if len(path) > PATH_MAX_CHARS:
        raise ToolFailure(f"Error: paths are limited to {PATH_MAX_CHARS} characters.")
    if not path.startswith("/"):
        path = posixpath.join(WORKDIR, path)
    try:
        normal = normalize_path(path)
    except SandboxFileError:
        raise ToolFailure(f"Error: {path!r} is not a usable path.") from None
    if normal == "/" or normal.endswith("/."):
        raise ToolFailure(f"Error: {path!r} names a directory, not a file.")
    return normal


async def path_kind(manager: SandboxManager, thread_id: str, user_id: str, path: str) -> PathKind:
    """What is at `path` in the thread's sandbox, without following a symlink."""
    try:
        result = await manager.execute(
            thread_id, user_id, _STAT.format(p=shlex.quote(path)), timeout=STAT_TIMEOUT_SECONDS
        )
    except SandboxError as exc:
        raise unavailable(thread_id, exc) from None
    kind = result.output.strip()
    if kind not in ("file", "directory", "symlink", "other", "missing"):
        raise ToolFailure("Error: could not inspect the sandbox; try again in a moment.")
    return kind  # type: ignore[return-value]


async def write_file(
    manager: SandboxManager, thread_id: str, user_id: str, path: str, data: bytes
) -> None:
    """Write `data` to `path`, refusing to replace a directory, a symlink or a special file."""
    kind = await path_kind(manager, thread_id, user_id, path)
    if kind == "directory":
        raise ToolFailure(f"Error: {path} is a directory; choose a file name inside it.")
    if kind in ("symlink", "other"):
        raise ToolFailure(f"Error: {path} is a symlink or special file; choose another path.")
    try:
        await manager.upload(thread_id, user_id, path, data)
    except SandboxFileError as exc:
        raise ToolFailure(f"Error: cannot write {path}: {_FILE_ERRORS[exc.code]}.") from None
    except SandboxError as exc:
        raise unavailable(thread_id, exc) from None


def unavailable(thread_id: str, exc: Exception) -> ToolFailure:
    # the provider's own words may name internal addresses: they go to the log only
    log.warning("sandbox unavailable for a tool", thread_id=thread_id, error=str(exc))
    return ToolFailure("Error: the sandbox is unavailable right now. Try again in a moment.")
