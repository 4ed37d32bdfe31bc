"""Human in the loop: which tool calls wait for a person, decided per run.

The agent is compiled once for every thread, so the set of tools that need approval cannot
be baked into it. `RunApproval` is LangChain's `HumanInTheLoopMiddleware` with its tool set
read from the run's config on every call (`configurable["hitl_tools"]`, put there by
`RunManager`), and it is given to the main agent and to every subagent, so a call made
inside a subagent pauses the same way and surfaces with the subagent's `ns`.

The pause is a LangGraph interrupt whose value is the middleware's `HITLRequest`
(`action_requests`, `review_configs`), with two additions to each action request: the
model's `tool_call_id`, and `ns`, the `task` call ids above the agent that paused (lifted to
the interrupt's own `ns` by `describe`). A resume answers every pending interrupt at once:
the client sends one decision per pending action request, in order, and `plan_resume`
splits them by interrupt.

Decisions are the middleware's own, all four allowed for every gated tool: `approve` (the
call runs), `edit` (the reviewer's call runs instead; same tool), `reject` (the call does
not run; the model gets an error result saying the user rejected it, with the reviewer's
reason) and `respond` (the call does not run; the model gets the reviewer's message as the
call's successful result).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from deepagents.middleware.subagents import GENERAL_PURPOSE_SUBAGENT, SubAgent
from langchain.agents.middleware import HumanInTheLoopMiddleware, InterruptOnConfig
from langchain.agents.middleware.human_in_the_loop import ActionRequest, ReviewConfig
from langchain.agents.middleware.types import AgentMiddleware, AgentState, ToolCallRequest
from langchain_core.messages import AIMessage, ToolCall, ToolMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import Command, Interrupt, StateSnapshot
from pydantic import BaseModel, Field, ValidationError

from warren.errors import Conflict, Unprocessable
from warren.logs import get_logger
from warren.runs import events as ev

log = get_logger(__name__)

METADATA_KEY = "hitl_tools"  # a thread's own list, in its metadata
CONFIG_KEY = "hitl_tools"  # the run's effective list, in `configurable`
RESUME_KEY = "hitl_resume_calls"  # tool call id → name of the calls a resume answers
NS_KEY = "ns"
SUBAGENT_TOOL = "task"
MAX_TOOLS = 100

DecisionType = Literal["approve", "edit", "reject", "respond"]
ALL_DECISIONS: list[DecisionType] = ["approve", "edit", "reject", "respond"]

# The `task` call ids above the agent that is running: set around each `task` call, read
# when a subagent pauses. Context variables follow the subagent's graph into its tasks.
_agent_path: ContextVar[tuple[str, ...]] = ContextVar("warren_agent_path", default=())


# policy -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HitlPolicy:
    """The server's default tool list and the tool names a thread may list."""

    default: tuple[str, ...]
    known: frozenset[str]

    def effective(self, metadata: Mapping[str, Any]) -> list[str]:
        """A run's tool list: the thread's own when its metadata sets one (an empty list
        turns approval off for the thread), else the server's `HITL_TOOLS`."""
        own = metadata.get(METADATA_KEY)
        if isinstance(own, list):
            return [name for name in own if isinstance(name, str)]
        return list(self.default)

    def validate(self, metadata: Mapping[str, Any] | None) -> None:
        """422 unless the metadata's `hitl_tools`, if any, is a list of this agent's tool
        names: checked before the thread is written, so a typo never silently disables an
        approval."""
        if metadata is None or METADATA_KEY not in metadata:
            return
        value = metadata[METADATA_KEY]
        if (
            not isinstance(value, list)
            or len(value) > MAX_TOOLS
            or not all(isinstance(v, str) for v in value)
        ):
            raise Unprocessable(
                f"metadata.{METADATA_KEY} must be a list of tool names (at most {MAX_TOOLS})",
                code="invalid_hitl_tools",
            )
        unknown = sorted(set(value) - self.known)
        if unknown:
            raise Unprocessable(
                f"metadata.{METADATA_KEY} names tools the agent does not have: "
                f"{', '.join(unknown)}; available: {', '.join(sorted(self.known))}",
                code="invalid_hitl_tools",
            )


# wiring -----------------------------------------------------------------------


