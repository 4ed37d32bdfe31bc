"""The local provider's isolation: what a command in a thread's sandbox can and cannot do."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from warren.sandbox.local import LocalProvider
from warren.sandbox.protocol import (
    META_OWNER,
    META_THREAD,
    META_USER,
    SandboxFileError,
    SandboxUnavailable,
    read_all,
)


def meta(thread: str) -> dict[str, str]:
    return {META_THREAD: thread, META_USER: "user", META_OWNER: "warren-test"}


async def sh(provider: LocalProvider, sandbox_id: str, command: str, timeout: float = 20) -> str:
    return (await provider.execute(sandbox_id, command, timeout=timeout)).output


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on the host's loopback that records whether anyone connected."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    connected: list[bool] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            connected.append(True)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()
    assert connected == []  # nothing from a sandbox ever reached the host


async def test_no_network_by_default(local_provider: LocalProvider, listener: int) -> None:
    box = await local_provider.create(meta("t"))
    probe = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {listener}), timeout=2)\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print('refused', exc.errno)\n"
    )
    await local_provider.upload(box.id, "/workspace/probe.py", probe.encode())
    assert (await sh(local_provider, box.id, "python3 /workspace/probe.py")).startswith("refused")
    interfaces = await sh(local_provider, box.id, "cat /proc/net/dev | tail -n +3 | cut -d: -f1")
    assert interfaces.split() == ["lo"]


async def test_runs_unprivileged_with_no_capabilities(local_provider: LocalProvider) -> None:
    box = await local_provider.create(meta("t"))
    assert (await sh(local_provider, box.id, "id -u; id -g")).split() == ["1000", "1000"]
    caps = await sh(local_provider, box.id, "grep -E '^Cap(Eff|Prm|Bnd|Amb)' /proc/self/status")
    assert [line.split()[1] for line in caps.splitlines()] == ["0000000000000000"] * 4
    host_processes = await sh(local_provider, box.id, "ls /proc | grep -c '^[0-9]'")
    assert int(host_processes) < 5  # its own pid namespace: the host's processes are invisible


async def test_host_secrets_and_other_threads_are_out_of_reach(
    local_provider: LocalProvider, tmp_path: Path
) -> None:
    mine = await local_provider.create(meta("mine"))
    theirs = await local_provider.create(meta("theirs"))
    await local_provider.upload(theirs.id, "/workspace/secret.txt", b"their secret")
    out = await sh(
        local_provider,
        mine.id,
        "cat /etc/shadow 2>&1; ls /etc; cat /etc/passwd; "
        f"ls {tmp_path} 2>&1; find / -name secret.txt 2>/dev/null; echo end",
    )
    assert "their secret" not in out
    assert "secret.txt" not in out
    assert "No such file" in out.splitlines()[0]  # /etc/shadow is not even there
    assert "sandbox:x:1000:1000::/home/sandbox:/bin/sh" in out  # its own passwd
    data_dir_line = next(line for line in out.splitlines() if str(tmp_path) in line)
    assert "No such file" in data_dir_line  # the host's data dir is not mounted
    assert out.rstrip().endswith("end")


async def test_system_directories_are_read_only(local_provider: LocalProvider) -> None:
    box = await local_provider.create(meta("t"))
    for path in ("/usr/bin/evil", "/bin/evil", "/etc/ssl/evil", "/usr/local/evil"):
        out = await sh(local_provider, box.id, f"touch {path} 2>&1; echo code=$?")
        assert out.rstrip().endswith("code=1"), (path, out)
        assert not Path(path).exists()
    with pytest.raises(SandboxFileError) as refused:
        await local_provider.upload(box.id, "/usr/bin/evil", b"x")
    assert refused.value.code == "permission_denied"


async def test_a_runaway_command_is_killed_with_its_children(local_provider: LocalProvider) -> None:
    box = await local_provider.create(meta("t"))
    marker = f"warren-runaway-{os.getpid()}-{time.monotonic_ns()}"
    sleeper = f"python3 -c 'import time; time.sleep(60)' {marker}"
    command = f"for i in 1 2 3; do {sleeper} & done; {sleeper}"
    started = time.monotonic()
    running = asyncio.create_task(local_provider.execute(box.id, command, timeout=1.5))
    await asyncio.sleep(0.8)
    assert len(_processes(marker)) >= 4  # the four sleepers (and their shell) are running
    result = await running
    assert result.timed_out
    assert time.monotonic() - started < 5
    await asyncio.sleep(0.3)
    survivors = _processes(marker)
    assert survivors == []


def _processes(marker: str) -> list[str]:
    return [pid for pid in os.listdir("/proc") if pid.isdigit() and marker in _cmdline(pid)]


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def test_host_file_access_never_follows_the_sandbox_symlinks(
    local_provider: LocalProvider, tmp_path: Path
) -> None:
    box = await local_provider.create(meta("t"))
    outside = tmp_path / "outside.txt"
    outside.write_text("host data")
    await sh(
        local_provider,
        box.id,
        f"ln -s {outside} /workspace/link; ln -s /etc /workspace/etcdir; mkfifo /workspace/fifo",
    )
    for path in ("/workspace/link", "/workspace/etcdir/hostname", "/workspace/fifo"):
        with pytest.raises(SandboxFileError) as refused:
            await read_all(local_provider.download(box.id, path))
        assert refused.value.code == "invalid_path"
    with pytest.raises(SandboxFileError):
        await local_provider.upload(box.id, "/workspace/link", b"overwritten")
    with pytest.raises(SandboxFileError):
        await local_provider.upload(box.id, "/workspace/etcdir/new", b"x")
    assert outside.read_text() == "host data"
    for bad in ("relative.txt", "/workspace/\x00x"):
        with pytest.raises(SandboxFileError) as invalid:
            await local_provider.upload(box.id, bad, b"x")
        assert invalid.value.code == "invalid_path"


async def test_a_sandbox_that_breaks_its_own_mount_points_still_runs(
    local_provider: LocalProvider,
) -> None:
    box = await local_provider.create(meta("t"))
    await sh(local_provider, box.id, "rm /bin /lib; mkdir /bin; rm -rf /workspace; chmod 000 /tmp")
    assert await sh(local_provider, box.id, "echo alive; pwd") == "alive\n/workspace\n"
    await local_provider.kill(box.id)  # even with a chmod 000 directory inside
    assert await local_provider.list({META_THREAD: "t"}) == []


async def test_without_namespaces_it_refuses_unless_the_operator_allows(tmp_path: Path) -> None:
    strict = LocalProvider(tmp_path / "strict", bwrap="/bin/false")
    await strict.probe()
    assert strict.isolated is False
    with pytest.raises(SandboxUnavailable, match="SANDBOX_LOCAL_ALLOW_UNISOLATED"):
        await strict.check()
    with pytest.raises(SandboxUnavailable):
        await strict.create(meta("t"))
    assert strict.warning is None

    loose = LocalProvider(tmp_path / "loose", bwrap="/bin/false", allow_unisolated=True)
    await loose.probe()
    await loose.check()
    assert "UNISOLATED" in (loose.warning or "")
    box = await loose.create(meta("t"))
    workspace = tmp_path / "loose" / box.id / "root" / "workspace"
    assert (await loose.execute(box.id, "pwd", timeout=5)).output == f"{workspace}\n"


async def test_a_restart_finishes_removals_and_creations_a_crash_interrupted(
    tmp_path: Path,
) -> None:
    base = tmp_path / "sandboxes"
    for leftover in (".trash-lsb-1", ".new-lsb-2"):
        (base / leftover / "root" / "workspace").mkdir(parents=True)
    kept = LocalProvider(base)
    await kept.probe()
    box = await kept.create(meta("t"))
    assert sorted(p.name for p in base.iterdir() if not p.name.startswith(".probe")) == [box.id]


async def test_killing_a_sandbox_stops_what_runs_in_it_and_removes_everything(
    local_provider: LocalProvider,
) -> None:
    box = await local_provider.create(meta("t"))
    writer = "while true; do mkdir -p /tmp/d/$$; touch /tmp/d/$$/f$RANDOM; done"
    running = asyncio.create_task(local_provider.execute(box.id, writer, timeout=60))
    await asyncio.sleep(0.5)
    await local_provider.kill(box.id)
    result = await asyncio.wait_for(running, 5)
    assert result.exit_code != 0
    assert await local_provider.list({}) == []
    assert not any(local_provider.base_dir.glob(".trash-*"))
