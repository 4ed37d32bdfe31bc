"""Builds the sandbox provider and manager from settings, once, for the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from warren.config import Settings
from warren.logs import get_logger
from warren.sandbox.local import LocalProvider
from warren.sandbox.manager import SandboxManager, ThreadExists
from warren.sandbox.protocol import SandboxProvider, SandboxUnavailable
from warren.storage.live import LiveState

log = get_logger(__name__)

SANDBOXES_DIR = "sandboxes"


async def build_provider(settings: Settings, live: LiveState) -> SandboxProvider:
    if settings.sandbox_provider == "opensandbox":
        from warren.sandbox.opensandbox import OpenSandboxProvider

        opensandbox = OpenSandboxProvider.from_settings(settings, pool_lock=live.mutex)
        if opensandbox.pool is not None:
            opensandbox.pool.start()  # fill the warm pool from startup, in the background
        return opensandbox
    provider = LocalProvider(
        settings.warren_data_dir / SANDBOXES_DIR,
        network=settings.sandbox_local_network,
        allow_unisolated=settings.sandbox_local_allow_unisolated,
        memory_mb=settings.sandbox_local_memory_mb,
        max_processes=settings.sandbox_local_max_processes,
        max_output_bytes=settings.sandbox_max_output_bytes,
        bwrap=settings.sandbox_local_bwrap,
    )
    await provider.probe()
    if settings.redis_url is not None:
        log.warning(
            "the local sandbox provider keeps sandboxes on this machine's disk: run one replica, "
            "or use SANDBOX_PROVIDER=opensandbox to serve from several"
        )
    return provider


def provider_warning(provider: SandboxProvider) -> str | None:
    """What `/readyz` must say loudly about the provider, if anything."""
    warning = getattr(provider, "warning", None)
    return warning if isinstance(warning, str) else None


@asynccontextmanager
async def open_sandboxes(
    settings: Settings, live: LiveState, thread_exists: ThreadExists
) -> AsyncIterator[SandboxManager]:
    provider = await build_provider(settings, live)
    manager = SandboxManager(provider, live, settings, thread_exists=thread_exists)
    try:
        await manager.reconcile_as_leader()  # one replica at a time, even at a rolling start
    except SandboxUnavailable as exc:  # the provider may come back; runs will retry
        log.error("could not reconcile sandboxes at startup", error=str(exc))
    loop = asyncio.create_task(manager.run_maintenance())
    try:
        yield manager
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        await manager.aclose()
