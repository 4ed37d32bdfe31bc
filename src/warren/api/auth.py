"""Routes under /api/auth: register, login, refresh, me, API keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from warren.api.deps import CurrentUser, ServicesDep, client_ip
from warren.api.schemas import (
    ERROR_RESPONSES,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyPublic,
    AuthConfig,
    Credentials,
    LoginRequest,
    RefreshRequest,
    RegisterResponse,
    TokenResponse,
    UserPublic,
    error,
)
from warren.auth.service import TokenPair
from warren.storage.records import utcnow

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=ERROR_RESPONSES)


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.get("/config")
async def auth_config(services: ServicesDep) -> AuthConfig:
    """What a sign-in screen needs to know: whether registration is open."""
    return AuthConfig(registration_open=services.settings.warren_allow_registration)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses={403: error("registration is disabled"), 409: error("the username is taken")},
)
async def register(body: Credentials, request: Request, services: ServicesDep) -> RegisterResponse:
    """Create an account and log it in. 409 if the username is taken; 403 if disabled;
    429 when one address registers too often (the per-IP login limit applies)."""
    user, pair = await services.auth.register(body.username, body.password, client_ip(request))
    return RegisterResponse(user=UserPublic.of(user), **_tokens(pair).model_dump())


@router.post("/login")
async def login(body: LoginRequest, request: Request, services: ServicesDep) -> TokenResponse:
    """Exchange a username and password for tokens. Rate-limited per username and IP (429)."""
    pair = await services.auth.login(body.username, body.password, client_ip(request))
    return _tokens(pair)


@router.post("/refresh")
async def refresh(body: RefreshRequest, services: ServicesDep) -> TokenResponse:
    """Rotate a refresh token into a new pair. Reusing a rotated token revokes its session."""
    return _tokens(await services.auth.refresh(body.refresh_token))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, services: ServicesDep) -> Response:
    """End a session: its refresh tokens stop working (access tokens expire on their own)."""
    await services.auth.logout(body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.of(user)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: ApiKeyCreate, user: CurrentUser, services: ServicesDep
) -> ApiKeyCreated:
    """Create an API key. The secret is in this response only; it is stored hashed."""
    expires_at = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    key, secret = await services.auth.create_api_key(user, body.name, expires_at)
    return ApiKeyCreated(**ApiKeyPublic.of(key).model_dump(), secret=secret)


@router.get("/api-keys")
async def list_api_keys(user: CurrentUser, services: ServicesDep) -> ApiKeyList:
    keys = await services.auth.list_api_keys(user)
    return ApiKeyList(data=[ApiKeyPublic.of(k) for k in keys], count=len(keys))


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(
    key_id: Annotated[str, Path(max_length=64)], user: CurrentUser, services: ServicesDep
) -> Response:
    await services.auth.revoke_api_key(user, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
