"""`ThreadSandbox`: a deepagents backend that works in the current thread's sandbox.

One compiled agent serves every thread, so the sandbox cannot be chosen when the agent is
built: each call reads the thread and user from the run's config (LangGraph passes it into
tools, subagents included) and asks the `SandboxManager`. The file tools (`ls`,
`read_file`, `write_file`, `edit_file`, `delete`, `glob`, `grep`) are `BaseSandbox`'s,
built on `execute`, `upload_files` and `download_files` below, except that reading a PDF,
DOCX, XLSX or PPTX returns the document's extracted text, paginated by its lines (which
`agent/documents.py` hands to the model as `read_file`'s answer).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shlex
from collections.abc import Coroutine
from typing import Any, TypeVar

from deepagents.backends.protocol import (
    DeleteResult,
    ExecuteResponse,
    FileDownloadResponse,
    FileUploadResponse,
    ReadResult,
)
from deepagents.backends.sandbox import BaseSandbox
from langgraph.config import get_config, get_stream_writer

from warren.logs import get_logger
from warren.sandbox.manager import SandboxManager
from warren.sandbox.protocol import (
    SandboxError,
    SandboxFileError,
    SandboxGone,
    normalize_path,
    read_all,
)
from warren.tools.documents import DocumentError, extract_text, is_document, page_of, too_large

T = TypeVar("T")
log = get_logger(__name__)
UNAVAILABLE = "Error: the sandbox is unavailable right now. Try again in a moment."
DEFAULT_DOCUMENT_MAX_BYTES = 20 * 1024 * 1024


class NoThread(RuntimeError):
    """A sandbox operation outside a run: there is no thread to work in."""


def current_thread() -> tuple[str, str]:
    """(thread_id, user_id) of the run this code executes in."""
    try:
        configurable = get_config().get("configurable", {})
    except RuntimeError:
        raise NoThread("no run in progress") from None
    thread_id, user_id = configurable.get("thread_id"), configurable.get("user_id")
    if not thread_id or not user_id:
        raise NoThread("the run's config names no thread or user")
    return str(thread_id), str(user_id)


def _notify(status: str, detail: str) -> None:
    """Tell the run's stream (a `sandbox` event), when there is one."""
    try:
        writer = get_stream_writer()
    except RuntimeError:
        return
    writer({"type": "sandbox", "status": status, "detail": detail})


