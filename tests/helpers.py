"""Test helpers: a running Warren on a real port, an API client, an SSE parser."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.serving import served
from warren.app import create_app
from warren.config import Settings


def make_settings(
    data_dir: Path,
    *,
    backend: str = "embedded",
    redis_url: str | None = None,
    mongo_uri: str | None = None,
    mongo_db_name: str = "warren",
    **overrides: Any,
) -> Settings:
    """Hermetic settings: every storage and model field explicit, no `.env`."""
    values: dict[str, Any] = {
        "warren_data_dir": data_dir,
        "mongo_uri": None,
        "redis_url": None,
        "mongo_db_name": mongo_db_name,
        "model_provider": "openai",
        "model_name": "gpt-test",
        "model_base_url": None,
        "model_api_key": None,
        "model_extra_names": [],
        "model_max_retries": 0,
        "jwt_secret_key": None,
        "warren_log_format": "console",
        "cors_origins": [],
    }
    values["mongo_uri"] = mongo_uri
    values["redis_url"] = redis_url
    if backend == "production":
        values["jwt_secret_key"] = "test-secret-" + "x" * 40
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running_warren(settings: Settings) -> AsyncIterator[str]:
    """Serve `create_app(settings)` with uvicorn on a free loopback port; yield its URL."""
    async with served(create_app(settings), lifespan="on") as url:
        yield url


@dataclass
class Frame:
    id: str | None
    event: str | None
    data: dict[str, Any]


@dataclass
class Stream:
    status: int
    headers: httpx.Headers
    frames: list[Frame] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    body: Any = None

    @property
    def types(self) -> list[str]:
        return [f.event or "" for f in self.frames]


async def parse_sse(
    lines: AsyncIterator[str], stream: Stream, stop_after: int | None = None
) -> None:
    event: str | None = None
    event_id: str | None = None
    data: list[str] = []
    async for line in lines:
        if line.startswith(":"):
            stream.comments.append(line[1:].strip())
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif line == "" and (data or event):
            stream.frames.append(Frame(event_id, event, json.loads("\n".join(data))))
            event, event_id, data = None, None, []
            if stop_after is not None and len(stream.frames) >= stop_after:
                return


class Api:
    """A thin client for Warren's HTTP API, as an API user would write one."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30)

    async def aclose(self) -> None:
        await self.http.aclose()

    def auth(self, token: str | None = None) -> dict[str, str]:
        token = token or self.token
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth(), **kwargs.pop("headers", {})}
        return await self.http.request(method, url, headers=headers, **kwargs)

    async def register(
        self, username: str | None = None, password: str = "correct horse 1"
    ) -> dict[str, Any]:
        username = username or f"user-{uuid.uuid4().hex[:8]}"
        response = await self.http.post(
            "/api/auth/register", json={"username": username, "password": password}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        self.token = body["access_token"]
        return body

    async def new_thread(self, **body: Any) -> dict[str, Any]:
        response = await self.request("POST", "/api/threads", json=body)
        assert response.status_code == 201, response.text
        thread: dict[str, Any] = response.json()
        return thread

    async def stream(
        self, method: str, url: str, stop_after: int | None = None, **kwargs: Any
    ) -> Stream:
        headers = {**self.auth(), **kwargs.pop("headers", {})}
        async with self.http.stream(method, url, headers=headers, **kwargs) as response:
            result = Stream(status=response.status_code, headers=response.headers)
            if response.status_code != 200:
                await response.aread()
                result.body = response.json()
                return result
            await parse_sse(response.aiter_lines(), result, stop_after)
            return result

    async def run_stream(self, thread_id: str, text: str, **extra: Any) -> Stream:
        body = {"messages": [{"role": "user", "content": text}], **extra}
        return await self.stream("POST", f"/api/threads/{thread_id}/runs/stream", json=body)


@asynccontextmanager
async def registered_api(settings: Settings) -> AsyncIterator[Api]:
    """A running Warren and an `Api` signed in as a newly registered user."""
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        try:
            yield api
        finally:
            await api.aclose()
