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


def throttle(key: str) -> str:
    return f"{PREFIX}:throttle:{key}"


def lock(name: str) -> str:
    return f"{PREFIX}:lock:{name}"


def sandbox_lease(thread_id: str) -> str:
    return f"{PREFIX}:sandbox:{thread_id}"


def sandbox_leases() -> str:
    """The set of thread ids that hold a sandbox lease."""
    return f"{PREFIX}:sandboxes"
