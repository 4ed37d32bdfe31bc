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
