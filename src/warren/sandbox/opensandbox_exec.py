"""Commands on OpenSandbox: started detached in execd, then followed by polling status and logs.

Background mode is the robust path. A foreground command lives only as long as its HTTP
stream (execd kills its process group when the stream drops, and holds every stream open
for a grace period after the command ends), while a background command keeps running on
its own: its status can be polled and its output, stdout and stderr written to one file in
the order they happened, read back with a byte cursor. The start request itself is an SSE
stream too; the command id arrives in its first (`init`) event, so a stream that breaks
after that still leaves a command we can follow.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from urllib.parse import quote

import httpx
from opensandbox.exceptions import SandboxApiException, SandboxException
from opensandbox.models.execd import (
    CommandStatus,
    ExecutionHandlers,
    ExecutionInit,
    RunCommandOpts,
)
from opensandbox.services import Commands

from warren.sandbox.protocol import ExecResult, SandboxUnavailable

# execd enforces its own limit a little after ours, in case Warren loses track of the command.
SERVER_GRACE_SECONDS = 5.0
# Polls start fast (most commands take milliseconds), then wait a fifth of the time the
# command has run so far (a result is late by at most ~20%), up to half a second.
FIRST_POLL_SECONDS = 0.005
POLL_FRACTION = 0.2
MAX_POLL_SECONDS = 0.5
# How long to keep trying when execd stops answering before giving up on a command.
UNREACHABLE_SECONDS = 30.0
# After an interrupt, how long to wait for execd to report the command stopped.
STOP_WAIT_SECONDS = 5.0

# Called with an SDK error while following a command: raises `SandboxGone` when the
# sandbox no longer exists, returns when the failure may be transient.
ErrorCheck = Callable[[SandboxException], Awaitable[None]]


class Output:
    """Command output capped at `limit` bytes (UTF-8), cut on a character boundary. Raw
    log bytes are decoded incrementally, so a character split across two reads survives."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes, *, final: bool = False) -> None:
        self.add(self._decoder.decode(data, final=final))

    def add(self, text: str) -> None:
        if not text or self.truncated:
            return
        data = text.encode("utf-8", errors="surrogateescape")
        room = self.limit - self.size
        if len(data) > room:
            self.truncated = True
            text = data[:room].decode("utf-8", errors="ignore")
            data = text.encode("utf-8", errors="surrogateescape")
        self.parts.append(text)
        self.size += len(data)

    @property
    def text(self) -> str:
        return "".join(self.parts)


async def start_background(
    commands: Commands,
    script: str,
    *,
    timeout: float,
    env: Mapping[str, str] | None,
    start_timeout: float,
) -> str:
    """Start `script` detached; return execd's command id. The start itself has a deadline
    (the SDK streams it without one): once execd named the command, it is followed anyway."""
    started: list[str] = []

    async def on_init(event: ExecutionInit) -> None:
        started.append(event.id)

    opts = RunCommandOpts(
        background=True,
        timeout=timedelta(seconds=timeout + SERVER_GRACE_SECONDS),
        envs=dict(env) if env else None,
    )
    try:
        async with asyncio.timeout(start_timeout):
            execution = await commands.run(
                script, opts=opts, handlers=ExecutionHandlers(on_init=on_init)
            )
    except (SandboxException, TimeoutError) as exc:
        if started and started[0]:
            return started[0]  # execd took the command; only the start stream broke or stalled
        if isinstance(exc, TimeoutError):
            raise SandboxUnavailable(
                f"execd did not start the command in {start_timeout:g} s"
            ) from exc
        raise
    except asyncio.CancelledError:
        if started and started[0]:  # cancelled after execd took it: stop it too
            with contextlib.suppress(SandboxException, TimeoutError):
                await asyncio.wait_for(commands.interrupt(started[0]), STOP_WAIT_SECONDS)
        raise
    command_id = execution.id or (started[0] if started else None)
    if not command_id:
        raise SandboxUnavailable("execd accepted the command without returning its id")
    return command_id


async def follow(
    commands: Commands,
    command_id: str,
    *,
    timeout: float,
    limit: int,
    check: ErrorCheck,
) -> ExecResult:
    """Poll a background command until it ends or `timeout` passes (then interrupt it).
    A cancelled caller (a cancelled run) interrupts the command too."""
    try:
        return await _follow(commands, command_id, timeout=timeout, limit=limit, check=check)
    except asyncio.CancelledError:
        with contextlib.suppress(SandboxException, TimeoutError):
            await asyncio.wait_for(commands.interrupt(command_id), STOP_WAIT_SECONDS)
        raise


