"""A ``SearchQuery`` compiled for the PostgreSQL backend, and the snapshot its statements run in.

Part of the query stage, for the PostgreSQL backend (issue 19), below the
reader's facade (search/query/pg_reader.py) and beside the counting and page
statements (search/query/pg_counts.py), the timeline (pg_timeline.py), the
export (pg_export.py), related articles (pg_related.py) and the coverage
(pg_coverage.py), which all start from a ``Plan``:

* the query text is read by the project's own parser (``read_query``: the
  same checks and analysis as the embedded backend), its wildcards and
  prefixes expanded against ``words_seen`` under the same cap on words, and
  compiled to one SQL condition (search/query/tsquery.py);
* each facet filter is one condition (OR within a facet), and the date
  filter (search/query/parse.py's ``DateFilter``) compares the moment to
  the second, as the index's ``date_key`` does, its certainty reading
  ``published_source`` against ``CERTAIN_DATE_SOURCES``;
* the relevance score is ``ts_rank_cd`` with the title weighted far above
  the body; the snippets mark the terms Whoosh records as matched
  (``marked_terms``).

Every statement of one question runs in one read-only REPEATABLE READ
transaction (``snapshot``: one snapshot, as a Whoosh searcher is), each
under what is left of the search's time limit (``Run``); a statement cut
short is a ``QueryError``, as under Whoosh. SQL is composed with
``psycopg.sql``, and every value is a bound parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from whoosh import query as wq
from whoosh.fields import Schema

from search.errors import QueryError
from search.index import WORD_FIELDS, build_schema
from search.index.lexemes import WEIGHTS, quote
from search.index.postgres import Connection
from search.query.parse import DateFilter, Deadline, date_filter, read_query
from search.query.tsquery import ACTORS, LEXEMES, PUBLISHED, WORDS, Condition, Expand, compile_query
from search.records import CERTAIN_DATE_SOURCES, SearchQuery
from search.settings import Settings

#: ``ts_rank_cd``'s weight of each label, in its order D, C, B, A: the body 0.1, the author 0.4, the title 1.0 —
#: one title match outranks the body's few mentions of a word, as the embedded backend's title boost does.
RANK_WEIGHTS = [0.1, 0.2, 0.4, 1.0]
#: ``ts_rank_cd``'s normalisation: divided by 1 + the logarithm of the article's length (BM25 also weighs length).
RANK_NORMALIZATION = 1

_ONE_SECOND = dt.timedelta(seconds=1)
#: Each facet's column; actors are an array, counted by its elements.
FACET_COLUMNS = {"outlet": "outlet", "actor": ACTORS, "year": "year", "language": "language"}
#: The snippet's field, whose matched terms the highlighter marks.
SNIPPET_FIELD = "body"

ConnectionSource = Connection | Callable[[], Connection]


@cache
def schema() -> Schema:
    return build_schema()


@dataclass(frozen=True)
class Plan:
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
        return all_of([self.query, self.in_dates, *self.filters.values()])


class Run:
    """Statements of one snapshot, each under what is left of the time limit; a timeout is a ``QueryError``."""

    def __init__(self, connection: Connection, deadline: Deadline) -> None:
        self.connection, self.deadline = connection, deadline

    def __call__(self, statement: sql.SQL | sql.Composed, params: Sequence[object] | Mapping[str, object]) -> list[tuple[Any, ...]]:
        left = self.deadline.remaining()
        if left <= 0:
            raise self.deadline.error()
        try:
            self.connection.execute("SELECT set_config('statement_timeout', %s, true)", (str(max(1, int(left * 1000))),))
            return self.connection.execute(statement, params).fetchall()
        except psycopg.errors.QueryCanceled:
            raise self.deadline.error() from None


@contextmanager
def snapshot(connection: Connection, settings: Settings) -> Iterator[Run]:
    """One read-only snapshot for every statement of a question, each under the time limit left."""
    deadline = Deadline(settings)
    outermost = connection.info.transaction_status == TransactionStatus.IDLE
    with connection.transaction():
        if outermost:  # only a transaction's first statement may set its isolation
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # A statement run often enough is prepared (psycopg, on the 5th run); planned once for every value
            # then, not once per search: planning a statement over every month's partition cost more than
            # running it (bench/pg_scale.py: the front page 36 → 5 ms CPU at 120k articles, 306 partitions).
            # The plan, not the answer, is all this changes.
            connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        yield Run(connection, deadline)


# --- compiling a request ---------------------------------------------------------------------------------------


def plan(run: Run, request: SearchQuery, settings: Settings, deadline: Deadline) -> Plan:
    parsed = read_query(request.q, schema(), settings)
    words = expansions(run, parsed, settings, deadline)

    def expand(field: str, pattern: str) -> list[str]:
        return words[(field, pattern)]

    query = compile_query(parsed, expand)
    dates = date_filter(request)
    filters = {name: facet_filter(name, values) for name, values in request.filters().items() if values}
    lexemes, unstemmed = _scored_terms(parsed, words)
    newest_first = request.sort == "date" or isinstance(parsed, wq.Every)
    where = all_of([query, dates_condition(dates), *filters.values()])
    marked = _marked_terms(run, parsed, where, expand, words) if request.q else frozenset()
    return Plan(query=query, dates=dates, in_dates=dates_condition(dates), filters=filters,
                 rank=_rank(lexemes, unstemmed) if not newest_first else Condition(sql.SQL("0")),
                 newest_first=newest_first, marked=marked, text=bool(request.q))


def expansions(run: Run, parsed: wq.Query, settings: Settings, deadline: Deadline) -> dict[tuple[str, str], list[str]]:
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
        pattern = like(leaf.text) + "%" if isinstance(leaf, wq.Prefix) else like_wildcard(leaf.text)
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


def like(text: str) -> str:
    """Text as a LIKE pattern matching itself (backslash is LIKE's escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_wildcard(pattern: str) -> str:
    """A wildcard (``*`` any run of characters, ``?`` one) as a LIKE pattern."""
    return like(pattern).replace("*", "%").replace("?", "_")


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


def _marked_terms(run: Run, parsed: wq.Query, where: Condition, expand: Expand,
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
    twin = WORD_FIELDS[SNIPPET_FIELD]
    candidates = term_paths(parsed)
    marked: set[tuple[str, bytes]] = set()
    checks: list[tuple[wq.Query, Condition]] = []
    for leaf, needed in candidates:
        if not ((isinstance(leaf, wq.Term) and leaf.fieldname == SNIPPET_FIELD)
                or (isinstance(leaf, (wq.Prefix, wq.Wildcard)) and leaf.fieldname == twin)):
            continue
        if needed:
            checks.append((leaf, all_of([where, *(compile_query(node, expand) for node in [*needed, leaf])])))
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


def term_paths(parsed: wq.Query, positive_only: bool = False) -> list[tuple[wq.Query, list[wq.Query]]]:
    """Each leaf of the query (a phrase's words as terms) with the nodes above it that must match an article
    too for Whoosh's matchers to stand on the leaf there (search/query/matches.py's ``stands_on``): not a node
    an article matches whenever the leaf is there (an OR, an AND MAYBE's first part, the whole query), nor any
    node under a NOT (Whoosh steps a negated phrase's words onto each article the AND above takes: what its
    highlighter marks). ``positive_only``: no leaf under a NOT (what Whoosh reports an article matched by)."""
    candidates: list[tuple[wq.Query, list[wq.Query]]] = []  # (term, the nodes above it that must match too)

    def walk(node: wq.Query, needed: list[wq.Query], negated: bool = False) -> None:
        if isinstance(node, wq.Not):
            if not positive_only:
                walk(node.query, needed, negated=True)
        elif isinstance(node, wq.Phrase):
            above = needed if node is parsed or negated else [*needed, node]
            candidates.extend((wq.Term(node.fieldname, word), above) for word in node.words)
        elif node.is_leaf():
            candidates.append((node, needed))
        elif isinstance(node, wq.AndNot):
            above = needed if node is parsed or negated else [*needed, node]
            walk(node.a, above, negated)
            if not positive_only:
                walk(node.b, above, negated=True)
        else:
            for child in node.children():
                implied = negated or node is parsed or isinstance(node, wq.Or) or \
                    (isinstance(node, wq.AndMaybe) and child is node.a)
                walk(child, needed if implied else [*needed, node], negated)

    walk(parsed, [])
    return candidates


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


def facet_filter(name: str, values: Sequence[str]) -> Condition:
    """The articles holding any of ``values`` (OR within a facet)."""
    if name == "actor":
        return Condition(sql.SQL("{} && {}::text[]").format(sql.Identifier(ACTORS), sql.Placeholder()), (list(values),))
    return Condition(sql.SQL("{} = ANY({})").format(sql.Identifier(FACET_COLUMNS[name]), sql.Placeholder()),
                     (list(values),))


def dates_condition(dates: DateFilter | None) -> Condition:
    """What the date filter takes: compared to the second, as the index's ``date_key`` (a moment within the
    filter's last second is in); undated articles only with ``dated=no``, never otherwise."""
    published = sql.Identifier(PUBLISHED)
    if dates is None:
        return TRUE
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
    return all_of(checks)


TRUE = Condition(sql.SQL("TRUE"))


def all_of(conditions: Sequence[Condition]) -> Condition:
    """Conditions joined by AND, their parameters in the order they stand."""
    kept = [c for c in conditions if c is not TRUE] or [TRUE]
    return Condition(sql.SQL(" AND ").join(sql.SQL("({})").format(c.where) for c in kept),
                     tuple(param for c in kept for param in c.params))
