"""Markdown blocks to a Word document with python-docx. Blocking: run it in a thread.

Bulleted lists use Word's own list styles; numbered lists carry their numbers as text, since
python-docx cannot restart Word's numbering for each list and a report would otherwise count
on from its previous list. Links become real hyperlinks, but only for web and mail addresses.
"""

from __future__ import annotations

import io
from dataclasses import replace

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from docx.table import _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from warren.tools import markdown as md

CODE_FONT = "Courier New"
LINK_COLOR = "1A56DB"
_ALIGN = {
    "left": WD_ALIGN_PARAGRAPH.LEFT,
    "center": WD_ALIGN_PARAGRAPH.CENTER,
    "right": WD_ALIGN_PARAGRAPH.RIGHT,
}
Container = DocumentObject | _Cell


def render_docx(blocks: list[md.Block], title: str | None = None) -> bytes:
    """The .docx bytes for `blocks`, with `title` as the title and in the properties."""
    document = Document()
    document.core_properties.author = "Warren"
    if title:
        document.core_properties.title = title
        document.add_heading(title, level=0)
    _add_blocks(document, document, blocks, depth=0)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _add_blocks(
    document: DocumentObject, where: Container, blocks: list[md.Block], depth: int
) -> None:
    for block in blocks:
        if isinstance(block, md.Heading):
            _add_spans(document.add_heading("", level=min(block.level, 9)), block.spans)
        elif isinstance(block, md.Paragraph):
            _add_spans(where.add_paragraph(), block.spans)
        elif isinstance(block, md.CodeBlock):
            _add_code(where.add_paragraph(), block.code)
        elif isinstance(block, md.ListBlock):
            _add_list(document, where, block, depth)
        elif isinstance(block, md.Table):
            _add_table(document, block)
        elif isinstance(block, md.Quote):
            for inner in block.blocks:
                if isinstance(inner, md.Paragraph):
                    _add_spans(where.add_paragraph(style="Quote"), inner.spans)
                else:
                    _add_blocks(document, where, [inner], depth)
        else:
            _add_rule(where.add_paragraph())


def _add_list(document: DocumentObject, where: Container, block: md.ListBlock, depth: int) -> None:
    level = "" if depth == 0 else f" {min(depth + 1, 3)}"
    for number, item in enumerate(block.items, start=block.start):
        if block.ordered:
            paragraph = where.add_paragraph(style=f"List{level}")
            paragraph.add_run(f"{number}. ")
        else:
            paragraph = where.add_paragraph(style=f"List Bullet{level}")
        _add_spans(paragraph, item.spans)
        _add_blocks(document, where, item.children, depth + 1)


def _add_table(document: DocumentObject, block: md.Table) -> None:
    table = document.add_table(rows=1 + len(block.rows), cols=len(block.header))
    table.style = "Table Grid"
    header = [[replace(span, bold=True) for span in cell] for cell in block.header]
    for r, row in enumerate([header, *block.rows]):
        for c, spans in enumerate(row):
            paragraph = table.cell(r, c).paragraphs[0]
            paragraph.alignment = _ALIGN[block.align[c]]
            _add_spans(paragraph, spans)
    document.add_paragraph()  # Word runs a following paragraph into the table otherwise


def _add_spans(paragraph: Paragraph, spans: list[md.Span]) -> None:
    for span in spans:
        href = md.safe_href(span.href)
        if href is None:
            _style(paragraph.add_run(span.text), span)
        else:
            _add_link(paragraph, href, span)


def _style(run: Run, span: md.Span) -> Run:
    run.bold = span.bold or None
    run.italic = span.italic or None
    if span.strike:
        run.font.strike = True
    if span.code:
        run.font.name = CODE_FONT
    return run


def _add_link(paragraph: Paragraph, href: str, span: md.Span) -> None:
    """A real hyperlink: python-docx has no API for one, so it is built from its XML."""
    rel_id = paragraph.part.relate_to(href, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel_id)
    run = Run(OxmlElement("w:r"), paragraph)
    _style(run, span)
    run.text = span.text
    run.font.color.rgb = RGBColor.from_string(LINK_COLOR)
    run.font.underline = True
    link.append(run._r)
    paragraph._p.append(link)


def _add_code(paragraph: Paragraph, code: str) -> None:
    run = paragraph.add_run(code)  # line breaks become <w:br/>
    run.font.name = CODE_FONT
    run.font.size = Pt(9)
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:fill"), "F4F4F4")
    paragraph._p.get_or_add_pPr().append(shading)


def _add_rule(paragraph: Paragraph) -> None:
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "6"), ("space", "1"), ("color", "999999")):
        bottom.set(qn(f"w:{key}"), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)
