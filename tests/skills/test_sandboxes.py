"""Skills live with the user, not the sandbox: a recreated sandbox and a restarted server get
them back from the records (the URL is gone by then), on both sandbox providers; another
user's sandboxes never get them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.conftest import SettingsFactory
from tests.fakes.opensandbox_server import provider_for, running_opensandbox
from tests.helpers import Api, running_warren
from tests.skills.conftest import FileServer, good_skill, skill_md
from tests.skills.test_api import SKILL, install, sandbox_dir, sandbox_file, with_sandbox
from warren.config import Settings
from warren.sandbox.local import LocalProvider
from warren.sandbox.protocol import SandboxProvider


@asynccontextmanager
async def sandboxes_for(
    kind: str, settings_for: SettingsFactory, tmp_path: Path, **overrides: object
) -> AsyncIterator[tuple[Settings, SandboxProvider]]:
    """Settings for one provider, and a provider of the test's own onto the same sandboxes."""
    if kind == "local":
        settings = settings_for(**overrides)
        yield settings, LocalProvider(settings.warren_data_dir / "sandboxes")
        return
    backing = LocalProvider(tmp_path / "backing")
    await backing.probe()
    async with running_opensandbox(backing) as server:
        settings = settings_for(
            sandbox_provider="opensandbox",
            opensandbox_server_url=server.url,
            opensandbox_api_key=server.api_key,
            **overrides,
        )
        provider = provider_for(server)
        try:
            yield settings, provider
        finally:
            await provider.aclose()


@pytest.mark.parametrize("kind", ["local", "opensandbox"])
async def test_a_skill_survives_sandbox_recreation_and_restarts(
    kind: str, settings_for: SettingsFactory, files: FileServer, tmp_path: Path
) -> None:
    expected = skill_md("haiku-writer")
    async with sandboxes_for(
        kind, settings_for, tmp_path, warren_fetch_allow_hosts=[files.host]
    ) as (settings, provider):
        async with running_warren(settings) as url:
            alice, bob = Api(url), Api(url)
            await alice.register()
            await bob.register()
            thread_id = await with_sandbox(alice)
            created = await install(alice, files.serve("haiku.zip", good_skill()))
            assert created.status_code == 201, created.text
            await files.stop()  # from here on the URL cannot be fetched again

            [original] = await provider.list({"thread_id": thread_id})
            await provider.kill(original.id)  # lost behind the server's back
            await with_sandbox_again(alice, thread_id)
            [recreated] = await provider.list({"thread_id": thread_id})
            assert recreated.id != original.id
            assert (await sandbox_file(alice, thread_id, f"{SKILL}/SKILL.md")).content == expected
            assert await sandbox_dir(alice, thread_id, SKILL) == [
                "SKILL.md",
                "reference",
                "scripts",
            ]

            other = await with_sandbox(bob)  # another user's sandbox gets none of it
            assert await sandbox_dir(bob, other, "/skills") is None
            await alice.aclose()
            await bob.aclose()

        async with running_warren(settings) as url:
            alice = Api(url, alice.token)
            listed = (await alice.request("GET", "/api/skills")).json()
            assert [s["name"] for s in listed["data"]] == ["haiku-writer"]
            fresh = await with_sandbox(alice)
            assert (await sandbox_file(alice, fresh, f"{SKILL}/SKILL.md")).content == expected
            await alice.aclose()
    assert files.paths() == ["/f/haiku.zip"]  # fetched once, ever


async def with_sandbox_again(api: Api, thread_id: str) -> None:
    """Use the thread's sandbox (an upload): a lost one is recreated on the way."""
    upload = [("file", ("again.txt", b"again", "text/plain"))]
    response = await api.request(
        "POST", f"/api/threads/{thread_id}/files", data={"path": "/workspace"}, files=upload
    )
    assert response.status_code == 201, response.text
