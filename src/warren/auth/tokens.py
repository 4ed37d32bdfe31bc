"""JWT access and refresh tokens (PyJWT, HS256)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt

from warren.errors import Unauthorized

ALGORITHM = "HS256"
ISSUER = "warren"
TokenType = Literal["access", "refresh"]


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: str
    token_id: str
    type: TokenType
    expires_at: datetime
    family_id: str | None = None


class TokenCodec:
    """Signs and verifies Warren's JWTs with the server secret."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def issue(
        self,
        user_id: str,
        type_: TokenType,
        now: datetime,
        lifetime: timedelta,
        *,
        token_id: str | None = None,
        family_id: str | None = None,
    ) -> tuple[str, Claims]:
        claims = Claims(
            user_id=user_id,
            token_id=token_id or uuid.uuid4().hex,
            type=type_,
            expires_at=now + lifetime,
            family_id=family_id,
        )
        payload: dict[str, object] = {
            "iss": ISSUER,
            "sub": user_id,
            "jti": claims.token_id,
            "typ": type_,
            "iat": now,
            "exp": claims.expires_at,
        }
        if family_id is not None:
            payload["fam"] = family_id
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM), claims

    def verify(self, token: str, expected: TokenType) -> Claims:
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("invalid token", code="invalid_token") from None
        if payload.get("typ") != expected:
            raise Unauthorized(f"not an {expected} token", code="invalid_token")
        return Claims(
            user_id=str(payload["sub"]),
            token_id=str(payload["jti"]),
            type=expected,
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            family_id=payload.get("fam"),
        )
