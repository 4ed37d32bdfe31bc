"""Real MCP servers for tests, built with the `mcp` package's FastMCP.

Run as a script, it serves over stdio (`python tests/fakes/mcp_servers.py`);
`McpHttpServer` serves the same tools over streamable HTTP with uvicorn on loopback,
optionally demanding a bearer token. The file imports nothing from `tests` so the script
runs from any working directory.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from mcp.server.fastmcp import FastMCP
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

SCRIPT = os.path.abspath(__file__)


def build_server(name: str = "demo") -> FastMCP:
    """A fresh server (a FastMCP HTTP app can only run once)."""
    server = FastMCP(name, log_level="WARNING", stateless_http=True)

    @server.tool()
    def add(a: int, b: int) -> str:
        """Add two integers."""
        return f"{a} + {b} = {a + b}"

    @server.tool()
    def read_env(variable: str) -> str:
        """Return an environment variable of the server process."""
        return os.environ.get(variable, "<unset>")

    @server.tool()
    def fail(message: str) -> str:
        """Always fails with `message`."""
        raise ValueError(message)

    @server.tool()
    async def nap(seconds: float) -> str:
        """Sleeps, then answers."""
        await asyncio.sleep(seconds)
        return "rested"

    @server.tool()
    def crash() -> str:
        """Kills the server process mid-call (stdio only)."""
        os._exit(3)

    @server.tool(name="weather.lookup")
    def look_up_weather(city: str) -> str:
        """A tool whose name is not in the model's charset."""
        return f"sunny in {city}"

    return server


class _RequireBearer:
    """ASGI middleware: 401 unless `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str, seen: list[str]) -> None:
        self.app = app
        self.token = token
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.seen.append(headers.get("authorization", ""))
            if headers.get("authorization") != f"Bearer {self.token}":
                response: Response = JSONResponse({"error": "unauthorized"}, status_code=401)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class McpHttpServer:
    """The demo server over streamable HTTP at `url` (`/mcp`), on a free loopback port."""

    def __init__(self, token: str | None = None, name: str = "demo") -> None:
        self.token = token
        self.name = name
        self.authorizations: list[str] = []
        self.port = 0
        self._served: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    async def start(self) -> None:
        app: Any = build_server(self.name).streamable_http_app()
        if self.token is not None:
            app = _RequireBearer(app, self.token, self.authorizations)
        # imported here: this file also runs as a script (the stdio server), outside `tests`
        from tests.fakes.serving import Served

        self._served = Served(app, lifespan="on", force_exit=True)
        await self._served.start()
        self.port = self._served.port

    async def stop(self) -> None:
        if self._served is not None:
            await self._served.stop()
            self._served = None


def stdio_server(**extra: Any) -> dict[str, Any]:
    """A config entry that runs this file as a stdio server with this Python."""
    return {"transport": "stdio", "command": sys.executable, "args": [SCRIPT], **extra}


if __name__ == "__main__":
    build_server(sys.argv[1] if len(sys.argv) > 1 else "demo").run("stdio")
