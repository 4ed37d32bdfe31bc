"""RunManager: the thread lock lives as long as the run, and a run that loses it stops."""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis.asyncio import Redis

from tests.api.test_auth import assert_error
from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.helpers import Api, make_settings, running_warren
from warren.storage import keys

MAIN = "You are Warren, a capable assistant"
HELLO = {"messages": [{"role": "user", "content": "hello"}]}


async def test_the_lock_is_renewed_while_the_run_lives(tmp_path: Path, llm: ScriptedLLM) -> None:
    gate = asyncio.Event()
    llm.script([(MAIN, [Reply(text="slow but fine", gate=gate)])])
    settings = make_settings(
        tmp_path / "data",
        model_api_key="sk-test",
        model_base_url=llm.base_url,
        run_lock_ttl_seconds=3,
    )
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        watching = asyncio.create_task(api.run_stream(thread["id"], "take your time"))
        await asyncio.sleep(4.5)  # past the lock's first lifetime
        busy = await api.request("POST", f"/api/threads/{thread['id']}/runs", json=HELLO)
        assert_error(busy, 409, "thread_busy")
        gate.set()
        stream = await watching
        assert stream.frames[-1].data["status"] == "success"
        await api.aclose()


async def test_a_run_that_loses_its_lock_stops(
    tmp_path: Path, llm: ScriptedLLM, redis_url: str, mongo_uri: str, mongo_db_name: str
) -> None:
    gate = asyncio.Event()
    llm.script([(MAIN, [Reply(text="never", gate=gate)])])
    settings = make_settings(
        tmp_path / "data",
        backend="production",
        redis_url=redis_url,
        mongo_uri=mongo_uri,
        mongo_db_name=mongo_db_name,
        model_api_key="sk-test",
        model_base_url=llm.base_url,
        run_lock_ttl_seconds=3,
    )
    redis = Redis.from_url(redis_url)
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        watching = asyncio.create_task(api.run_stream(thread["id"], "hang"))
        await llm.wait_for_requests()
        # someone else takes the thread (as after a Redis failover that lost the key)
        await redis.set(keys.thread_lock(thread["id"]), "another-run", px=60_000)
        stream = await asyncio.wait_for(watching, 10)
        assert [f.data["code"] for f in stream.frames if f.event == "error"] == ["lock_lost"]
        assert stream.frames[-1].data["status"] == "error"
        assert await redis.get(keys.thread_lock(thread["id"])) == b"another-run"  # not released
        gate.set()
        await api.aclose()
    await redis.aclose()
