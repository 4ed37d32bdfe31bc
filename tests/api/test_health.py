"""Health endpoints: liveness, and readiness that names the failing dependency."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.fakes.tcp_proxy import TcpProxy
from tests.helpers import make_settings, running_warren


async def test_readyz_pings_each_dependency_and_names_the_one_that_fails(
    tmp_path: Path, redis_url: str, mongo_uri: str, mongo_db_name: str
) -> None:
    redis = urlsplit(redis_url)
    proxy = TcpProxy(redis.hostname or "127.0.0.1", redis.port or 6379)
    await proxy.start()
    settings = make_settings(
        tmp_path / "data",
        backend="production",
        redis_url=f"redis://127.0.0.1:{proxy.port}{redis.path}",
        mongo_uri=mongo_uri,
        mongo_db_name=mongo_db_name,
        model_api_key="sk-test",
    )
    async with running_warren(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "ready"
        assert {name for name, check in body["checks"].items() if check["ok"]} == {
            "mongo",
            "redis",
            "model",
            "sandbox",
        }
        # optional tools are reported, but never fail readiness
        assert body["tools"]["search"] == {
            "ok": False,
            "detail": "off: TAVILY_API_KEY is not set",
        }
        assert body["warnings"] == ["search: off: TAVILY_API_KEY is not set"]

        await proxy.cut()
        failing = await http.get("/readyz")
        assert failing.status_code == 503
        body = failing.json()
        assert body["error"] == "not_ready"
        assert body["detail"] == "failing: redis"
        assert body["checks"]["redis"]["ok"] is False
        assert body["checks"]["mongo"]["ok"] is True
        assert (await http.get("/healthz")).status_code == 200  # alive all the same


async def test_readyz_names_sandboxes_that_cannot_be_isolated(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data", model_api_key="sk-test", sandbox_local_bwrap="/bin/false"
    )
    async with running_warren(settings) as url, httpx.AsyncClient(base_url=url) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["detail"] == "failing: sandbox"
    assert "SANDBOX_LOCAL_ALLOW_UNISOLATED" in body["checks"]["sandbox"]["detail"]


async def test_readyz_warns_loudly_about_unisolated_sandboxes(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data",
        model_api_key="sk-test",
        sandbox_local_bwrap="/bin/false",
        sandbox_local_allow_unisolated=True,
    )
    async with running_warren(settings) as url, httpx.AsyncClient(base_url=url) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["checks"]["sandbox"] == {"ok": True, "detail": "local"}
    [warning] = [w for w in body["warnings"] if not w.startswith("search:")]
    assert warning.startswith("UNISOLATED: sandbox commands run as plain subprocesses")
