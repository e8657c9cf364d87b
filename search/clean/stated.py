"""What a collection's record states, read as the cleaner reads a page's own signals.

Part of the cleaner (``search.clean``). A record of JSON Lines or CSV
(``search.sources``; a ``RawPage`` of type ``RECORD_TYPE``) states some of
its article's fields. What it states is kept as stated — its date with
``published_source`` "record" — and the cleaner finds only the rest
(``search.clean.cleaner``). Here: the record read back from its page, its
plain text tidied (whitespace only: the words are the record's), its date
and its language made the values the index keeps.
"""

from __future__ import annotations

import re

from search.clean.date_formats import aware, parse_date
from search.errors import ExtractionError
from search.language.names import ALIASES, LANGUAGE_NAMES
from search.records import UNKNOWN, Published, RawPage, StatedRecord
from search.timeparse import parse_iso

#: ``published_source`` of a date a record states.
RECORD_SOURCE = "record"

#: The C0 controls XML does not allow (as the cleaner drops them from pages: no
#: feed or index field may carry them), and two non-characters.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_LANGUAGE_BY_NAME = {name.lower(): code for code, name in LANGUAGE_NAMES.items() if code != UNKNOWN}


def stated_record(page: RawPage) -> StatedRecord:
    """The record a page of type ``RECORD_TYPE`` holds; ``ExtractionError`` when it holds none."""
    try:
        return StatedRecord.from_text(page.text)
    except (ValueError, TypeError) as e:
        raise ExtractionError(f"not a Newsdesk record: {e}") from e


def plain_text(text: str) -> str:
    """A stated plain text as an article's text: paragraphs separated by one
    blank line, each line stripped; the line breaks within a paragraph and
    every word are kept as stated."""
    text = _NOT_XML.sub(lambda m: "\n" if m.group() in "\x0b\x0c" else "", text.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs = re.split(r"\n\s*\n", text)
    tidy = ("\n".join(line.strip() for line in paragraph.strip().splitlines()) for paragraph in paragraphs)
    return "\n\n".join(paragraph for paragraph in tidy if paragraph)


def stated_date(value: str | None) -> Published | None:
    """A stated date: ISO 8601 first (a time without an offset is UTC), then the
    other formats machines write (RFC 2822, ``16.10.2019``, epoch seconds …).
    None when it cannot be read: the cleaner then looks for one as for a page."""
    if not value:
        return None
    found = parse_iso(value)
    if found is not None:
        return found
    try:
        lenient = parse_date(value)
    except (ValueError, OverflowError):
        return None
    return aware(lenient) if lenient is not None else None


def stated_language(value: str | None) -> str | None:
    """A stated language as the ISO 639-1 code the facet keeps ("EN", "en-US",
    "English" → "en"); None for one it does not know, which is then detected."""
    if not value:
        return None
    key = value.strip().lower().replace("_", "-")
    if key in _LANGUAGE_BY_NAME:
        return _LANGUAGE_BY_NAME[key]
    code = ALIASES.get(key, key.split("-")[0])
    code = ALIASES.get(code, code)
    return code if code in LANGUAGE_NAMES and code != UNKNOWN else None
