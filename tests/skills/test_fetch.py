"""The SSRF-guarded fetch: what it refuses before connecting, redirects, caps and pinning."""

from __future__ import annotations

import pytest

from tests.skills.conftest import FileServer
from warren.tools.fetch import Fetched, FetchError, safe_get

CAP = 1024 * 1024


async def fetch(url: str, allow: list[str], **options: object) -> Fetched:
    options.setdefault("seconds", 10.0)
    return await safe_get(url, allow_hosts=allow, max_bytes=CAP, **options)  # type: ignore[arg-type]


async def refused(
    url: str, allow: list[str], code: str = "fetch_refused", **options: object
) -> str:
    with pytest.raises(FetchError) as raised:
        await fetch(url, allow, **options)
    assert raised.value.code == code, raised.value.detail
    return raised.value.detail


async def test_an_allowlisted_loopback_server_is_fetched(files: FileServer) -> None:
    url = files.serve("a.zip", b"PK archive")
    got = await fetch(url, [files.host])
    assert (got.content, got.url, got.content_type) == (b"PK archive", url, "application/zip")
    assert files.seen == [("/f/a.zip", files.host)]


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/skill.zip",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.1.1:8080/x.zip",
        "http://[::1]:80/x.zip",
        "http://[::ffff:127.0.0.1]/x.zip",
        "http://[fd00::1]/x.zip",
        "http://0.0.0.0/x.zip",
        "http://2130706433/x.zip",  # 127.0.0.1 as one number
    ],
)
async def test_private_and_special_addresses_are_refused(url: str) -> None:
    assert "WARREN_FETCH_ALLOW_HOSTS" in await refused(url, [])


async def test_loopback_is_refused_unless_that_host_and_port_are_allowed(files: FileServer) -> None:
    url = files.serve("a.zip", b"zip")
    await refused(url, [])
    await refused(url, ["127.0.0.1:1"])  # another port
    await refused(f"http://localhost:{files.port}/f/a.zip", [files.host])  # resolves to loopback
    assert files.seen == []  # nothing was ever sent
    assert (await fetch(f"http://localhost:{files.port}/f/a.zip", ["localhost"])).content == b"zip"
    assert (await fetch(url, ["127.0.0.1"])).content == b"zip"


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x.zip", "file:///etc/passwd", "gopher://x/", "not a url", "http:///x"],
)
async def test_only_http_and_https_urls_are_fetched(url: str) -> None:
    await refused(url, [])


async def test_credentials_are_never_sent(files: FileServer) -> None:
    files.serve("a.zip", b"zip")
    detail = await refused(f"http://user:secret@{files.host}/f/a.zip", [files.host])
    assert "secret" not in detail
    assert files.seen == []


async def test_every_redirect_is_checked_again(files: FileServer) -> None:
    url = files.serve("a.zip", b"zip")
    to = f"{files.base}/redirect?to="
    got = await fetch(f"{to}/f/a.zip", [files.host])
    assert (got.content, got.url) == (b"zip", url)
    for target in ("http://10.0.0.1/a.zip", "http://169.254.169.254/", "http://127.0.0.1:1/a.zip"):
        files.seen.clear()
        await refused(f"{to}{target}", [files.host])
        assert files.paths() == ["/redirect"]  # the first hop only


async def test_redirect_loops_stop_after_five(files: FileServer) -> None:
    files.serve("a.zip", b"zip")
    url = "/f/a.zip"
    for _ in range(5):
        url = f"/redirect?to={url.replace('?', '%3F').replace('=', '%3D')}"
    assert (await fetch(f"{files.base}{url}", [files.host])).content == b"zip"
    files.seen.clear()
    too_many = f"{files.base}/redirect?to={url.replace('?', '%3F').replace('=', '%3D')}"
    assert "more than 5 redirects" in await refused(too_many, [files.host])
    assert len(files.seen) == 6


async def test_size_and_time_are_capped(files: FileServer) -> None:
    files.serve("big.zip", b"x" * (CAP + 1))
    assert "the limit is" in await refused(files.url("big.zip"), [files.host], "too_large")
    detail = await refused(f"{files.base}/big", [files.host], "too_large")  # no Content-Length
    assert "larger than the limit" in detail
    await refused(f"{files.base}/slow", [files.host], "fetch_timeout", seconds=0.5)
    await refused(files.url("missing.zip"), [files.host], "fetch_failed")


async def test_the_checked_address_is_the_one_connected_to(files: FileServer) -> None:
    """The name is resolved once, by the guard; the connection goes to that address with the
    name kept in the Host header, so a second, different DNS answer is never used."""
    files.serve("a.zip", b"zip")
    answers = {"skills.example": ["127.0.0.1"], "public.example": ["93.184.215.14", "10.1.2.3"]}
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[host]

    name = f"skills.example:{files.port}"
    got = await fetch(f"http://{name}/f/a.zip", [name], resolve=resolve)
    assert got.content == b"zip"
    assert calls == ["skills.example"]
    assert files.seen == [("/f/a.zip", name)]
    # one private answer among public ones is enough to refuse
    detail = await refused("http://public.example/a.zip", [], resolve=resolve)
    assert "10.1.2.3" in detail
