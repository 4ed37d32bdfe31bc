"""The sandbox lifecycle: lazy creation, one sandbox per thread across replicas, reconnect,
recreation, deletion, reconciliation, renewal and reaping — over local and Redis live state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.opensandbox_server import FakeOpenSandbox, provider_for
from tests.helpers import make_settings
from warren.sandbox.files import SandboxFiles
from warren.sandbox.local import LocalProvider
from warren.sandbox.manager import LOST_MID_COMMAND, SandboxManager
from warren.sandbox.protocol import (
    META_OWNER,
    META_THREAD,
    META_USER,
    SandboxProvider,
    SandboxUnavailable,
    read_all,
)
from warren.storage.live import LiveState

OWNER = "warren"


class Events:
    """Collects the `sandbox` events a manager reports to a run."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, status: str, detail: str) -> None:
        self.seen.append(status)


def manager_for(
    provider: SandboxProvider,
    live: LiveState,
    tmp_path: Path,
    threads: set[str] | None = None,
    **settings: Any,
) -> SandboxManager:
    async def exists(user_id: str, thread_id: str) -> bool:
        return threads is None or thread_id in threads

    return SandboxManager(
        provider,
        live,
        make_settings(tmp_path / "data", **settings),
        thread_exists=exists,
        maintain_every=3600,
    )


async def test_first_use_creates_lazily_and_once_across_replicas(
    local_provider: LocalProvider, live: LiveState, tmp_path: Path
) -> None:
    replicas = [manager_for(local_provider, live, tmp_path) for _ in range(2)]
    assert await replicas[0].existing("t1") is None
    assert await local_provider.list({}) == []  # nothing is created before first use
    events = Events()
    ids = await asyncio.gather(
        *(replicas[n % 2].sandbox_for("t1", "u1", events) for n in range(10))
    )
    assert len(set(ids)) == 1
    assert [info.id for info in await local_provider.list({META_THREAD: "t1"})] == [ids[0]]
    assert events.seen == ["provisioning", "ready"]
    lease = await live.leases.get("t1")
    assert lease is not None
    assert (lease.sandbox_id, lease.user_id, lease.provider) == (ids[0], "u1", "local")
    info = await local_provider.connect(ids[0])
    assert dict(info.metadata) == {META_THREAD: "t1", META_USER: "u1", META_OWNER: OWNER}


async def test_a_restarted_server_reconnects_to_the_same_sandbox(
    local_provider: LocalProvider, live: LiveState, tmp_path: Path
) -> None:
    before = manager_for(local_provider, live, tmp_path)
    await before.execute("t1", "u1", "echo kept > /workspace/state")
    first = await before.existing("t1")
    await before.aclose()  # shutdown never kills sandboxes

    after = manager_for(local_provider, live, tmp_path)
    events = Events()
    result = await after.execute("t1", "u1", "cat /workspace/state", notify=events)
    assert result.output == "kept\n"
    assert await after.existing("t1") == first
    assert events.seen == []  # nothing was provisioned


async def test_a_lost_sandbox_is_recreated_with_setup_hooks_and_the_run_is_told(
    local_provider: LocalProvider, live: LiveState, tmp_path: Path
) -> None:
    manager = manager_for(local_provider, live, tmp_path)
    restored: list[str] = []

    async def restore_skills(user_id: str, thread_id: str, sandbox_id: str) -> None:
        restored.append(sandbox_id)
        await local_provider.upload(sandbox_id, "/skills/demo/SKILL.md", b"---\nname: demo\n---\n")

    manager.setup_hooks.append(restore_skills)
    events = Events()
    await manager.execute("t1", "u1", "echo work > /workspace/w", notify=events)
    original = await manager.existing("t1")
    await local_provider.kill(original or "")  # expired or removed behind our back

    result = await manager.execute(
        "t1", "u1", "cat /skills/demo/SKILL.md; ls /workspace", notify=events
    )
    assert result.output == "---\nname: demo\n---\n"  # skills are back; the old work is not
    replacement = await manager.existing("t1")
    assert replacement not in (None, original)
    assert restored == [original, replacement]
    assert events.seen == ["provisioning", "ready", "provisioning", "recreated"]
    lease = await live.leases.get("t1")
    assert lease is not None
    assert lease.sandbox_id == replacement

    # another replica still holding the old id finds the new sandbox through the lease
    other = manager_for(local_provider, live, tmp_path)
    other._known["t1"] = original or ""
    assert (await other.execute("t1", "u1", "echo ok")).output == "ok\n"
    assert await other.existing("t1") == replacement


