"""The files API over real HTTP: list, download and upload a thread's sandbox files."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import SettingsFactory
from tests.helpers import Api, make_settings, running_warren
from warren.config import Settings
from warren.storage.factory import open_storage
from warren.storage.live import SandboxLease

MAX_UPLOAD = 64 * 1024
BINARY = bytes(range(256)) * 3 + b"\x00\r\n\xff"
NON_ASCII = "résumé ✓ 東京.bin"


def sandboxes(settings: Settings) -> list[Path]:
    base = settings.warren_data_dir / "sandboxes"
    return sorted(p for p in base.iterdir() if p.name.startswith("lsb-")) if base.is_dir() else []


def only_root(settings: Settings) -> Path:
    """The root directory of the one sandbox that exists."""
    found = sandboxes(settings)
    assert len(found) == 1, found
    return found[0] / "root"


async def lease_of(settings: Settings, thread_id: str) -> SandboxLease | None:
    """The thread's stored lease (call once Warren has stopped: it holds the data dir)."""
    async with open_storage(settings) as storage:
        return await storage.live.leases.get(thread_id)


def files_url(thread_id: str) -> str:
    return f"/api/threads/{thread_id}/files"


async def upload(
    api: Api, thread_id: str, parts: list[tuple[str, bytes]], path: str | None = "/workspace"
) -> httpx.Response:
    data = {} if path is None else {"path": path}
    files = [("file", (name, content, "application/octet-stream")) for name, content in parts]
    return await api.request("POST", files_url(thread_id), data=data, files=files)


async def listing(api: Api, thread_id: str, path: str) -> httpx.Response:
    return await api.request("GET", files_url(thread_id), params={"path": path})


async def download(api: Api, thread_id: str, path: str) -> httpx.Response:
    return await api.request("GET", files_url(thread_id) + "/content", params={"path": path})


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["error"], str)
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if code is not None:
        assert body["error"] == code, body
    return body


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", sandbox_max_upload_bytes=MAX_UPLOAD)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    """A registered user's client against an embedded Warren with a small upload cap."""
    async with running_warren(settings) as url:
        client = Api(url)
        await client.register()
        yield client
        await client.aclose()


async def test_files_round_trip_and_delete(settings_for: SettingsFactory) -> None:
    settings = settings_for(sandbox_max_upload_bytes=MAX_UPLOAD)
    parts = [
        ("notes.md", b"# Notes\nline two\n"),
        ("data.bin", BINARY),
        (NON_ASCII, b"\xe2\x9c\x93"),
    ]
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        tid = thread["id"]

        # a new thread has no files, and looking does not create a sandbox
        for path in ("/", "/workspace"):
            response = await listing(api, tid, path)
            assert response.status_code == 200, response.text
            assert response.json() == {"path": path, "data": [], "count": 0, "truncated": False}
        assert_error(await download(api, tid, "/workspace/notes.md"), 404, "file_not_found")
        assert sandboxes(settings) == []

        response = await upload(api, tid, parts)
        assert response.status_code == 201, response.text
        assert response.json() == {"paths": [f"/workspace/{name}" for name, _ in parts]}
        root = only_root(settings)
        for name, content in parts:
            assert (root / "workspace" / name).read_bytes() == content

        response = await listing(api, tid, "/workspace")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["path"] == "/workspace"
        assert body["count"] == len(parts)
        assert body["truncated"] is False
        entries = {e["name"]: e for e in body["data"]}
        assert {
            n: (e["path"], e["size"], e["is_dir"], e["is_symlink"]) for n, e in entries.items()
        } == {name: (f"/workspace/{name}", len(content), False, False) for name, content in parts}
        assert all(e["modified_at"] for e in body["data"])

        for name, content in parts:
            response = await download(api, tid, f"/workspace/{name}")
            assert response.status_code == 200, response.text
            assert response.content == content
            disposition = response.headers["content-disposition"]
            assert disposition == f"attachment; filename*=UTF-8''{quote(name)}"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["cache-control"] == "no-store"
        response = await download(api, tid, "/workspace/notes.md")
        assert response.headers["content-type"].startswith("text/markdown")
        response = await download(api, tid, "/workspace/data.bin")
        assert response.headers["content-type"] == "application/octet-stream"

        # deleting the thread removes its sandbox directory (and, below, its lease)
        sandbox_dir = root.parent
        response = await api.request("DELETE", f"/api/threads/{tid}")
        assert response.status_code == 204, response.text
        assert not sandbox_dir.exists()
        assert sandboxes(settings) == []
        leftovers = [p.name for p in sandbox_dir.parent.iterdir() if sandbox_dir.name in p.name]
        assert leftovers == []
        assert_error(await listing(api, tid, "/"), 404, "thread_not_found")
        assert_error(await upload(api, tid, parts[:1]), 404, "thread_not_found")
        await api.aclose()
    assert await lease_of(settings, tid) is None


