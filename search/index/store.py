"""The index stage: enriched ``Article`` records in, a Whoosh index out.

Last stage of the ingest pipeline. Owns the on-disk layout of the Whoosh part
of the instance directory, its schema version and the single-writer rule:
an ingest waits for the write lock (up to ``write_timeout``) and commits in
batches, each commit atomic, so a process killed mid-ingest leaves the last
committed index intact; the server only opens searchers, which never lock.
Takedowns delete by id (``delete_articles``); a rebuilt index is swapped in
whole (``replace_index``). What one stored document holds is search/index/document.py's.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.index import FileIndex, LockError
from whoosh.writing import SegmentWriter

from search.errors import IndexBusy, IndexMissing, IndexUnavailable, SchemaMismatch
from search.index.document import to_fields
from search.index.duplicates import Copy, CopyFinder, duplicate_of, nearest
from search.index.mapped import MappedStorage
from search.index.schema import SCHEMA_VERSION, build_schema
from search.index.sequence import Sequence, open_sequence
from search.index.writer import Analysed, analyse, open_writer
from search.records import Article
from search.settings import Settings

__all__ = [
    "IndexReport",
    "PreparedArticle",
    "create_index",
    "delete_articles",
    "fingerprints",
    "open_index",
    "prepare_article",
    "replace_index",
    "write_articles",
]

_VERSION_FILE = "newsdesk-schema.json"
_TOC = re.compile(r"_MAIN_\d+\.toc")  # Whoosh's table of contents, one per generation
#: Times to read the index's table of contents when a commit deletes it meanwhile (see ``_open``).
_OPEN_ATTEMPTS = 10
#: Memory for a writer's postings before it sorts them on disk (Whoosh's default).
_WRITER_MB = 128


@dataclass
class IndexReport:
    """What one run did to the index; ``skipped`` maps a source to its reason."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # Pages the cleaner failed on (search.errors.ExtractorFailed), by source: errors, not skips.
    failed: list[tuple[str, str]] = field(default_factory=list)
    # Same text as an article of the same outlet already stored under another
    # id: not stored again. ``duplicates`` pairs the origin with that id.
    duplicate: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    removed: int = 0  # reindex: articles of the old index the archive no longer gives


def open_index(settings: Settings, directory: Path | None = None) -> FileIndex:
    """Open the index (``directory``, default the live one) for reading or writing, checking its schema version."""
    path = directory or settings.index_dir
    if not _exists(path):
        raise IndexMissing(
            f"no index in {settings.index}",
            hint=f"build one with: newsdesk ingest seeds/articles --index {settings.index}",
        )
    found = _read_version(path)
    if found != SCHEMA_VERSION:
        what = f"schema version {found}" if found is not None else "no schema version (its creation was cut short)"
        raise SchemaMismatch(
            f"the index in {settings.index} has {what}, this Newsdesk needs {SCHEMA_VERSION}",
            hint=f"rebuild it from its archive: newsdesk reindex --index {settings.index} "
                 f"(with nothing archived: newsdesk ingest PATH --rebuild --index {settings.index})",
        )
    return _open(path)


def create_index(settings: Settings, directory: Path | None = None) -> FileIndex:
    """Create an empty index with its schema version where there is none usable (whatever is there goes).

    Made beside (``<dir>.creating``), stamped, then renamed into place: a
    process killed meanwhile leaves no index rather than one without a
    schema version, which nothing could open or rebuild.
    """
    path = directory or settings.index_dir
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(path.name + ".creating")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    whoosh_index.create_in(str(fresh), build_schema())
    (fresh / _VERSION_FILE).write_text(json.dumps({"schema_version": SCHEMA_VERSION}) + "\n")
    shutil.rmtree(path, ignore_errors=True)
    fresh.rename(path)
    return _open(path)


def _exists(path: Path) -> bool:
    """Whether ``path`` holds a Whoosh index, told by its TOC file's name alone.

    Not ``whoosh.index.exists_in``: that unpickles the schema, which for an
    index of an older version may name classes this Newsdesk no longer has;
    the version is checked first (``open_index``).
    """
    return path.is_dir() and any(_TOC.fullmatch(name) for name in os.listdir(path))