async def test_destroy_leaves_no_sandbox_and_no_lease(
    local_provider: LocalProvider, live: LiveState, tmp_path: Path
) -> None:
    manager = manager_for(local_provider, live, tmp_path)
    await manager.execute("t1", "u1", "true")
    stray = await local_provider.create({META_THREAD: "t1", META_USER: "u1", META_OWNER: OWNER})
    await manager.execute("t2", "u1", "true")
    await manager.destroy("t1")
    assert await local_provider.list({META_THREAD: "t1"}) == []
    assert stray.id not in {info.id for info in await local_provider.list({})}
    assert await live.leases.get("t1") is None
    assert await manager.existing("t1") is None
    assert await live.leases.get("t2") is not None  # other threads are untouched
    with pytest.raises(Exception, match="gone"):
        await read_all(manager.download("t1", "/workspace/x"))


async def test_reconcile_adopts_kills_orphans_and_drops_dead_leases(
    local_provider: LocalProvider, live: LiveState, tmp_path: Path
) -> None:
    manager = manager_for(local_provider, live, tmp_path, threads={"kept", "leased"})

    def stamp(thread: str) -> dict[str, str]:
        return {META_THREAD: thread, META_USER: "u1", META_OWNER: OWNER}

    lost_lease = await local_provider.create(stamp("kept"))  # e.g. Redis was flushed
    deleted_thread = await local_provider.create(stamp("deleted"))  # thread deleted meanwhile
    foreign = await local_provider.create({META_THREAD: "x", META_USER: "u", META_OWNER: "other"})
    await manager.execute("leased", "u1", "true")
    dead = await manager.existing("leased")
    await local_provider.kill(dead or "")

    counts = await manager.reconcile()
    assert counts == {"adopted": 1, "killed": 1, "dropped": 1}
    lease = await live.leases.get("kept")
    assert lease is not None
    assert lease.sandbox_id == lost_lease.id
    live_ids = {info.id for info in await local_provider.list({})}
    assert deleted_thread.id not in live_ids
    assert foreign.id in live_ids  # another installation's sandbox is not ours to touch
    assert await live.leases.get("leased") is None
    assert await manager.reconcile() == {"adopted": 0, "killed": 0, "dropped": 0}


async def test_idle_sandboxes_are_reaped_by_setting(
    local_provider: LocalProvider, live: LiveState, tmp_path: Path
) -> None:
    manager = manager_for(local_provider, live, tmp_path, sandbox_idle_reap_hours=1)
    await manager.execute("idle", "u1", "true")
    await manager.execute("busy", "u1", "true")
    idle = await live.leases.get("idle")
    assert idle is not None
    await live.leases.put(
        type(idle)(**{**_fields(idle), "last_used_at": datetime.now(UTC) - timedelta(hours=2)})
    )
    counts = await manager.maintain()
    assert counts["reaped"] == 1
    assert await live.leases.get("idle") is None
    assert await local_provider.list({META_THREAD: "idle"}) == []
    assert await live.leases.get("busy") is not None
    events = Events()  # the thread can still work: it gets a new sandbox
    assert (await manager.execute("idle", "u1", "echo back", notify=events)).output == "back\n"
    assert events.seen == ["provisioning", "ready"]


