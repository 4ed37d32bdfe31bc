"""`save_to_markdown`, `save_to_pdf`, `save_to_docx`: the model's Markdown as a file to keep.

The file lands in the run's thread's sandbox (relative paths under /workspace), where the
user sees it in the files panel and `generate_download_url` can hand it out. Rendering is
CPU-bound and runs in a worker thread; every expected failure is returned as text.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain.tools import ToolRuntime, tool
from langchain_core.tools import BaseTool

from warren.logs import get_logger
from warren.sandbox.manager import SandboxManager
from warren.tools.markdown import parse
from warren.tools.render_docx import render_docx
from warren.tools.render_pdf import render_pdf
from warren.tools.workspace import ToolFailure, resolve_path, run_thread, write_file

log = get_logger(__name__)

SUFFIXES = {"markdown": (".md", ".markdown"), "PDF": (".pdf",), "Word": (".docx",)}


def export_tools(
    sandboxes: SandboxManager, max_bytes: int, cjk_font: Path | None = None
) -> list[BaseTool]:
    """The three export tools, writing through `sandboxes`; outputs are capped at `max_bytes`.
    `cjk_font` is the `PDF_CJK_FONT` setting (see `render_pdf.py`)."""

    async def save(
        runtime: ToolRuntime[Any, Any], path: str, kind: str, render: Callable[[], bytes]
    ) -> str:
        try:
            thread_id, user_id = run_thread(runtime)
            target = _target(path, kind)
            data = await _render(render, kind)
            if len(data) > max_bytes:
                raise ToolFailure(
                    f"Error: the {kind} file would be {len(data)} bytes, over the limit of "
                    f"{max_bytes}; split the content into several files."
                )
            await write_file(sandboxes, thread_id, user_id, target, data)
        except ToolFailure as exc:
            return str(exc)
        return f"Saved {target} ({len(data)} bytes)."

    @tool(parse_docstring=True)
    async def save_to_markdown(path: str, content: str, runtime: ToolRuntime[Any, Any]) -> str:
        """Save Markdown text as a .md file in the workspace, replacing any file there.

        Returns the file's absolute path and size, or a message saying what went wrong.

        Args:
            path: Where to save it, such as report.md (relative paths are under /workspace).
            content: The Markdown text to save.
        """
        return await save(runtime, path, "markdown", content.encode)

    @tool(parse_docstring=True)
    async def save_to_pdf(
        path: str, content: str, runtime: ToolRuntime[Any, Any], title: str | None = None
    ) -> str:
        """Render Markdown as a PDF document in the workspace, replacing any file there.

        Supports headings, paragraphs with bold, italic and `code`, bulleted and numbered
        lists, fenced code blocks, pipe tables, links and quotes; Chinese and other non-Latin
        text render correctly. Returns the file's absolute path and size, or a message
        saying what went wrong. Offer the file with `generate_download_url` afterwards.

        Args:
            path: Where to save it, such as report.pdf (relative paths are under /workspace).
            content: The document, in Markdown.
            title: A title printed at the top and stored in the PDF's properties.
        """
        return await save(runtime, path, "PDF", lambda: render_pdf(parse(content), title, cjk_font))

    @tool(parse_docstring=True)
    async def save_to_docx(
        path: str, content: str, runtime: ToolRuntime[Any, Any], title: str | None = None
    ) -> str:
        """Render Markdown as a Word (.docx) document in the workspace, replacing any file there.

        Supports headings, paragraphs with bold, italic and `code`, bulleted and numbered
        lists, fenced code blocks, pipe tables, links and quotes. Returns the file's absolute
        path and size, or a message saying what went wrong.

        Args:
            path: Where to save it, such as report.docx (relative paths are under /workspace).
            content: The document, in Markdown.
            title: A title shown at the top and stored in the document's properties.
        """
        return await save(runtime, path, "Word", lambda: render_docx(parse(content), title))

    return [save_to_markdown, save_to_pdf, save_to_docx]


def _target(path: str, kind: str) -> str:
    """The absolute path to write: the kind's extension is added when there is none."""
    target = resolve_path(path)
    suffixes = SUFFIXES[kind]
    extension = posixpath.splitext(target)[1].lower()
    if not extension:
        return target + suffixes[0]
    if extension not in suffixes:
        raise ToolFailure(
            f"Error: a {kind} file must be saved with a {suffixes[0]} name, not {extension}."
        )
    return target


async def _render(render: Callable[[], bytes], kind: str) -> bytes:
    try:
        return await asyncio.to_thread(render)
    except Exception as exc:  # a layout the renderer cannot place, for instance
        log.warning("export failed to render", kind=kind, error=type(exc).__name__)
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ToolFailure(
            f"Error: could not render the {kind} file ({detail}). Simplify the content, for "
            "example shorten very long table cells or code lines, and try again."
        ) from None
