"""XLSX via openpyxl (read-only, cached values): every worksheet as a table (see table.py).

Formulas are read as the values Excel last saved; a workbook never saved by Excel-like
software has none, and such cells read empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO

import openpyxl

from localrag.ingest.document import Document
from localrag.ingest.errors import SkipFile
from localrag.ingest.loaders.table import Row, TableWriter
from localrag.ingest.options import LoadOptions
from localrag.ingest.zipped import check_zip


def _rows(sheet) -> Iterator[Row]:
    # The stored dimension can claim a million rows of empty cells; reading what the sheet
    # XML holds is bounded by the unpacked size instead.
    sheet.reset_dimensions()
    for row in sheet.iter_rows():
        cells = [c for c in row if getattr(c, "row", None) is not None]
        if cells:
            yield cells[0].row, [c.value for c in row]


def load_xlsx(data: bytes, options: LoadOptions) -> Document:
    check_zip(data, "XLSX", options.ingest.max_unpacked_mb)
    try:
        workbook = openpyxl.load_workbook(BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises zip, XML, key and value errors for damaged files
        raise SkipFile(f"corrupt XLSX: {type(e).__name__}: {e}"[:120]) from None
    writer = TableWriter(options)
    try:
        for sheet in workbook.worksheets:
            if hasattr(sheet, "iter_rows"):  # chartsheets hold no cells
                writer.add_table(_rows(sheet), sheet.title)
    except Exception as e:
        raise SkipFile(f"corrupt XLSX: {type(e).__name__}: {e}"[:120]) from None
    finally:
        workbook.close()
    return writer.build()
