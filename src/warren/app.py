"""`create_app()`: the FastAPI app and its lifespan, which builds every client once."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from warren import __version__
from warren.agent.builder import Agents
from warren.api import auth, downloads, files, health, runs, threads
from warren.api import metrics as metrics_api
from warren.api import skills as skills_api
from warren.api.errors import install_error_handlers
from warren.api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from warren.api.sse import json_errors_for_streams
from warren.auth.service import AuthService
from warren.auth.tokens import TokenCodec
from warren.config import Settings, ensure_jwt_secret
from warren.logs import get_logger
from warren.metrics import Metrics
from warren.runs.manager import RunManager
from warren.sandbox.factory import open_sandboxes
from warren.sandbox.files import SandboxFiles
from warren.sandbox.thread_sandbox import ThreadSandbox
from warren.services import Services
from warren.storage.factory import Storage, open_storage
from warren.threads import ThreadService
from warren.tools import ToolDeps, open_toolbox
from warren.web import default_client_dir, mount_client

log = get_logger(__name__)

UPLOAD_ROUTE = re.compile(r"^/api/threads/[^/]+/files$")

MAINTENANCE_INTERVAL_SECONDS = 600.0


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    secret = ensure_jwt_secret(settings)
    async with (
        open_storage(settings) as storage,
        open_sandboxes(settings, storage.live, _thread_exists(storage)) as sandboxes,
        open_toolbox(ToolDeps(settings, storage, sandboxes, secret)) as toolbox,
    ):
        sandbox = ThreadSandbox(
            sandboxes,
            loop=asyncio.get_running_loop(),
            document_max_bytes=settings.document_max_bytes,
        )
        agents = Agents(
            settings,
            storage.checkpointer,
            storage.store,
            sandbox,
            toolbox.tools,
            skills=storage.records.skills,
        )
        metrics: Metrics = app.state.metrics
        sandboxes.on_created.append(metrics.sandbox_create.observe)
        run_manager = RunManager(agents, storage, settings, metrics)
        recovered = await run_manager.recover_orphans()
        sweeping = asyncio.create_task(run_manager.sweep_forever())
        services = Services(
            settings=settings,
            storage=storage,
            agents=agents,
            auth=AuthService(storage.records, storage.live.throttle, TokenCodec(secret), settings),
            threads=ThreadService(storage, agents, run_manager, sandboxes),
            runs=run_manager,
            sandboxes=sandboxes,
            files=SandboxFiles(sandboxes, settings.sandbox_max_upload_bytes),
            toolbox=toolbox,
        )
        maintenance = asyncio.create_task(_maintain(services))
        app.state.services = services
        log.info(
            "warren ready",
            deployment=settings.deployment.value,
            sandbox_provider=sandboxes.provider.name,
            model=settings.model_name if agents.configured else None,
            model_configured=agents.configured,
            recovered_runs=recovered,
        )
        if not agents.configured:
            log.warning("no model is configured: set MODEL_API_KEY; runs will fail until then")
        try:
            yield
        finally:
            app.state.services = None
            maintenance.cancel()
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await maintenance
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping
            await run_manager.shutdown()
            await agents.aclose()
            log.info("warren stopped")


def _thread_exists(storage: Storage) -> Callable[[str, str], Awaitable[bool]]:
    async def exists(user_id: str, thread_id: str) -> bool:
        return await storage.records.threads.get(user_id, thread_id) is not None

    return exists


async def _maintain(services: Services) -> None:
    while True:
        for task in services.storage.maintenance:
            try:
                await task()
            except Exception:
                log.exception("maintenance task failed")
        await asyncio.sleep(MAINTENANCE_INTERVAL_SECONDS)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="Warren",
        version=__version__,
        summary="A self-hosted deep-agent server: threads, runs streamed over SSE, sandboxes.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = None
    app.state.metrics = Metrics()  # one registry per app instance
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = json_errors_for_streams(default_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics_api.router)
    app.include_router(auth.router)
    app.include_router(threads.router)
    app.include_router(runs.router)
    app.include_router(files.router)
    app.include_router(downloads.router)
    app.include_router(skills_api.router)
    mount_client(app, settings.warren_client_dir or default_client_dir())  # last: a catch-all
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.warren_max_body_bytes,
        # uploads carry files: their own cap, plus room for the multipart framing
        overrides=[(UPLOAD_ROUTE, settings.sandbox_max_upload_bytes + 64 * 1024)],
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(RequestIdMiddleware)
    return app
