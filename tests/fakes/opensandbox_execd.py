"""The execd half of the OpenSandbox stand-in: one sandbox's commands and files, done for real
by a backing `SandboxProvider` (the local bubblewrap provider in the tests).

Wire format as published in OpenSandbox's `specs/execd-api.yaml` and as execd writes it
(`components/execd/pkg/web/controller`): `POST /command` answers an SSE stream framed the
way execd frames it (one bare JSON object per event, then a blank line) with `init` (the
command id), then for a foreground command one `stdout` event per output line, newline
stripped (a blank line is sent as "\\n"), pings every 3 s, and `execution_complete`, or an
`error` event whose `evalue` is the exit code; a background command gets `init` and
`execution_complete` at once and runs on. `GET /command/status/{id}`, `GET
/command/{id}/logs?cursor=` (plain text; the next cursor, a byte offset as in execd's
implementation, in `EXECD-COMMANDS-TAIL-CURSOR`), `DELETE /command?id=` (interrupt). Files:
multipart `POST /files/upload` (a `metadata` JSON part, mode in decimal digits, then a
`file` part), `GET /files/download` (with `Range`), `GET /files/info`, `POST /directories`.
Errors are `{code, message}`.

Like execd, a command's stdout and stderr go to one file under the sandbox's `/tmp`, which
the logs endpoint reads (so output is there while the command runs, and after it is
killed). Deviations, on purpose: foreground lines are sent when the command ends and all
as `stdout` events, and downloading a directory is an error instead of execd's broken 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shlex
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from warren.sandbox.protocol import (
    ExecResult,
    SandboxError,
    SandboxFileError,
    SandboxGone,
    SandboxProvider,
)

NO_TIMEOUT = 24 * 3600.0
LOG_DIR = "/tmp/.execd"
PING_SECONDS = 3.0
TAIL_CURSOR = "EXECD-COMMANDS-TAIL-CURSOR"
_OS_ERRORS = {
    "file_not_found": "no such file or directory",
    "is_directory": "is a directory",
    "permission_denied": "permission denied",
    "invalid_path": "not a directory",
}


class StreamDropped(Exception):
    """Raised inside a streaming response to cut the connection mid-stream."""


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def frame(kind: str, **fields: Any) -> bytes:
    event = {"type": kind, **{k: v for k, v in fields.items() if v}}
    event["timestamp"] = int(time.time() * 1000)
    return json.dumps(event).encode() + b"\n\n"


def split_lines(text: str) -> list[str]:
    """execd's line events: terminators (\\n, \\r, \\r\\n) stripped, blank lines as "\\n"."""
    lines: list[str] = []
    for match in re.finditer(r"([^\r\n]*)(\r\n|\r|\n|$)", text):
        body, end = match.groups()
        if body:
            lines.append(body)
        elif end:
            lines.append("\n")
    return lines


@dataclass
class Command:
    id: str
    content: str
    background: bool
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    task: asyncio.Task[None] | None = None
    exit_code: int | None = None
    error: str = ""
    finished_at: datetime | None = None

    def finish(self, code: int, message: str) -> None:
        if self.finished_at is None:
            self.exit_code, self.error = code, message
            self.finished_at = datetime.now(UTC)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "content": self.content,
            "running": self.finished_at is None,
            "started_at": rfc3339(self.started_at),
        }
        if self.finished_at is not None:
            body["exit_code"] = self.exit_code
            body["finished_at"] = rfc3339(self.finished_at)
            if self.error:
                body["error"] = self.error
        return body


