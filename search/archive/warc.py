"""The archive's records: WARC written and read, and the page each one holds.

Pipeline: beside it, between sources and the cleaner. The store
(``search.archive``) writes, catalogues, replays and deletes these records;
this module knows their format: the HTTP head of a response
(``http_headers``), a record parsed back (``parse_record``, ``Record``), the
gzip members of a file (``members``), the metadata record's JSON
(``metadata_json``, ``parse_hints``), and the ``RawPage`` a record holds
(``record_capture``).

Records:

* ``response`` — a fetched page (``Archive.add_response``): the HTTP status
  line and headers, then the body as the crawler received it after transfer
  and content decoding (so those headers are dropped and Content-Length
  fixed);
* ``resource`` — a file taken in by ``newsdesk ingest`` (``Archive.add_file``):
  its bytes, with the page's content type; target URI the page's URL when
  known, else ``urn:newsdesk:sha256:<hex of the bytes>``. A collection's
  record (JSON Lines, CSV) is one too, of type ``RECORD_TYPE``: its stated
  fields, as JSON, are its bytes, so a replay gives the cleaner the same
  record and what it states survives a ``reindex``;
* ``metadata`` — JSON ``{"origin": …, "hints": {…}}`` for the record it names
  in ``WARC-Concurrent-To`` (written with it) or ``WARC-Refers-To`` (written
  later, when the same bytes arrive with other hints). Hints (manifest or
  feed facts) and the origin (the file path ingested) live here rather than
  in custom headers, so standard WARC tools show them and the payload record
  stays untouched when only the hints change. The latest one wins.

Exports: ``Record``, ``parse_record``, ``members``, ``GZIP``,
``WARC_VERSION``, ``URN``, ``target_of``, ``sha256``, ``record_capture``, ``record_type``, ``Capture``,
``NO_METADATA``, ``metadata_json``, ``parse_hints``, ``json_object``,
``http_headers``, ``page_type``, ``warc_date``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from http import HTTPStatus
from typing import IO, Any, Protocol

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders

from search.records import PageHints

WARC_VERSION = "1.1"
URN = "urn:newsdesk:sha256:"
GZIP = zlib.MAX_WBITS | 16  # zlib's gzip framing, one member at a time
_CHUNK = 1 << 20
# The stored body is already decoded, so these would mislead any reader.
_DECODED_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class Record:
    """One WARC record as read back."""

    kind: str
    record_id: str
    target: str
    refers_to: str | None
    content_type: str
    payload: bytes
    date: str = ""  # WARC-Date: when a response was fetched, a resource taken in
    status: int | None = None  # a response's HTTP status


# --- records ---------------------------------------------------------------


def parse_record(raw: bytes) -> Record:
    """One decompressed WARC record; the payload without the HTTP head for responses."""
    record = next(iter(ArchiveIterator(io.BytesIO(raw))))
    headers = record.rec_headers
    http = record.http_headers if record.rec_type == "response" else None
    return Record(
        kind=record.rec_type,
        record_id=headers.get_header("WARC-Record-ID") or "",
        target=headers.get_header("WARC-Target-URI") or "",
        refers_to=headers.get_header("WARC-Concurrent-To") or headers.get_header("WARC-Refers-To"),
        content_type=(http or headers).get_header("Content-Type") or "",
        payload=record.raw_stream.read(),
        date=headers.get_header("WARC-Date") or "",
        status=_status(http.get_statuscode()) if http else None,
    )


def _status(code: str | None) -> int | None:
    try:
        return int(code or "")
    except ValueError:
        return None


class Captured(Protocol):
    """What the archive needs of a page: its bytes as received, and where and how it came.

    A ``RawPage`` is one; so is a ``Capture``, which the archive makes where
    it has no reason to decode the bytes (a response being archived, a record
    being catalogued).
    """

    @property
    def data(self) -> bytes: ...
    @property
    def origin(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def hints(self) -> PageHints: ...


@dataclass(frozen=True)
class Capture:
    """A page's bytes as received, with its origin, URL and hints, not decoded."""

    data: bytes
    origin: str
    url: str | None
    hints: PageHints


