"""Prometheus metrics of one app instance, in its own registry (so two apps in one process,
as in tests, never share counters). Labels are bounded: no user, thread or run ids."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
MAX_TOOL_LABELS = 64  # tool names come from the model: beyond these, errors count as "other"
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.runs = Counter("warren_runs", "Runs finished, by final status", ["status"], registry=r)
        self.active_runs = Gauge("warren_active_runs", "Runs executing in this process", registry=r)
        self.subscribers = Gauge(
            "warren_sse_subscribers", "Clients following a run's stream here", registry=r
        )
        self.subscribers_dropped = Counter(
            "warren_sse_subscribers_dropped",
            "Streams ended early because their client stopped reading (they can resume)",
            registry=r,
        )
        self.first_event = Histogram(
            "warren_run_first_event_seconds",
            "From a run's start to its first event after run_started",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.run_duration = Histogram(
            "warren_run_duration_seconds",
            "From a run's start to its end",
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.cancels = Counter(
            "warren_run_cancels",
            "Cancel requests: by a client, by an interrupting run, by a disconnect",
            ["reason"],
            registry=r,
        )
        self.sandboxes = Gauge(
            "warren_sandboxes", "Sandbox leases known to the live state (all replicas)", registry=r
        )
        self.sandbox_create = Histogram(
            "warren_sandbox_create_seconds",
            "Time to create a sandbox (provider create and setup hooks)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tool_errors = Counter(
            "warren_tool_errors", "Tool calls that returned an error", ["tool"], registry=r
        )
        self._tools: set[str] = set()

    def tool_error(self, name: str) -> None:
        if name not in self._tools:
            if len(self._tools) >= MAX_TOOL_LABELS or not _TOOL_NAME.match(name):
                name = "other"
            else:
                self._tools.add(name)
        self.tool_errors.labels(tool=name).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
