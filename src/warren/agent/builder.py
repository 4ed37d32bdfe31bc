"""Builds the compiled deep agents: the only caller of `create_deep_agent`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from deepagents import create_deep_agent
from deepagents.backends import CompositeBackend, StoreBackend
from deepagents.middleware.subagents import SubAgent
from langchain.agents.middleware import TodoListMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from pydantic import SecretStr

from warren.agent.context import RunContext, memory_namespace
from warren.agent.documents import DocumentReads, with_document_reads
from warren.agent.hitl import RunApproval, with_approval
from warren.agent.hitl import policy as hitl_policy
from warren.agent.model import chat_model
from warren.agent.prompts import prompt
from warren.config import Settings
from warren.errors import ServiceUnavailable, Unprocessable
from warren.sandbox.thread_sandbox import ThreadSandbox
from warren.skills.middleware import SKILLS_SOURCE, InstalledSkills
from warren.storage.records import SkillRepo

MEMORIES_PATH = "/memories/"
MEMORY_FILE = "/memories/AGENTS.md"

Agent = CompiledStateGraph[Any, RunContext, Any, Any]
_UNSET_KEY = SecretStr("model-not-configured")


def subagents() -> list[SubAgent]:
    return [
        {
            "name": "researcher",
            "description": (
                "Investigates one question in depth using the workspace and available tools, "
                "and returns a sourced, structured report. Use for research that needs several "
                "steps or sources."
            ),
            "system_prompt": prompt("researcher"),
        },
        {
            "name": "critic",
            "description": (
                "Reviews a draft, plan, answer or piece of code against its goal and returns "
                "concrete, prioritised problems with fixes. Use before presenting important work."
            ),
            "system_prompt": prompt("critic"),
        },
    ]


def _user_memories(runtime: Runtime[RunContext]) -> tuple[str, ...]:
    return memory_namespace(runtime.context.user_id)


def build_agent(
    model: BaseChatModel,
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    sandbox: ThreadSandbox,
    tools: Sequence[BaseTool] = (),
    skills: SkillRepo | None = None,
) -> Agent:
    """One compiled deep agent for `model`. Per-run values arrive through `context` and
    config: files and commands go to the run's thread's sandbox, `/memories/` to the store."""
    backend = CompositeBackend(
        default=sandbox,
        routes={MEMORIES_PATH: StoreBackend(namespace=_user_memories)},
    )
    # the user's installed skills, listed from the records (see `skills/middleware.py`), for
    # the main agent and, through `with_approval`, every subagent
    installed = [InstalledSkills(backend, skills)] if skills is not None else []
    agent: Agent = create_deep_agent(
        model,
        tools=list(tools),
        system_prompt=prompt("system"),
        # `read_file` on a PDF, DOCX, XLSX or PPTX returns its text, in subagents too
        middleware=[TodoListMiddleware(), RunApproval(), DocumentReads(backend), *installed],
        skills=[SKILLS_SOURCE] if skills is not None else None,
        subagents=with_document_reads(
            with_approval(
                subagents(),
                skills=[SKILLS_SOURCE] if skills is not None else None,
                inherited=installed,
            ),
            backend,
        ),
        memory=[MEMORY_FILE],
        backend=backend,
        context_schema=RunContext,
        checkpointer=checkpointer,
        store=store,
        name="warren",
    )
    return agent


class Agents:
    """The compiled agents, one per configured model name, built once at startup."""

    def __init__(
        self,
        settings: Settings,
        checkpointer: BaseCheckpointSaver[Any],
        store: BaseStore,
        sandbox: ThreadSandbox,
        tools: Sequence[BaseTool] = (),
        skills: SkillRepo | None = None,
    ) -> None:
        self.default_model = settings.model_name
        self.configured = settings.model_configured
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.model_timeout_seconds, connect=10.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=20),
        )
        self._agents: dict[str, Agent] = {}
        if self.configured:
            for name in settings.model_names:
                model = chat_model(settings, name, http_client=self._http)
                self._agents[name] = build_agent(model, checkpointer, store, sandbox, tools, skills)
        # Reading state needs no model: any compiled graph over the same checkpointer will do.
        self._reader: Agent = (
            next(iter(self._agents.values()))
            if self._agents
            else _state_reader(settings, checkpointer, store, sandbox, tools, skills)
        )
        # Which tool calls wait for a person: per run, from this and the thread's metadata.
        self.hitl = hitl_policy(settings.hitl_tools, self._reader)

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def names(self) -> list[str]:
        return list(self._agents) if self.configured else []

    def resolve(self, name: str | None) -> str:
        """The model name a run will use; 422 for a name this server does not serve."""
        chosen = name or self.default_model
        if self.configured and chosen not in self._agents:
            raise Unprocessable(
                f"model {chosen!r} is not configured on this server; "
                f"available: {', '.join(self._agents)}",
                code="unknown_model",
            )
        return chosen

    def get(self, name: str) -> Agent:
        if not self.configured:
            raise ServiceUnavailable(
                "no model is configured: set MODEL_API_KEY (and MODEL_NAME, MODEL_BASE_URL)",
                code="model_not_configured",
            )
        return self._agents[name]

    @property
    def reader(self) -> Agent:
        """A graph to read thread state with, whether or not a model is configured."""
        return self._reader


def _state_reader(
    settings: Settings,
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    sandbox: ThreadSandbox,
    tools: Sequence[BaseTool],
    skills: SkillRepo | None = None,
) -> Agent:
    """The agent's graph, compiled only to read checkpoints: with no key it is never run."""
    model = chat_model(settings, settings.model_name, api_key=_UNSET_KEY)
    return build_agent(model, checkpointer, store, sandbox, tools, skills)
