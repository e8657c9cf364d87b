"""The write side's seam: where an instance's articles are written, whichever backend keeps them.

Part of the index stage, its face to the runners above it (the pipeline,
ingest and reindex, the crawler, takedowns, the workers): they write,
delete and rebuild through an ``ArticleStore`` and never see a Whoosh
writer or a database connection. ``open_store`` picks the backend from the
settings, the one place that choice is made for writing (search/query/backend.py
makes it for reading):

* ``whoosh`` — the Whoosh index in the instance directory
  (search/index/store.py): one writer at a time, under Whoosh's lock;
* ``postgres`` — the database ``database_url`` (search/index/pg_writer.py):
  any number of processes write, each batch under an advisory lock.

A store is a small picklable record (settings, and where it writes), so
the pipeline can hand it to the index writer's own process; a database
connection is opened where it is used, never pickled.

**Rebuilding** (``ingest --rebuild``, ``reindex``): Whoosh builds a new
index beside the live one and swaps it in whole; PostgreSQL has no second
copy to swap, so the articles are rewritten in place (unchanged ones are
left as they are, by fingerprint) and, once the run has given every
article, those it no longer gives are deleted. Readers of the database see
each article old or new, never half-written, but may see a mix of the two
during the run.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from search.errors import IndexMissing, SchemaMismatch
from search.index.store import (
    IndexReport,
    PreparedArticle,
    create_index,
    delete_articles,
    fingerprints,
    open_index,
    replace_index,
    write_articles,
)
from search.records import Article
from search.settings import Settings

if TYPE_CHECKING:
    from search.database import Connection

Items = Iterable[Article | PreparedArticle]


@dataclass(frozen=True)
class Named:
    """An article found by its id or URL (a takedown's)."""

    id: str
    title: str
    url: str


class ArticleStore(Protocol):
    """Where one instance's articles are written."""

    def write(self, items: Items, report: IndexReport | None = None, *,
              on_commit: Callable[[], None] | None = None) -> IndexReport:
        """Add or update articles by id in batches of ``batch_size`` (unchanged fingerprints skipped, same-outlet
        duplicates counted and not stored, copies clustered, ingest numbers kept); ``on_commit`` after each."""
        ...

    def delete(self, ids: Iterable[str]) -> int:
        """Delete articles by id for good (their text gone, not only hidden); how many were stored."""
        ...

    def named(self, key: str) -> list[Named]:
        """The articles whose id or URL is ``key`` (none when nothing is stored yet)."""
        ...

    def fingerprints(self) -> dict[str, str]:
        """Every stored article's id → the fingerprint of its content."""
        ...


@dataclass(frozen=True)
class WhooshStore:
    """The Whoosh index in ``directory`` (None: the instance's live index)."""

    settings: Settings
    directory: Path | None = None

    def write(self, items: Items, report: IndexReport | None = None, *,
              on_commit: Callable[[], None] | None = None) -> IndexReport:
        return write_articles(items, self.settings, report, directory=self.directory, on_commit=on_commit)

    def delete(self, ids: Iterable[str]) -> int:
        return delete_articles(self.settings, ids)

    def named(self, key: str) -> list[Named]:
        try:
            ix = open_index(self.settings, self.directory)
        except (IndexMissing, SchemaMismatch):
            return []  # the archive is still cleaned; a reindex rebuilds the index without the page
        with ix.searcher() as searcher:
            by_id = searcher.document(id=key)
            found = [by_id] if by_id else []
            found += [doc for doc in searcher.documents(url=key) if doc["id"] != key]
        return [Named(doc["id"], doc.get("title", ""), doc.get("url", "")) for doc in found]

    def fingerprints(self) -> dict[str, str]:
        return fingerprints(self.settings, self.directory)


@dataclass(frozen=True)
class PostgresStore:
    """The articles of the PostgreSQL database ``settings.database_url`` (its schema migrated when first opened)."""

    settings: Settings
    _connection: list[Connection] = field(default_factory=list, compare=False, repr=False)

    def write(self, items: Items, report: IndexReport | None = None, *,
              on_commit: Callable[[], None] | None = None) -> IndexReport:
        from search.index.pg_writer import write_articles_pg

        return write_articles_pg(self._connect(), items, report, self.settings.batch_size, on_commit)

    def delete(self, ids: Iterable[str]) -> int:
        from search.index.pg_writer import delete_articles_pg

        return delete_articles_pg(self._connect(), ids)

    def named(self, key: str) -> list[Named]:
        rows = self._connect().execute(
            "SELECT a.id, a.title, a.url FROM articles a JOIN article_months m ON a.month = m.month AND a.id = m.id "
            "WHERE m.id = %s UNION SELECT id, title, url FROM articles WHERE url = %s ORDER BY 1", (key, key))
        return [Named(str(id_), str(title or ""), str(url or "")) for id_, title, url in rows]

    def fingerprints(self) -> dict[str, str]:
        return {str(id_): str(print_) for id_, print_ in self._connect().execute("SELECT id, fingerprint FROM articles")}

    def close(self) -> None:
        while self._connection:
            self._connection.pop().close()

    def __getstate__(self) -> dict[str, object]:
        return {"settings": self.settings}  # a connection is opened where the store is used, never pickled

    def __setstate__(self, state: dict[str, object]) -> None:
        object.__setattr__(self, "settings", state["settings"])
        object.__setattr__(self, "_connection", [])

    def _connect(self) -> Connection:
        from search.database import connect  # psycopg: the postgres extra's, loaded by the choice

        if not self._connection or self._connection[0].closed:
            self._connection[:] = [connect(self.settings.database_url)]  # its schema brought up to date
        return self._connection[0]


def open_store(settings: Settings) -> WhooshStore | PostgresStore:
    """The live store of the instance ``settings`` names, from its backend."""
    if settings.backend == "postgres":
        return PostgresStore(settings)
    return WhooshStore(settings)


class Rebuild:
    """A rebuild in progress: write into ``store``, adding each article's id handed to it to ``given``, then
    ``finish`` (``rebuilding`` abandons it if the run fails, leaving the live articles as they were)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.live = open_store(settings)
        self.given: set[str] = set()
        self.store: WhooshStore | PostgresStore
        if isinstance(self.live, PostgresStore):
            self.before = self.live.fingerprints()
            self.store = self.live
        else:
            self.staging = settings.index / "whoosh.new"
            shutil.rmtree(self.staging, ignore_errors=True)  # left by a rebuild or reindex that was killed
            create_index(settings, directory=self.staging)
            self.store = WhooshStore(settings, self.staging)

    def finish(self, report: IndexReport, *, compare: bool = False) -> None:
        """Make the rebuilt articles the instance's. With ``compare``, the counts say what changed against
        what was there (``added``, ``updated``, ``unchanged``, ``removed``) rather than what the writer did."""
        if isinstance(self.live, PostgresStore):
            old = self.before
            gone = old.keys() - self.given  # written in place: what the run no longer gives goes
            if compare:
                new = {article_id: print_ for article_id, print_ in self.live.fingerprints().items()
                       if article_id not in gone}
                _compare(report, old, new)
            self.live.delete(gone)
            return
        if compare:
            _compare(report, self.live.fingerprints(), self.store.fingerprints())
        replace_index(self.settings, self.staging)

    def abandon(self) -> None:
        if not isinstance(self.live, PostgresStore):
            shutil.rmtree(self.staging, ignore_errors=True)


def _compare(report: IndexReport, old: dict[str, str], new: dict[str, str]) -> None:
    report.added = len(new.keys() - old.keys())
    report.unchanged = sum(1 for article_id, print_ in new.items() if old.get(article_id) == print_)
    report.updated = len(new) - report.added - report.unchanged
    report.removed = len(old.keys() - new.keys())


@contextmanager
def rebuilding(settings: Settings) -> Iterator[Rebuild]:
    """A rebuild of the instance's articles; abandoned (the live ones kept) if the block raises."""
    rebuild = Rebuild(settings)
    try:
        yield rebuild
    except BaseException:
        rebuild.abandon()
        raise