def _fields(lease: Any) -> dict[str, Any]:
    return {name: getattr(lease, name) for name in lease.__dataclass_fields__}


@pytest.fixture
async def opensandbox(server: FakeOpenSandbox) -> AsyncIterator[SandboxProvider]:
    provider = provider_for(server, ttl=timedelta(hours=1))
    try:
        yield provider
    finally:
        await provider.aclose()


async def test_a_sandbox_expired_mid_thread_is_recreated(
    server: FakeOpenSandbox, opensandbox: SandboxProvider, live: LiveState, tmp_path: Path
) -> None:
    manager = manager_for(opensandbox, live, tmp_path)
    events = Events()
    await manager.execute("t1", "u1", "echo 1 > /workspace/one", notify=events)
    first = await manager.existing("t1")
    server.faults.expire(first or "")
    result = await manager.execute("t1", "u1", "ls /workspace; echo alive", notify=events)
    assert result.output == "alive\n"
    assert await manager.existing("t1") not in (None, first)
    assert events.seen == ["provisioning", "ready", "provisioning", "recreated"]


async def test_a_provider_outage_is_reported_and_does_not_block_thread_deletion(
    server: FakeOpenSandbox, opensandbox: SandboxProvider, live: LiveState, tmp_path: Path
) -> None:
    threads = {"t1", "t2"}
    manager = manager_for(opensandbox, live, tmp_path, threads=threads)
    events = Events()
    server.faults.fail_next(20, status=503, scope="lifecycle")
    with pytest.raises(SandboxUnavailable):
        await manager.execute("t2", "u1", "true", notify=events)
    assert events.seen[-1] == "failed"
    assert "ready" not in events.seen
    assert await live.leases.get("t2") is None
    server.faults.heal()

    await manager.execute("t1", "u1", "true")
    await asyncio.gather(*manager._background)  # the new sandbox's pip setup: not mid-outage
    sandbox_id = await manager.existing("t1")
    server.faults.fail_next(50, status=503, scope="lifecycle")
    await manager.destroy("t1")  # the server is down: the deletion goes on
    threads.discard("t1")
    assert await live.leases.get("t1") is None
    server.faults.heal()
    assert sandbox_id in {info.id for info in await opensandbox.list({})}  # still there ...
    assert (await manager.reconcile())["killed"] == 1  # ... until the server is back
    assert sandbox_id not in {info.id for info in await opensandbox.list({})}


async def test_one_leader_renews_leases_before_they_expire(
    opensandbox: SandboxProvider, live: LiveState, tmp_path: Path
) -> None:
    first = manager_for(opensandbox, live, tmp_path, sandbox_timeout_hours=1)
    second = manager_for(opensandbox, live, tmp_path, sandbox_timeout_hours=1)
    await first.execute("t1", "u1", "true")
    lease = await live.leases.get("t1")
    assert lease is not None
    assert lease.expires_at is not None
    assert await first.maintain() == {"renewed": 0, "reaped": 0, "dropped": 0}  # not due yet

    soon = datetime.now(UTC) + timedelta(minutes=10)  # less than half the TTL left
    await live.leases.put(type(lease)(**{**_fields(lease), "expires_at": soon}))
    assert await live.mutex.acquire("sandbox-renewer", "someone-else", 30)
    assert (await second.maintain())["renewed"] == 0  # not the leader: does nothing
    assert await live.mutex.release("sandbox-renewer", "someone-else")
    assert (await second.maintain())["renewed"] == 1
    renewed = await live.leases.get("t1")
    assert renewed is not None
    assert renewed.expires_at is not None
    assert renewed.expires_at > datetime.now(UTC) + timedelta(minutes=50)
    info = await opensandbox.connect(lease.sandbox_id)
    assert info.expires_at is not None
    assert abs((info.expires_at - renewed.expires_at).total_seconds()) < 5


