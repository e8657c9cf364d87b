"""Bytes to text: the charset of a page or file, and whether it is text at all.

Used where raw bytes become text before the cleaner works on them: the
crawler (``search.fetch`` responses), the archive's replay of fetched pages,
and the cleaner's own path for files. One place, so a page decodes the same
way when crawled, when replayed and when ingested from disk.
"""

from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
#: WHATWG: these labels mean windows-1252 in HTML.
_LATIN1_LABELS = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii", "cp819"})


def decode_html(body: bytes, content_type_header: str | None) -> str:
    """Text of an HTML body: charset from the header, then ``<meta>``, then
    detection (charset-normalizer); a label that fails to decode is skipped."""
    for label in (_header_charset(content_type_header), _meta_charset(body)):
        codec = _codec(label)
        if codec:
            try:
                return body.decode(codec)
            except UnicodeDecodeError:
                continue
    detected = detect(body)
    return detected if detected is not None else body.decode("utf-8", errors="replace")


def detect(body: bytes) -> str | None:
    """UTF-8 (a BOM dropped), else what charset-normalizer finds; None when it finds nothing."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes  # slow to import, rarely needed

        best = from_bytes(body).best()
        return str(best) if best is not None else None


def _header_charset(header: str | None) -> str | None:
    match = re.search(r"charset\s*=\s*[\"']?([^\s;\"']+)", header or "", re.IGNORECASE)
    return match.group(1) if match else None


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii", errors="replace") if match else None


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    if label in _LATIN1_LABELS:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def looks_binary(body: bytes) -> bool:
    """NUL bytes or many control characters: not text, whatever the label says."""
    head = body[:4096]
    if b"\x00" in head:
        return True
    controls = sum(1 for byte in head if byte < 9 or 13 < byte < 32)
    return bool(head) and controls / len(head) > 0.05
