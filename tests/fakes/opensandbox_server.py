"""An in-repo stand-in of an OpenSandbox server (lifecycle API + execd) over real HTTP.

Commands and files are done for real by a backing `SandboxProvider` (the local bubblewrap
provider in the tests); this server maps its own sandbox ids to backing ones and keeps what
the lifecycle API owns: metadata, expiry and state. Wire format as published in OpenSandbox's
`specs/sandbox-lifecycle.yml` and served by its FastAPI server (`server/opensandbox_server`):
everything under `/v1`, the `OPEN-SANDBOX-API-KEY` header, camelCase JSON, errors flattened
to `{code, message}`, merge-patch metadata checked against Kubernetes label rules, list
filters `state=` (repeated) and `metadata=` (a url-encoded query string), renew that sets
the expiry to whatever it is sent (earlier too), `POST /v1/metrics/events` accepted.
Endpoints point back at this server in the server-proxy form
`{host}/sandboxes/{id}/proxy/{port}`, where execd (`opensandbox_execd`) answers.

Fault controls (`server.faults`): `kill_404`, `fail_next(n, status)`, `drop_next_stream()`,
`expire(sandbox_id)`.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.fakes.opensandbox_execd import Execd, error, rfc3339
from tests.fakes.serving import Served
from warren.sandbox.opensandbox import OpenSandboxProvider
from warren.sandbox.protocol import SandboxProvider

EXECD_PORT = 44772
_LABEL = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS = re.compile(r"^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NOT_FOUND = "DOCKER::SANDBOX_NOT_FOUND"
Scope_ = Literal["any", "lifecycle", "execd"]


@dataclass
class FakeSandbox:
    id: str
    backing_id: str
    image: str
    entrypoint: list[str]
    metadata: dict[str, str]
    expires_at: datetime | None
    execd: Execd
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    state: str = "Running"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "image": {"uri": self.image},
            "status": {"state": self.state, "reason": "running", "message": "sandbox is running"},
            "metadata": dict(self.metadata),
            "entrypoint": self.entrypoint,
            "createdAt": rfc3339(self.created_at),
        }
        if self.expires_at is not None:
            body["expiresAt"] = rfc3339(self.expires_at)
        return body


class Faults:
    def __init__(self, server: FakeOpenSandbox) -> None:
        self._server = server
        self.kill_404 = False  # DELETE answers 404, as if the sandbox were deleted already
        self._failures: list[tuple[int, Scope_, str]] = []
        self._drops = 0

    def fail_next(
        self, n: int, status: int = 502, scope: Scope_ = "any", path_contains: str = ""
    ) -> None:
        """The next `n` requests (of `scope`, with `path_contains` in their path) answer
        `status` without being served."""
        self._failures.extend([(status, scope, path_contains)] * n)

    def heal(self) -> None:
        """Forget the injected failures that have not happened yet."""
        self._failures.clear()

    def drop_next_stream(self) -> None:
        """The next command stream is cut right after its `init` event."""
        self._drops += 1

    def expire(self, sandbox_id: str) -> None:
        """The sandbox reaches its expiry now; the server reaps it on the next request."""
        self._server.sandboxes[sandbox_id].expires_at = datetime.now(UTC)

    def take_failure(self, scope: Scope_, path: str) -> int | None:
        for index, (status, wanted, needle) in enumerate(self._failures):
            if wanted in ("any", scope) and needle in path:
                del self._failures[index]
                return status
        return None

    def take_drop(self) -> bool:
        if self._drops:
            self._drops -= 1
            return True
        return False


class FakeOpenSandbox:
    def __init__(self, backing: SandboxProvider, api_key: str | None) -> None:
        self.backing = backing
        self.api_key = api_key
        self.sandboxes: dict[str, FakeSandbox] = {}
        self.faults = Faults(self)
        self.requests: list[tuple[str, str]] = []  # (method, path), as received
        self.metric_events: list[dict[str, Any]] = []
        self.port = 0
        self._served: Served | None = None
        prefix = "/v1/sandboxes"
        self._lifecycle = Starlette(
            routes=[
                Route(prefix, self._list, methods=["GET"]),
                Route(prefix, self._create, methods=["POST"]),
                Route(prefix + "/{sid}", self._get, methods=["GET"]),
                Route(prefix + "/{sid}", self._delete, methods=["DELETE"]),
                Route(prefix + "/{sid}/metadata", self._patch, methods=["PATCH"]),
                Route(prefix + "/{sid}/renew-expiration", self._renew, methods=["POST"]),
                Route(prefix + "/{sid}/endpoints/{port:int}", self._endpoint, methods=["GET"]),
                Route("/v1/metrics/events", self._metrics, methods=["POST"]),
            ]
        )
        self._proxy = Starlette(
            routes=[
                Route(
                    "/sandboxes/{sid}/proxy/{port:int}/{rest:path}",
                    self._execd,
                    methods=["GET", "POST", "DELETE", "PATCH", "PUT"],
                )
            ]
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- ASGI: faults and auth first ------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        self.requests.append((scope["method"], path))
        lifecycle = path.startswith("/v1/") and "/proxy/" not in path
        status = self.faults.take_failure("lifecycle" if lifecycle else "execd", path)
        if status is not None:
            reply = error(status, "GATEWAY::UPSTREAM", f"injected HTTP {status}")
            await reply(scope, receive, send)
            return
        await self._reap()
        if lifecycle:
            key = dict(scope["headers"]).get(b"open-sandbox-api-key", b"").decode()
            if self.api_key and key != self.api_key:
                reply = error(401, "UNAUTHORIZED", "missing or invalid OPEN-SANDBOX-API-KEY")
                await reply(scope, receive, send)
                return
            await self._lifecycle(scope, receive, send)
            return
        if path.startswith("/v1/"):
            scope = {**scope, "path": path[3:]}
        await self._proxy(scope, receive, send)

    async def _reap(self) -> None:
        now = datetime.now(UTC)
        for sandbox in list(self.sandboxes.values()):
            if sandbox.expires_at is not None and sandbox.expires_at <= now:
                await self._remove(sandbox)

    async def _remove(self, sandbox: FakeSandbox) -> None:
        self.sandboxes.pop(sandbox.id, None)
        await sandbox.execd.close()
        await self.backing.kill(sandbox.backing_id)

    # -- lifecycle ------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        body = await request.json()
        image = (body.get("image") or {}).get("uri")
        entrypoint = body.get("entrypoint")
        if not image or not entrypoint or not body.get("resourceLimits"):
            return error(400, "INVALID_PARAMETER", "image, entrypoint and resourceLimits needed")
        timeout = body.get("timeout")
        if timeout is not None and (not isinstance(timeout, int) or timeout < 60):
            return error(400, "INVALID_PARAMETER", "timeout must be an integer >= 60")
        metadata = body.get("metadata") or {}
        invalid = _invalid_labels(metadata)
        if invalid:
            return error(400, "INVALID_METADATA_LABEL", invalid)
        backing = await self.backing.create({})
        sandbox_id = uuid.uuid4().hex
        expires = datetime.now(UTC) + timedelta(seconds=timeout) if timeout else None
        execd = Execd(self.backing, backing.id, self.faults.take_drop)
        sandbox = FakeSandbox(sandbox_id, backing.id, image, entrypoint, metadata, expires, execd)
        self.sandboxes[sandbox_id] = sandbox
        reply = sandbox.to_json()
        reply.pop("image")
        return JSONResponse(reply, status_code=202)

    async def _list(self, request: Request) -> Response:
        states = request.query_params.getlist("state")
        wanted: dict[str, str] = {}
        raw = request.query_params.get("metadata")
        if raw:
            try:
                wanted = dict(parse_qsl(raw, keep_blank_values=True, strict_parsing=True))
            except ValueError as exc:
                return error(400, "INVALID_METADATA_FORMAT", f"Invalid metadata format: {exc}")
        page = int(request.query_params.get("page", 1))
        size = int(request.query_params.get("pageSize", 20))
        if page < 1 or not 1 <= size <= 200:
            return error(400, "INVALID_PARAMETER", "bad page or pageSize")
        found = [
            s
            for s in sorted(self.sandboxes.values(), key=lambda s: s.created_at)
            if (not states or s.state in states)
            and all(s.metadata.get(k) == v for k, v in wanted.items())
        ]
        items = found[(page - 1) * size : page * size]
        pages = math.ceil(len(found) / size)
        pagination = {
            "page": page,
            "pageSize": size,
            "totalItems": len(found),
            "totalPages": pages,
            "hasNextPage": page < pages,
        }
        return JSONResponse({"items": [s.to_json() for s in items], "pagination": pagination})

    def _find(self, request: Request) -> FakeSandbox | Response:
        sandbox_id = request.path_params["sid"]
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None:
            return error(404, _NOT_FOUND, f"Sandbox {sandbox_id} not found.")
        return sandbox

    async def _get(self, request: Request) -> Response:
        sandbox = self._find(request)
        return sandbox if isinstance(sandbox, Response) else JSONResponse(sandbox.to_json())

    async def _delete(self, request: Request) -> Response:
        sandbox = self._find(request)
        if self.faults.kill_404:
            if not isinstance(sandbox, Response):
                await self._remove(sandbox)
            return error(404, _NOT_FOUND, f"Sandbox {request.path_params['sid']} not found.")
        if isinstance(sandbox, Response):
            return sandbox
        await self._remove(sandbox)
        return Response(status_code=204)

    async def _patch(self, request: Request) -> Response:
        sandbox = self._find(request)
        if isinstance(sandbox, Response):
            return sandbox
        patch: dict[str, str | None] = await request.json()
        invalid = _invalid_labels({k: v for k, v in patch.items() if v is not None})
        if any(k.startswith("opensandbox.io/") for k in patch) or invalid:
            return error(400, "INVALID_METADATA_LABEL", invalid or "reserved metadata key")
        for key, value in patch.items():
            if value is None:
                sandbox.metadata.pop(key, None)
            else:
                sandbox.metadata[key] = value
        return JSONResponse(sandbox.to_json())

    async def _renew(self, request: Request) -> Response:
        sandbox = self._find(request)
        if isinstance(sandbox, Response):
            return sandbox
        try:
            until = datetime.fromisoformat((await request.json())["expiresAt"])
        except (KeyError, ValueError) as exc:
            return error(400, "INVALID_PARAMETER", f"invalid expiresAt: {exc}")
        until = until if until.tzinfo else until.replace(tzinfo=UTC)
        if until <= datetime.now(UTC):
            return error(400, "DOCKER::INVALID_EXPIRATION", "expiresAt must be in the future")
        if sandbox.expires_at is None:
            return error(409, "DOCKER::INVALID_EXPIRATION", "manual cleanup: no expiration")
        sandbox.expires_at = until  # exactly as sent, even when that is earlier
        return JSONResponse({"expiresAt": rfc3339(until)})

    async def _endpoint(self, request: Request) -> Response:
        sandbox = self._find(request)
        if isinstance(sandbox, Response):
            return sandbox
        port = request.path_params["port"]
        return JSONResponse(
            {"endpoint": f"127.0.0.1:{self.port}/sandboxes/{sandbox.id}/proxy/{port}"}
        )

    async def _metrics(self, request: Request) -> Response:
        self.metric_events.append(await request.json())
        return Response(status_code=204)

    # -- execd ------------------------------------------------------------------------------

    async def _execd(self, request: Request) -> Response:
        sandbox = self._find(request)
        if isinstance(sandbox, Response):
            return sandbox
        if request.path_params["port"] != EXECD_PORT:
            return error(502, "PROXY::UPSTREAM", "nothing listens on that port")
        return await sandbox.execd.handle(request, request.path_params["rest"])

    # -- running --------------------------------------------------------------------------

    async def start(self) -> None:
        self._served = Served(self, log_level="critical", timeout_graceful_shutdown=5)
        await self._served.start()
        self.port = self._served.port

    async def stop(self) -> None:
        for sandbox in list(self.sandboxes.values()):
            await sandbox.execd.close()
        if self._served is not None:
            await self._served.stop()


def _invalid_labels(metadata: dict[str, Any]) -> str:
    """Why `metadata` breaks the server's Kubernetes label rules ('' when it does not)."""
    for key, value in metadata.items():
        prefix, _, name = key.rpartition("/")
        if (prefix and not _DNS.match(prefix)) or len(name) > 63 or not _LABEL.match(name):
            return f"Metadata key '{key}' is invalid"
        if not isinstance(value, str) or len(value) > 63 or (value and not _LABEL.match(value)):
            return f"Metadata value '{value}' is invalid"
    return ""


@asynccontextmanager
async def running_opensandbox(
    backing: SandboxProvider, *, api_key: str | None = "test-opensandbox-key"
) -> AsyncIterator[FakeOpenSandbox]:
    server = FakeOpenSandbox(backing, api_key)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def provider_for(server: FakeOpenSandbox, **overrides: Any) -> OpenSandboxProvider:
    """An `OpenSandboxProvider` talking to the stand-in (close it before the server)."""
    options: dict[str, Any] = {
        "server_url": server.url,
        "api_key": server.api_key,
        "image": "python:3.12-slim",
        "cpu": "1",
        "memory": "2Gi",
        "ttl": timedelta(hours=1),
        "request_timeout": 10.0,
        "max_output_bytes": 1024 * 1024,
        "ready_timeout": 10.0,
        **overrides,
    }
    return OpenSandboxProvider(**options)
