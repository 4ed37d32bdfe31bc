"""A stand-in for Tavily's search API (a fake: no web is searched), for `tavily-python`.

It speaks what `AsyncTavilyClient.search` sends and reads: `POST /search` with a JSON body
(`query`, `max_results`, ...) and `Authorization: Bearer <key>`; a 200 carries `results`
(`title`, `url`, `content`, `score`, `raw_content`), a wrong key gets Tavily's 401 body
(`{"detail": {"error": ...}}`). Tests can make it fail (`status`), stall (`delay`) or send
more results than asked for (`ignore_max_results`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.serving import Served

CORPUS_SIZE = 30


def corpus_result(index: int, query: str) -> dict[str, Any]:
    return {
        "title": f"Result {index} about {query}",
        "url": f"https://example.org/{index}",
        "content": f"Snippet {index}: what the page says about {query}.",
        "score": round(1.0 - index / 100, 3),
        "raw_content": None,
    }


class TavilyStandIn:
    """Serves Tavily's `/search`; records every request's JSON body and headers."""

    def __init__(self, api_key: str = "tvly-test-key") -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.status = 200  # anything else: answer with this status
        self.delay = 0.0  # seconds before answering
        self.ignore_max_results = False
        self.results: list[dict[str, Any]] | None = None  # None: generated per query
        self.port = 0
        self._served: Served | None = None
        self.app = Starlette(routes=[Route("/search", self._search, methods=["POST"])])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _search(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse(
                {"detail": {"error": "Unauthorized: missing or invalid API key."}},
                status_code=401,
            )
        if self.status != 200:
            return JSONResponse(
                {"detail": {"error": f"stand-in failure {self.status}"}}, status_code=self.status
            )
        query = str(body.get("query", ""))
        wanted = CORPUS_SIZE if self.ignore_max_results else int(body.get("max_results", 5))
        results = (
            self.results
            if self.results is not None
            else [corpus_result(i, query) for i in range(1, CORPUS_SIZE + 1)]
        )
        return JSONResponse(
            {
                "query": query,
                "follow_up_questions": None,
                "answer": None,
                "images": [],
                "results": results[:wanted],
                "response_time": 0.01,
                "request_id": str(uuid.uuid4()),
            }
        )

    async def start(self) -> None:
        self._served = Served(self.app, force_exit=True)  # do not wait for stalled requests
        await self._served.start()
        self.port = self._served.port

    async def stop(self) -> None:
        if self._served is not None:
            await self._served.stop()
