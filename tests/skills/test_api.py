"""`/api/skills` over real HTTP on both backends: install, list, replace, remove, and every
refusal leaving nothing behind (no record, no archive, no file in a live sandbox)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx

from tests.conftest import SettingsFactory
from tests.helpers import Api, running_warren
from tests.skills.conftest import FileServer, good_skill, make_zip, skill_md, symlink
from warren.config import Settings
from warren.storage.factory import open_storage

SKILL = "/skills/haiku-writer"
TOO_LARGE, INVALID = "too_large", "invalid_skill"


async def with_sandbox(api: Api) -> str:
    """A new thread whose sandbox exists (an upload creates it)."""
    thread = await api.new_thread()
    files = [("file", ("notes.txt", b"notes", "text/plain"))]
    response = await api.request(
        "POST", f"/api/threads/{thread['id']}/files", data={"path": "/workspace"}, files=files
    )
    assert response.status_code == 201, response.text
    return str(thread["id"])


async def sandbox_file(api: Api, thread_id: str, path: str) -> httpx.Response:
    return await api.request(
        "GET", f"/api/threads/{thread_id}/files/content", params={"path": path}
    )


async def sandbox_dir(api: Api, thread_id: str, path: str) -> list[str] | None:
    response = await api.request("GET", f"/api/threads/{thread_id}/files", params={"path": path})
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return sorted(entry["name"] for entry in response.json()["data"])


async def install(api: Api, url: str, **extra: Any) -> httpx.Response:
    return await api.request("POST", "/api/skills", json={"url": url, **extra})


async def stored_archives(settings: Settings, archives: list[bytes]) -> list[bytes | None]:
    """What the records hold for each archive (call once Warren has stopped)."""
    async with open_storage(settings) as storage:
        return [
            await storage.records.skills.archive(hashlib.sha256(a).hexdigest()) for a in archives
        ]


async def test_install_list_replace_and_remove(
    settings_for: SettingsFactory, files: FileServer
) -> None:
    settings = settings_for(warren_fetch_allow_hosts=[files.host])
    first = good_skill()
    second = good_skill(description="Writes haiku, now with kigo.")
    async with running_warren(settings) as url:
        alice, bob = Api(url), Api(url)
        await alice.register()
        await bob.register()
        thread_id = await with_sandbox(alice)

        created = await install(alice, files.serve("haiku.zip", first))
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["installed_at"]
        del body["installed_at"]
        assert body == {
            "name": "haiku-writer",
            "description": "Writes haiku about any topic.",
            "sha256": hashlib.sha256(first).hexdigest(),
            "source_url": files.url("haiku.zip"),
            "size": len(first),
        }
        listed = (await alice.request("GET", "/api/skills")).json()
        assert listed["count"] == 1
        assert [s["name"] for s in listed["data"]] == ["haiku-writer"]
        # in the live sandbox at once, whole
        assert (await sandbox_file(alice, thread_id, f"{SKILL}/SKILL.md")).content == skill_md(
            "haiku-writer"
        )
        assert await sandbox_dir(alice, thread_id, SKILL) == ["SKILL.md", "reference", "scripts"]

        # another user neither sees nor can remove it
        assert (await bob.request("GET", "/api/skills")).json() == {"data": [], "count": 0}
        gone = await bob.request("DELETE", "/api/skills/haiku-writer")
        assert (gone.status_code, gone.json()["error"]) == (404, "skill_not_found")

        # the same name again replaces it, in the records and in the sandbox
        wrong = await install(alice, files.serve("v2.zip", second), sha256="0" * 64)
        assert (wrong.status_code, wrong.json()["error"]) == (422, "sha256_mismatch")
        pin = hashlib.sha256(second).hexdigest().upper()
        replaced = await install(alice, files.url("v2.zip"), sha256=pin)
        assert replaced.status_code == 201, replaced.text
        listed = (await alice.request("GET", "/api/skills")).json()
        assert [s["description"] for s in listed["data"]] == ["Writes haiku, now with kigo."]
        md = await sandbox_file(alice, thread_id, f"{SKILL}/SKILL.md")
        assert b"now with kigo" in md.content
        assert await sandbox_dir(alice, thread_id, "/skills") == ["haiku-writer"]  # no leftovers

        removed = await alice.request("DELETE", "/api/skills/haiku-writer")
        assert removed.status_code == 204
        assert (await alice.request("GET", "/api/skills")).json()["count"] == 0
        assert (await sandbox_file(alice, thread_id, f"{SKILL}/SKILL.md")).status_code == 404
        assert (await alice.request("DELETE", "/api/skills/haiku-writer")).status_code == 404
        await alice.aclose()
        await bob.aclose()
    assert await stored_archives(settings, [first, second]) == [None, None]


def refusals(files: FileServer) -> list[tuple[str, int, str, bytes | None]]:
    """(URL, status, error code, archive served there) for each way an install is refused."""
    evil = ("SKILL.md", skill_md("evil"))
    archives: dict[str, tuple[bytes, int]] = {
        "traversal": (make_zip([evil, ("../x.sh", b"x")]), 422),
        "absolute": (make_zip([evil, ("/etc/x", b"x")]), 422),
        "link": (make_zip([evil, symlink("l", "/etc/passwd")]), 422),
        "bomb": (make_zip([evil, ("z", b"\0" * 3_000_000)]), 413),
        "unpacked": (make_zip([evil, ("r", os.urandom(300_000))]), 413),
        "download": (os.urandom(600 * 1024), 413),
        "many": (make_zip([evil, *((f"{i}", b"") for i in range(12))]), 422),
        "missing": (make_zip([("README.md", b"hi")]), 422),
        "frontless": (make_zip([("SKILL.md", b"# hi")]), 422),
        "badname": (make_zip([("SKILL.md", skill_md("Evil_Name"))]), 422),
        "notzip": (b"<html>hello</html>", 422),
    }
    cases: list[tuple[str, int, str, bytes | None]] = [
        (files.serve(f"{name}.zip", data), status, TOO_LARGE if status == 413 else INVALID, data)
        for name, (data, status) in archives.items()
    ]
    for url in (
        "http://10.0.0.1/skill.zip",
        "http://169.254.169.254/latest/meta-data/",
        f"http://localhost:{files.port}/f/notzip.zip",  # resolves to loopback
        "http://127.0.0.1:1/skill.zip",  # loopback, but not the allowed port
        f"{files.base}/redirect?to=http://10.0.0.1/skill.zip",
        "file:///etc/passwd",
    ):
        cases.append((url, 400, "fetch_refused", None))
    return cases


async def test_refused_installs_leave_nothing_behind(
    settings_for: SettingsFactory, files: FileServer
) -> None:
    settings = settings_for(
        warren_fetch_allow_hosts=[files.host],
        skill_max_bytes=512 * 1024,
        skill_max_unpacked_bytes=256 * 1024,
        skill_max_files=10,
        fetch_timeout_seconds=0.5,
    )
    cases = refusals(files)
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        thread_id = await with_sandbox(api)
        for case_url, status, code, _data in cases:
            response = await install(api, case_url)
            assert (response.status_code, response.json()["error"]) == (status, code), case_url
            assert response.json()["detail"]
        slow = await install(api, f"{files.base}/slow")  # FETCH_TIMEOUT_SECONDS bounds it
        assert (slow.status_code, slow.json()["error"]) == (400, "fetch_timeout")
        assert slow.json()["detail"] == "the fetch took longer than 0.5 s"
        served = files.url("notzip.zip")
        bad_pin = await install(api, served, sha256="not-hex")
        assert (bad_pin.status_code, bad_pin.json()["error"]) == (422, "invalid_request")
        mismatch = await install(api, served, sha256="ab" * 32)
        assert (mismatch.status_code, mismatch.json()["error"]) == (422, "sha256_mismatch")

        assert (await api.request("GET", "/api/skills")).json() == {"data": [], "count": 0}
        assert await sandbox_dir(api, thread_id, "/skills") in (None, [])
        await api.aclose()
    archives = [data for _u, _s, _c, data in cases if data is not None]
    assert await stored_archives(settings, archives) == [None] * len(archives)
    assert "/f/download.zip" in files.paths()
    assert not any(host.startswith("localhost") for _path, host in files.seen)  # never sent
