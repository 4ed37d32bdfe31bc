"""Download links end to end: an agent saves a PDF and links it, the link downloads it over
HTTP without credentials (both sandbox providers), and expired, tampered, foreign,
deleted-thread and missing-file links are refused. The token never reaches the logs."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.fakes.serving import served
from tests.helpers import Api
from tests.tools.make_docs import PROVIDERS, warren_settings
from warren.app import create_app
from warren.config import Settings
from warren.logs import configure_logging
from warren.tools.downloads import DownloadLinks, Grant

MAIN = "You are Warren, a capable assistant"
SECRET = "download-test-secret-" + "s" * 40
REPORT = "# Sales report\n\nRevenue grew **12%**.\n\n## 总结\n\n销售额增长。\n"


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def serving_like_cli(
    settings: Settings, caplog: pytest.LogCaptureFixture | None = None
) -> AsyncIterator[str]:
    """Warren under uvicorn configured as `warren serve` does: our logging, access log on."""
    configure_logging("INFO", "console")
    if caplog is not None:
        logging.getLogger().addHandler(caplog.handler)  # configure_logging replaced it
    app = create_app(settings)
    logged = {"log_config": None, "log_level": "info", "access_log": True}
    async with served(app, lifespan="on", **logged) as url:
        yield url


def results(frames: list[Any]) -> dict[str, dict[str, Any]]:
    return {f.data["tool_call_id"]: f.data for f in frames if f.event == "tool_result"}


async def test_an_agent_links_a_pdf_that_downloads_over_http(
    provider: str,
    llm: ScriptedLLM,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    save = ToolCall("save_to_pdf", {"path": "report.pdf", "content": REPORT, "title": "Q3"})
    link = ToolCall("generate_download_url", {"path": "/workspace/report.pdf"})
    missing = ToolCall("generate_download_url", {"path": "nothing.pdf"})
    directory = ToolCall("generate_download_url", {"path": "/workspace"})
    clock = ToolCall("utc_now", {})
    script = [Reply(tool_calls=[c]) for c in (save, link, missing, directory, clock)]
    llm.script([(MAIN, [*script, Reply(text="Here is your report.")])])
    caplog.set_level(logging.INFO)
    async with (
        warren_settings(
            provider,
            tmp_path,
            model_api_key="sk-test",
            model_base_url=llm.base_url,
            jwt_secret_key=SECRET,
        ) as settings,
        serving_like_cli(settings, caplog) as url,
    ):
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        stream = await api.run_stream(thread["id"], "Write the report as a PDF and link it.")
        assert stream.frames[-1].data["status"] == "success"
        got = results(stream.frames)
        assert got[save.id]["content"].startswith("Saved /workspace/report.pdf (")
        href, note = got[link.id]["content"].split("\n", 1)
        assert href.startswith("/api/downloads/")  # no PUBLIC_URL: root-relative
        assert note.startswith("This link downloads /workspace/report.pdf and expires at ")
        assert got[missing.id]["content"] == "Error: there is no file at /workspace/nothing.pdf."
        assert got[directory.id]["content"].startswith("Error: /workspace is a directory.")
        assert got[clock.id]["content"].endswith("Z")

        # no credentials: the link is its own
        async with httpx.AsyncClient(base_url=url) as anonymous:
            response = await anonymous.get(href)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == (
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        )
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        # the same bytes as the sandbox holds
        direct = await api.request(
            "GET",
            f"/api/threads/{thread['id']}/files/content",
            params={"path": "/workspace/report.pdf"},
        )
        assert response.content == direct.content
        text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
        assert "Sales report" in text
        assert "销售额增长。" in text

        # once the thread is deleted, the link is dead
        deleted = await api.request("DELETE", f"/api/threads/{thread['id']}")
        assert deleted.status_code == 204
        async with httpx.AsyncClient(base_url=url) as anonymous:
            gone = await anonymous.get(href)
        assert gone.status_code == 404
        assert gone.json()["error"] == "file_not_found"
        await api.aclose()

    token = href.removeprefix("/api/downloads/")
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    printed = capfd.readouterr().err
    for output in (logged, printed):
        assert '"GET /api/downloads/[redacted] HTTP/1.1" 200' in output  # access log captured
        assert '"GET /api/downloads/[redacted] HTTP/1.1" 404' in output
        assert token not in output
        assert token.split(".")[1] not in output


async def test_bad_links_are_refused(llm: ScriptedLLM, tmp_path: Path) -> None:
    links = DownloadLinks(SECRET, ttl_seconds=60)
    async with (
        warren_settings("local", tmp_path, jwt_secret_key=SECRET) as settings,
        serving_like_cli(settings) as url,
    ):
        owner, stranger = Api(url), Api(url)
        me = (await owner.register())["user"]["id"]
        await stranger.register()
        mine = await owner.new_thread()
        theirs = await stranger.new_thread()
        uploaded = await owner.request(
            "POST",
            f"/api/threads/{mine['id']}/files",
            data={"path": "/workspace"},
            files=[("file", ("ünïcode notes.txt", b"hello"))],
        )
        assert uploaded.status_code == 201, uploaded.text

        def token(thread_id: str, path: str, now: float | None = None) -> str:
            return links.sign(links.issue(thread_id, me, path, now=now))

        good = token(mine["id"], "/workspace/ünïcode notes.txt")
        body, mac = good.split(".")
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        payload[1] = theirs["id"]  # point the link at another thread
        forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
        other_key = DownloadLinks("another-secret-" + "z" * 40, ttl_seconds=60)
        cases = {
            good: (200, None),
            token(mine["id"], "/workspace/ünïcode notes.txt", now=0): (410, "link_expired"),
            f"{forged}.{mac}": (404, "invalid_link"),
            good[:-2] + ("AA" if not good.endswith("AA") else "BB"): (404, "invalid_link"),
            "not-a-token": (404, "invalid_link"),
            other_key.sign(other_key.issue(mine["id"], me, "/workspace/x")): (404, "invalid_link"),
            # signed, but that thread is not this user's
            token(theirs["id"], "/workspace/ünïcode notes.txt"): (404, "file_not_found"),
            token(mine["id"], "/workspace/gone.txt"): (404, "file_not_found"),
        }
        async with httpx.AsyncClient(base_url=url) as anonymous:
            for link, (status, code) in cases.items():
                response = await anonymous.get(f"/api/downloads/{link}")
                assert response.status_code == status, (link, response.text)
                if code is not None:
                    assert response.json()["error"] == code
                else:
                    assert response.content == b"hello"
                    assert response.headers["content-disposition"] == (
                        'attachment; filename="_n_code notes.txt"; '
                        "filename*=UTF-8''%C3%BCn%C3%AFcode%20notes.txt"
                    )
            spec = (await anonymous.get("/openapi.json")).json()
        await owner.aclose()
        await stranger.aclose()
    operation = spec["paths"]["/api/downloads/{token}"]["get"]
    assert "security" not in operation
    assert "application/octet-stream" in operation["responses"]["200"]["content"]
    assert {"404", "410"} <= set(operation["responses"])


def test_links_are_absolute_with_a_public_url_and_expire_on_time() -> None:
    links = DownloadLinks(SECRET, ttl_seconds=600, public_url="https://warren.example.com/")
    grant = links.issue("t", "u", "/workspace/a.pdf", now=1_000)
    assert grant == Grant("t", "u", "/workspace/a.pdf", 1_600)
    token = links.sign(grant)
    assert links.url(token) == f"https://warren.example.com/api/downloads/{token}"
    assert links.verify(token, now=1_599) == grant
    with pytest.raises(Exception, match="expired") as expired:
        links.verify(token, now=1_600)
    assert getattr(expired.value, "code", None) == "link_expired"
