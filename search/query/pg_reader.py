"""The PostgreSQL backend's reader: the read side's seam (search/query/backend.py) answered in SQL.

Part of the query stage, for the PostgreSQL backend (issue 19), beside the
embedded Whoosh reader (search/query/embedded.py). The articles are the rows
of the ``articles`` table (search/index/migrations/0001_articles.sql), written
by the PostgreSQL writer (search/index/pg_writer.py); a ``PostgresReader``
answers the same questions as an ``EmbeddedReader`` with the same records,
and the same answers. This module is the facade; the work is in its
neighbours, each a part of the query stage for this backend:

* search/query/pg_plan.py — a ``SearchQuery`` compiled (the query text by
  the project's own parser, to tsquery and SQL conditions; the facet and
  date filters; the rank; the words the snippets mark), and the snapshot
  every statement of one question runs in;
* search/query/pg_counts.py — the facets, total and undated count in one
  statement; the page in one order; a row read back as a ``StoredArticle``;
* search/query/pg_timeline.py — counts per day, week, month or year;
* search/query/pg_export.py — every match streamed through a server-side
  cursor;
* search/query/pg_related.py — articles like one article;
* search/query/pg_coverage.py — each outlet's articles for the sources page;
* search/query/pg_percolate.py — saved searches matched against new
  articles (the alerts), stored once as tsqueries.

A hit is built from the row as the embedded backend builds it from stored
fields (``from_stored``, ``to_hit``), its snippet by the project's own
highlighter (search/query/snippets.py) over the stored text, marking the
words of the query's terms Whoosh records as matched — not PostgreSQL's
``ts_headline``, so both backends give the same snippets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

import psycopg
from psycopg import sql

from search.enrich import Gazetteer, load_gazetteer
from search.errors import NotFound, QueryError
from search.index.postgres import Connection
from search.query.coverage import DEFAULT_WINDOW, OutletCoverage
from search.query.overview import Overview
from search.query.parse import MAX_FACET_LIMIT, MAX_PER_PAGE, Deadline, read_query
from search.query.pg_counts import (
    NEWEST,
    cluster_outlets,
    count,
    hit_columns,
    int_of,
    next_page,
    page_statement,
    stored_article,
    utc_second,
)
from search.query.pg_coverage import outlet_coverage
from search.query.pg_export import PostgresExport, export
from search.query.pg_percolate import PostgresPercolator
from search.query.pg_plan import SNIPPET_FIELD, Plan, Run, expansions, plan, schema, snapshot
from search.query.pg_related import related
from search.query.pg_timeline import side_by_side, timeline
from search.query.related import RelatedArticle
from search.query.run import facet_values, other_names, to_hit, with_counts, years_newest_first
from search.query.snippets import highlighter, lead, one_line
from search.query.timeline import Timeline
from search.query.tsquery import PUBLISHED
from search.records import FACETS, UNKNOWN, ActorPage, FacetValue, Hit, SearchPage, SearchQuery, StoredArticle
from search.settings import Settings

ConnectionSource = Connection | Callable[[], Connection]
#: A facet limit no facet reaches: ``facet_table`` lists every value.
_EVERY_VALUE = 1 << 62


class PostgresReader:
    """The articles of one PostgreSQL database, asked through the seam (search/query/backend.py).

    ``connection`` is a connection, or a factory called once when the first
    question comes (that connection is then the reader's, closed by ``close``).
    """

    def __init__(self, connection: ConnectionSource, settings: Settings, gazetteer: Gazetteer | None = None) -> None:
        if isinstance(connection, psycopg.Connection):
            self._connection: Connection | None = connection
            self._factory: Callable[[], Connection] | None = None
        else:
            self._connection, self._factory = None, connection
        self.settings = settings
        self._gazetteer = gazetteer
        self._export: PostgresExport | None = None  # the export whose transaction is open, until it ends

    @property
    def gazetteer(self) -> Gazetteer:
        if self._gazetteer is None:
            self._gazetteer = load_gazetteer()
        return self._gazetteer

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            assert self._factory is not None
            self._connection = self._factory()
        return self._connection

    # --- the results page -------------------------------------------------------------------------------------

    def search(self, request: SearchQuery) -> SearchPage:
        """One page of hits with snippets, the four facets' counts, the total and the undated count."""
        deadline = Deadline(self.settings)
        with self._snapshot() as run:
            compiled = plan(run, request, self.settings, deadline)
            counted = count(run, compiled, request)
            rows = run(*page_statement(compiled, request))
            hits = self._hits([stored_article(row[:-1]) for row in rows[:request.per_page]], compiled)
            hits = self._with_copies(run, hits)
        deadline.check()
        values = {name: facet_values(name, counted.facets[name], request, self.gazetteer) for name in FACETS}
        bounds = (compiled.dates.first, compiled.dates.last) if compiled.dates is not None else None
        return SearchPage(query=request, total=counted.total, hits=hits, facets=values, undated=counted.undated,
                          date_bounds=bounds, counted=request.count, articles=counted.articles,
                          stories=counted.stories, next=next_page(compiled, request, rows))

    def facet_table(self, request: SearchQuery, name: str) -> tuple[FacetValue, ...]:
        """One facet's whole table under ``request``, counted in articles (search/query/export.py's)."""
        if name not in FACETS:
            raise QueryError(f"unknown facet {name!r}", hint=f"use facet={', '.join(FACETS)}")
        whole = replace(request, page=1, per_page=1, after="", facet_limit=_EVERY_VALUE, collapse="", count="articles")
        return self.search(whole).facets[name]

    def export(self, request: SearchQuery) -> PostgresExport:
        """Every article ``request`` selects, in its pages' order, streamed from one snapshot held open until
        the rows are read to the end (or the reader is closed): search/query/pg_export.py."""
        self._end_export()
        whole = replace(request, collapse="", count="articles", after="")  # every article, whatever the page
        found = export(self.connection, whole, self.settings, self.gazetteer,
                       lambda: self.search(replace(whole, page=1, per_page=1)).total)
        self._export = found
        return found

    def timeline(self, request: SearchQuery, interval: str | None = None, *, split: bool = False,
                 top: int = 5) -> Timeline:
        """What ``request`` selects counted per bucket, in SQL (search/query/pg_timeline.py)."""
        with self._snapshot() as run:
            return timeline(run, plan(run, request, self.settings, run.deadline), interval, split=split, top=top)

    def side_by_side(self, requests: Sequence[SearchQuery], interval: str | None = None) -> tuple[Timeline, ...]:
        """One timeline per request, all on the same buckets."""
        with self._snapshot() as run:
            return side_by_side(run, [plan(run, request, self.settings, run.deadline) for request in requests],
                                interval)

    def actor(self, actor_id: str, latest: int = 10) -> ActorPage:
        """An actor's names, its articles by year and the newest of them (search/query/run.py's ``actor_page``)."""
        request = SearchQuery(actor=(actor_id,), sort="date", per_page=max(1, min(latest, MAX_PER_PAGE)),
                              facet_limit=MAX_FACET_LIMIT)
        page = self.search(request)
        actor = self.gazetteer.get(actor_id)
        if actor is None and not page.total:
            raise NotFound(f"no actor with id {actor_id!r}",
                           hint="actor ids look like Q58217; an article's page links to each of its actors")
        return ActorPage(id=actor_id, name=self.gazetteer.label(actor_id), type=actor.type if actor else UNKNOWN,
                         aliases=other_names(actor), roles=actor.roles if actor else (), total=page.total,
                         years=years_newest_first(page.facets["year"]), latest=page.hits)

    def check(self, q: str) -> None:
        """``QueryError`` (with a hint) for query text this database cannot run: its syntax and fields (the
        project's parser), and its wildcards against the words the articles hold (the same cap)."""
        parsed = read_query(q, schema(), self.settings)
        with self._snapshot() as run:
            expansions(run, parsed, self.settings, run.deadline)

    # --- articles by id ---------------------------------------------------------------------------------------

    def hits(self, ids: Iterable[str]) -> tuple[Hit, ...]:
        """These articles, in this order, with their leads as snippets; ids no longer held are left out."""
        wanted = list(dict.fromkeys(ids))
        with self._snapshot() as run:
            found = {article.id: article for article in self._by_id(run, wanted)}
            hits = tuple(to_hit(found[i], self.gazetteer, lead(found[i].text)) for i in wanted if i in found)
            return self._with_copies(run, hits)

    def article(self, article_id: str) -> Hit:
        """One article with its full text, or ``NotFound``."""
        with self._snapshot() as run:
            found = self._by_id(run, [article_id])
            if not found:
                raise NotFound(f"no article with id {article_id!r}")
            hit = to_hit(found[0], self.gazetteer, lead(found[0].text), full=True)
            return self._with_copies(run, (hit,))[0]

    def copies(self, article: Hit, limit: int = 100) -> tuple[Hit, ...]:
        """The other articles of ``article``'s cluster, newest first (undated last, then in ingest order)."""
        if article.copies <= 1:
            return ()
        statement = sql.SQL("SELECT {} FROM articles WHERE cluster = %s AND id <> %s ORDER BY {} LIMIT %s").format(
            hit_columns(), NEWEST)
        with self._snapshot() as run:
            rows = run(statement, (article.cluster, article.id, limit))
        return tuple(to_hit(stored_article(row), self.gazetteer, "") for row in rows)

    def related(self, article_id: str, limit: int = 5) -> list[RelatedArticle]:
        """Up to ``limit`` articles like this one, never itself nor its copies, other outlets first
        (search/query/pg_related.py)."""
        with self._snapshot() as run:
            return related(run, article_id, limit)

    def indexed_at(self, article_id: str) -> dt.datetime | None:
        with self._snapshot() as run:
            rows = run(sql.SQL("SELECT a.indexed_at FROM articles a JOIN article_months m "
                               "ON a.month = m.month AND a.id = m.id WHERE m.id = %s"), (article_id,))
        moment = rows[0][0] if rows else None
        return moment.replace(tzinfo=dt.UTC) if isinstance(moment, dt.datetime) else None

    def new_articles(self, after: int) -> list[StoredArticle]:
        """The articles numbered above ``after`` (search/index/sequence.py), in ingest order: a range of the
        ``seq`` index, whatever the corpus holds."""
        with self._snapshot() as run:
            rows = run(sql.SQL("SELECT {} FROM articles WHERE seq > %s ORDER BY seq").format(hit_columns()), (after,))
        return [stored_article(row) for row in rows]

    def percolator(self, articles: Sequence[StoredArticle]) -> PostgresPercolator:
        """Saved searches matched against these articles in SQL (search/query/pg_percolate.py)."""
        return PostgresPercolator(self.connection, articles, self.settings)

    def committed(self) -> dt.datetime | None:
        """None: a database has no one commit moment the way an index directory has. The newest
        ``indexed_at`` would not move when an article is taken down, and a Last-Modified that stays put while
        the page changes is worse than none (the ETag still validates)."""
        return None

    # --- the front page and the sources page ----------------------------------------------------------------

    def overview(self) -> Overview:
        """What the database holds (search/query/overview.py's numbers): one statement, and the newest arrival.

        ``added`` is the newest article's ``indexed_at``: the moment the
        embedded backend reads first from the instance's SQLite state is not
        in the database (yet).
        """
        with self._snapshot() as run:
            (articles, outlets, no_outlet, dated, earliest, latest), = run(sql.SQL(
                "SELECT count(*), count(DISTINCT outlet) FILTER (WHERE outlet <> %s), "
                "count(*) FILTER (WHERE outlet = %s), count({published}), min({published}), max({published}) "
                "FROM articles").format(published=sql.Identifier(PUBLISHED)), (UNKNOWN, UNKNOWN))
            newest = run(sql.SQL("SELECT indexed_at FROM articles ORDER BY seq DESC, id LIMIT 1"), ())
        added = newest[0][0] if newest else None
        return Overview(articles=int_of(articles), outlets=int_of(outlets), no_outlet=int_of(no_outlet),
                        dated=int_of(dated), earliest=utc_second(earliest), latest=utc_second(latest),
                        added=added.replace(tzinfo=dt.UTC) if isinstance(added, dt.datetime) else None)

    def coverage(self, now: dt.datetime, window: dt.timedelta = DEFAULT_WINDOW) -> list[OutletCoverage]:
        """Each outlet's articles and how completely they are described (search/query/pg_coverage.py)."""
        with self._snapshot() as run:
            return outlet_coverage(run, now, window)

    def close(self) -> None:
        """End an export still open; close the connection the reader opened itself (one it was given stays
        its owner's)."""
        self._end_export()
        if self._factory is not None and self._connection is not None:
            self._connection.close()
            self._connection = None

    # --- helpers ------------------------------------------------------------------------------------------------

    def _end_export(self) -> None:
        if self._export is not None:
            self._export.end()
            self._export = None

    @contextmanager
    def _snapshot(self) -> Iterator[Run]:
        with snapshot(self.connection, self.settings) as run:
            yield run

    def _by_id(self, run: Run, ids: Sequence[str]) -> list[StoredArticle]:
        """The articles of these ids, found by the month each is kept in (the table's key is month and id)."""
        if not ids:
            return []
        statement = sql.SQL("SELECT {} FROM articles a JOIN article_months m ON a.month = m.month AND a.id = m.id "
                            "WHERE m.id = ANY(%s)").format(hit_columns("a"))
        return [stored_article(row) for row in run(statement, (list(ids),))]

    def _hits(self, articles: list[StoredArticle], compiled: Plan) -> tuple[Hit, ...]:
        """The page's hits: a snippet marking the query's words in the text (one highlighter for the page), or
        the lead where none is marked."""
        marking = highlighter()
        matched = _Matched(compiled.marked)
        hits = []
        for article in articles:
            snippet = marking.highlight_hit(_Shown(matched), SNIPPET_FIELD, text=article.text, top=2) \
                if compiled.text else ""
            hits.append(to_hit(article, self.gazetteer, one_line(snippet) or lead(article.text)))
        return tuple(hits)

    def _with_copies(self, run: Run, hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
        """The hits with their clusters' sizes and other outlets (search/query/run.py's ``_with_copies``)."""
        if not hits:
            return hits
        counts = cluster_outlets(run, {hit.cluster for hit in hits})
        return tuple(with_counts(hit, counts) for hit in hits)


# --- the highlighter's view of a hit ------------------------------------------------------------------------


class _Matched:
    """What the highlighter asks of Whoosh's results: the terms the search matched."""

    def __init__(self, terms: frozenset[tuple[str, bytes]]) -> None:
        self._terms = terms

    def has_matched_terms(self) -> bool:
        return True

    def matched_terms(self) -> frozenset[tuple[str, bytes]]:
        return self._terms


class _Shown:
    """What the highlighter asks of a Whoosh hit (its results; the text is passed in)."""

    def __init__(self, results: _Matched) -> None:
        self.results = results


__all__ = ["PostgresReader"]
