"""The PostgreSQL backend's counting and page statements, and a row read back as a stored article.

Part of the query stage, for the PostgreSQL backend (issue 19), below the
reader's facade (search/query/pg_reader.py), from a compiled request
(search/query/pg_plan.py's ``Plan``):

* the facets are counted as search/query/facets.py counts them: each under
  the query, the date filter and every *other* facet's filters, OR within a
  facet and AND across facets, ``unknown`` a value like any other (the
  writer stores it), in articles or in stories (a story's copies count once);
  all four, the total and the undated count in one statement over the
  matches, grouped in SQL — no Python per matched row;
* a search of every article counted in articles (the front page) reads
  the counts the schema keeps instead (``every_article_counts``), and a
  page's copies by outlet are read the same way (``cluster_outlets``);
* the page is the newest first (undated last) or the best ranked, ties by
  ingest number then id (``NEWEST``, ``BEST``), so every page of a search is
  a slice of one order; the copies of one story collapsed to its first
  article when asked;
* a row becomes a ``StoredArticle`` by the embedded backend's own
  ``from_stored`` (``stored_article``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from search.index import from_stored
from search.query import cursor
from search.query.pg_plan import FACET_COLUMNS, TRUE, Plan, Run
from search.query.stories import STORIES
from search.query.tsquery import ACTORS, PUBLISHED, Condition
from search.records import FACETS, SearchQuery, StoredArticle

#: The columns a hit is read from: what the embedded backend's stored fields hold.
HIT_COLUMNS = ("id", "url", "title", "body", "origin", "outlet", "author", "published_iso", "published_utc",
                "published_source", "year", "language", "actors", "cluster", "seq", "indexed_at", "fingerprint",
                "text_key", "minhash")

# --- counting --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counted:
    facets: dict[str, dict[str, int]]
    total: int
    undated: int
    articles: int
    stories: int | None


def count(run: Run, plan: Plan, request: SearchQuery) -> Counted:
    """The four facets, the total and the undated count in one statement (search/query/run.py's ``_count``);
    for a search of every article counted in articles (the front page), the counts the schema keeps."""
    in_stories = request.count == STORIES
    told = in_stories or bool(request.collapse)
    if _every_article(plan, request) and not told:
        kept, total = every_article_counts(run)
        return Counted(kept, total, 0, total, None)
    statement, params = _count_statement(plan, in_stories, told)
    facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    numbers = {"total": 0, "stories": 0, "undated": 0}
    for kind, value, n in run(statement, params):
        if kind in facets:
            facets[kind][str(value)] = int_of(n)
        else:
            numbers[kind] = int_of(n)
    articles = numbers["total"]
    stories = numbers["stories"] if told else None
    return Counted(facets, stories if in_stories and stories is not None else articles, numbers["undated"], articles,
                    stories)


def _every_article(plan: Plan, request: SearchQuery) -> bool:
    """Whether the search selects every article: no query text, no date filter, no facet filter."""
    return not request.q.strip() and plan.dates is None and not plan.filters


def every_article_counts(run: Run) -> tuple[dict[str, dict[str, int]], int]:
    """The four facets' counts over every article, and the number of articles, as the schema's triggers keep
    them in ``facet_counts`` (search/index/migrations/0005_counting.sql): what the counting statement gives
    for a search of every article counted in articles, read in the same snapshot, at a cost that does not
    grow with the articles (grouping every article did: the front page was this backend's slowest search)."""
    facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    total = 0
    for facet, value, articles in run(_FACET_COUNTS, ()):
        if facet == "total":
            total = int_of(articles)
        elif facet in facets:
            facets[str(facet)][str(value)] = int_of(articles)
    return facets, total


def cluster_outlets(run: Run, clusters: Iterable[str]) -> dict[tuple[str, str], int]:
    """Each of these clusters' articles by outlet, (cluster, outlet) → articles, as the schema's triggers keep
    them in ``cluster_counts``: found by key, where grouping the articles probed every month's partition."""
    return {(str(cluster), str(outlet)): int_of(articles)
            for cluster, outlet, articles in run(_CLUSTER_COUNTS, (sorted(set(clusters)),))}


_FACET_COUNTS = sql.SQL("SELECT facet, value, articles FROM facet_counts")
_CLUSTER_COUNTS = sql.SQL("SELECT cluster, outlet, articles FROM cluster_counts WHERE cluster = ANY(%s)")


def _count_statement(plan: Plan, in_stories: bool, told: bool) -> tuple[sql.Composed, tuple[object, ...]]:
    """The counting statement: one row (kind, value, count) per facet value, and one each for the total, the
    stories (when ``told``) and the undated matches.

    The query's matches are listed once (a materialised CTE) with a flag
    per filter; each facet is then grouped over the matches under the
    dates and every other facet's flag. In stories, a value counts the
    distinct clusters holding it.
    """
    flags = {name: plan.filters.get(name, TRUE) for name in FACETS}
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
            column = sql.Identifier(FACET_COLUMNS[name])
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

#: Newest first, undated last, then in ingest order: the embedded backend's date order too (search/query/cursor.py).
NEWEST = sql.SQL("{} DESC NULLS LAST, seq, id").format(sql.Identifier(PUBLISHED))
BEST = sql.SQL("rank DESC, seq, id")


def page_statement(plan: Plan, request: SearchQuery) -> tuple[sql.Composed, tuple[object, ...]]:
    """The page's rows in the page's order, each with its rank last, and one row more when a page follows;
    collapsed, each story's first article in that order only. A numbered page counts rows off from the first
    (OFFSET); a page after a cursor starts at the cursor's result (``_after``)."""
    where = plan.where()
    order = NEWEST if plan.newest_first else BEST
    # The date order's index (0005_counting.sql's articles_newest) gives a page of every article, or of a date
    # range, by merging each month's index. Under a text or facet condition the planner would walk that index
    # too, testing row after row until a page matches — every row when few do (seconds for a rare word) — so
    # such matches are gathered first, through their own indexes, and then ordered.
    gathered = sql.SQL("MATERIALIZED " if plan.text or plan.filters else "")
    chosen = sql.SQL("WITH chosen AS {}(SELECT {}, {} AS rank FROM articles WHERE {})").format(
        gathered, hit_columns(), plan.rank.where, where.where)
    after = _after(plan, request)
    if request.collapse:  # a story is after the cursor when its first article is
        listed = sql.SQL(", firsts AS (SELECT *, row_number() OVER (PARTITION BY cluster ORDER BY {}) AS nth "
                         "FROM chosen) SELECT {}, rank FROM firsts WHERE nth = 1 AND {}").format(
            order, hit_columns(), after.where)
    else:
        listed = sql.SQL(" SELECT {}, rank FROM chosen WHERE {}").format(hit_columns(), after.where)
    paged = (*plan.rank.params, *where.params, *after.params, request.per_page + 1)
    if request.after:
        return sql.SQL("{}{} ORDER BY {} LIMIT %s").format(chosen, listed, order), paged
    offset = (request.page - 1) * request.per_page
    return sql.SQL("{}{} ORDER BY {} LIMIT %s OFFSET %s").format(chosen, listed, order), (*paged, offset)


#: What a relevance cursor says its scores are (search/query/cursor.py): ``ts_rank_cd``'s.
ENGINE = "postgres"


def _after(plan: Plan, request: SearchQuery) -> Condition:
    """The rows after a cursor's result in the page's order (``NEWEST`` or ``BEST``); TRUE without one.

    By date, the cursor's month and the months after it are pruned (every
    arm names the publication moment), so a deep page reads the older
    months only. The rank is compared as the ``real`` that ``ts_rank_cd``
    gives: the cursor holds it as PostgreSQL printed it, which reads back
    as the same ``real`` and not always as the same double.
    """
    if not request.after:
        return TRUE
    at = cursor.decode(request.after, request)
    cursor.check_engine(at, ENGINE)
    published = sql.Identifier(PUBLISHED)
    if not plan.newest_first:
        return Condition(sql.SQL("(rank < %s::real OR (rank = %s::real AND (seq, id) > (%s, %s)))"),
                         (at.key, at.key, at.seq, at.id))
    moment = cursor.moment_of(int(at.key))
    if moment is None:  # among the undated, last
        return Condition(sql.SQL("({} IS NULL AND (seq, id) > (%s, %s))").format(published), (at.seq, at.id))
    return Condition(sql.SQL("({p} < %s OR {p} IS NULL OR ({p} = %s AND (seq, id) > (%s, %s)))").format(p=published),
                     (moment, moment, at.seq, at.id))


def next_page(plan: Plan, request: SearchQuery, rows: Sequence[Sequence[Any]]) -> str | None:
    """The cursor of the page after the one ``rows`` (``page_statement``'s) hold, None when none follows."""
    if len(rows) <= request.per_page:
        return None
    last = dict(zip((*HIT_COLUMNS, "rank"), rows[request.per_page - 1], strict=True))
    key = cursor.date_key(last["published_utc"]) if plan.newest_first else float(last["rank"])
    return cursor.token_after(request, key, int(last["seq"]), str(last["id"]), ENGINE)


def hit_columns(table: str | None = None) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(table, name) if table else sql.Identifier(name) for name in HIT_COLUMNS)


def stored_article(row: Sequence[Any]) -> StoredArticle:
    """A row as the embedded backend's stored fields, read by the same ``from_stored``."""
    values = dict(zip(HIT_COLUMNS, row, strict=True))
    stored = {name: value for name, value in values.items() if value is not None}
    stored["body"] = values["body"]
    stored["actor"] = ",".join(values["actors"] or ())
    stored["published"] = values["published_utc"]
    return from_stored(stored)


def int_of(value: object) -> int:
    return int(value) if isinstance(value, int) else 0


def utc_second(moment: object) -> dt.datetime | None:
    """A naive UTC timestamp as an aware moment, to the second (the embedded overview's ``date_key``)."""
    if not isinstance(moment, dt.datetime):
        return None
    return moment.replace(microsecond=0, tzinfo=dt.UTC)

