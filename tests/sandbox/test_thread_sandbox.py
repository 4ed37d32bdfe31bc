"""`ThreadSandbox`: deepagents' file tools and `execute` on a real sandbox, multi-line and all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers import make_settings
from warren.sandbox.local import LocalProvider
from warren.sandbox.manager import SandboxManager
from warren.sandbox.thread_sandbox import UNAVAILABLE, NoThread, ThreadSandbox
from warren.storage.live import LiveState

TEXT = "first line\n  indented second\n\nfourth: needle here\nlast line without newline"


@pytest.fixture
async def sandbox(
    local_provider: LocalProvider, live: LiveState, tmp_path: Path
) -> AsyncIterator[ThreadSandbox]:
    async def exists(user_id: str, thread_id: str) -> bool:
        return True

    manager = SandboxManager(
        local_provider, live, make_settings(tmp_path / "data"), thread_exists=exists
    )
    yield ThreadSandbox(manager, loop=asyncio.get_running_loop()).for_thread("t1", "u1")
    await manager.aclose()  # ends its background work (a new sandbox's preparation)


async def test_file_tools_on_multi_line_content(sandbox: ThreadSandbox) -> None:
    written = await sandbox.awrite("/workspace/notes/a.md", TEXT)
    assert written.error is None
    read = await sandbox.aread("/workspace/notes/a.md")
    assert read.error is None
    assert read.file_data is not None
    assert read.file_data["content"] == TEXT
    page = await sandbox.aread("/workspace/notes/a.md", offset=1, limit=2)
    assert page.file_data is not None
    assert page.file_data["content"] == "  indented second\n"

    edited = await sandbox.aedit(
        "/workspace/notes/a.md", "  indented second\n", "replaced\nand more\n"
    )
    assert edited.error is None
    assert edited.occurrences == 1
    after = await sandbox.aread("/workspace/notes/a.md")
    assert after.file_data is not None
    assert after.file_data["content"].splitlines()[:3] == ["first line", "replaced", "and more"]

    grep = await sandbox.agrep("needle", "/workspace")
    assert grep.error is None
    assert grep.matches == [
        {"path": "/workspace/notes/a.md", "line": 5, "text": "fourth: needle here"}
    ]
    await sandbox.awrite("/workspace/notes/b.txt", "b\n")
    globbed = await sandbox.aglob("**/*.md", "/workspace")
    assert globbed.matches is not None
    assert [m["path"] for m in globbed.matches] == ["/workspace/notes/a.md"]
    listing = await sandbox.als("/workspace/notes")
    assert listing.entries is not None
    assert sorted(e["path"] for e in listing.entries) == [
        "/workspace/notes/a.md",
        "/workspace/notes/b.txt",
    ]
    assert (await sandbox.adelete("/workspace/notes/b.txt")).error is None
    assert (await sandbox.aread("/workspace/notes/b.txt")).error is not None

    ran = await sandbox.aexecute("cat /workspace/notes/a.md | wc -l; echo err >&2; exit 4")
    assert (ran.output, ran.exit_code) == ("5\nerr\n", 4)


async def test_files_written_anywhere_persist_between_calls(sandbox: ThreadSandbox) -> None:
    for path in ("/notes.md", "/workspace/x/y.txt", "/tmp/scratch.txt"):
        assert (await sandbox.awrite(path, f"{path}\nline 2\n")).error is None
    out = await sandbox.aexecute("cat /notes.md /workspace/x/y.txt /tmp/scratch.txt")
    assert out.output == "/notes.md\nline 2\n/workspace/x/y.txt\nline 2\n/tmp/scratch.txt\nline 2\n"
    [download] = await sandbox.adownload_files(["/workspace/x/y.txt"])
    assert download.content == b"/workspace/x/y.txt\nline 2\n"
    [missing] = await sandbox.adownload_files(["/workspace/nope"])
    assert missing.error == "file_not_found"
    [refused] = await sandbox.aupload_files([("/usr/bin/x", b"")])
    assert refused.error == "permission_denied"


async def test_timeouts_are_reported_to_the_model(sandbox: ThreadSandbox) -> None:
    result = await sandbox.aexecute("echo begun; sleep 30", timeout=1)
    assert result.output.startswith("begun\n")
    assert "timed out after 1 s" in result.output
    assert result.exit_code is None


async def test_sync_methods_work_from_a_worker_thread(sandbox: ThreadSandbox) -> None:
    result = await asyncio.to_thread(sandbox.execute, "printf 'a\\nb\\n'")
    assert result.output == "a\nb\n"
    [uploaded] = await asyncio.to_thread(sandbox.upload_files, [("/workspace/s.txt", b"sync")])
    assert uploaded.error is None
    with pytest.raises(RuntimeError, match="worker thread"):
        sandbox.execute("true")  # on the loop itself it would deadlock: refused


async def test_outside_a_run_there_is_no_thread(sandbox: ThreadSandbox) -> None:
    unbound = ThreadSandbox(sandbox.manager)
    with pytest.raises(NoThread):
        await unbound.aexecute("true")
    assert unbound.id == "thread-sandbox"
    assert sandbox.id == "thread:t1"


async def test_delete_runs_on_the_async_path(sandbox: ThreadSandbox) -> None:
    await sandbox.awrite("/workspace/gone.txt", "x")
    assert (await sandbox.adelete("/workspace/gone.txt")).path == "/workspace/gone.txt"
    missing = await sandbox.adelete("/workspace/gone.txt")
    assert missing.error == "Error: '/workspace/gone.txt' not found"


async def test_provider_failures_reach_the_model_without_their_details(
    live: LiveState, tmp_path: Path
) -> None:
    broken = LocalProvider(tmp_path / "broken", bwrap="/bin/false")
    await broken.probe()

    async def exists(user_id: str, thread_id: str) -> bool:
        return True

    manager = SandboxManager(broken, live, make_settings(tmp_path / "data"), thread_exists=exists)
    result = await ThreadSandbox(manager).for_thread("t1", "u1").aexecute("true")
    assert result.output == UNAVAILABLE
    assert result.exit_code == 1
