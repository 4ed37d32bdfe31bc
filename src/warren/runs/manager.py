"""RunManager: runs the agent as a background task per run, writing every event to the run's log.

A run outlives the HTTP request that started it: responses only follow the event log,
so any number of clients (on any replica) can watch one run. One run per thread is
enforced with a lease in `RunLocks`, renewed while the run lives and released on
every exit path. A cancel request travels through `CancelBus` to whichever process
runs the task. Runs accepted with `enqueue` wait in a per-thread FIFO in live state (see
`RunQueue`); every replica sweeps, once per lock lifetime, for runs whose replica died.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog
from langchain_core.messages import HumanMessage
from langgraph.errors import GraphRecursionError

from warren.agent import hitl
from warren.agent.builder import Agents
from warren.agent.context import RunContext
from warren.agent.state import Message, normalise_all
from warren.agent.translate import Translator
from warren.config import Settings
from warren.errors import BadRequest, Conflict, Gone, NotFound, WarrenError
from warren.logs import get_logger
from warren.metrics import Metrics
from warren.runs import events as ev
from warren.runs.outbox import Outbox
from warren.runs.subscriber import bounded
from warren.runs.turns import Failure, ThreadTurns
from warren.storage.factory import Storage
from warren.storage.live import LoggedEvent
from warren.storage.records import Run, RunOutcome, RunStatus, Thread, ThreadStatus, utcnow

log = get_logger(__name__)

STREAM_MODES = ["messages", "updates", "tasks", "custom"]
_NOT_OUTPUT = {"run_started", "usage", "error", "done"}  # not the agent's own output

STALE_RESUME = "no_pending_interrupt"  # a resume whose pause was settled before it ran
MultitaskStrategy = Literal["reject", "enqueue", "interrupt"]
OnDisconnect = Literal["continue", "cancel"]

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
    multitask_strategy: MultitaskStrategy = "reject"  # when the thread already has a run
    on_disconnect: OnDisconnect = "continue"  # what a streaming client's hang-up does
    # human-in-the-loop: one decision per pending action request, in order (then no messages)
    resume: list[dict[str, Any]] | None = None


class _LockLost(Exception):
    pass


async def _replay(events: list[LoggedEvent]) -> AsyncIterator[LoggedEvent]:
    for event in events:
        yield event


def _thread_status(status: RunStatus, failure: Failure | None) -> ThreadStatus:
    if failure is None:
        return _THREAD_STATUS[status]
    if failure.code == STALE_RESUME:
        # the pause it answered was settled by another run in between: nothing failed
        return ThreadStatus.IDLE
    return ThreadStatus.ERROR


def describe_failure(exc: BaseException) -> Failure:
    if isinstance(exc, WarrenError):
        return Failure(exc.code, exc.detail)
    if isinstance(exc, GraphRecursionError):
        return Failure("recursion_limit", "the agent took too many steps without finishing")
    if isinstance(exc, _LockLost):
        return Failure("lock_lost", "the run lost its thread lock and was stopped")
    for cls in type(exc).__mro__:
        known = _MODEL_ERRORS.get(cls.__name__)
        if known is not None and cls.__module__.split(".")[0] in ("openai", "anthropic"):
            status = getattr(exc, "status_code", None)
            suffix = f" (HTTP {status})" if status else ""
            return Failure(known[0], known[1] + suffix)
    return Failure("agent_error", f"the agent failed unexpectedly ({type(exc).__name__})")


class RunManager:
    def __init__(
        self,
        agents: Agents,
        storage: Storage,
        settings: Settings,
        metrics: Metrics | None = None,
    ) -> None:
        self.agents = agents
        self.storage = storage
        self.records = storage.records
        self.live = storage.live
        self.lock_ttl = settings.run_lock_ttl_seconds
        self.retention = settings.run_event_retention_hours * 3600
        self.max_queued = settings.run_max_queued
        self.subscriber_buffer = settings.run_subscriber_buffer
        self.metrics = metrics or Metrics()
        self.turns = ThreadTurns(self.live, self.records, self.metrics, self.lock_ttl)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._started: dict[str, float] = {}  # run id -> monotonic start, while it runs
        self._awaiting_output: set[str] = set()  # running runs with no output event yet
        self._detached: set[asyncio.Task[None]] = set()

    # starting -----------------------------------------------------------------

    async def start(self, thread: Thread, request: RunRequest) -> Run:
        """Start a run on `thread` for the given user message(s); 409 if the thread is busy."""
        model_name = self.agents.resolve(request.model)
        run_id = str(uuid.uuid4())
        if request.multitask_strategy == "enqueue":
            return await self._enqueue(thread, request, run_id, model_name)
        await self.turns.take(thread.id, run_id, request.multitask_strategy)
        if await self.records.threads.get(thread.user_id, thread.id) is None:
            # deleted while this request was on its way: never run on a deleted thread
            await self.live.locks.release(thread.id, run_id)
            raise NotFound("no such thread", code="thread_not_found")
        now = utcnow()
        try:
            busy = self.records.threads.set_status(thread.id, ThreadStatus.BUSY, now)
            run = await self._record(thread, run_id, model_name, now, busy)
        except BaseException:
            await self.live.locks.release(thread.id, run_id)
            raise
        task = asyncio.create_task(self._execute(run, request), name=f"run:{run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(self._forget)
        return run

    async def _record(
        self,
        thread: Thread,
        run_id: str,
        model_name: str,
        now: datetime,
        *also: Awaitable[object],
    ) -> Run:
        """The run's `pending` record, and the first event of its log (with `also`).

        They are written at once, not one after the other: no one knows the run's id before
        this returns, so no one can see one without the other. If any write fails, the log
        is dropped again and the error raised."""
        run = Run(
            id=run_id,
            thread_id=thread.id,
            user_id=thread.user_id,
            status=RunStatus.PENDING,
            model=model_name,
            created_at=now,
        )
        results = await asyncio.gather(
            self.records.runs.create(run),
            self._emit(ev.RunStarted(run_id=run_id, thread_id=thread.id)),
            *also,
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                await self.live.events.delete(run_id)
                raise result
        return run

    async def _enqueue(
        self, thread: Thread, request: RunRequest, run_id: str, model_name: str
    ) -> Run:
        """Accept a run that starts after the thread's current and earlier queued runs.

        The run is recorded `pending` and its stream can be followed at once; a task of this
        process waits for its turn (its queue entry is a lease it renews, so a replica that
        dies never blocks the runs queued behind its own)."""
        queued = await self.live.queues.push(
            thread.id, run_id, ttl=self.lock_ttl, limit=self.max_queued
        )
        if not queued:
            raise Conflict(
                f"this thread already has {self.max_queued} queued runs; wait for them",
                code="queue_full",
            )
        try:
            run = await self._record(thread, run_id, model_name, utcnow())
        except BaseException:
            await self.live.queues.remove(thread.id, run_id)
            raise
        task = asyncio.create_task(self._run_queued(run, request), name=f"run:{run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(self._forget)
        return run

    async def _run_queued(self, run: Run, request: RunRequest) -> None:
        structlog.contextvars.bind_contextvars(run_id=run.id, thread_id=run.thread_id)
        try:
            ended = await self.turns.wait(run)
        except asyncio.CancelledError:
            failure = Failure("server_shutdown", "the server stopped while this run was queued")
            await asyncio.shield(
                self._finish(run, RunStatus.INTERRUPTED, failure, touch_thread=False)
            )
            raise
        if ended is not None:
            await self._finish(run, ended[0], ended[1], touch_thread=False)
            return
        # This run holds the thread now: from here on it is like any started run.
        try:
            gone = await self.records.threads.get(run.user_id, run.thread_id) is None
            if not gone:
                await self.records.threads.set_status(run.thread_id, ThreadStatus.BUSY, utcnow())
        except BaseException:
            await self._release(run)
            raise
        if gone:
            failure = Failure("thread_deleted", "the thread was deleted before this run began")
            await self._finish(run, RunStatus.CANCELLED, failure, touch_thread=False)
            return
        await self._execute(run, request)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task.get_name().removeprefix("run:"), None)
        if not task.cancelled() and task.exception() is not None:
            log.error("run task failed", exc_info=task.exception())

    async def _emit(self, event: ev.RunEvent) -> str:
        data = event.model_dump(mode="json")
        event_id = await self.live.events.append(event.run_id, event.type, data)
        self._emitted(event)
        return event_id

    async def _emit_many(self, events: list[ev.RunEvent]) -> None:
        """Append a run's events in order, in one write (they all belong to one run)."""
        if len(events) == 1:
            await self._emit(events[0])
            return
        batch = [(event.type, event.model_dump(mode="json")) for event in events]
        await self.live.events.append_many(events[0].run_id, batch)
        for event in events:
            self._emitted(event)

    def _emitted(self, event: ev.RunEvent) -> None:
        """Metrics of an event now in the log."""
        if event.type not in _NOT_OUTPUT and event.run_id in self._awaiting_output:
            self._awaiting_output.discard(event.run_id)
            started = self._started.get(event.run_id)
            if started is not None:
                self.metrics.first_event.observe(time.monotonic() - started)
        if isinstance(event, ev.ToolResult) and event.status == "error":
            self.metrics.tool_error(event.name)

    # running ------------------------------------------------------------------

    async def _execute(self, run: Run, request: RunRequest) -> None:
        structlog.contextvars.bind_contextvars(run_id=run.id, thread_id=run.thread_id)
        translator = Translator(run.id)
        try:
            status, failure = await self._drive(run, request, translator)
        except asyncio.CancelledError:
            # The server is shutting down under this run: record why it stopped.
            failure = Failure("server_shutdown", "the server stopped while this run was active")
            await asyncio.shield(self._finish(run, RunStatus.INTERRUPTED, failure, translator))
            raise
        await self._finish(run, status, failure, translator)

    async def _drive(
        self, run: Run, request: RunRequest, translator: Translator
    ) -> tuple[RunStatus, Failure | None]:
        """Run the agent until it ends, is cancelled, or the run loses its thread lock."""
        try:
            await self.records.runs.mark_running(run.id, utcnow())
            agent = self.agents.get(run.model)
        except Exception as exc:
            return RunStatus.ERROR, describe_failure(exc)
        self._began(run.id)
        work = asyncio.create_task(self._stream(agent, run, request, translator))
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
                cancel.result()  # a failing cancel bus is an error, not a cancel
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
        self, agent: Any, run: Run, request: RunRequest, translator: Translator
    ) -> None:
        # The thread and user travel in the config, which reaches tools and subagents; so
        # does the run's list of tools that wait for approval (the graph is shared).
        thread = await self.records.threads.get(run.user_id, run.thread_id)
        configurable: dict[str, Any] = {
            "thread_id": run.thread_id,
            "user_id": run.user_id,
            hitl.CONFIG_KEY: self.agents.hitl.effective(thread.metadata if thread else {}),
        }
        config = {"configurable": configurable, "run_id": uuid.UUID(run.id)}
        context = RunContext(user_id=run.user_id, thread_id=run.thread_id, run_id=run.id)
        payload: Any
        if request.resume is not None:
            # Checked again here: the thread may have moved on since the request was checked.
            snapshot = await agent.aget_state(config)
            resume = hitl.plan_resume(hitl.pending(snapshot), request.resume)
            configurable[hitl.RESUME_KEY] = resume.answered
            payload = resume.command
        else:
            payload = {"messages": [HumanMessage(content=text) for text in request.messages]}
        outbox = Outbox(self._emit_many)  # the agent goes on while its events are appended
        try:
            async for namespace, mode, data in agent.astream(
                payload,
                config,
                context=context,
                stream_mode=STREAM_MODES,
                subgraphs=True,
                durability="sync",
            ):
                for event in translator.feed(namespace, mode, data):
                    await outbox.put(event)
            await outbox.flush()
        except asyncio.CancelledError:
            # Stopped (cancel, lost lock, shutdown): what the log does not have yet is
            # dropped, so nothing the run produced can follow its `done`.
            await outbox.discard()
            raise
        except Exception:
            try:
                with contextlib.suppress(Exception):
                    await outbox.flush()  # what the agent produced before it failed is kept
            except asyncio.CancelledError:
                await outbox.discard()
                raise
            raise

    async def _keep_lock(self, run: Run) -> None:
        while True:
            await asyncio.sleep(self.lock_ttl / 3)
            if not await self.live.locks.renew(run.thread_id, run.id, self.lock_ttl):
                raise _LockLost

    def _began(self, run_id: str) -> None:
        self._started[run_id] = time.monotonic()
        self._awaiting_output.add(run_id)
        self.metrics.active_runs.inc()

    def _ended(self, run_id: str, status: RunStatus | None) -> None:
        started = self._started.pop(run_id, None)
        self._awaiting_output.discard(run_id)
        if started is not None:
            self.metrics.active_runs.dec()
        if status is not None:
            self.metrics.runs.labels(status=status.value).inc()
            if started is not None:
                self.metrics.run_duration.observe(time.monotonic() - started)

    async def _finish(
        self,
        run: Run,
        status: RunStatus,
        failure: Failure | None,
        translator: Translator | None = None,
        *,
        touch_thread: bool = True,
    ) -> bool:
        """Record the outcome, free the thread, then tell the followers (`done` comes last,
        so whoever sees it finds the record final and the thread free).

        The record is written first and only if the run is still unfinished: when another
        replica's sweep closed it already, that one told the followers, and nothing more is
        appended (one `done` per run). `touch_thread=False` leaves the thread's status alone
        (a queued run that never ran, or a stale run of a thread that has moved on)."""
        released = False
        won = False
        try:
            now = utcnow()
            won = await self.records.runs.finish(
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
            if not won and await self.records.runs.get(run.thread_id, run.id) is not None:
                log.warning("run was already finished elsewhere", run_id=run.id)
                return False  # its record is gone only when its thread was deleted: then tell
            if translator is not None:
                await self._emit(translator.usage())
            if failure is not None:
                await self._emit(
                    ev.ErrorEvent(run_id=run.id, code=failure.code, detail=failure.detail)
                )
            if touch_thread:
                thread_status = _thread_status(status, failure)
                await self.records.threads.set_status(run.thread_id, thread_status, now)
            await self._release(run)
            released = True
            await self._emit(ev.Done(run_id=run.id, thread_id=run.thread_id, status=status.value))
            await self.live.events.expire(run.id, self.retention)
            return True
        finally:
            if not released:
                await self._release(run)
            self._ended(run.id, status if won else None)
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

    async def follow(self, run_id: str, after: str | None = None) -> AsyncIterator[LoggedEvent]:
        """One client's subscription to a run's log, through a bounded buffer: a client that
        stops reading is dropped (its stream ends without `done`; it resumes with
        `Last-Event-ID`) instead of growing this process' memory."""
        self.metrics.subscribers.inc()
        try:
            source = self.live.events.follow(run_id, after)
            async for event in bounded(
                source, self.subscriber_buffer, on_drop=self.metrics.subscribers_dropped.inc
            ):
                yield event
        finally:
            self.metrics.subscribers.dec()

    async def stream(self, run: Run, on_disconnect: OnDisconnect) -> AsyncIterator[LoggedEvent]:
        """The stream of the client that started `run`; with `on_disconnect="cancel"`, that
        client hanging up before `done` cancels the run."""
        ended = False
        try:
            async for event in self.follow(run.id):
                yield event
            ended = True
        finally:
            if not ended and on_disconnect == "cancel":
                # The response is being torn down (its scope cancelled): do it in a task.
                task = asyncio.create_task(self._cancel_if_active(run, "disconnect"))
                self._detached.add(task)
                task.add_done_callback(self._detached.discard)

    async def _cancel_if_active(self, run: Run, reason: str) -> None:
        current = await self.records.runs.get(run.thread_id, run.id)
        if current is not None:
            await self.cancel(current, reason)

    async def events_after(self, run: Run, after: str | None) -> AsyncIterator[LoggedEvent]:
        """A run's events after `after`: live until `done` for an active run, a replay for a
        finished one. Raises (400, 410) before anything is streamed."""
        events = self.live.events
        if after is not None and not events.is_valid_id(after):
            raise BadRequest(
                "Last-Event-ID is not an event id of this run", code="invalid_event_id"
            )
        if not run.status.finished:
            return self.follow(run.id, after)
        remaining = await events.read(run.id, after)
        if not remaining and (after is None or not await events.read(run.id)):
            raise Gone(
                "this run's events are past the retention window; read the thread's state",
                code="events_expired",
            )
        return _replay(remaining)

    async def wait(self, run: Run, before: set[str]) -> tuple[Run, list[Message]]:
        """Wait for `run` to end; return its record and the messages it added."""
        async for _event in self.live.events.follow(run.id):
            pass
        finished = await self.records.runs.get(run.thread_id, run.id)
        assert finished is not None
        snapshot = await self.agents.reader.aget_state(
            {"configurable": {"thread_id": run.thread_id}}
        )
        messages = normalise_all(list((snapshot.values or {}).get("messages") or []))
        return finished, [m for m in messages if m.id not in before]

    # cancelling and cleanup --------------------------------------------------

    async def cancel(self, run: Run, reason: str = "request") -> None:
        if not run.status.finished:
            await self.live.cancels.request(run.id)
            self.metrics.cancels.labels(reason=reason).inc()

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
        """At start: close runs left unfinished by a crash; they become `interrupted`."""
        return await self.sweep(
            Failure("server_restarted", "the server stopped while this run was active")
        )

    async def sweep(self, failure: Failure | None = None) -> int:
        """Close the runs whose replica died: unfinished, run by no task of this process,
        holding no live lock and not waiting in a live queue entry. Each becomes
        `interrupted` with `error` + `done` appended, so waiting clients finish; the record
        is closed conditionally, so replicas sweeping at once append one `done`."""
        failure = failure or Failure(
            "run_lost", "the server running this run stopped before it finished"
        )
        count = 0
        for run in await self.records.runs.list_unfinished():
            if run.id in self._tasks:
                continue
            holder = await self.live.locks.holder(run.thread_id)
            if holder == run.id:
                continue
            if run.id in await self.live.queues.entries(run.thread_id):
                continue
            # A thread that moved on to another run keeps the status that run gives it.
            if await self._finish(run, RunStatus.INTERRUPTED, failure, touch_thread=not holder):
                count += 1
        if count:
            log.warning("closed runs left by a stopped server", count=count)
        return count

    async def sweep_forever(self) -> None:
        """Sweep once per lock lifetime: any live replica closes a dead replica's runs."""
        while True:
            await asyncio.sleep(self.lock_ttl)
            try:
                await self.sweep()
            except Exception:
                log.exception("run sweep failed")

    async def shutdown(self) -> None:
        """Stop every run this process owns; each records why it stopped."""
        await asyncio.gather(*self._detached, return_exceptions=True)  # disconnect cancels
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
