"""EPUB via EbookLib: the spine's documents in reading order, each read as HTML (h1-h6 give
the heading path; the table of contents names a chapter without headings) and located as
'chapter N'. DRM-encrypted books are skipped; font obfuscation alone is not DRM."""

from __future__ import annotations

import re
import warnings
from io import BytesIO
from posixpath import basename

import ebooklib
from ebooklib import epub
from lxml import etree

from localrag.ingest.document import Document, Part, join_parts
from localrag.ingest.encoding import decode_text
from localrag.ingest.errors import SkipFile
from localrag.ingest.loaders.html import load_html
from localrag.ingest.zipped import check_zip

_PAGE_TITLE = re.compile(r"<title\b[^>]*>.*?</title\s*>", re.IGNORECASE | re.DOTALL)
_DOCUMENT_SUFFIXES = (".xhtml", ".html", ".htm", ".xml")


def _drm_protected(archive) -> bool:
    """Whether META-INF/encryption.xml encrypts content documents (not just fonts)."""
    try:
        xml = archive.read("META-INF/encryption.xml")
    except KeyError:
        return False
    try:
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return True
    uris = [el.get("URI", "") for el in root.iter() if isinstance(el.tag, str) and el.tag.endswith("CipherReference")]
    return any(uri.lower().endswith(_DOCUMENT_SUFFIXES) for uri in uris)


def _toc_titles(toc, out: dict[str, str]) -> dict[str, str]:
    """{file name: title} from the table of contents (first title of each file wins)."""
    for entry in toc:
        if isinstance(entry, tuple):  # (Section, children)
            section, children = entry
            _toc_titles([section], out)
            _toc_titles(children, out)
        elif getattr(entry, "href", None):
            out.setdefault(basename(entry.href.split("#", 1)[0]), " ".join((entry.title or "").split()))
    return out


def load_epub(data: bytes, max_unpacked_mb: float = 300.0) -> Document:
    archive = check_zip(data, "EPUB", max_unpacked_mb)
    if _drm_protected(archive):
        raise SkipFile("DRM-protected EPUB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = epub.read_epub(BytesIO(data), {"ignore_ncx": False})
    except Exception as e:  # EbookLib raises its own, zip, XML and key errors for damaged books
        raise SkipFile(f"corrupt EPUB: {type(e).__name__}: {e}"[:120]) from None
    titles = _toc_titles(book.toc, {})
    parts: list[Part] = []
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        html = _PAGE_TITLE.sub("", decode_text(item.get_content()))
        doc = load_html(html)
        if not doc.sections:
            continue
        title = titles.get(basename(item.get_name()), "")
        untitled = all(not s.heading for s in doc.sections)
        parts.append(Part(doc, locator=f"chapter {len(parts) + 1}", heading=(title,) if title and untitled else ()))
    return join_parts(parts)