def with_approval(
    specs: Iterable[SubAgent],
    *,
    skills: list[str] | None = None,
    inherited: Sequence[AgentMiddleware[Any, Any, Any]] = (),
) -> list[SubAgent]:
    """The subagents, general-purpose included, each with its own `RunApproval`.

    deepagents gives the main agent's `middleware` to none of its declared subagents, so
    each spec carries one; the general-purpose subagent is declared here too, as deepagents
    would build it, with the main agent's `skills`. `inherited` is the main agent's
    middleware that takes the place of one of its default stack (by name, e.g. the installed
    skills listing): deepagents hands it on only to its own general-purpose subagent, so it
    is given here to every subagent, researcher and critic included, unless a spec brings
    its own of that name."""
    general: SubAgent = {**GENERAL_PURPOSE_SUBAGENT}
    if skills is not None:
        general["skills"] = skills
    out: list[SubAgent] = []
    for spec in [general, *specs]:
        own = list(spec.get("middleware", []))
        names = {m.name for m in own}
        shared = [m for m in inherited if m.name not in names]
        out.append({**spec, "middleware": [*own, *shared, RunApproval()]})
    return out


# the middleware ---------------------------------------------------------------


def _run_configurable() -> Mapping[str, Any]:
    try:
        configurable = get_config().get("configurable")
    except RuntimeError:  # outside a run: nothing is gated
        return {}
    return configurable if isinstance(configurable, Mapping) else {}


def _last_calls(state: Mapping[str, Any]) -> list[ToolCall]:
    for message in reversed(state.get("messages") or []):
        if isinstance(message, AIMessage):
            return list(message.tool_calls)
    return []


def _gate(tools: frozenset[str], answered: Mapping[str, str]) -> Callable[[ToolCallRequest], bool]:
    """The `when` predicate of a resumed run. The model turn a resume answers must be gated
    exactly as when it paused, whatever the tool list is now (a thread's list may have
    changed in between): otherwise decisions would no longer line up with calls, or a call
    the reviewer rejected would run. Later turns follow the run's list."""

    def when(request: ToolCallRequest) -> bool:
        call_ids = {call.get("id") for call in _last_calls(request.state)}
        if call_ids & answered.keys():
            return request.tool_call.get("id") in answered
        return request.tool_call["name"] in tools

    return when


class RunApproval(HumanInTheLoopMiddleware[Any, Any, Any]):
    """`HumanInTheLoopMiddleware` whose tool set comes from each run's config."""

    def __init__(self) -> None:
        super().__init__(interrupt_on={})

    @property
    def interrupt_on(self) -> dict[str, InterruptOnConfig]:
        configurable = _run_configurable()
        tools = frozenset(n for n in configurable.get(CONFIG_KEY) or () if isinstance(n, str))
        answered = configurable.get(RESUME_KEY) or {}
        if not isinstance(answered, Mapping) or not answered:
            return {
                name: InterruptOnConfig(allowed_decisions=list(ALL_DECISIONS)) for name in tools
            }
        when = _gate(tools, answered)
        return {
            name: InterruptOnConfig(allowed_decisions=list(ALL_DECISIONS), when=when)
            for name in tools | set(answered.values())
        }

    @interrupt_on.setter
    def interrupt_on(self, _value: dict[str, InterruptOnConfig]) -> None:
        """Ignored: the base class sets its static tool set here; ours is per run."""

    def _create_action_and_config(
        self,
        tool_call: ToolCall,
        config: InterruptOnConfig,
        state: AgentState[Any],
        runtime: Runtime[Any],
    ) -> tuple[ActionRequest, ReviewConfig]:
        action, review = super()._create_action_and_config(tool_call, config, state, runtime)
        # Extra keys for Warren's clients: which call this is, and in which agent (the
        # interrupt's `ns`, lifted out of its action requests by `describe`).
        extra: dict[str, Any] = {
            "tool_call_id": tool_call.get("id") or "",
            NS_KEY: list(_agent_path.get()),
        }
        return ActionRequest(**action, **extra), review  # type: ignore[typeddict-item]

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        token = _agent_path.set(_path_below(request))
        try:
            return super().wrap_tool_call(request, handler)
        finally:
            _agent_path.reset(token)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        token = _agent_path.set(_path_below(request))
        try:
            return await super().awrap_tool_call(request, handler)
        finally:
            _agent_path.reset(token)


def _path_below(request: ToolCallRequest) -> tuple[str, ...]:
    """The agent path inside this tool call: one deeper for a `task` call (a subagent)."""
    path = _agent_path.get()
    if request.tool_call["name"] == SUBAGENT_TOOL:
        return (*path, request.tool_call.get("id") or "")
    return path