def record_capture(record: Record, meta: dict[str, Any]) -> Capture:
    """The page a response or resource record holds, with the origin and hints of its metadata."""
    url = None if record.target.startswith(URN) else record.target
    return Capture(record.payload, meta.get("origin") or record.target, url, parse_hints(meta.get("hints", {})))


def record_type(record: Record) -> str:
    """The page type ("text/html", "text/plain" or ``RECORD_TYPE``) of a response or resource record."""
    return record.content_type if record.kind == "resource" else page_type(record.content_type)


def members(f: IO[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """(offset, length, decompressed bytes) of each whole gzip member, in order.

    Stops at the first member that is cut short or damaged: the caller
    compares the end of the last member with the file size.
    """
    offset, chunk_start, data = 0, 0, b""
    inflater, parts = zlib.decompressobj(GZIP), []
    while True:
        if not data:
            chunk_start, data = f.tell(), f.read(_CHUNK)
            if not data:
                return
        try:
            parts.append(inflater.decompress(data))
        except zlib.error:
            return
        if not inflater.eof:
            data = b""
            continue
        end = chunk_start + len(data) - len(inflater.unused_data)
        yield offset, end - offset, b"".join(parts)
        offset, chunk_start, data = end, end, inflater.unused_data
        inflater, parts = zlib.decompressobj(GZIP), []


# --- metadata and identity -------------------------------------------------

NO_METADATA = b"{}"


def metadata_json(page: Captured, target: str) -> bytes:
    """The metadata record's payload: only what replay cannot know from the record itself."""
    hints = {k: _json_value(v) for k, v in asdict(page.hints).items() if v is not None}
    meta: dict[str, Any] = {}
    if page.origin != target:
        meta["origin"] = page.origin
    if hints:
        meta["hints"] = hints
    return json.dumps(meta, sort_keys=True, ensure_ascii=False).encode()


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value


def parse_hints(data: dict[str, Any]) -> PageHints:
    """The hints of a metadata record's JSON, back in their own types."""
    published = data.get("published")
    return PageHints(
        outlet=data.get("outlet"),
        author=data.get("author"),
        published=_published(published) if published else None,
        published_source=data.get("published_source"),
        url=data.get("url"),
    )


def _published(value: str) -> dt.date | dt.datetime:
    """Back to the very type stored: a date stays a date, a naive datetime stays naive."""
    return dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)


def json_object(payload: bytes) -> dict[str, Any]:
    """A metadata payload as a dict; an empty one when it is not JSON."""
    try:
        return dict(json.loads(payload))
    except (ValueError, TypeError):
        return {}


def target_of(page: Captured) -> str:
    """The target URI a page is archived under: its URL, else a URN of its bytes."""
    return page.url or URN + sha256(page.data)


def sha256(data: bytes) -> str:
    """The hex SHA-256 of the bytes: the catalogue's digest and the URN's name."""
    return hashlib.sha256(data).hexdigest()


# --- HTTP details ----------------------------------------------------------


def http_headers(status: int, headers: Iterable[tuple[str, str]], length: int) -> Any:
    """A response record's HTTP head, without the headers of a decoding already done."""
    kept = [(name, value) for name, value in headers if name.lower() not in _DECODED_HEADERS]
    kept.append(("Content-Length", str(length)))
    return StatusAndHeaders(f"{status} {_reason(status)}".strip(), kept, protocol="HTTP/1.1")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def page_type(content_type: str | None) -> str:
    """The cleaner knows plain text and HTML; the crawler keeps only HTML-like types."""
    mime = (content_type or "").split(";")[0].strip().lower()
    return "text/plain" if mime == "text/plain" else "text/html"


def warc_date(moment: dt.datetime) -> str:
    """WARC-Date in UTC, to the microsecond."""
    utc = moment.astimezone(dt.UTC) if moment.tzinfo else moment
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
