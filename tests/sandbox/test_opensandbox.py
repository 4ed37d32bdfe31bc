"""The OpenSandbox provider through the real async SDK, against the in-repo stand-in server
(commands and files done for real by the local bubblewrap provider), with injected faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opensandbox import Sandbox
from opensandbox.config import ConnectionConfig
from opensandbox.exceptions import SandboxException

from tests.fakes.opensandbox_server import FakeOpenSandbox, provider_for
from warren.config import Settings
from warren.errors import ConfigError
from warren.sandbox.opensandbox import OpenSandboxProvider
from warren.sandbox.opensandbox_pool import FREE, POOL_KEY
from warren.sandbox.pip import ensure_pip
from warren.sandbox.protocol import (
    META_OWNER,
    META_THREAD,
    META_USER,
    ExecResult,
    SandboxFileError,
    SandboxGone,
    SandboxInfo,
    SandboxUnavailable,
    read_all,
)
from warren.storage.local_live import LocalRunLocks

META = {META_THREAD: "thread-1", META_USER: "user-1", META_OWNER: "warren"}


@pytest.fixture
async def provider(server: FakeOpenSandbox) -> AsyncIterator[OpenSandboxProvider]:
    opened = provider_for(server)
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
async def sandbox(provider: OpenSandboxProvider) -> SandboxInfo:
    return await provider.create(META)


async def run(provider: OpenSandboxProvider, sandbox: SandboxInfo, command: str) -> ExecResult:
    return await provider.execute(sandbox.id, command, timeout=20)


# -- lifecycle ---------------------------------------------------------------------------


async def test_create_stamps_metadata_with_a_finite_ttl(
    provider: OpenSandboxProvider, server: FakeOpenSandbox, sandbox: SandboxInfo
) -> None:
    assert dict(sandbox.metadata) == META
    assert sandbox.expires_at is not None
    expected = datetime.now(UTC) + timedelta(hours=1)
    assert abs((sandbox.expires_at - expected).total_seconds()) < 30
    assert server.sandboxes[sandbox.id].metadata == META
    assert await provider.connect(sandbox.id) == sandbox
    assert [e["eventType"] for e in server.metric_events] == ["sandbox.create"]


async def test_list_filters_by_metadata_and_skips_killed(provider: OpenSandboxProvider) -> None:
    first = await provider.create(META)
    second = await provider.create({**META, META_THREAD: "thread-2"})
    assert [s.id for s in await provider.list({META_THREAD: "thread-2"})] == [second.id]
    assert {s.id for s in await provider.list({META_OWNER: "warren"})} == {first.id, second.id}
    await provider.kill(first.id)
    assert [s.id for s in await provider.list({META_OWNER: "warren"})] == [second.id]
    assert await provider.list({META_OWNER: "someone-else"}) == []


async def test_renew_extends_but_never_shortens(
    provider: OpenSandboxProvider, server: FakeOpenSandbox, sandbox: SandboxInfo
) -> None:
    current = server.sandboxes[sandbox.id].expires_at
    assert current is not None
    earlier = datetime.now(UTC) + timedelta(minutes=10)
    assert await provider.renew(sandbox.id, earlier) == current
    assert server.sandboxes[sandbox.id].expires_at == current
    later = datetime.now(UTC) + timedelta(hours=5)
    renewed = await provider.renew(sandbox.id, later)
    assert renewed is not None
    assert abs((renewed - later).total_seconds()) < 1
    assert server.sandboxes[sandbox.id].expires_at == renewed


async def test_kill_is_idempotent(
    provider: OpenSandboxProvider, server: FakeOpenSandbox, sandbox: SandboxInfo
) -> None:
    server.faults.kill_404 = True  # deleted server-side before we asked
    await provider.kill(sandbox.id)
    assert sandbox.id not in server.sandboxes
    server.faults.kill_404 = False
    await provider.kill(sandbox.id)
    await provider.kill("no-such-sandbox")
    with pytest.raises(SandboxGone):
        await provider.connect(sandbox.id)


async def test_expired_sandbox_is_gone_everywhere(
    provider: OpenSandboxProvider, server: FakeOpenSandbox, sandbox: SandboxInfo
) -> None:
    assert (await run(provider, sandbox, "echo warm")).output == "warm\n"  # handle cached
    server.faults.expire(sandbox.id)
    with pytest.raises(SandboxGone):
        await provider.execute(sandbox.id, "echo hi", timeout=5)
    with pytest.raises(SandboxGone):
        await provider.upload(sandbox.id, "/workspace/x", b"x")
    with pytest.raises(SandboxGone):
        await read_all(provider.download(sandbox.id, "/workspace/x"))
    with pytest.raises(SandboxGone):
        await provider.renew(sandbox.id, datetime.now(UTC) + timedelta(hours=2))
    with pytest.raises(SandboxGone):
        await provider.connect(sandbox.id)
    assert await provider.list({META_THREAD: "thread-1"}) == []


async def test_transient_502_503_bursts_are_retried(
    provider: OpenSandboxProvider, server: FakeOpenSandbox, sandbox: SandboxInfo
) -> None:
    server.faults.fail_next(2, 502, scope="lifecycle")
    assert (await provider.connect(sandbox.id)).id == sandbox.id
    server.faults.fail_next(2, 503, path_contains="renew-expiration")
    assert await provider.renew(sandbox.id, datetime.now(UTC) + timedelta(hours=2)) is not None
    server.faults.fail_next(3, 503, path_contains="/command/status/")
    result = await run(provider, sandbox, "echo survived")
    assert (result.output, result.exit_code) == ("survived\n", 0)
    server.faults.fail_next(2, 502, path_contains="/files/")
    await provider.upload(sandbox.id, "/workspace/after-burst.txt", b"ok")
    assert await read_all(provider.download(sandbox.id, "/workspace/after-burst.txt")) == b"ok"
    assert server.faults.take_failure("any", "/") is None  # every injected failure was met


async def test_a_server_that_keeps_failing_is_unavailable_not_gone(
    provider: OpenSandboxProvider, server: FakeOpenSandbox, sandbox: SandboxInfo
) -> None:
    server.faults.fail_next(20, 503, scope="lifecycle")
    with pytest.raises(SandboxUnavailable):
        await provider.connect(sandbox.id)


async def test_check_reports_a_bad_key_and_a_dead_server(server: FakeOpenSandbox) -> None:
    good = provider_for(server)
    bad = provider_for(server, api_key="wrong")
    nowhere = provider_for(server, server_url="http://127.0.0.1:9")
    try:
        await good.check()
        with pytest.raises(SandboxUnavailable, match="API key"):
            await bad.check()
        with pytest.raises(SandboxUnavailable, match="not answering"):
            await nowhere.check()
    finally:
        for opened in (good, bad, nowhere):
            await opened.aclose()


def test_from_settings_needs_a_server_url(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        warren_data_dir=tmp_path,
        sandbox_provider="opensandbox",
        opensandbox_server_url="https://sandboxes.example:8443/v1/",
        opensandbox_api_key="k",
        sandbox_timeout_hours=2,
    )
    provider = OpenSandboxProvider.from_settings(settings)
    assert provider.server_url == "https://sandboxes.example:8443"
    assert provider.ttl == timedelta(hours=2)
    with pytest.raises(ConfigError):
        OpenSandboxProvider.from_settings(
            settings.model_copy(update={"opensandbox_server_url": None})
        )


# -- commands ------------------------------------------------------------------------------


async def test_multiline_output_and_exit_codes(
    provider: OpenSandboxProvider, sandbox: SandboxInfo
) -> None:
    result = await run(provider, sandbox, "printf 'one\\ntwo\\n\\n  three\\n'; exit 3")
    assert result == ExecResult(output="one\ntwo\n\n  three\n", exit_code=3)
    assert (await run(provider, sandbox, "printf 'no newline'")).output == "no newline"
    assert (await run(provider, sandbox, "true")).exit_code == 0


async def test_stdout_and_stderr_interleave_in_order(
    provider: OpenSandboxProvider, sandbox: SandboxInfo
) -> None:
    script = "echo out1; echo err1 >&2; echo out2; echo err2 >&2"
    assert (await run(provider, sandbox, script)).output == "out1\nerr1\nout2\nerr2\n"


async def test_cwd_env_and_the_default_workdir(
    provider: OpenSandboxProvider, sandbox: SandboxInfo
) -> None:
    assert (await run(provider, sandbox, "pwd")).output == "/workspace\n"
    result = await provider.execute(
        sandbox.id, 'pwd; echo "$GREETING"', timeout=10, cwd="/tmp", env={"GREETING": "a b"}
    )
    assert result.output == "/tmp\na b\n"
    missing = await provider.execute(sandbox.id, "echo never", timeout=10, cwd="/nowhere")
    assert missing.exit_code == 1
    assert "never" not in missing.output
    with pytest.raises(ValueError, match="environment"):
        await provider.execute(sandbox.id, "true", timeout=10, env={"BAD NAME": "x"})


async def test_timeout_kills_the_command(
    provider: OpenSandboxProvider, server: FakeOpenSandbox, sandbox: SandboxInfo
) -> None:
    result = await provider.execute(
        sandbox.id, "echo started; sleep 3; touch /workspace/late", timeout=1
    )
    assert result.timed_out
    assert result.exit_code is None
    assert ("DELETE", f"/sandboxes/{sandbox.id}/proxy/44772/command") in server.requests
    await asyncio.sleep(3)
    assert (await run(provider, sandbox, "test -e /workspace/late")).exit_code == 1


async def test_output_is_capped(server: FakeOpenSandbox, sandbox: SandboxInfo) -> None:
    small = provider_for(server, max_output_bytes=1000)
    try:
        result = await small.execute(sandbox.id, "head -c 5000 /dev/zero | tr '\\0' a", timeout=10)
    finally:
        await small.aclose()
    assert result.truncated
    assert result.output == "a" * 1000
    assert result.exit_code == 0


async def test_a_dropped_stream_does_not_lose_a_long_command(
    provider: OpenSandboxProvider, server: FakeOpenSandbox, sandbox: SandboxInfo
) -> None:
    server.faults.drop_next_stream()
    result = await run(provider, sandbox, "sleep 1; echo finished; exit 4")
    assert (result.output, result.exit_code) == ("finished\n", 4)


async def test_the_stand_in_streams_foreground_commands_like_execd(
    server: FakeOpenSandbox, sandbox: SandboxInfo
) -> None:
    """What the provider avoids, checked on the wire: one event per line, newline stripped,
    the exit code in an error event, and a dropped stream killing the command."""
    config = ConnectionConfig(domain=server.url, api_key=server.api_key)
    handle = await Sandbox.connect(sandbox.id, connection_config=config, skip_health_check=True)
    try:
        execution = await handle.commands.run("printf 'a\\n\\nb\\n'; exit 5")
        assert [m.text for m in execution.logs.stdout] == ["a", "\n", "b"]
        assert execution.exit_code == 5
        server.faults.drop_next_stream()
        with pytest.raises(SandboxException):
            await handle.commands.run("sleep 1; touch /workspace/survived")
        await asyncio.sleep(1.5)
        survived = await handle.commands.run("test -e /workspace/survived")
        assert survived.exit_code == 1
    finally:
        await handle.close()


# -- files ---------------------------------------------------------------------------------


async def test_upload_writes_mode_644_with_parents_and_downloads_back(
    provider: OpenSandboxProvider, sandbox: SandboxInfo
) -> None:
    data = bytes(range(256)) * 3000
    await provider.upload(sandbox.id, "/workspace/deep/er/blob.bin", data)
    mode = await run(provider, sandbox, "stat -c %a /workspace/deep/er/blob.bin")
    assert mode.output == "644\n"
    assert await read_all(provider.download(sandbox.id, "/workspace/deep/er/blob.bin")) == data
    await provider.upload(sandbox.id, "/notes.md", b"# notes\n")
    assert (await run(provider, sandbox, "cat /notes.md")).output == "# notes\n"


async def test_download_errors_come_before_the_first_chunk(
    provider: OpenSandboxProvider, sandbox: SandboxInfo
) -> None:
    missing = provider.download(sandbox.id, "/workspace/missing.txt")
    with pytest.raises(SandboxFileError) as not_found:
        await anext(missing)
    assert not_found.value.code == "file_not_found"
    with pytest.raises(SandboxFileError) as directory:
        await read_all(provider.download(sandbox.id, "/workspace"))
    assert directory.value.code == "is_directory"
    with pytest.raises(SandboxFileError) as relative:
        await provider.upload(sandbox.id, "relative.txt", b"x")
    assert relative.value.code == "invalid_path"


async def test_an_abandoned_download_releases_its_connection(
    provider: OpenSandboxProvider, sandbox: SandboxInfo
) -> None:
    await provider.upload(sandbox.id, "/workspace/big.bin", b"x" * (4 * 1024 * 1024))
    for _ in range(3):
        chunks = provider.download(sandbox.id, "/workspace/big.bin")
        assert await anext(chunks)
        await chunks.aclose()  # type: ignore[attr-defined]
    assert (await run(provider, sandbox, "echo still-fine")).output == "still-fine\n"


# -- warm pool -------------------------------------------------------------------------------


async def _free_pool(server: FakeOpenSandbox, size: int) -> list[str]:
    for _ in range(500):
        free = [s.id for s in server.sandboxes.values() if s.metadata.get(POOL_KEY) == FREE]
        if len(free) >= size:
            return free
        await asyncio.sleep(0.02)
    raise AssertionError("the warm pool never filled")


async def test_warm_pool_claims_never_share_a_sandbox(server: FakeOpenSandbox) -> None:
    locks = LocalRunLocks()  # two replicas sharing one lock
    replicas = [provider_for(server, pool_size=2, pool_lock=locks) for _ in range(2)]
    try:
        replicas[0].pool.start()  # type: ignore[union-attr]
        pooled = set(await _free_pool(server, 2))
        claims = await asyncio.gather(
            *(
                replica.create({**META, META_THREAD: f"thread-{n}"})
                for n, replica in enumerate(replicas * 2)
            )
        )
        ids = [claim.id for claim in claims]
        assert len(set(ids)) == 4
        assert pooled <= set(ids)  # both warm ones were used, the others created fresh
        for n, claim in enumerate(claims):
            assert server.sandboxes[claim.id].metadata == {**META, META_THREAD: f"thread-{n}"}
        refilled = set(await _free_pool(server, 2))
        assert not refilled & set(ids)
    finally:
        for replica in replicas:
            await replica.aclose()
    assert refilled <= set(await _free_pool(server, 2))  # shutdown leaves the pool alone


async def test_a_claim_that_outlives_its_section_gives_up_before_the_lock_can_lapse(
    server: FakeOpenSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("warren.sandbox.opensandbox_pool.SECTION_SECONDS", 0.3)
    provider = provider_for(server, pool_size=1, pool_lock=LocalRunLocks())
    try:
        provider.pool.start()  # type: ignore[union-attr]
        [warm] = await _free_pool(server, 1)
        listing = provider.list

        async def slow_list(metadata: Any) -> Any:
            await asyncio.sleep(1)  # e.g. a struggling server, retried
            return await listing(metadata)

        monkeypatch.setattr(provider, "list", slow_list)
        claimed = await provider.create({**META, META_THREAD: "thread-slow"})
        assert claimed.id != warm  # it created a fresh one instead of patching too late
        assert server.sandboxes[warm].metadata[POOL_KEY] == FREE
    finally:
        await provider.aclose()


# -- pip ---------------------------------------------------------------------------------------


async def test_ensure_pip_finds_the_images_pip(
    provider: OpenSandboxProvider, sandbox: SandboxInfo
) -> None:
    assert await ensure_pip(provider, sandbox.id)


class ScriptedProvider:
    """Answers `execute` from a script of exit codes; records the commands."""

    name = "scripted"

    def __init__(self, codes: Sequence[int | Exception]) -> None:
        self.codes = list(codes)
        self.commands: list[str] = []

    async def execute(self, sandbox_id: str, command: str, **_: Any) -> ExecResult:
        self.commands.append(command)
        code = self.codes.pop(0)
        if isinstance(code, Exception):
            raise code
        return ExecResult(output="", exit_code=code)


@pytest.mark.parametrize(
    ("codes", "ok", "steps"),
    [
        ([0], True, ["pip"]),
        ([1, 0, 0], True, ["pip", "ensurepip", "pip"]),
        ([1, 1, 0, 0], True, ["pip", "ensurepip", "apt-get", "pip"]),
        ([1, 0, 1, 0, 1], False, ["pip", "ensurepip", "pip", "apt-get", "pip"]),
        ([SandboxUnavailable("down")], False, ["pip"]),
    ],
)
async def test_ensure_pip_falls_back_and_never_raises(
    codes: list[int | Exception], ok: bool, steps: list[str]
) -> None:
    scripted = ScriptedProvider(codes)
    assert await ensure_pip(scripted, "sb") is ok  # type: ignore[arg-type]
    assert [_step(c) for c in scripted.commands] == steps


def _step(command: str) -> str:
    for marker in ("ensurepip", "apt-get", "pip"):
        if marker in command:
            return marker
    return command


async def test_a_command_that_removes_its_own_log_still_reports_its_end(
    provider: OpenSandboxProvider, sandbox: SandboxInfo
) -> None:
    started = time.monotonic()
    result = await provider.execute(
        sandbox.id, "echo before; sleep 3; rm -rf /tmp/.execd; echo after; exit 4", timeout=30
    )
    assert time.monotonic() - started < 10
    assert result.exit_code == 4
    assert result.output.startswith("before\n")
    assert "its log file was removed" in result.output


async def test_credentials_in_the_server_url_are_refused(server: FakeOpenSandbox) -> None:
    with pytest.raises(ConfigError, match="credentials"):
        provider_for(server, server_url="http://user:secret@127.0.0.1:1")


async def test_huge_output_is_read_only_up_to_the_cap(
    server: FakeOpenSandbox, sandbox: SandboxInfo
) -> None:
    capped = provider_for(server, max_output_bytes=64 * 1024)
    try:
        result = await capped.execute(sandbox.id, "yes abcdefgh | head -c 30000000", timeout=60)
    finally:
        await capped.aclose()
    assert result.truncated
    assert result.exit_code == 0
    assert 60 * 1024 <= len(result.output.encode()) <= 64 * 1024
    assert result.output.startswith("abcdefgh\nabcdefgh\n")


async def test_characters_split_between_two_log_reads_survive(
    provider: OpenSandboxProvider, sandbox: SandboxInfo
) -> None:
    script = (  # odd-sized writes: the log often ends in the middle of a character
        "import sys, time\n"
        "data = ('é' * 4097 * 40).encode()\n"
        "for start in range(0, len(data), 8191):\n"
        "    sys.stdout.buffer.write(data[start:start + 8191]); sys.stdout.flush()\n"
        "    time.sleep(0.1)\n"
    )
    await provider.upload(sandbox.id, "/workspace/accents.py", script.encode())
    result = await provider.execute(sandbox.id, "python3 /workspace/accents.py", timeout=60)
    assert result.exit_code == 0
    assert "\ufffd" not in result.output
    assert result.output == "é" * 4097 * 40


async def test_a_missing_file_costs_no_lifecycle_round_trip(
    server: FakeOpenSandbox, provider: OpenSandboxProvider, sandbox: SandboxInfo
) -> None:
    await run(provider, sandbox, "true")  # the execd handle is known
    before = len(server.requests)
    with pytest.raises(SandboxFileError):
        await read_all(provider.download(sandbox.id, "/workspace/nope.txt"))
    lifecycle = [path for _method, path in server.requests[before:] if "/v1/sandboxes" in path]
    assert lifecycle == []
