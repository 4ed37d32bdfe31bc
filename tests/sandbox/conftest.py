"""Sandbox fixtures: each provider, real — bubblewrap locally, and the OpenSandbox SDK against
the in-repo stand-in server (which runs commands for real through a local provider)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.fakes.opensandbox_server import FakeOpenSandbox, provider_for, running_opensandbox
from warren.sandbox.local import LocalProvider
from warren.sandbox.protocol import SandboxProvider
from warren.storage.live import LiveState
from warren.storage.local_live import local_live_state
from warren.storage.redis_live import connect_redis, redis_live_state
from warren.storage.sqlite import EVENTS_SCHEMA, Database

PROVIDERS = ["local", "opensandbox"]
SANDBOX_REDIS_DB = 5


@pytest.fixture
async def local_provider(tmp_path: Path) -> AsyncIterator[LocalProvider]:
    provider = LocalProvider(tmp_path / "sandboxes", max_output_bytes=64 * 1024)
    await provider.probe()
    assert provider.isolated, provider.problem  # the tests need real isolation
    yield provider
    await provider.aclose()


@pytest.fixture(params=PROVIDERS)
async def provider(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SandboxProvider]:
    if request.param == "local":
        local = LocalProvider(tmp_path / "sandboxes", max_output_bytes=64 * 1024)
        await local.probe()
        yield local
        return
    backing = LocalProvider(tmp_path / "backing", max_output_bytes=1024 * 1024)
    await backing.probe()
    async with running_opensandbox(backing) as server:
        opensandbox = provider_for(server, max_output_bytes=64 * 1024)
        try:
            yield opensandbox
        finally:
            await opensandbox.aclose()


@pytest.fixture(params=["local", "redis"])
async def live(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LiveState]:
    """Live state for the sandbox manager. Redis gets a database of its own, emptied first:
    the manager's leader lock and lease scans are global by design."""
    if request.param == "local":
        db = await Database.open(tmp_path / "live.sqlite3", EVENTS_SCHEMA, "NORMAL")
        try:
            yield local_live_state(db)[0]
        finally:
            await db.close()
        return
    url = urlsplit(request.getfixturevalue("redis_url"))._replace(path=f"/{SANDBOX_REDIS_DB}")
    redis = connect_redis(urlunsplit(url))
    await redis.flushdb()
    try:
        yield redis_live_state(redis)
    finally:
        await redis.flushdb()
        await redis.aclose()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[FakeOpenSandbox]:
    """The OpenSandbox stand-in, running commands through a local provider."""
    backing = LocalProvider(tmp_path / "backing")
    await backing.probe()
    async with running_opensandbox(backing) as fake:
        yield fake
