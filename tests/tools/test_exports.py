"""`save_to_markdown`, `save_to_pdf` and `save_to_docx` writing into a real sandbox (both
providers), read back with pypdf and python-docx; refusals leave nothing behind."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from langchain.tools import ToolRuntime
from langchain_core.tools import BaseTool
from pypdf import PdfReader

from tests.fakes.opensandbox_server import provider_for, running_opensandbox
from tests.helpers import make_settings
from tests.tools.make_docs import PROVIDERS
from warren.agent.context import RunContext
from warren.sandbox.local import LocalProvider
from warren.sandbox.manager import SandboxManager
from warren.sandbox.protocol import SandboxFileError, read_all
from warren.storage.local_live import local_live_state
from warren.storage.sqlite import EVENTS_SCHEMA, Database
from warren.tools.exports import export_tools

REPORT = """# Quarterly report

Sales grew **strongly**, with *some* help from `cache.warm()`; see [the dashboard](https://example.com/dash).

## 中文部分

你好\N{FULLWIDTH COMMA}世界。季度销售额增长了百分之十二。

Raw <b>tags</b> stay text,\\
after a hard break.

- First point
- Second point
  1. Nested step

1. Alpha
2. Beta

```python
print("hello")
```

| Region | 增长 |
|--------|-----:|
| North  | 12%  |
"""

RUNTIME: ToolRuntime[Any, Any] = ToolRuntime(
    state={},
    context=RunContext(user_id="u1", thread_id="t1", run_id="r1"),
    config={},
    stream_writer=lambda _chunk: None,
    tool_call_id="call_1",
    store=None,
)


@pytest.fixture(params=PROVIDERS)
async def manager(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SandboxManager]:
    db = await Database.open(tmp_path / "live.sqlite3", EVENTS_SCHEMA, "NORMAL")

    async def exists(user_id: str, thread_id: str) -> bool:
        return True

    def build(provider: Any) -> SandboxManager:
        live = local_live_state(db)[0]
        return SandboxManager(
            provider, live, make_settings(tmp_path / "data"), thread_exists=exists
        )

    # the manager is closed before the provider's server stops: it ends its background work
    # (a new sandbox's preparation) instead of leaving it to poll a server that is gone
    if request.param == "local":
        local = LocalProvider(tmp_path / "sandboxes")
        await local.probe()
        manager = build(local)
        yield manager
        await manager.aclose()
    else:
        backing = LocalProvider(tmp_path / "backing")
        await backing.probe()
        async with running_opensandbox(backing) as server:
            manager = build(provider_for(server))
            yield manager
            await manager.aclose()
    await db.close()


def tools(
    manager: SandboxManager, max_bytes: int = 5_000_000, cjk_font: Path | None = None
) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in export_tools(manager, max_bytes, cjk_font)}


async def call(tool: BaseTool, **args: Any) -> str:
    assert tool.coroutine is not None
    result: str = await tool.coroutine(runtime=RUNTIME, **args)
    return result


async def saved(manager: SandboxManager, path: str) -> bytes:
    return await read_all(manager.download("t1", path))


async def test_pdf_export_renders_every_element(manager: SandboxManager) -> None:
    result = await call(tools(manager)["save_to_pdf"], path="report", content=REPORT, title="Q3")
    data = await saved(manager, "/workspace/report.pdf")
    assert result == f"Saved /workspace/report.pdf ({len(data)} bytes)."

    pdf = PdfReader(io.BytesIO(data))
    assert pdf.metadata is not None
    assert pdf.metadata.title == "Q3"
    text = "\n".join(page.extract_text() for page in pdf.pages)
    for expected in (
        "Q3",
        "Quarterly report",
        "Sales grew strongly, with some help from cache.warm(); see the dashboard.",
        "中文部分",
        "你好\N{FULLWIDTH COMMA}世界。季度销售额增长了百分之十二。",
        "Raw <b>tags</b> stay text,\nafter a hard break.",
        "First point",
        "Nested step",
        "Alpha",
        'print("hello")',
        "North",
        "增长",
        "12%",
    ):
        assert expected in text, expected
    assert "**" not in text
    assert "```" not in text
    assert "|" not in text
    links = [
        annot.get_object()["/A"]["/URI"] for page in pdf.pages for annot in page.get("/Annots", [])
    ]
    assert links == ["https://example.com/dash"]
    fonts = page_fonts(pdf)
    assert {"/Courier", "/Helvetica-Bold"} <= fonts.keys()
    assert "/STSong-Light" not in fonts
    # the Chinese is set in a TrueType font embedded in the file (fonts-wqy-microhei here)
    cjk = {font for chunk, font in text_fonts(pdf) if "增长" in chunk or "中文" in chunk}
    assert cjk
    assert all("/FontFile2" in fonts[font]["/FontDescriptor"] for font in cjk), cjk


def page_fonts(pdf: PdfReader) -> dict[str, Any]:
    """Every font the pages use, by base name."""
    return {
        str(font.get_object()["/BaseFont"]): font.get_object()
        for page in pdf.pages
        for font in page["/Resources"]["/Font"].values()
    }


def text_fonts(pdf: PdfReader) -> list[tuple[str, str]]:
    """(text, base font name) of each run of text pypdf extracts."""
    runs: list[tuple[str, str]] = []
    for page in pdf.pages:
        page.extract_text(
            visitor_text=lambda text, _cm, _tm, font, _size: runs.append(
                (text, str(font["/BaseFont"]) if font else "")
            )
        )
    return runs


async def test_pdf_export_falls_back_to_a_cid_font(manager: SandboxManager, tmp_path: Path) -> None:
    """`PDF_CJK_FONT` naming a missing file: the non-embedded CID font, text still exact."""
    save = tools(manager, cjk_font=tmp_path / "missing.ttf")["save_to_pdf"]
    await call(save, path="fallback.pdf", content=REPORT)
    pdf = PdfReader(io.BytesIO(await saved(manager, "/workspace/fallback.pdf")))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "你好\N{FULLWIDTH COMMA}世界。季度销售额增长了百分之十二。" in text
    assert "中文部分" in text
    fonts = page_fonts(pdf)
    assert "/STSong-Light" in fonts
    assert not any("/FontDescriptor" in font for font in fonts.values())


async def test_docx_export_reads_back_with_python_docx(manager: SandboxManager) -> None:
    result = await call(tools(manager)["save_to_docx"], path="out/report.docx", content=REPORT)
    data = await saved(manager, "/workspace/out/report.docx")
    assert result == f"Saved /workspace/out/report.docx ({len(data)} bytes)."

    document = Document(io.BytesIO(data))
    paragraphs = [(p.style.name if p.style else "", p.text) for p in document.paragraphs]
    assert ("Heading 1", "Quarterly report") in paragraphs
    assert ("Heading 2", "中文部分") in paragraphs
    assert ("Normal", "你好\N{FULLWIDTH COMMA}世界。季度销售额增长了百分之十二。") in paragraphs
    assert ("Normal", "Raw <b>tags</b> stay text,\nafter a hard break.") in paragraphs
    assert ("List Bullet", "First point") in paragraphs
    assert ("List 2", "1. Nested step") in paragraphs
    assert ("List", "2. Beta") in paragraphs
    assert ("Normal", 'print("hello")') in paragraphs
    intro = next(p for p in document.paragraphs if p.text.startswith("Sales grew"))
    assert intro.text == (
        "Sales grew strongly, with some help from cache.warm(); see the dashboard."
    )
    assert [run.text for run in intro.runs if run.bold] == ["strongly"]
    assert [run.text for run in intro.runs if run.italic] == ["some"]
    assert [run.text for run in intro.runs if run.font.name == "Courier New"] == ["cache.warm()"]
    assert [link.address for link in intro.hyperlinks] == ["https://example.com/dash"]
    [table] = document.tables
    assert [[cell.text for cell in row.cells] for row in table.rows] == [
        ["Region", "增长"],
        ["North", "12%"],
    ]


async def test_markdown_export_is_the_text_itself(manager: SandboxManager) -> None:
    result = await call(tools(manager)["save_to_markdown"], path="/workspace/r.md", content=REPORT)
    data = await saved(manager, "/workspace/r.md")
    assert data == REPORT.encode()
    assert result == f"Saved /workspace/r.md ({len(data)} bytes)."


async def test_refusals_are_messages_and_write_nothing(manager: SandboxManager) -> None:
    save = tools(manager)
    await manager.upload("t1", "u1", "/workspace/docs.pdf/keep.txt", b"keep")
    assert await call(save["save_to_pdf"], path="docs.pdf", content="# x") == (
        "Error: /workspace/docs.pdf is a directory; choose a file name inside it."
    )
    assert await saved(manager, "/workspace/docs.pdf/keep.txt") == b"keep"
    assert await call(save["save_to_docx"], path="report.pdf", content="x") == (
        "Error: a Word file must be saved with a .docx name, not .pdf."
    )
    assert await call(save["save_to_markdown"], path="  ", content="x") == (
        "Error: give a file path, such as report.pdf or /workspace/report.pdf."
    )
    assert await call(save["save_to_markdown"], path="/", content="x") == (
        "Error: '/' names a directory, not a file."
    )
    too_big = await call(tools(manager, max_bytes=100)["save_to_pdf"], path="big", content="x")
    assert too_big.startswith("Error: the PDF file would be ")
    assert "over the limit of 100" in too_big
    with pytest.raises(SandboxFileError):
        await saved(manager, "/workspace/big.pdf")
    assert (await call(save["save_to_pdf"], path="/usr/x.pdf", content="x")).startswith(
        "Error: cannot write /usr/x.pdf"
    )
