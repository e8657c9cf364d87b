"""The PostgreSQL backend's reader: the read side's seam (search/query/backend.py) answered in SQL.

Part of the query stage, for the PostgreSQL backend (issue 19), beside the
embedded Whoosh reader (search/query/embedded.py). The articles are the rows
of the ``articles`` table (search/index/migrations/0001_articles.sql), written
by the PostgreSQL writer; a ``PostgresReader`` answers the same questions as
an ``EmbeddedReader`` with the same records, and the same answers:

* the query text is read by the project's own parser (``read_query``: the
  same checks and analysis as the embedded backend), its wildcards and
  prefixes expanded against ``words_seen`` under the same cap on words, and
  compiled to one SQL condition (search/query/tsquery.py);
* the facets are counted as search/query/facets.py counts them: each under
  the query, the date filter and every *other* facet's filters, OR within a
  facet and AND across facets, ``unknown`` a value like any other (the
  writer stores it), in articles or in stories (a story's copies count once);
  all four, the total and the undated count in one statement over the
  matches, grouped in SQL — no Python per matched row;
* the date filter (search/query/parse.py's ``DateFilter``) compares the
  moment to the second, as the index's ``date_key`` does, and its certainty
  reads ``published_source`` against ``CERTAIN_DATE_SOURCES``;
* the page is the newest first (undated last) or the best ranked by
  ``ts_rank_cd`` with the title weighted far above the body, ties by ingest
  number then id, so every page of a search is a slice of one order; the
  copies of one story collapsed to its first article when asked;
* a hit is built from the row as the embedded backend builds it from stored
  fields (``from_stored``, ``to_hit``), its snippet by the project's own
  highlighter (search/query/snippets.py) over the stored text, marking the
  words of the query's terms Whoosh records as matched (``_marked_terms``) — not
  PostgreSQL's ``ts_headline``, so both backends give the same snippets.

Every statement of one question runs in one read-only REPEATABLE READ
transaction (one snapshot, as a Whoosh searcher is), each under what is left
of the search's time limit (``statement_timeout``); a statement cut short is
a ``QueryError``, as under Whoosh. SQL is composed with ``psycopg.sql``, and
every value is a bound parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from whoosh import query as wq
from whoosh.fields import Schema

from search.enrich import Gazetteer, load_gazetteer
from search.errors import NotFound, QueryError
from search.index import WORD_FIELDS, build_schema, from_stored
from search.index.lexemes import WEIGHTS, quote
from search.index.postgres import Connection
from search.query.overview import Overview
from search.query.parse import MAX_FACET_LIMIT, MAX_PER_PAGE, DateFilter, Deadline, date_filter, read_query
from search.query.run import facet_values, other_names, to_hit, with_counts, years_newest_first
from search.query.snippets import highlighter, lead, one_line
from search.query.stories import STORIES
from search.query.tsquery import ACTORS, LEXEMES, PUBLISHED, WORDS, Condition, Expand, compile_query
from search.records import (
    CERTAIN_DATE_SOURCES,
    FACETS,
    UNKNOWN,
    ActorPage,
    FacetValue,
    Hit,
    SearchPage,
    SearchQuery,
    StoredArticle,
)
from search.settings import Settings

#: ``ts_rank_cd``'s weight of each label, in its order D, C, B, A: the body 0.1, the author 0.4, the title 1.0 —
#: one title match outranks the body's few mentions of a word, as the embedded backend's title boost does.
RANK_WEIGHTS = [0.1, 0.2, 0.4, 1.0]
#: ``ts_rank_cd``'s normalisation: divided by 1 + the logarithm of the article's length (BM25 also weighs length).
RANK_NORMALIZATION = 1
#: The columns a hit is read from: what the embedded backend's stored fields hold.
_HIT_COLUMNS = ("id", "url", "title", "body", "origin", "outlet", "author", "published_iso", "published_utc",
                "published_source", "year", "language", "actors", "cluster", "seq", "indexed_at", "fingerprint",
                "text_key", "minhash")
#: Each facet's column; actors are an array, counted by its elements.
_FACET_COLUMNS = {"outlet": "outlet", "actor": ACTORS, "year": "year", "language": "language"}
#: The snippet's field and its unstemmed twin, whose matched terms the highlighter marks.
_SNIPPET_FIELD = "body"
_ONE_SECOND = dt.timedelta(seconds=1)

ConnectionSource = Connection | Callable[[], Connection]


@cache
def _schema() -> Schema:
    return build_schema()


@dataclass(frozen=True)
class _Plan:
    """A ``SearchQuery`` compiled: what it matches, under which filters, in which order, marking which words."""

    query: Condition  # the text's matches
    dates: DateFilter | None
    in_dates: Condition  # what the date filter takes (TRUE without one)
    filters: dict[str, Condition]  # each facet's filter (TRUE when none is set)
    rank: Condition  # the relevance score's expression
    newest_first: bool
    marked: frozenset[tuple[str, bytes]]  # the terms the snippets mark, as Whoosh's matched terms
    text: bool  # whether the request has query text (the snippets are highlighted)

    def where(self) -> Condition:
        """The rows the page lists and the total counts: the matches under the dates and every filter."""
        return _all([self.query, self.in_dates, *self.filters.values()])


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
            plan = _plan(run, request, self.settings, deadline)
            counted = _count(run, plan, request)
            rows = run(*_page_statement(plan, request))
            hits = self._hits([_stored(row) for row in rows], plan)
            hits = self._with_copies(run, hits)
        deadline.check()
        values = {name: facet_values(name, counted.facets[name], request, self.gazetteer) for name in FACETS}
        bounds = (plan.dates.first, plan.dates.last) if plan.dates is not None else None
        return SearchPage(query=request, total=counted.total, hits=hits, facets=values, undated=counted.undated,
                          date_bounds=bounds, counted=request.count, articles=counted.articles,
                          stories=counted.stories)

    def facet_table(self, request: SearchQuery, name: str) -> tuple[FacetValue, ...]:
        """One facet's whole table under ``request``, counted in articles (search/query/export.py's)."""
        if name not in FACETS:
            raise QueryError(f"unknown facet {name!r}", hint=f"use facet={', '.join(FACETS)}")
        whole = replace(request, page=1, per_page=1, facet_limit=_EVERY_VALUE, collapse="", count="articles")
        return self.search(whole).facets[name]

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
            _columns(), _NEWEST)
        with self._snapshot() as run:
            rows = run(statement, (article.cluster, article.id, limit))
        return tuple(to_hit(_stored(row), self.gazetteer, "") for row in rows)

    def indexed_at(self, article_id: str) -> dt.datetime | None:
        with self._snapshot() as run:
            rows = run(sql.SQL("SELECT a.indexed_at FROM articles a JOIN article_months m "
                               "ON a.month = m.month AND a.id = m.id WHERE m.id = %s"), (article_id,))
        moment = rows[0][0] if rows else None
        return moment.replace(tzinfo=dt.UTC) if isinstance(moment, dt.datetime) else None

    def committed(self) -> dt.datetime | None:
        return None  # a database has no one commit moment the way an index directory has: no Last-Modified

    # --- the front page ---------------------------------------------------------------------------------------

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
        return Overview(articles=_int(articles), outlets=_int(outlets), no_outlet=_int(no_outlet), dated=_int(dated),
                        earliest=_utc_second(earliest), latest=_utc_second(latest),
                        added=added.replace(tzinfo=dt.UTC) if isinstance(added, dt.datetime) else None)

    def close(self) -> None:
        """Close the connection the reader opened itself (one it was given stays its owner's)."""
        if self._factory is not None and self._connection is not None:
            self._connection.close()
            self._connection = None

    # --- helpers ------------------------------------------------------------------------------------------------

    @contextmanager
    def _snapshot(self) -> Iterator[_Run]:
        """One read-only snapshot for every statement of a question, each under the time limit left."""
        connection = self.connection
        deadline = Deadline(self.settings)
        outermost = connection.info.transaction_status == TransactionStatus.IDLE
        with connection.transaction():
            if outermost:  # only a transaction's first statement may set its isolation
                connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield _Run(connection, deadline)

    def _by_id(self, run: _Run, ids: Sequence[str]) -> list[StoredArticle]:
        """The articles of these ids, found by the month each is kept in (the table's key is month and id)."""
        if not ids:
            return []
        statement = sql.SQL("SELECT {} FROM articles a JOIN article_months m ON a.month = m.month AND a.id = m.id "
                            "WHERE m.id = ANY(%s)").format(_columns("a"))
        return [_stored(row) for row in run(statement, (list(ids),))]

    def _hits(self, articles: list[StoredArticle], plan: _Plan) -> tuple[Hit, ...]:
        """The page's hits: a snippet marking the query's words in the text (one highlighter for the page), or
        the lead where none is marked."""
        marking = highlighter()
        matched = _Matched(plan.marked)
        hits = []
        for article in articles:
            snippet = marking.highlight_hit(_Shown(matched), _SNIPPET_FIELD, text=article.text, top=2) \
                if plan.text else ""
            hits.append(to_hit(article, self.gazetteer, one_line(snippet) or lead(article.text)))
        return tuple(hits)

    def _with_copies(self, run: _Run, hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
        """The hits with their clusters' sizes and other outlets (search/query/run.py's ``_with_copies``)."""
        if not hits:
            return hits
        rows = run(sql.SQL("SELECT cluster, outlet, count(*) FROM articles WHERE cluster = ANY(%s) "
                           "GROUP BY cluster, outlet"), (sorted({hit.cluster for hit in hits}),))
        counts = {(str(cluster), str(outlet)): _int(n) for cluster, outlet, n in rows}
        return tuple(with_counts(hit, counts) for hit in hits)


#: A facet limit no facet reaches: ``facet_table`` lists every value.
_EVERY_VALUE = 1 << 62


class _Run:
    """Statements of one snapshot, each under what is left of the time limit; a timeout is a ``QueryError``."""

    def __init__(self, connection: Connection, deadline: Deadline) -> None:
        self.connection, self.deadline = connection, deadline

    def __call__(self, statement: sql.SQL | sql.Composed, params: Sequence[object]) -> list[tuple[Any, ...]]:
        left = self.deadline.remaining()
        if left <= 0:
            raise self.deadline.error()
        try:
            self.connection.execute("SELECT set_config('statement_timeout', %s, true)", (str(max(1, int(left * 1000))),))
            return self.connection.execute(statement, params).fetchall()
        except psycopg.errors.QueryCanceled:
            raise self.deadline.error() from None


# --- compiling a request ---------------------------------------------------------------------------------------


def _plan(run: _Run, request: SearchQuery, settings: Settings, deadline: Deadline) -> _Plan:
    parsed = read_query(request.q, _schema(), settings)
    words = _expansions(run, parsed, settings, deadline)

    def expand(field: str, pattern: str) -> list[str]:
        return words[(field, pattern)]

    query = compile_query(parsed, expand)
    dates = date_filter(request)
    filters = {name: _facet_filter(name, values) for name, values in request.filters().items() if values}
    lexemes, unstemmed = _scored_terms(parsed, words)
    newest_first = request.sort == "date" or isinstance(parsed, wq.Every)
    where = _all([query, _dates(dates), *filters.values()])
    marked = _marked_terms(run, parsed, where, expand, words) if request.q else frozenset()
    return _Plan(query=query, dates=dates, in_dates=_dates(dates), filters=filters,
                 rank=_rank(lexemes, unstemmed) if not newest_first else Condition(sql.SQL("0")),
                 newest_first=newest_first, marked=marked, text=bool(request.q))


def _expansions(run: _Run, parsed: wq.Query, settings: Settings, deadline: Deadline) -> dict[tuple[str, str], list[str]]:
    """The words each prefix and wildcard of the query stands for, from ``words_seen``, under the embedded
    backend's cap (all of them together) and message (search/query/parse.py's ``_expanded``).

    A prefix is matched as a prefix in the ``tsquery``; its words are listed
    too, to count against the cap and to mark in the snippets.
    """
    found: dict[tuple[str, str], list[str]] = {}
    expanded, cap = 0, settings.max_wildcard_terms
    for leaf in parsed.leaves():
        if not isinstance(leaf, (wq.Prefix, wq.Wildcard)):
            continue
        pattern = _like(leaf.text) + "%" if isinstance(leaf, wq.Prefix) else _like_wildcard(leaf.text)
        rows = run(sql.SQL("SELECT word FROM words_seen WHERE word LIKE %s AND articles > 0 ORDER BY word LIMIT %s"),
                   (pattern, cap - expanded + 1))
        words = [str(row[0]) for row in rows]
        expanded += len(words)
        if expanded > cap:
            raise QueryError(f"{leaf.text!r} takes the query over {cap} words",
                             hint="use fewer wildcards, or more letters before each * or ?")
        found[(leaf.fieldname, leaf.text)] = words
        deadline.check()
    return found


def _like(text: str) -> str:
    """Text as a LIKE pattern matching itself (backslash is LIKE's escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_wildcard(pattern: str) -> str:
    """A wildcard (``*`` any run of characters, ``?`` one) as a LIKE pattern."""
    return _like(pattern).replace("*", "%").replace("?", "_")


def _leaves(query: wq.Query, negated: bool = True) -> Iterator[wq.Query]:
    """The query's leaves, a phrase's words as terms; ``negated=False``: only those an article matches by, not
    the ones standing under a NOT."""
    if isinstance(query, wq.Not) and not negated:
        return
    if isinstance(query, wq.AndNot) and not negated:
        yield from _leaves(query.a, negated)
    elif isinstance(query, wq.Phrase):
        yield from (wq.Term(query.fieldname, word) for word in query.words)
    elif query.is_leaf():
        yield query
    else:
        for child in query.children():
            yield from _leaves(child, negated)


def _scored_terms(parsed: wq.Query, words: dict[tuple[str, str], list[str]]) -> tuple[list[str], list[str]]:
    """The query's terms an article matches by (none under a NOT), as weighted lexemes (for ranking
    ``lexemes``) and as weighted words (``words``)."""
    twin_of = {twin: name for name, twin in WORD_FIELDS.items()}
    lexemes: dict[str, None] = {}
    unstemmed: dict[str, None] = {}
    for leaf in _leaves(parsed, negated=False):
        if isinstance(leaf, wq.Term) and leaf.fieldname in WEIGHTS:
            lexemes[f"{quote(leaf.text)}:{WEIGHTS[leaf.fieldname]}"] = None
        elif isinstance(leaf, (wq.Prefix, wq.Wildcard)) and leaf.fieldname in twin_of:
            weight = WEIGHTS[twin_of[leaf.fieldname]]
            if isinstance(leaf, wq.Prefix):
                unstemmed[f"{quote(leaf.text)}:*{weight}"] = None
            else:
                unstemmed.update((f"{quote(word)}:{weight}", None) for word in words[(leaf.fieldname, leaf.text)])
    return list(lexemes), list(unstemmed)


def _marked_terms(run: _Run, parsed: wq.Query, where: Condition, expand: Expand,
                  words: dict[tuple[str, str], list[str]]) -> frozenset[tuple[str, bytes]]:
    """The terms of the snippet's field (stemmed, and its unstemmed twin) that the highlighter marks: those
    Whoosh's matchers certainly stand on in some article the search selects (search/query/matches.py's
    ``stands_on``) — the term is there and every query node above it matches that article too. A node an
    article matches whenever the term is there (an OR, an AND MAYBE's first part, the whole query) needs no
    look; for the others, one ``EXISTS`` each, all in one statement.

    A term under a NOT is marked where the nodes above the NOT match (Whoosh's
    matchers below a NOT are stepped onto each article its AND takes: a
    negated phrase's words stand there without the phrase), the nodes below
    it not asked.
    """
    twin = WORD_FIELDS[_SNIPPET_FIELD]
    candidates: list[tuple[wq.Query, list[wq.Query]]] = []  # (term, the nodes above it that must match too)

    def walk(node: wq.Query, needed: list[wq.Query], negated: bool = False) -> None:
        if isinstance(node, wq.Not):
            walk(node.query, needed, negated=True)
        elif isinstance(node, wq.Phrase):
            above = needed if node is parsed or negated else [*needed, node]
            candidates.extend((wq.Term(node.fieldname, word), above) for word in node.words)
        elif node.is_leaf():
            candidates.append((node, needed))
        elif isinstance(node, wq.AndNot):
            above = needed if node is parsed or negated else [*needed, node]
            walk(node.a, above, negated)
            walk(node.b, above, negated=True)
        else:
            for child in node.children():
                implied = negated or node is parsed or isinstance(node, wq.Or) or \
                    (isinstance(node, wq.AndMaybe) and child is node.a)
                walk(child, needed if implied else [*needed, node], negated)

    walk(parsed, [])
    marked: set[tuple[str, bytes]] = set()
    checks: list[tuple[wq.Query, Condition]] = []
    for leaf, needed in candidates:
        if not ((isinstance(leaf, wq.Term) and leaf.fieldname == _SNIPPET_FIELD)
                or (isinstance(leaf, (wq.Prefix, wq.Wildcard)) and leaf.fieldname == twin)):
            continue
        if needed:
            checks.append((leaf, _all([where, *(compile_query(node, expand) for node in [*needed, leaf])])))
        else:
            marked |= _terms_of(leaf, words)
    if checks:
        statement = sql.SQL("SELECT {}").format(sql.SQL(", ").join(
            sql.SQL("EXISTS (SELECT 1 FROM articles WHERE {})").format(check.where) for _, check in checks))
        (found,) = run(statement, tuple(param for _, check in checks for param in check.params))
        for (leaf, _), stands in zip(checks, found, strict=True):
            if stands:
                marked |= _terms_of(leaf, words)
    return frozenset(marked)


def _terms_of(leaf: wq.Query, words: dict[tuple[str, str], list[str]]) -> set[tuple[str, bytes]]:
    """A term's (field, term) pair; a prefix's or wildcard's, one per word it stands for."""
    if isinstance(leaf, wq.Term):
        return {(leaf.fieldname, leaf.text.encode())}
    return {(leaf.fieldname, word.encode()) for word in words[(leaf.fieldname, leaf.text)]}


def _rank(lexemes: list[str], unstemmed: list[str]) -> Condition:
    """The relevance score: ``ts_rank_cd`` of the query's positive terms over each vector, added."""
    parts: list[sql.Composable] = []
    params: list[object] = []
    for vector, terms in ((LEXEMES, lexemes), (WORDS, unstemmed)):
        if terms:
            parts.append(sql.SQL("ts_rank_cd({}::real[], {}, {}::tsquery, {})").format(
                sql.Placeholder(), sql.Identifier(vector), sql.Placeholder(), sql.Literal(RANK_NORMALIZATION)))
            params += [RANK_WEIGHTS, " | ".join(terms)]
    return Condition(sql.SQL(" + ").join(parts), tuple(params)) if parts else Condition(sql.SQL("0"))


def _facet_filter(name: str, values: Sequence[str]) -> Condition:
    """The articles holding any of ``values`` (OR within a facet)."""
    if name == "actor":
        return Condition(sql.SQL("{} && {}::text[]").format(sql.Identifier(ACTORS), sql.Placeholder()), (list(values),))
    return Condition(sql.SQL("{} = ANY({})").format(sql.Identifier(_FACET_COLUMNS[name]), sql.Placeholder()),
                     (list(values),))


def _dates(dates: DateFilter | None) -> Condition:
    """What the date filter takes: compared to the second, as the index's ``date_key`` (a moment within the
    filter's last second is in); undated articles only with ``dated=no``, never otherwise."""
    published = sql.Identifier(PUBLISHED)
    if dates is None:
        return _TRUE
    if dates.undated_only:
        return Condition(sql.SQL("{} IS NULL").format(published))
    checks = [Condition(sql.SQL("{} IS NOT NULL").format(published))]
    if dates.first is not None:
        checks.append(Condition(sql.SQL("{} >= {}").format(published, sql.Placeholder()), (dates.first,)))
    if dates.last is not None:
        checks.append(Condition(sql.SQL("{} < {}").format(published, sql.Placeholder()), (dates.last + _ONE_SECOND,)))
    certain = sorted(CERTAIN_DATE_SOURCES)
    if dates.certainty == "certain":
        checks.append(Condition(sql.SQL("published_source = ANY({})").format(sql.Placeholder()), (certain,)))
    elif dates.certainty == "uncertain":  # no source recorded is a weak signal too
        checks.append(Condition(sql.SQL("(published_source IS NULL OR published_source <> ALL({}))").format(
            sql.Placeholder()), (certain,)))
    return _all(checks)


_TRUE = Condition(sql.SQL("TRUE"))


def _all(conditions: Sequence[Condition]) -> Condition:
    """Conditions joined by AND, their parameters in the order they stand."""
    kept = [c for c in conditions if c is not _TRUE] or [_TRUE]
    return Condition(sql.SQL(" AND ").join(sql.SQL("({})").format(c.where) for c in kept),
                     tuple(param for c in kept for param in c.params))


# --- counting --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counted:
    facets: dict[str, dict[str, int]]
    total: int
    undated: int
    articles: int
    stories: int | None


def _count(run: _Run, plan: _Plan, request: SearchQuery) -> _Counted:
    """The four facets, the total and the undated count in one statement (search/query/run.py's ``_count``)."""
    in_stories = request.count == STORIES
    told = in_stories or bool(request.collapse)
    statement, params = _count_statement(plan, in_stories, told)
    facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    numbers = {"total": 0, "stories": 0, "undated": 0}
    for kind, value, n in run(statement, params):
        if kind in facets:
            facets[kind][str(value)] = _int(n)
        else:
            numbers[kind] = _int(n)
    articles = numbers["total"]
    stories = numbers["stories"] if told else None
    return _Counted(facets, stories if in_stories and stories is not None else articles, numbers["undated"], articles,
                    stories)


def _count_statement(plan: _Plan, in_stories: bool, told: bool) -> tuple[sql.Composed, tuple[object, ...]]:
    """The counting statement: one row (kind, value, count) per facet value, and one each for the total, the
    stories (when ``told``) and the undated matches.

    The query's matches are listed once (a materialised CTE) with a flag
    per filter; each facet is then grouped over the matches under the
    dates and every other facet's flag. In stories, a value counts the
    distinct clusters holding it.
    """
    flags = {name: plan.filters.get(name, _TRUE) for name in FACETS}
    flag_names = {name: sql.Identifier(f"f_{name}") for name in FACETS}
    # The date filter's undated count: the matches under every facet filter that have no date (none asked with
    # dated=no, none without a date filter).
    undated_counted = plan.dates is not None and not plan.dates.undated_only

    def under(*conditions: sql.Composable) -> sql.Composable:
        return sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("TRUE")

    measure = sql.SQL("count(DISTINCT cluster)" if in_stories else "count(*)")
    parts: list[sql.Composable] = []
    for name in FACETS:
        others = [flag_names[other] for other in FACETS if other != name]
        if name == "actor":
            parts.append(sql.SQL("SELECT {}, actor, {} FROM matched CROSS JOIN LATERAL unnest({}) AS actor "
                                 "WHERE {} GROUP BY actor").format(
                sql.Literal(name), measure, sql.Identifier(ACTORS), under(sql.SQL("in_dates"), *others)))
        else:
            column = sql.Identifier(_FACET_COLUMNS[name])
            parts.append(sql.SQL("SELECT {}, {}, {} FROM matched WHERE {} GROUP BY {}").format(
                sql.Literal(name), column, measure, under(sql.SQL("in_dates"), *others), column))
    every = list(flag_names.values())
    totals = [("total", sql.SQL("in_dates"), sql.SQL("count(*)"))]
    if told:
        totals.append(("stories", sql.SQL("in_dates"), sql.SQL("count(DISTINCT cluster)")))
    if undated_counted:
        totals.append(("undated", sql.SQL("undated"), measure))
    parts += [sql.SQL("SELECT {}, NULL, {} FROM matched WHERE {}").format(sql.Literal(kind), counted,
                                                                         under(taken, *every))
              for kind, taken, counted in totals]
    statement = sql.SQL(
        "WITH matched AS MATERIALIZED (SELECT cluster, outlet, year, language, {actors}, {published} IS NULL AS undated, "
        "{in_dates} AS in_dates, {flags} FROM articles WHERE {query}) {parts}").format(
        actors=sql.Identifier(ACTORS), published=sql.Identifier(PUBLISHED), in_dates=plan.in_dates.where,
        flags=sql.SQL(", ").join(sql.SQL("{} AS {}").format(flags[name].where, flag_names[name]) for name in FACETS),
        query=plan.query.where, parts=sql.SQL(" UNION ALL ").join(parts))
    params = (*plan.in_dates.params, *(p for name in FACETS for p in flags[name].params), *plan.query.params)
    return statement, params


# --- the page ----------------------------------------------------------------------------------------------------

#: Newest first, undated last, then in ingest order: the embedded backend's date order (ties in index order).
_NEWEST = sql.SQL("{} DESC NULLS LAST, seq, id").format(sql.Identifier(PUBLISHED))
_BEST = sql.SQL("rank DESC, seq, id")


def _page_statement(plan: _Plan, request: SearchQuery) -> tuple[sql.Composed, tuple[object, ...]]:
    """The page's rows in the page's order; collapsed, each story's first article in that order only."""
    where = plan.where()
    order = _NEWEST if plan.newest_first else _BEST
    chosen = sql.SQL("WITH chosen AS (SELECT {}, {} AS rank FROM articles WHERE {})").format(
        _columns(), plan.rank.where, where.where)
    if request.collapse:
        listed = sql.SQL(", firsts AS (SELECT *, row_number() OVER (PARTITION BY cluster ORDER BY {}) AS nth "
                         "FROM chosen) SELECT {} FROM firsts WHERE nth = 1").format(order, _columns())
    else:
        listed = sql.SQL(" SELECT {} FROM chosen").format(_columns())
    statement = sql.SQL("{}{} ORDER BY {} LIMIT %s OFFSET %s").format(chosen, listed, order)
    offset = (request.page - 1) * request.per_page
    return statement, (*plan.rank.params, *where.params, request.per_page, offset)


def _columns(table: str | None = None) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(table, name) if table else sql.Identifier(name) for name in _HIT_COLUMNS)


def _stored(row: Sequence[Any]) -> StoredArticle:
    """A row as the embedded backend's stored fields, read by the same ``from_stored``."""
    values = dict(zip(_HIT_COLUMNS, row, strict=True))
    stored = {name: value for name, value in values.items() if value is not None}
    stored["body"] = values["body"]
    stored["actor"] = ",".join(values["actors"] or ())
    stored["published"] = values["published_utc"]
    return from_stored(stored)


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


def _int(value: object) -> int:
    return int(value) if isinstance(value, int) else 0


def _utc_second(moment: object) -> dt.datetime | None:
    """A naive UTC timestamp as an aware moment, to the second (the embedded overview's ``date_key``)."""
    if not isinstance(moment, dt.datetime):
        return None
    return moment.replace(microsecond=0, tzinfo=dt.UTC)


__all__ = ["RANK_WEIGHTS", "PostgresReader"]
