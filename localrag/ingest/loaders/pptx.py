"""PPTX via python-pptx: one section per slide ('slide 3', its title as the heading) holding
the title and the text of its shapes (grouped shapes and tables included), then one for the
speaker notes ('slide 3, notes')."""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO

import pptx
from pptx.enum.shapes import MSO_SHAPE_TYPE

from localrag.ingest.document import Document, TextBuilder
from localrag.ingest.errors import SkipFile
from localrag.ingest.loaders.table import row_line
from localrag.ingest.zipped import check_zip


def _shape_texts(shapes) -> Iterator[str]:
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            yield "\n".join(filter(None, (row_line([c.text for c in row.cells]) for row in shape.table.rows)))
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield "\n".join(p.text.strip() for p in shape.text_frame.paragraphs if p.text.strip())


def _title(slide) -> str:
    title = slide.shapes.title
    return " ".join(title.text_frame.text.split()) if title is not None and title.has_text_frame else ""


def load_pptx(data: bytes, max_unpacked_mb: float = 300.0) -> Document:
    check_zip(data, "PPTX", max_unpacked_mb)
    try:
        slides = list(pptx.Presentation(BytesIO(data)).slides)
    except Exception as e:  # python-pptx raises zip, XML and key errors for damaged files
        raise SkipFile(f"corrupt PPTX: {type(e).__name__}: {e}"[:120]) from None
    builder = TextBuilder()
    for number, slide in enumerate(slides, start=1):
        title = _title(slide)
        heading = (title,) if title else ()
        builder.start_section(heading, locator=f"slide {number}")
        if title:
            builder.add_block(title)
        title_id = slide.shapes.title.shape_id if slide.shapes.title is not None else None
        for text in _shape_texts(s for s in slide.shapes if s.shape_id != title_id):
            builder.add_block(text)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text
            if notes.strip():
                builder.start_section(heading, locator=f"slide {number}, notes")
                builder.add_block(notes)
    return builder.build()
