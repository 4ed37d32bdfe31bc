"""Request and response models of the HTTP API (the OpenAPI contract)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from warren.agent.hitl import PendingReview
from warren.agent.state import Message
from warren.runs.events import Todo
from warren.storage.records import ApiKey, Run, RunStatus, Skill, Thread, ThreadStatus, User

MAX_METADATA_BYTES = 16 * 1024
MAX_MESSAGE_CHARS = 200_000


def _small_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, separators=(",", ":"))) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON")
    return value


Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$",
    ),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]
Metadata = Annotated[dict[str, Any], AfterValidator(_small_metadata)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# auth -------------------------------------------------------------------------


class Credentials(_Input):
    username: Username = Field(
        description="3-64 characters: letters, digits, `_ . @ -`; case-insensitive"
    )
    password: Password


class LoginRequest(_Input):
    username: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=64)]
    password: Annotated[str, StringConstraints(max_length=1024)]


class RefreshRequest(_Input):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")


class UserPublic(BaseModel):
    id: str
    username: str
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(id=user.id, username=user.username, created_at=user.created_at)


class RegisterResponse(TokenResponse):
    user: UserPublic


class ApiKeyCreate(_Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiKeyPublic(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="the first characters of the key, to recognise it")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyPublic:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
        )


class ApiKeyCreated(ApiKeyPublic):
    secret: str = Field(description="the key itself; shown only in this response")


class ApiKeyList(BaseModel):
    data: list[ApiKeyPublic]
    count: int


# threads ----------------------------------------------------------------------


class ThreadCreate(_Input):
    title: Title | None = None
    metadata: Metadata = Field(default_factory=dict)


class ThreadUpdate(_Input):
    title: Title | None = None
    metadata: Metadata | None = None


class ThreadPublic(BaseModel):
    id: str
    title: str
    metadata: dict[str, Any]
    status: ThreadStatus
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, thread: Thread) -> ThreadPublic:
        return cls(
            id=thread.id,
            title=thread.title,
            metadata=thread.metadata,
            status=thread.status,
            created_at=thread.created_at,
            updated_at=thread.updated_at,
        )


class ThreadList(BaseModel):
    data: list[ThreadPublic]
    count: int = Field(description="how many threads match the filters, over all pages")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class ThreadState(BaseModel):
    thread_id: str
    messages: list[Message]
    todos: list[Todo]
    interrupts: list[PendingReview] = Field(
        description="pauses waiting for a human decision; answer them with a run whose body "
        "is `resume`, one decision per action request, in this order"
    )
    status: ThreadStatus


# runs -------------------------------------------------------------------------


class InputMessage(_Input):
    role: Literal["user"]
    content: Annotated[str, StringConstraints(min_length=1, max_length=MAX_MESSAGE_CHARS)]


class ApproveDecision(_Input):
    """Run the tool call as the model made it."""

    type: Literal["approve"]


class EditedAction(_Input):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="the tool: must be the one the action request names"
    )
    args: dict[str, Any] = Field(description="the arguments to run it with instead")


class EditDecision(_Input):
    """Run the tool with the reviewer's arguments; the model is told its call was edited
    and what ran instead."""

    type: Literal["edit"]
    edited_action: EditedAction


class RejectDecision(_Input):
    """Do not run the tool; the model gets an error result saying the user rejected the
    call, with `message` as the reason when given."""

    type: Literal["reject"]
    message: Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS)] | None = None


class RespondDecision(_Input):
    """Do not run the tool; answer in its place: the model gets `message` as the call's
    (successful) result, as if the tool had returned it."""

    type: Literal["respond"]
    message: Annotated[str, StringConstraints(min_length=1, max_length=MAX_MESSAGE_CHARS)]


Decision = Annotated[
    ApproveDecision | EditDecision | RejectDecision | RespondDecision,
    Field(discriminator="type"),
]


class ResumeInput(_Input):
    decisions: list[Decision] = Field(
        min_length=1,
        max_length=100,
        description="one per pending action request (see `interrupts` in the thread's "
        "state, or the `interrupt` event), in order, across all pending interrupts",
    )


class RunCreate(_Input):
    """Exactly one of `messages` (a new turn) or `resume` (answer the pending interrupts)."""

    messages: list[InputMessage] | None = Field(
        default=None, min_length=1, max_length=20, description="a new turn: the user's words"
    )
    resume: ResumeInput | None = Field(
        default=None,
        description="continue a run that paused for human review (`done{status: "
        '"interrupted"}`): 409 `no_pending_interrupt` if nothing waits for a decision, '
        "422 if the number of decisions differs from the pending action requests or an "
        "edit names another tool",
    )
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="one of the server's configured models; default MODEL_NAME"
    )
    multitask_strategy: Literal["reject", "enqueue", "interrupt"] = Field(
        default="reject",
        description="what to do when the thread already has a run: `reject` → 409 "
        "`thread_busy`; `enqueue` → accepted at once (`pending`, its stream can be followed) "
        "and started after the current and earlier queued runs, in order (409 `queue_full` "
        "beyond RUN_MAX_QUEUED waiting runs; cancelling a queued run ends it `cancelled` "
        "without running); `interrupt` → cancel the current run (it ends `cancelled`), then "
        "start this one (409 `thread_busy` if it does not stop within 5 s)",
    )
    on_disconnect: Literal["continue", "cancel"] = Field(
        default="continue",
        description="for `POST …/runs/stream`: what the client hanging up before `done` "
        "does to the run. `continue` (default): the run goes on and can be rejoined; "
        "`cancel`: the run is cancelled (it ends `cancelled`). A client dropped by the server "
        "for reading too slowly is not a hang-up",
    )

    @model_validator(mode="after")
    def _messages_or_resume(self) -> RunCreate:
        if (self.messages is None) == (self.resume is None):
            raise ValueError("give exactly one of `messages` or `resume`")
        return self


class RunUsage(BaseModel):
    input_tokens: int
    output_tokens: int


class RunError(BaseModel):
    code: str
    detail: str


class RunPublic(BaseModel):
    run_id: str
    thread_id: str
    status: RunStatus
    model: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    usage: RunUsage
    error: RunError | None

    @classmethod
    def of(cls, run: Run) -> RunPublic:
        return cls(
            run_id=run.id,
            thread_id=run.thread_id,
            status=run.status,
            model=run.model,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            usage=RunUsage(input_tokens=run.input_tokens, output_tokens=run.output_tokens),
            error=RunError(code=run.error_code, detail=run.error_detail or "")
            if run.error_code
            else None,
        )


class RunList(BaseModel):
    data: list[RunPublic]
    count: int


class RunResult(BaseModel):
    run_id: str
    status: RunStatus
    messages: list[Message] = Field(description="the messages this run added, in order")
    usage: RunUsage
    error: RunError | None


class ErrorBody(BaseModel):
    """Every error response: a stable machine code and a sentence for people."""

    error: str = Field(description="machine-readable code, e.g. `thread_not_found`")
    detail: str = Field(description="what went wrong, in a sentence")


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class InvalidRequestBody(ErrorBody):
    errors: list[FieldError] = Field(description="each invalid field (422 only)")


def error(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for an error status."""
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing, invalid or expired credentials"},
    404: {"model": ErrorBody, "description": "no such resource, or not yours"},
    422: {"model": InvalidRequestBody, "description": "the request is not valid"},
    429: {"model": ErrorBody, "description": "too many attempts; see `Retry-After`"},
}


