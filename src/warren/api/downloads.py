"""`GET /api/downloads/{token}`: the file a signed link names, streamed as an attachment.

No Authorization header: the token is the credential (made by `generate_download_url`).
The response is made safe to open from anywhere: always an attachment, never sniffed,
never cached, and it sends no referrer onwards.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path
from fastapi.responses import StreamingResponse

from warren.api.deps import ServicesDep
from warren.api.schemas import ERROR_RESPONSES, error
from warren.errors import NotFound
from warren.tools.downloads import TOKEN_MAX_CHARS

router = APIRouter(prefix="/api/downloads", tags=["downloads"])

Token = Annotated[
    str,
    Path(min_length=1, max_length=TOKEN_MAX_CHARS, description="the signed token of the link"),
]
# types a browser could run or render in our origin: served as plain bytes instead
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
    }
)
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._ ()+-]")


@router.get(
    "/{token}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the file"},
        404: error("the link is not valid, or its thread or file no longer exists"),
        410: error("the link has expired (`link_expired`)"),
        422: ERROR_RESPONSES[422],
        503: error("the sandbox is down"),
    },
)
async def download(token: Token, services: ServicesDep) -> StreamingResponse:
    """Download the one file a signed link names, as an attachment. The link is its own
    credential, made by the agent's `generate_download_url` tool for one file of one
    thread; it expires, and stops working once the thread is deleted."""
    links = services.toolbox.downloads
    if links is None:
        raise NotFound("download links are not enabled", code="invalid_link")
    grant, chunks = await links.open(token, services.storage.records, services.files)
    name = posixpath.basename(grant.path) or "download"
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type in ACTIVE_TYPES:
        media_type = "application/octet-stream"
    return StreamingResponse(chunks, media_type=media_type, headers=attachment_headers(name))


def attachment_headers(name: str) -> dict[str, str]:
    """An attachment named `name`: an ASCII fallback plus the exact name (RFC 5987)."""
    fallback = _UNSAFE_NAME_CHARS.sub("_", name) or "download"
    return {
        "Content-Disposition": (
            f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
