"""The provider contract, run against every provider through the `SandboxProvider` protocol."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from warren.sandbox.protocol import (
    META_OWNER,
    META_THREAD,
    META_USER,
    SandboxFileError,
    SandboxGone,
    SandboxProvider,
    read_all,
)


def meta(thread: str = "thread-a", user: str = "user-a") -> dict[str, str]:
    return {META_THREAD: thread, META_USER: user, META_OWNER: "warren-test"}


async def run(provider: SandboxProvider, sandbox_id: str, command: str, timeout: float = 20):
    return await provider.execute(sandbox_id, command, timeout=timeout)


async def test_output_keeps_line_breaks_and_interleaves_stderr_in_order(
    provider: SandboxProvider,
) -> None:
    box = await provider.create(meta())
    result = await run(
        provider,
        box.id,
        "echo one; echo two >&2; sleep 0.2; echo three; printf 'no newline'",
    )
    assert result.exit_code == 0
    assert result.output == "one\ntwo\nthree\nno newline"
    assert not result.timed_out
    assert not result.truncated
    blank_lines = await run(provider, box.id, "printf 'a\\n\\n\\nb\\n'")
    assert blank_lines.output.rstrip("\n") == "a\n\n\nb"


async def test_exit_codes_cwd_and_env(provider: SandboxProvider) -> None:
    box = await provider.create(meta())
    assert (await run(provider, box.id, "exit 7")).exit_code == 7
    failing = await run(provider, box.id, "echo partial; false")
    assert (failing.exit_code, failing.output) == (1, "partial\n")
    assert (await run(provider, box.id, "pwd")).output == "/workspace\n"
    await run(provider, box.id, "mkdir -p /workspace/sub")
    moved = await provider.execute(
        box.id,
        "pwd; echo $GREETING",
        timeout=10,
        cwd="/workspace/sub",
        env={"GREETING": "hello there"},
    )
    assert moved.output == "/workspace/sub\nhello there\n"


async def test_a_timeout_kills_the_command_and_its_children(provider: SandboxProvider) -> None:
    box = await provider.create(meta())
    started = time.monotonic()
    result = await provider.execute(
        box.id, "echo started; (sleep 30; echo child > /workspace/late) & sleep 30", timeout=1.5
    )
    assert time.monotonic() - started < 10
    assert result.timed_out
    assert result.exit_code is None
    assert result.output.startswith("started")
    await asyncio.sleep(0.5)
    after = await run(
        provider, box.id, "ls /workspace/late 2>&1; ps -eo comm 2>/dev/null | grep -c sleep"
    )
    assert "No such file" in after.output
    assert after.output.strip().endswith("0")  # nothing left running


async def test_a_cancelled_command_is_killed(provider: SandboxProvider) -> None:
    box = await provider.create(meta())
    task = asyncio.create_task(
        provider.execute(box.id, "sleep 2; touch /workspace/finished", timeout=30)
    )
    await asyncio.sleep(0.7)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(2.5)
    assert (await run(provider, box.id, "ls /workspace/finished || echo missing")).output.endswith(
        "missing\n"
    )


async def test_output_over_the_cap_is_truncated(provider: SandboxProvider) -> None:
    box = await provider.create(meta())
    result = await run(provider, box.id, "yes 0123456789 | head -c 200000; echo; exit 3")
    assert result.truncated
    assert result.exit_code == 3
    assert 32 * 1024 <= len(result.output) <= 64 * 1024 + 1024


async def test_one_persistent_filesystem_like_a_container(provider: SandboxProvider) -> None:
    box = await provider.create(meta())
    write = "echo note > /notes.md; mkdir -p /workspace/d; echo x > /workspace/d/x; echo y > /tmp/y"
    assert (await run(provider, box.id, write)).exit_code == 0
    later = await run(provider, box.id, "cat /notes.md /workspace/d/x /tmp/y")
    assert later.output == "note\nx\ny\n"
    other = await provider.create(meta("thread-b"))
    assert (await run(provider, other.id, "cat /notes.md /tmp/y 2>/dev/null")).output == ""
    readonly = await run(provider, box.id, "touch /usr/bin/evil 2>&1")
    assert readonly.exit_code != 0


async def test_upload_and_download_round_trip(provider: SandboxProvider) -> None:
    box = await provider.create(meta())
    payload = bytes(range(256)) * 1000 + "\nnaïve €\n".encode()
    await provider.upload(box.id, "/workspace/deep/new/dir/blob.bin", payload)
    assert await read_all(provider.download(box.id, "/workspace/deep/new/dir/blob.bin")) == payload
    listing = await run(provider, box.id, "stat -c '%a %s' /workspace/deep/new/dir/blob.bin")
    assert listing.output == f"644 {len(payload)}\n"  # never the SDK's default 755
    await provider.upload(box.id, "/workspace/deep/new/dir/blob.bin", b"short")
    assert await read_all(provider.download(box.id, "/workspace/deep/new/dir/blob.bin")) == b"short"
    # what a command writes, download sees, and the other way round
    await run(provider, box.id, "printf 'line 1\\nline 2\\n' > /tmp/made.txt")
    assert await read_all(provider.download(box.id, "/tmp/made.txt")) == b"line 1\nline 2\n"
    await provider.upload(box.id, "/notes.md", b"# Notes\n")
    assert (await run(provider, box.id, "cat /notes.md")).output == "# Notes\n"


async def test_expected_file_failures_are_codes(provider: SandboxProvider) -> None:
    box = await provider.create(meta())
    with pytest.raises(SandboxFileError) as missing:
        await read_all(provider.download(box.id, "/workspace/missing.txt"))
    assert missing.value.code == "file_not_found"
    with pytest.raises(SandboxFileError) as directory:
        await read_all(provider.download(box.id, "/workspace"))
    assert directory.value.code == "is_directory"


async def test_list_by_metadata(provider: SandboxProvider) -> None:
    first = await provider.create(meta("thread-1", "user-1"))
    second = await provider.create(meta("thread-2", "user-1"))
    mine = {
        info.id for info in await provider.list({META_OWNER: "warren-test", META_USER: "user-1"})
    }
    assert {first.id, second.id} <= mine
    only = await provider.list({META_THREAD: "thread-2"})
    assert [info.id for info in only] == [second.id]
    assert only[0].metadata[META_USER] == "user-1"
    assert await provider.list({META_THREAD: "nobody"}) == []


async def test_connect_renew_and_kill_is_idempotent(provider: SandboxProvider) -> None:
    box = await provider.create(meta())
    info = await provider.connect(box.id)
    assert info.id == box.id
    assert info.metadata[META_THREAD] == "thread-a"
    until = datetime.now(UTC) + timedelta(hours=2)
    renewed = await provider.renew(box.id, until)
    assert renewed is None or renewed >= until - timedelta(seconds=5)
    await provider.kill(box.id)
    await provider.kill(box.id)  # already gone: still success
    with pytest.raises(SandboxGone):
        await provider.connect(box.id)
    with pytest.raises(SandboxGone):
        await run(provider, box.id, "true")
    assert box.id not in {info.id for info in await provider.list({})}