async def test_listing_a_new_thread_leaves_no_lease(settings_for: SettingsFactory) -> None:
    settings = settings_for()
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        response = await listing(api, thread["id"], "/")
        assert response.status_code == 200, response.text
        assert response.json()["data"] == []
        await api.aclose()
    assert sandboxes(settings) == []
    assert await lease_of(settings, thread["id"]) is None


async def test_upload_into_a_new_nested_directory(api: Api, settings: Settings) -> None:
    thread = await api.new_thread()
    target = "/workspace/reports/2024/q1"
    response = await upload(api, thread["id"], [("a.txt", b"A\n"), ("b.txt", b"B\n")], target)
    assert response.status_code == 201, response.text
    assert response.json()["paths"] == [f"{target}/a.txt", f"{target}/b.txt"]
    assert (only_root(settings) / target.lstrip("/") / "b.txt").read_bytes() == b"B\n"

    response = await listing(api, thread["id"], "/workspace/reports")
    assert response.status_code == 200, response.text
    [entry] = response.json()["data"]
    assert (entry["name"], entry["path"], entry["is_dir"]) == (
        "2024",
        "/workspace/reports/2024",
        True,
    )

    # the default target is `/`, and paths are normalised
    response = await upload(api, thread["id"], [("top.txt", b"top")], path=None)
    assert response.status_code == 201, response.text
    assert response.json()["paths"] == ["/top.txt"]
    response = await upload(api, thread["id"], [("c.txt", b"C")], "/workspace/./x/../reports/")
    assert response.status_code == 201, response.text
    assert response.json()["paths"] == ["/workspace/reports/c.txt"]
    response = await download(api, thread["id"], "/top.txt")
    assert response.content == b"top"

    # lists sort directories first, then by name
    response = await listing(api, thread["id"], "/workspace/reports")
    assert [e["name"] for e in response.json()["data"]] == ["2024", "c.txt"]


async def test_another_users_thread_is_404_on_every_route(api: Api, settings: Settings) -> None:
    thread = await api.new_thread()
    response = await upload(api, thread["id"], [("mine.txt", b"mine")])
    assert response.status_code == 201, response.text

    intruder = Api(api.base_url)
    await intruder.register()
    try:
        assert_error(await listing(intruder, thread["id"], "/workspace"), 404, "thread_not_found")
        assert_error(
            await download(intruder, thread["id"], "/workspace/mine.txt"), 404, "thread_not_found"
        )
        response = await upload(intruder, thread["id"], [("theirs.txt", b"theirs")])
        assert_error(response, 404, "thread_not_found")
        # and a thread that does not exist at all looks the same
        assert_error(await listing(intruder, "no-such-thread", "/"), 404, "thread_not_found")
    finally:
        await intruder.aclose()
    assert sorted(p.name for p in (only_root(settings) / "workspace").iterdir()) == ["mine.txt"]


async def test_no_credentials_is_401(api: Api, settings: Settings) -> None:
    thread = await api.new_thread()
    anonymous = Api(api.base_url)
    try:
        for response in (
            await listing(anonymous, thread["id"], "/"),
            await download(anonymous, thread["id"], "/workspace/x"),
            await upload(anonymous, thread["id"], [("x.txt", b"x")]),
        ):
            assert_error(response, 401, "not_authenticated")
            assert response.headers["www-authenticate"] == "Bearer"
        anonymous.token = "not-a-token"
        assert_error(await upload(anonymous, thread["id"], [("x.txt", b"x")]), 401)
    finally:
        await anonymous.aclose()
    assert sandboxes(settings) == []


