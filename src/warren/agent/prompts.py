"""The prompts shipped inside the package (`agent/prompts/*.md`)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def prompt(name: str) -> str:
    return (files("warren.agent") / "prompts" / f"{name}.md").read_text(encoding="utf-8").strip()
