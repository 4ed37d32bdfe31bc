"""Routes under /api/threads/{id}/files: list, download and upload sandbox files."""

from __future__ import annotations

import mimetypes
import posixpath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import StreamingResponse

from warren.api.deps import CurrentUser, OwnedThread, ServicesDep
from warren.api.schemas import (
    ERROR_RESPONSES,
    FileEntryPublic,
    FileList,
    UploadResult,
    error,
)
from warren.errors import BadRequest

router = APIRouter(prefix="/api/threads", tags=["files"], responses=ERROR_RESPONSES)

SandboxPath = Annotated[
    str, Query(min_length=1, max_length=4096, description="an absolute sandbox path")
]
UPLOAD_READ_CHUNK = 1024 * 1024


@router.get(
    "/{thread_id}/files",
    responses={400: error("the path is not a directory"), 503: error("the sandbox is down")},
)
async def list_files(
    thread: OwnedThread, services: ServicesDep, path: SandboxPath = "/"
) -> FileList:
    """List a directory of the thread's sandbox. A thread without a sandbox has no files
    (listing never creates one)."""
    listing = await services.files.list_dir(thread.id, path)
    return FileList(
        path=listing.path,
        data=[
            FileEntryPublic.model_validate(entry, from_attributes=True) for entry in listing.entries
        ],
        count=len(listing.entries),
        truncated=listing.truncated,
    )


@router.get(
    "/{thread_id}/files/content",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the file"},
        400: error("the path is a directory or a special file"),
        503: error("the sandbox is down"),
    },
)
async def download_file(
    thread: OwnedThread, services: ServicesDep, path: SandboxPath
) -> StreamingResponse:
    """Download one file of the thread's sandbox, streamed, as an attachment."""
    chunks = await services.files.download(thread.id, path)
    name = posixpath.basename(path.rstrip("/")) or "download"
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return StreamingResponse(chunks, media_type=media_type, headers=headers)


@router.post(
    "/{thread_id}/files",
    status_code=status.HTTP_201_CREATED,
    responses={
        400: error("a bad path or file name, or too large"),
        403: error("the directory is read-only"),
        413: error("the request body is too large"),
        503: error("the sandbox is down"),
    },
)
async def upload_files(
    thread: OwnedThread,
    user: CurrentUser,
    services: ServicesDep,
    file: Annotated[list[UploadFile], File(description="one or more files")],
    path: Annotated[str, Form(max_length=4096, description="target directory")] = "/",
) -> UploadResult:
    """Upload files into a directory of the thread's sandbox (created if needed). Every
    name and the total size are checked before anything is written."""
    limit = services.files.max_upload_bytes
    files: list[tuple[str, bytes]] = []
    total = 0
    for part in file:
        data = bytearray()
        while chunk := await part.read(UPLOAD_READ_CHUNK):
            total += len(chunk)
            if total > limit:
                raise BadRequest(f"uploads are limited to {limit} bytes", code="upload_too_large")
            data.extend(chunk)
        files.append((part.filename or "", bytes(data)))
    paths = await services.files.upload(thread.id, user.id, path, files)
    return UploadResult(paths=paths)
