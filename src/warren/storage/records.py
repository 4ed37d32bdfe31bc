"""Record types and the repository interfaces that store them (users, keys, threads, runs,
skills).

Two backends implement every interface: `storage.sqlite_records` (embedded) and
`storage.mongo_records` (production). Both pass `tests/storage/test_records_contract.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol


def utcnow() -> datetime:
    """Now, in UTC, truncated to milliseconds (what MongoDB keeps), so backends agree."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class ThreadStatus(StrEnum):
    IDLE = "idle"
    BUSY = "busy"
    INTERRUPTED = "interrupted"
    ERROR = "error"


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.PENDING, RunStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    user_id: str
    name: str
    prefix: str
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """One issued refresh token. Tokens of one login form a family; reuse revokes it."""

    id: str
    family_id: str
    user_id: str
    expires_at: datetime
    used_at: datetime | None = None
    revoked: bool = False


class ConsumeOutcome(StrEnum):
    OK = "ok"
    REUSED = "reused"  # the token was already rotated: a copy is in someone else's hands
    INVALID = "invalid"  # unknown, expired or revoked


@dataclass(frozen=True, slots=True)
class Thread:
    id: str
    user_id: str
    title: str
    metadata: dict[str, Any]
    status: ThreadStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ThreadPage:
    threads: list[Thread]
    total: int


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    thread_id: str
    user_id: str
    status: RunStatus
    model: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    error_code: str | None = None
    error_detail: str | None = None


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a finished run writes back to its record."""

    status: RunStatus
    finished_at: datetime
    input_tokens: int = 0
    output_tokens: int = 0
    error_code: str | None = None
    error_detail: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadQuery:
    user_id: str
    limit: int = 50
    before: tuple[datetime, str] | None = None  # (updated_at, id) of the last item seen
    q: str | None = None
    status: ThreadStatus | None = None


@dataclass(frozen=True, slots=True)
class ThreadPatch:
    """Fields to change; `None` leaves a field as it is."""

    title: str | None = None
    metadata: dict[str, Any] | None = None


class UsernameTaken(Exception):
    """`UserRepo.create` found the username in use."""


class UserRepo(Protocol):
    async def create(self, user: User) -> None: ...  # raises UsernameTaken
    async def get(self, user_id: str) -> User | None: ...
    async def get_by_username(self, username: str) -> User | None: ...


class ApiKeyRepo(Protocol):
    async def create(self, key: ApiKey) -> None: ...
    async def list_for_user(self, user_id: str) -> list[ApiKey]: ...
    async def get_by_hash(self, secret_hash: str) -> ApiKey | None: ...
    async def touch(self, key_id: str, when: datetime) -> None: ...
    async def delete(self, user_id: str, key_id: str) -> bool: ...


class RefreshTokenRepo(Protocol):
    async def create(self, token: RefreshToken) -> None: ...
    async def consume(
        self, token_id: str, now: datetime
    ) -> tuple[ConsumeOutcome, RefreshToken | None]:
        """Atomically mark an unused, live token used. Exactly one caller wins."""
        ...

    async def revoke_family(self, family_id: str) -> None: ...


class ThreadRepo(Protocol):
    async def create(self, thread: Thread) -> None: ...
    async def get(self, user_id: str, thread_id: str) -> Thread | None: ...
    async def list(self, query: ThreadQuery) -> ThreadPage: ...
    async def update(
        self, user_id: str, thread_id: str, patch: ThreadPatch, now: datetime
    ) -> Thread | None: ...
    async def set_status(self, thread_id: str, status: ThreadStatus, now: datetime) -> None: ...
    async def delete(self, user_id: str, thread_id: str) -> bool: ...


class RunRepo(Protocol):
    async def create(self, run: Run) -> None: ...
    async def get(self, thread_id: str, run_id: str) -> Run | None: ...
    async def list_for_thread(self, thread_id: str, limit: int) -> list[Run]: ...
    async def list_unfinished(self) -> list[Run]: ...
    async def mark_running(self, run_id: str, when: datetime) -> None: ...
    async def finish(self, run_id: str, outcome: RunOutcome) -> bool:
        """Record the outcome only if the run is still unfinished; return whether it was.
        Exactly one caller wins, so two replicas closing one run never both report it."""
        ...

    async def delete_for_thread(self, thread_id: str) -> list[str]:
        """Delete a thread's runs; return their ids (to drop their event logs)."""
        ...


@dataclass(frozen=True, slots=True)
class Skill:
    """A skill a user installed: its archive is stored once per content (`sha256`)."""

    user_id: str
    name: str
    description: str
    sha256: str  # of the archive, lowercase hex; the key of its stored bytes
    source_url: str
    size: int  # bytes of the archive
    installed_at: datetime


class SkillRepo(Protocol):
    """A user's skills by name, and their archives by content.

    An archive is kept while any skill refers to it: writing a skill stores the record first
    and the archive second, and an archive is removed only by a single check-and-delete
    when no record refers to it, so a concurrent install never loses its archive.
    """

    async def put(self, skill: Skill, archive: bytes) -> None:
        """Create or replace the user's skill of that name, storing `archive` under
        `skill.sha256`; the archive the replaced skill used goes if nothing else uses it."""
        ...

    async def get(self, user_id: str, name: str) -> Skill | None: ...
    async def list_for_user(self, user_id: str) -> list[Skill]:
        """The user's skills, by name."""
        ...

    async def archive(self, sha256: str) -> bytes | None: ...
    async def delete(self, user_id: str, name: str) -> bool: ...
    async def delete_for_user(self, user_id: str) -> int:
        """Remove every skill of a user (and the archives left unused); return how many."""
        ...


@dataclass(frozen=True, slots=True)
class Records:
    """The record repositories of one backend, plus its health check."""

    users: UserRepo
    api_keys: ApiKeyRepo
    refresh_tokens: RefreshTokenRepo
    threads: ThreadRepo
    runs: RunRepo
    skills: SkillRepo
