"""HTML: the page's main content, with the page title and h1-h6 as the heading path.

Scripts, styles, navigation, headers, footers, asides and forms are dropped; when the
page marks its content with <main> or a single <article>, only that is read. Text is
gathered per block element (paragraph, list item, table row, pre...), so each block
becomes a paragraph of the extracted text.

Most pages do not mark their navigation: generated manuals repeat "<< Previous | Up |
Next >> Home" bars and tables of contents on every page, which would be indexed as chunks
that match every question about the site. trafilatura decides what the main content is
(`MainText`); a block it left out is dropped, and a heading is kept only where content
under it is. trafilatura's own output is not used as the text: it loses headings (and
with them the chunks' heading paths) on common generated layouts, such as DocBook's.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from localrag.ingest.document import Document, TextBuilder
from localrag.ingest.errors import SkipFile

_NOISE = {
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "svg",
    "iframe",
    "object",
    "embed",
    "canvas",
    "button",
    "select",
    "head",
}
_NOISE_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "tr",
    "table",
    "ul",
    "ol",
    "dl",
    "figure",
    "figcaption",
    "address",
    "details",
    "summary",
    "hr",
    "body",
    "center",
    "caption",
    "thead",
    "tbody",
    "tfoot",
}
_CELLS = {"td", "th"}
_SPACE = re.compile(r"\s+")
_BREAK = "\ue000"  # stands for <br> while source whitespace is collapsed


def _collapse(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    if _BREAK in text:
        text = "\n".join(part.strip() for part in text.split(_BREAK)).strip()
    return text


_NOT_WORD = re.compile(r"\W+")
_SHORT = 24  # below this many letters and digits a block must match a whole line, not part of one


def _letters(text: str) -> str:
    return _NOT_WORD.sub("", text).casefold()


class MainText:
    """The text trafilatura extracts as a page's main content, to test blocks against."""

    def __init__(self, text: str) -> None:
        lines = [_letters(line) for line in text.splitlines()]
        self.lines = {line for line in lines if line}
        self.all = "".join(lines)

    @classmethod
    def of(cls, page: str) -> "MainText | None":
        """None when trafilatura finds no main content (a fragment, a very short page): keep everything."""
        import trafilatura

        text = trafilatura.extract(
            page, output_format="txt", include_tables=True, include_links=False, include_images=False,
            include_comments=True, favor_recall=True, deduplicate=False, with_metadata=False,
        )  # fmt: skip
        return cls(text) if text and text.strip() else None

    def _has(self, text: str) -> bool:
        key = _letters(text)
        return bool(key) and (key in self.lines or (len(key) >= _SHORT and key in self.all))

    def has(self, block: str) -> bool:
        """Is this block (a paragraph, a table row "a | b") part of the main content?"""
        if self._has(block):
            return True
        cells = [c for c in block.split(" | ") if _letters(c)]  # a row whose cells came out one per line
        return len(cells) > 1 and all(self._has(c) for c in cells)


class _Extractor:
    def __init__(self, title: str, main: MainText | None = None) -> None:
        self.out = TextBuilder()
        self.title = title
        self.main = main
        self.stack: list[tuple[int, str]] = []
        self.buffer: list[str] = []
        self.pending: str | None = None  # a heading shown once content under it is kept
        self.out.start_section(self._heading())

    def _add(self, text: str) -> None:
        if self.main is not None and not self.main.has(text):
            return  # navigation, a table of contents, a footer: not the page's content
        if self.pending:
            self.out.add_heading(self.pending)
            self.pending = None
        self.out.add_block(text)

    def _heading(self) -> tuple[str, ...]:
        path = [t for _, t in self.stack]
        if self.title and (not path or path[0].casefold() != self.title.casefold()):
            path.insert(0, self.title)
        return tuple(path)

    def flush(self) -> None:
        text = _collapse("".join(self.buffer))
        self.buffer.clear()
        if text:
            self._add(text)

    def visit(self, el: etree._Element) -> None:
        tag = el.tag.lower() if isinstance(el.tag, str) else None
        if tag is None:  # comments, processing instructions
            if el.tail:
                self.buffer.append(el.tail)
            return
        if tag in _NOISE or (el.get("role") or "").lower() in _NOISE_ROLES or el.get("hidden") is not None:
            if el.tail:
                self.buffer.append(el.tail)
            return
        if tag in _HEADINGS:
            self.flush()
            level = _HEADINGS[tag]
            title = _collapse(el.text_content())
            while self.stack and self.stack[-1][0] >= level:
                self.stack.pop()
            if title:
                self.stack.append((level, title))
            self.out.start_section(self._heading())
            self.pending = title or None
        elif tag == "pre":
            self.flush()
            code = el.text_content().strip("\n")
            if code.strip():
                self._add(code)
        elif tag == "br":
            self.buffer.append(_BREAK)
        else:
            block = tag in _BLOCKS
            if block:
                self.flush()
            if tag == "li":
                self.buffer.append("- ")
            if el.text:
                self.buffer.append(el.text)
            for child in el:
                self.visit(child)
                if tag == "tr" and isinstance(child.tag, str) and child.tag.lower() in _CELLS:
                    self.buffer.append(" | ")
            if tag == "tr" and self.buffer and self.buffer[-1] == " | ":
                self.buffer.pop()
            if block:
                self.flush()
        if el.tail:
            self.buffer.append(el.tail)


def _content_root(doc: etree._Element) -> etree._Element:
    mains = doc.xpath("//main|//*[@role='main']")
    if len(mains) == 1:
        return mains[0]
    articles = doc.xpath("//article")
    if len(articles) == 1:
        return articles[0]
    body = doc.find("body")
    return body if body is not None else doc  # <html> itself: <head> is dropped as noise


def load_html(text: str) -> Document:
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # lxml refuses str input with an encoding declaration
    if not text.strip():
        return Document(text="", sections=[])
    try:
        doc = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as e:
        raise SkipFile(f"unreadable HTML: {e}") from None
    title_el = doc.find(".//title")
    title = _collapse(title_el.text_content()) if title_el is not None else ""
    extractor = _Extractor(title, MainText.of(text))
    extractor.visit(_content_root(doc))
    extractor.flush()
    return extractor.out.build()
