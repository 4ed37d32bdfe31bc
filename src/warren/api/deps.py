"""Request dependencies as `Annotated` aliases: services, the caller, their thread."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from warren.auth.service import Principal
from warren.errors import ServiceUnavailable, Unauthorized
from warren.services import Services
from warren.storage.records import Thread, User

_bearer = HTTPBearer(
    auto_error=False,
    description="A JWT access token from /api/auth/login, or an API key (`wk_…`).",
)


def get_services(request: Request) -> Services:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise ServiceUnavailable("the server is starting up", code="starting")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing bearer token", code="not_authenticated")
    return await services.auth.authenticate(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_current_user(principal: PrincipalDep) -> User:
    return principal.user


CurrentUser = Annotated[User, Depends(get_current_user)]

ThreadId = Annotated[str, Path(min_length=1, max_length=64, description="the thread's id")]
RunId = Annotated[str, Path(min_length=1, max_length=64, description="the run's id")]


async def get_owned_thread(services: ServicesDep, user: CurrentUser, thread_id: ThreadId) -> Thread:
    """The caller's thread; another user's thread is a 404, never a 403."""
    return await services.threads.get(user, thread_id)


OwnedThread = Annotated[Thread, Depends(get_owned_thread)]


def client_ip(request: Request) -> str:
    """The peer address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else "unknown"
