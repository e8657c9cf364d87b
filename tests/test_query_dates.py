"""Date queries give exactly the articles in the span they name, checked against plain Python over the stored dates.

A generated corpus (dates at day, hour and second precision, some with a UTC
offset that moves them across a day or month, some undated) goes through the
real index stage; every form the README shows — a year, a month, a day, a
range with dashes or without, ``to`` or ``TO``, open ends, comparisons — is
asked on it and on the seeds, and counted against the stored ``published``
moments (naive UTC, as the index keeps them).
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from whoosh.searching import Searcher

from conftest import make_settings
from search.enrich import Gazetteer, enrich
from search.errors import QueryError
from search.index import open_index, write_articles
from search.query import make_query, matching, search
from search.records import Article
from search.settings import Settings

UTC = dt.UTC


def spans(rng: random.Random) -> Iterator[tuple[str, dt.datetime, dt.datetime]]:
    """(how it is written, first moment, last moment) for random years, months and days."""
    while True:
        year = rng.choice((2016, 2017, 2018, 2019))
        month, precision = rng.randint(1, 12), rng.choice(("year", "month", "day"))
        if precision == "year":
            yield str(year), dt.datetime(year, 1, 1), dt.datetime(year, 12, 31, 23, 59, 59, 999999)
        elif precision == "month":
            last_day = calendar.monthrange(year, month)[1]
            written = rng.choice((f"{year}-{month:02d}", f"{year}-{month:02d}"))
            yield written, dt.datetime(year, month, 1), dt.datetime(year, month, last_day, 23, 59, 59, 999999)
        else:
            day = rng.randint(1, calendar.monthrange(year, month)[1])
            written = rng.choice((f"{year}-{month:02d}-{day:02d}", f"{year}{month:02d}{day:02d}"))
            yield written, dt.datetime(year, month, day), dt.datetime(year, month, day, 23, 59, 59, 999999)


def generated_dates(rng: random.Random, n: int) -> list[dt.date | dt.datetime | None]:
    dates: list[dt.date | dt.datetime | None] = []
    for _ in range(n):
        day = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randint(0, 4 * 365))
        kind = rng.random()
        if kind < 0.15:
            dates.append(None)
        elif kind < 0.4:
            dates.append(day)
        elif kind < 0.6:  # the very edges of a day
            dates.append(dt.datetime.combine(day, rng.choice((dt.time(0, 0), dt.time(23, 59, 59))), UTC))
        else:  # an offset that may carry it into the next or previous UTC day, month or year
            offset = dt.timezone(dt.timedelta(hours=rng.choice((-11, -2, 0, 2, 5, 14))))
            moment = dt.datetime.combine(day, dt.time(rng.randint(0, 23), rng.randint(0, 59)), offset)
            dates.append(moment)
    # Month and year boundaries on purpose.
    dates += [dt.date(2018, 9, 1), dt.date(2018, 9, 30), dt.date(2018, 10, 1), dt.date(2018, 8, 31),
              dt.datetime(2018, 12, 31, 23, 59, 59, tzinfo=UTC), dt.datetime(2019, 1, 1, tzinfo=UTC),
              dt.datetime(2018, 9, 30, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2)))]  # 1 October UTC
    return dates


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory, gazetteer: Gazetteer) -> Settings:
    """An instance of ~250 articles with generated dates, through enrich and the index stage."""
    settings = make_settings(Path(tmp_path_factory.mktemp("dated")))
    rng = random.Random(2018)
    articles = [
        enrich(Article(id=f"d{n:05d}", title=f"Report number {n}", text=f"Article {n} about Kosovo talks, item {n}.",
                       origin=f"test:{n}", outlet=rng.choice(("RksNews", "Tanjug")), published=published),
               gazetteer, 0)
        for n, published in enumerate(generated_dates(rng, 240))
    ]
    write_articles(articles, settings)
    return settings


def stored_moments(searcher: Searcher) -> dict[str, dt.datetime | None]:
    """Each article's id and stored ``published`` (naive UTC) — the oracle's input."""
    return {fields["id"]: fields.get("published") for fields in searcher.all_stored_fields()}


def forms(rng: random.Random, count: int) -> Iterator[tuple[str, dt.datetime | None, dt.datetime | None]]:
    """(query, first moment included, last moment included); None is an open end."""
    gen = spans(rng)
    for _ in range(count):
        (a, a_first, a_last), (b, b_first, b_last) = next(gen), next(gen)
        if (a_first, a_last) > (b_first, b_last):
            (a, a_first, a_last), (b, b_first, b_last) = (b, b_first, b_last), (a, a_first, a_last)
        to = rng.choice(("to", "TO"))
        yield from rng.choice([
            [(f"published:{a}", a_first, a_last)],
            [(f"published:[{a} {to} {b}]", a_first, b_last)] if a_first <= b_last else [],
            [(f"published:[{a} {to}]", a_first, None), (f"published:[{to} {b}]", None, b_last)],
            [(f"published:>={a}", a_first, None), (f"published:>{a}", a_last + dt.timedelta(microseconds=1), None)],
            [(f"published:<={b}", None, b_last), (f"published:<{b}", None, b_first - dt.timedelta(microseconds=1))],
        ])


def expected_ids(moments: dict[str, dt.datetime | None], first: dt.datetime | None,
                 last: dt.datetime | None) -> set[str]:
    return {
        article_id for article_id, moment in moments.items()
        if moment is not None and (first is None or moment >= first) and (last is None or moment <= last)
    }


def check(searcher: Searcher, settings: Settings, gazetteer: Gazetteer, q: str, want: set[str]) -> None:
    page = search(searcher, make_query(q, per_page=1), settings, gazetteer)
    assert page.total == len(want), q
    assert set(matching(searcher, make_query(q), settings)) == want, q  # alerts count the same


def test_the_issue_examples_find_only_their_month(dated: Settings, gazetteer: Gazetteer) -> None:
    with open_index(dated).searcher() as s:
        moments = stored_moments(s)
        september = expected_ids(moments, dt.datetime(2018, 9, 1), dt.datetime(2018, 9, 30, 23, 59, 59, 999999))
        assert 5 <= len(september) < len(expected_ids(moments, dt.datetime(2018, 1, 1), dt.datetime(2019, 1, 1)))
        for q in ("published:[2018-09-01 to 2018-09-30]", "published:[20180901 to 20180930]", "published:2018-09",
                  "published:[2018-09-01 TO 2018-09-30]", "published:[2018-09 to 2018-09]", "published:201809"):
            check(s, dated, gazetteer, q, september)
        first_quarter = expected_ids(moments, dt.datetime(2018, 1, 1), dt.datetime(2018, 3, 31, 23, 59, 59, 999999))
        check(s, dated, gazetteer, "published:[2018-01-01 to 2018-03-31]", first_quarter)


def test_every_date_form_counts_what_plain_python_counts(dated: Settings, gazetteer: Gazetteer) -> None:
    with open_index(dated).searcher() as s:
        moments = stored_moments(s)
        assert sum(m is None for m in moments.values()) >= 20  # undated articles are in the corpus...
        for q, first, last in forms(random.Random(9), 80):
            check(s, dated, gazetteer, q, expected_ids(moments, first, last))  # ...and never in a span


def test_a_date_query_combines_with_words_and_facets(dated: Settings, gazetteer: Gazetteer) -> None:
    with open_index(dated).searcher() as s:
        moments = stored_moments(s)
        outlets = {fields["id"]: fields["outlet"] for fields in s.all_stored_fields()}
        in_2018 = expected_ids(moments, dt.datetime(2018, 1, 1), dt.datetime(2018, 12, 31, 23, 59, 59, 999999))
        want = {i for i in in_2018 if outlets[i] == "Tanjug"}
        page = search(s, make_query("kosovo published:2018", outlet=["Tanjug"], per_page=100), dated, gazetteer)
        assert {hit.id for hit in page.hits} == want
        assert {f.value: f.count for f in page.facets["year"]} == {"2018": len(want)}


def test_the_seed_index_agrees_with_plain_python(searcher: Searcher, seeded: Settings, gazetteer: Gazetteer) -> None:
    moments = stored_moments(searcher)
    for q, first, last in forms(random.Random(5), 60):
        check(searcher, seeded, gazetteer, q, expected_ids(moments, first, last))
    check(searcher, seeded, gazetteer, "published:2018-09-21", expected_ids(moments, dt.datetime(2018, 9, 21),
                                                                              dt.datetime(2018, 9, 21, 23, 59, 59)))
    in_2017_or_2018 = expected_ids(moments, dt.datetime(2017, 1, 1), dt.datetime(2018, 12, 31, 23, 59, 59))
    check(searcher, seeded, gazetteer, "published:(2017 OR 2018)", in_2017_or_2018)


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("published:[a to b]", "not a date"),
        ("published:>x", "not a date"),
        ('published:"a b"', "not a date"),
        ("published:kosovo", "not a date"),
        ("published:2018-13", "no date"),
        ("published:2018-02-30", "no date"),
        ("published:[to]", "at least one date"),
        ("published:[2019 to 2018]", "ends before it starts"),
        ("published:2018*", "wildcard"),
        ("published:>", "nothing after"),
        ("title:>kosovo", "cannot compare"),
        ("published:(>2018)", "inside published"),  # Whoosh dropped the sign: all of 2018
        ("published:(2017 OR <=2016)", "inside published"),
    ],
)
def test_what_a_date_field_cannot_read_is_a_query_error_with_a_hint(
    searcher: Searcher, seeded: Settings, gazetteer: Gazetteer, q: str, message: str
) -> None:
    with pytest.raises(QueryError, match=message) as caught:
        search(searcher, make_query(q), seeded, gazetteer)
    assert caught.value.hint and caught.value.status == 400


def test_the_api_answers_a_bad_date_with_400_and_a_hint(client: Any) -> None:
    answer = client.get("/api/search", query_string={"q": "published:[a to b]"})
    assert answer.status_code == 400
    assert set(answer.get_json()) == {"error", "hint"}
