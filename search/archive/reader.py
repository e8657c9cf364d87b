"""The archive read, never written: the page an article was made from, for the web app's "original page".

Pipeline: beside it, between sources and the cleaner; read from above, by
the web app (``web.articles``), which never opens the archive for writing.
So this module takes no ``archive/.lock`` (a crawl or ingest writing
meanwhile is never kept waiting, nor keeps a reader waiting), opens the
catalogue read-only (``search.state``) and creates, scans or repairs
nothing: a catalogue that is missing or stale is the writer's to rebuild,
and until then an article simply has no original page here.

``locate_original`` asks the catalogue alone (``ARTICLE_PAGE``, else
``KEYED_PAGE``: ``search.archive.catalogue``), cheap enough for every
article page; ``read_original`` reads the record and decodes its bytes
exactly as replay does (``replayed_page``), so the text shown is the text
the cleaner was given.

A takedown (``search.takedown``) rewrites a WARC file in place (new file,
atomic rename) before its catalogue follows, so for a moment the catalogue
may name an offset that now holds another record or none: every record read
is checked against the id the catalogue gave, asked again a few times, and
refused as busy (503) rather than ever answering with another page's bytes.

Exports: ``Located``, ``Original``, ``locate_original``, ``read_original``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from warcio.exceptions import ArchiveLoadFailed

from search.archive.catalogue import ARTICLE_PAGE, KEYED_PAGE, LATEST_METADATA
from search.archive.store import ARCHIVE_DIR, replayed_page
from search.archive.warc import GZIP, URN, Record, parse_record
from search.errors import IndexBusy
from search.settings import Settings
from search.state import open_local_state, state_path

log = logging.getLogger(__name__)

#: Reads of a record whose file is being rewritten under the catalogue, and the pause between them.
_ATTEMPTS, _PAUSE = 4, 0.05


@dataclass(frozen=True)
class Located:
    """Where the catalogue says an article's page is: a ``response`` or ``resource`` record."""

    record_id: str
    kind: str
    target: str  # the record's target URI: the page's URL, else ``urn:newsdesk:sha256:…``
    file: str
    offset: int
    length: int
    digest: str  # SHA-256 of the bytes, hex


@dataclass(frozen=True)
class Original:
    """An article's page as archived, and as its cleaner read it."""

    article_id: str
    kind: str  # "response": fetched (by the crawler, or in an imported WARC); "resource": a file or record ingested
    url: str | None  # the page's URL; None for a file or record that states none
    captured: dt.datetime | None  # WARC-Date, UTC: when the response was fetched, the resource taken in
    status: int | None  # a response's HTTP status
    content_type: str  # a response's Content-Type header; a resource's type
    page_type: str  # how the cleaner read it: "text/html", "text/plain" or ``RECORD_TYPE``
    origin: str  # the file (or ``file:line`` of a collection) ingested; a fetched page's URL
    digest: str  # SHA-256 of ``data``, hex, as catalogued
    data: bytes  # the bytes as archived
    text: str  # ``data`` decoded as the cleaner decoded it ("" when ``unreadable``)
    unreadable: str | None  # why ``data`` has no text


def locate_original(settings: Settings, article_id: str) -> Located | None:
    """Where the page ``article_id`` was made from is archived; None when it is not (or no catalogue says)."""
    connection = _catalogue(settings)
    if connection is None:
        return None
    try:
        return _locate(connection, article_id)
    finally:
        connection.close()


def read_original(settings: Settings, article_id: str) -> Original | None:
    """The archived page ``article_id`` was made from, read and decoded; None when none is archived.

    Raises ``IndexBusy`` when the record cannot be read as the catalogue
    names it, asked again meanwhile: a file rewritten by a takedown just now,
    or damaged.
    """
    connection = _catalogue(settings)
    if connection is None:
        return None
    try:
        for attempt in range(_ATTEMPTS):
            if attempt:
                time.sleep(_PAUSE)
            located = _locate(connection, article_id)
            if located is None:
                return None
            record = _read(settings.index / ARCHIVE_DIR, located)
            if record is not None and record.record_id == located.record_id:
                return _original(article_id, located, record, _metadata(connection, settings, located.record_id))
            log.warning("archive %s: no record %s at %d (article %s)%s", located.file, located.record_id,
                        located.offset, article_id, "" if attempt + 1 < _ATTEMPTS else "; given up")
    finally:
        connection.close()
    raise IndexBusy(
        f"the archived page of article {article_id} cannot be read just now",
        hint="its archive file may be being rewritten: try again in a moment (if it persists, see the server log)",
    )


# --- internals ---------------------------------------------------------------


def _catalogue(settings: Settings) -> sqlite3.Connection | None:
    """The catalogue (the instance directory's SQLite state, whatever the backend: search/archive/store.py),
    read-only; None when there is none yet (nothing is created)."""
    if not state_path(settings).is_file():
        return None
    try:
        return open_local_state(settings, readonly=True)
    except sqlite3.OperationalError:
        return None


def _locate(connection: sqlite3.Connection, article_id: str) -> Located | None:
    try:
        row = connection.execute(ARTICLE_PAGE, (article_id,)).fetchone()
        if row is None:
            row = connection.execute(KEYED_PAGE, (article_id,)).fetchone()
    except sqlite3.OperationalError:  # a state database made before anything was archived: no tables
        return None
    if row is None:
        return None
    return Located(row["record_id"], row["kind"], row["target_uri"], row["file"], row["offset"], row["length"],
                   row["digest"])


def _read(directory: Path, located: Located) -> Record | None:
    """The record at the catalogued place, or None when the place holds no whole record (now)."""
    if Path(located.file).name != located.file:  # a catalogue names files in archive/, never elsewhere
        return None
    try:
        with (directory / located.file).open("rb") as f:
            f.seek(located.offset)
            raw = f.read(located.length)
        return parse_record(zlib.decompress(raw, GZIP))
    except (OSError, zlib.error, ArchiveLoadFailed, StopIteration, ValueError):
        return None


def _metadata(connection: sqlite3.Connection, settings: Settings, record_id: str) -> dict[str, object]:
    """The page's latest metadata record (origin, hints), as replay reads it; {} when none can be read."""
    row = connection.execute(LATEST_METADATA, (record_id,)).fetchone()
    if row is None:
        return {}
    place = Located(row["record_id"], row["kind"], row["target_uri"], row["file"], row["offset"], row["length"],
                    row["digest"])
    record = _read(settings.index / ARCHIVE_DIR, place)
    if record is None or record.record_id != place.record_id:
        return {}
    try:
        meta = json.loads(record.payload)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _original(article_id: str, located: Located, record: Record, meta: dict[str, object]) -> Original:
    page = replayed_page(record, meta)
    return Original(
        article_id=article_id,
        kind=record.kind,
        url=None if record.target.startswith(URN) else record.target,
        captured=_moment(record.date),
        status=record.status,
        content_type=record.content_type,
        page_type=page.content_type,
        origin=page.origin,
        digest=located.digest,
        data=record.payload,
        text=page.text,
        unreadable=page.unreadable,
    )


def _moment(value: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