def _open(path: Path) -> FileIndex:
    """The index in ``path``, its files read through memory maps (search/index/mapped.py), not copied per searcher.

    Opening reads the newest table of contents in the directory listing; a
    commit finishing meanwhile writes a newer one and deletes that one, so
    the read fails on a file that was just there. Whoosh retries the same way
    when a searcher's segment files vanish (``FileIndex.reader``), but not
    when an index is opened.
    """
    storage = MappedStorage(str(path))
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            return storage.open_index()
        except FileNotFoundError:
            if attempt == _OPEN_ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (attempt + 1))  # the newer table of contents is already written
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class PreparedArticle:
    """An article with the part of its writing that needs no index done: its document made, its texts analysed.

    ``prepare_article`` makes one anywhere (search/pipeline.py's worker
    processes do, beside cleaning and enriching); ``write_articles`` takes it
    as it takes the ``Article``, and writes the same index, with less work
    left for the one writer.
    """

    article: Article
    document: dict[str, Any]
    analysed: Analysed


def prepare_article(article: Article) -> PreparedArticle:
    """``article``'s document and analysed texts, as ``write_articles`` would make them."""
    document = to_fields(article)
    return PreparedArticle(article, document, analyse(document, _schema()))


@cache
def _schema() -> Any:
    return build_schema()


def write_articles(
    articles: Iterable[Article | PreparedArticle],
    settings: Settings,
    report: IndexReport | None = None,
    directory: Path | None = None,
    on_commit: Callable[[], None] | None = None,
) -> IndexReport:
    """Add or update articles by id, committing every ``batch_size`` articles.

    An article whose stored fingerprint is unchanged is counted and left as
    it is, so re-ingesting the same files rewrites nothing. A new article
    with the text of one its outlet already has is a duplicate, not stored;
    copies across outlets are stored and share a cluster id
    (``search.index.duplicates``). Each article carries its ingest number
    (``search.index.sequence``). ``directory`` writes elsewhere than the live
    index (reindex builds ``whoosh.new/``). ``on_commit`` runs after each
    batch is committed (ingest and crawl run instant alerts there). Any of
    the articles may come prepared (``prepare_article``).
    """
    report = report or IndexReport()
    path = directory or settings.index_dir
    ix = open_index(settings, path) if _exists(path) else create_index(settings, directory=path)
    for batch in batches(articles, settings.batch_size):
        writer = _writer(ix, settings)
        with open_sequence(settings) as sequence:  # read under the write lock: numbers in commit order
            try:
                sequence.expect(prepared.article.id for prepared in batch)
                finder = _write_batch(writer, batch, report, sequence)
                sequence.save()
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
            sequence.confirm()
        segment = writer.get_segment()
        finder.committed(segment.segment_id(), segment.doc_count_all())
        if on_commit is not None:
            on_commit()
    return report


def _writer(ix: FileIndex, settings: Settings) -> SegmentWriter:
    try:
        return open_writer(ix, settings.write_timeout, limitmb=_WRITER_MB)
    except LockError as e:
        raise IndexBusy(
            f"another process is writing to {settings.index} (waited {settings.write_timeout:g} s)",
            hint="wait for the other ingest to finish, or raise NEWSDESK_WRITE_TIMEOUT",
        ) from e


