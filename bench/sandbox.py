"""Benchmark: the first command in a brand-new thread, and a command round trip, through the
`SandboxManager` and the local (bubblewrap) provider with embedded live state.

The first command includes everything a new thread pays: the lease lookup, the creation
lock, creating the sandbox directory, the lease write and the command itself. The round
trip is a later command in the same thread.

    uv run python -m bench.sandbox --threads 50 --commands 10

Targets (a 2-core machine): first command p50 <= 150 ms, round trip p50 <= 30 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from tests.helpers import make_settings
from warren.sandbox.local import LocalProvider
from warren.sandbox.manager import SandboxManager
from warren.storage.local_live import local_live_state
from warren.storage.sqlite import EVENTS_SCHEMA, Database


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp()) / "data"
    data_dir.mkdir(parents=True)
    settings = make_settings(data_dir)
    db = await Database.open(data_dir / "events.sqlite3", EVENTS_SCHEMA, "NORMAL")
    live, _ = local_live_state(db)
    provider = LocalProvider(data_dir / "sandboxes")
    await provider.probe()
    if not provider.isolated:
        raise SystemExit(f"bubblewrap is unavailable here: {provider.problem}")

    async def exists(user_id: str, thread_id: str) -> bool:
        return True

    manager = SandboxManager(provider, live, settings, thread_exists=exists)
    firsts: list[float] = []
    trips: list[float] = []
    for _ in range(args.threads):
        thread_id = str(uuid.uuid4())
        started = time.perf_counter()
        result = await manager.execute(thread_id, "bench-user", "echo ready")
        firsts.append((time.perf_counter() - started) * 1000)
        assert result.output == "ready\n", result
        for _ in range(args.commands):
            started = time.perf_counter()
            result = await manager.execute(thread_id, "bench-user", "echo again")
            trips.append((time.perf_counter() - started) * 1000)
            assert result.output == "again\n", result
    await manager.aclose()
    await db.close()

    print(f"threads={args.threads} commands per thread={args.commands}")
    for name, values in (("first command", firsts), ("round trip", trips)):
        print(
            f"{name:>14}: p50 {statistics.median(values):6.1f} ms"
            f"  p95 {percentile(values, 0.95):6.1f} ms  max {max(values):6.1f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--commands", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
