"""Counts the PostgreSQL schema keeps, read instead of counted: the front page's facets and a page's copies.

Part of the query stage, for the PostgreSQL backend (issue 19), used by the
PostgreSQL reader (search/query/pg_reader.py). The schema's triggers
(search/index/migrations/0005_counting.sql) keep, in the same transaction as
every change to the articles:

* ``facet_counts`` — each outlet, actor, year and language value with its
  number of articles, and the total: exactly what the counting statement
  gives for a search that selects every article (no query text, no date
  filter, no facet filter) counted in articles. Reading these rows costs
  the same at any size; grouping every article grew with the corpus (the
  front page was the PostgreSQL backend's slowest search);
* ``cluster_counts`` — each story's articles by outlet: what a page's hits
  need for "n copies, also in …", found by key instead of probing the
  cluster index of every month's partition.

Both are read in the caller's snapshot (the reader's one REPEATABLE READ
transaction), so they agree with the page's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from psycopg import sql

from search.records import FACETS

#: A reader's way to run one statement in its snapshot (the PostgreSQL reader's ``_Run``).
Run = Callable[[sql.Composable, Sequence[object]], list[tuple[Any, ...]]]

_FACET_COUNTS = sql.SQL("SELECT facet, value, articles FROM facet_counts")
_CLUSTER_COUNTS = sql.SQL("SELECT cluster, outlet, articles FROM cluster_counts WHERE cluster = ANY(%s)")


def every_article_counts(run: Run) -> tuple[dict[str, dict[str, int]], int]:
    """The four facets' counts over every article, and the number of articles: what the counting statement gives
    for a search that selects them all, counted in articles."""
    facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    total = 0
    for facet, value, articles in run(_FACET_COUNTS, ()):
        if facet == "total":
            total = int(articles)
        elif facet in facets:
            facets[str(facet)][str(value)] = int(articles)
    return facets, total


def cluster_outlets(run: Run, clusters: Iterable[str]) -> dict[tuple[str, str], int]:
    """Each of these clusters' articles by outlet: (cluster, outlet) → articles."""
    return {(str(cluster), str(outlet)): int(articles)
            for cluster, outlet, articles in run(_CLUSTER_COUNTS, (sorted(set(clusters)),))}


__all__ = ["Run", "cluster_outlets", "every_article_counts"]
