"""Shared fixtures: real Redis and MongoDB-wire servers, settings per backend, a scripted LLM."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from tests.fakes.llm_server import Reply, ScriptedLLM
from tests.helpers import make_settings
from tests.services import mongo_server, redis_server
from warren.config import Settings
from warren.logs import configure_logging

# Route Warren's structured logs through stdlib logging, where `caplog` sees them.
configure_logging("INFO", "console")

BACKENDS = ["embedded", "production"]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mongo_server(tmp_path_factory.mktemp("secantus")) as uri:
        yield uri


@pytest.fixture
def mongo_db_name(mongo_uri: str) -> Iterator[str]:
    name = f"warren_test_{uuid.uuid4().hex[:12]}"
    yield name
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    try:
        client.drop_database(name)
    finally:
        client.close()


SettingsFactory = Callable[..., Settings]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> SettingsFactory:
    """Settings for the parametrised backend; production ones use the real servers."""

    def build(**overrides: Any) -> Settings:
        if backend == "production":
            return make_settings(
                tmp_path / "data",
                backend="production",
                redis_url=request.getfixturevalue("redis_url"),
                mongo_uri=request.getfixturevalue("mongo_uri"),
                mongo_db_name=request.getfixturevalue("mongo_db_name"),
                **overrides,
            )
        return make_settings(tmp_path / "data", **overrides)

    return build


LLMFactory = Callable[[Sequence[tuple[str, Sequence[Reply]]]], Any]


@pytest.fixture
async def llm() -> AsyncIterator[ScriptedLLM]:
    """A scripted OpenAI-compatible server; tests fill `llm.scripts`."""
    server = ScriptedLLM([])
    await server.start()
    yield server
    await server.stop()
