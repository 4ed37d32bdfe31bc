"""`GET /metrics`: Prometheus text whose values follow what the runs do."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.helpers import Api, make_settings, running_warren
from warren.app import create_app

MAIN = "You are Warren, a capable assistant"


async def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with httpx.AsyncClient(base_url=url) as http:  # no credentials: scrapers have none
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_follow_runs_tools_sandboxes_and_cancels(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    gate = asyncio.Event()  # never set: the second run hangs until cancelled
    llm.script(
        [
            (
                MAIN,
                [
                    Reply(
                        tool_calls=[
                            ToolCall("write_file", {"file_path": "/a.md", "content": "a"}),
                            ToolCall("no_such_tool", {}),
                        ]
                    ),
                    Reply(text="all done"),
                    Reply(text="never", gate=gate),
                ],
            )
        ]
    )
    settings = make_settings(
        tmp_path / "data", model_api_key="sk-test", model_base_url=llm.base_url
    )
    async with running_warren(settings) as url:
        before = await scrape(url)
        assert value(before, "warren_runs_total", status="success") == 0
        assert value(before, "warren_active_runs") == 0
        assert value(before, "warren_sandboxes") == 0

        api = Api(url)
        user = await api.register()
        thread = await api.new_thread()
        stream = await api.run_stream(thread["id"], "write a file, then try a tool")
        assert stream.frames[-1].data["status"] == "success"
        errors = [
            f.data["name"]
            for f in stream.frames
            if f.event == "tool_result" and f.data["status"] == "error"
        ]
        assert errors == ["no_such_tool"]

        after = await scrape(url)
        assert value(after, "warren_runs_total", status="success") == 1
        assert value(after, "warren_run_duration_seconds_count") == 1
        assert value(after, "warren_run_first_event_seconds_count") == 1
        assert value(after, "warren_tool_errors_total", tool="no_such_tool") == 1
        assert value(after, "warren_sandbox_create_seconds_count") == 1
        assert value(after, "warren_sandboxes") == 1
        assert value(after, "warren_active_runs") == 0
        assert value(after, "warren_sse_subscribers") == 0

        # while a run waits for its model: one active run, one subscriber; then a cancel
        watching = asyncio.create_task(api.run_stream(thread["id"], "hang"))
        await llm.wait_for_requests(3)
        during = await scrape(url)
        assert value(during, "warren_active_runs") == 1
        assert value(during, "warren_sse_subscribers") == 1
        runs = (await api.request("GET", f"/api/threads/{thread['id']}/runs")).json()["data"]
        await api.request("POST", f"/api/threads/{thread['id']}/runs/{runs[0]['run_id']}/cancel")
        assert (await asyncio.wait_for(watching, 10)).frames[-1].data["status"] == "cancelled"
        await asyncio.sleep(0.1)  # the response's teardown
        end = await scrape(url)
        assert value(end, "warren_run_cancels_total", reason="request") == 1
        assert value(end, "warren_runs_total", status="cancelled") == 1
        assert value(end, "warren_runs_total", status="success") == 1
        assert value(end, "warren_active_runs") == 0
        assert value(end, "warren_sse_subscribers") == 0

        async with httpx.AsyncClient(base_url=url) as http:
            text = (await http.get("/metrics")).text
        for private in (user["user"]["username"], user["user"]["id"], thread["id"]):
            assert private not in text
        await api.aclose()


def test_each_app_has_its_own_registry(tmp_path: Path) -> None:
    one = create_app(make_settings(tmp_path / "one")).state.metrics
    two = create_app(make_settings(tmp_path / "two")).state.metrics
    one.runs.labels(status="success").inc()
    one.tool_error("read_file")
    assert b'warren_runs_total{status="success"} 1.0' in one.render()
    assert b"warren_runs_total{" not in two.render()
    assert b"warren_tool_errors_total{" not in two.render()


def test_tool_error_labels_are_bounded(tmp_path: Path) -> None:
    metrics = create_app(make_settings(tmp_path / "data")).state.metrics
    for n in range(200):
        metrics.tool_error(f"made_up_tool_{n}")
    metrics.tool_error("not a tool name {}")
    families = text_string_to_metric_families(metrics.render().decode())
    labels = {
        sample.labels["tool"]
        for family in families
        if family.name == "warren_tool_errors"
        for sample in family.samples
        if sample.name == "warren_tool_errors_total"
    }
    assert len(labels) <= 65
    assert "other" in labels
