"""Soak: N concurrent streamed runs against a real Warren process, with random client
disconnects and `Last-Event-ID` resumes, for a fixed time.

Each client streams a run, hangs up at random points and resumes after the last event it
got, until `done`. Then the run's whole log is read from the start and compared with what
the client put together: events lost and events duplicated (both must be 0), plus the
server's RSS before and after. Exits non-zero if anything was lost, duplicated or left
unfinished.

    uv run python -m bench.soak --clients 20 --duration 60
    uv run python -m bench.soak --redis-url redis://127.0.0.1:6379/9 \\
        --mongo-uri mongodb://127.0.0.1:27017/
"""

# ruff: noqa: S311  (random disconnects and answers: nothing here is cryptographic)
from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.helpers import Api
from tests.runs.processes import WarrenProcess, server_env

Event = tuple[str, str, str]  # id, type, data as sent


@dataclass
class Totals:
    runs: int = 0
    events: int = 0
    lost: int = 0
    duplicated: int = 0
    altered: int = 0
    unfinished: int = 0
    disconnects: int = 0
    resumes: int = 0
    problems: list[str] = field(default_factory=list)


def reply_for(body: dict[str, Any]) -> Reply:
    words = random.randint(40, 160)
    text = "".join(f"s{i} " for i in range(words))
    return Reply(text=text, text_chunks=words, delay=random.choice([0.0, 0.005, 0.02]))


async def read_events(
    api: Api,
    method: str,
    url: str,
    got: list[Event],
    hang_up: float,
    rng: random.Random,
    **kwargs: Any,
) -> bool:
    """Append the stream's events to `got`; hang up after any event with probability
    `hang_up`. True if the stream ended with `done`."""
    headers = {**api.auth(), **kwargs.pop("headers", {})}
    async with api.http.stream(method, url, headers=headers, **kwargs) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{method} {url}: HTTP {response.status_code}")
        event_id = event = data = ""
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
            elif line == "" and data:  # a frame ends at its blank line, fields in any order
                got.append((event_id, event, data))
                if event == "done":
                    return True
                event_id = event = data = ""
                if rng.random() < hang_up:
                    return False
    return False


async def one_run(api: Api, args: argparse.Namespace, rng: random.Random, totals: Totals) -> None:
    thread = await api.new_thread()
    runs = f"/api/threads/{thread['id']}/runs"
    body = {"messages": [{"role": "user", "content": "soak"}]}
    got: list[Event] = []
    ended = await read_events(api, "POST", f"{runs}/stream", got, args.hang_up, rng, json=body)
    run_id = json.loads(got[0][2])["run_id"]
    attempts = 0
    while not ended:
        totals.disconnects += 1
        await asyncio.sleep(rng.uniform(0, args.max_pause))
        totals.resumes += 1
        attempts += 1
        headers = {"Last-Event-ID": got[-1][0]}
        ended = await read_events(
            api, "GET", f"{runs}/{run_id}/stream", got, args.hang_up, rng, headers=headers
        )
        if attempts > 1000:
            break
    full: list[Event] = []
    await read_events(api, "GET", f"{runs}/{run_id}/stream", full, 0.0, rng)
    expected = {event_id: (kind, data) for event_id, kind, data in full}
    received = [event_id for event_id, _, _ in got]
    totals.runs += 1
    totals.events += len(full)
    totals.lost += len(set(expected) - set(received))
    totals.duplicated += len(received) - len(set(received))
    totals.altered += sum(1 for i, k, d in got if expected.get(i) != (k, d))
    if not full or full[-1][1] != "done" or not ended:
        totals.unfinished += 1
        totals.problems.append(f"run {run_id} did not end with done")
    if [i for i, _, _ in full] != list(dict.fromkeys(received)):
        totals.problems.append(f"run {run_id}: the events arrived out of order")


async def client(
    api: Api, args: argparse.Namespace, deadline: float, seed: int, totals: Totals
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        try:
            await one_run(api, args, rng, totals)
        except Exception as exc:  # a failure is a finding: count it, keep soaking
            totals.problems.append(f"{type(exc).__name__}: {exc}")
            totals.unfinished += 1


async def main(args: argparse.Namespace) -> int:
    llm = ScriptedLLM([], responder=reply_for)
    await llm.start()
    root = Path(tempfile.mkdtemp())
    storage: dict[str, str] = {}
    if args.redis_url or args.mongo_uri:
        storage = {"redis_url": args.redis_url, "mongo_uri": args.mongo_uri}
        storage["mongo_db_name"] = f"warren_soak_{uuid.uuid4().hex[:8]}"
    env = server_env(root / "data", llm.base_url, **storage, warren_log_level="WARNING")
    server = WarrenProcess(env, root / "warren.log")
    await server.start()
    totals = Totals()
    try:
        api = Api(server.url)
        api.http.timeout = httpx.Timeout(120)
        await api.register()
        await one_run(api, args, random.Random(0), Totals())  # warm-up
        rss_before = server.rss_mb()
        deadline = time.monotonic() + args.duration
        started = time.monotonic()
        await asyncio.gather(
            *(client(api, args, deadline, args.seed + n, totals) for n in range(args.clients))
        )
        elapsed = time.monotonic() - started
        rss_after = server.rss_mb()
        await api.aclose()
    finally:
        server.stop()
        await llm.stop()

    print(
        f"soak: {args.clients} concurrent clients for {elapsed:.0f} s, "
        f"hang-up probability {args.hang_up} per event"
    )
    print(
        f"runs {totals.runs}, events {totals.events}, disconnects {totals.disconnects}, "
        f"resumes {totals.resumes}"
    )
    print(
        f"events lost {totals.lost}, duplicated {totals.duplicated}, altered {totals.altered}, "
        f"runs unfinished {totals.unfinished}"
    )
    print(f"server RSS before {rss_before:.0f} MB, after {rss_after:.0f} MB")
    for problem in totals.problems[:20]:
        print(f"  problem: {problem}")
    counts = (totals.lost, totals.duplicated, totals.altered, totals.unfinished)
    return 1 if any(counts) or totals.problems or not totals.runs else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent streamed runs")
    parser.add_argument("--duration", type=float, default=60, help="seconds to keep going")
    parser.add_argument(
        "--hang-up", type=float, default=0.03, help="chance of a disconnect after each event"
    )
    parser.add_argument("--max-pause", type=float, default=0.5, help="longest wait to resume")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--redis-url")
    parser.add_argument("--mongo-uri")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
