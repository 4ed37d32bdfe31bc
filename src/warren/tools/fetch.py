"""An HTTP(S) GET that the server can safely make on a user's behalf (SSRF-guarded).

A URL from a user must not reach what only the server can: loopback, the private network,
cloud metadata (169.254.169.254). Every hop is checked after DNS resolution, and the
connection then goes to the very address that was checked (the URL's host becomes that IP;
the `Host` header and the TLS server name stay the original host), so a DNS answer that
changes between check and connect (rebinding) cannot slip through. Redirects are followed
by hand, each one checked again. No proxy from the environment, no credentials, no cookies
are sent; the body is capped in bytes and the whole fetch in time (`FETCH_TIMEOUT_SECONDS`,
which the caller passes as `seconds`).

The operator may allow internal hosts with `WARREN_FETCH_ALLOW_HOSTS` (`host` or
`host:port`): those skip the address check, nothing else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import httpx

FetchErrorCode = Literal["fetch_refused", "too_large", "fetch_failed", "fetch_timeout"]
Resolver = Callable[[str, int], Awaitable[list[str]]]  # (host, port) -> IP addresses

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchError(Exception):
    """An expected failure, with a code a caller can map (to a 4xx, or text for the model)."""

    def __init__(self, code: FetchErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code: FetchErrorCode = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # the final URL, after redirects
    content: bytes
    content_type: str | None


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host resolves to (the loop runs `getaddrinfo` in a thread)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


def is_public(address: IP) -> bool:
    """Whether `address` is on the public internet (not loopback, private, link-local,
    multicast, reserved, unspecified, nor one of those wrapped in an IPv6 form)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def _allowed(host: str, port: int, allow_hosts: Sequence[str]) -> bool:
    wanted = {host, f"{host}:{port}", f"[{host}]:{port}"}
    return any(entry.strip().lower() in wanted for entry in allow_hosts)


async def _pin(url: httpx.URL, allow_hosts: Sequence[str], resolve: Resolver) -> str:
    """Check one hop; return the IP address to connect to."""
    if url.scheme not in ("http", "https"):
        raise FetchError("fetch_refused", "only http and https URLs can be fetched")
    if url.userinfo:
        raise FetchError("fetch_refused", "URLs with credentials in them are not fetched")
    host = url.raw_host.decode("ascii").lower().strip("[]")
    if not host:
        raise FetchError("fetch_refused", "the URL has no host")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in await resolve(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise FetchError("fetch_failed", f"cannot resolve {host}: {exc}") from None
    if not addresses:
        raise FetchError("fetch_failed", f"{host} resolves to no address")
    if not _allowed(host, port, allow_hosts):
        for address in addresses:
            if not is_public(address):
                raise FetchError(
                    "fetch_refused",
                    f"{host} resolves to {address}, a private, loopback, link-local or reserved "
                    "address; the server does not fetch from those (an operator can allow a "
                    "host with WARREN_FETCH_ALLOW_HOSTS)",
                )
    return str(addresses[0])


def _pinned_request(client: httpx.AsyncClient, url: httpx.URL, ip: str) -> httpx.Request:
    """A GET to `ip` that still says `Host: <host>` and, over TLS, verifies `<host>`."""
    host = url.raw_host.decode("ascii")
    host_header = host if url.port is None else f"{host}:{url.port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if url.port is None else f"[{host}]:{url.port}"
    target = url.copy_with(host=ip)
    extensions = {"sni_hostname": host.strip("[]")} if url.scheme == "https" else {}
    headers = {"Host": host_header, "Accept": "*/*", "Accept-Encoding": "identity"}
    return client.build_request("GET", target, headers=headers, extensions=extensions)


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError("too_large", f"the file is {declared} bytes; the limit is {max_bytes}")
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError("too_large", f"the file is larger than the limit of {max_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


async def _get(
    url: httpx.URL,
    *,
    allow_hosts: Sequence[str],
    max_bytes: int,
    max_redirects: int,
    resolve: Resolver,
) -> Fetched:
    # trust_env=False: no proxy (it would connect instead of us) and no .netrc credentials
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
        for _hop in range(max_redirects + 1):
            ip = await _pin(url, allow_hosts, resolve)
            client.cookies.clear()  # nothing one hop set is sent to the next
            request = _pinned_request(client, url, ip)
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise FetchError("fetch_failed", f"cannot fetch {url.host}: {exc}") from None
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    try:
                        url = url.join(location)
                    except httpx.InvalidURL:
                        raise FetchError(
                            "fetch_failed", "the server redirected to a bad URL"
                        ) from None
                    continue
                if response.status_code != 200:
                    raise FetchError("fetch_failed", f"the server answered {response.status_code}")
                content = await _read_capped(response, max_bytes)
                return Fetched(str(url), content, response.headers.get("content-type"))
            except httpx.HTTPError as exc:
                raise FetchError("fetch_failed", f"cannot fetch {url.host}: {exc}") from None
            finally:
                await response.aclose()
    raise FetchError("fetch_refused", f"more than {max_redirects} redirects")


async def safe_get(
    url: str,
    *,
    allow_hosts: Sequence[str] = (),
    max_bytes: int,
    seconds: float,
    max_redirects: int = MAX_REDIRECTS,
    resolve: Resolver = system_resolver,
) -> Fetched:
    """GET `url` under the guard described above; `FetchError` on any expected failure."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError("fetch_refused", f"not a valid URL: {exc}") from None
    try:
        async with asyncio.timeout(seconds):
            return await _get(
                parsed,
                allow_hosts=allow_hosts,
                max_bytes=max_bytes,
                max_redirects=max_redirects,
                resolve=resolve,
            )
    except TimeoutError:
        raise FetchError("fetch_timeout", f"the fetch took longer than {seconds:g} s") from None
