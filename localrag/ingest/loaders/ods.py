"""ODS (OpenDocument spreadsheet) via odfpy: every sheet as a table (see table.py).

ODF stores runs of identical rows and cells once with a repeat count; a count can claim a
million empty rows or 16,384 empty cells, so empty runs only advance the row number and a
repeated non-empty cell or row is written at most MAX_REPEAT times.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO

from odf import opendocument, teletype
from odf.namespaces import TABLENS
from odf.table import Table, TableRow

from localrag.ingest.document import Document
from localrag.ingest.errors import SkipFile
from localrag.ingest.loaders.table import Row, TableWriter
from localrag.ingest.options import LoadOptions
from localrag.ingest.zipped import check_odf

MAX_REPEAT = 1000
_CELL_TAGS = {(TABLENS, "table-cell"), (TABLENS, "covered-table-cell")}


def _repeat(element, attribute: str) -> int:
    try:
        return max(1, int(element.attributes.get((TABLENS, attribute), 1)))
    except (TypeError, ValueError):
        return 1


def _row_values(row) -> list[str]:
    values: list[str] = []
    for cell in row.childNodes:
        if cell.qname not in _CELL_TAGS:
            continue
        text = " ".join(teletype.extractText(cell).split())
        values.extend([text] * (min(_repeat(cell, "number-columns-repeated"), MAX_REPEAT) if text else 1))
    return values


def _rows(table) -> Iterator[Row]:
    number = 1
    for row in table.getElementsByType(TableRow):
        values = _row_values(row)
        repeat = _repeat(row, "number-rows-repeated")
        if any(values):
            for k in range(min(repeat, MAX_REPEAT)):
                yield number + k, values
        number += repeat


def load_ods(data: bytes, options: LoadOptions) -> Document:
    check_odf(data, "ODS", options.ingest.max_unpacked_mb)
    try:
        document = opendocument.load(BytesIO(data))
        tables = document.spreadsheet.getElementsByType(Table)
    except Exception as e:  # odfpy raises zip, XML and attribute errors for damaged files
        raise SkipFile(f"corrupt ODS: {type(e).__name__}: {e}"[:120]) from None
    writer = TableWriter(options)
    for table in tables:
        writer.add_table(_rows(table), str(table.getAttribute("name") or "") or None)
    return writer.build()
