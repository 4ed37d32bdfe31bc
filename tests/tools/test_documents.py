"""Documents read as text: each format's markers, damaged and encrypted files as errors, the
size cap, and `read_file` itself returning the text (paginated) in a real agent run with
either sandbox provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from deepagents.middleware.filesystem import READ_FILE_TRUNCATION_MSG
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage

from tests.fakes.llm_server import Reply, ScriptedLLM, ToolCall
from tests.helpers import Api, make_settings, running_warren
from tests.tools.make_docs import (
    PROVIDERS,
    docx_bytes,
    encrypted_pdf,
    pdf_bytes,
    pptx_bytes,
    warren_settings,
    xlsx_bytes,
)
from warren.agent.documents import DocumentReads
from warren.sandbox.local import LocalProvider
from warren.sandbox.manager import SandboxManager
from warren.sandbox.thread_sandbox import ThreadSandbox
from warren.storage.local_live import local_live_state
from warren.storage.sqlite import EVENTS_SCHEMA, Database
from warren.tools.documents import DocumentError, extract_text

MAIN = "You are Warren, a capable assistant"
RESEARCHER = "You are Warren's researcher"
PDF_TEXT = "--- page 1 ---\nIntroduction\nSales rose.\n--- page 2 ---\nConclusion"
DOCX_TEXT = (
    "# Quarterly review\nRevenue grew in every region.\n## Details\n"
    "| Region | Growth |\n| North | 12% |\nClosing remarks."
)
XLSX_TEXT = (
    "--- sheet Sales ---\nMonth | Units | Day\nJanuary | 120 | 2025-01-31\nFebruary | 95.5\n"
    "--- sheet Costs ---\nRent | 1000"
)
PPTX_TEXT = (
    "--- slide 1 ---\nLaunch plan\nShip in March\nNotes: Mention the beta users\n"
    "--- slide 2 ---\nBudget\n| Item | Cost |\n| Ads | 500 |"
)


def report_pdf() -> bytes:
    return pdf_bytes([["Introduction", "Sales rose."], ["Conclusion"]])


def test_each_format_becomes_text_with_its_markers() -> None:
    assert extract_text("r.pdf", report_pdf()) == PDF_TEXT
    assert extract_text("r.docx", docx_bytes()) == DOCX_TEXT
    assert extract_text("r.xlsx", xlsx_bytes()) == XLSX_TEXT
    assert extract_text("r.pptx", pptx_bytes()) == PPTX_TEXT
    assert (
        extract_text("notes.md", "# Notes\n\n*as is* 中文\n".encode())
        == "# Notes\n\n*as is* 中文\n"
    )


def test_damaged_encrypted_and_empty_documents_say_what_is_wrong() -> None:
    with pytest.raises(DocumentError, match=r"x\.docx could not be read as a DOCX file"):
        extract_text("x.docx", b"not a zip at all")
    with pytest.raises(DocumentError, match=r"x\.pdf could not be read as a PDF file"):
        extract_text("x.pdf", b"%PDF-1.7 truncated")
    with pytest.raises(DocumentError, match="encrypted with a password"):
        extract_text("x.pdf", encrypted_pdf())
    blank = extract_text("blank.pdf", pdf_bytes([[]]))
    assert blank.startswith("[no text could be extracted from this PDF")
    assert blank.endswith("--- page 1 ---")


async def test_read_file_returns_document_text_in_an_agent_run(
    provider: str, llm: ScriptedLLM, tmp_path: Path
) -> None:
    calls = {
        "pdf": ToolCall("read_file", {"file_path": "/workspace/in/report.pdf"}),
        "docx": ToolCall("read_file", {"file_path": "/workspace/in/review.docx"}),
        "xlsx": ToolCall("read_file", {"file_path": "/workspace/in/sales.xlsx"}),
        "pptx_page": ToolCall(
            "read_file", {"file_path": "/workspace/in/deck.pptx", "offset": 4, "limit": 3}
        ),
        "broken": ToolCall("read_file", {"file_path": "/workspace/in/broken.pdf"}),
        "missing": ToolCall("read_file", {"file_path": "/workspace/in/none.docx"}),
        "task": ToolCall(
            "task",
            {"description": "Summarise /workspace/in/report.pdf", "subagent_type": "researcher"},
        ),
    }
    # the subagent's read_file answers the same way: the PDF's text, paginated
    sub_read = ToolCall(
        "read_file", {"file_path": "/workspace/in/report.pdf", "offset": 1, "limit": 2}
    )
    llm.script(
        [
            (RESEARCHER, [Reply(tool_calls=[sub_read]), Reply(text="Sales rose.")]),
            (MAIN, [*(Reply(tool_calls=[c]) for c in calls.values()), Reply(text="Read.")]),
        ]
    )
    files = {
        "report.pdf": report_pdf(),
        "review.docx": docx_bytes(),
        "sales.xlsx": xlsx_bytes(),
        "deck.pptx": pptx_bytes(),
        "broken.pdf": b"%PDF-1.4 this is not really a PDF",
    }
    async with (
        warren_settings(
            provider, tmp_path, model_api_key="sk-test", model_base_url=llm.base_url
        ) as settings,
        running_warren(settings) as url,
    ):
        api = Api(url)
        await api.register()
        thread = await api.new_thread()
        uploaded = await api.request(
            "POST",
            f"/api/threads/{thread['id']}/files",
            data={"path": "/workspace/in"},
            files=[("file", (name, data)) for name, data in files.items()],
        )
        assert uploaded.status_code == 201, uploaded.text
        stream = await api.run_stream(thread["id"], "Read my documents.")
        await api.aclose()
    assert stream.frames[-1].data["status"] == "success"
    got = {f.data["tool_call_id"]: f.data for f in stream.frames if f.event == "tool_result"}
    result = {name: got[call.id] for name, call in calls.items()}
    assert result["pdf"]["content"] == "@@ lines 1-5 of 5 @@\n" + PDF_TEXT
    assert result["docx"]["content"] == "@@ lines 1-6 of 6 @@\n" + DOCX_TEXT
    assert result["xlsx"]["content"] == "@@ lines 1-6 of 6 @@\n" + XLSX_TEXT
    pptx_lines = PPTX_TEXT.split("\n")
    assert result["pptx_page"]["content"] == "@@ lines 5-7 of 8 | next offset 7 @@\n" + "\n".join(
        pptx_lines[4:7]
    )
    assert all(result[n]["status"] == "success" for n in ("pdf", "docx", "xlsx", "pptx_page"))
    assert result["broken"]["status"] == "error"
    assert result["broken"]["content"].startswith(
        "Error: /workspace/in/broken.pdf could not be read as a PDF file"
    )
    assert result["missing"]["status"] == "error"
    assert "file_not_found" in result["missing"]["content"]
    assert result["task"]["content"] == "Sales rose."
    inside = got[sub_read.id]
    assert inside["ns"] == [calls["task"].id]
    assert inside["status"] == "success"
    assert inside["content"] == ("@@ lines 2-3 of 5 | next offset 3 @@\nIntroduction\nSales rose.")


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[ThreadSandbox]:
    """A thread's sandbox on the local provider, with a 10 kB document cap."""
    local = LocalProvider(tmp_path / "sandboxes")
    await local.probe()
    db = await Database.open(tmp_path / "live.sqlite3", EVENTS_SCHEMA, "NORMAL")

    async def exists(user_id: str, thread_id: str) -> bool:
        return True

    manager = SandboxManager(
        local, local_live_state(db)[0], make_settings(tmp_path / "data"), thread_exists=exists
    )
    loop = asyncio.get_running_loop()
    yield ThreadSandbox(manager, loop=loop, document_max_bytes=10_000).for_thread("t1", "u1")
    await manager.aclose()  # its background work first, then the provider
    await db.close()


