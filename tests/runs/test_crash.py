"""kill -9 a Warren process mid-run: the client's stream breaks; after a restart with the same
settings the run is `interrupted`, its stream ends with `error` + `done`, and the thread goes
on. On both deployments: embedded (SQLite) and production (Redis + MongoDB)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.helpers import Api
from tests.runs.processes import WarrenProcess, redis_db, server_env
from tests.runs.streams import assert_same_frames, follow_into, live_stream, wait_for_frames
from warren.storage import keys

MAIN = "You are Warren, a capable assistant"
CRASH_REDIS_DB = 8
LOCK_TTL = 3  # seconds: the shortest lease Warren accepts, so the dead run's lock expires soon


@pytest.fixture(params=["embedded", "production"])
def storage(request: pytest.FixtureRequest) -> dict[str, str]:
    """The storage settings of each deployment: none (SQLite), or Redis + MongoDB."""
    if request.param == "embedded":
        return {}
    return {
        "redis_url": redis_db(request.getfixturevalue("redis_url"), CRASH_REDIS_DB),
        "mongo_uri": request.getfixturevalue("mongo_uri"),
        "mongo_db_name": request.getfixturevalue("mongo_db_name"),
    }


async def test_a_run_killed_with_its_server_is_interrupted_after_restart(
    storage: dict[str, str], tmp_path: Path, llm: ScriptedLLM
) -> None:
    redis = Redis.from_url(storage["redis_url"]) if "redis_url" in storage else None
    if redis is not None:
        await redis.flushdb()
    try:
        await crash_and_restart(storage, tmp_path, llm, redis)
    finally:
        if redis is not None:
            await redis.flushdb()
            await redis.aclose()


async def crash_and_restart(
    storage: dict[str, str], tmp_path: Path, llm: ScriptedLLM, redis: Redis | None
) -> None:
    env = server_env(tmp_path / "data", llm.base_url, **storage, run_lock_ttl_seconds=str(LOCK_TTL))
    answer = "".join(f"w{i} " for i in range(300))
    llm.script(
        [(MAIN, [Reply(text=answer, text_chunks=300, delay=0.05), Reply(text="I am back.")])]
    )

    server = WarrenProcess(env, tmp_path / "first.log")
    await server.start()
    try:
        api = Api(server.url)
        await api.register()
        thread = await api.new_thread()
        runs = f"/api/threads/{thread['id']}/runs"
        body = {"messages": [{"role": "user", "content": "talk for a long time"}]}
        seen = live_stream()
        watching = asyncio.create_task(follow_into(api, "POST", f"{runs}/stream", seen, json=body))
        await wait_for_frames(seen, "message", 5)
        server.kill()
        # the client's stream breaks: an incomplete response, never a clean end
        outcome = (await asyncio.wait_for(asyncio.gather(watching, return_exceptions=True), 30))[0]
        assert isinstance(outcome, httpx.TransportError), outcome
        assert "done" not in seen.types
        await api.aclose()
    finally:
        server.stop()
    await llm.wait_for_aborted(1)  # the dead server's model call went with it
    run_id = seen.frames[0].data["run_id"]

    if redis is not None:
        # the dead run's thread lock is a lease: it runs out, nobody renews it
        assert await redis.get(keys.thread_lock(thread["id"])) == run_id.encode()
        async with asyncio.timeout(LOCK_TTL + 10):
            while await redis.exists(keys.thread_lock(thread["id"])):
                await asyncio.sleep(0.1)

    restarted = WarrenProcess(env, tmp_path / "second.log")
    await restarted.start()
    try:
        api = Api(restarted.url, api.token)
        record = (await api.request("GET", f"{runs}/{run_id}")).json()
        assert record["status"] == "interrupted", record
        assert record["error"]["code"] == "server_restarted"
        assert record["finished_at"] is not None
        thread_now = (await api.request("GET", f"/api/threads/{thread['id']}")).json()
        assert thread_now["status"] != "busy"

        # resuming where the broken stream stopped ends the stream for good
        rest = await api.stream(
            "GET", f"{runs}/{run_id}/stream", headers={"Last-Event-ID": seen.frames[-1].id or ""}
        )
        assert rest.status == 200
        assert rest.types[-2:] == ["error", "done"]
        assert rest.frames[-2].data["code"] == "server_restarted"
        assert rest.frames[-1].data == {
            "type": "done",
            "run_id": run_id,
            "thread_id": thread["id"],
            "status": "interrupted",
        }
        assert set(rest.types[:-2]) <= {"message"}  # deltas written before the kill, if any
        full = await api.stream("GET", f"{runs}/{run_id}/stream")
        assert_same_frames(seen.frames + rest.frames, full.frames)

        # the next message works, and the model sees the conversation so far
        after = await api.request(
            "POST", runs, json={"messages": [{"role": "user", "content": "are you there?"}]}
        )
        assert after.status_code == 200, after.text
        assert after.json()["status"] == "success"
        assert after.json()["messages"][-1]["content"] == "I am back."
        said = [m["content"] for m in llm.requests[-1]["messages"] if m["role"] == "user"]
        assert said == ["talk for a long time", "are you there?"]
        assert (await api.request("GET", f"/api/threads/{thread['id']}")).json()["status"] == "idle"
        await api.aclose()
    finally:
        restarted.stop()