def _write_batch(writer: SegmentWriter, batch: list[PreparedArticle], report: IndexReport,
                 sequence: Sequence) -> CopyFinder:
    """Write the batch's new and changed articles; the copy finder knows what was written."""
    with writer.searcher() as searcher:
        finder = CopyFinder(searcher)
        for prepared in batch:
            article, document = prepared.article, dict(prepared.document)
            stored = finder.stored(article.id)
            if stored is not None and stored.get("fingerprint") == document["fingerprint"]:
                report.unchanged += 1
                continue
            copies = finder.copies(document)
            if stored is None and _is_duplicate(article, copies, report):
                continue
            if stored is None:
                report.added += 1
            else:
                report.updated += 1
            closest = nearest(copies)  # a changed text may leave or join a cluster
            document["cluster"] = closest.cluster if closest else article.id
            document["seq"] = sequence.number(article.id, indexed=stored.get("seq") if stored is not None else None)
            # When it is written, not when it was prepared (perhaps a while ago, in another process).
            document["indexed_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            if stored is None:  # nothing to replace: no lookup of the id to delete
                writer.add_document(**document, _analysed=prepared.analysed)
            else:
                writer.update_document(**document, _analysed=prepared.analysed)
            finder.add(document)
    return finder


def _is_duplicate(article: Article, copies: list[Copy], report: IndexReport) -> bool:
    """A new article with the text of one its outlet already has is counted, not stored."""
    original = duplicate_of(copies)
    if original is not None:
        report.duplicate += 1
        report.duplicates.append((article.origin, original.id))
    return original is not None


def batches(articles: Iterable[Article | PreparedArticle], size: int) -> Iterator[list[PreparedArticle]]:
    """The articles in batches of ``size``, prepared (those that came as an ``Article`` here)."""
    batch: list[PreparedArticle] = []
    seen: set[str] = set()
    for item in articles:
        article = item.article if isinstance(item, PreparedArticle) else item
        if article.id in seen:  # the same document twice in one run
            continue
        seen.add(article.id)
        batch.append(item if isinstance(item, PreparedArticle) else _unanalysed(item))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _unanalysed(article: Article) -> PreparedArticle:
    """An article prepared here: its texts are analysed by the writer itself, as they are added."""
    return PreparedArticle(article, to_fields(article), {})


def _read_version(path: Path) -> int | None:
    try:
        return int(json.loads((path / _VERSION_FILE).read_text())["schema_version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fingerprints(settings: Settings, directory: Path | None = None) -> dict[str, str]:
    """Article id → fingerprint of its content; empty when there is no usable index there."""
    try:
        ix = open_index(settings, directory)
    except IndexUnavailable:
        return {}
    with ix.searcher() as searcher:
        return {fields["id"]: fields.get("fingerprint", "") for fields in searcher.all_stored_fields()}


def delete_articles(settings: Settings, ids: Iterable[str]) -> int:
    """Delete articles by id in one commit; returns how many were in the index.

    The commit merges every segment, because Whoosh only marks a deleted
    document and keeps its stored text until a merge: a takedown must not.
    """
    writer = _writer(open_index(settings), settings)
    try:
        removed = sum(writer.delete_by_term("id", article_id) for article_id in set(ids))
    except BaseException:
        writer.cancel()
        raise
    if not removed:
        writer.cancel()
        return 0
    writer.commit(optimize=True)
    return int(removed)


def replace_index(settings: Settings, staging: Path) -> None:
    """Put a fully built index (``staging``) in place of the live one, in one step.

    A server reopening ``whoosh/`` sees the old index or the new one, never a
    mix: on Linux the directories are exchanged atomically (``renameat2``);
    elsewhere the old one is moved aside first, leaving an instant without
    an index (answered with 503). The old index is then removed.
    """
    live = settings.index_dir
    if not live.exists():
        staging.rename(live)
        return
    with _held_write_lock(settings, live):
        if not _exchange(staging, live):
            aside = live.with_name("whoosh.old")
            shutil.rmtree(aside, ignore_errors=True)
            live.rename(aside)
            staging.rename(live)
            staging = aside
    shutil.rmtree(staging)


@contextlib.contextmanager
def _held_write_lock(settings: Settings, path: Path) -> Iterator[None]:
    """Keep other writers out of the live index while it is swapped (they wait, as for any commit)."""
    lock = FileStorage(str(path)).lock("MAIN_WRITELOCK")
    deadline = time.monotonic() + settings.write_timeout
    while not lock.acquire(blocking=False):
        if time.monotonic() >= deadline:
            raise IndexBusy(f"another process is writing to {settings.index} (waited {settings.write_timeout:g} s)")
        time.sleep(0.05)
    try:
        yield
    finally:
        lock.release()


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directories atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(first))