def tool_names(agent: Any) -> frozenset[str]:
    """The tools a compiled agent can call (its built-ins and ours), read from its tool
    node so that the list cannot drift from what the agent really has."""
    node = getattr(agent, "nodes", {}).get("tools")
    tools = getattr(getattr(node, "bound", None), "tools_by_name", None)
    return frozenset(tools or ())


def policy(default: Sequence[str], agent: Any) -> HitlPolicy:
    known = tool_names(agent)
    unknown = sorted(set(default) - known)
    if unknown:
        # Not fatal: a tool from an MCP server that is down at startup is missing too.
        log.warning("HITL_TOOLS names tools the agent does not have", unknown=unknown)
    return HitlPolicy(default=tuple(default), known=known)


# pending interrupts -----------------------------------------------------------


class PendingReview(BaseModel):
    """A pause for human review, as `/state` lists it (the `interrupt` event's fields)."""

    id: str = Field(description="the interrupt's id")
    value: Any = Field(description="the raw interrupt value, as earlier clients read it")
    ns: list[str] = Field(
        default_factory=list,
        description="the agent that paused: `[]` for the main agent, else the `task` "
        "tool-call ids above the subagent",
    )
    action_requests: list[ev.ActionRequest] = Field(default_factory=list)
    review_configs: list[ev.ReviewConfig] = Field(default_factory=list)


def describe(item: Interrupt) -> PendingReview:
    """The review an interrupt asks for; nothing to decide if it is not a `RunApproval`
    pause (a malformed value is reported as such, never raised while streaming)."""
    value = item.value
    review = PendingReview(id=item.id, value=value)
    if not isinstance(value, Mapping):
        return review
    try:
        raw_actions = value.get("action_requests")
        raw_reviews = value.get("review_configs")
        if not isinstance(raw_actions, list) or not isinstance(raw_reviews, list):
            return review
        actions = [ev.ActionRequest.model_validate(raw) for raw in raw_actions]
        reviews = [ev.ReviewConfig.model_validate(raw) for raw in raw_reviews]
        first = raw_actions[0] if raw_actions else {}
        path = first.get(NS_KEY) if isinstance(first, Mapping) else None
        ns = [str(part) for part in path] if isinstance(path, list) else []
    except ValidationError:
        return review
    return review.model_copy(
        update={"ns": ns, "action_requests": actions, "review_configs": reviews}
    )


def pending(snapshot: StateSnapshot) -> list[PendingReview]:
    """The thread's pending interrupts, in the order a resume answers them. The parent's
    snapshot lists those raised inside subagents too."""
    seen: set[str] = set()
    out: list[PendingReview] = []
    for item in snapshot.interrupts or ():
        if item.id not in seen:
            seen.add(item.id)
            out.append(describe(item))
    return out


# resuming ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resume:
    """What a resumed run streams with."""

    command: Command[Any]
    answered: dict[str, str]  # tool call id → tool name: the calls the decisions answer


def plan_resume(reviews: Sequence[PendingReview], decisions: Sequence[Mapping[str, Any]]) -> Resume:
    """Match one decision per pending action, in order, and split them by interrupt.

    409 when nothing waits for a decision; 422 when the count differs, a decision is not
    allowed for its tool, or an edit names another tool than the one it edits."""
    reviews = [r for r in reviews if r.action_requests]
    if not reviews:
        raise Conflict(
            "this thread has no pending interrupt to resume", code="no_pending_interrupt"
        )
    expected = sum(len(r.action_requests) for r in reviews)
    if len(decisions) != expected:
        raise Unprocessable(
            f"resume needs exactly one decision per pending action: {expected} expected, "
            f"{len(decisions)} given",
            code="decision_count_mismatch",
        )
    by_interrupt: dict[str, Any] = {}
    answered: dict[str, str] = {}
    position = 0
    for review in reviews:
        allowed = {r.action_name: r.allowed_decisions for r in review.review_configs}
        chosen = []
        for action in review.action_requests:
            decision = dict(decisions[position])
            kind = decision.get("type")
            if kind not in allowed.get(action.name, ALL_DECISIONS):
                raise Unprocessable(
                    f"decision {position}: {kind!r} is not allowed for {action.name!r}",
                    code="invalid_decision",
                )
            if kind == "edit":
                edited = decision.get("edited_action") or {}
                if edited.get("name") != action.name:
                    raise Unprocessable(
                        f"decision {position}: an edit must keep the tool {action.name!r}",
                        code="invalid_decision",
                    )
            chosen.append(decision)
            answered[action.tool_call_id] = action.name
            position += 1
        by_interrupt[review.id] = {"decisions": chosen}
    return Resume(command=Command(resume=by_interrupt), answered=answered)