async def test_bad_uploads_are_refused_before_anything_is_written(
    api: Api, settings: Settings
) -> None:
    thread = await api.new_thread()
    tid = thread["id"]
    cases: list[tuple[list[tuple[str, bytes]], str | None, int, str]] = [
        ([("a.txt", b"a")], "workspace", 400, "invalid_path"),
        ([("a.txt", b"a")], "/workspace/\x00evil", 400, "invalid_path"),
        ([("a/b.txt", b"a")], "/workspace", 400, "invalid_name"),
        ([("../escape.txt", b"a")], "/workspace", 400, "invalid_name"),
        ([("..", b"a")], "/workspace", 400, "invalid_name"),
        ([("ok.txt", b"a"), ("x" * 256, b"a")], "/workspace", 400, "invalid_name"),
        ([("same.txt", b"1"), ("same.txt", b"2")], "/workspace", 400, "duplicate_name"),
        (
            [("half.bin", b"h" * (MAX_UPLOAD // 2)), ("more.bin", b"m" * (MAX_UPLOAD // 2 + 1))],
            "/workspace",
            400,
            "upload_too_large",
        ),
    ]
    for parts, path, status, code in cases:
        body = assert_error(await upload(api, tid, parts, path), status, code)
        assert body["error"] == code, (parts[0][0][:20], path)

    # zero `file` parts: a validation error, in the same error shape
    response = await api.request("POST", files_url(tid), data={"path": "/workspace"})
    assert_error(response, 422, "invalid_request")
    response = await api.request(
        "POST", files_url(tid), files={"other": ("x.txt", b"x", "text/plain")}
    )
    assert_error(response, 422, "invalid_request")

    # none of that created a sandbox, let alone wrote a file
    assert sandboxes(settings) == []
    assert (await listing(api, tid, "/workspace")).json()["data"] == []

    # once the sandbox exists, a bad part still stops the good parts before them
    response = await upload(api, tid, [("first.txt", b"1")])
    assert response.status_code == 201, response.text
    mixed = [
        [("good.txt", b"g"), ("bad/name.txt", b"b")],
        [("good.txt", b"g"), ("good.txt", b"g")],
        [("good.txt", b"g"), ("huge.bin", b"h" * MAX_UPLOAD)],
    ]
    for parts in mixed:
        assert_error(await upload(api, tid, parts), 400)
    assert_error(await upload(api, tid, [("good.txt", b"g")], "/usr/share"), 403)
    assert sorted(p.name for p in (only_root(settings) / "workspace").iterdir()) == ["first.txt"]


async def test_a_body_far_over_the_cap_is_413(api: Api, settings: Settings) -> None:
    thread = await api.new_thread()
    big = [("big.bin", os.urandom(MAX_UPLOAD * 16))]
    assert_error(await upload(api, thread["id"], big), 413, "body_too_large")
    assert sandboxes(settings) == []


async def test_a_streamed_body_over_the_cap_is_413(api: Api, settings: Settings) -> None:
    """Without a Content-Length, the cap is enforced while the body streams in."""
    thread = await api.new_thread()
    boundary = "warren-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield head
        for _ in range(32):
            yield b"z" * (MAX_UPLOAD // 2)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await api.request(
        "POST",
        files_url(thread["id"]),
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "body_too_large")
    assert sandboxes(settings) == []


async def test_read_only_and_bad_paths(api: Api, settings: Settings) -> None:
    thread = await api.new_thread()
    tid = thread["id"]
    response = await upload(api, tid, [("file.txt", b"text\n")], "/workspace/dir")
    assert response.status_code == 201, response.text

    for target in ("/usr", "/usr/local/bin", "/bin", "/proc"):
        assert_error(await upload(api, tid, [("x.txt", b"x")], target), 403, "permission_denied")
    assert not os.path.exists("/usr/x.txt")
    assert not os.path.exists("/usr/local/bin/x.txt")

    assert_error(await download(api, tid, "/workspace/dir"), 400, "is_directory")
    assert_error(await download(api, tid, "/"), 400, "is_directory")
    assert_error(await download(api, tid, "/workspace/dir/missing.txt"), 404, "file_not_found")
    assert_error(await download(api, tid, "/workspace/nope/missing.txt"), 404, "file_not_found")
    assert_error(await download(api, tid, "workspace/dir/file.txt"), 400, "invalid_path")
    assert_error(await download(api, tid, "/workspace/dir/file.txt\x00"), 400, "invalid_path")
    assert_error(await download(api, tid, ""), 422, "invalid_request")

    assert_error(await listing(api, tid, "/workspace/dir/file.txt"), 400, "not_a_directory")
    assert_error(await listing(api, tid, "/workspace/missing"), 404, "file_not_found")
    assert_error(await listing(api, tid, "relative"), 400, "invalid_path")
    assert_error(await listing(api, tid, "/work\x00space"), 400, "invalid_path")

    # uploading over a directory is refused, and the directory survives
    assert_error(await upload(api, tid, [("dir", b"x")], "/workspace"), 400, "is_directory")
    assert (only_root(settings) / "workspace" / "dir" / "file.txt").read_bytes() == b"text\n"


async def test_symlinks_never_reach_host_files(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    thread = await api.new_thread()
    tid = thread["id"]
    response = await upload(api, tid, [("real.txt", b"real")])
    assert response.status_code == 201, response.text
    workspace = only_root(settings) / "workspace"

    # what a sandboxed command could make: links to host paths (created here on the host)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("host secret")
    (outside / "target.txt").write_text("host file")
    (workspace / "hostname").symlink_to("/etc/hostname")
    (workspace / "outside").symlink_to(outside)
    (workspace / "target.txt").symlink_to(outside / "target.txt")
    host_hostname = Path("/etc/hostname").read_bytes() if Path("/etc/hostname").exists() else None

    for path in ("/workspace/hostname", "/workspace/outside/secret.txt", "/workspace/target.txt"):
        response = await download(api, tid, path)
        assert_error(response, 400, "invalid_path")
        assert b"host secret" not in response.content
        assert b"host file" not in response.content
        if host_hostname:
            assert host_hostname not in response.content

    # writing through a link is refused too, and nothing lands on the host
    response = await upload(api, tid, [("planted.txt", b"x")], "/workspace/outside")
    assert_error(response, 400, "invalid_path")
    response = await upload(api, tid, [("target.txt", b"pwned\n")], "/workspace")
    assert_error(response, 400, "invalid_path")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt", "target.txt"]
    assert (outside / "target.txt").read_text() == "host file"
    if host_hostname is not None:
        assert Path("/etc/hostname").read_bytes() == host_hostname

    # the listing shows the links as links, and cannot list the host directory
    response = await listing(api, tid, "/workspace")
    entries = {e["name"]: e for e in response.json()["data"]}
    assert entries["hostname"]["is_symlink"] is True
    assert entries["outside"]["is_symlink"] is True
    assert entries["outside"]["is_dir"] is False
    response = await listing(api, tid, "/workspace/outside")
    assert "secret.txt" not in response.text
    assert response.status_code == 404


async def test_a_large_file_downloads_whole(api: Api, settings: Settings) -> None:
    """A file the agent made, bigger than the upload cap and than one read chunk, streams
    back byte for byte."""
    thread = await api.new_thread()
    response = await upload(api, thread["id"], [("seed.txt", b"seed")])
    assert response.status_code == 201, response.text
    content = os.urandom(3 * 1024 * 1024 + 17)
    (only_root(settings) / "workspace" / "big.bin").write_bytes(content)

    response = await download(api, thread["id"], "/workspace/big.bin")
    assert response.status_code == 200, response.text
    assert response.content == content
    entries = (await listing(api, thread["id"], "/workspace")).json()["data"]
    assert {e["name"]: e["size"] for e in entries} == {"big.bin": len(content), "seed.txt": 4}
