"""Routes under /api/threads: create, list, read, rename, delete, state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from warren.api.deps import CurrentUser, OwnedThread, ServicesDep
from warren.api.schemas import (
    ERROR_RESPONSES,
    ThreadCreate,
    ThreadList,
    ThreadPublic,
    ThreadState,
    ThreadUpdate,
    error,
)
from warren.storage.records import ThreadStatus

router = APIRouter(prefix="/api/threads", tags=["threads"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_thread(
    body: ThreadCreate, user: CurrentUser, services: ServicesDep
) -> ThreadPublic:
    """Create a thread. No sandbox or checkpoint exists until its first run."""
    thread = await services.threads.create(user, body.title, body.metadata)
    return ThreadPublic.of(thread)


@router.get("", responses={400: error("the cursor is not valid")})
async def list_threads(
    user: CurrentUser,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    q: Annotated[str | None, Query(max_length=200, description="title contains")] = None,
    status: ThreadStatus | None = None,
) -> ThreadList:
    """The caller's threads, newest activity first."""
    listing = await services.threads.listing(user, limit=limit, cursor=cursor, q=q, status=status)
    return ThreadList(
        data=[ThreadPublic.of(t) for t in listing.threads],
        count=listing.total,
        next_cursor=listing.next_cursor,
    )


@router.get("/{thread_id}")
async def get_thread(thread: OwnedThread) -> ThreadPublic:
    return ThreadPublic.of(thread)


@router.patch("/{thread_id}")
async def update_thread(
    body: ThreadUpdate, thread: OwnedThread, user: CurrentUser, services: ServicesDep
) -> ThreadPublic:
    """Rename a thread or replace its metadata."""
    updated = await services.threads.update(user, thread.id, body.title, body.metadata)
    return ThreadPublic.of(updated)


@router.delete(
    "/{thread_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: error("the thread's run did not stop in time")},
)
async def delete_thread(thread: OwnedThread, user: CurrentUser, services: ServicesDep) -> Response:
    """Cancel the thread's run and delete its checkpoints, run events and records."""
    await services.threads.delete(user, thread.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{thread_id}/state")
async def get_state(thread: OwnedThread, services: ServicesDep) -> ThreadState:
    """The conversation, normalised: messages, todos and pending interrupts."""
    convo = await services.threads.conversation(thread)
    return ThreadState(
        thread_id=thread.id,
        messages=convo.messages,
        todos=convo.todos,
        interrupts=convo.interrupts,
        status=thread.status,
    )
