"""`warren serve` as a real process: restart keeps everything; one process per data dir."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.services import free_port

MAIN = "You are Warren, a capable assistant"
SETTING_PREFIXES = ("WARREN_", "MODEL_", "MONGO_", "REDIS_", "JWT_", "CORS_", "LOGIN_")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    env.update(extra)
    return env


@asynccontextmanager
async def warren_process(
    args: list[str], env: dict[str, str], cwd: Path, port: int
) -> AsyncIterator[str]:
    """Run `warren serve`; on exit, stop it with SIGTERM and check it shut down cleanly."""
    log_path = cwd / f"warren-{port}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *args, "serve", "--port", str(port), env=env, cwd=cwd, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            for _ in range(300):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.returncode is not None:
                    raise AssertionError(f"warren exited: {log_path.read_text()[-3000:]}")
                await asyncio.sleep(0.1)
        yield url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)
    # uvicorn finishes a graceful shutdown, then re-raises the signal it caught
    assert process.returncode in (0, -signal.SIGTERM), log_path.read_text()[-3000:]
    assert "warren stopped" in log_path.read_text()


async def test_restart_keeps_users_threads_and_conversation(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    llm.script([(MAIN, [Reply(text="First answer."), Reply(text="Second answer.")])])
    env = clean_env(
        WARREN_DATA_DIR=str(tmp_path / "data"),
        MODEL_API_KEY="sk-test",
        MODEL_BASE_URL=llm.base_url,
        MODEL_NAME="gpt-test",
    )
    credentials = {"username": "restart-user", "password": "a long password"}
    hello = {"messages": [{"role": "user", "content": "remember me"}]}
    port = free_port()

    async with (
        warren_process([sys.executable, "-m", "warren"], env, tmp_path, port) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        tokens = (await http.post("/api/auth/register", json=credentials)).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        thread = (await http.post("/api/threads", json={"title": "Kept"}, headers=auth)).json()
        run = await http.post(f"/api/threads/{thread['id']}/runs", json=hello, headers=auth)
        assert run.json()["status"] == "success"
        before = (await http.get(f"/api/threads/{thread['id']}/state", headers=auth)).json()
    assert (tmp_path / "data" / "jwt_secret").stat().st_mode & 0o777 == 0o600

    warren_script = str(Path(sys.executable).parent / "warren")
    async with (
        warren_process([warren_script], env, tmp_path, port) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        # the access token from before the restart is still valid: same secret
        old_auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await http.get("/api/auth/me", headers=old_auth)).status_code == 200
        login = await http.post("/api/auth/login", json=credentials)
        assert login.status_code == 200
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        threads = (await http.get("/api/threads", headers=auth)).json()
        assert [t["id"] for t in threads["data"]] == [thread["id"]]
        after = (await http.get(f"/api/threads/{thread['id']}/state", headers=auth)).json()
        assert after == before
        assert [m["content"] for m in after["messages"]] == ["remember me", "First answer."]
        more = await http.post(
            f"/api/threads/{thread['id']}/runs",
            json={"messages": [{"role": "user", "content": "and now?"}]},
            headers=auth,
        )
        assert more.json()["status"] == "success"
    contents = [m["content"] for m in llm.requests[-1]["messages"] if m["role"] != "system"]
    assert contents == ["remember me", "First answer.", "and now?"]


async def test_a_second_process_on_the_same_data_dir_refuses_to_start(tmp_path: Path) -> None:
    env = clean_env(WARREN_DATA_DIR=str(tmp_path / "data"))
    async with warren_process([sys.executable, "-m", "warren"], env, tmp_path, free_port()):
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "warren", "serve", "--port", str(free_port()),
            env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode != 0
        assert b"another Warren process is using" in output


async def test_production_mode_refuses_a_placeholder_secret(tmp_path: Path) -> None:
    env = clean_env(
        WARREN_DATA_DIR=str(tmp_path / "data"),
        REDIS_URL="redis://127.0.0.1:1/0",
        JWT_SECRET_KEY="change-me",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "warren", "serve", "--port", str(free_port()),
        env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert b"JWT_SECRET_KEY is missing or a placeholder" in output
    assert b"change-me" not in output
