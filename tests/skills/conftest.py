"""Skill fixtures: zips built here, served by a local HTTP server the tests start and stop."""

from __future__ import annotations

import asyncio
import io
import stat
import zipfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.serving import Served

Entry = tuple[str | zipfile.ZipInfo, bytes]


HAIKU = "Writes haiku about any topic."


def skill_md(name: str, description: str = HAIKU, body: str = "") -> bytes:
    text = f"---\nname: {name}\ndescription: {description}\nlicense: MIT\n---\n\n# {name}\n\n"
    return (text + (body or "Count five, seven, five syllables.\n")).encode()


def make_zip(entries: Iterable[Entry], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def good_skill(name: str = "haiku-writer", description: str = HAIKU) -> bytes:
    script = zipfile.ZipInfo("scripts/count.sh")
    script.external_attr = (stat.S_IFREG | 0o755) << 16
    return make_zip(
        [
            ("SKILL.md", skill_md(name, description)),
            ("reference/forms.md", b"# Forms\n5-7-5\n"),
            (script, b"#!/bin/sh\necho 17\n"),
        ]
    )


def symlink(name: str, target: str) -> Entry:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


@dataclass
class FileServer:
    """Serves `files` at `/f/<name>`; `/redirect?to=` answers 302; `/big` streams without a
    length; `/slow` never finishes. Records every request's path and Host header."""

    files: dict[str, bytes] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0
    _served: Served | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        return f"{self.base}/f/{name}"

    def serve(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return self.url(name)

    def paths(self) -> list[str]:
        return [path for path, _host in self.seen]

    async def _file(self, request: Request) -> Response:
        data = self.files.get(request.path_params["name"])
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="application/zip")

    async def _redirect(self, request: Request) -> Response:
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def _big(self, request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b"\0" * (1024 * 1024)

        return StreamingResponse(chunks(), media_type="application/zip")

    async def _slow(self, request: Request) -> Response:
        await asyncio.sleep(30)
        return Response(b"late")

    async def __call__(self, scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])  # type: ignore[arg-type]
            self.seen.append((str(scope["path"]), headers.get(b"host", b"").decode()))
        await self.app(scope, receive, send)  # type: ignore[arg-type]

    async def start(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/f/{name}", self._file),
                Route("/redirect", self._redirect),
                Route("/big", self._big),
                Route("/slow", self._slow),
            ]
        )
        self._served = Served(self, force_exit=True)  # /slow may still be waiting
        await self._served.start()
        self.port = self._served.port

    async def stop(self) -> None:
        if self._served is not None:
            await self._served.stop()
            self._served = None


@pytest.fixture
async def files() -> AsyncIterator[FileServer]:
    server = FileServer()
    await server.start()
    yield server
    await server.stop()
