"""The archive: every page Newsdesk takes in, kept as WARC files.

It sits beside the pipeline, between sources and the cleaner: ``newsdesk
ingest`` (and the crawler) write each page here *before* cleaning it, so
``newsdesk reindex`` can replay every page through a better cleaner or into a
new schema without the network, even pages today's cleaner rejects, and
``newsdesk delete`` can take a page down for good.

    sources / crawl ─→ archive ─→ clean ─→ enrich ─→ index
                          └──── reindex (replay) ───┘

Layout: ``<instance>/archive/newsdesk-<UTC timestamp>-<counter>.warc.gz``,
gzipped WARC 1.1, one gzip member per record, a ``warcinfo`` record at the
head of each file; a file is closed for appends at ``MAX_FILE_BYTES``.

Records (``search.archive.warc``): ``response`` for a fetched page (``add_response``),
``resource`` for a file or a collection's record taken in by ``newsdesk ingest``
(``add_file``; a page imported from another WARC keeps its ``response``),
``metadata`` for the hints and origin that came with either.

Crash safety: each record is flushed as its own gzip member before it is
catalogued, so a killed process leaves at most one cut member at the end of
the last file. Replay skips it with a warning; the writer never appends after
damage but starts a new file, so nothing readable is ever cut away.

Catalogue: ``archive_files``, ``archive_records``, ``archive_keys`` and
``archive_articles`` in the instance directory's SQLite state database
(``search.state.open_local_state``; whatever the backend, also ``postgres``:
the catalogue describes the WARC files beside it, which one machine holds,
so it stays with them rather than in a database others share) say
which file and offset holds each record, under which keys (URLs, article
ids) a takedown finds it, and which article each page last became (``link``,
called by the pipeline after cleaning). It is checked against the files on
open (a file whose size differs is scanned again), so a lost or stale
database is rebuilt from the WARC files; only what ``link`` learned from the
cleaner waits for the next reindex then.

One writer: ``open_archive`` holds ``archive/.lock`` (waiting up to
``write_timeout``) until ``close``. Only ingest, crawl, reindex and delete
open the archive; the web app never does. A process waiting for it says so
by holding ``archive/.waiting`` shared meanwhile, and the writer can ask
(``writer_waiting``): a background crawl then stops early and resumes later,
rather than an ingest giving up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import io
import json
import logging
import os
import re
import sqlite3
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from warcio.exceptions import ArchiveLoadFailed
from warcio.recordbuilder import RecordBuilder
from warcio.warcwriter import WARCWriter

from search.archive.catalogue import DDL, LATEST_METADATA, LATEST_PAGE, LATEST_PAGES, Pending, pending_for
from search.archive.warc import (
    GZIP,
    NO_METADATA,
    WARC_VERSION,
    Capture,
    Captured,
    Record,
    http_headers,
    json_object,
    members,
    metadata_json,
    parse_hints,
    parse_record,
    record_capture,
    record_type,
    sha256,
    target_of,
    warc_date,
)
from search.decode import received_page
from search.errors import IndexBusy
from search.records import Article, PageHints, RawPage
from search.settings import Settings
from search.state import ensure_tables, open_local_state
from search.urls import article_id

log = logging.getLogger(__name__)

ARCHIVE_DIR = "archive"
#: A file is closed for appends once it reaches this size.
MAX_FILE_BYTES = 1 << 30
_NAME = re.compile(r"^newsdesk-\d{8}T\d{6}Z-(\d{5,})\.warc\.gz$")
_PAGE_KINDS = ("response", "resource")
#: Held shared by every process waiting for the archive's lock.
_WAITING = ".waiting"


class Archive:
    """The instance's WARC archive, open for writing (see the module docstring)."""

    def __init__(self, settings: Settings, max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.directory = settings.index / ARCHIVE_DIR
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_file_bytes = max_file_bytes
        self._lock = _acquire(self.directory / ".lock", settings.write_timeout)
        self._db = open_local_state(settings)
        # No fsync per catalogue commit: whatever a power cut loses of it, the
        # size check on the next open rebuilds from the WARC files.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._builder = RecordBuilder(warc_version=WARC_VERSION)
        self._out: IO[bytes] | None = None
        self._out_name = ""
        self._held = 0  # depth of ``holding``
        try:
            ensure_tables(self._db, DDL)
            _remove_leftovers(self.directory)
            self._refresh()
        except BaseException:
            self.close()  # never keep the lock for an archive nobody got
            raise

    # --- writing ---------------------------------------------------------

    def add_response(
        self,
        url: str,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        fetched_at: dt.datetime,
        hints: PageHints | None = None,
    ) -> bool:
        """Archive a fetched page; False when this URL already holds these bytes and hints."""
        http = http_headers(status, headers, len(body))
        page = Capture(body, url, url, hints or PageHints())
        record = self._builder.create_warc_record(
            url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http,
            warc_headers_dict={"WARC-Date": warc_date(fetched_at)},
        )
        return self._add(page, record)

    def add_file(self, page: RawPage) -> bool:
        """Archive a page taken in by ingest; False when it is archived already, hints and all.

        A page that came from another web archive (``page.fetched``: a WARC
        response) is kept as the response it was, captured when it was; any
        other (a file, a collection's record) as a ``resource``.
        """
        if page.fetched is not None and page.url:
            fetched = page.fetched
            return self.add_response(page.url, fetched.status, list(fetched.headers), page.data, fetched.at, page.hints)
        record = self._builder.create_warc_record(
            target_of(page), "resource", payload=io.BytesIO(page.data), length=len(page.data),
            warc_content_type=page.content_type,
        )
        return self._add(page, record)

    def link(self, page: RawPage, article: Article) -> None:
        """Note that ``page`` became ``article``, so a takedown by its id or canonical URL finds it.

        The note goes to the latest capture of the page's URI: the one just
        added, or the one just replayed.
        """
        latest = self._latest(target_of(page))
        if latest is None:
            return
        record_id, keys = latest["record_id"], {article.id, article.url} - {None}
        with self._writes():
            self._db.executemany(
                "INSERT OR IGNORE INTO archive_keys (record_id, key) VALUES (?, ?)", [(record_id, k) for k in keys]
            )
            self._db.execute("DELETE FROM archive_articles WHERE record_id = ?", (record_id,))
            self._db.execute("INSERT INTO archive_articles VALUES (?, ?)", (record_id, article.id))

    def delete(self, url_or_id: str) -> int:
        """Remove every page named by this URL or article id, with its metadata, from the files.

        Each affected file is rewritten without them (new file, fsync,
        atomic rename), so the bytes are really gone. Returns the number of
        pages (response or resource records) removed.
        """
        doomed = self._pages_named(url_or_id)
        if not doomed:
            return 0
        self._close_output()  # the file we append to may be rewritten under us
        drop = doomed | self._metadata_of(doomed)
        for name in self._files_holding(drop):
            self._rewrite(name, drop)
        with self._db:
            for table in ("archive_keys", "archive_articles"):
                self._db.executemany(f"DELETE FROM {table} WHERE record_id = ?", [(i,) for i in doomed])
        return len(doomed)

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Catalogue what is added and linked inside in one transaction, committed by ``commit`` or on the way out.

        A commit per page was most of the time archiving took (each rewrites
        the pages of the catalogue's indexes in the write-ahead log). Held,
        the catalogue may lag the files it describes, which costs nothing
        even if the process is killed: the records are in the files, which
        the next open scans again where the catalogue's size for them is
        stale. While writes are held, no other connection can write to the
        state database (it waits for them, up to its timeout, and in this
        same thread they would never come): the holder commits before it
        hands control to code that writes there.
        """
        self._held += 1
        try:
            yield
        except BaseException:
            self._held -= 1
            if not self._held:
                self._end_held()
            raise
        self._held -= 1
        if not self._held:
            self._db.commit()

    def commit(self) -> None:
        """Commit the catalogue writes held so far (see ``holding``)."""
        self._db.commit()

    def _end_held(self) -> None:
        """On an error: keep what was catalogued (it describes records already in the files), if SQLite still can."""
        try:
            self._db.commit()
        except sqlite3.Error:
            self._db.rollback()  # the size check on the next open catalogues them again

    @contextlib.contextmanager
    def _writes(self) -> Iterator[None]:
        """One unit of catalogue writes: committed at once, or with the rest when they are held."""
        if self._held:
            yield
        else:
            with self._db:
                yield

    # --- reading ---------------------------------------------------------

    def pages(self) -> Iterator[RawPage]:
        """Replay the archive: the latest record of each target URI as a ``RawPage``.

        In the order the pages were taken in, so where the index keeps the
        first of two copies (the same text under two ids of one outlet) it
        keeps the one it kept then. Pages that last became the same article
        (two URLs, one canonical link) come together, newest first: a run
        keeps the first copy of an id it meets, and the newest is the one
        the index holds. Nothing is left out, so a cleaner that now tells
        them apart indexes each.
        """
        for row in self._db.execute(LATEST_PAGES).fetchall():
            record = self._read(row["file"], row["offset"], row["length"])
            if record is not None:
                yield replayed_page(record, self._metadata(record.record_id))

    def __len__(self) -> int:
        """How many pages ``pages()`` replays."""
        sql = "SELECT COUNT(DISTINCT target_uri) FROM archive_records WHERE kind IN ('response', 'resource')"
        return int(self._db.execute(sql).fetchone()[0])

    def rebuild_catalogue(self) -> None:
        """Forget the catalogue and scan every WARC file again."""
        with self._db:
            self._db.execute("DELETE FROM archive_files")  # cascades to archive_records
            self._db.execute("DELETE FROM archive_keys")
            self._db.execute("DELETE FROM archive_articles")
        self._refresh()

    # --- lifetime --------------------------------------------------------

    def writer_waiting(self) -> bool:
        """Whether another process is waiting for this archive's lock (an ingest, say)."""
        with (self.directory / _WAITING).open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def close(self) -> None:
        self._close_output()
        if self._db.in_transaction:  # closed while writes were held
            self._end_held()
        self._db.close()
        self._lock.close()  # releases the flock

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # --- internals: adding -----------------------------------------------

    def _add(self, page: Captured, record: Any) -> bool:
        target, digest = target_of(page), sha256(page.data)
        meta = metadata_json(page, target)
        latest = self._latest(target)
        if latest is not None and latest["digest"] == digest:
            return self._update_metadata(target, latest["record_id"], meta)
        pending = [pending_for(record, target, digest, keys=_page_keys(page, target))]
        if meta != NO_METADATA:
            pending.append(self._metadata_record(target, pending[0].record_id, meta, "WARC-Concurrent-To"))
        self._append(pending)
        return True

    def _update_metadata(self, target: str, record_id: str, meta: bytes) -> bool:
        """Same bytes again: write a metadata record only if the hints or origin changed."""
        row = self._db.execute(LATEST_METADATA, (record_id,)).fetchone()
        if (row["digest"] if row else sha256(NO_METADATA)) == sha256(meta):
            return False
        self._append([self._metadata_record(target, record_id, meta, "WARC-Refers-To")])
        return True

    def _metadata_record(self, target: str, record_id: str, meta: bytes, relation: str) -> Pending:
        record = self._builder.create_warc_record(
            target, "metadata", payload=io.BytesIO(meta), length=len(meta),
            warc_content_type="application/json", warc_headers_dict={relation: record_id},
        )
        hints = parse_hints(json.loads(meta).get("hints", {}))
        return pending_for(record, target, sha256(meta), record_id, _hint_keys(hints))

    def _append(self, pending: list[Pending]) -> None:
        """Write the records (one gzip member each), flush, then catalogue them."""
        out = self._output()
        written: list[tuple[int, int, Pending]] = []
        for item in pending:
            start = out.tell()
            WARCWriter(out, gzip=True, warc_version=WARC_VERSION).write_record(item.record)
            written.append((start, out.tell() - start, item))
        out.flush()  # a process killed after this loses nothing it was told was archived
        with self._writes():
            for start, length, item in written:
                self._catalogue(self._out_name, start, length, item)
            self._db.execute(
                "UPDATE archive_files SET size = ?, clean_end = ? WHERE name = ?",
                (out.tell(), out.tell(), self._out_name),
            )

    def _output(self) -> IO[bytes]:
        """The file to append to: the last one while it is whole and small enough, else a new one."""
        if self._out is not None and self._out.tell() < self.max_file_bytes:
            return self._out
        self._close_output()
        last = self._db.execute("SELECT * FROM archive_files ORDER BY seq DESC LIMIT 1").fetchone()
        if last and last["clean_end"] == last["size"] and last["size"] < self.max_file_bytes:
            self._out, self._out_name = (self.directory / last["name"]).open("ab"), last["name"]
            return self._out
        return self._new_file(last["seq"] + 1 if last else 0)

    def _new_file(self, seq: int) -> IO[bytes]:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        self._out_name = f"newsdesk-{stamp}-{seq:05d}.warc.gz"
        self._out = (self.directory / self._out_name).open("xb")
        with self._writes():
            self._db.execute("INSERT INTO archive_files VALUES (?, ?, 0, 0)", (self._out_name, seq))
        info = self._builder.create_warcinfo_record(self._out_name, {"software": "Newsdesk", "format": "WARC/1.1"})
        self._append([pending_for(info, "", "")])
        _fsync_dir(self.directory)
        return self._out

    def _close_output(self) -> None:
        if self._out is not None:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None

    def _catalogue(self, name: str, offset: int, length: int, item: Pending) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO archive_records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (name, offset, length, item.kind, item.record_id, item.refers_to, item.target, item.digest),
        )
        page_id = item.refers_to if item.kind == "metadata" else item.record_id
        self._db.executemany(
            "INSERT OR IGNORE INTO archive_keys (record_id, key) VALUES (?, ?)", [(page_id, k) for k in item.keys]
        )

    def _latest(self, target: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(LATEST_PAGE, (target,)).fetchone()
        return row

    # --- internals: reading and scanning ---------------------------------

    def _read(self, name: str, offset: int, length: int) -> Record | None:
        with (self.directory / name).open("rb") as f:
            f.seek(offset)
            raw = f.read(length)
        try:
            return parse_record(zlib.decompress(raw, GZIP))
        except (zlib.error, ArchiveLoadFailed, StopIteration, ValueError) as e:
            log.warning("archive %s: unreadable record at %d (%s); skipped", name, offset, e)
            return None

    def _metadata(self, record_id: str) -> dict[str, Any]:
        row = self._db.execute(LATEST_METADATA, (record_id,)).fetchone()
        record = self._read(row["file"], row["offset"], row["length"]) if row else None
        return dict(json.loads(record.payload)) if record else {}

    def _refresh(self) -> None:
        """Bring the catalogue in line with the files: scan any file it does not know as it is."""
        on_disk = {p.name: p.stat().st_size for p in self.directory.iterdir() if _NAME.match(p.name)}
        known = {row["name"]: row["size"] for row in self._db.execute("SELECT name, size FROM archive_files")}
        with self._db:
            self._db.executemany("DELETE FROM archive_files WHERE name = ?", [(n,) for n in known.keys() - on_disk])
        for name in sorted(on_disk, key=_seq):
            if known.get(name) != on_disk[name]:
                self._scan(name)
        with self._db:  # notes on records no file holds any more
            for table in ("archive_keys", "archive_articles"):
                self._db.execute(f"DELETE FROM {table} WHERE record_id NOT IN (SELECT record_id FROM archive_records)")

    def _scan(self, name: str) -> None:
        """Catalogue one file from its bytes, stopping (with a warning) at a cut or damaged tail."""
        path = self.directory / name
        items: list[tuple[int, int, Pending]] = []
        clean_end = 0
        with path.open("rb") as f:
            for offset, length, raw in members(f):
                clean_end = offset + length
                item = _pending_from(raw)
                if item is None:
                    log.warning("archive %s: record at %d is not WARC; skipped", name, offset)
                else:
                    items.append((offset, length, item))
        size = path.stat().st_size
        if clean_end < size:
            log.warning("archive %s: %d bytes after the last complete record skipped", name, size - clean_end)
        with self._db:
            self._db.execute("DELETE FROM archive_files WHERE name = ?", (name,))
            self._db.execute("INSERT INTO archive_files VALUES (?, ?, ?, ?)", (name, _seq(name), size, clean_end))
            for offset, length, item in items:
                self._catalogue(name, offset, length, item)

    # --- internals: deleting ---------------------------------------------

    def _pages_named(self, key: str) -> set[str]:
        rows = self._db.execute(
            "SELECT DISTINCT k.record_id FROM archive_keys k JOIN archive_records r ON r.record_id = k.record_id"
            " WHERE k.key = ? AND r.kind IN ('response', 'resource')",
            (key.strip(),),
        )
        return {row[0] for row in rows}

    def _metadata_of(self, record_ids: set[str]) -> set[str]:
        sql = "SELECT record_id FROM archive_records WHERE refers_to = ?"
        return {row[0] for record_id in record_ids for row in self._db.execute(sql, (record_id,))}

    def _files_holding(self, record_ids: set[str]) -> list[str]:
        sql = "SELECT DISTINCT file FROM archive_records WHERE record_id = ?"
        return sorted({row[0] for record_id in record_ids for row in self._db.execute(sql, (record_id,))})

    def _rewrite(self, name: str, drop: set[str]) -> None:
        """Copy a file without the dropped records (and any cut tail), then swap it in atomically."""
        path = self.directory / name
        temporary = path.with_name(name + ".tmp")
        with path.open("rb") as scan, path.open("rb") as source, temporary.open("wb") as out:
            for offset, length, raw in members(scan):
                item = _pending_from(raw)
                if item is None or item.record_id not in drop:
                    source.seek(offset)
                    out.write(source.read(length))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
        _fsync_dir(self.directory)
        self._scan(name)


def open_archive(settings: Settings, max_file_bytes: int = MAX_FILE_BYTES) -> Archive:
    """Open the instance's archive for writing, waiting for another writer up to ``write_timeout``."""
    return Archive(settings, max_file_bytes)


# --- records and their keys ------------------------------------------------


def _pending_from(raw: bytes) -> Pending | None:
    """What the catalogue needs of a record found in a file (the same as when it was written)."""
    try:
        record = parse_record(raw)
    except (ArchiveLoadFailed, StopIteration, ValueError):
        return None
    item = Pending(record.kind, record.record_id, record.target, sha256(record.payload), record.refers_to)
    if record.kind in _PAGE_KINDS:
        item.keys = _page_keys(record_capture(record, {}), record.target)
    elif record.kind == "metadata":
        item.keys = _hint_keys(parse_hints(json_object(record.payload).get("hints", {})))
    return item


def replayed_page(record: Record, meta: dict[str, Any]) -> RawPage:
    """The page as the pipeline first took it in, decoded as it was then: a
    fetched response by its HTTP header, ``<meta>`` and detection, a file as
    ingest decodes one (``search.decode``). Replay and the read-only reader
    (``search.archive.reader``) both decode through here, so an article's
    original page shows the very text its cleaner was given."""
    page = record_capture(record, meta)
    header = (record.content_type or "") if record.kind == "response" else None
    return received_page(page.data, page.origin, record_type(record), page.url, page.hints, http_content_type=header)


def _page_keys(page: Captured, target: str) -> set[str]:
    """The names a takedown may use for a page: URLs and the article ids the index derives from them."""
    keys = {target, article_id(None, page.data)}
    if page.url:
        keys |= {page.url, article_id(page.url, page.data)}
    return keys | _hint_keys(page.hints)


def _hint_keys(hints: PageHints) -> set[str]:
    return {hints.url, article_id(hints.url, b"")} if hints.url else set()


# --- files -----------------------------------------------------------------


def _seq(name: str) -> int:
    match = _NAME.match(name)
    return int(match.group(1)) if match else -1


def _acquire(path: Path, timeout: float) -> IO[bytes]:
    """Hold the archive's one-writer lock, waiting up to ``timeout`` seconds (and saying so, meanwhile)."""
    handle = path.open("a+b")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return handle
    except BlockingIOError:
        pass
    deadline = time.monotonic() + timeout
    with path.with_name(_WAITING).open("a") as waiting:
        fcntl.flock(waiting, fcntl.LOCK_SH)  # released with the file, whatever happens below
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return handle
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.close()
                    raise IndexBusy(
                        f"another process is writing to the archive in {path.parent} (waited {timeout:g} s)",
                        hint="wait for the other ingest, crawl or reindex to finish, or raise NEWSDESK_WRITE_TIMEOUT",
                    ) from None
                time.sleep(0.05)


def _remove_leftovers(directory: Path) -> None:
    """A rewrite killed before its rename leaves a ``.tmp`` copy: the original is intact."""
    for leftover in directory.glob("*.warc.gz.tmp"):
        leftover.unlink()


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
