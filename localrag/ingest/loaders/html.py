"""HTML: the readable text, with the page title and h1-h6 as the heading path.

Scripts, styles, navigation, headers, footers, asides and forms are dropped; when the
page marks its content with <main> or a single <article>, only that is read. Text is
gathered per block element (paragraph, list item, table row, pre...), so each block
becomes a paragraph of the extracted text.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from localrag.ingest.document import Document, TextBuilder
from localrag.ingest.errors import SkipFile

_NOISE = {
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "svg", "iframe", "object", "embed", "canvas", "button", "select", "head",
}
_NOISE_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {
    "p", "div", "section", "article", "main", "li", "dt", "dd", "blockquote", "pre", "tr",
    "table", "ul", "ol", "dl", "figure", "figcaption", "address", "details", "summary", "hr",
    "body", "center", "caption", "thead", "tbody", "tfoot",
}
_CELLS = {"td", "th"}
_SPACE = re.compile(r"\s+")
_BREAK = "\ue000"  # stands for <br> while source whitespace is collapsed


def _collapse(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    if _BREAK in text:
        text = "\n".join(part.strip() for part in text.split(_BREAK)).strip()
    return text


class _Extractor:
    def __init__(self, title: str) -> None:
        self.out = TextBuilder()
        self.title = title
        self.stack: list[tuple[int, str]] = []
        self.buffer: list[str] = []
        self.out.start_section(self._heading())

    def _heading(self) -> tuple[str, ...]:
        path = [t for _, t in self.stack]
        if self.title and (not path or path[0].casefold() != self.title.casefold()):
            path.insert(0, self.title)
        return tuple(path)

    def flush(self) -> None:
        text = _collapse("".join(self.buffer))
        self.buffer.clear()
        if text:
            self.out.add_block(text)

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
            if title:
                self.out.add_heading(title)
        elif tag == "pre":
            self.flush()
            self.out.add_block(el.text_content().strip("\n"))
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
    extractor = _Extractor(title)
    extractor.visit(_content_root(doc))
    extractor.flush()
    return extractor.out.build()
