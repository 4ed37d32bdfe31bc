"""Routes for runs: start (wait or stream), list, read, join/resume a stream, cancel."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent

from warren.api.deps import OwnedThread, RunId, ServicesDep
from warren.api.schemas import (
    ERROR_RESPONSES,
    RunCreate,
    RunList,
    RunPublic,
    RunResult,
    RunUsage,
    error,
)
from warren.api.sse import SSE_RESPONSES, frame
from warren.runs.manager import RunRequest
from warren.storage.live import LoggedEvent
from warren.storage.records import Run

router = APIRouter(prefix="/api/threads", tags=["runs"], responses=ERROR_RESPONSES)


async def start_run(body: RunCreate, thread: OwnedThread, services: ServicesDep) -> Run:
    """Start the run before any response byte is sent, so 404/409/422 are real statuses."""
    decisions = None
    if body.resume is not None:
        decisions = [d.model_dump(exclude_none=True) for d in body.resume.decisions]
        await services.threads.check_resume(thread, decisions)  # 409 / 422 before the run
    messages = [m.content for m in body.messages or []]
    request = RunRequest(
        messages=messages,
        model=body.model,
        resume=decisions,
        multitask_strategy=body.multitask_strategy,
        on_disconnect=body.on_disconnect,
    )
    run = await services.runs.start(thread, request)
    if messages:
        await services.threads.name_from_message(thread, messages[0])
    return run


StartedRun = Annotated[Run, Depends(start_run)]


BUSY: dict[int | str, dict[str, Any]] = {
    409: error(
        "the thread already has an active run (`thread_busy`) or a full queue (`queue_full`);"
        " or, for `resume`, no interrupt is pending "
        "(`no_pending_interrupt`)"
    )
}


@router.post("/{thread_id}/runs", responses=BUSY)
async def run_and_wait(body: RunCreate, thread: OwnedThread, services: ServicesDep) -> RunResult:
    """Run the agent and answer when it has finished, with the messages it added."""
    before = {m.id for m in (await services.threads.conversation(thread)).messages}
    run = await start_run(body, thread, services)
    finished, messages = await services.runs.wait(run, before)
    public = RunPublic.of(finished)
    return RunResult(
        run_id=run.id,
        status=finished.status,
        messages=messages,
        usage=RunUsage(input_tokens=finished.input_tokens, output_tokens=finished.output_tokens),
        error=public.error,
    )


@router.post(
    "/{thread_id}/runs/stream",
    response_class=EventSourceResponse,
    responses={**SSE_RESPONSES, **BUSY},
)
async def run_and_stream(
    body: RunCreate, run: StartedRun, services: ServicesDep
) -> AsyncIterable[ServerSentEvent]:
    """Run the agent and stream its events. The run goes on if the client disconnects,
    unless the request says `on_disconnect: "cancel"`."""
    async for event in services.runs.stream(run, body.on_disconnect):
        yield frame(event)


@router.get("/{thread_id}/runs")
async def list_runs(
    thread: OwnedThread,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> RunList:
    """The thread's recent runs, newest first."""
    runs = await services.threads.list_runs(thread, limit)
    return RunList(data=[RunPublic.of(r) for r in runs], count=len(runs))


async def owned_run(thread: OwnedThread, run_id: RunId, services: ServicesDep) -> Run:
    return await services.threads.get_run(thread, run_id)


OwnedRun = Annotated[Run, Depends(owned_run)]


@router.get("/{thread_id}/runs/{run_id}")
async def get_run(run: OwnedRun) -> RunPublic:
    return RunPublic.of(run)


async def resumed_events(
    run: OwnedRun,
    services: ServicesDep,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=64)
    ] = None,
    last_event_id: Annotated[str | None, Query(max_length=64)] = None,
) -> AsyncIterator[LoggedEvent]:
    """The events after `Last-Event-ID` (header, else query), checked before streaming."""
    return await services.runs.events_after(run, last_event_id_header or last_event_id)


@router.get(
    "/{thread_id}/runs/{run_id}/stream",
    response_class=EventSourceResponse,
    responses={
        **SSE_RESPONSES,
        400: error("`Last-Event-ID` is not an event id"),
        410: error("the run's events are past the retention window"),
    },
)
async def join_stream(
    events: Annotated[AsyncIterator[LoggedEvent], Depends(resumed_events)],
) -> AsyncIterable[ServerSentEvent]:
    """Join a run's stream, or resume it: the events after `Last-Event-ID`, then live ones
    until `done`. A finished run replays within the retention window (410 after it)."""
    async for event in events:
        yield frame(event)


@router.post("/{thread_id}/runs/{run_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
async def cancel_run(run: OwnedRun, services: ServicesDep) -> Response:
    """Ask the run to stop; idempotent. Its stream ends with `done{status: "cancelled"}`."""
    await services.runs.cancel(run)
    return Response(status_code=status.HTTP_202_ACCEPTED)