class ThreadSandbox(BaseSandbox):
    """The sandbox of the current run's thread, or of one fixed thread (files API)."""

    def __init__(
        self,
        manager: SandboxManager,
        *,
        thread: tuple[str, str] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        document_max_bytes: int = DEFAULT_DOCUMENT_MAX_BYTES,
    ) -> None:
        self.manager = manager
        self._thread = thread
        self._loop = loop
        self.document_max_bytes = document_max_bytes

    def for_thread(self, thread_id: str, user_id: str) -> ThreadSandbox:
        return ThreadSandbox(
            self.manager,
            thread=(thread_id, user_id),
            loop=self._loop,
            document_max_bytes=self.document_max_bytes,
        )

    def _target(self) -> tuple[str, str]:
        return self._thread or current_thread()

    @property
    def id(self) -> str:
        try:
            return f"thread:{self._target()[0]}"
        except NoThread:
            return "thread-sandbox"

    # -- the three primitives, async first -------------------------------------------

    async def aexecute(self, command: str, *, timeout: int | None = None) -> ExecuteResponse:
        thread_id, user_id = self._target()
        try:
            result = await self.manager.execute(
                thread_id, user_id, command, timeout=timeout, notify=_notify
            )
        except SandboxError as exc:
            # the provider's own words may name internal addresses: they go to the log only
            log.warning("sandbox command failed", thread_id=thread_id, error=str(exc))
            return ExecuteResponse(output=UNAVAILABLE, exit_code=1)
        output = result.output
        if result.truncated:
            output += "\n[output truncated]"
        if result.timed_out:
            limit = timeout or self.manager.command_timeout
            output += f"\n[command timed out after {limit:g} s and was killed]"
        return ExecuteResponse(
            output=output, exit_code=result.exit_code, truncated=result.truncated
        )

    async def aupload_files(self, files: list[tuple[str, bytes]]) -> list[FileUploadResponse]:
        thread_id, user_id = self._target()
        responses = []
        for path, data in files:
            try:
                await self.manager.upload(thread_id, user_id, normalize_path(path), data, _notify)
            except SandboxFileError as exc:
                responses.append(FileUploadResponse(path=path, error=exc.code))
            except SandboxError as exc:
                log.warning("sandbox upload failed", thread_id=thread_id, error=str(exc))
                responses.append(FileUploadResponse(path=path, error="permission_denied"))
            else:
                responses.append(FileUploadResponse(path=path, error=None))
        return responses

    async def adownload_files(self, paths: list[str]) -> list[FileDownloadResponse]:
        thread_id, _ = self._target()
        responses = []
        for path in paths:
            try:
                chunks = self.manager.download(thread_id, normalize_path(path))
                content = await read_all(chunks)
            except SandboxFileError as exc:
                responses.append(FileDownloadResponse(path=path, error=exc.code))
            except SandboxGone:
                responses.append(FileDownloadResponse(path=path, error="file_not_found"))
            except SandboxError as exc:
                log.warning("sandbox download failed", thread_id=thread_id, error=str(exc))
                responses.append(FileDownloadResponse(path=path, error="permission_denied"))
            else:
                responses.append(FileDownloadResponse(path=path, content=content, error=None))
        return responses

    async def adelete(self, file_path: str) -> DeleteResult:
        """`BaseSandbox.delete` on the async path (its default runs the sync one in a thread,
        where a cancelled run could not reach it)."""
        quoted = shlex.quote(file_path)
        exists = await self.aexecute(f"test -e {quoted} || test -L {quoted}")
        if exists.exit_code is not None and exists.exit_code != 0:
            return DeleteResult(error=f"Error: '{file_path}' not found")
        result = await self.aexecute(f"rm -rf {quoted}")
        if result.exit_code == 0:
            return DeleteResult(path=file_path)
        detail = result.output.strip() or "unknown error"
        return DeleteResult(error=f"Error deleting file '{file_path}': {detail}")

    # -- documents: read_file returns their text ------------------------------------------

    async def aread(self, file_path: str, offset: int = 0, limit: int = 2000) -> ReadResult:
        if not is_document(file_path):
            return await super().aread(file_path, offset, limit)
        thread_id, _ = self._target()
        chunks = None
        try:
            chunks = self.manager.download(thread_id, normalize_path(file_path))
            data = await read_all(chunks, limit=self.document_max_bytes)
        except ValueError:
            return ReadResult(error=too_large(file_path, self.document_max_bytes))
        except SandboxFileError as exc:
            return ReadResult(error=f"File '{file_path}': {exc.code}")
        except SandboxGone:
            return ReadResult(error=f"File '{file_path}': file_not_found")
        except SandboxError as exc:
            log.warning("sandbox download failed", thread_id=thread_id, error=str(exc))
            return ReadResult(error=UNAVAILABLE.removeprefix("Error: "))
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        try:
            text = await asyncio.to_thread(extract_text, file_path, data)
        except DocumentError as exc:
            return ReadResult(error=str(exc))
        return page_of(text, offset, limit)

    def read(self, file_path: str, offset: int = 0, limit: int = 2000) -> ReadResult:
        if not is_document(file_path):
            return super().read(file_path, offset, limit)
        return self._sync(self._bound().aread(file_path, offset, limit))

    # -- sync versions: run the async ones on the server's loop --------------------------

    def _sync(self, work: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None or loop is None:
            work.close()
            raise RuntimeError("ThreadSandbox's sync methods must be called from a worker thread")
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(work, loop)
        return future.result()

    def _bound(self) -> ThreadSandbox:
        """Resolve the thread here: the config does not travel to the loop's thread."""
        return ThreadSandbox(
            self.manager,
            thread=self._target(),
            loop=self._loop,
            document_max_bytes=self.document_max_bytes,
        )

    def execute(self, command: str, *, timeout: int | None = None) -> ExecuteResponse:
        return self._sync(self._bound().aexecute(command, timeout=timeout))

    def upload_files(self, files: list[tuple[str, bytes]]) -> list[FileUploadResponse]:
        return self._sync(self._bound().aupload_files(files))

    def download_files(self, paths: list[str]) -> list[FileDownloadResponse]:
        return self._sync(self._bound().adownload_files(paths))
