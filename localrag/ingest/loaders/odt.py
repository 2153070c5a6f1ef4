"""ODT (OpenDocument text) via odfpy: headings (outline level) as the heading path,
paragraphs, list items as '- ' lines and tables as ' | ' rows, in document order."""

from __future__ import annotations

from io import BytesIO

from odf import opendocument, teletype
from odf.namespaces import TABLENS, TEXTNS
from odf.table import TableRow

from localrag.ingest.document import Document, TextBuilder
from localrag.ingest.errors import SkipFile
from localrag.ingest.loaders.table import row_line
from localrag.ingest.zipped import check_odf

_CONTAINERS = {(TEXTNS, "section"), (TEXTNS, "soft-page-break"), (TABLENS, "table-header-rows")}


def _level(heading) -> int:
    try:
        return int(heading.attributes.get((TEXTNS, "outline-level"), 1))
    except (TypeError, ValueError):
        return 1


def _table_text(table) -> str:
    lines = []
    for row in table.getElementsByType(TableRow):
        line = row_line([teletype.extractText(cell) for cell in row.childNodes if cell.qname[0] == TABLENS])
        if line:
            lines.append(line)
    return "\n".join(lines)


class _Walker:
    def __init__(self) -> None:
        self.builder = TextBuilder()
        self.stack: list[tuple[int, str]] = []

    def visit(self, parent) -> None:
        for node in parent.childNodes:
            qname = getattr(node, "qname", None)
            if qname == (TEXTNS, "h"):
                title = " ".join(teletype.extractText(node).split())
                if not title:
                    continue
                level = _level(node)
                while self.stack and self.stack[-1][0] >= level:
                    self.stack.pop()
                self.stack.append((level, title))
                self.builder.start_section(tuple(t for _, t in self.stack))
                self.builder.add_heading(title)
            elif qname == (TEXTNS, "p"):
                self.builder.add_block(teletype.extractText(node))
            elif qname == (TEXTNS, "list"):
                items = [" ".join(teletype.extractText(item).split()) for item in node.childNodes]
                self.builder.add_block("\n".join(f"- {t}" for t in items if t))
            elif qname == (TABLENS, "table"):
                self.builder.add_block(_table_text(node))
            elif qname in _CONTAINERS:
                self.visit(node)


def load_odt(data: bytes, max_unpacked_mb: float = 300.0) -> Document:
    check_odf(data, "ODT", max_unpacked_mb)
    try:
        document = opendocument.load(BytesIO(data))
        body = document.text
    except Exception as e:  # odfpy raises zip, XML and attribute errors for damaged files
        raise SkipFile(f"corrupt ODT: {type(e).__name__}: {e}"[:120]) from None
    walker = _Walker()
    walker.visit(body)
    return walker.builder.build()
