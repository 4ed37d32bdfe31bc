"""The auth service: register, log in, rotate refresh tokens, resolve bearer tokens, API keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from warren.auth import api_keys
from warren.auth.passwords import hash_password, verify_password
from warren.auth.tokens import TokenCodec
from warren.config import Settings
from warren.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized
from warren.logs import get_logger
from warren.storage.live import Throttle
from warren.storage.records import (
    ApiKey,
    ConsumeOutcome,
    Records,
    RefreshToken,
    User,
    UsernameTaken,
    utcnow,
)

log = get_logger(__name__)

# last_used_at of an API key is written at most this often
_TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds until the access token expires


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and how they proved it."""

    user: User
    via: Literal["jwt", "api_key"]
    api_key_id: str | None = None


class AuthService:
    def __init__(
        self, records: Records, throttle: Throttle, codec: TokenCodec, settings: Settings
    ) -> None:
        self.records = records
        self.throttle = throttle
        self.codec = codec
        self.allow_registration = settings.warren_allow_registration
        self.access_lifetime = timedelta(minutes=settings.access_token_expire_minutes)
        self.refresh_lifetime = timedelta(days=settings.refresh_token_expire_days)
        self.login_limit = settings.login_rate_limit
        self.login_limit_per_ip = settings.login_rate_limit_per_ip
        self.login_window = float(settings.login_rate_window_seconds)

    async def register(
        self, username: str, password: str, client_ip: str
    ) -> tuple[User, TokenPair]:
        if not self.allow_registration:
            raise Forbidden("registration is disabled on this server", code="registration_closed")
        await self._throttle(
            f"register:ip:{client_ip}", self.login_limit_per_ip, username, client_ip
        )
        user = User(
            id=str(uuid.uuid4()),
            username=username,
            password_hash=await hash_password(password),
            created_at=utcnow(),
        )
        try:
            await self.records.users.create(user)
        except UsernameTaken:
            raise Conflict("that username is taken", code="username_taken") from None
        log.info("user registered", user_id=user.id, username=username)
        return user, await self._issue(user.id, family_id=uuid.uuid4().hex)

    async def _throttle(self, key: str, limit: int, username: str, client_ip: str) -> None:
        wait = await self.throttle.hit(key, limit, self.login_window)
        if wait is not None:
            log.warning(
                "auth throttled", key=key.split(":")[0], username=username, client_ip=client_ip
            )
            raise TooManyRequests(
                "too many attempts; try again later", retry_after=max(1, round(wait))
            )

    async def login(self, username: str, password: str, client_ip: str) -> TokenPair:
        await self._throttle(f"login:user:{username}", self.login_limit, username, client_ip)
        await self._throttle(f"login:ip:{client_ip}", self.login_limit_per_ip, username, client_ip)
        user = await self.records.users.get_by_username(username)
        if not await verify_password(password, user.password_hash if user else None):
            log.info("login failed", username=username, client_ip=client_ip)
            raise Unauthorized("wrong username or password", code="invalid_credentials")
        assert user is not None
        await self.throttle.reset(f"login:user:{username}")
        log.info("login", user_id=user.id, client_ip=client_ip)
        return await self._issue(user.id, family_id=uuid.uuid4().hex)

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self.codec.verify(refresh_token, "refresh")
        outcome, stored = await self.records.refresh_tokens.consume(claims.token_id, utcnow())
        if outcome is ConsumeOutcome.REUSED and stored is not None:
            # A rotated token came back: whoever holds this family, it is not safe.
            await self.records.refresh_tokens.revoke_family(stored.family_id)
            log.warning("refresh token reused; session revoked", user_id=stored.user_id)
            raise Unauthorized(
                "refresh token already used; this session is revoked", code="token_reused"
            )
        if outcome is not ConsumeOutcome.OK or stored is None:
            raise Unauthorized("refresh token is not valid", code="invalid_token")
        if await self.records.users.get(stored.user_id) is None:
            raise Unauthorized("user no longer exists", code="invalid_token")
        return await self._issue(stored.user_id, family_id=stored.family_id)

    async def logout(self, refresh_token: str) -> None:
        """End the session a refresh token belongs to: its whole family is revoked."""
        claims = self.codec.verify(refresh_token, "refresh")
        if claims.family_id is None:
            raise Unauthorized("refresh token is not valid", code="invalid_token")
        await self.records.refresh_tokens.revoke_family(claims.family_id)
        log.info("logout", user_id=claims.user_id)

    async def _issue(self, user_id: str, family_id: str) -> TokenPair:
        now = utcnow()
        access, _ = self.codec.issue(user_id, "access", now, self.access_lifetime)
        refresh, claims = self.codec.issue(
            user_id, "refresh", now, self.refresh_lifetime, family_id=family_id
        )
        await self.records.refresh_tokens.create(
            RefreshToken(
                id=claims.token_id,
                family_id=family_id,
                user_id=user_id,
                expires_at=claims.expires_at,
            )
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=int(self.access_lifetime.total_seconds()),
        )

    async def authenticate(self, token: str) -> Principal:
        """Resolve a bearer token (JWT access token or API key) to its user."""
        if api_keys.looks_like_key(token):
            key = await self.records.api_keys.get_by_hash(api_keys.digest(token))
            now = utcnow()
            if key is None or (key.expires_at is not None and key.expires_at <= now):
                raise Unauthorized("invalid API key", code="invalid_api_key")
            user = await self.records.users.get(key.user_id)
            if user is None:
                raise Unauthorized("invalid API key", code="invalid_api_key")
            if key.last_used_at is None or now - key.last_used_at >= _TOUCH_INTERVAL:
                await self.records.api_keys.touch(key.id, now)
            return Principal(user=user, via="api_key", api_key_id=key.id)
        claims = self.codec.verify(token, "access")
        user = await self.records.users.get(claims.user_id)
        if user is None:
            raise Unauthorized("user no longer exists", code="invalid_token")
        return Principal(user=user, via="jwt")

    async def create_api_key(
        self, user: User, name: str, expires_at: datetime | None
    ) -> tuple[ApiKey, str]:
        secret = api_keys.new_secret()
        key = ApiKey(
            id=str(uuid.uuid4()),
            user_id=user.id,
            name=name,
            prefix=api_keys.display_prefix(secret),
            secret_hash=api_keys.digest(secret),
            created_at=utcnow(),
            expires_at=expires_at,
        )
        await self.records.api_keys.create(key)
        log.info("api key created", user_id=user.id, key_id=key.id, prefix=key.prefix)
        return key, secret

    async def list_api_keys(self, user: User) -> list[ApiKey]:
        return await self.records.api_keys.list_for_user(user.id)

    async def revoke_api_key(self, user: User, key_id: str) -> None:
        if not await self.records.api_keys.delete(user.id, key_id):
            raise NotFound("no such API key", code="api_key_not_found")
