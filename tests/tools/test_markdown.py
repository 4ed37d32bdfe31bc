"""The exports' Markdown: how markdown-it-py's tree maps to the blocks and spans the renderers
draw (CommonMark itself is markdown-it-py's to test)."""

from __future__ import annotations

from warren.tools.markdown import (
    CodeBlock,
    Heading,
    ListBlock,
    ListItem,
    Paragraph,
    Quote,
    Rule,
    Span,
    Table,
    parse,
    plain,
    safe_href,
)


def test_blocks() -> None:
    doc = """# Title #
Intro line one
line two

Setext
------

###### Six

- a
- b
  1. inner
  2. more
- c
  continued

3) three
4) four

```python title="x.py"
def f():
    return "| not a table |"
```

    indented code

| Left | Right | Mid | Plain |
|:-----|------:|:---:|-------|
| 1 | 2 |
| a \\| b | c | d | e |

> quoted
> still
>
> - in a quote

***
"""
    blocks = parse(doc)
    assert [type(b) for b in blocks] == [
        Heading,
        Paragraph,
        Heading,
        Heading,
        ListBlock,
        ListBlock,
        CodeBlock,
        CodeBlock,
        Table,
        Quote,
        Rule,
    ]
    title, intro, setext, six, bullets, numbered, fenced, indented, table, quote, _ = blocks
    assert title == Heading(1, [Span("Title")])
    assert intro == Paragraph([Span("Intro line one line two")])  # a soft break is a space
    assert setext == Heading(2, [Span("Setext")])
    assert six == Heading(6, [Span("Six")])
    assert bullets == ListBlock(
        False,
        [
            ListItem([Span("a")]),
            ListItem(
                [Span("b")],
                [ListBlock(True, [ListItem([Span("inner")]), ListItem([Span("more")])], 1)],
            ),
            ListItem([Span("c continued")]),
        ],
    )
    assert numbered == ListBlock(True, [ListItem([Span("three")]), ListItem([Span("four")])], 3)
    assert fenced == CodeBlock('def f():\n    return "| not a table |"', "python")
    assert indented == CodeBlock("indented code")
    assert isinstance(table, Table)
    assert [plain(c) for c in table.header] == ["Left", "Right", "Mid", "Plain"]
    assert [[plain(c) for c in row] for row in table.rows] == [
        ["1", "2", "", ""],  # a short row is padded to the header's width
        ["a | b", "c", "d", "e"],
    ]
    assert table.align == ["left", "right", "center", "left"]
    assert quote == Quote(
        [
            Paragraph([Span("quoted still")]),
            ListBlock(False, [ListItem([Span("in a quote")])]),
        ]
    )


def test_list_items_hold_their_blocks() -> None:
    [items] = parse(
        "1. text\n\n   second paragraph\n\n   ```sh\n   ls\n   ```\n2. ```\n   code\n   ```\n"
    )
    assert items == ListBlock(
        True,
        [
            ListItem(
                [Span("text")],
                [Paragraph([Span("second paragraph")]), CodeBlock("ls", "sh")],
            ),
            ListItem([], [CodeBlock("code")]),  # no text of its own: the code is its content
        ],
    )


def test_unclosed_fence_and_plain_text_keep_everything() -> None:
    assert parse("```\nno end\n# not a heading") == [CodeBlock("no end\n# not a heading")]
    assert parse("a | b\nc") == [Paragraph([Span("a | b c")])]
    assert parse("") == []


def test_inline_styles() -> None:
    [paragraph] = parse(
        "**bold *both* more** and _it_ `a*b*c` ~~gone~~ [site](https://x.org/a_b) "
        "<mailto:me@x.org> https://y.org/p. snake_case_name \\*literal\\* "
        "[**strong link**](https://z.org) ![a chart](https://x.org/c.png)"
    )
    assert isinstance(paragraph, Paragraph)
    assert paragraph.spans == [
        Span("bold ", bold=True),
        Span("both", bold=True, italic=True),
        Span(" more", bold=True),
        Span(" and "),
        Span("it", italic=True),
        Span(" "),
        Span("a*b*c", code=True),
        Span(" "),
        Span("gone", strike=True),
        Span(" "),
        Span("site", href="https://x.org/a_b"),
        Span(" "),
        Span("mailto:me@x.org", href="mailto:me@x.org"),
        Span(" "),
        Span("https://y.org/p", href="https://y.org/p"),  # bare addresses become links
        Span(". snake_case_name *literal* "),
        Span("strong link", bold=True, href="https://z.org"),
        Span(" "),
        Span("a chart", href="https://x.org/c.png"),  # an image: its description, linked
    ]


def test_hard_breaks_are_newlines_in_the_text() -> None:
    assert parse("two spaces  \nbackslash\\\nend") == [
        Paragraph([Span("two spaces\nbackslash\nend")])
    ]
    assert parse("**a**  \nb") == [Paragraph([Span("a", bold=True), Span("\nb")])]


def test_raw_html_is_text_never_markup() -> None:
    assert parse("<script>alert(1)</script>") == [Paragraph([Span("<script>alert(1)</script>")])]
    assert parse("a <b>bold?</b> &amp; <!-- note -->") == [
        Paragraph([Span("a <b>bold?</b> & <!-- note -->")])
    ]
    # a link the parser refuses to make stays as written
    assert parse("[x](javascript:alert(1))") == [Paragraph([Span("[x](javascript:alert(1))")])]


def test_only_web_and_mail_links_are_links() -> None:
    assert safe_href("https://x.org") == "https://x.org"
    assert safe_href("mailto:a@b.c") == "mailto:a@b.c"
    assert safe_href("javascript:alert(1)") is None
    assert safe_href("file:///etc/passwd") is None
    assert safe_href(None) is None
    [link] = parse("[local](/etc/passwd)")
    assert link == Paragraph([Span("local", href="/etc/passwd")])  # renderers drop it
