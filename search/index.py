"""The index stage: enriched ``Article`` records in, a Whoosh index out.

Last stage of the ingest pipeline. Owns the on-disk layout of the Whoosh part
of the instance directory, its schema version and the single-writer rule:
an ingest waits for the write lock (up to ``write_timeout``) and commits in
batches, each commit atomic, so a process killed mid-ingest leaves the last
committed index intact; the server only opens searchers, which never lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.index import FileIndex, LockError
from whoosh.writing import SegmentWriter

from search.errors import IndexBusy, IndexMissing, SchemaMismatch
from search.records import Article
from search.schema import SCHEMA_VERSION, build_schema
from search.settings import Settings

_VERSION_FILE = "newsdesk-schema.json"


@dataclass
class IndexReport:
    """What one run did to the index; ``skipped`` maps a source to its reason."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def open_index(settings: Settings) -> FileIndex:
    """Open the index for reading or writing, checking its schema version."""
    path = settings.index_dir
    if not whoosh_index.exists_in(str(path)):
        raise IndexMissing(
            f"no index in {settings.index}",
            hint=f"build one with: newsdesk ingest seeds/articles --index {settings.index}",
        )
    found = _read_version(path)
    if found != SCHEMA_VERSION:
        raise SchemaMismatch(
            f"the index in {settings.index} has schema version {found}, this Newsdesk needs {SCHEMA_VERSION}",
            hint="rebuild it: newsdesk ingest --rebuild PATH...",
        )
    return whoosh_index.open_dir(str(path))


def create_index(settings: Settings, actor_vectors: bool = False) -> FileIndex:
    """Create an empty index (replacing any there) and record its schema version."""
    path = settings.index_dir
    path.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(path), build_schema(actor_vectors=actor_vectors))
    (path / _VERSION_FILE).write_text(json.dumps({"schema_version": SCHEMA_VERSION}) + "\n")
    return ix


def write_articles(
    articles: Iterable[Article],
    settings: Settings,
    report: IndexReport | None = None,
) -> IndexReport:
    """Add or update articles by id, committing every ``batch_size`` articles.

    An article whose stored fingerprint is unchanged is counted and left as
    it is, so re-ingesting the same files rewrites nothing.
    """
    report = report or IndexReport()
    ix = open_index(settings) if whoosh_index.exists_in(str(settings.index_dir)) else create_index(settings)
    for batch in _batches(articles, settings.batch_size):
        writer = _writer(ix, settings)
        try:
            _write_batch(writer, batch, report)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
    return report


def _writer(ix: FileIndex, settings: Settings) -> SegmentWriter:
    try:
        return ix.writer(timeout=settings.write_timeout)
    except LockError as e:
        raise IndexBusy(
            f"another process is writing to {settings.index} (waited {settings.write_timeout:g} s)",
            hint="wait for the other ingest to finish, or raise NEWSDESK_WRITE_TIMEOUT",
        ) from e


def _write_batch(writer: SegmentWriter, batch: list[Article], report: IndexReport) -> None:
    with writer.searcher() as searcher:
        for article in batch:
            document = to_document(article)
            stored = searcher.document(id=article.id)
            if stored is None:
                report.added += 1
            elif stored.get("fingerprint") == document["fingerprint"]:
                report.unchanged += 1
                continue
            else:
                report.updated += 1
            writer.update_document(**document)


def _batches(articles: Iterable[Article], size: int) -> Iterator[list[Article]]:
    batch: list[Article] = []
    seen: set[str] = set()
    for article in articles:
        if article.id in seen:  # the same document twice in one run
            continue
        seen.add(article.id)
        batch.append(article)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def to_document(article: Article) -> dict[str, Any]:
    """The Whoosh document for an article (the one mapping, used everywhere)."""
    published = article.published
    document: dict[str, Any] = {
        "id": article.id,
        "title": article.title,
        "body": article.text,
        "outlet": article.outlet or "unknown",
        "year": article.year,
        "language": article.language or "unknown",
        "actor": ",".join(article.actors),
        "date_key": _date_key(published),
        "published_iso": published.isoformat() if published else None,
        "published_source": article.published_source,
        "origin": article.origin,
    }
    if article.url:
        document["url"] = article.url
    if article.author:
        document["author"] = article.author
    if published:
        document["published"] = _naive_utc(published)
    document["fingerprint"] = _fingerprint(document)
    document["indexed_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return document


def _date_key(published: dt.date | dt.datetime | None) -> int:
    """Sortable integer YYYYMMDDhhmmss in UTC; 0 (sorts last, newest first) when unknown."""
    if published is None:
        return 0
    moment = _naive_utc(published)
    return int(moment.strftime("%Y%m%d%H%M%S"))


def _naive_utc(published: dt.date | dt.datetime) -> dt.datetime:
    if not isinstance(published, dt.datetime):
        return dt.datetime(published.year, published.month, published.day)
    if published.tzinfo is not None:
        published = published.astimezone(dt.UTC).replace(tzinfo=None)
    return published


def _fingerprint(document: dict[str, Any]) -> str:
    payload = json.dumps(document, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()


def _read_version(path: Path) -> int | None:
    try:
        return int(json.loads((path / _VERSION_FILE).read_text())["schema_version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
