"""Two Warren processes sharing one Redis, one records store and one sandbox data dir: a
stream resumed on the other replica, a cancel sent to the other replica, two subscribers.

Each replica is a real `python -m warren serve` process; the scripted model runs here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.helpers import Api
from tests.runs.processes import WarrenProcess, redis_db, server_env
from tests.runs.streams import (
    assert_same_frames,
    follow_into,
    live_stream,
    text_of,
    wait_for_frames,
)

MAIN = "You are Warren, a capable assistant"
REPLICA_REDIS_DB = 7
CANCEL_BOUND = 2.0 + 0.5  # the 2 s, with a little room for a loaded 2-core machine


@dataclass
class Replicas:
    a: WarrenProcess
    b: WarrenProcess
    api_a: Api
    api_b: Api  # the same user, logged in through A, calling B


@pytest.fixture
async def replicas(
    tmp_path: Path, llm: ScriptedLLM, redis_url: str, mongo_uri: str, mongo_db_name: str
) -> AsyncIterator[Replicas]:
    url = redis_db(redis_url, REPLICA_REDIS_DB)
    redis = Redis.from_url(url)
    await redis.flushdb()
    env = server_env(
        tmp_path / "data",
        llm.base_url,
        redis_url=url,
        mongo_uri=mongo_uri,
        mongo_db_name=mongo_db_name,
    )
    a = WarrenProcess(env, tmp_path / "a.log")
    b = WarrenProcess(env, tmp_path / "b.log")
    try:
        await asyncio.gather(a.start(), b.start())
        api_a = Api(a.url)
        await api_a.register()
        api_b = Api(b.url, api_a.token)
        yield Replicas(a, b, api_a, api_b)
        await api_a.aclose()
        await api_b.aclose()
    finally:
        a.stop()
        b.stop()
        await redis.flushdb()
        await redis.aclose()


def words(count: int) -> str:
    return "".join(f"w{i} " for i in range(count))


async def test_a_stream_started_on_a_resumes_on_b_without_gap_or_duplicate(
    replicas: Replicas, llm: ScriptedLLM
) -> None:
    answer = words(80)
    llm.script([(MAIN, [Reply(text=answer, text_chunks=80, delay=0.05)])])
    api_a, api_b = replicas.api_a, replicas.api_b
    thread = await api_a.new_thread()
    runs = f"/api/threads/{thread['id']}/runs"
    body = {"messages": [{"role": "user", "content": "count slowly"}]}

    # A: read the first frames, then drop the connection mid-answer
    head = await api_a.stream("POST", f"{runs}/stream", json=body, stop_after=6)
    assert head.status == 200
    assert head.types == ["run_started"] + ["message"] * 5
    run_id = head.frames[0].data["run_id"]
    record = (await api_b.request("GET", f"{runs}/{run_id}")).json()
    assert record["status"] == "running"  # B sees the run A executes, still going

    # B: resume after the last event A delivered
    rest = await api_b.stream(
        "GET", f"{runs}/{run_id}/stream", headers={"Last-Event-ID": head.frames[-1].id or ""}
    )
    assert rest.status == 200
    assert rest.frames[-1].data == {
        "type": "done",
        "run_id": run_id,
        "thread_id": thread["id"],
        "status": "success",
    }
    # the server's own log, read from the start once the run has ended
    full = await api_a.stream("GET", f"{runs}/{run_id}/stream")
    assert_same_frames(head.frames + rest.frames, full.frames)
    assert text_of(head.frames + rest.frames) == answer
    assert llm.errors == []
    assert (await api_b.request("GET", f"{runs}/{run_id}")).json()["status"] == "success"


async def test_a_cancel_sent_to_b_stops_a_run_executing_on_a(
    replicas: Replicas, llm: ScriptedLLM
) -> None:
    llm.script([(MAIN, [Reply(text=words(200), text_chunks=200, delay=0.05), Reply(text="again")])])
    api_a, api_b = replicas.api_a, replicas.api_b
    thread = await api_a.new_thread()
    runs = f"/api/threads/{thread['id']}/runs"
    body = {"messages": [{"role": "user", "content": "talk for a while"}]}
    on_a = live_stream()
    watching_a = asyncio.create_task(follow_into(api_a, "POST", f"{runs}/stream", on_a, json=body))
    await wait_for_frames(on_a, "message", 3)
    run_id = on_a.frames[0].data["run_id"]
    on_b = live_stream()
    watching_b = asyncio.create_task(follow_into(api_b, "GET", f"{runs}/{run_id}/stream", on_b))
    await wait_for_frames(on_b, "message", 3)

    started = asyncio.get_running_loop().time()
    assert (await api_b.request("POST", f"{runs}/{run_id}/cancel")).status_code == 202
    await asyncio.wait_for(asyncio.gather(watching_a, watching_b), 15)
    elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < CANCEL_BOUND, f"cancel took {elapsed:.2f} s"

    done = {"type": "done", "run_id": run_id, "thread_id": thread["id"], "status": "cancelled"}
    assert on_a.frames[-1].data == done
    assert on_b.frames[-1].data == done
    assert_same_frames(on_a.frames, on_b.frames)  # B joined from the first event
    assert len(text_of(on_a.frames)) < len(words(200))  # it stopped mid-answer
    await llm.wait_for_aborted(1)  # A dropped its model call
    assert llm.aborted == [0]

    assert (await api_a.request("GET", f"{runs}/{run_id}")).json()["status"] == "cancelled"
    assert (await api_b.request("GET", f"/api/threads/{thread['id']}")).json()["status"] == "idle"
    # nothing after `done`, even a moment later
    await asyncio.sleep(0.5)
    assert_same_frames((await api_b.stream("GET", f"{runs}/{run_id}/stream")).frames, on_a.frames)
    # the thread takes the next message at once, on either replica
    after = await api_b.request(
        "POST", runs, json={"messages": [{"role": "user", "content": "still there?"}]}
    )
    assert after.status_code == 200, after.text
    assert after.json()["status"] == "success"
    assert after.json()["messages"][-1]["content"] == "again"


async def test_subscribers_on_both_replicas_get_the_same_stream(
    replicas: Replicas, llm: ScriptedLLM
) -> None:
    gate = asyncio.Event()
    answer = words(30)
    llm.script([(MAIN, [Reply(text=answer, text_chunks=30, delay=0.01, gate=gate)])])
    api_a, api_b = replicas.api_a, replicas.api_b
    thread = await api_a.new_thread()
    runs = f"/api/threads/{thread['id']}/runs"
    body = {"messages": [{"role": "user", "content": "hello both"}]}
    on_a = live_stream()
    watching_a = asyncio.create_task(follow_into(api_a, "POST", f"{runs}/stream", on_a, json=body))
    await wait_for_frames(on_a, "run_started", 1)
    run_id = on_a.frames[0].data["run_id"]
    on_b = live_stream()
    watching_b = asyncio.create_task(follow_into(api_b, "GET", f"{runs}/{run_id}/stream", on_b))
    await wait_for_frames(on_b, "run_started", 1)
    await llm.wait_for_requests(1)
    gate.set()  # the answer starts only once both are subscribed
    await asyncio.wait_for(asyncio.gather(watching_a, watching_b), 30)

    assert on_a.status == on_b.status == 200
    assert on_a.types[-1] == "done"
    assert on_a.frames[-1].data["status"] == "success"
    assert_same_frames(on_a.frames, on_b.frames)
    assert text_of(on_b.frames) == answer
