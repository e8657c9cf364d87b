"""The read side's seam: what every search backend answers, whichever one an instance runs.

Part of the query stage, its face to everything above it: the web app, the
Atom feeds of saved searches, the alert runner and the sources page ask a ``Reader`` — one
consistent snapshot of an instance's articles — and never see a Whoosh
searcher, its columns or its collectors (or, for the PostgreSQL backend,
a connection). The records that cross the seam are the stage's own:
``SearchQuery`` in; ``SearchPage``, ``Hit``, ``Timeline``, ``Exported``,
``ActorPage``, ``Overview``, ``OutletCoverage``, ``RelatedArticle`` out.

``Readers`` is a backend's source of readers for one instance:
``current()`` is this thread's reader brought up to date (a request's view
of the index, kept between requests while nothing changes), ``snapshot()``
a reader of the caller's own for a long read (an export streamed for
minutes), closed by the caller. ``open_readers`` picks the backend by the
settings: the embedded one (search/query/embedded.py: Whoosh in the
process) or PostgreSQL (search/query/pg_readers.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Protocol

from search.query.coverage import DEFAULT_WINDOW, OutletCoverage
from search.query.export import Exported
from search.query.overview import Overview
from search.query.related import RelatedArticle
from search.query.timeline import Timeline
from search.records import ActorPage, FacetValue, Hit, SearchPage, SearchQuery, StoredArticle
from search.settings import Settings


class Percolator(Protocol):
    """A batch of new articles that saved searches are matched against (the alerts)."""

    def match_all(self, requests: Sequence[SearchQuery]) -> list[dict[str, tuple[str, ...]] | Exception]:
        """Per request, in order: the batch's articles it matches (as the results page would), by id, with the
        query words each matched; or, for a saved query that cannot run, its ``QueryError`` (another exception
        for a fault of ours), so that only that one is marked broken. One call for a whole group of saved
        searches: a backend matches them together (search/query/pg_percolate.py) or one by one."""
        ...

    def close(self) -> None:
        ...


class Reader(Protocol):
    """One snapshot of an instance's articles, and every question the read side asks of it."""

    def search(self, request: SearchQuery) -> SearchPage:
        """A page of hits with snippets, the four facets' counts and the total (search/query/run.py)."""
        ...

    def facet_table(self, request: SearchQuery, name: str) -> tuple[FacetValue, ...]:
        """One facet's whole table under ``request``, counted in articles."""
        ...

    def export(self, request: SearchQuery) -> Exported:
        """Every article ``request`` selects, in its pages' order, read from this snapshot as it is iterated."""
        ...

    def timeline(self, request: SearchQuery, interval: str | None = None, *, split: bool = False,
                 top: int = 5) -> Timeline:
        """What ``request`` selects, counted per day, week, month or year (``interval``; None: from the span)."""
        ...

    def side_by_side(self, requests: Sequence[SearchQuery], interval: str | None = None) -> tuple[Timeline, ...]:
        """One timeline per request, all on the same buckets (a comparison)."""
        ...

    def article(self, article_id: str) -> Hit:
        """One article with its full text, or ``NotFound``."""
        ...

    def copies(self, article: Hit, limit: int = 100) -> tuple[Hit, ...]:
        """The other articles of ``article``'s cluster, newest first."""
        ...

    def related(self, article_id: str, limit: int = 5) -> list[RelatedArticle]:
        """Up to ``limit`` articles like this one, never itself nor its copies, other outlets first."""
        ...

    def actor(self, actor_id: str, latest: int = 10) -> ActorPage:
        """An actor's names, its articles by year and the newest of them, or ``NotFound``."""
        ...

    def hits(self, ids: Iterable[str]) -> tuple[Hit, ...]:
        """These articles, in this order, with their leads as snippets; ids no longer held are left out."""
        ...

    def overview(self) -> Overview:
        """What the instance holds, for its front page."""
        ...

    def coverage(self, now: dt.datetime, window: dt.timedelta = DEFAULT_WINDOW) -> list[OutletCoverage]:
        """Each outlet's articles and how completely they are described, for the sources page."""
        ...

    def indexed_at(self, article_id: str) -> dt.datetime | None:
        """When this version of the article was written (UTC), as the article records it; None if unknown."""
        ...

    def check(self, q: str) -> None:
        """``QueryError`` (with a hint) for query text this snapshot cannot run: its syntax, its fields, and its
        wildcards against the words the instance holds."""
        ...

    def new_articles(self, after: int) -> list[StoredArticle]:
        """The articles whose ingest number is above ``after`` (search/index/sequence.py), in ingest order."""
        ...

    def percolator(self, articles: Sequence[StoredArticle]) -> Percolator:
        """A percolator of these articles (``new_articles``' or some of them); the caller closes it."""
        ...

    def committed(self) -> dt.datetime | None:
        """When the snapshot this reader reads was committed (UTC, to the second); None if unknown."""
        ...

    def close(self) -> None:
        """Let go of the snapshot (a ``snapshot()``'s reader; ``current()``'s belongs to its thread)."""
        ...


class Readers(Protocol):
    """A backend's readers of one instance."""

    def current(self) -> Reader:
        """This thread's reader, brought up to date with the latest commit (raises ``IndexMissing`` and the
        like, each with its HTTP status, when there is nothing to read)."""
        ...

    def snapshot(self) -> Reader:
        """A reader of the caller's own, of the latest commit, for a long read; the caller closes it."""
        ...

    def close(self) -> None:
        """Close every reader this source kept."""
        ...


def open_readers(settings: Settings, *, fresh: bool = False) -> Readers:
    """The readers of the instance ``settings`` names, from its backend. ``fresh`` readers see every write
    already made (PostgreSQL: they read the primary, never a replica that may lag it)."""
    if settings.backend == "postgres":
        from search.query.pg_readers import PostgresReaders  # the backend's module, loaded by the choice

        return PostgresReaders(settings, fresh=fresh)
    from search.query.embedded import EmbeddedReaders

    return EmbeddedReaders(settings)
