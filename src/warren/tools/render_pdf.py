"""Markdown blocks to a PDF with reportlab's platypus. Blocking: run it in a thread.

The base fonts (Helvetica, Courier) only cover Western European text, so every run of
characters they cannot encode is set in a wide font. That is a CJK TrueType font embedded
in the PDF (subset to the characters used), so the text shows in every viewer: the one
`PDF_CJK_FONT` names, else the first found of `CJK_FONTS` (Debian's packages). Without one
it is `STSong-Light`, a CID font that is not embedded: readers with Adobe's Asian font packs
show it, others may show boxes. Links become real PDF links, but only for web and mail
addresses.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle, StyleSheet1, getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Flowable,
    HRFlowable,
    Indenter,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
    XPreformatted,
)

from warren.logs import get_logger
from warren.tools import markdown as md

log = get_logger(__name__)

CID_FONT = "STSong-Light"
CJK_FONTS = (  # TrueType outlines: reportlab cannot embed CFF ones (Noto CJK's .otf/.ttc)
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk, if TrueType
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # fonts-arphic-uming
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
)
CODE_COLUMNS = 92  # Courier 8.5 pt across the A4 text width
LINK_COLOR = "#1a56db"
_ALIGN = {"left": TA_LEFT, "center": TA_CENTER, "right": TA_RIGHT}
_FONT_LOCK = threading.Lock()
_WIDE_FONTS: dict[Path | None, str] = {}  # PDF_CJK_FONT (None: search) -> registered name


def wide_font(configured: Path | None = None) -> str:
    """The registered name of the wide font: chosen, registered and logged once per setting."""
    with _FONT_LOCK:
        if configured not in _WIDE_FONTS:
            _WIDE_FONTS[configured] = _register_wide_font(configured)
        return _WIDE_FONTS[configured]


def _register_wide_font(configured: Path | None) -> str:
    candidates = [configured] if configured is not None else [Path(p) for p in CJK_FONTS]
    for path in candidates:
        if not path.is_file():
            continue
        name = f"WarrenCJK{len(_WIDE_FONTS)}"
        try:  # a .ttc's first face; TTFont embeds a subset of the glyphs used
            pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=0))
        except Exception as exc:  # TTFError: CFF outlines, no Unicode map, a damaged file
            log.warning("cannot embed this font in PDFs", font=str(path), error=str(exc)[:200])
            continue
        _family(name)
        log.info("PDF exports embed a CJK font", font=str(path))
        return name
    if configured is not None:
        log.warning("PDF_CJK_FONT is not a usable TrueType font", font=str(configured))
    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
        _family(CID_FONT)
    log.info("PDF exports use the non-embedded CID font", font=CID_FONT)
    return CID_FONT


def _family(name: str) -> None:
    # no bold or italic cut is used: bold and italic text in it stays upright and regular
    pdfmetrics.registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)


def render_pdf(
    blocks: list[md.Block], title: str | None = None, cjk_font: Path | None = None
) -> bytes:
    """The PDF bytes for `blocks`, with `title` as a heading and in the metadata; `cjk_font`
    is the `PDF_CJK_FONT` setting."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=title or "",
        author="Warren",
        creator="Warren",
    )
    draw = _Renderer(_styles(), wide_font(cjk_font))
    story: list[Flowable] = []
    if title:
        story.append(Paragraph(draw.text(title), draw.styles["Title"]))
    story.extend(draw.flowables(blocks, doc.width))
    if not story:
        story.append(Spacer(1, 1))
    doc.build(story)
    return out.getvalue()


def _styles() -> StyleSheet1:
    styles = getSampleStyleSheet()
    styles.add(
        ParagraphStyle(
            "WarrenCode",
            parent=styles["Normal"],
            fontName="Courier",
            fontSize=8.5,
            leading=11,
            backColor=colors.HexColor("#f4f4f4"),
            borderPadding=5,
            spaceBefore=6,
            spaceAfter=10,
        )
    )
    styles.add(ParagraphStyle("WarrenCell", parent=styles["Normal"], fontSize=9, leading=11))
    styles["Normal"].spaceAfter = 6
    return styles


