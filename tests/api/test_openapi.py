"""The OpenAPI document is the contract for API clients: it must describe what is served."""

from __future__ import annotations

from typing import Any

import httpx

EXPECTED = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
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
    ("get", "/api/skills"),
    ("post", "/api/skills"),
    ("delete", "/api/skills/{name}"),
    ("get", "/api/downloads/{token}"),
}
PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/auth/config",
    "/api/auth/register",
    "/api/auth/login",
    "/api/auth/refresh",
    "/api/auth/logout",
    "/api/downloads/{token}",  # the signed token is the credential
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
    no_input = {("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics")}
    for method, path in EXPECTED - no_input:
        responses = spec["paths"][path][method]["responses"]
        schema = responses["422"]["content"]["application/json"]["schema"]
        refs = [s["$ref"] for s in schema.get("anyOf", [schema])]
        assert any(ref.endswith("/InvalidRequestBody") for ref in refs), (method, path)
        assert responses["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorBody"
        )
    busy = spec["paths"]["/api/threads/{thread_id}/runs/stream"]["post"]["responses"]["409"]
    assert busy["description"].startswith("the thread already has an active run (`thread_busy`)")
    upload = spec["paths"]["/api/threads/{thread_id}/files"]["post"]["requestBody"]
    assert "multipart/form-data" in upload["content"]
    download = spec["paths"]["/api/threads/{thread_id}/files/content"]["get"]["responses"]
    assert "application/octet-stream" in download["200"]["content"]
    run_body = spec["components"]["schemas"]["RunCreate"]
    # exactly one of `messages` and `resume`: checked by the model, so neither is required
    assert "required" not in run_body
    assert {"messages", "resume", "multitask_strategy", "on_disconnect"} <= set(
        run_body["properties"]
    )
    assert run_body["additionalProperties"] is False
