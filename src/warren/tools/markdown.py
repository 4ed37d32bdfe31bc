"""The exports' Markdown: markdown-it-py's syntax tree mapped to the blocks the renderers draw.

Parsing is CommonMark with GFM tables and strikethrough (markdown-it-py; its `gfm-like`
preset would need the optional linkify package, so bare web addresses are linked here).
Raw HTML is never interpreted: it stays in the text as written. The renderers
(`render_pdf.py`, `render_docx.py`) only see the small types below, so neither depends on the
parser. A hard line break is a "\n" in a span's text. Blocking: call `parse` in a thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

Align = Literal["left", "center", "right"]
SAFE_SCHEMES = ("http://", "https://", "mailto:")
ALIGNS: tuple[Align, ...] = ("left", "center", "right")

# html off: tags are text. maxNesting (20) bounds how deep the renderers must recurse.
_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_URL = re.compile(r"\bhttps?://[^\s<>()]*[^\s<>().,;:!?'\"*_~]")


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    bold: bool = False
    italic: bool = False
    strike: bool = False
    code: bool = False
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    spans: list[Span]


@dataclass(frozen=True, slots=True)
class Paragraph:
    spans: list[Span]


@dataclass(frozen=True, slots=True)
class CodeBlock:
    code: str
    language: str = ""


@dataclass(frozen=True, slots=True)
class ListItem:
    spans: list[Span]
    children: list[Block] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ListBlock:
    ordered: bool
    items: list[ListItem]
    start: int = 1


@dataclass(frozen=True, slots=True)
class Table:
    header: list[list[Span]]
    rows: list[list[list[Span]]]
    align: list[Align]


@dataclass(frozen=True, slots=True)
class Quote:
    blocks: list[Block]


@dataclass(frozen=True, slots=True)
class Rule:
    pass


Block = Heading | Paragraph | CodeBlock | ListBlock | Table | Quote | Rule


def parse(text: str) -> list[Block]:
    """The blocks of a Markdown document."""
    return _blocks(SyntaxTreeNode(_PARSER.parse(text)).children)


def safe_href(href: str | None) -> str | None:
    """The link target if it may become a real link (web or mail), else None."""
    if href and href.strip().lower().startswith(SAFE_SCHEMES):
        return href.strip()
    return None


def plain(spans: list[Span]) -> str:
    return "".join(span.text for span in spans)


# -- blocks ----------------------------------------------------------------------------


def _blocks(nodes: list[SyntaxTreeNode]) -> list[Block]:
    blocks: list[Block] = []
    for node in nodes:
        kind = node.type
        if kind == "heading":
            blocks.append(Heading(int(node.tag[1:]), _inline(node)))
        elif kind == "paragraph":
            blocks.append(Paragraph(_inline(node)))
        elif kind in ("fence", "code_block"):
            language = node.info.split()[0] if node.info.strip() else ""
            blocks.append(CodeBlock(node.content.removesuffix("\n"), language))
        elif kind in ("bullet_list", "ordered_list"):
            start = node.attrs.get("start", 1)
            items = [_item(child) for child in node.children]
            blocks.append(ListBlock(kind == "ordered_list", items, int(start)))
        elif kind == "table":
            blocks.append(_table(node))
        elif kind == "blockquote":
            blocks.append(Quote(_blocks(node.children)))
        elif kind == "hr":
            blocks.append(Rule())
    return blocks


def _item(node: SyntaxTreeNode) -> ListItem:
    """An item's first paragraph is its text; what follows (nested lists, code, more
    paragraphs) are its children."""
    children = node.children
    if children and children[0].type == "paragraph":
        return ListItem(_inline(children[0]), _blocks(children[1:]))
    return ListItem([], _blocks(children))


def _table(node: SyntaxTreeNode) -> Table:
    rows = [row for section in node.children for row in section.children]  # thead, tbody
    header = rows[0].children
    styles = [str(cell.attrs.get("style", "")) for cell in header]  # "text-align:right"
    return Table(
        [_inline(cell) for cell in header],
        [[_inline(cell) for cell in row.children] for row in rows[1:]],
        [next((a for a in ALIGNS if f"text-align:{a}" in style), "left") for style in styles],
    )


# -- inline ----------------------------------------------------------------------------


def _inline(node: SyntaxTreeNode) -> list[Span]:
    """The styled runs of a paragraph, heading or cell (whose one child is `inline`)."""
    spans: list[Span] = []
    for child in node.children:
        _runs(child.children, Span(""), spans)
    return _merge(spans)


def _runs(nodes: list[SyntaxTreeNode], style: Span, out: list[Span]) -> None:
    for node in nodes:
        kind = node.type
        if kind == "text":
            out.extend(_linked(node.content, style))
        elif kind == "code_inline":
            out.append(replace(style, text=node.content, code=True))
        elif kind == "softbreak":
            out.append(replace(style, text=" "))
        elif kind == "hardbreak":
            out.append(replace(style, text="\n"))
        elif kind == "strong":
            _runs(node.children, replace(style, bold=True), out)
        elif kind == "em":
            _runs(node.children, replace(style, italic=True), out)
        elif kind == "s":
            _runs(node.children, replace(style, strike=True), out)
        elif kind in ("link", "image"):  # an image is shown as its description, linked
            href = str(node.attrs.get("href") or node.attrs.get("src") or "")
            _runs(node.children, replace(style, href=href or None), out)
        else:  # nothing else is produced with html off; keep any text all the same
            out.append(replace(style, text=node.content))


def _linked(text: str, style: Span) -> list[Span]:
    """Bare web addresses in text outside a link become links."""
    if style.href is not None:
        return [replace(style, text=text)]
    spans: list[Span] = []
    position = 0
    for match in _URL.finditer(text):
        spans.append(replace(style, text=text[position : match.start()]))
        spans.append(replace(style, text=match.group(), href=match.group()))
        position = match.end()
    spans.append(replace(style, text=text[position:]))
    return spans


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in spans:
        if not span.text:
            continue
        if merged and replace(merged[-1], text="") == replace(span, text=""):
            merged[-1] = replace(span, text=merged[-1].text + span.text)
        else:
            merged.append(span)
    return merged
