"""`DocumentReads`: `read_file` on a PDF, DOCX, XLSX or PPTX answers with the document's text.

deepagents' built-in `read_file` chooses how to present a file by its extension as well as by
what the backend returned: a `.pdf` or `.pptx` always reaches the model as a base64 file block,
which most models cannot use, even when the backend returned text. This middleware answers
`read_file` calls on documents itself, through the public tool-call hook: it reads through the
agent's backend (`ThreadSandbox.aread` extracts the text and pages it by lines) and formats the
window as deepagents formats a text read: a `@@ lines A-B of T | next offset N @@` header above
the verbatim lines, cut after the last whole line that fits the tool's size budget. Any other
call, or one whose arguments the built-in tool would reject, goes to the built-in untouched.

Permissions: the built-in tool also checks `FilesystemPermission` rules. Warren's agents are
built with none, so there is nothing to check here; rules added later must be applied here too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from itertools import accumulate
from typing import Any, Literal

from deepagents.backends.protocol import BackendProtocol, ReadResult
from deepagents.backends.utils import check_empty_content, validate_path
from deepagents.middleware.filesystem import (
    NO_LINES_REQUESTED_WARNING,
    NUM_CHARS_PER_TOKEN,
    READ_FILE_TRUNCATION_MSG,
    ReadFileSchema,
)
from deepagents.middleware.subagents import SubAgent
from langchain.agents.middleware.types import AgentMiddleware, ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command
from pydantic import ValidationError

from warren.tools.documents import is_document

TOOL = "read_file"
TOKEN_LIMIT = 20_000  # FilesystemMiddleware's default `tool_token_limit_before_evict`
Result = ToolMessage | Command[Any]


class DocumentReads(AgentMiddleware[Any, Any, Any]):
    """Answers `read_file` on documents with their extracted text, paginated by lines."""

    def __init__(self, backend: BackendProtocol, token_limit: int = TOKEN_LIMIT) -> None:
        super().__init__()
        self.backend = backend
        self.budget = NUM_CHARS_PER_TOKEN * token_limit

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], Result]
    ) -> Result:
        read = _document_read(request)
        if read is None:
            return handler(request)
        path, offset, limit = read
        result = self.backend.read(path, offset=offset, limit=limit)
        return self._answer(request, path, result, offset, limit) or handler(request)

    async def awrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], Awaitable[Result]]
    ) -> Result:
        read = _document_read(request)
        if read is None:
            return await handler(request)
        path, offset, limit = read
        result = await self.backend.aread(path, offset=offset, limit=limit)
        return self._answer(request, path, result, offset, limit) or await handler(request)

    def _answer(
        self, request: ToolCallRequest, path: str, result: ReadResult, offset: int, limit: int
    ) -> ToolMessage | None:
        """The tool's answer, or None when the backend returned raw bytes (a backend that does
        not extract documents): the built-in tool presents those as it always does."""
        call_id = request.tool_call["id"]

        def message(content: str, status: Literal["success", "error"] = "success") -> ToolMessage:
            return ToolMessage(content=content, name=TOOL, tool_call_id=call_id, status=status)

        if result.error:
            return message(f"Error: {result.error}", "error")
        data = result.file_data
        if data is None:
            return message(f"Error: no data returned for '{path}'", "error")
        if data.get("encoding", "utf-8") != "utf-8":
            return None
        content = data["content"]
        start, end, total = result.start_line, result.end_line, result.total_lines
        whole_file = start is None or (start == 1 and end == total)
        if (empty := check_empty_content(content)) and whole_file:
            if not content and result.no_lines_requested:
                empty = NO_LINES_REQUESTED_WARNING.format(limit=limit)
            return message(empty)
        rows = content.split("\n")
        start = start or max(offset, 0) + 1
        notices = []
        if offset < 0:
            notices.append(
                f"[Requested offset {offset} is before the start of the file; "
                "read from line 1 instead.]"
            )
        return message(self._page(path, rows, start, total, result.next_offset, notices))

    def _page(
        self,
        path: str,
        rows: list[str],
        start: int,
        total: int | None,
        next_offset: int | None,
        notices: list[str],
    ) -> str:
        """The header and rows, or, over the budget, as many whole rows as fit with a
        header that resumes right after the last one shown (never past unshown lines)."""
        end = start + len(rows) - 1
        page = _assemble(rows, _fields(start, end, total, next_offset), notices)
        if len(page) < self.budget:
            return page
        notices = [*notices, READ_FILE_TRUNCATION_MSG.format(file_path=path).strip()]
        # sizes[k - 1]: the length of the first k rows joined by newlines
        sizes = [length - 1 for length in accumulate(len(row) + 1 for row in rows)]
        for kept in range(len(rows), 0, -1):
            last = start + kept - 1
            fields = [*_fields(start, last, total, last), "truncated due to size"]
            if len(_assemble([], fields, notices)) + 1 + sizes[kept - 1] <= self.budget:
                return _assemble(rows[:kept], fields, notices)
        # not even the first row fits: show its beginning; no offset reaches the rest
        head = rows[0]

        def cut(shown: int) -> list[str]:
            return [
                *_fields(start, start, total, None),
                "truncated mid-line",
                f"{shown} of {len(head)} chars",
            ]

        reserved = len(_assemble([], cut(len(head)), notices)) + 1
        shown = max(0, min(len(head), self.budget - reserved))
        return _assemble([head[:shown]], cut(shown), notices)


def _document_read(request: ToolCallRequest) -> tuple[str, int, int] | None:
    """(path, offset, limit) of a `read_file` call on a document, else None."""
    call = request.tool_call
    if call["name"] != TOOL:
        return None
    try:
        args = ReadFileSchema.model_validate(call["args"])
        path = validate_path(args.file_path)
    except (ValidationError, ValueError):
        return None  # the built-in tool words the error
    if not is_document(path):
        return None
    return path, args.offset, args.limit


def _fields(start: int, end: int, total: int | None, next_offset: int | None) -> list[str]:
    span = f"lines {start}-{end}" + (f" of {total}" if total is not None else "")
    if next_offset is not None and (total is None or end < total):
        return [span, f"next offset {next_offset}"]
    return [span]


def _assemble(rows: Iterable[str], fields: list[str], notices: list[str]) -> str:
    """Notices, then the status header, then the verbatim rows: every line below the header
    is document text, as in a built-in read."""
    return "\n".join([*notices, f"@@ {' | '.join(fields)} @@", *rows])


def with_document_reads(specs: Iterable[SubAgent], backend: BackendProtocol) -> list[SubAgent]:
    """The subagents, each with its own `DocumentReads` (deepagents hands the main agent's
    middleware to none of them)."""
    return [
        {**spec, "middleware": [*spec.get("middleware", []), DocumentReads(backend)]}
        for spec in specs
    ]
