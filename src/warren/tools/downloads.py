"""`generate_download_url` and the signed links it makes, which `/api/downloads/{token}` serves.

A link is its own credential, so it says exactly what it grants: one file (thread, user,
path) until an absolute expiry, signed with HMAC-SHA256 under a key derived from the server
secret for this purpose only. The thread must still exist and belong to that user when the
link is used. Tokens are `base64url(payload).base64url(mac)`: compact, URL-safe, and never
logged (see `warren.logs`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from langchain.tools import ToolRuntime, tool
from langchain_core.tools import BaseTool

from warren.errors import Gone, NotFound
from warren.sandbox.files import SandboxFiles
from warren.sandbox.manager import SandboxManager
from warren.storage.records import Records
from warren.tools.workspace import ToolFailure, path_kind, resolve_path, run_thread

DOMAIN = b"warren-download-v1"
VERSION = 1
ROUTE = "/api/downloads/"
TOKEN_MAX_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid link lets its bearer download."""

    thread_id: str
    user_id: str
    path: str
    expires_at: int  # unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DownloadLinks:
    """Signs and checks download links; opens the file a valid one names."""

    def __init__(self, secret: str, ttl_seconds: int, public_url: str | None = None) -> None:
        self._key = hmac.new(secret.encode(), DOMAIN, hashlib.sha256).digest()
        self.ttl_seconds = ttl_seconds
        self.public_url = public_url.rstrip("/") if public_url else ""

    def sign(self, grant: Grant) -> str:
        payload = [VERSION, grant.thread_id, grant.user_id, grant.path, grant.expires_at]
        body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{body}.{self._mac(body)}"

    def issue(self, thread_id: str, user_id: str, path: str, now: float | None = None) -> Grant:
        expires = int(now if now is not None else time.time()) + self.ttl_seconds
        return Grant(thread_id, user_id, path, expires)

    def url(self, token: str) -> str:
        """Absolute when the public URL is configured, else root-relative."""
        return f"{self.public_url}{ROUTE}{token}"

    def verify(self, token: str, now: float | None = None) -> Grant:
        """The grant of a genuine, unexpired token; `NotFound` or `Gone` otherwise."""
        invalid = NotFound("this download link is not valid", code="invalid_link")
        body, dot, mac = token.partition(".")
        if not dot or len(token) > TOKEN_MAX_CHARS:
            raise invalid
        if not hmac.compare_digest(self._mac(body).encode(), mac.encode()):
            raise invalid
        try:
            version, thread_id, user_id, path, expires = json.loads(_unb64(body))
        except (ValueError, TypeError, binascii.Error):
            raise invalid from None
        fields_ok = all(isinstance(v, str) for v in (thread_id, user_id, path))
        if version != VERSION or not fields_ok or not isinstance(expires, int):
            raise invalid
        if expires <= (now if now is not None else time.time()):
            raise Gone("this download link has expired; ask for a new one", code="link_expired")
        return Grant(thread_id, user_id, path, expires)

    async def open(
        self, token: str, records: Records, files: SandboxFiles
    ) -> tuple[Grant, AsyncIterator[bytes]]:
        """The grant and the file's chunks; 404 once the thread or the file is gone."""
        grant = self.verify(token)
        if await records.threads.get(grant.user_id, grant.thread_id) is None:
            raise NotFound("the file of this link no longer exists", code="file_not_found")
        return grant, await files.download(grant.thread_id, grant.path)

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())


def download_tools(links: DownloadLinks, sandboxes: SandboxManager) -> list[BaseTool]:
    minutes = max(links.ttl_seconds // 60, 1)

    @tool(parse_docstring=True)
    async def generate_download_url(path: str, runtime: ToolRuntime[Any, Any]) -> str:
        """Make a link the user can open to download one file of the workspace.

        Use it after saving a file the user asked for (for example with `save_to_pdf`).
        The link works without signing in, for a limited time, for this file only. Give it
        to the user exactly as returned, as a Markdown link or on its own line: do not
        change, shorten or complete it (it is correct as it is, even without a domain).

        Args:
            path: The file, such as /workspace/report.pdf (relative paths are under /workspace).
        """
        try:
            thread_id, user_id = run_thread(runtime)
            target = resolve_path(path)
            kind = await path_kind(sandboxes, thread_id, user_id, target)
        except ToolFailure as exc:
            return str(exc)
        if kind == "missing":
            return f"Error: there is no file at {target}."
        if kind == "directory":
            return (
                f"Error: {target} is a directory. Pack it into one file first, for example "
                f"with `execute`: cd {target} && zip -r ../archive.zip ."
            )
        if kind != "file":
            return f"Error: {target} is a symlink or special file; link to a regular file."
        grant = links.issue(thread_id, user_id, target)
        expires = datetime.fromtimestamp(grant.expires_at, UTC).isoformat().replace("+00:00", "Z")
        return (
            f"{links.url(links.sign(grant))}\n"
            f"This link downloads {target} and expires at {expires}. "
            "Give it to the user exactly as written."
        )

    generate_download_url.description += f"\nLinks expire after about {minutes} minutes."
    return [generate_download_url]
