"""CSV and TSV via the csv module: rows grouped with the header repeated (see table.py)."""

from __future__ import annotations

import csv
import io

from localrag.ingest.document import Document
from localrag.ingest.errors import SkipFile
from localrag.ingest.loaders.table import TableWriter
from localrag.ingest.options import LoadOptions


def _dialect(sample: str, tab: bool) -> type[csv.Dialect] | csv.Dialect:
    if tab:
        return csv.excel_tab
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:  # one column, or too little text to tell
        return csv.excel


def load_csv(text: str, tab: bool, options: LoadOptions) -> Document:
    reader = csv.reader(io.StringIO(text), _dialect(text[:8192], tab))
    writer = TableWriter(options)
    try:
        writer.add_table((n, row) for n, row in enumerate(reader, start=1))
    except csv.Error as e:
        raise SkipFile(f"unreadable CSV: {e}") from None
    return writer.build()
