"""The sandbox layer as the app builds it from settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fakes.opensandbox_server import FakeOpenSandbox, running_opensandbox
from tests.helpers import make_settings
from warren.sandbox.factory import open_sandboxes
from warren.sandbox.local import LocalProvider
from warren.sandbox.opensandbox_pool import FREE, POOL_KEY
from warren.storage.live import LiveState


async def free_pool(server: FakeOpenSandbox) -> list[str]:
    return [s.id for s in server.sandboxes.values() if s.metadata.get(POOL_KEY) == FREE]


async def wait_for_pool(server: FakeOpenSandbox, size: int) -> list[str]:
    for _ in range(200):
        free = await free_pool(server)
        if len(free) == size:
            return free
        await asyncio.sleep(0.05)
    raise AssertionError(f"the warm pool never reached {size}: {server.sandboxes}")


async def test_the_warm_pool_fills_at_startup_and_serves_a_new_thread(
    live: LiveState, tmp_path: Path
) -> None:
    backing = LocalProvider(tmp_path / "backing")
    await backing.probe()
    async with running_opensandbox(backing) as server:
        settings = make_settings(
            tmp_path / "data",
            sandbox_provider="opensandbox",
            opensandbox_server_url=server.url,
            opensandbox_api_key=server.api_key,
            opensandbox_warm_pool_size=1,
        )

        async def exists(user_id: str, thread_id: str) -> bool:
            return True

        async with open_sandboxes(settings, live, exists) as manager:
            [warm] = await wait_for_pool(server, 1)  # before anyone asked for a sandbox
            result = await manager.execute("thread-1", "user-1", "echo hello")
            assert result.output == "hello\n"
            assert await manager.existing("thread-1") == warm
            claimed = server.sandboxes[warm].metadata
            assert claimed["thread_id"] == "thread-1"
            assert POOL_KEY not in claimed
            [refill] = await wait_for_pool(server, 1)
            assert refill != warm
