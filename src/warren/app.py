"""`create_app()`: the FastAPI app, its lifespan (every client built once) and error rendering."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warren import __version__
from warren.agent.builder import Agents
from warren.api import auth, health, runs, threads
from warren.auth.service import AuthService
from warren.auth.tokens import TokenCodec
from warren.config import Settings, ensure_jwt_secret
from warren.errors import TooManyRequests, Unauthorized, WarrenError
from warren.logs import get_logger
from warren.runs.manager import RunManager
from warren.services import Services
from warren.storage.factory import open_storage
from warren.threads import ThreadService

log = get_logger(__name__)

MAINTENANCE_INTERVAL_SECONDS = 600.0
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    secret = ensure_jwt_secret(settings)
    async with open_storage(settings) as storage:
        agents = Agents(settings, storage.checkpointer, storage.store)
        run_manager = RunManager(agents, storage, settings)
        recovered = await run_manager.recover_orphans()
        services = Services(
            settings=settings,
            storage=storage,
            agents=agents,
            auth=AuthService(storage.records, storage.live.throttle, TokenCodec(secret), settings),
            threads=ThreadService(storage, agents, run_manager),
            runs=run_manager,
        )
        maintenance = asyncio.create_task(_maintain(services))
        app.state.services = services
        log.info(
            "warren ready",
            deployment=settings.deployment.value,
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
            with contextlib.suppress(asyncio.CancelledError):
                await maintenance
            await run_manager.shutdown()
            await agents.aclose()
            log.info("warren stopped")


async def _maintain(services: Services) -> None:
    while True:
        for task in services.storage.maintenance:
            try:
                await task()
            except Exception:
                log.exception("maintenance task failed")
        await asyncio.sleep(MAINTENANCE_INTERVAL_SECONDS)


class RequestIdMiddleware:
    """Binds a request id to the logs of a request and returns it as `X-Request-ID`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """Refuses request bodies over a cap with 413 before any handler reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(self.max_bytes)(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"error": "body_too_large", "detail": f"request bodies are limited to {limit} bytes"},
        status_code=413,
    )


def _error_response(exc: WarrenError) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        {"error": exc.code, "detail": exc.detail}, status_code=exc.status, headers=headers
    )


def _validation_detail(errors: list[Any]) -> str:
    parts = []
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is not valid"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WarrenError)
    async def warren_error(_request: Request, exc: WarrenError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        safe = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in errors
        ]
        return JSONResponse(
            {
                "error": "invalid_request",
                "detail": _validation_detail(list(errors)),
                "errors": safe,
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return JSONResponse(
            {"error": codes.get(exc.status_code, "http_error"), "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return JSONResponse(
            {"error": "internal_error", "detail": "the server failed to handle this request"},
            status_code=500,
        )


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
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(threads.router)
    app.include_router(runs.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.warren_max_body_bytes)
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
