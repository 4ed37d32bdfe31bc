"""Runs over HTTP: busy threads, model configuration, waiting, joining, cancelling, memory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.api.test_auth import assert_error
from tests.conftest import SettingsFactory
from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.helpers import Api, Stream, make_settings, parse_sse, running_warren
from warren.storage.factory import open_storage

Client = Callable[..., Api]
MAIN = "You are Warren, a capable assistant"
HELLO = {"messages": [{"role": "user", "content": "hello"}]}


async def wait_for_status(api: Api, thread_id: str, run_id: str, status: str) -> dict[str, object]:
    for _ in range(200):
        run = (await api.request("GET", f"/api/threads/{thread_id}/runs/{run_id}")).json()
        if run["status"] == status:
            return dict(run)
        await asyncio.sleep(0.05)
    raise AssertionError(f"run never reached {status}: {run}")


async def test_wait_returns_the_new_messages(client: Client, llm: ScriptedLLM) -> None:
    llm.script([(MAIN, [Reply(text="Hi there."), Reply(text="Second answer.")])])
    api = client()
    await api.register()
    thread = await api.new_thread()
    first = await api.request("POST", f"/api/threads/{thread['id']}/runs", json=HELLO)
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "success"
    assert body["error"] is None
    assert body["usage"] == {"input_tokens": 11, "output_tokens": 7}
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "hello"),
        ("assistant", "Hi there."),
    ]
    second = await api.request(
        "POST",
        f"/api/threads/{thread['id']}/runs",
        json={"messages": [{"role": "user", "content": "again"}]},
    )
    assert [(m["role"], m["content"]) for m in second.json()["messages"]] == [
        ("user", "again"),
        ("assistant", "Second answer."),
    ]
    # the untitled thread was named after its first message
    assert (await api.request("GET", f"/api/threads/{thread['id']}")).json()["title"] == "hello"
    runs = (await api.request("GET", f"/api/threads/{thread['id']}/runs")).json()
    assert runs["count"] == 2
    assert [r["status"] for r in runs["data"]] == ["success", "success"]
    assert runs["data"][0]["run_id"] == second.json()["run_id"]
    one = (await api.request("GET", f"/api/threads/{thread['id']}/runs/{body['run_id']}")).json()
    assert one["usage"] == {"input_tokens": 11, "output_tokens": 7}
    assert one["finished_at"] >= one["started_at"] >= one["created_at"]
    # the model saw the whole conversation on the second run
    last = llm.requests[-1]["messages"]
    assert [m["content"] for m in last if m["role"] in ("user", "assistant")] == [
        "hello",
        "Hi there.",
        "again",
    ]


async def test_a_second_run_on_a_busy_thread_is_409(client: Client, llm: ScriptedLLM) -> None:
    gate = asyncio.Event()
    llm.script([(MAIN, [Reply(text="slow", gate=gate), Reply(text="next")])])
    api = client()
    await api.register()
    thread = await api.new_thread()
    first = asyncio.create_task(api.run_stream(thread["id"], "one"))
    for _ in range(100):
        status = (await api.request("GET", f"/api/threads/{thread['id']}")).json()["status"]
        if status == "busy":
            break
        await asyncio.sleep(0.02)
    assert status == "busy"
    busy = await api.request("POST", f"/api/threads/{thread['id']}/runs/stream", json=HELLO)
    assert_error(busy, 409, "thread_busy")
    waited = await api.request("POST", f"/api/threads/{thread['id']}/runs", json=HELLO)
    assert_error(waited, 409, "thread_busy")
    gate.set()
    stream = await first
    assert stream.frames[-1].data["status"] == "success"
    after = await api.request("POST", f"/api/threads/{thread['id']}/runs", json=HELLO)
    assert after.json()["status"] == "success"


async def test_without_a_model_key_runs_fail_cleanly(tmp_path: Path, llm: ScriptedLLM) -> None:
    settings = make_settings(tmp_path / "data", model_base_url=llm.base_url)
    async with running_warren(settings) as url:
        api = Api(url)
        ready = await api.http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["model"]["ok"] is False
        assert "model" in ready.json()["detail"]
        assert (await api.http.get("/healthz")).json() == {"status": "ok"}
        await api.register()
        thread = await api.new_thread()
        stream = await api.run_stream(thread["id"], "hello")
        assert stream.types == ["run_started", "usage", "error", "done"]
        assert stream.frames[2].data["code"] == "model_not_configured"
        assert stream.frames[3].data["status"] == "error"
        waited = await api.request("POST", f"/api/threads/{thread['id']}/runs", json=HELLO)
        assert waited.json()["status"] == "error"
        assert waited.json()["error"]["code"] == "model_not_configured"
        state = (await api.request("GET", f"/api/threads/{thread['id']}/state")).json()
        assert state["messages"] == []  # nothing half-written
        assert state["status"] == "error"
        assert llm.requests == []
        await api.aclose()


async def test_models_are_chosen_from_the_configured_ones(tmp_path: Path, llm: ScriptedLLM) -> None:
    llm.script([(MAIN, [Reply(text="from the big one")])])
    settings = make_settings(
        tmp_path / "data",
        model_api_key="sk-test",
        model_base_url=llm.base_url,
        model_extra_names=["gpt-big"],
    )
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        unknown = await api.request(
            "POST", f"/api/threads/{thread['id']}/runs/stream", json={**HELLO, "model": "gpt-nope"}
        )
        assert_error(unknown, 422, "unknown_model")
        assert "gpt-big" in unknown.json()["detail"]
        chosen = await api.request(
            "POST", f"/api/threads/{thread['id']}/runs", json={**HELLO, "model": "gpt-big"}
        )
        assert chosen.json()["status"] == "success"
        assert llm.requests[-1]["model"] == "gpt-big"
        ready = (await api.http.get("/readyz")).json()
        assert ready["status"] == "ready"
        assert "gpt-big" in ready["checks"]["model"]["detail"]
        await api.aclose()


async def test_a_provider_failure_becomes_an_error_event(tmp_path: Path, llm: ScriptedLLM) -> None:
    settings = make_settings(
        tmp_path / "data", model_api_key="sk-wrong", model_base_url=llm.base_url
    )
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        stream = await api.run_stream(thread["id"], "hello")
        assert stream.types == ["run_started", "usage", "error", "done"]
        assert stream.frames[2].data["code"] == "model_auth_failed"
        assert "sk-wrong" not in stream.frames[2].data["detail"]
        run = (await api.request("GET", f"/api/threads/{thread['id']}/runs")).json()["data"][0]
        assert run["status"] == "error"
        assert run["error"]["code"] == "model_auth_failed"
        assert (await api.request("GET", f"/api/threads/{thread['id']}")).json()[
            "status"
        ] == "error"
        await api.aclose()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": []},
        {"messages": [{"role": "assistant", "content": "hi"}]},
        {"messages": [{"role": "user", "content": ""}]},
        {"messages": [{"role": "user", "content": "hi"}], "multitask_strategy": "sometimes"},
        {"messages": [{"role": "user", "content": "hi"}], "surprise": 1},
    ],
)
async def test_malformed_run_requests_are_422_and_start_nothing(
    client: Client, llm: ScriptedLLM, body: dict[str, object]
) -> None:
    api = client()
    await api.register()
    thread = await api.new_thread()
    for path in ("runs", "runs/stream"):
        response = await api.request("POST", f"/api/threads/{thread['id']}/{path}", json=body)
        assert_error(response, 422, "invalid_request")
    assert (await api.request("GET", f"/api/threads/{thread['id']}/runs")).json()["count"] == 0
    assert llm.requests == []


async def test_a_disconnected_client_does_not_stop_the_run(
    client: Client, llm: ScriptedLLM, warren: str
) -> None:
    gate = asyncio.Event()
    llm.script([(MAIN, [Reply(text="finished anyway", gate=gate)])])
    api = client()
    await api.register()
    thread = await api.new_thread()
    first = await api.stream(
        "POST", f"/api/threads/{thread['id']}/runs/stream", json=HELLO, stop_after=1
    )  # reads `run_started`, then hangs up
    run_id = first.frames[0].data["run_id"]
    gate.set()
    await wait_for_status(api, thread["id"], run_id, "success")
    state = (await api.request("GET", f"/api/threads/{thread['id']}/state")).json()
    assert state["messages"][-1]["content"] == "finished anyway"


async def test_joining_replays_after_last_event_id_then_follows(
    client: Client, llm: ScriptedLLM
) -> None:
    gate = asyncio.Event()
    llm.script([(MAIN, [Reply(text="one two three four five six", gate=gate)])])
    api = client()
    await api.register()
    thread = await api.new_thread()
    url = f"/api/threads/{thread['id']}/runs"
    head = await api.stream("POST", f"{url}/stream", json=HELLO, stop_after=1)
    run_id = head.frames[0].data["run_id"]
    first_id = head.frames[0].id
    joined = asyncio.create_task(api.stream("GET", f"{url}/{run_id}/stream"))
    resumed = asyncio.create_task(
        api.stream("GET", f"{url}/{run_id}/stream", headers={"Last-Event-ID": first_id or ""})
    )
    await asyncio.sleep(0.2)
    gate.set()
    full, rest = await joined, await resumed
    assert full.types[0] == "run_started"
    assert full.types[-1] == "done"
    assert [f.id for f in rest.frames] == [f.id for f in full.frames[1:]]

    # after the run: replay from any point, by header or query
    middle = full.frames[2].id
    by_query = await api.stream("GET", f"{url}/{run_id}/stream", params={"last_event_id": middle})
    assert [f.id for f in by_query.frames] == [f.id for f in full.frames[3:]]
    at_end = await api.stream(
        "GET", f"{url}/{run_id}/stream", headers={"Last-Event-ID": full.frames[-1].id or ""}
    )
    assert at_end.frames == []
    bad = await api.stream("GET", f"{url}/{run_id}/stream", headers={"Last-Event-ID": "../x"})
    assert bad.status == 400
    assert bad.body["error"] == "invalid_event_id"
    missing = await api.request("GET", f"{url}/no-such-run/stream")
    assert_error(missing, 404, "run_not_found")


async def test_finished_runs_replay_until_their_events_expire(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    llm.script([(MAIN, [Reply(text="short-lived")])])
    settings = settings_for(
        model_api_key="sk-test", model_base_url=llm.base_url, run_event_retention_hours=0.5 / 3600
    )
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        run = (await api.request("POST", f"/api/threads/{thread['id']}/runs", json=HELLO)).json()
        stream_url = f"/api/threads/{thread['id']}/runs/{run['run_id']}/stream"
        replay = await api.stream("GET", stream_url)
        assert replay.types[0] == "run_started"
        assert replay.types[-1] == "done"
        await asyncio.sleep(1)
        expired = await api.stream("GET", stream_url)
        assert expired.status == 410
        assert expired.body["error"] == "events_expired"
        # the conversation itself is not part of the event log, and stays
        state = (await api.request("GET", f"/api/threads/{thread['id']}/state")).json()
        assert state["messages"][-1]["content"] == "short-lived"
        await api.aclose()


async def test_cancel_stops_the_run_and_frees_the_thread(client: Client, llm: ScriptedLLM) -> None:
    gate = asyncio.Event()  # never set: the model call hangs until cancelled
    llm.script([(MAIN, [Reply(text="never", gate=gate), Reply(text="afterwards")])])
    api = client()
    await api.register()
    thread = await api.new_thread()
    url = f"/api/threads/{thread['id']}/runs"
    watching = asyncio.create_task(api.run_stream(thread["id"], "hang"))
    await llm.wait_for_requests()
    run_id = (await api.request("GET", url)).json()["data"][0]["run_id"]
    started = asyncio.get_running_loop().time()
    assert (await api.request("POST", f"{url}/{run_id}/cancel")).status_code == 202
    stream = await asyncio.wait_for(watching, 10)
    assert asyncio.get_running_loop().time() - started < 2
    assert stream.frames[-1].data == {
        "type": "done",
        "run_id": run_id,
        "thread_id": thread["id"],
        "status": "cancelled",
    }
    assert (await api.request("POST", f"{url}/{run_id}/cancel")).status_code == 202  # idempotent
    record = (await api.request("GET", f"{url}/{run_id}")).json()
    assert record["status"] == "cancelled"
    assert (await api.request("GET", f"/api/threads/{thread['id']}")).json()["status"] == "idle"
    gate.set()
    after = await api.request("POST", url, json=HELLO)
    assert after.json()["status"] == "success"


async def test_idle_streams_carry_pings(
    client: Client, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fastapi.routing

    # FastAPI's keep-alive interval (15 s, as API.md requires), shortened for the test
    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.2)
    gate = asyncio.Event()
    llm.script([(MAIN, [Reply(text="late", gate=gate)])])
    api = client()
    await api.register()
    thread = await api.new_thread()
    watching = asyncio.create_task(api.run_stream(thread["id"], "wait a bit"))
    await asyncio.sleep(0.7)
    gate.set()
    stream: Stream = await watching
    assert stream.comments.count("ping") >= 2
    assert stream.types[-1] == "done"


async def test_memories_persist_across_threads_but_never_across_users(
    client: Client, llm: ScriptedLLM
) -> None:
    write = ToolCall("write_file", {"file_path": "/memories/AGENTS.md", "content": "Likes tea."})
    listing = [ToolCall("ls", {"path": "/memories/"}) for _ in range(2)]
    llm.script(
        [
            (
                MAIN,
                [
                    Reply(tool_calls=[write]),
                    Reply(text="Noted."),
                    Reply(tool_calls=[listing[0]]),
                    Reply(text="I remember."),
                    Reply(tool_calls=[listing[1]]),
                    Reply(text="Nothing yet."),
                ],
            )
        ]
    )
    alice, bob = client(), client()
    await alice.register()
    await bob.register()
    first = await alice.new_thread()
    second = await alice.new_thread()
    other = await bob.new_thread()
    for api, thread in ((alice, first), (alice, second), (bob, other)):
        result = await api.request("POST", f"/api/threads/{thread['id']}/runs", json=HELLO)
        assert result.json()["status"] == "success"

    def tool_output(messages: list[dict[str, object]]) -> str:
        return next(str(m["content"]) for m in messages if m["role"] == "tool")

    alice_state = (await alice.request("GET", f"/api/threads/{second['id']}/state")).json()
    bob_state = (await bob.request("GET", f"/api/threads/{other['id']}/state")).json()
    assert "/memories/AGENTS.md" in tool_output(alice_state["messages"])
    assert "AGENTS.md" not in tool_output(bob_state["messages"])
    # the memory file is loaded into the system prompt of alice's later runs only
    systems = [
        json.dumps([m["content"] for m in r["messages"] if m["role"] == "system"])
        for r in llm.requests
    ]
    assert "Likes tea." in systems[2]
    assert "Likes tea." not in systems[4]


async def test_deleting_a_thread_deletes_its_checkpoints_runs_and_events(
    settings_for: SettingsFactory, llm: ScriptedLLM
) -> None:
    llm.script([(MAIN, [Reply(text="to be forgotten"), Reply(text="kept")])])
    settings = settings_for(model_api_key="sk-test", model_base_url=llm.base_url)
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        doomed, kept = await api.new_thread(), await api.new_thread()
        doomed_run = (
            await api.request("POST", f"/api/threads/{doomed['id']}/runs", json=HELLO)
        ).json()
        kept_run = (await api.request("POST", f"/api/threads/{kept['id']}/runs", json=HELLO)).json()
        assert (await api.request("DELETE", f"/api/threads/{doomed['id']}")).status_code == 204
        user_id = (await api.request("GET", "/api/auth/me")).json()["id"]
        await api.aclose()

    async with open_storage(settings) as storage:
        config = {"configurable": {"thread_id": doomed["id"], "checkpoint_ns": ""}}
        assert await storage.checkpointer.aget_tuple(config) is None
        assert [c async for c in storage.checkpointer.alist(config)] == []
        assert await storage.records.runs.list_for_thread(doomed["id"], 10) == []
        assert await storage.live.events.read(doomed_run["run_id"]) == []
        assert await storage.records.threads.get(user_id, doomed["id"]) is None
        # the other thread is untouched
        kept_config = {"configurable": {"thread_id": kept["id"], "checkpoint_ns": ""}}
        assert await storage.checkpointer.aget_tuple(kept_config) is not None
        assert len(await storage.live.events.read(kept_run["run_id"])) > 0


async def test_deleting_a_busy_thread_cancels_its_run(client: Client, llm: ScriptedLLM) -> None:
    gate = asyncio.Event()
    llm.script([(MAIN, [Reply(text="never", gate=gate)])])
    api = client()
    await api.register()
    thread = await api.new_thread()
    watching = asyncio.create_task(api.run_stream(thread["id"], "hang"))
    await llm.wait_for_requests()
    assert (await api.request("DELETE", f"/api/threads/{thread['id']}")).status_code == 204
    stream = await asyncio.wait_for(watching, 10)
    assert stream.frames[-1].data["status"] == "cancelled"
    assert_error(await api.request("GET", f"/api/threads/{thread['id']}"), 404, "thread_not_found")
    gate.set()


async def test_sse_frames_arrive_one_by_one(client: Client, llm: ScriptedLLM, warren: str) -> None:
    """The first frames reach the client while the model is still answering."""
    gate = asyncio.Event()
    llm.script([(MAIN, [Reply(text="later", gate=gate)])])
    api = client()
    await api.register()
    thread = await api.new_thread()
    async with (
        httpx.AsyncClient(base_url=warren, timeout=10) as http,
        http.stream(
            "POST",
            f"/api/threads/{thread['id']}/runs/stream",
            json=HELLO,
            headers=api.auth(),
        ) as response,
    ):
        early = Stream(status=response.status_code, headers=response.headers)
        lines = response.aiter_lines()
        await asyncio.wait_for(parse_sse(lines, early, stop_after=1), 5)
        assert early.types == ["run_started"]
        gate.set()
        await parse_sse(lines, early)
    assert early.types[-1] == "done"
