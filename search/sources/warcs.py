"""Web archives: WARC files (``.warc``, ``.warc.gz``) read with warcio, one page per HTML capture.

Part of the sources stage (``search.sources``). A WARC holds every exchange
of a crawl; the articles are in its HTML answers. So:

* a ``response`` record with status 200 and an HTML content type becomes a
  ``RawPage``: its target URI, its body (transfer and content encodings
  undone by warcio), decoded as the crawler decodes a fetched page, and
  ``fetched`` with the status, headers and capture date (``WARC-Date``): the
  archive keeps it as a response captured then;
* a ``resource`` record of a page type (``text/html``, ``text/plain``, a
  Newsdesk record) becomes a page too: that is how Newsdesk's own archive
  (``search.archive``) keeps the files ``ingest`` took in, and the JSON
  hints (a manifest's outlet, date or URL) of the ``metadata`` record
  Newsdesk wrote with a page (``WARC-Concurrent-To``) or later, when the same
  page came again with new hints (``WARC-Refers-To``; the latest wins, as in
  its replay), ride along with it;
* everything else is skipped and counted, with why: requests, revisits
  (they repeat an earlier capture), ``warcinfo``, other metadata,
  non-HTML answers (images, scripts, style sheets, DNS), answers other than
  200 (redirects, errors) and bodies over the size limit.

The file is streamed: one record in memory at a time (and the page before it,
until the next record shows whether it is that page's metadata), after a
first pass over the record headers that notes where later metadata records
are. A cut or damaged file gives what came before the damage, and a
``Skipped`` saying where it starts (warcio itself stops there quietly).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from search.decode import received_page
from search.records import RECORD_TYPE, Fetched, PageHints, RawPage, Skipped
from search.sources.tables import MAX_RECORD_BYTES, Read
from search.timeparse import parse_iso

#: Content types of an HTTP answer that hold a page.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
#: Content types of a resource record that hold a page (Newsdesk's archive writes these).
_RESOURCE_TYPES = frozenset({"text/html", "text/plain", RECORD_TYPE})
#: The URN Newsdesk's archive names a file by when it has no URL (``search.archive.warc.URN``).
_URN = "urn:newsdesk:sha256:"


def read_warc(path: Path, manifest: dict[str, PageHints]) -> Iterator[Read]:
    """The pages of a WARC file, in order, and a ``Skipped`` for every other record.

    ``manifest`` hints apply to a page whose body has their SHA-256, as they do to a file.
    """
    later = _later_metadata(path)
    with path.open("rb") as raw:
        records = ArchiveIterator(raw, arc2warc=True)
        held: tuple[RawPage, str] | None = None  # a page and its record id, until its metadata may follow
        try:
            for record in records:
                where = f"{path}#{records.offset}"
                if held is not None:
                    if record.rec_type == "metadata" and _concurrent(record) == held[1]:
                        yield _with_metadata(held[0], record, path, later.get(held[1])), raw.tell()
                        held = None
                        continue
                    yield _with_metadata(held[0], None, path, later.get(held[1])), raw.tell()
                    held = None
                item = _item(record, where, manifest)
                if isinstance(item, RawPage):
                    held = (item, str(record.rec_headers.get_header("WARC-Record-ID") or ""))
                elif _refers(record) in later:
                    yield Skipped(where, "a metadata record (its hints went with the page it refers to)"), raw.tell()
                else:
                    yield item, raw.tell()
        except _DAMAGE as e:
            yield Skipped(str(path), f"cannot read on from offset {records.offset}: {type(e).__name__}: {e}"), raw.tell()
        if held is not None:
            yield _with_metadata(held[0], None, path, later.get(held[1])), raw.tell()
        size = path.stat().st_size
        if records.offset < size:  # warcio stops quietly at a cut record
            yield Skipped(str(path), f"{size - records.offset:,} bytes from offset {records.offset} are no whole "
                                     "WARC record (a cut or damaged file)"), raw.tell()


#: What warcio raises on a damaged file (an AttributeError for some cut headers).
_DAMAGE = (ArchiveLoadFailed, OSError, EOFError, ValueError, AttributeError, KeyError)


def _later_metadata(path: Path) -> dict[str, int]:
    """Page record id → offset of the latest JSON metadata record written for it later (``WARC-Refers-To``).

    Newsdesk's archive writes one when the same page came again with new
    hints (a manifest given later); the latest wins, as in its replay. A
    first pass over the headers finds them: there are few, and a page's own
    come after it.
    """
    found: dict[str, int] = {}
    with path.open("rb") as raw:
        records = ArchiveIterator(raw, no_record_parse=True, arc2warc=True)
        try:
            for record in records:
                target = _refers(record)
                if target and _mime(record.rec_headers.get_header("Content-Type")) == "application/json":
                    found[target] = records.offset
        except _DAMAGE:
            pass  # the main pass reports the damage
    return found


def _item(record: Any, where: str, manifest: dict[str, PageHints]) -> RawPage | Skipped:
    kind = record.rec_type
    if kind == "response":
        return _response(record, where, manifest)
    if kind == "resource":
        return _resource(record, where, manifest)
    reasons = {
        "request": "a request record, not a page",
        "revisit": "a revisit record (the same capture as an earlier one; its body is not repeated)",
        "warcinfo": "a warcinfo record (about the file, not a page)",
        "metadata": "a metadata record not written with the page before it",
    }
    return Skipped(where, reasons.get(kind, f"a {kind} record, not a page"))


def _response(record: Any, where: str, manifest: dict[str, PageHints]) -> RawPage | Skipped:
    http = record.http_headers
    if http is None:
        return Skipped(where, f"a response without HTTP headers ({_target(record) or 'no target URI'})")
    status = int(http.get_statuscode() or 0)
    mime = _mime(http.get_header("Content-Type"))
    url = _target(record)
    if not url:
        return Skipped(where, "a response without a target URI")
    if status != 200:
        return Skipped(where, f"HTTP {status} answer, not 200 ({url})")
    if mime not in HTML_TYPES:
        return Skipped(where, f"{mime or 'untyped'} answer, not HTML ({url})")
    body = _body(record)
    if isinstance(body, str):
        return Skipped(where, f"{body} ({url})")
    headers = tuple((str(name), str(value)) for name, value in http.headers)
    fetched = Fetched(status, headers, _capture_date(record))
    # Its origin is its URL, as for a page the crawler fetched: the archive
    # keeps it as such a response, and a replay gives the same origin back.
    page = received_page(body, url, "text/html", url, _hints(body, manifest),
                         http_content_type=http.get_header("Content-Type") or "")
    return replace(page, fetched=fetched)


def _resource(record: Any, where: str, manifest: dict[str, PageHints]) -> RawPage | Skipped:
    mime = _mime(record.rec_headers.get_header("Content-Type"))
    target = _target(record)
    if mime not in _RESOURCE_TYPES:
        return Skipped(where, f"a {mime or 'untyped'} resource, not a page ({target})")
    body = _body(record)
    if isinstance(body, str):
        return Skipped(where, f"{body} ({target})")
    url = None if not target or target.startswith(_URN) else target
    return received_page(body, where, mime, url, _hints(body, manifest))


def _with_metadata(page: RawPage, beside: Any, path: Path, later: int | None) -> RawPage:
    """The page with the hints Newsdesk's archive stated for it: in the metadata
    record written beside it, or the latest written later (at offset ``later``),
    which wins. A manifest given to this run wins over both."""
    stated = _stated_hints(beside) if beside is not None else None
    if later is not None:
        with path.open("rb") as raw:
            raw.seek(later)
            try:
                stated = _stated_hints(next(iter(ArchiveIterator(raw, arc2warc=True))))
            except (*_DAMAGE, StopIteration):
                pass
    if stated is None or page.hints != PageHints():
        return page
    published = stated.get("published")
    hints = PageHints(
        outlet=_str(stated.get("outlet")), author=_str(stated.get("author")), url=_str(stated.get("url")),
        published=parse_iso(published) if isinstance(published, str) else None,
        published_source=_str(stated.get("published_source")),
    )
    if hints.published is None:
        hints = PageHints(outlet=hints.outlet, author=hints.author, url=hints.url)
    return replace(page, hints=hints, url=page.url or hints.url)


def _stated_hints(record: Any) -> dict[str, Any] | None:
    """The ``hints`` of a Newsdesk metadata record's JSON, or None."""
    try:
        meta = json.loads(record.content_stream().read(MAX_RECORD_BYTES))
    except ValueError:
        return None
    hints = meta.get("hints", {}) if isinstance(meta, dict) else None
    return hints if isinstance(hints, dict) else None


