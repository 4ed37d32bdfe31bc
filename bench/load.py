"""Benchmark: load on a real Warren process — a thread and a streamed run per request.

The scripted OpenAI-compatible model (in this process) answers every run with one tool call,
then an answer of `--tokens` streamed deltas. Warren runs as its own process
(`python -m warren serve`, embedded storage unless `--redis-url`/`--mongo-uri`), so its CPU
time is read from `/proc/<pid>/stat` before and after each concurrency level. Reported per
level: p50/p95/p99 of the time to the first event (`run_started`), to the first answer token
and to `done`; runs per second; server CPU per run and RSS. Then the resume latency (a
`Last-Event-ID` request to its first replayed event), and the same graph run in-process with
no server (a child process driving `Agents` from `warren.agent.builder` with the same model
and sandbox provider) for the server/in-process CPU ratio.

    uv run python -m bench.load                      # concurrency 1, 10, 50
    uv run python -m bench.load --levels 1,10 --runs 50 --tool execute
    uv run python -m bench.load --levels 1 --token-delay 0.01   # ~100 tokens/s, as models do

Targets (issue 5): first event p50 <= 20 ms at concurrency 1 and p99 <= 150 ms at 50; server
CPU per run <= 1.3x the in-process graph alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.helpers import Api
from tests.runs.processes import WarrenProcess, server_env

TODOS = [{"content": "Answer the question", "status": "in_progress"}]


def answerer(tokens: int, tool: str, delay: float = 0.0) -> Any:
    """One tool call, then the answer: decided by the request, so concurrent runs never
    take each other's replies."""
    text = "".join(f"t{i} " for i in range(tokens))

    def respond(body: dict[str, Any]) -> Reply:
        if body["messages"][-1]["role"] == "tool":
            return Reply(text=text, text_chunks=tokens, output_tokens=tokens, delay=delay)
        if tool == "execute":
            call = ToolCall("execute", {"command": "echo ready"})
        else:
            call = ToolCall("write_todos", {"todos": TODOS})
        return Reply(tool_calls=[call])

    return respond


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class RunTiming:
    first_event: float
    first_token: float
    duration: float
    run_id: str
    thread_id: str
    event_ids: list[str] = field(default_factory=list)


async def one_run(api: Api) -> RunTiming:
    thread = await api.new_thread()
    body = {"messages": [{"role": "user", "content": "go"}]}
    url = f"/api/threads/{thread['id']}/runs/stream"
    t0 = time.perf_counter()
    first_event = first_token = 0.0
    run_id = ""
    ids: list[str] = []
    event = ""
    async with api.http.stream("POST", url, json=body, headers=api.auth()) as response:
        assert response.status_code == 200, response.status_code
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                ids.append(line[3:].strip())
            elif line.startswith("event:"):
                event = line[6:].strip()
                first_event = first_event or time.perf_counter()
            elif line.startswith("data:"):
                if event == "run_started":
                    run_id = json.loads(line[5:])["run_id"]
                elif event == "message" and not first_token and '"ns":[]' in line:
                    first_token = time.perf_counter()
                elif event == "done":
                    status = json.loads(line[5:])["status"]
                    assert status == "success", line
    end = time.perf_counter()
    return RunTiming(
        (first_event - t0) * 1000, (first_token - t0) * 1000, (end - t0) * 1000, run_id,
        thread["id"], ids,
    )  # fmt: skip