@dataclass(frozen=True, slots=True)
class _Renderer:
    styles: StyleSheet1
    wide: str  # the registered name of the font for what the base fonts cannot show

    def flowables(self, blocks: list[md.Block], width: float) -> Iterator[Flowable]:
        styles = self.styles
        for block in blocks:
            if isinstance(block, md.Heading):
                yield Paragraph(self.markup(block.spans), styles[f"Heading{min(block.level, 6)}"])
            elif isinstance(block, md.Paragraph):
                yield Paragraph(self.markup(block.spans), styles["Normal"])
            elif isinstance(block, md.CodeBlock):
                yield XPreformatted(self.code(block.code), styles["WarrenCode"])
            elif isinstance(block, md.ListBlock):
                yield self.bullets(block, width)
                yield Spacer(1, 6)
            elif isinstance(block, md.Table):
                yield self.table(block, width)
            elif isinstance(block, md.Quote):
                yield Indenter(left=12)
                yield from self.flowables(_quoted(block.blocks), width - 12)
                yield Indenter(left=-12)
            else:
                yield HRFlowable(width="100%", thickness=0.5, color=colors.grey, spaceAfter=6)

    def bullets(self, block: md.ListBlock, width: float) -> ListFlowable:
        items = []
        for item in block.items:
            content: list[Flowable] = [Paragraph(self.markup(item.spans), self.styles["Normal"])]
            content.extend(self.flowables(item.children, width - 18))
            items.append(ListItem(content))
        if block.ordered:
            return ListFlowable(
                items,
                bulletType="1",
                start=block.start,
                bulletFormat="%s.",
                bulletFontSize=10,
                leftIndent=18,
            )
        return ListFlowable(
            items, bulletType="bullet", start="\u2022", bulletFontSize=10, leftIndent=18
        )

    def table(self, block: md.Table, width: float) -> Table:
        columns = len(block.header)
        cell_styles = [
            ParagraphStyle(
                f"Cell{n}", parent=self.styles["WarrenCell"], alignment=_ALIGN[block.align[n]]
            )
            for n in range(columns)
        ]
        head = [
            Paragraph(f"<b>{self.markup(cell)}</b>", cell_styles[n])
            for n, cell in enumerate(block.header)
        ]
        body = [
            [Paragraph(self.markup(cell), cell_styles[n]) for n, cell in enumerate(row)]
            for row in block.rows
        ]
        table = Table([head, *body], colWidths=[width / columns] * columns, repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        table.spaceAfter = 8
        return table

    # -- inline markup -----------------------------------------------------------------

    def markup(self, spans: list[md.Span]) -> str:
        parts = []
        for span in spans:
            text = self.text(span.text).replace("\n", "<br/>")  # a hard line break
            if span.code:
                text = f'<font name="Courier" backColor="#f0f0f0">{text}</font>'
            if span.bold:
                text = f"<b>{text}</b>"
            if span.italic:
                text = f"<i>{text}</i>"
            if span.strike:
                text = f"<strike>{text}</strike>"
            href = md.safe_href(span.href)
            if href is not None:
                target = escape(href, {'"': "&quot;"})
                text = f'<a href="{target}" color="{LINK_COLOR}"><u>{text}</u></a>'
            parts.append(text)
        return "".join(parts)

    def text(self, text: str) -> str:
        """Escaped text, with the runs the base fonts cannot show set in the wide font."""
        out: list[str] = []
        run: list[str] = []
        wide = False
        for char in text:
            needs_wide = not _latin(char)
            if needs_wide != wide and run:
                out.append(self.run("".join(run), wide))
                run = []
            wide = needs_wide
            run.append(char)
        if run:
            out.append(self.run("".join(run), wide))
        return "".join(out)

    def run(self, text: str, wide: bool) -> str:
        escaped = escape(text)
        return f'<font name="{self.wide}">{escaped}</font>' if wide else escaped

    def code(self, code: str) -> str:
        """Code lines wrapped at the page width (wide characters count double), marked up."""
        lines = []
        for line in code.split("\n"):
            current, used = "", 0
            for char in line:
                cost = 1 if _latin(char) else 2
                if used + cost > CODE_COLUMNS:
                    lines.append(current)
                    current, used = "", 0
                current += char
                used += cost
            lines.append(current)
        return self.text("\n".join(lines))


def _quoted(blocks: list[md.Block]) -> list[md.Block]:
    """Quoted paragraphs in italics; other quoted blocks as they are."""
    return [
        md.Paragraph([replace(s, italic=True) for s in b.spans])
        if isinstance(b, md.Paragraph)
        else b
        for b in blocks
    ]


def _latin(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True
