"""The assembled agent: its tools, prompts and subagents, as the model receives them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.helpers import make_settings
from warren.agent.builder import Agents
from warren.agent.context import RunContext
from warren.agent.prompts import prompt
from warren.config import Settings
from warren.errors import ServiceUnavailable, Unprocessable
from warren.sandbox.factory import open_sandboxes
from warren.sandbox.thread_sandbox import ThreadSandbox
from warren.storage.factory import Storage, open_storage

BUILT_INS = {"ls", "read_file", "write_file", "edit_file", "delete", "glob", "grep", "task"}


@asynccontextmanager
async def agents_for(settings: Settings, storage: Storage) -> AsyncIterator[Agents]:
    async def exists(user_id: str, thread_id: str) -> bool:
        return True

    async with open_sandboxes(settings, storage.live, exists) as manager:
        agents = Agents(settings, storage.checkpointer, storage.store, ThreadSandbox(manager))
        try:
            yield agents
        finally:
            await agents.aclose()


def system_text(request: dict[str, object]) -> str:
    messages = request["messages"]
    assert isinstance(messages, list)
    first = messages[0]
    assert first["role"] == "system"
    content = first["content"]
    return content if isinstance(content, str) else "".join(b["text"] for b in content)


async def test_the_model_sees_our_prompt_tools_and_subagents(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    call = ToolCall("task", {"description": "check this", "subagent_type": "critic"})
    llm.script(
        [
            ("You are Warren's critic", [Reply(text="Looks sound.")]),
            ("You are Warren, a capable", [Reply(tool_calls=[call]), Reply(text="ok")]),
        ]
    )
    settings = make_settings(tmp_path, model_api_key="sk-test", model_base_url=llm.base_url)
    async with open_storage(settings) as storage, agents_for(settings, storage) as agents:
        await agents.get("gpt-test").ainvoke(
            {"messages": [HumanMessage("hi")]},
            {"configurable": {"thread_id": "t", "user_id": "u"}},
            context=RunContext(user_id="u", thread_id="t", run_id="r"),
        )
    main, critic, _final = llm.requests
    tools = {t["function"]["name"]: t["function"] for t in main["tools"]}
    # write_todos only exists because TodoListMiddleware is added (deepagents 0.7)
    assert set(tools) == BUILT_INS | {"write_todos", "execute"}  # execute: a sandbox backend
    for name in ("researcher", "critic", "general-purpose"):
        assert f"- {name}:" in tools["task"]["description"]
    system = system_text(main)
    assert system.startswith(prompt("system"))
    assert "/memories/AGENTS.md" in system  # the memory middleware's section is there
    assert system_text(critic).startswith(prompt("critic"))
    assert json.dumps(critic["messages"]).count("check this") == 1
    assert "write_todos" not in {t["function"]["name"] for t in critic["tools"]}


async def test_unknown_and_unconfigured_models(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model_api_key="sk-test", model_extra_names=["b", "a"])
    async with open_storage(settings) as storage, agents_for(settings, storage) as agents:
        assert agents.names == ["gpt-test", "b", "a"]
        assert agents.resolve(None) == "gpt-test"
        assert agents.resolve("a") == "a"
        with pytest.raises(Unprocessable, match="available: gpt-test, b, a"):
            agents.resolve("zzz")
    unconfigured = make_settings(tmp_path / "other")
    async with (
        open_storage(unconfigured) as storage,
        agents_for(unconfigured, storage) as agents,
    ):
        assert not agents.configured
        assert agents.names == []
        assert agents.resolve("anything") == "anything"  # the run then fails as not configured
        with pytest.raises(ServiceUnavailable) as raised:
            agents.get("anything")
        assert raised.value.code == "model_not_configured"
        # the thread state of an unconfigured server is still readable
        snapshot = await agents.reader.aget_state({"configurable": {"thread_id": "none"}})
        assert snapshot.values == {}
