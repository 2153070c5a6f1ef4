"""Checks on zip-based files (DOCX, XLSX, PPTX, ODF, EPUB) before any library unpacks them.

A small file can unpack to gigabytes (a zip bomb): the sizes the zip declares are summed and
the file is refused above the cap. Python's zipfile never inflates a member past its declared
size (it fails the CRC check instead), so the declared sizes bound what the libraries can read.
Password-protected Office files are not zips at all but OLE containers, named as such;
password-protected OpenDocument files are zips whose manifest gives the encryption of their
parts (check_odf), which odfpy would otherwise report as undecodable XML.
"""

from __future__ import annotations

import zipfile
from io import BytesIO

from localrag.ingest.errors import SkipFile

MB = 1024 * 1024
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_MEMBERS = 20_000


def check_zip(data: bytes, what: str, max_unpacked_mb: float) -> zipfile.ZipFile:
    """The opened zip of a `what` file (e.g. "PPTX"), or SkipFile with the reason."""
    if data.startswith(OLE_MAGIC):
        raise SkipFile(f"password-protected or old-format file (not {what})")
    try:
        archive = zipfile.ZipFile(BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise SkipFile(f"corrupt {what}: {e}") from None
    if len(members) > MAX_MEMBERS:
        raise SkipFile(f"{what} holds {len(members):,} parts (> {MAX_MEMBERS:,}; a zip bomb?)")
    unpacked = sum(m.file_size for m in members)
    if unpacked > max_unpacked_mb * MB:
        raise SkipFile(f"{what} unpacks to {unpacked / MB:,.0f} MB (> {max_unpacked_mb:g} MB cap; a zip bomb?)")
    if any(m.flag_bits & 0x1 for m in members):
        raise SkipFile(f"encrypted {what}")
    return archive


def check_odf(data: bytes, what: str, max_unpacked_mb: float) -> zipfile.ZipFile:
    """check_zip for an OpenDocument file (ODT, ODS), which is also refused, as password-protected,
    when its manifest lists encryption data for any part (LibreOffice's "Save with password")."""
    archive = check_zip(data, what, max_unpacked_mb)
    try:
        manifest = archive.read("META-INF/manifest.xml")
    except KeyError:
        return archive  # not every producer writes a manifest; odfpy judges the rest
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise SkipFile(f"corrupt {what}: {e}") from None
    if b"encryption-data" in manifest:  # <manifest:encryption-data>, whatever the prefix
        raise SkipFile(f"password-protected {what}")
    return archive
