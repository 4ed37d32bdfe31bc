"""Serves the built web client (`client/dist`) with an SPA fallback.

Any GET that is not an API, health or documentation path and names no file of the build
gets `index.html`, so the client's own routes survive a reload. Paths under `/api/` and the
operational endpoints are never answered with the page: they 404 as JSON like any unknown
API path. Hashed assets are cached for good; `index.html` never is.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from warren.errors import NotFound

# Never the SPA: an unknown path here is a real 404.
RESERVED = ("/api/", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")
_IMMUTABLE = "public, max-age=31536000, immutable"
# The page runs only its own code, talks only to this server, and never loads remote images
# (a prompt-injected image URL could carry conversation data away).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Warren</title>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>Warren is running</h1><p>The web client is not built. With Node.js 20+ and npm, run
<code>make client</code> (or <code>cd client &amp;&amp; npm ci &amp;&amp; npm run build</code>)
and reload. The API is at <a href="/docs">/docs</a>.</p></body></html>"""


def default_client_dir() -> Path:
    """`client/dist` of this checkout (the image copies the build to the same place)."""
    return Path(__file__).resolve().parents[2] / "client" / "dist"


def _reserved(path: str) -> bool:
    return any(path == r.rstrip("/") or path.startswith(r) for r in RESERVED)


def _inside(root: Path, relative: str) -> Path | None:
    """The file `relative` names inside `root`, or None (also for `..` and symlinks out)."""
    candidate = (root / relative.lstrip("/")).resolve()
    if candidate != root and root not in candidate.parents:
        return None
    return candidate if candidate.is_file() else None


def mount_client(app: FastAPI, client_dir: Path) -> None:
    root = client_dir.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    async def client(path: str, request: Request) -> Response:
        url_path = request.url.path
        if _reserved(url_path):
            raise NotFound("no such endpoint", code="not_found")
        index = root / "index.html"
        if not await asyncio.to_thread(index.is_file):
            return HTMLResponse(_NOT_BUILT, headers={**PAGE_HEADERS, "Cache-Control": "no-store"})
        found = await asyncio.to_thread(_inside, root, path) if path else None
        if found is not None and found.name != "index.html":
            cache = _IMMUTABLE if found.parent.name == "assets" else "no-cache"
            return FileResponse(found, headers={"Cache-Control": cache})
        if "." in path.rsplit("/", 1)[-1]:
            raise NotFound("no such file", code="not_found")  # a missing asset, not a route
        return FileResponse(index, headers=PAGE_HEADERS)
