"""Per-run values handed to the agent through LangGraph's `context`, never baked into the graph."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RunContext:
    user_id: str
    thread_id: str
    run_id: str


def memory_namespace(user_id: str) -> tuple[str, ...]:
    """Where one user's long-term memories live in the LangGraph store."""
    return ("users", user_id, "memories")
