"""The web client is served at `/` with an SPA fallback that never swallows API paths."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers import make_settings, running_warren

INDEX = "<!doctype html><title>Warren</title><div id=root></div>"


def build(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-abc123.js").write_text("console.log('warren')")
    (dist / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside the build")
    return dist


async def test_the_client_and_its_routes_are_served(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", warren_client_dir=build(tmp_path))
    async with running_warren(settings) as url, httpx.AsyncClient(base_url=url) as http:
        for path in ("/", "/threads/123", "/settings/keys"):
            page = await http.get(path)
            assert page.status_code == 200, path
            assert page.text == INDEX
            assert page.headers["cache-control"] == "no-cache"
            policy = page.headers["content-security-policy"]
            assert "script-src 'self';" in policy
            assert "img-src 'self' data: blob:;" in policy  # no remote images
            assert "frame-ancestors 'none'" in policy
        asset = await http.get("/assets/index-abc123.js")
        assert asset.text == "console.log('warren')"
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["content-type"].startswith("text/javascript")
        assert (await http.get("/favicon.svg")).headers["cache-control"] == "no-cache"
        assert (await http.get("/assets/missing.js")).status_code == 404
        for escape in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt"):
            assert "outside the build" not in (await http.get(escape)).text


async def test_api_and_operational_paths_are_never_the_page(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", warren_client_dir=build(tmp_path))
    async with running_warren(settings) as url, httpx.AsyncClient(base_url=url) as http:
        for path in ("/api", "/api/", "/api/nothing", "/api/threads/x/nothing", "/metrics/x"):
            response = await http.get(path)
            assert response.status_code == 404, path
            assert response.json()["error"] == "not_found", path
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        metrics = await http.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "warren_" in metrics.text
        assert (await http.get("/openapi.json")).json()["info"]["title"] == "Warren"
        assert (await http.get("/api/auth/config")).json() == {"registration_open": True}


async def test_without_a_build_the_root_says_how_to_make_one(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data", warren_client_dir=tmp_path / "none", warren_allow_registration=False
    )
    async with running_warren(settings) as url, httpx.AsyncClient(base_url=url) as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert "make client" in page.text
        assert (await http.get("/api/auth/config")).json() == {"registration_open": False}
