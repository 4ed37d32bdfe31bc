"""Sandbox fixtures: each provider, real — bubblewrap locally, and the OpenSandbox SDK against
the in-repo stand-in server (which runs commands for real through a local provider)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.opensandbox_server import provider_for, running_opensandbox
from warren.sandbox.local import LocalProvider
from warren.sandbox.protocol import SandboxProvider

PROVIDERS = ["local", "opensandbox"]


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
