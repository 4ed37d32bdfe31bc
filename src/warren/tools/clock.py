"""`utc_now`: the current time, which the model cannot know on its own."""

from __future__ import annotations

from datetime import UTC, datetime

from langchain.tools import tool
from langchain_core.tools import BaseTool


def now_iso() -> str:
    """The current UTC time in ISO 8601, to the second (`2025-06-01T09:30:00Z`)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@tool
def utc_now() -> str:
    """The current date and time in UTC, in ISO 8601 (for example 2025-06-01T09:30:00Z).

    Use it whenever the answer depends on today's date or the time: your own sense of the
    date may be out of date."""
    return now_iso()


def clock_tools() -> list[BaseTool]:
    return [utc_now]