async def test_the_backend_caps_size_and_pages_documents(sandbox: ThreadSandbox) -> None:
    results = await sandbox.aupload_files(
        [("/workspace/big.docx", docx_bytes()), ("/workspace/r.pdf", report_pdf())]
    )
    assert [r.error for r in results] == [None, None]

    big = await sandbox.aread("/workspace/big.docx")
    assert big.error is not None
    assert "too large to read as a document (the limit is 10000 bytes)" in big.error

    page = await sandbox.aread("/workspace/r.pdf", offset=1, limit=2)
    assert page.file_data == {"content": "Introduction\nSales rose.", "encoding": "utf-8"}
    assert (page.start_line, page.end_line, page.total_lines, page.next_offset) == (2, 3, 5, 3)
    beyond = await sandbox.aread("/workspace/r.pdf", offset=9)
    assert beyond.error == "Line offset 9 exceeds file length (5 lines)"
    directory = await sandbox.aread("/workspace.pdf")
    assert directory.error == "File '/workspace.pdf': file_not_found"

    # the sync path (deepagents' sync tools run in a worker thread) gives the same text
    whole: Any = await asyncio.to_thread(sandbox.read, "/workspace/r.pdf")
    assert whole.file_data["content"] == PDF_TEXT
    # other files still take deepagents' own read
    await sandbox.awrite("/workspace/a.txt", "plain\ntext")
    text = await sandbox.aread("/workspace/a.txt")
    assert text.file_data is not None
    assert text.file_data["content"] == "plain\ntext"


