"""Benchmark: latency and throughput of a streamed run, on embedded or production storage.

Starts Warren in-process with the scripted OpenAI-compatible server (no real model) and
streams runs whose answer arrives in `--deltas` chunks. Reports the time to `run_started`,
to the first `message` delta, and delta events per second from first to last.

    uv run python -m bench.run_stream --runs 20 --deltas 500
    uv run python -m bench.run_stream --redis-url redis://127.0.0.1:6379/0 \\
        --mongo-uri mongodb://127.0.0.1:27017/

Targets (embedded, a 2-core machine): `run_started` p50 under 20 ms, and at least 1,000
delta events per second through the event log to the client.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.helpers import Api, make_settings, running_warren


async def one_run(api: Api) -> tuple[float, float, float]:
    """(ms to run_started, ms to first delta, deltas per second) for one streamed run."""
    thread = await api.new_thread()
    body = {"messages": [{"role": "user", "content": "go"}]}
    t0 = time.perf_counter()
    t_start = t_first = 0.0
    deltas = 0
    url = f"/api/threads/{thread['id']}/runs/stream"
    async with api.http.stream("POST", url, json=body, headers=api.auth()) as response:
        async for line in response.aiter_lines():
            if line == "event: run_started":
                t_start = time.perf_counter()
            elif line == "event: message":
                deltas += 1
                t_first = t_first or time.perf_counter()
    rate = deltas / (time.perf_counter() - t_first)
    return (t_start - t0) * 1000, (t_first - t0) * 1000, rate


async def main(args: argparse.Namespace) -> None:
    text = "".join(f"w{i} " for i in range(args.deltas))
    replies = [Reply(text=text, text_chunks=args.deltas) for _ in range(args.runs)]
    llm = ScriptedLLM([("", replies)])
    await llm.start()
    production = bool(args.redis_url or args.mongo_uri)
    settings = make_settings(
        Path(tempfile.mkdtemp()) / "data",
        backend="production" if production else "embedded",
        redis_url=args.redis_url,
        mongo_uri=args.mongo_uri,
        mongo_db_name=f"warren_bench_{int(time.time())}",
        model_api_key="sk-test",
        model_base_url=llm.base_url,
    )
    async with running_warren(settings) as url:
        api = Api(url)
        await api.register()
        results = [await one_run(api) for _ in range(args.runs)]
        await api.aclose()
    await llm.stop()
    started, first, rates = (list(column) for column in zip(*results, strict=True))
    print(f"storage: {'production' if production else 'embedded'}, runs: {args.runs}")
    print(f"to run_started  p50 {statistics.median(started):7.1f} ms   max {max(started):7.1f} ms")
    print(f"to first delta  p50 {statistics.median(first):7.1f} ms   max {max(first):7.1f} ms")
    print(f"deltas/second   p50 {statistics.median(rates):7.0f}      min {min(rates):7.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--deltas", type=int, default=300)
    parser.add_argument("--redis-url")
    parser.add_argument("--mongo-uri")
    asyncio.run(main(parser.parse_args()))
