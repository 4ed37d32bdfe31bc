"""The OpenAPI document is the contract for API clients: it must describe what is served."""

from __future__ import annotations

from typing import Any

import httpx

EXPECTED = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/api/auth/config"),
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/me"),
    ("post", "/api/auth/api-keys"),
    ("get", "/api/auth/api-keys"),
    ("delete", "/api/auth/api-keys/{key_id}"),
    ("post", "/api/threads"),
    ("get", "/api/threads"),
    ("get", "/api/threads/{thread_id}"),
    ("patch", "/api/threads/{thread_id}"),
    ("delete", "/api/threads/{thread_id}"),
    ("get", "/api/threads/{thread_id}/state"),
    ("post", "/api/threads/{thread_id}/runs"),
    ("get", "/api/threads/{thread_id}/runs"),
    ("post", "/api/threads/{thread_id}/runs/stream"),
    ("get", "/api/threads/{thread_id}/runs/{run_id}"),
    ("get", "/api/threads/{thread_id}/runs/{run_id}/stream"),
    ("post", "/api/threads/{thread_id}/runs/{run_id}/cancel"),
    ("get", "/api/threads/{thread_id}/files"),
    ("get", "/api/threads/{thread_id}/files/content"),
    ("post", "/api/threads/{thread_id}/files"),
}
PUBLIC = {
    "/healthz",
    "/readyz",
    "/api/auth/config",
    "/api/auth/register",
    "/api/auth/login",
    "/api/auth/refresh",
    "/api/auth/logout",
}


async def test_openapi_lists_every_route_with_its_security(warren: str) -> None:
    async with httpx.AsyncClient(base_url=warren) as http:
        spec: dict[str, Any] = (await http.get("/openapi.json")).json()
    served = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert served == EXPECTED
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for method, path in EXPECTED:
        secured = "security" in spec["paths"][path][method]
        assert secured == (path not in PUBLIC), (method, path)
    streams = [
        spec["paths"][p][m]["responses"]["200"]["content"]
        for m, p in EXPECTED
        if p.endswith("/stream")
    ]
    assert all("text/event-stream" in content for content in streams)
    # errors are documented with the shape they really have
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for method, path in EXPECTED - {("get", "/healthz"), ("get", "/readyz")}:
        responses = spec["paths"][path][method]["responses"]
        assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/InvalidRequestBody"
        )
        assert responses["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorBody"
        )
    busy = spec["paths"]["/api/threads/{thread_id}/runs/stream"]["post"]["responses"]["409"]
    assert busy["description"] == "the thread already has an active run"
    upload = spec["paths"]["/api/threads/{thread_id}/files"]["post"]["requestBody"]
    assert "multipart/form-data" in upload["content"]
    download = spec["paths"]["/api/threads/{thread_id}/files/content"]["get"]["responses"]
    assert "application/octet-stream" in download["200"]["content"]
    run_body = spec["components"]["schemas"]["RunCreate"]
    assert run_body["required"] == ["messages"]
    assert run_body["additionalProperties"] is False