def read_request(args: dict[str, Any], name: str = "read_file") -> ToolCallRequest:
    call = {"name": name, "args": args, "id": "call_1", "type": "tool_call"}
    return ToolCallRequest(tool_call=call, tool=None, state={}, runtime=None)  # type: ignore[arg-type]


async def test_document_reads_cut_whole_lines_and_leave_other_calls_alone(
    sandbox: ThreadSandbox,
) -> None:
    lines = [f"Line {n:02d} of the quarterly report" for n in range(1, 31)]
    await sandbox.aupload_files(
        [("/workspace/r.pdf", report_pdf()), ("/workspace/long.pdf", pdf_bytes([lines]))]
    )
    passed: list[dict[str, Any]] = []

    async def built_in(request: ToolCallRequest) -> ToolMessage:
        passed.append(request.tool_call["args"])
        return ToolMessage("built-in", tool_call_id=request.tool_call["id"])

    notice = READ_FILE_TRUNCATION_MSG.format(file_path="/workspace/long.pdf").strip()
    header = "@@ lines 1-5 of 31 | next offset 5 | truncated due to size @@"
    five_lines = "\n".join([notice, header, "--- page 1 ---", *lines[:4]])
    # a budget that fits five whole lines: the header resumes right after the fifth
    tight = DocumentReads(sandbox, token_limit=-(-len(five_lines) // 4))
    read_long = read_request({"file_path": "/workspace/long.pdf"})
    answer = await tight.awrap_tool_call(read_long, built_in)
    assert isinstance(answer, ToolMessage)
    assert (answer.content, answer.name, answer.status) == (five_lines, "read_file", "success")
    assert answer.tool_call_id == "call_1"
    # within the budget, the whole page
    roomy = await DocumentReads(sandbox, token_limit=400).awrap_tool_call(read_long, built_in)
    assert roomy.content == "\n".join(["@@ lines 1-31 of 31 @@", "--- page 1 ---", *lines])

    # not even one line fits: its beginning, and no offset that would skip the rest
    tiny = DocumentReads(sandbox, token_limit=(len(notice) + 60) // 4)
    cut = await tiny.awrap_tool_call(read_long, built_in)
    assert isinstance(cut, ToolMessage)
    header = str(cut.content).split("\n")[1]
    assert header.startswith("@@ lines 1-1 of 31 | truncated mid-line | ")
    assert header.endswith(" of 14 chars @@")
    assert "next offset" not in str(cut.content)
    assert len(str(cut.content)) <= 4 * ((len(notice) + 60) // 4)

    reads = DocumentReads(sandbox)
    clamped = await reads.awrap_tool_call(
        read_request({"file_path": "/workspace/r.pdf", "offset": -3, "limit": 1}), built_in
    )
    assert isinstance(clamped, ToolMessage)
    assert clamped.content == (
        "[Requested offset -3 is before the start of the file; read from line 1 instead.]\n"
        "@@ lines 1-1 of 5 | next offset 1 @@\n--- page 1 ---"
    )
    missing = await reads.awrap_tool_call(
        read_request({"file_path": "/workspace/none.xlsx"}), built_in
    )
    assert isinstance(missing, ToolMessage)
    assert (missing.content, missing.status) == (
        "Error: File '/workspace/none.xlsx': file_not_found",
        "error",
    )
    # the sync hook (deepagents' sync tools run in a worker thread) answers the same
    same = await asyncio.to_thread(
        reads.wrap_tool_call,
        read_request({"file_path": "/workspace/r.pdf"}),
        lambda request: ToolMessage("built-in", tool_call_id="call_1"),
    )
    assert isinstance(same, ToolMessage)
    assert same.content == "@@ lines 1-5 of 5 @@\n" + PDF_TEXT

    # everything else is the built-in tool's: other files, other tools, arguments it refuses
    others = [
        read_request({"file_path": "/workspace/notes.txt"}),
        read_request({"file_path": "/workspace/r.pdf"}, name="write_file"),
        read_request({"file_path": "/workspace/r.pdf", "offset": "soon"}),
        read_request({"file_path": "../r.pdf"}),
    ]
    for request in others:
        assert (await reads.awrap_tool_call(request, built_in)).content == "built-in"
    assert passed == [request.tool_call["args"] for request in others]
