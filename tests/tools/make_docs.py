"""Documents made by the tests themselves (reportlab, python-docx, openpyxl, python-pptx),
and a Warren whose sandboxes come from either provider."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

from docx import Document
from openpyxl import Workbook
from pptx import Presentation
from pptx.util import Inches
from pypdf import PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from tests.fakes.opensandbox_server import running_opensandbox
from tests.helpers import make_settings
from warren.config import Settings
from warren.sandbox.local import LocalProvider

PROVIDERS = ["local", "opensandbox"]


def pdf_bytes(pages: list[list[str]]) -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for lines in pages:
        y = 780
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf_bytes([["top secret"]])))
    writer.encrypt("a password", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes() -> bytes:
    document = Document()
    document.add_heading("Quarterly review", level=1)
    document.add_paragraph("Revenue grew in every region.")
    document.add_heading("Details", level=2)
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([["Region", "Growth"], ["North", "12%"]]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    document.add_paragraph("Closing remarks.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes() -> bytes:
    workbook = Workbook()
    sales = workbook.active
    assert sales is not None
    sales.title = "Sales"
    sales.append(["Month", "Units", "Day"])
    sales.append(["January", 120, date(2025, 1, 31)])
    sales.append(["February", 95.5, None])
    costs = workbook.create_sheet("Costs")
    costs.append(["Rent", 1000])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def pptx_bytes() -> bytes:
    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Launch plan"
    first.placeholders[1].text = "Ship in March"
    first.notes_slide.notes_text_frame.text = "Mention the beta users"
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Budget"
    shape = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1))
    for r, row in enumerate([["Item", "Cost"], ["Ads", "500"]]):
        for c, text in enumerate(row):
            shape.table.cell(r, c).text = text
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


@asynccontextmanager
async def warren_settings(
    provider: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[Settings]:
    """Embedded settings whose sandboxes come from `provider` (the OpenSandbox stand-in,
    itself backed by local sandboxes, for "opensandbox")."""
    if provider == "local":
        yield make_settings(tmp_path / "data", **overrides)
        return
    backing = LocalProvider(tmp_path / "backing")
    await backing.probe()
    async with running_opensandbox(backing) as server:
        yield make_settings(
            tmp_path / "data",
            sandbox_provider="opensandbox",
            opensandbox_server_url=server.url,
            opensandbox_api_key=server.api_key,
            **overrides,
        )
