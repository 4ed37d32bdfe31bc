"""Double texting (`multitask_strategy`) and `on_disconnect`, end to end over HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from tests.api.test_auth import assert_error
from tests.conftest import SettingsFactory
from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.helpers import Api, make_settings, running_warren
from warren.runs.turns import INTERRUPT_WAIT_SECONDS
from warren.storage import keys

MAIN = "You are Warren, a capable assistant"


def body(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


async def accept(api: Api, thread_id: str, text: str, **extra: Any) -> str:
    """Start a streamed run, read its first event (acceptance), hang up; return its id."""
    head = await api.stream(
        "POST", f"/api/threads/{thread_id}/runs/stream", json=body(text, **extra), stop_after=1
    )
    assert head.status == 200, head.body
    assert head.types == ["run_started"]
    return str(head.frames[0].data["run_id"])


async def run_status(api: Api, thread_id: str, run_id: str) -> str:
    response = await api.request("GET", f"/api/threads/{thread_id}/runs/{run_id}")
    return str(response.json()["status"])


async def wait_status(api: Api, thread_id: str, run_id: str, *wanted: str) -> str:
    async with asyncio.timeout(20):
        while (status := await run_status(api, thread_id, run_id)) not in wanted:
            await asyncio.sleep(0.05)
    return status


def last_exchange(request: dict[str, Any]) -> tuple[list[str], str]:
    """(the assistant answers the model was shown, the last user message)."""
    messages = request["messages"]
    answers = [m["content"] for m in messages if m["role"] == "assistant" and m.get("content")]
    users = [m["content"] for m in messages if m["role"] == "user"]
    return answers, users[-1]


async def test_enqueued_runs_run_in_order_each_seeing_the_previous_answers(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    gate = asyncio.Event()
    llm.script(
        [
            (
                MAIN,
                [
                    Reply(text="answer one", gate=gate),
                    Reply(text="answer two"),
                    Reply(text="answer three"),
                    Reply(text="answer four"),
                ],
            )
        ]
    )
    settings = settings_for(model_api_key="sk-test", model_base_url=llm.base_url, run_max_queued=3)
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        tid = thread["id"]
        first = await accept(api, tid, "message one")
        await llm.wait_for_requests()
        queued = [
            await accept(api, tid, f"message {n}", multitask_strategy="enqueue")
            for n in ("two", "three", "four")
        ]
        # accepted at once, pending, and their streams can be joined right away
        assert [await run_status(api, tid, r) for r in queued] == ["pending"] * 3
        joined = asyncio.create_task(
            api.stream("GET", f"/api/threads/{tid}/runs/{queued[0]}/stream")
        )
        full = await api.request(
            "POST", f"/api/threads/{tid}/runs", json=body("one more", multitask_strategy="enqueue")
        )
        assert_error(full, 409, "queue_full")
        busy = await api.request("POST", f"/api/threads/{tid}/runs", json=body("now please"))
        assert_error(busy, 409, "thread_busy")
        await asyncio.sleep(0.5)
        assert len(llm.requests) == 1  # nothing queued started while the first runs
        gate.set()
        for run_id in [first, *queued]:
            assert await wait_status(api, tid, run_id, "success", "error") == "success"
        stream = await asyncio.wait_for(joined, 10)
        assert stream.types[0] == "run_started"
        assert stream.frames[-1].data["status"] == "success"
        assert "".join(f.data["content"] for f in stream.frames if f.event == "message") == (
            "answer two"
        )

        assert [last_exchange(r) for r in llm.requests] == [
            ([], "message one"),
            (["answer one"], "message two"),
            (["answer one", "answer two"], "message three"),
            (["answer one", "answer two", "answer three"], "message four"),
        ]
        runs = (await api.request("GET", f"/api/threads/{tid}/runs")).json()["data"]
        started = {r["run_id"]: r["started_at"] for r in runs}
        order = [first, *queued]
        assert sorted(order, key=lambda r: started[r]) == order
        assert (await api.request("GET", f"/api/threads/{tid}")).json()["status"] == "idle"
        await api.aclose()


async def test_a_cancelled_queued_run_ends_without_running(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    gate = asyncio.Event()
    llm.script([(MAIN, [Reply(text="first answer", gate=gate), Reply(text="third answer")])])
    settings = make_settings(
        tmp_path / "data", model_api_key="sk-test", model_base_url=llm.base_url
    )
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        tid = (await api.new_thread())["id"]
        first = await accept(api, tid, "first")
        await llm.wait_for_requests()
        second = await accept(api, tid, "second", multitask_strategy="enqueue")
        follower = asyncio.create_task(
            api.stream("GET", f"/api/threads/{tid}/runs/{second}/stream")
        )
        cancel = await api.request("POST", f"/api/threads/{tid}/runs/{second}/cancel")
        assert cancel.status_code == 202
        stream = await asyncio.wait_for(follower, 10)
        assert stream.types == ["run_started", "done"]
        assert stream.frames[-1].data["status"] == "cancelled"
        assert await run_status(api, tid, second) == "cancelled"
        assert await run_status(api, tid, first) == "running"  # untouched
        assert (await api.request("GET", f"/api/threads/{tid}")).json()["status"] == "busy"
        third = await accept(api, tid, "third", multitask_strategy="enqueue")
        gate.set()
        assert await wait_status(api, tid, third, "success", "error") == "success"
        assert await run_status(api, tid, first) == "success"
        assert [last_exchange(r)[1] for r in llm.requests] == ["first", "third"]
        await api.aclose()


async def test_deleting_a_thread_ends_its_queued_runs(tmp_path: Path, llm: ScriptedLLM) -> None:
    gate = asyncio.Event()  # never set: the first run hangs until the delete cancels it
    llm.script([(MAIN, [Reply(text="never", gate=gate)])])
    settings = make_settings(
        tmp_path / "data", model_api_key="sk-test", model_base_url=llm.base_url
    )
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        tid = (await api.new_thread())["id"]
        await accept(api, tid, "first")
        await llm.wait_for_requests()
        queued = await accept(api, tid, "second", multitask_strategy="enqueue")
        follower = asyncio.create_task(
            api.stream("GET", f"/api/threads/{tid}/runs/{queued}/stream")
        )
        await asyncio.sleep(0.2)
        assert (await api.request("DELETE", f"/api/threads/{tid}")).status_code == 204
        stream = await asyncio.wait_for(follower, 15)
        assert stream.types[-1] == "done"
        assert stream.frames[-1].data["status"] == "cancelled"
        assert len(llm.requests) == 1  # the queued run never reached the model
        await api.aclose()


async def test_interrupt_cancels_the_running_run_then_starts(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    gate = asyncio.Event()  # never set: only the interrupt ends the first run
    llm.script([(MAIN, [Reply(text="never", gate=gate), Reply(text="the new answer")])])
    settings = settings_for(model_api_key="sk-test", model_base_url=llm.base_url)
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        tid = (await api.new_thread())["id"]
        first_stream = asyncio.create_task(api.run_stream(tid, "take forever"))
        await llm.wait_for_requests()
        second = await api.run_stream(tid, "actually, this", multitask_strategy="interrupt")
        assert second.status == 200
        assert second.frames[-1].data["status"] == "success"
        first = await asyncio.wait_for(first_stream, 10)
        assert first.frames[-1].data["status"] == "cancelled"
        first_id = first.frames[0].data["run_id"]
        assert await run_status(api, tid, first_id) == "cancelled"
        state = (await api.request("GET", f"/api/threads/{tid}/state")).json()
        assert state["messages"][-1]["content"] == "the new answer"
        assert state["status"] == "idle"
        await api.aclose()


async def test_interrupt_gives_up_with_409_when_the_thread_stays_busy(
    tmp_path: Path, llm: ScriptedLLM, redis_url: str, mongo_uri: str, mongo_db_name: str
) -> None:
    settings = make_settings(
        tmp_path / "data",
        backend="production",
        redis_url=redis_url,
        mongo_uri=mongo_uri,
        mongo_db_name=mongo_db_name,
        model_api_key="sk-test",
        model_base_url=llm.base_url,
    )
    redis = Redis.from_url(redis_url)
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        tid = (await api.new_thread())["id"]
        # a holder that no cancel reaches (as a stuck replica would be)
        await redis.set(keys.thread_lock(tid), "stuck-run", px=60_000)
        started = asyncio.get_running_loop().time()
        response = await api.request(
            "POST", f"/api/threads/{tid}/runs", json=body("now", multitask_strategy="interrupt")
        )
        waited = asyncio.get_running_loop().time() - started
        assert_error(response, 409, "thread_busy")
        assert INTERRUPT_WAIT_SECONDS <= waited < INTERRUPT_WAIT_SECONDS + 3
        assert (await api.request("GET", f"/api/threads/{tid}/runs")).json()["count"] == 0
        assert await redis.exists(keys.run_queue(tid)) == 0  # its queue entry is gone
        assert llm.requests == []
        await api.aclose()
    await redis.aclose()


async def test_on_disconnect_cancel_cancels_the_run_when_the_client_drops(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    gate = asyncio.Event()  # never set: the run waits for its model until cancelled
    llm.script([(MAIN, [Reply(text="never", gate=gate), Reply(text="next")])])
    settings = settings_for(model_api_key="sk-test", model_base_url=llm.base_url)
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        tid = (await api.new_thread())["id"]
        request = body("hang", on_disconnect="cancel")
        url_ = f"/api/threads/{tid}/runs/stream"
        async with api.http.stream("POST", url_, json=request, headers=api.auth()) as response:
            lines = response.aiter_lines()
            while not (line := await anext(lines)).startswith("data:"):
                pass
            run_id = json.loads(line[5:])["run_id"]
            await llm.wait_for_requests()  # the model call is in flight; now hang up
        assert await wait_status(api, tid, run_id, "cancelled", "success", "error") == "cancelled"
        await llm.wait_for_aborted()  # the model call itself was dropped
        after = await api.request("POST", f"/api/threads/{tid}/runs", json=body("still here?"))
        assert after.json()["status"] == "success"  # the thread is free at once
        await api.aclose()


async def test_on_disconnect_continue_is_the_default(tmp_path: Path, llm: ScriptedLLM) -> None:
    gate = asyncio.Event()
    llm.script([(MAIN, [Reply(text="finished anyway", gate=gate)])])
    settings = make_settings(
        tmp_path / "data", model_api_key="sk-test", model_base_url=llm.base_url
    )
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        tid = (await api.new_thread())["id"]
        run_id = await accept(api, tid, "go on without me")
        await llm.wait_for_requests()
        await asyncio.sleep(0.3)  # the hang-up has been seen by now
        assert await run_status(api, tid, run_id) == "running"
        gate.set()
        assert await wait_status(api, tid, run_id, "success", "cancelled", "error") == "success"
        await api.aclose()


async def test_invalid_strategies_are_422(tmp_path: Path, llm: ScriptedLLM) -> None:
    settings = make_settings(
        tmp_path / "data", model_api_key="sk-test", model_base_url=llm.base_url
    )
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        tid = (await api.new_thread())["id"]
        for extra in ({"multitask_strategy": "rollback"}, {"on_disconnect": "explode"}):
            response = await api.request(
                "POST", f"/api/threads/{tid}/runs", json=body("x", **extra)
            )
            assert_error(response, 422, "invalid_request")
        assert llm.requests == []
        await api.aclose()


async def test_a_run_queued_on_another_replica_waits_its_turn(
    tmp_path: Path, llm: ScriptedLLM, redis_url: str, mongo_uri: str, mongo_db_name: str
) -> None:
    gate = asyncio.Event()
    llm.script([(MAIN, [Reply(text="from replica a", gate=gate), Reply(text="from replica b")])])

    def replica(name: str) -> Any:
        return make_settings(
            tmp_path / name,
            backend="production",
            redis_url=redis_url,
            mongo_uri=mongo_uri,
            mongo_db_name=mongo_db_name,
            model_api_key="sk-test",
            model_base_url=llm.base_url,
        )

    async with running_warren(replica("a")) as url_a, running_warren(replica("b")) as url_b:
        a = Api(url_a)
        await a.register()
        b = Api(url_b, a.token)
        tid = (await a.new_thread())["id"]
        first = await accept(a, tid, "on a")
        await llm.wait_for_requests()
        second = await accept(b, tid, "on b", multitask_strategy="enqueue")
        await asyncio.sleep(0.5)
        assert await run_status(a, tid, second) == "pending"
        gate.set()
        assert await wait_status(a, tid, second, "success", "error") == "success"
        assert await run_status(b, tid, first) == "success"
        assert [last_exchange(r) for r in llm.requests] == [
            ([], "on a"),
            (["from replica a"], "on b"),
        ]
        await a.aclose()
        await b.aclose()
