"""API keys: `wk_…` bearer secrets, shown once and stored only as a SHA-256 digest.

The secret carries 256 random bits, so a fast digest is safe to store and lets a
request find its key with one indexed lookup (argon2 is for low-entropy passwords).
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "wk_"
_DISPLAY_LENGTH = len(PREFIX) + 8


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    """The part of a key that is safe to list: enough to recognise it, not to use it."""
    return secret[:_DISPLAY_LENGTH]


def looks_like_key(token: str) -> bool:
    return token.startswith(PREFIX)
