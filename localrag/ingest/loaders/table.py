"""Tables (spreadsheet sheets, CSV): rows grouped into chunk-sized sections.

The header row is repeated at the top of every group, so each chunk says what its columns
are; a group is located by its sheet and source row range ('sheet Budget, rows 2-40').
Cells are joined with ' | '; empty rows are left out. The whole file's text is capped at
chunking.max_data_chars, and the Document says where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from localrag.ingest.document import Document, TextBuilder
from localrag.ingest.options import LoadOptions

Row = tuple[int, Sequence[object]]  # (1-based row number in the file or sheet, cell values)


def cell_text(value: object) -> str:
    """A cell as text: whole floats without '.0', dates without a midnight time."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:-9] if text.endswith("T00:00:00") else text
    return " ".join(str(value).split())


def row_line(values: Sequence[object]) -> str:
    cells = [cell_text(v) for v in values]
    while cells and not cells[-1]:
        cells.pop()
    return " | ".join(cells)


def rows_label(first: int, last: int) -> str:
    return f"row {first}" if first == last else f"rows {first}-{last}"


class TableWriter:
    """Collects the tables of one file into a Document."""

    def __init__(self, options: LoadOptions) -> None:
        self.options = options
        self.size = options.chunking.size
        self.max_chars = options.chunking.max_data_chars
        self.builder = TextBuilder()
        self.chars = 0
        self.notes: list[str] = []
        self.full = False

    def add_table(self, rows: Iterable[Row], sheet: str | None = None) -> None:
        """Add one table (a sheet); its first non-empty row is taken as the header."""
        if self.full:
            return
        header: str | None = None
        header_tokens = 0
        group: list[str] = []
        group_tokens = 0
        first = last = 0
        for number, values in rows:
            line = row_line(values)
            if not line:
                continue
            if header is None:
                header, header_tokens, first, last = line, self.options.tokens(line), number, number
                continue
            if self.chars + len(line) > self.max_chars:
                where = f"sheet {sheet}, " if sheet else ""
                self.notes.append(f"truncated: indexed up to {where}row {last} (chunking.max_data_chars)")
                self.full = True
                break
            tokens = self.options.tokens(line)
            if group and header_tokens + group_tokens + tokens > self.size:
                self._flush(sheet, header, group, first, last)
                group, group_tokens = [], 0
            if not group:
                first = number
            group.append(line)
            group_tokens += tokens
            last = number
            self.chars += len(line) + 1
        if header is not None:
            self._flush(sheet, header, group, first, last)

    def _flush(self, sheet: str | None, header: str, group: list[str], first: int, last: int) -> None:
        label = rows_label(first, last)
        self.builder.start_section(
            (sheet,) if sheet else (), kind="table", locator=f"sheet {sheet}, {label}" if sheet else label
        )
        self.builder.add_block("\n".join([header, *group]))

    def build(self, notes: list[str] | None = None) -> Document:
        return self.builder.build([*(notes or []), *self.notes])
