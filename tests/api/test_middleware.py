"""Request ids: echoed when sane, generated otherwise."""

from __future__ import annotations

import httpx


async def test_request_ids_are_echoed_or_generated(warren: str) -> None:
    async with httpx.AsyncClient(base_url=warren) as http:
        mine = await http.get("/healthz", headers={"X-Request-ID": "trace-123.a_b"})
        assert mine.headers["x-request-id"] == "trace-123.a_b"
        hostile = await http.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
        generated = hostile.headers["x-request-id"]
        assert generated != "bad id\twith spaces"
        assert len(generated) == 32
        none = await http.get("/api/nothing")
        assert len(none.headers["x-request-id"]) == 32  # errors carry one too
