"""Watching a stream while it is being written: the frames land in a `Stream` the test can
poll, so it can act (cancel, disconnect, kill a server) at a chosen point of a run."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.helpers import Api, Frame, Stream, parse_sse


def live_stream() -> Stream:
    return Stream(status=0, headers=httpx.Headers())


async def follow_into(
    api: Api,
    method: str,
    url: str,
    stream: Stream,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Read a whole SSE response into `stream` (frames appear as they arrive)."""
    sent = {**api.auth(), **(headers or {})}
    async with api.http.stream(method, url, headers=sent, json=json) as response:
        stream.status = response.status_code
        await parse_sse(response.aiter_lines(), stream)


async def wait_for_frames(stream: Stream, event: str, count: int = 1, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while sum(f.event == event for f in stream.frames) < count:
            await asyncio.sleep(0.01)


def text_of(frames: list[Frame]) -> str:
    return "".join(f.data["content"] for f in frames if f.event == "message" and not f.data["ns"])


def assert_same_frames(left: list[Frame], right: list[Frame]) -> None:
    assert [(f.id, f.event, f.data) for f in left] == [(f.id, f.event, f.data) for f in right]
