"""Redis key names, in one place."""

from __future__ import annotations

PREFIX = "warren"


def run_events(run_id: str) -> str:
    return f"{PREFIX}:run:{run_id}:events"


def run_cancel(run_id: str) -> str:
    """The cancel flag (a key) and the cancel channel share this name."""
    return f"{PREFIX}:run:{run_id}:cancel"


def thread_lock(thread_id: str) -> str:
    return f"{PREFIX}:thread:{thread_id}:lock"


def run_queue(thread_id: str) -> str:
    """The thread's waiting runs: a sorted set scored by queue order."""
    return f"{PREFIX}:thread:{thread_id}:queue"


def run_queue_leases(thread_id: str) -> str:
    """The waiting runs' lease deadlines (ms) and the queue's order counter: a hash."""
    return f"{PREFIX}:thread:{thread_id}:queue:leases"


def throttle(key: str) -> str:
    return f"{PREFIX}:throttle:{key}"


def lock(name: str) -> str:
    return f"{PREFIX}:lock:{name}"


def sandbox_lease(thread_id: str) -> str:
    return f"{PREFIX}:sandbox:{thread_id}"


def sandbox_leases() -> str:
    """The set of thread ids that hold a sandbox lease."""
    return f"{PREFIX}:sandboxes"