class FileEntryPublic(BaseModel):
    name: str
    path: str
    is_dir: bool
    is_symlink: bool
    size: int = Field(description="bytes (for a directory, what the filesystem reports)")
    modified_at: datetime


class FileList(BaseModel):
    path: str
    data: list[FileEntryPublic]
    count: int
    truncated: bool = Field(description="the directory has more entries than were listed")


class UploadResult(BaseModel):
    paths: list[str] = Field(description="the sandbox paths written, in the order sent")


class AuthConfig(BaseModel):
    registration_open: bool


# skills -----------------------------------------------------------------------


class SkillInstall(_Input):
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)] = (
        Field(description="an http(s) URL of the skill's zip archive, fetched by the server")
    )
    sha256: (
        Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Fa-f]{64}$")]
        | None
    ) = Field(default=None, description="the archive's expected SHA-256 (hex); refused if not")


class SkillPublic(BaseModel):
    name: str
    description: str
    sha256: str = Field(description="of the archive, lowercase hex")
    source_url: str
    size: int = Field(description="bytes of the archive")
    installed_at: datetime

    @classmethod
    def of(cls, skill: Skill) -> SkillPublic:
        return cls(
            name=skill.name,
            description=skill.description,
            sha256=skill.sha256,
            source_url=skill.source_url,
            size=skill.size,
            installed_at=skill.installed_at,
        )


class SkillList(BaseModel):
    data: list[SkillPublic]
    count: int