class Execd:
    """execd for one sandbox. `take_drop()` says whether the next command stream is cut."""

    def __init__(
        self, backing: SandboxProvider, backing_id: str, take_drop: Callable[[], bool]
    ) -> None:
        self.backing = backing
        self.backing_id = backing_id
        self.take_drop = take_drop
        self.commands: dict[str, Command] = {}

    async def handle(self, request: Request, rest: str) -> Response:
        method = request.method
        if method == "GET" and rest == "ping":
            return Response(status_code=200)
        if rest == "command":
            if method == "POST":
                return await self.run_command(request)
            if method == "DELETE":
                return await self.interrupt(request.query_params.get("id", ""))
        if method == "GET" and rest.startswith("command/status/"):
            return self.status(rest.removeprefix("command/status/"))
        if method == "GET" and rest.startswith("command/") and rest.endswith("/logs"):
            return await self.logs(rest[len("command/") : -len("/logs")], request)
        handlers = {
            ("POST", "files/upload"): self.upload,
            ("GET", "files/download"): self.download,
            ("GET", "files/info"): self.info,
            ("POST", "directories"): self.make_dirs,
        }
        handler = handlers.get((method, rest))
        if handler is None:
            return error(404, "NOT_SUPPORTED", f"{method} /{rest} is not served by this fake")
        return await handler(request)

    async def close(self) -> None:
        tasks = [c.task for c in self.commands.values() if c.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- commands ---------------------------------------------------------------------

    async def run_command(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            return error(400, "INVALID_REQUEST_BODY", f"error parsing request. {exc}")
        content = body.get("command") or shlex.join(body.get("argv") or [])
        if not isinstance(content, str) or not content.strip():
            return error(400, "INVALID_REQUEST_BODY", "invalid request, command is empty")
        command = Command(
            id=uuid.uuid4().hex, content=content, background=bool(body.get("background"))
        )
        self.commands[command.id] = command
        command.task = asyncio.create_task(self._execute(command, body))
        stream = self._background if command.background else self._foreground
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            stream(command, self.take_drop()), media_type="text/event-stream", headers=headers
        )

    async def _execute(self, command: Command, body: dict[str, Any]) -> None:
        timeout_ms = body.get("timeout") or 0
        timeout = timeout_ms / 1000 if timeout_ms > 0 else NO_TIMEOUT
        log = f"{LOG_DIR}/{command.id}.output"
        script = f"exec >>{log} 2>&1 || exit 255\n{command.content}"
        try:
            # like execd: the output file exists before the command runs
            await self.backing.upload(self.backing_id, log, b"")
            result: ExecResult = await self.backing.execute(
                self.backing_id,
                script,
                timeout=timeout,
                cwd=body.get("cwd") or None,
                env=body.get("envs") or None,
            )
        except asyncio.CancelledError:
            command.finish(-1, "signal: killed")
            raise
        except SandboxError as exc:
            command.finish(1, f"error running command: {exc}")
            return
        if result.timed_out or result.exit_code is None:
            command.finish(-1, "signal: killed")
        elif result.exit_code:
            command.finish(result.exit_code, f"exit status {result.exit_code}")
        else:
            command.finish(0, "")

    async def _background(self, command: Command, drop: bool) -> AsyncIterator[bytes]:
        yield frame("init", text=command.id)
        if drop:
            raise StreamDropped(command.id)  # the command runs on: it is detached
        yield frame("execution_complete", execution_time=1)

    async def _foreground(self, command: Command, drop: bool) -> AsyncIterator[bytes]:
        assert command.task is not None
        task = command.task
        try:
            yield frame("init", text=command.id)
            if drop:
                raise StreamDropped(command.id)
            while not task.done():
                done, _ = await asyncio.wait({task}, timeout=PING_SECONDS)
                if not done:
                    yield frame("ping", text="pong")
            try:
                output = await self.output(command)
            except SandboxFileError:
                output = b""  # the command removed its own log
            for line in split_lines(output.decode(errors="replace")):
                yield frame("stdout", text=line)
            if command.exit_code == 0:
                elapsed = datetime.now(UTC) - command.started_at
                yield frame(
                    "execution_complete", execution_time=int(elapsed.total_seconds() * 1000)
                )
            else:
                failure = {
                    "ename": "CommandExecError",
                    "evalue": str(command.exit_code),
                    "traceback": [command.error],
                }
                yield frame("error", error=failure)
        finally:
            if not task.done():
                task.cancel()  # execd kills a foreground command whose stream is gone

    async def interrupt(self, command_id: str) -> Response:
        if not command_id:
            return error(400, "MISSING_QUERY", "missing query parameter 'id'")
        command = self.commands.get(command_id)
        if command is None or command.task is None:
            return error(500, "RUNTIME_ERROR", f"error interrupting: no command {command_id}")
        command.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await command.task
        return Response(status_code=200)

    def status(self, command_id: str) -> Response:
        command = self.commands.get(command_id)
        if command is None:
            return error(404, "INVALID_REQUEST_BODY", f"command not found: {command_id}")
        return JSONResponse(command.status())

    async def output(self, command: Command) -> bytes:
        chunks = self.backing.download(self.backing_id, f"{LOG_DIR}/{command.id}.output")
        return b"".join([chunk async for chunk in chunks])  # SandboxFileError: it was removed

    async def logs(self, command_id: str, request: Request) -> Response:
        command = self.commands.get(command_id)
        if command is None:
            return error(400, "INVALID_REQUEST_BODY", f"command not found: {command_id}")
        if not command.background:
            return error(400, "INVALID_REQUEST_BODY", f"command {command_id} is not background")
        cursor = int(request.query_params.get("cursor") or 0)
        try:
            output = await self.output(command)
        except SandboxFileError:  # what execd answers when the command removed its log
            return error(400, "INVALID_REQUEST_BODY", "error open combined output file")
        body = output[cursor:]
        headers = {TAIL_CURSOR: str(len(output))}
        return Response(body, headers=headers, media_type="text/plain; charset=utf-8")

    # -- files --------------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        parts = parse_multipart(await request.body(), request.headers.get("content-type", ""))
        metas = [content for name, content in parts if name == "metadata"]
        files = [content for name, content in parts if name == "file"]
        if not metas or len(metas) != len(files):
            return error(400, "INVALID_FILE", "metadata and file parts do not pair up")
        for meta_bytes, data in zip(metas, files, strict=True):
            meta = json.loads(meta_bytes)
            path, mode = meta.get("path") or "", int(meta.get("mode") or 0)
            if not path:
                return error(400, "INVALID_FILE_METADATA", "metadata path is empty")
            try:
                await self.backing.upload(self.backing_id, path, data)
                if mode and mode != 644:
                    await self._sh(f"chmod {mode} -- {shlex.quote(path)}")
            except SandboxFileError as exc:
                reason = _OS_ERRORS[exc.code]
                message = f"error opening destination file {path}. open {path}: {reason}"
                return error(500, "RUNTIME_ERROR", message)
            except RuntimeError as exc:
                return error(500, "RUNTIME_ERROR", f"error chmoding file {path}. {exc}")
        return Response(status_code=200)

    async def download(self, request: Request) -> Response:
        path = request.query_params.get("path", "")
        if not path:
            return error(400, "MISSING_QUERY", "missing query parameter 'path'")
        chunks = self.backing.download(self.backing_id, path)
        try:
            first = await anext(chunks, b"")
        except SandboxFileError as exc:
            reason = _OS_ERRORS[exc.code]
            if exc.code == "file_not_found":
                return error(404, "FILE_NOT_FOUND", f"file not found. open {path}: {reason}")
            return error(500, "RUNTIME_ERROR", f"error accessing file: open {path}: {reason}")
        ranged = request.headers.get("range")
        headers = {"Content-Disposition": f'attachment; filename="{path.rsplit("/", 1)[-1]}"'}
        if ranged is None:

            async def rest() -> AsyncIterator[bytes]:
                yield first
                async for chunk in chunks:
                    yield chunk

            return StreamingResponse(rest(), media_type="application/octet-stream", headers=headers)
        data = first + b"".join([chunk async for chunk in chunks])
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", ranged.strip())
        if match is None or not (match[1] or match[2]):
            return error(416, "UNKNOWN", "invalid range")
        start = int(match[1]) if match[1] else max(len(data) - int(match[2]), 0)
        end = int(match[2]) if match[1] and match[2] else len(data) - 1
        if start >= len(data) or end < start:
            return error(416, "UNKNOWN", "range not satisfiable")
        end = min(end, len(data) - 1)
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return Response(data[start : end + 1], status_code=206, headers=headers)

    async def info(self, request: Request) -> Response:
        found: dict[str, Any] = {}
        for path in request.query_params.getlist("path"):
            try:
                line = await self._sh(f"stat -c '%F|%s|%a|%U|%G|%Y' -- {shlex.quote(path)}")
            except RuntimeError as exc:
                if "No such file" in str(exc):
                    return error(404, "FILE_NOT_FOUND", f"file not found: {path}")
                return error(500, "RUNTIME_ERROR", f"error accessing file {path}: {exc}")
            kind, size, mode, owner, group, mtime = line.strip().split("|")
            moment = rfc3339(datetime.fromtimestamp(int(mtime), UTC))
            found[path] = {
                "path": path,
                "type": _FILE_TYPES.get(kind, "other"),
                "size": int(size),
                "modified_at": moment,
                "created_at": moment,
                "owner": owner,
                "group": group,
                "mode": int(mode),
            }
        return JSONResponse(found)

    async def make_dirs(self, request: Request) -> Response:
        for path, perm in json.loads(await request.body()).items():
            mode = int(perm.get("mode") or 0)
            chmod = f" && chmod {mode} -- {shlex.quote(path)}" if mode else ""
            try:
                await self._sh(f"mkdir -p -- {shlex.quote(path)}{chmod}")
            except RuntimeError as exc:
                return error(500, "RUNTIME_ERROR", f"error creating directory {path}: {exc}")
        return Response(status_code=200)

    async def _sh(self, command: str) -> str:
        """Run a helper command in the backing sandbox (the fake's own root-free execd)."""
        try:
            result = await self.backing.execute(self.backing_id, command, timeout=30)
        except SandboxGone:
            raise
        if result.exit_code != 0:
            raise RuntimeError(result.output.strip() or f"exit {result.exit_code}")
        return result.output


_FILE_TYPES = {
    "regular file": "file",
    "regular empty file": "file",
    "directory": "directory",
    "symbolic link": "symlink",
}


def parse_multipart(body: bytes, content_type: str) -> list[tuple[str, bytes]]:
    """(field name, content) of each part, in order (python-multipart is not a dependency)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        return []
    parts: list[tuple[str, bytes]] = []
    for part in body.split(b"--" + match[1].encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        parts.append((name[1].decode() if name else "", content.removesuffix(b"\r\n")))
    return parts
