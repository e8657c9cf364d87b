"""Facet columns are read into per-segment arrays kept per segment reader.

Kept with the reader that made them and dropped with it: a new commit's
searcher counts its new articles, and a closed searcher's readers leave
nothing behind.
"""

from __future__ import annotations

import gc
from collections import Counter

from search.enrich import Gazetteer
from search.index import open_index, write_articles
from search.query import search
from search.query.columns import _BY_READER
from search.records import Article, SearchQuery
from search.settings import Settings


def _articles(first: int, count: int) -> list[Article]:
    outlets = ("Balkan Wire", "Daily Observer", "Tanjug Digest")
    return [Article(id=f"a{n}", title=f"Story {n}", text=f"Envoys met for round {n} of the talks in Brussels.",
                    origin="generated", outlet=outlets[n % len(outlets)], language="en")
            for n in range(first, first + count)]


def _outlet_counts(settings: Settings, gazetteer: Gazetteer) -> tuple[dict[str, int], dict[str, int]]:
    """The outlet facet as the engine counts it, and as plain Python over the stored articles."""
    with open_index(settings).searcher() as searcher:
        page = search(searcher, SearchQuery(q="envoys", facet_limit=100), settings, gazetteer)
        stored = Counter(fields["outlet"] for fields in searcher.all_stored_fields())
    return {value.value: value.count for value in page.facets["outlet"]}, dict(stored)


def test_facet_counts_follow_each_commit(fresh: Settings, gazetteer: Gazetteer) -> None:
    settings = Settings(index=fresh.index, facet_cache_size=0)  # count anew every time
    write_articles(_articles(0, 7), settings)
    counted, expected = _outlet_counts(settings, gazetteer)
    assert counted == expected and sum(counted.values()) == 7
    write_articles(_articles(7, 5), settings)  # a second segment
    counted, expected = _outlet_counts(settings, gazetteer)
    assert counted == expected and sum(counted.values()) == 12


def test_closed_searchers_leave_no_column_arrays(fresh: Settings, gazetteer: Gazetteer) -> None:
    settings = Settings(index=fresh.index, facet_cache_size=0)
    write_articles(_articles(0, 6), settings)
    gc.collect()
    before = len(_BY_READER)
    for _ in range(5):
        _outlet_counts(settings, gazetteer)
    gc.collect()
    assert len(_BY_READER) == before