async def resume_latency(api: Api, runs: list[RunTiming]) -> list[float]:
    """Time from a resume request (`Last-Event-ID` mid-run) to its first replayed event."""
    latencies = []
    for run in runs:
        url = f"/api/threads/{run.thread_id}/runs/{run.run_id}/stream"
        headers = {**api.auth(), "Last-Event-ID": run.event_ids[len(run.event_ids) // 2]}
        t0 = time.perf_counter()
        async with api.http.stream("GET", url, headers=headers) as response:
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    latencies.append((time.perf_counter() - t0) * 1000)
                    break
    return latencies


def row(name: str, values: list[float]) -> str:
    return (
        f"  {name:<14} p50 {statistics.median(values):8.1f}  p95 {percentile(values, 0.95):8.1f}"
        f"  p99 {percentile(values, 0.99):8.1f}  ms"
    )


async def level(api: Api, server: WarrenProcess, concurrency: int, runs: int) -> dict[str, Any]:
    queue = list(range(runs))
    timings: list[RunTiming] = []

    async def worker() -> None:
        while queue:
            queue.pop()
            timings.append(await one_run(api))

    cpu0 = server.cpu_seconds()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    cpu = server.cpu_seconds() - cpu0
    return {
        "concurrency": concurrency,
        "runs": runs,
        "timings": timings,
        "runs_per_s": runs / wall,
        "cpu_ms_per_run": cpu / runs * 1000,
        "rss_mb": server.rss_mb(),
    }


async def in_process(llm_url: str, runs: int) -> float:
    """CPU ms per run of the graph alone, measured in a child process (the model stays here,
    as it does for the server)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.load", "--in-process-child", llm_url, "--runs", str(runs),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the in-process run failed:\n{err.decode()[-3000:]}")
    return float(json.loads(out.decode().strip().splitlines()[-1])["cpu_ms_per_run"])


async def child(llm_url: str, runs: int) -> None:
    """The in-process side: Warren's own startup builds `Agents` (no HTTP server runs), then
    each run streams the compiled graph exactly as `RunManager` asks for it."""
    from langchain_core.messages import HumanMessage
    from tests.helpers import make_settings

    from warren.agent.context import RunContext
    from warren.app import create_app
    from warren.runs.manager import STREAM_MODES
    from warren.storage.records import Thread, ThreadStatus, User, utcnow

    data_dir = Path(tempfile.mkdtemp()) / "data"
    settings = make_settings(data_dir, model_api_key="sk-test", model_base_url=llm_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services = app.state.services
        agent = services.agents.get(services.agents.resolve(None))
        records = services.storage.records
        user = User(id=str(uuid.uuid4()), username="bench", password_hash="-", created_at=utcnow())
        await records.users.create(user)

        async def run_once() -> None:
            now = utcnow()
            thread = Thread(str(uuid.uuid4()), user.id, "", {}, ThreadStatus.IDLE, now, now)
            await records.threads.create(thread)
            config = {"configurable": {"thread_id": thread.id, "user_id": user.id}}
            context = RunContext(user_id=user.id, thread_id=thread.id, run_id=str(uuid.uuid4()))
            payload = {"messages": [HumanMessage(content="go")]}
            async for _chunk in agent.astream(
                payload,
                config,
                context=context,
                stream_mode=STREAM_MODES,
                subgraphs=True,
                durability="sync",
            ):
                pass

        for _ in range(3):
            await run_once()  # warm-up: imports, first sandbox, caches
        cpu0 = time.process_time()
        for _ in range(runs):
            await run_once()
        cpu = time.process_time() - cpu0
    print(json.dumps({"cpu_ms_per_run": cpu / runs * 1000}))


async def main(args: argparse.Namespace) -> None:
    llm = ScriptedLLM([], responder=answerer(args.tokens, args.tool, args.token_delay))
    await llm.start()
    root = Path(tempfile.mkdtemp())
    storage: dict[str, str] = {}
    if args.redis_url or args.mongo_uri:
        storage = {"redis_url": args.redis_url, "mongo_uri": args.mongo_uri}
        storage["mongo_db_name"] = f"warren_load_{uuid.uuid4().hex[:8]}"
    env = server_env(root / "data", llm.base_url, **storage, warren_log_level="WARNING")
    server = WarrenProcess(env, root / "warren.log")
    await server.start()
    results = []
    try:
        api = Api(server.url)
        api.http.timeout = httpx.Timeout(120)
        await api.register()
        for _ in range(5):
            await one_run(api)  # warm-up
        rss_start = server.rss_mb()
        for concurrency in args.levels:
            runs = max(args.runs, concurrency * 2)
            results.append(await level(api, server, concurrency, runs))
        sample = results[0]["timings"][: args.resumes]
        resumes = await resume_latency(api, sample)
        await api.aclose()
    finally:
        server.stop()
    cpu_in_process = await in_process(llm.base_url, args.in_process_runs)
    await llm.stop()

    print(
        f"Warren load: {args.tokens} tokens per answer after one `{args.tool}` call "
        f"({args.token_delay * 1000:g} ms apart); "
        f"server pid {server.pid}, {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f}: shared machines skew these figures)"
    )
    print(f"server RSS after warm-up {rss_start:.0f} MB")
    for result in results:
        timings: list[RunTiming] = result["timings"]
        print(
            f"concurrency {result['concurrency']}: {result['runs']} runs, "
            f"{result['runs_per_s']:.1f} runs/s, server CPU {result['cpu_ms_per_run']:.1f} ms/run, "
            f"RSS {result['rss_mb']:.0f} MB, "
            f"{statistics.mean(len(t.event_ids) for t in timings):.0f} events/run"
        )
        print(row("first event", [t.first_event for t in timings]))
        print(row("first token", [t.first_token for t in timings]))
        print(row("run duration", [t.duration for t in timings]))
    print(row("resume", resumes).replace("  resume        ", "resume latency  "))
    server_cpu = results[0]["cpu_ms_per_run"]
    print(
        f"in-process graph: {cpu_in_process:.1f} ms CPU/run; server/in-process at concurrency "
        f"{results[0]['concurrency']}: {server_cpu / cpu_in_process:.2f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 50]
    )
    parser.add_argument("--runs", type=int, default=100, help="runs per concurrency level")
    parser.add_argument("--tokens", type=int, default=200, help="answer deltas per run")
    parser.add_argument("--tool", choices=["write_todos", "execute"], default="write_todos")
    parser.add_argument(
        "--token-delay",
        type=float,
        default=0.0,
        help="seconds between answer deltas (paced like a real model: fewer deltas merge)",
    )
    parser.add_argument("--resumes", type=int, default=20)
    parser.add_argument("--in-process-runs", type=int, default=30)
    parser.add_argument("--redis-url")
    parser.add_argument("--mongo-uri")
    parser.add_argument("--in-process-child", metavar="LLM_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process_child:
        asyncio.run(child(args.in_process_child, args.runs))
    else:
        asyncio.run(main(args))
