"""Bounded subscribers: a client that stops reading is dropped with a resumable gap."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import SettingsFactory
from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.helpers import Api, running_warren
from warren.runs.subscriber import bounded
from warren.storage.live import LiveState, LoggedEvent
from warren.storage.local_live import local_live_state
from warren.storage.redis_live import connect_redis, redis_live_state
from warren.storage.sqlite import EVENTS_SCHEMA, Database

MAIN = "You are Warren, a capable assistant"


@pytest.fixture(params=["local", "redis"])
async def live(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LiveState]:
    if request.param == "local":
        db = await Database.open(tmp_path / "live.sqlite3", EVENTS_SCHEMA, "NORMAL")
        try:
            yield local_live_state(db)[0]
        finally:
            await db.close()
        return
    redis = connect_redis(request.getfixturevalue("redis_url"))
    try:
        yield redis_live_state(redis)
    finally:
        await redis.aclose()


async def fill(live: LiveState, run: str, count: int) -> list[str]:
    return [await live.events.append(run, "message", {"n": n}) for n in range(count)]


async def test_a_stalled_subscriber_is_dropped_then_resumes_without_gap_or_duplicate(
    live: LiveState,
) -> None:
    run = str(uuid.uuid4())
    ids = await fill(live, run, 40)
    drops: list[int] = []
    stream = bounded(live.events.follow(run), 10, stall=0.2, on_drop=lambda: drops.append(1))
    got: list[LoggedEvent] = [await anext(stream), await anext(stream)]
    await asyncio.sleep(0.6)  # the client stops reading: the buffer fills and stays full
    got.extend([event async for event in stream])  # what was buffered, then the end
    assert drops == [1]
    assert 2 + 10 <= len(got) <= 2 + 10 + 1  # the buffer bounds what was held for it
    assert [e.id for e in got] == ids[: len(got)]
    assert "done" not in [e.type for e in got]

    # the client resumes after the last id it got, while the run goes on
    resumed = asyncio.create_task(_collect(live.events.follow(run, got[-1].id)))
    await asyncio.sleep(0.1)
    done = await live.events.append(run, "done", {})
    rest = await asyncio.wait_for(resumed, 10)
    assert [e.id for e in got + rest] == [*ids, done]


async def test_a_reader_that_keeps_up_is_never_dropped(live: LiveState) -> None:
    run = str(uuid.uuid4())
    ids = await fill(live, run, 60)
    done = await live.events.append(run, "done", {})
    drops: list[int] = []
    got = await _collect(bounded(live.events.follow(run), 10, on_drop=lambda: drops.append(1)))
    assert [e.id for e in got] == [*ids, done]
    assert drops == []


async def _collect(events: AsyncIterator[LoggedEvent]) -> list[LoggedEvent]:
    return [event async for event in events]


async def test_streams_over_http_stay_complete_with_a_small_buffer(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    llm.script([(MAIN, [Reply(text="x" * 400, text_chunks=100)])])
    settings = settings_for(
        model_api_key="sk-test", model_base_url=llm.base_url, run_subscriber_buffer=10
    )
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        stream = await api.run_stream(thread["id"], "many small deltas")
        assert stream.types[-1] == "done"
        deltas = [f.data["content"] for f in stream.frames if f.event == "message"]
        assert "".join(deltas) == "x" * 400
        await api.aclose()
