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
  (``search.archive``) keeps the files ``ingest`` took in, and a ``metadata``
  record that Newsdesk wrote with a page (``WARC-Concurrent-To``, its JSON
  hints: a manifest's outlet, date or URL) rides along with it;
* everything else is skipped and counted, with why: requests, revisits
  (they repeat an earlier capture), ``warcinfo``, other metadata,
  non-HTML answers (images, scripts, style sheets, DNS), answers other than
  200 (redirects, errors) and bodies over the size limit.

The file is streamed: one record in memory at a time (and the page before it,
until the next record shows whether it is that page's metadata).
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
    with path.open("rb") as raw:
        records = ArchiveIterator(raw, arc2warc=True)
        held: tuple[RawPage, str] | None = None  # a page and its record id, until its metadata may follow
        try:
            for record in records:
                where = f"{path}#{records.offset}"
                kind = record.rec_type
                if held is not None and kind == "metadata" and _concurrent(record) == held[1]:
                    yield _with_metadata(held[0], record), raw.tell()
                    held = None
                    continue
                if held is not None:
                    yield held[0], raw.tell()
                    held = None
                item = _item(record, where, manifest)
                if isinstance(item, RawPage):
                    held = (item, record.rec_headers.get_header("WARC-Record-ID") or "")
                else:
                    yield item, raw.tell()
        except (ArchiveLoadFailed, OSError, EOFError, ValueError) as e:
            if held is not None:
                yield held[0], raw.tell()
                held = None
            yield Skipped(str(path), f"cannot read on from offset {records.offset}: {e}"), raw.tell()
        if held is not None:
            yield held[0], raw.tell()


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
    if status != 200:
        return Skipped(where, f"HTTP {status} answer, not 200 ({url})")
    if mime not in HTML_TYPES:
        return Skipped(where, f"{mime or 'untyped'} answer, not HTML ({url})")
    body = _body(record)
    if body is None:
        return Skipped(where, f"body over {MAX_RECORD_BYTES // 2**20} MiB ({url})")
    headers = tuple((str(name), str(value)) for name, value in http.headers)
    fetched = Fetched(status, headers, _capture_date(record))
    page = received_page(body, where, "text/html", url, _hints(body, manifest),
                         http_content_type=http.get_header("Content-Type") or "")
    return replace(page, fetched=fetched)


def _resource(record: Any, where: str, manifest: dict[str, PageHints]) -> RawPage | Skipped:
    mime = _mime(record.rec_headers.get_header("Content-Type"))
    target = _target(record)
    if mime not in _RESOURCE_TYPES:
        return Skipped(where, f"a {mime or 'untyped'} resource, not a page ({target})")
    body = _body(record)
    if body is None:
        return Skipped(where, f"body over {MAX_RECORD_BYTES // 2**20} MiB ({target})")
    url = None if not target or target.startswith(_URN) else target
    return received_page(body, where, mime, url, _hints(body, manifest))


def _with_metadata(page: RawPage, record: Any) -> RawPage:
    """The page with the hints of the metadata record Newsdesk wrote beside it (the same JSON its archive reads)."""
    try:
        meta = json.loads(record.content_stream().read(MAX_RECORD_BYTES))
        stated = meta.get("hints", {}) if isinstance(meta, dict) else {}
    except (ValueError, AttributeError):
        return page
    if not isinstance(stated, dict) or page.hints != PageHints():
        return page  # a manifest of this run wins over what an earlier run stated
    published = stated.get("published")
    hints = PageHints(
        outlet=_str(stated.get("outlet")), author=_str(stated.get("author")), url=_str(stated.get("url")),
        published=parse_iso(published) if isinstance(published, str) else None,
        published_source=_str(stated.get("published_source")),
    )
    if hints.published is None:
        hints = PageHints(outlet=hints.outlet, author=hints.author, url=hints.url)
    return replace(page, hints=hints, url=page.url or hints.url)


def _concurrent(record: Any) -> str | None:
    value = record.rec_headers.get_header("WARC-Concurrent-To")
    return str(value) if value else None


def _body(record: Any) -> bytes | None:
    body = record.content_stream().read(MAX_RECORD_BYTES + 1)
    return None if len(body) > MAX_RECORD_BYTES else bytes(body)


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
