"""Small adapters between the OpenSandbox SDK and Warren: the server URL, SDK errors,
retries of safe POSTs, and sandbox infos."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from opensandbox.exceptions import SandboxApiException, SandboxException
from opensandbox.models.sandboxes import SandboxInfo as SdkSandboxInfo

from warren.errors import ConfigError
from warren.sandbox.protocol import FileErrorCode, SandboxInfo, SandboxUnavailable

T = TypeVar("T")

TRANSIENT = frozenset({429, 502, 503})

# execd answers file failures with its OS error's text (it runs as root, so these are rare).
FILE_ERRORS: tuple[tuple[str, FileErrorCode], ...] = (
    ("is a directory", "is_directory"),
    ("permission denied", "permission_denied"),
    ("operation not permitted", "permission_denied"),
    ("read-only file system", "permission_denied"),
    ("no such file", "file_not_found"),
    ("not a directory", "invalid_path"),
)


def split_url(server_url: str) -> tuple[str, str]:
    """The SDK's (domain, protocol) for `OPENSANDBOX_SERVER_URL`; it appends `/v1` itself."""
    url = server_url.strip().rstrip("/")
    if not url:
        raise ConfigError("OPENSANDBOX_SERVER_URL is empty")
    protocol = "http"
    for scheme in ("https", "http"):
        if url.lower().startswith(f"{scheme}://"):
            protocol, url = scheme, url[len(scheme) + 3 :]
            break
    url = url.removesuffix("/v1")
    if "@" in url.split("/", 1)[0]:
        raise ConfigError(
            "OPENSANDBOX_SERVER_URL must not carry credentials; put the key in OPENSANDBOX_API_KEY"
        )
    return url, protocol


def status_of(exc: SandboxException) -> int | None:
    return exc.status_code if isinstance(exc, SandboxApiException) else None


def unavailable(what: str, exc: SandboxException) -> SandboxUnavailable:
    return SandboxUnavailable(f"OpenSandbox could not {what}: {exc}")


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def to_info(info: SdkSandboxInfo) -> SandboxInfo:
    expires = aware(info.expires_at) if info.expires_at is not None else None
    return SandboxInfo(id=info.id, metadata=dict(info.metadata or {}), expires_at=expires)


def shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


async def retrying(call: Callable[[], Awaitable[T]], attempts: int = 4) -> T:
    """Retry a POST/PATCH that is safe to repeat on 429/502/503 (the transport retries
    only idempotent methods)."""
    delay = 0.1
    for attempt in range(attempts):
        try:
            return await call()
        except SandboxException as exc:
            if status_of(exc) not in TRANSIENT or attempt == attempts - 1:
                raise
        await asyncio.sleep(delay)
        delay *= 3
    raise AssertionError("unreachable")
