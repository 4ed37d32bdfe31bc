"""RunManager: runs the agent as a background task per run, writing every event to the run's log.

A run outlives the HTTP request that started it: responses only follow the event log,
so any number of clients (on any replica) can watch one run. One run per thread is
enforced with a lease in `RunLocks`, renewed while the run lives and released on
every exit path. A cancel request travels through `CancelBus` to whichever process
runs the task.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import structlog
from langchain_core.messages import HumanMessage
from langgraph.errors import GraphRecursionError

from warren.agent.builder import Agents
from warren.agent.context import RunContext
from warren.agent.state import Message, normalise_all
from warren.agent.translate import Translator
from warren.config import Settings
from warren.errors import BadRequest, Conflict, Gone, NotFound, WarrenError
from warren.logs import get_logger
from warren.runs import events as ev
from warren.storage.factory import Storage
from warren.storage.live import LoggedEvent
from warren.storage.records import Run, RunOutcome, RunStatus, Thread, ThreadStatus, utcnow

log = get_logger(__name__)

STREAM_MODES = ["messages", "updates", "tasks", "custom"]

_THREAD_STATUS = {
    RunStatus.SUCCESS: ThreadStatus.IDLE,
    RunStatus.CANCELLED: ThreadStatus.IDLE,
    RunStatus.INTERRUPTED: ThreadStatus.INTERRUPTED,  # waiting for a human decision
    RunStatus.ERROR: ThreadStatus.ERROR,
}

# Provider SDK errors (openai and anthropic share these names) → what the client is told.
_MODEL_ERRORS = {
    "AuthenticationError": ("model_auth_failed", "the model provider rejected MODEL_API_KEY"),
    "PermissionDeniedError": ("model_auth_failed", "the model provider denied access"),
    "NotFoundError": ("model_not_found", "the model provider does not know this model"),
    "RateLimitError": ("model_rate_limited", "the model provider is rate limiting requests"),
    "APITimeoutError": ("model_timeout", "the model provider did not answer in time"),
    "APIConnectionError": ("model_unreachable", "could not reach the model provider"),
    "BadRequestError": ("model_rejected_request", "the model provider rejected the request"),
    "InternalServerError": ("model_error", "the model provider failed"),
    "APIStatusError": ("model_error", "the model provider answered with an error"),
}


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What a client asked a run to do, as the API validated it."""

    messages: list[str]
    model: str | None = None


@dataclass(frozen=True, slots=True)
class _Failure:
    code: str
    detail: str


class _LockLost(Exception):
    pass


async def _replay(events: list[LoggedEvent]) -> AsyncIterator[LoggedEvent]:
    for event in events:
        yield event


def describe_failure(exc: BaseException) -> _Failure:
    if isinstance(exc, WarrenError):
        return _Failure(exc.code, exc.detail)
    if isinstance(exc, GraphRecursionError):
        return _Failure("recursion_limit", "the agent took too many steps without finishing")
    if isinstance(exc, _LockLost):
        return _Failure("lock_lost", "the run lost its thread lock and was stopped")
    for cls in type(exc).__mro__:
        known = _MODEL_ERRORS.get(cls.__name__)
        if known is not None and cls.__module__.split(".")[0] in ("openai", "anthropic"):
            status = getattr(exc, "status_code", None)
            suffix = f" (HTTP {status})" if status else ""
            return _Failure(known[0], known[1] + suffix)
    return _Failure("agent_error", f"the agent failed unexpectedly ({type(exc).__name__})")


