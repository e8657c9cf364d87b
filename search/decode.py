"""Bytes to text: the charset of a page or file, and whether it is text at all.

A page is decoded once, where it is acquired, by ``received_page``: the
crawler for each response, ingest for each file (``search.sources``) and the
archive for each page it replays. The cleaner takes the text; the archive
keeps the bytes as received. One place, so a page decodes the same way when
crawled, when replayed and when ingested from disk.

UTF-16 and UTF-32 pages have zero bytes all through them, which is what
marks binary data too: they are recognised first, by their byte-order mark
or, without one, by where their zeros fall (ASCII markup puts them at fixed
places in every code unit), and decoded strictly, so binary data that
happens to look wide still fails as binary.
"""

from __future__ import annotations

import codecs
import re

from search.errors import ExtractionError
from search.records import PageHints, RawPage

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
#: WHATWG: these labels mean windows-1252 in HTML.
_LATIN1_LABELS = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii", "cp819"})


def received_page(
    data: bytes,
    origin: str,
    content_type: str,
    url: str | None = None,
    hints: PageHints | None = None,
    *,
    http_content_type: str | None = None,
) -> RawPage:
    """A page as received, its bytes decoded to text here (``page_text``) and
    nowhere else; bytes that have no text make a page ``unreadable``, with the reason."""
    text, unreadable = "", None
    try:
        text = page_text(data, content_type, http_content_type)
    except ExtractionError as e:
        unreadable = e.message
    return RawPage(data=data, text=text, origin=origin, content_type=content_type, url=url,
                   hints=hints or PageHints(), unreadable=unreadable)


def page_text(data: bytes, content_type: str, http_content_type: str | None = None) -> str:
    """The text of a page's bytes, or ``ExtractionError`` for binary data or
    text whose encoding cannot be told (such a page is skipped with that reason).

    A fetched page (``http_content_type``, the response's header) decodes by
    header, ``<meta>``, then detection. A file has no header, and the saved
    copy of a page usually keeps a ``<meta charset>`` that its saving
    re-encoded away, so valid UTF-8 goes first, then ``<meta>``, then
    detection; a plain-text file by detection alone. Either way a byte-order
    mark or the zeros of UTF-16/32 decide first.
    """
    if looks_binary(data):
        raise ExtractionError("binary data, not a text or HTML page")
    if content_type != "text/html":
        text = detect(data)
        if text is None:
            raise ExtractionError("cannot tell the text encoding")
        return text
    if http_content_type is not None:
        return decode_html(data, http_content_type)
    return _decode_saved_html(data)


def _decode_saved_html(data: bytes) -> str:
    wide = decode_wide(data)
    if wide is not None:
        return wide
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return decode_html(data, None)


def decode_html(body: bytes, content_type_header: str | None) -> str:
    """Text of an HTML body: a byte-order mark or UTF-16/32's zeros, then the
    charset from the header, then ``<meta>``, then detection
    (charset-normalizer); a label that fails to decode is skipped."""
    wide = decode_wide(body)
    if wide is not None:
        return wide
    header, meta = _codec(_header_charset(content_type_header)), _codec(_meta_charset(body))
    if meta and _is_wide(meta):
        meta = "utf-8"  # WHATWG: a <meta> readable as ASCII cannot mean UTF-16 or UTF-32
    for codec in (header, meta):
        if codec:
            try:
                return body.decode(codec)
            except UnicodeDecodeError:
                continue
    detected = detect(body)
    return detected if detected is not None else body.decode("utf-8", errors="replace")


def detect(body: bytes) -> str | None:
    """UTF-16 or UTF-32 (see ``decode_wide``), UTF-8 (a BOM dropped), else what
    charset-normalizer finds; None when it finds nothing."""
    wide = decode_wide(body)
    if wide is not None:
        return wide
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


def decode_wide(body: bytes) -> str | None:
    """The text of a UTF-16 or UTF-32 body (BOM dropped), or None when it is not one."""
    codec = _wide_codec(body[:4096])
    if codec is None:
        return None
    try:
        text = body.decode(codec)
    except UnicodeDecodeError:
        return None
    head = text[:2048]
    controls = sum(1 for ch in head if ch < "\t" or "\r" < ch < " ")
    return text if not head or controls / len(head) <= 0.05 else None  # zeros and control codes: binary


# Longest first: UTF-32LE's BOM begins with UTF-16LE's.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _wide_codec(head: bytes) -> str | None:
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec  # these codecs read the BOM and drop it
    if b"\x00" not in head or len(head) < 32:
        return None
    head = head[: len(head) // 4 * 4]
    zero = [head[offset::4].count(0) / (len(head) // 4) for offset in range(4)]
    # The low byte of a code unit is (almost) never zero in text, and the high
    # bytes often are: always for markup and Latin letters, for spaces and
    # punctuation between the words of other scripts (Cyrillic: about 0.4).
    # Random data has a zero in 1 byte of 256; strict decoding settles the rest.
    if zero[0] < 0.02 and zero[1] > 0.1 and min(zero[2:]) > 0.95:
        return "utf-32-le"
    if zero[3] < 0.02 and zero[2] > 0.1 and min(zero[:2]) > 0.95:
        return "utf-32-be"
    if max(zero[0], zero[2]) < 0.02 and min(zero[1], zero[3]) > 0.1:
        return "utf-16-le"
    if max(zero[1], zero[3]) < 0.02 and min(zero[0], zero[2]) > 0.1:
        return "utf-16-be"
    return None


def _is_wide(codec: str) -> bool:
    return codec.startswith(("utf-16", "utf-32"))


def looks_binary(body: bytes) -> bool:
    """NUL bytes or many control characters: not text, whatever the label says
    (UTF-16 and UTF-32 text, full of NULs, is text)."""
    head = body[:4096]
    if b"\x00" in head or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return decode_wide(body) is None
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))  # counted in C, not byte by byte
    return bool(head) and controls / len(head) > 0.05


#: The control bytes other than tab, line feed, vertical tab, form feed and carriage return.
_CONTROL_BYTES = bytes([*range(9), *range(14, 32)])
