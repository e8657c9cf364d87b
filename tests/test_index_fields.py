"""What the schema indexes and what it only stores (search/index/schema.py, search/index/document.py).

``published`` is indexed by its day and stored to the microsecond: that finds
the same articles only while every date a query can name is a whole day, which
the last test pins down for the parser's date spans and ranges.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from whoosh import query as wq

from search.errors import QueryError
from search.index import open_index, write_articles
from search.index.analysis import date_range, date_span
from search.index.document import from_stored
from search.records import Article
from search.settings import Settings

LATE = dt.datetime(2019, 10, 16, 23, 59, 59, 999000, tzinfo=dt.UTC)


def test_published_is_stored_to_the_microsecond_and_found_by_its_day(fresh: Settings) -> None:
    write_articles([Article(id="late", title="Late", text="Filed just before midnight.", origin="t",
                            published=LATE)], fresh)
    with open_index(fresh).searcher() as searcher:
        (hit,) = searcher.search(wq.Every(), limit=None)
        article = from_stored(hit.fields())
        assert article.published == LATE
        assert article.published_utc == LATE.replace(tzinfo=None)
        assert [term for field, term in searcher.reader().all_terms() if field == "published"]  # indexed
        day, next_day = dt.datetime(2019, 10, 16), dt.datetime(2019, 10, 17)
        found = {name: len(searcher.search(wq.DateRange("published", low, high), limit=None))
                 for name, low, high in (("the day", *date_span("2019-10-16")), ("before", None, day - dt.timedelta(
                     microseconds=1)), ("after", next_day, None))}
    assert found == {"the day": 1, "before": 0, "after": 0}


def test_fields_only_read_back_have_no_terms(fresh: Settings) -> None:
    write_articles([Article(id="a", title="A", text=" ".join(["word"] * 60), origin="t", published=LATE,
                            minhash=tuple(range(64)))], fresh)
    with open_index(fresh).searcher() as searcher:
        indexed = {field for field, _ in searcher.reader().all_terms()}
        stored = searcher.document(id="a")
    assert stored is not None and {"date_key", "indexed_at", "text_key", "minhash"} & indexed == set()
    assert {"indexed_at", "text_key", "minhash"} <= set(stored)
    assert "minhash_bands" not in indexed and "minhash_bands" not in stored


@pytest.mark.parametrize("seed", range(3))
def test_every_date_a_query_names_starts_and_ends_with_a_whole_day(seed: int) -> None:
    """What makes indexing published by its day exact: no span or range bound falls inside a day."""
    rng = random.Random(seed)

    def written() -> str:
        year = rng.randint(1900, 2100)
        kind = rng.choice(("year", "month", "day", "compact"))
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        return {"year": f"{year}", "month": f"{year}-{month:02d}", "day": f"{year}-{month:02d}-{day:02d}",
                "compact": f"{year}{month:02d}{day:02d}"}[kind]

    def whole_day_start(moment: dt.datetime) -> bool:
        return moment.time() == dt.time(0)

    def whole_day_end(moment: dt.datetime) -> bool:
        return moment == dt.datetime.max or moment.time() == dt.time(23, 59, 59, 999999)

    for _ in range(300):
        first, last = date_span(written())
        assert whole_day_start(first) and whole_day_end(last)
        start, end = rng.choice((written(), None)), rng.choice((written(), None))
        if start is None and end is None:
            continue
        try:
            bounds = date_range("published", start, end, rng.random() < 0.5, rng.random() < 0.5)
        except QueryError as refused:  # a range ending before it starts: not this test's business
            assert "ends before it starts" in str(refused)
            continue
        assert bounds.startdate is None or whole_day_start(bounds.startdate)
        assert bounds.enddate is None or whole_day_end(bounds.enddate)
