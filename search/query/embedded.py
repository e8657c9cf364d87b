"""The embedded backend's readers: Whoosh in the process, the default (search/query/backend.py's seam).

An ``EmbeddedReader`` is one Whoosh searcher (a snapshot of the index's
segments and deletions, search/index/mapped.py) with the settings and the
gazetteer the query stage's functions take; every question of the seam is
one of those functions.

``EmbeddedReaders.current()`` keeps a searcher per thread across requests:
a server that opened a searcher per request spent most of its CPU opening
them. Each thread keeps its own (Whoosh's file readers keep seek state, so
threads never share one) and, when asked, checks it is still the index's
latest commit; after a commit the thread opens a new one (a few
milliseconds: the files are memory-mapped).

Not Whoosh's ``Searcher.refresh()``: it reuses a segment's reader with the
deletions it had, so an article updated by a later commit came back twice,
and after a merge it kept the merged-away segments as well (counts too high;
tests/test_searcher_reuse.py).

``reindex`` and ``ingest --rebuild`` do not commit to the live index: they
swap in another directory, whose commit generation may well equal the old
one's. The searcher is therefore kept for one directory, known by its inode:
when that changes, the thread opens the index afresh.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterable, Sequence

from whoosh.index import FileIndex
from whoosh.searching import Searcher

from search.enrich import Gazetteer, load_gazetteer
from search.index import articles_after, open_index
from search.query import columns
from search.query.coverage import DEFAULT_WINDOW, OutletCoverage, outlet_coverage
from search.query.export import Export, export, facet_table
from search.query.overview import Overview, overview
from search.query.parse import Deadline, parse_query
from search.query.percolate import RamPercolator
from search.query.related import RelatedArticle, related
from search.query.run import actor_page, get_article, get_copies, hits_by_id, search
from search.query.selection import select
from search.query.timeline import Timeline, side_by_side, timeline_of
from search.records import ActorPage, FacetValue, Hit, SearchPage, SearchQuery, StoredArticle
from search.settings import Settings


class EmbeddedReader:
    """One Whoosh searcher's snapshot, asked through the seam."""

    def __init__(self, searcher: Searcher, settings: Settings, gazetteer: Gazetteer | None = None) -> None:
        self.searcher = searcher
        self.settings = settings
        self._gazetteer = gazetteer

    @property
    def gazetteer(self) -> Gazetteer:
        """The actors' names, read when a question first needs them (the sources page never does)."""
        if self._gazetteer is None:
            self._gazetteer = load_gazetteer()
        return self._gazetteer

    def search(self, request: SearchQuery) -> SearchPage:
        return search(self.searcher, request, self.settings, self.gazetteer)

    def facet_table(self, request: SearchQuery, name: str) -> tuple[FacetValue, ...]:
        return facet_table(self.searcher, request, self.settings, self.gazetteer, name)

    def export(self, request: SearchQuery) -> Export:
        return export(self.searcher, request, self.settings, self.gazetteer)

    def timeline(self, request: SearchQuery, interval: str | None = None, *, split: bool = False,
                 top: int = 5) -> Timeline:
        return timeline_of(self.searcher, request, self.settings, interval, split=split, top=top)

    def side_by_side(self, requests: Sequence[SearchQuery], interval: str | None = None) -> tuple[Timeline, ...]:
        chosen = [select(self.searcher, request, self.settings, Deadline(self.settings)).under_all
                  for request in requests]
        return side_by_side(columns.index_columns(self.searcher), chosen, interval)

    def article(self, article_id: str) -> Hit:
        return get_article(self.searcher, article_id, self.gazetteer)

    def copies(self, article: Hit, limit: int = 100) -> tuple[Hit, ...]:
        return get_copies(self.searcher, article, self.gazetteer, limit)

    def related(self, article_id: str, limit: int = 5) -> list[RelatedArticle]:
        return related(self.searcher, article_id, self.settings, limit)

    def actor(self, actor_id: str, latest: int = 10) -> ActorPage:
        return actor_page(self.searcher, actor_id, self.settings, self.gazetteer, latest)

    def hits(self, ids: Iterable[str]) -> tuple[Hit, ...]:
        return hits_by_id(self.searcher, ids, self.gazetteer)

    def overview(self) -> Overview:
        return overview(self.searcher, self.settings)

    def coverage(self, now: dt.datetime, window: dt.timedelta = DEFAULT_WINDOW) -> list[OutletCoverage]:
        return outlet_coverage(self.searcher, self.settings, now, window)

    def indexed_at(self, article_id: str) -> dt.datetime | None:
        indexed = (self.searcher.document(id=article_id) or {}).get("indexed_at")
        return indexed.replace(tzinfo=dt.UTC) if isinstance(indexed, dt.datetime) else None

    def check(self, q: str) -> None:
        parse_query(q, self.searcher, self.settings)

    def new_articles(self, after: int) -> list[StoredArticle]:
        return articles_after(self.searcher, after)

    def percolator(self, articles: Sequence[StoredArticle]) -> RamPercolator:
        return RamPercolator(articles, self.settings)

    def committed(self) -> dt.datetime | None:
        """The time of the commit's TOC file, which Whoosh writes last."""
        try:
            toc = self.settings.index_dir / f"_MAIN_{self.searcher.reader().generation()}.toc"
            return dt.datetime.fromtimestamp(int(toc.stat().st_mtime), dt.UTC)
        except (OSError, AttributeError):
            return None  # no Last-Modified rather than a wrong one: the ETag still validates

    def close(self) -> None:
        self.searcher.close()


class _Kept(threading.local):
    """This thread's reader and the directory it reads (device, inode)."""

    reader: EmbeddedReader | None = None
    index: FileIndex | None = None
    directory: tuple[int, int] | None = None


class EmbeddedReaders:
    """Readers of one instance's Whoosh index: a kept one per thread, and snapshots of the caller's own."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._kept = _Kept()

    def current(self) -> EmbeddedReader:
        kept, directory = self._kept, _identity(self.settings)
        if kept.reader is not None and kept.directory == directory and kept.reader.searcher.up_to_date():
            return kept.reader
        index = kept.index if kept.directory == directory else None
        _close(kept)
        kept.index = index or open_index(self.settings)  # raises IndexMissing / SchemaMismatch (503)
        kept.reader, kept.directory = EmbeddedReader(kept.index.searcher(), self.settings), directory
        return kept.reader

    def snapshot(self) -> EmbeddedReader:
        return EmbeddedReader(open_index(self.settings).searcher(), self.settings)

    def close(self) -> None:
        """Close this thread's kept reader (each thread's goes with its thread)."""
        _close(self._kept)


def _identity(settings: Settings) -> tuple[int, int] | None:
    try:
        status = os.stat(settings.index_dir)
    except OSError:
        return None  # no index: open_index says why
    return status.st_dev, status.st_ino


def _close(kept: _Kept) -> None:
    if kept.reader is not None:
        kept.reader.close()
    kept.reader = kept.index = kept.directory = None