async def _follow(
    commands: Commands,
    command_id: str,
    *,
    timeout: float,
    limit: int,
    check: ErrorCheck,
) -> ExecResult:
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout
    output = Output(limit)
    cursor: int | None = None
    delay = FIRST_POLL_SECONDS
    failing_since: float | None = None
    log_lost = False
    while True:
        try:
            status = await commands.get_command_status(command_id)
            done = _finished(status)
            # Short commands: read the log once at the end. Long ones: as they go, so the
            # output never piles up on execd's side between two reads.
            if (done or delay >= MAX_POLL_SECONDS) and not log_lost:
                try:
                    cursor = await _read_logs(commands, command_id, cursor, output)
                except SandboxException as exc:
                    if not _client_error(exc):
                        raise
                    # execd keeps the output in the sandbox's /tmp, where the command itself
                    # may have removed it: keep following the command without it
                    log_lost = True
                    output.add("\n[the rest of the output was lost: its log file was removed]\n")
            failing_since = None
        except SandboxException as exc:
            await check(exc)  # raises SandboxGone
            now = loop.time()
            failing_since = now if failing_since is None else failing_since
            if now - failing_since > UNREACHABLE_SECONDS and now > deadline:
                raise SandboxUnavailable(f"lost track of command {command_id}: {exc}") from exc
            done = False
        if done:
            output.feed(b"", final=True)
            return ExecResult(
                output=_with_error(output, status),
                exit_code=status.exit_code,
                truncated=output.truncated,
            )
        if loop.time() >= deadline and failing_since is None:
            return await _stop(commands, command_id, cursor, output)
        await asyncio.sleep(delay)
        delay = min(
            max((loop.time() - started) * POLL_FRACTION, FIRST_POLL_SECONDS), MAX_POLL_SECONDS
        )


def _client_error(exc: SandboxException) -> bool:
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and 400 <= status < 500 and status not in (404, 408, 429)


def _finished(status: CommandStatus) -> bool:
    if status.running is None:
        return status.exit_code is not None or status.finished_at is not None
    return not status.running


def _with_error(output: Output, status: CommandStatus) -> str:
    # A command that could not start has no exit code, only execd's error message.
    if status.exit_code is None and status.error and not output.text:
        return status.error + "\n"
    return output.text


async def _read_logs(
    commands: Commands, command_id: str, cursor: int | None, output: Output
) -> int | None:
    """Read the command's log from `cursor` on, as raw bytes, never past the output cap:
    execd answers with everything from the cursor to the end of the file at once."""
    if output.truncated:
        return cursor
    http = getattr(commands, "_httpx_client", None)  # the SDK's execd client
    if not isinstance(http, httpx.AsyncClient):  # another SDK shape: its own (whole) read
        logs = await commands.get_background_command_logs(command_id, cursor)
        output.add(logs.content)
        return logs.cursor if logs.cursor is not None else cursor
    start = cursor or 0
    consumed = 0
    params = {"cursor": str(cursor)} if cursor is not None else {}
    try:
        async with http.stream("GET", f"/command/{quote(command_id)}/logs", params=params) as got:
            if got.status_code >= 400:
                body = await got.aread()
                raise SandboxApiException(
                    message=f"Get command logs failed: HTTP {got.status_code}",
                    status_code=got.status_code,
                    response_body=body,
                )
            async for chunk in got.aiter_bytes():
                room = output.limit - output.size + 4  # + a partial character
                consumed += len(chunk)
                output.feed(chunk[:room])
                if output.truncated or len(chunk) > room:
                    output.truncated = True
                    break
    except httpx.HTTPError as exc:
        raise SandboxException(f"Get command logs failed: {exc}") from exc
    return start + consumed


async def _stop(
    commands: Commands, command_id: str, cursor: int | None, output: Output
) -> ExecResult:
    """Time is up: interrupt the command (execd kills its process group), keep its output."""
    with contextlib.suppress(SandboxException):
        await commands.interrupt(command_id)
    loop = asyncio.get_running_loop()
    give_up = loop.time() + STOP_WAIT_SECONDS
    with contextlib.suppress(SandboxException):
        while loop.time() < give_up:
            if _finished(await commands.get_command_status(command_id)):
                break
            await asyncio.sleep(0.05)
        await _read_logs(commands, command_id, cursor, output)
    output.feed(b"", final=True)
    return ExecResult(
        output=output.text, exit_code=None, timed_out=True, truncated=output.truncated
    )