def _refers(record: Any) -> str | None:
    if record.rec_type != "metadata":
        return None
    value = record.rec_headers.get_header("WARC-Refers-To")
    return str(value) if value else None


def _concurrent(record: Any) -> str | None:
    value = record.rec_headers.get_header("WARC-Concurrent-To")
    return str(value) if value else None


def _body(record: Any) -> bytes | str:
    """The record's body, or why it is not read: over the size limit, or cut short."""
    body = record.content_stream().read(MAX_RECORD_BYTES + 1)
    if len(body) > MAX_RECORD_BYTES:
        return f"body over {MAX_RECORD_BYTES // 2**20} MiB"
    if getattr(record.raw_stream, "limit", 0) > 0:  # fewer bytes than its Content-Length: a cut file
        return "body cut short"
    return bytes(body)


def _target(record: Any) -> str:
    return str(record.rec_headers.get_header("WARC-Target-URI") or "").strip("<>")


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _capture_date(record: Any) -> dt.datetime:
    stated = record.rec_headers.get_header("WARC-Date") or ""
    moment = parse_iso(stated.replace("Z", "+00:00"))
    if isinstance(moment, dt.datetime):
        return moment
    if isinstance(moment, dt.date):
        return dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.UTC)
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # no date: the archive needs one; none is invented later


def _hints(body: bytes, manifest: dict[str, PageHints]) -> PageHints:
    return manifest.get(hashlib.sha256(body).hexdigest(), PageHints()) if manifest else PageHints()


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