class RunManager:
    def __init__(self, agents: Agents, storage: Storage, settings: Settings) -> None:
        self.agents = agents
        self.storage = storage
        self.records = storage.records
        self.live = storage.live
        self.lock_ttl = settings.run_lock_ttl_seconds
        self.retention = settings.run_event_retention_hours * 3600
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # starting -----------------------------------------------------------------

    async def start(self, thread: Thread, request: RunRequest) -> Run:
        """Start a run on `thread` for the given user message(s); 409 if the thread is busy."""
        model_name = self.agents.resolve(request.model)
        content = request.messages
        run_id = str(uuid.uuid4())
        if not await self.live.locks.acquire(thread.id, run_id, self.lock_ttl):
            raise Conflict(
                "this thread already has an active run; wait for it or cancel it",
                code="thread_busy",
            )
        if await self.records.threads.get(thread.user_id, thread.id) is None:
            # deleted while this request was on its way: never run on a deleted thread
            await self.live.locks.release(thread.id, run_id)
            raise NotFound("no such thread", code="thread_not_found")
        now = utcnow()
        run = Run(
            id=run_id,
            thread_id=thread.id,
            user_id=thread.user_id,
            status=RunStatus.PENDING,
            model=model_name,
            created_at=now,
        )
        try:
            await self.records.runs.create(run)
            await self._emit(ev.RunStarted(run_id=run_id, thread_id=thread.id))
            await self.records.threads.set_status(thread.id, ThreadStatus.BUSY, now)
        except BaseException:
            await self.live.locks.release(thread.id, run_id)
            raise
        task = asyncio.create_task(self._execute(run, content), name=f"run:{run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(self._forget)
        return run

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task.get_name().removeprefix("run:"), None)
        if not task.cancelled() and task.exception() is not None:
            log.error("run task failed", exc_info=task.exception())

    async def _emit(self, event: ev.RunEvent) -> str:
        data = event.model_dump(mode="json")
        return await self.live.events.append(event.run_id, event.type, data)

    # running ------------------------------------------------------------------

    async def _execute(self, run: Run, content: list[str]) -> None:
        structlog.contextvars.bind_contextvars(run_id=run.id, thread_id=run.thread_id)
        translator = Translator(run.id)
        try:
            status, failure = await self._drive(run, content, translator)
        except asyncio.CancelledError:
            # The server is shutting down under this run: record why it stopped.
            failure = _Failure("server_shutdown", "the server stopped while this run was active")
            await asyncio.shield(self._finish(run, RunStatus.INTERRUPTED, failure, translator))
            raise
        await self._finish(run, status, failure, translator)

    async def _drive(
        self, run: Run, content: list[str], translator: Translator
    ) -> tuple[RunStatus, _Failure | None]:
        """Run the agent until it ends, is cancelled, or the run loses its thread lock."""
        try:
            await self.records.runs.mark_running(run.id, utcnow())
            agent = self.agents.get(run.model)
        except Exception as exc:
            return RunStatus.ERROR, describe_failure(exc)
        work = asyncio.create_task(self._stream(agent, run, content, translator))
        cancel = asyncio.create_task(self.live.cancels.wait(run.id))
        keep = asyncio.create_task(self._keep_lock(run))
        tasks = {work, cancel, keep}
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                work.result()
                return (
                    RunStatus.INTERRUPTED if translator.interrupted else RunStatus.SUCCESS
                ), None
            if cancel.done():
                return RunStatus.CANCELLED, None
            keep.result()  # raises _LockLost
            raise _LockLost
        except Exception as exc:
            failure = describe_failure(exc)
            if failure.code == "agent_error":
                log.exception("run failed")
            else:
                # provider messages can echo parts of the API key: log the type only
                log.warning("run failed", code=failure.code, error_type=type(exc).__name__)
            return RunStatus.ERROR, failure
        finally:
            # Stop whatever still runs (the agent included) before the outcome is recorded.
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=5)

    async def _stream(
        self, agent: Any, run: Run, content: list[str], translator: Translator
    ) -> None:
        # The thread and user travel in the config, which reaches tools and subagents.
        configurable = {"thread_id": run.thread_id, "user_id": run.user_id}
        config = {"configurable": configurable, "run_id": uuid.UUID(run.id)}
        context = RunContext(user_id=run.user_id, thread_id=run.thread_id, run_id=run.id)
        payload = {"messages": [HumanMessage(content=text) for text in content]}
        async for namespace, mode, data in agent.astream(
            payload,
            config,
            context=context,
            stream_mode=STREAM_MODES,
            subgraphs=True,
            durability="sync",
        ):
            for event in translator.feed(namespace, mode, data):
                await self._emit(event)

    async def _keep_lock(self, run: Run) -> None:
        while True:
            await asyncio.sleep(self.lock_ttl / 3)
            if not await self.live.locks.renew(run.thread_id, run.id, self.lock_ttl):
                raise _LockLost

    async def _finish(
        self,
        run: Run,
        status: RunStatus,
        failure: _Failure | None,
        translator: Translator | None = None,
    ) -> None:
        """Record the outcome, free the thread, then tell the followers (`done` comes last,
        so whoever sees it finds the record final and the thread free)."""
        released = False
        try:
            if translator is not None:
                await self._emit(translator.usage())
            if failure is not None:
                await self._emit(
                    ev.ErrorEvent(run_id=run.id, code=failure.code, detail=failure.detail)
                )
            now = utcnow()
            await self.records.runs.finish(
                run.id,
                RunOutcome(
                    status=status,
                    finished_at=now,
                    input_tokens=translator.input_tokens if translator else 0,
                    output_tokens=translator.output_tokens if translator else 0,
                    error_code=failure.code if failure else None,
                    error_detail=failure.detail if failure else None,
                ),
            )
            thread_status = _THREAD_STATUS[status] if failure is None else ThreadStatus.ERROR
            await self.records.threads.set_status(run.thread_id, thread_status, now)
            await self._release(run)
            released = True
            await self._emit(ev.Done(run_id=run.id, thread_id=run.thread_id, status=status.value))
            await self.live.events.expire(run.id, self.retention)
        finally:
            if not released:
                await self._release(run)
            log.info(
                "run finished",
                run_id=run.id,
                status=status.value,
                code=failure.code if failure else None,
            )

    async def _release(self, run: Run) -> None:
        await self.live.locks.release(run.thread_id, run.id)
        await self.live.cancels.clear(run.id)

    # watching -----------------------------------------------------------------

    def follow(self, run_id: str, after: str | None = None) -> AsyncIterator[LoggedEvent]:
        return self.live.events.follow(run_id, after)

    async def events_after(self, run: Run, after: str | None) -> AsyncIterator[LoggedEvent]:
        """A run's events after `after`: live until `done` for an active run, a replay for a
        finished one. Raises (400, 410) before anything is streamed."""
        events = self.live.events
        if after is not None and not events.is_valid_id(after):
            raise BadRequest(
                "Last-Event-ID is not an event id of this run", code="invalid_event_id"
            )
        if not run.status.finished:
            return events.follow(run.id, after)
        remaining = await events.read(run.id, after)
        if not remaining and (after is None or not await events.read(run.id)):
            raise Gone(
                "this run's events are past the retention window; read the thread's state",
                code="events_expired",
            )
        return _replay(remaining)

    async def wait(self, run: Run, before: set[str]) -> tuple[Run, list[Message]]:
        """Wait for `run` to end; return its record and the messages it added."""
        async for _event in self.follow(run.id):
            pass
        finished = await self.records.runs.get(run.thread_id, run.id)
        assert finished is not None
        snapshot = await self.agents.reader.aget_state(
            {"configurable": {"thread_id": run.thread_id}}
        )
        messages = normalise_all(list((snapshot.values or {}).get("messages") or []))
        return finished, [m for m in messages if m.id not in before]

    # cancelling and cleanup --------------------------------------------------

    async def cancel(self, run: Run) -> None:
        if not run.status.finished:
            await self.live.cancels.request(run.id)

    async def wait_idle(self, thread_id: str, seconds: float) -> bool:
        """Wait until no run holds the thread's lock; `False` if it still does after `seconds`."""
        try:
            async with asyncio.timeout(seconds):
                # the lock may live in Redis, held by another replica: poll it
                while await self.live.locks.holder(thread_id) is not None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        except TimeoutError:
            return False
        return True

    async def recover_orphans(self) -> int:
        """Close runs left unfinished by a crash (no live lock): they become `interrupted`."""
        count = 0
        for run in await self.records.runs.list_unfinished():
            if run.id in self._tasks or await self.live.locks.holder(run.thread_id) == run.id:
                continue
            failure = _Failure("server_restarted", "the server stopped while this run was active")
            await self._finish(run, RunStatus.INTERRUPTED, failure)
            count += 1
        return count

    async def shutdown(self) -> None:
        """Stop every run this process owns; each records why it stopped."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
