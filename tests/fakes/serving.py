"""Serve an ASGI app with uvicorn on a free loopback port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal


class Served:
    """One app on `127.0.0.1:<port>`: `await start()`, then `await stop()`.

    `force_exit` stops without waiting for requests still in flight (a stand-in holding a
    slow or stalled response); `config` is passed on to `uvicorn.Config`."""

    def __init__(
        self,
        app: Any,
        *,
        lifespan: Literal["on", "off"] = "off",
        log_level: str = "warning",
        force_exit: bool = False,
        **config: Any,
    ) -> None:
        self.app = app
        self.port = 0
        self._config = {"lifespan": lifespan, "log_level": log_level, **config}
        self._force_exit = force_exit
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        import uvicorn

        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say they are TCP
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, **self._config))
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            self._server.force_exit = self._force_exit
            await self._task
            self._server = self._task = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


@asynccontextmanager
async def served(app: Any, **options: Any) -> AsyncIterator[str]:
    """`Served` as a context manager; yields the base URL."""
    server = Served(app, **options)
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()
