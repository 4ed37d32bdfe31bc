"""Text out of office documents (PDF, DOCX, XLSX, PPTX) for the model to read.

`read_file` on one of these formats returns this text rather than the raw bytes (see
`ThreadSandbox.aread`). Markers (`--- page N ---`, `--- sheet NAME ---`, `--- slide N ---`)
let the model cite where a passage came from. Parsing is CPU-bound and blocks: callers run
`extract_text` in a worker thread. Damaged or encrypted files raise `DocumentError`, whose
message is written for the model to act on.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time
from typing import Any

from deepagents.backends.protocol import FileData, ReadResult
from docx import Document
from docx.table import Table
from openpyxl import load_workbook  # type: ignore[import-untyped]
from pptx import Presentation
from pypdf import PdfReader

DOCUMENT_KINDS = {".pdf": "PDF", ".docx": "DOCX", ".xlsx": "XLSX", ".pptx": "PPTX"}
TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".text", ""})
NO_TEXT = "[no text could be extracted from this {kind} (it may hold only images or be empty)]"


class DocumentError(Exception):
    """The document cannot be read; the message says why and what to try instead."""


def is_document(path: str) -> bool:
    return _suffix(path) in DOCUMENT_KINDS


def _suffix(path: str) -> str:
    return posixpath.splitext(path)[1].lower()


def too_large(path: str, limit: int) -> str:
    return (
        f"{path} is too large to read as a document (the limit is {limit} bytes). Split it, "
        "or extract the part you need with `execute` (for example a short Python script)."
    )


def extract_text(path: str, data: bytes) -> str:
    """The document's text with its markers; Markdown and plain text pass through as is.

    Blocking: run it with `asyncio.to_thread`."""
    suffix = _suffix(path)
    if suffix not in DOCUMENT_KINDS:
        return data.decode("utf-8", errors="replace")
    kind = DOCUMENT_KINDS[suffix]
    extractor = _EXTRACTORS[suffix]
    try:
        lines = list(extractor(data))
    except DocumentError as exc:
        raise DocumentError(f"{path}: {exc}") from None
    except Exception as exc:  # every parser has its own error zoo for a damaged file
        raise DocumentError(
            f"{path} could not be read as a {kind} file: it is damaged or not really a "
            f"{kind} ({type(exc).__name__}). Check how it was made, or inspect it with `execute`."
        ) from None
    text = "\n".join(lines).strip("\n")
    if not any(line.strip() and not line.startswith("--- ") for line in lines):
        return NO_TEXT.format(kind=kind) + ("\n" + text if text else "")
    return text


def page_of(text: str, offset: int, limit: int) -> ReadResult:
    """One window of extracted text, paginated like deepagents' own text reads."""
    if limit <= 0:
        return ReadResult(file_data=FileData(content="", encoding="utf-8"), no_lines_requested=True)
    lines = text.split("\n")
    offset = max(offset, 0)
    if offset >= len(lines):
        return ReadResult(error=f"Line offset {offset} exceeds file length ({len(lines)} lines)")
    window = lines[offset : offset + limit]
    end = offset + len(window)
    return ReadResult(
        file_data=FileData(content="\n".join(window), encoding="utf-8"),
        total_lines=len(lines),
        start_line=offset + 1,
        end_line=end,
        next_offset=end if end < len(lines) else None,
    )


# -- one extractor per format --------------------------------------------------------


def _pdf(data: bytes) -> Iterator[str]:
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            opened = bool(reader.decrypt(""))  # some PDFs are encrypted with no password
        except Exception:
            opened = False
        if not opened:
            raise DocumentError(
                "this PDF is encrypted with a password, so its text cannot be read; ask the "
                "user for an unprotected copy"
            )
    for number, page in enumerate(reader.pages, start=1):
        yield f"--- page {number} ---"
        yield (page.extract_text() or "").strip("\n")


def _docx(data: bytes) -> Iterator[str]:
    document = Document(io.BytesIO(data))
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            yield from _table_rows([cell.text for cell in row.cells] for row in block.rows)
            continue
        text = block.text
        style = block.style.name if block.style is not None else ""
        if not text.strip():
            continue
        if style == "Title":
            yield f"# {text}"
        elif style.startswith("Heading") and style[8:].isdigit():
            yield f"{'#' * min(int(style[8:]), 6)} {text}"
        elif style.startswith("List"):
            yield f"- {text}"
        else:
            yield text


def _xlsx(data: bytes) -> Iterator[str]:
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            yield f"--- sheet {sheet.title} ---"
            for row in sheet.iter_rows(values_only=True):
                cells = [_cell(value) for value in row]
                while cells and not cells[-1]:
                    cells.pop()
                if cells:
                    yield " | ".join(cells)
    finally:
        workbook.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime) and value.time() == time():
        return value.date().isoformat()  # Excel stores dates as midnight datetimes
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("\n", " ")


def _pptx(data: bytes) -> Iterator[str]:
    presentation = Presentation(io.BytesIO(data))
    for number, slide in enumerate(presentation.slides, start=1):
        yield f"--- slide {number} ---"
        yield from _shapes(slide.shapes)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                yield f"Notes: {notes.text.strip()}"


def _shapes(shapes: Iterable[Any]) -> Iterator[str]:
    for shape in shapes:
        if getattr(shape, "shapes", None) is not None:  # a group: its members, in order
            yield from _shapes(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = shape.table.rows
            yield from _table_rows([cell.text for cell in row.cells] for row in rows)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            text = shape.text_frame.text.strip()
            if text:
                yield text


def _table_rows(rows: Iterable[list[str]]) -> Iterator[str]:
    for cells in rows:
        yield "| " + " | ".join(" ".join(cell.split()) for cell in cells) + " |"


_EXTRACTORS: dict[str, Callable[[bytes], Iterator[str]]] = {
    ".pdf": _pdf,
    ".docx": _docx,
    ".xlsx": _xlsx,
    ".pptx": _pptx,
}
