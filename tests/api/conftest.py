"""Fixtures for API tests: a running embedded Warren and a client factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.llm_server import ScriptedLLM
from tests.helpers import Api, make_settings, running_warren


@pytest.fixture
async def warren(tmp_path: Path, llm: ScriptedLLM) -> AsyncIterator[str]:
    """An embedded Warren with a model configured (the scripted LLM)."""
    settings = make_settings(
        tmp_path / "data", model_api_key="sk-test", model_base_url=llm.base_url
    )
    async with running_warren(settings) as url:
        yield url


@pytest.fixture
async def client(warren: str) -> AsyncIterator[Callable[..., Any]]:
    """Make API clients for the running Warren; all closed at the end."""
    made: list[Api] = []

    def make(token: str | None = None) -> Api:
        api = Api(warren, token)
        made.append(api)
        return api

    yield make
    for api in made:
        await api.aclose()
