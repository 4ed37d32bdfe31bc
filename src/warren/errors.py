"""The exception tree: every error Warren raises on purpose, with its HTTP status and code.

Routes and services raise these; one handler in `app.py` renders them as
`{"error": code, "detail": message}`. Inside an SSE stream they become an `error`
event followed by `done`.
"""

from __future__ import annotations


class WarrenError(Exception):
    """Root of Warren's errors. Subclasses fix `status` and `code`."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class ConfigError(WarrenError):
    """Settings that cannot work; raised at startup, never on a request."""

    code = "config_error"


class BadRequest(WarrenError):
    status = 400
    code = "bad_request"


class Unauthorized(WarrenError):
    status = 401
    code = "unauthorized"


class Forbidden(WarrenError):
    status = 403
    code = "forbidden"


class NotFound(WarrenError):
    status = 404
    code = "not_found"


class Conflict(WarrenError):
    status = 409
    code = "conflict"


class Gone(WarrenError):
    status = 410
    code = "gone"


class TooLarge(WarrenError):
    """Content over a configured size limit (a fetched or unpacked archive, ...). Bodies over
    the request cap never get this far: `BodyLimitMiddleware` refuses them (`body_too_large`)."""

    status = 413
    code = "too_large"


class Unprocessable(WarrenError):
    status = 422
    code = "invalid_request"


class TooManyRequests(WarrenError):
    status = 429
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ServiceUnavailable(WarrenError):
    status = 503
    code = "unavailable"
