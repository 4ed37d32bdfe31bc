"""`warren serve` as a real process: restart keeps everything; one process per data dir."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.services import free_port

MAIN = "You are Warren, a capable assistant"
PROCESSES: dict[int, asyncio.subprocess.Process] = {}
SETTING_PREFIXES = ("WARREN_", "MODEL_", "MONGO_", "REDIS_", "JWT_", "CORS_", "LOGIN_")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    env.update(extra)
    return env


@asynccontextmanager
async def warren_process(
    args: list[str], env: dict[str, str], cwd: Path, port: int, *extra: str
) -> AsyncIterator[str]:
    """Run `warren serve`; on exit, stop it with SIGTERM and check it shut down cleanly."""
    log_path = cwd / f"warren-{port}.log"
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *args, "serve", "--port", str(port), *extra, env=env, cwd=cwd, stdout=log, stderr=log
        )
    PROCESSES[port] = process
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


async def serve_until_exit(env: dict[str, str], cwd: Path) -> tuple[int | None, bytes]:
    """Run `python -m warren serve` expecting it to exit on its own; (code, output)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "warren", "serve", "--port", str(free_port()),
        env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, output


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
        code, output = await serve_until_exit(env, tmp_path)
        assert code != 0
        assert b"another Warren process is using" in output


async def test_production_mode_refuses_a_placeholder_secret(tmp_path: Path) -> None:
    env = clean_env(
        WARREN_DATA_DIR=str(tmp_path / "data"),
        REDIS_URL="redis://127.0.0.1:1/0",
        JWT_SECRET_KEY="change-me",
    )
    code, output = await serve_until_exit(env, tmp_path)
    assert code == 2
    assert b"JWT_SECRET_KEY is missing or a placeholder" in output
    assert b"change-me" not in output


def hanging_setup(
    tmp_path: Path, llm: ScriptedLLM
) -> tuple[asyncio.Event, dict[str, str], int, list[str]]:
    """A model whose first answer waits for the returned gate, and how to start Warren."""
    gate = asyncio.Event()
    llm.script([(MAIN, [Reply(text="never", gate=gate), Reply(text="Yes.")])])
    env = clean_env(
        WARREN_DATA_DIR=str(tmp_path / "data"), MODEL_API_KEY="sk-test", MODEL_BASE_URL=llm.base_url
    )
    return gate, env, free_port(), [sys.executable, "-m", "warren"]


async def start_hanging_run(
    http: httpx.AsyncClient, llm: ScriptedLLM
) -> tuple[dict[str, str], str]:
    """Register, create a thread and start a run whose model call never answers."""
    tokens = (
        await http.post("/api/auth/register", json={"username": "crash", "password": "password 1"})
    ).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    thread = (await http.post("/api/threads", json={}, headers=auth)).json()

    async def watch() -> None:
        body = {"messages": [{"role": "user", "content": "hang"}]}
        async with http.stream(
            "POST", f"/api/threads/{thread['id']}/runs/stream", json=body, headers=auth
        ) as response:
            async for _line in response.aiter_lines():
                pass

    watcher = asyncio.create_task(watch())
    await llm.wait_for_requests()
    return auth, thread["id"], watcher


async def assert_run_ended(
    http: httpx.AsyncClient, auth: dict[str, str], thread_id: str, code: str
) -> None:
    runs = (await http.get(f"/api/threads/{thread_id}/runs", headers=auth)).json()["data"]
    assert [(r["status"], r["error"]["code"]) for r in runs] == [("interrupted", code)]
    assert (await http.get(f"/api/threads/{thread_id}", headers=auth)).json()["status"] == "error"
    replay = await http.get(
        f"/api/threads/{thread_id}/runs/{runs[0]['run_id']}/stream", headers=auth
    )
    events = [line[7:] for line in replay.text.splitlines() if line.startswith("event: ")]
    assert events[0] == "run_started"
    assert events[-2:] == ["error", "done"]
    assert '"status":"interrupted"' in replay.text.splitlines()[-3]
    again = await http.post(
        f"/api/threads/{thread_id}/runs",
        json={"messages": [{"role": "user", "content": "still there?"}]},
        headers=auth,
    )
    assert again.json()["status"] == "success"  # the thread is usable


async def test_a_run_killed_with_its_server_is_closed_on_restart(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    gate, env, port, cli = hanging_setup(tmp_path, llm)
    with contextlib.suppress(AssertionError):  # killed: not a clean shutdown, on purpose
        async with (
            warren_process(cli, env, tmp_path, port) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            auth, thread_id, watcher = await start_hanging_run(http, llm)
            PROCESSES[port].kill()
            await PROCESSES[port].wait()
    await asyncio.gather(watcher, return_exceptions=True)  # its connection died with the server
    gate.set()
    async with (
        warren_process(cli, env, tmp_path, port) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        await assert_run_ended(http, auth, thread_id, "server_restarted")


async def test_a_stopping_server_records_its_runs_as_interrupted(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    gate, env, port, cli = hanging_setup(tmp_path, llm)
    async with (
        warren_process(cli, env, tmp_path, port, "--graceful-timeout", "1") as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        auth, thread_id, watcher = await start_hanging_run(http, llm)
    await asyncio.gather(watcher, return_exceptions=True)
    gate.set()
    async with (
        warren_process(cli, env, tmp_path, port) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        await assert_run_ended(http, auth, thread_id, "server_shutdown")


async def test_invalid_settings_stop_the_cli_with_a_clear_message(tmp_path: Path) -> None:
    env = clean_env(WARREN_DATA_DIR=str(tmp_path / "data"), ACCESS_TOKEN_EXPIRE_MINUTES="soon")
    code, output = await serve_until_exit(env, tmp_path)
    assert code == 2
    assert b"invalid settings" in output
    assert b"access_token_expire_minutes" in output


def test_healthcheck_fails_when_nothing_answers_and_never_loads_the_server() -> None:
    """Docker runs it every 30 s: it reports a dead server, and stays light (the standard
    library only, not the app with LangChain behind it)."""
    port = free_port()
    script = (
        "import sys; from warren.cli import main; code = main(['healthcheck', '--port', "
        f"'{port}', '--timeout', '2']); print(sorted(m for m in sys.modules "
        "if m.startswith(('warren.app', 'langchain', 'fastapi', 'uvicorn')))); sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert f"http://127.0.0.1:{port}/healthz did not answer" in result.stderr
    assert result.stdout.strip() == "[]"