async def test_per_thread_caches_stay_bounded(
    local_provider: LocalProvider, live: LiveState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("warren.sandbox.manager.CACHE_LIMIT", 3)
    manager = manager_for(local_provider, live, tmp_path)
    first = {f"t{n}": await manager.sandbox_for(f"t{n}", "u1") for n in range(8)}
    assert len(manager._known) <= 3
    assert len(manager._local) <= 3
    again = {f"t{n}": await manager.sandbox_for(f"t{n}", "u1") for n in range(8)}
    assert again == first  # forgotten threads come back through their leases
    assert len(await local_provider.list({})) == 8


async def test_a_command_whose_sandbox_dies_under_it_is_never_run_twice(
    server: FakeOpenSandbox, opensandbox: SandboxProvider, live: LiveState, tmp_path: Path
) -> None:
    manager = manager_for(opensandbox, live, tmp_path)
    events = Events()
    await manager.execute("t1", "u1", "true", notify=events)
    first = await manager.existing("t1")
    running = asyncio.create_task(
        manager.execute("t1", "u1", "touch /workspace/ran; sleep 3", notify=events)
    )
    await asyncio.sleep(1)
    server.faults.expire(first or "")
    result = await running
    assert result.output == LOST_MID_COMMAND
    assert result.exit_code is None
    assert events.seen[-2:] == ["provisioning", "recreated"]
    check = await manager.execute("t1", "u1", "ls /workspace/ran 2>&1 || echo absent")
    assert check.output.endswith("absent\n")  # the new sandbox never ran it


async def test_reconcile_kills_the_leased_sandbox_of_a_deleted_thread(
    local_provider: LocalProvider, live: LiveState, tmp_path: Path
) -> None:
    threads = {"t1", "t2"}
    manager = manager_for(local_provider, live, tmp_path, threads=threads)
    await manager.execute("t1", "u1", "true")
    await manager.execute("t2", "u1", "true")
    doomed = await manager.existing("t1")
    threads.discard("t1")  # deleted while a late upload re-created its sandbox, say
    assert (await manager.reconcile())["killed"] == 1
    assert await live.leases.get("t1") is None
    assert doomed not in {info.id for info in await local_provider.list({})}
    assert await live.leases.get("t2") is not None
    with pytest.raises(SandboxUnavailable, match="no longer exists"):
        await manager.execute("t1", "u1", "true")  # and nothing re-creates it
    assert await local_provider.list({META_THREAD: "t1"}) == []


async def test_reconcile_leaves_a_creation_in_progress_alone(
    local_provider: LocalProvider, live: LiveState, tmp_path: Path
) -> None:
    manager = manager_for(local_provider, live, tmp_path)
    stamped = {META_THREAD: "t1", META_USER: "u1", META_OWNER: OWNER}
    fresh = await local_provider.create(stamped)  # created, lease not written yet
    assert await live.mutex.acquire("sandbox:t1", "another-replica", 30)
    assert await manager.reconcile() == {"adopted": 0, "killed": 0, "dropped": 0}
    assert fresh.id in {info.id for info in await local_provider.list({})}
    assert await live.mutex.release("sandbox:t1", "another-replica")
    assert (await manager.reconcile())["adopted"] == 1


async def test_a_replica_with_a_stale_sandbox_id_finds_the_new_one_for_files(
    local_provider: LocalProvider, live: LiveState, tmp_path: Path
) -> None:
    one = manager_for(local_provider, live, tmp_path)
    other = manager_for(local_provider, live, tmp_path)
    await one.upload("t1", "u1", "/workspace/old.txt", b"old")
    await other.existing("t1")
    other._known["t1"] = (await one.existing("t1")) or ""
    await local_provider.kill(other._known["t1"])
    await one.upload("t1", "u1", "/workspace/report.md", b"# new")  # recreated by `one`
    listing = await SandboxFiles(other, 1024).list_dir("t1", "/workspace")
    assert [entry.name for entry in listing.entries] == ["report.md"]
    assert await read_all(other.download("t1", "/workspace/report.md")) == b"# new"
