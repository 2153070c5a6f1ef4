"""E-mail: EML (one message) and MBOX (many) via the standard library's email and mailbox.

Each message becomes a part headed by its subject and located as 'message 4 (Alice Smith,
2024-03-01)'; its text starts with From/To/Date/Subject lines so they are searchable, then
the plain body (HTML read as text when there is no plain one). Attachments in a format
localrag reads (text, CSV, PDF, office files...) follow as their own parts, located by
their file name; images and mail inside mail are left out.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import re
import tempfile
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from typing import cast

from localrag.ingest.document import Document, Part, TextBuilder, join_parts, normalize_newlines
from localrag.ingest.errors import SkipFile
from localrag.ingest.formats import format_of
from localrag.ingest.options import LoadOptions

_NOT_ATTACHED = {"image", "eml", "mbox"}
# Mailboxes quote body lines starting "From " as ">From " (one more ">" per level in mboxrd).
_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def _header(message: EmailMessage, name: str) -> str:
    try:
        return " ".join(str(message.get(name, "") or "").split())
    except Exception:  # a malformed header must not cost the message
        return ""


def _date(message: EmailMessage) -> str:
    raw = _header(message, "date")
    try:
        return parsedate_to_datetime(raw).date().isoformat() if raw else ""
    except (TypeError, ValueError, IndexError):
        return raw


def _sender(message: EmailMessage) -> str:
    name, address = parseaddr(_header(message, "from"))
    return name or address


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset, broken encoding
        payload = cast(bytes, part.get_payload(decode=True) or b"")  # decode=True: a leaf part's bytes
        text = payload.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return ""
    if part.get_content_subtype() == "html":
        from localrag.ingest.loaders.html import load_html

        return load_html(text).text
    return normalize_newlines(text)


def _attachments(message: EmailMessage, where: str, options: LoadOptions) -> tuple[list[Part], list[str]]:
    from localrag.ingest.load import load_with

    parts: list[Part] = []
    notes: list[str] = []
    for attachment in message.iter_attachments():
        name = attachment.get_filename() or ""
        fmt = format_of(name) if name else ("plain" if attachment.get_content_maintype() == "text" else None)
        if fmt is None or fmt in _NOT_ATTACHED:
            continue
        payload = attachment.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        try:
            doc = load_with(name or "attachment.txt", payload, options)
        except SkipFile as e:
            notes.append(f"{where or 'message'}: attachment {name or '(unnamed)'} left out: {e.reason}")
            continue
        label = f"attachment {name or '(unnamed)'}"
        parts.append(Part(doc, locator=f"{where}, {label}" if where else label))
    return parts, notes


def message_parts(message: EmailMessage, where: str, options: LoadOptions) -> tuple[list[Part], list[str]]:
    """The message's body part and its attachment parts; `where` names the message in its
    mailbox ('message 4'; '' for a lone .eml)."""
    subject = _header(message, "subject") or "(no subject)"
    sender, date = _sender(message), _date(message)
    who = ", ".join(filter(None, (sender, date)))
    locator = (f"{where} ({who})" if where and who else where or who) or None
    builder = TextBuilder()
    builder.start_section((subject,), locator=locator)
    headers = [f"{n}: {v}" for n in ("From", "To", "Date", "Subject") if (v := _header(message, n))]
    builder.add_block("\n".join(headers))
    builder.add_block(_body(message))
    parts = [Part(builder.build(), heading=())]
    attached, notes = _attachments(message, where, options)
    for part in attached:
        part.heading = (subject,)
    return parts + attached, notes


def _parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def load_eml(data: bytes, options: LoadOptions) -> Document:
    message = _parse(data)
    if not message.keys():
        raise SkipFile("not an e-mail message (no headers)")
    parts, notes = message_parts(message, "", options)
    return join_parts(parts, notes)


def load_mbox(data: bytes, options: LoadOptions) -> Document:
    # mailbox reads from a path only: the bytes go to a private temporary file.
    fd, path = tempfile.mkstemp(suffix=".mbox")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        box = mailbox.mbox(path, factory=None, create=False)
        parts: list[Part] = []
        notes: list[str] = []
        for number, key in enumerate(box.keys(), start=1):
            message = _parse(_QUOTED_FROM.sub(rb"\1", box.get_bytes(key)))
            if not message.keys():
                continue
            got, said = message_parts(message, f"message {number}", options)
            parts += got
            notes += said
        box.close()
    finally:
        os.unlink(path)
    if not parts:
        raise SkipFile("no messages in mailbox")
    return join_parts(parts, notes)
