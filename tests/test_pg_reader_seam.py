"""The rest of the read side's seam for PostgreSQL (search/query/pg_reader.py), held to the embedded backend.

The corpus, the two backends holding it and the comparison helpers are
tests/test_pg_reader.py's: the same generated articles written to a Whoosh
index and, as rows, to a real PostgreSQL server. Here: the export (every
match, in the page order, the same rows), the timeline and the side-by-side
comparison (the same buckets and counts, split by outlet with each outlet's
output), related articles (their rules, held against plain Python over the
stored articles: the order is PostgreSQL's own), the coverage of each
outlet, the refusals of ``check`` and the articles after an ingest number.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import sys

import pytest
import test_pg_reader as shared
from test_pg_reader import NOW, OUTLETS, request

from search.errors import NotFound, QueryError
from search.index.pg_writer import write_articles_pg
from search.query.embedded import EmbeddedReader
from search.query.pg_reader import PostgresReader
from search.query.related import MIN_SHARED
from search.records import UNKNOWN, Article, SearchQuery, StoredArticle

# The corpus and both backends holding it: tests/test_pg_reader.py's fixtures.
embedded, stored, published, oracle, postgres = (shared.embedded, shared.stored, shared.published, shared.oracle,
                                                 shared.postgres)

EXPORTED = ["", "kosovo", "kosovo OR serbia", '"council of europe"', "negotiat*", "Лавров", "lavrov NOT putin"]


# --- the export -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_an_export_lists_every_match_once_in_the_page_order(
        oracle: EmbeddedReader, postgres: PostgresReader, published: dict[str, dt.datetime | None], sort: str) -> None:
    for q in EXPORTED:
        for extra in ({}, {"outlet": ["Sputnik", "unknown"], "date_from": "2017"}, {"collapse": "story"}):
            asked = request(q, sort=sort, **extra)
            expected, found = oracle.export(asked), postgres.export(asked)
            expected_rows, rows = list(expected.rows()), list(found.rows())
            assert found.total == expected.total == len(rows), q
            assert {row.id: row for row in rows} == {row.id: row for row in expected_rows}, q  # the same rows
            # In the page order: every page of the same search, in turn.
            pages = []
            page = 1
            while len(pages) < found.total:
                pages += [hit.id for hit in postgres.search(dataclasses.replace(
                    asked, collapse="", count="articles", page=page)).hits]
                page += 1
            assert [row.id for row in rows] == pages, q
            if sort == "date":
                assert [published[r.id] for r in rows] == [published[r.id] for r in expected_rows], q


def test_an_export_reads_one_snapshot_and_lets_it_go(postgres: PostgresReader, stored: list[StoredArticle]) -> None:
    """The rows come from the snapshot the total was counted in; the transaction ends with the last row, or
    with the reader, and the connection answers again."""
    found = postgres.export(request(""))
    rows = found.rows()
    first = next(rows)
    with postgres.connection.transaction(), postgres.connection.cursor() as cursor:  # another writer, meanwhile
        cursor.execute("SELECT 1")
    assert 1 + sum(1 for _ in rows) == found.total == len(stored) and first.id
    assert postgres.connection.info.transaction_status.name == "IDLE"
    postgres.export(request("kosovo"))  # never read
    postgres.close()
    assert postgres.connection.info.transaction_status.name == "IDLE"
    assert postgres.search(request("kosovo")).total > 0


def test_an_export_refuses_what_the_page_refuses(postgres: PostgresReader) -> None:
    with pytest.raises(QueryError):
        postgres.export(request("title:"))
    assert postgres.connection.info.transaction_status.name == "IDLE"


# --- the timeline -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", [None, "day", "week", "month", "year"])
def test_a_timeline_counts_what_the_embedded_backend_counts(
        oracle: EmbeddedReader, postgres: PostgresReader, interval: str | None) -> None:
    for q in ["", "kosovo", "Лавров", "negotiat*"]:
        for extra in ({}, {"outlet": ["Sputnik", "unknown"]}, {"date_from": "2017-03-05", "date_to": "2018-09-14"},
                      {"dated": "no"}):
            asked = request(q, **extra)
            assert postgres.timeline(asked, interval) == oracle.timeline(asked, interval), (q, extra)
            for top in (1, 2, 5):
                split = postgres.timeline(asked, interval, split=True, top=top)
                assert split == oracle.timeline(asked, interval, split=True, top=top), (q, extra, top)


def test_a_timeline_by_outlet_gives_each_outlets_output(postgres: PostgresReader, stored: list[StoredArticle]) -> None:
    """The oracle in plain Python: each outlet's dated articles per year, matching or not."""
    found = postgres.timeline(request("kosovo"), "year", split=True, top=2)
    shown = [series.outlet for series in found.series]
    assert len(shown) == 3 and shown[-1] == "other"
    for series in found.series:
        for bucket, start in enumerate(found.starts):
            outlets = [s for s in {a.outlet for a in stored} if s not in shown[:2]] if series.outlet == "other" \
                else [series.outlet]
            expected = sum(1 for a in stored if a.outlet in outlets and a.published_utc is not None
                           and a.published_utc.year == start.year)
            assert series.output[bucket] == expected


def test_side_by_side_timelines_share_their_buckets(oracle: EmbeddedReader, postgres: PostgresReader) -> None:
    asked = [request("kosovo"), request("Лавров", outlet=["Sputnik"]), request("no-such-word-anywhere")]
    for interval in (None, "week", "year"):
        found = postgres.side_by_side(asked, interval)
        assert found == oracle.side_by_side(asked, interval)
        assert len({timeline.starts for timeline in found}) == 1
    assert postgres.side_by_side([request("no-such-word-anywhere")]) == \
        oracle.side_by_side([request("no-such-word-anywhere")])


def test_a_timeline_of_too_many_buckets_is_refused_as_by_the_embedded_backend(
        oracle: EmbeddedReader, postgres: PostgresReader, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("search.query.timeline", "search.query.pg_timeline"):
        monkeypatch.setattr(sys.modules[module], "MAX_BUCKETS", 40)
    with pytest.raises(QueryError) as expected:
        oracle.timeline(request(""), "month")
    with pytest.raises(QueryError) as refused:
        postgres.timeline(request(""), "month")
    assert (str(refused.value), refused.value.hint) == (str(expected.value), expected.value.hint)
    assert postgres.timeline(request(""), "year").starts  # a coarser interval is counted
    with pytest.raises(ValueError):
        postgres.timeline(request(""), "fortnight")


# --- related articles -------------------------------------------------------------------------------------------


def _topical(count: int = 120) -> list[Article]:
    """Articles on ten topics, each topic with six words of its own, each article four of them among common
    words; every tenth article copied word for word into another outlet."""
    rng = random.Random(7)
    articles = []
    for n in range(count):
        topic = n % 10
        own = rng.sample([f"topic{topic}term{k}" for k in range(6)], 4)
        text = " ".join(rng.sample(own + ["kosovo", "serbia", "talks", "border"] * 2, 12))
        articles.append(Article(id=f"r{n:03d}", title=f"report {n}", text=text, origin="generated",
                                outlet=OUTLETS[n % len(OUTLETS)], language="en"))
        if n % 10 == 3:
            articles.append(dataclasses.replace(articles[-1], id=f"r{n:03d}-copy", outlet="Sputnik"))
    return articles


def test_related_articles_keep_the_rules(postgres: PostgresReader) -> None:
    """Never the article nor its copies; each shares at least MIN_SHARED words of its body with it; one per
    story; other outlets first (an unknown outlet is nobody's); the same list every time. Checked in plain
    Python over the articles."""
    topical = _topical()
    write_articles_pg(postgres.connection, topical)
    by_id = {a.id: a for a in topical}
    clusters = {row[0]: row[1] for row in postgres.connection.execute("SELECT id, cluster FROM articles")}
    kept = [a for a in topical if a.id in clusters]  # a copy into its own outlet is a duplicate, not stored
    listed = 0
    for article in kept[::3]:
        found = postgres.related(article.id, limit=5)
        listed += len(found)
        assert len(found) <= 5
        assert article.id not in {item.id for item in found}
        stories = [item.cluster for item in found]
        assert len(set(stories)) == len(stories) and clusters[article.id] not in stories
        own = [item.outlet == (article.outlet or UNKNOWN) and item.outlet != UNKNOWN for item in found]
        assert own == sorted(own)  # other outlets' articles first
        words = set(article.text.split())
        for item in found:
            assert len(words & set(by_id[item.id].text.split()) - {"kosovo", "serbia", "talks", "border"}) \
                >= MIN_SHARED, item.id
        assert found == postgres.related(article.id, limit=5)
    assert listed >= 4 * len(kept[::3])  # most articles have several related ones
    with pytest.raises(NotFound):
        postgres.related("no-such-id")
    assert postgres.related(topical[0].id, limit=0) == []


# --- the sources page, checks, new articles -----------------------------------------------------------------------


def test_coverage_counts_each_outlet_as_the_embedded_backend(oracle: EmbeddedReader, postgres: PostgresReader,
                                                             stored: list[StoredArticle]) -> None:
    """Articles, dated, authored and languaged per outlet as the index counts them; when articles arrived from
    the moments the database gave their numbers (none here: the rows were written by the test)."""
    found, expected = postgres.coverage(NOW), oracle.coverage(NOW)
    assert [(c.outlet, c.articles, c.dated, c.authored, c.languaged) for c in found] == \
        [(c.outlet, c.articles, c.dated, c.authored, c.languaged) for c in expected]
    assert sum(c.articles for c in found) == len(stored)
    with pytest.raises(ValueError):
        postgres.coverage(NOW.replace(tzinfo=None))


def test_coverage_says_when_articles_arrived(postgres: PostgresReader, stored: list[StoredArticle]) -> None:
    connection = postgres.connection
    given = dt.datetime(2019, 5, 30, 8, 0, 0, 250_000, tzinfo=dt.UTC)
    with connection.transaction():
        connection.execute("INSERT INTO article_numbers (id, seq, indexed) SELECT id, seq, %s + seq * interval "
                           "'1 minute' FROM articles", (given,))
    found = {c.outlet: c for c in postgres.coverage(given + dt.timedelta(minutes=400), dt.timedelta(minutes=100))}
    for outlet, coverage in found.items():
        mine = [a for a in stored if a.outlet == outlet]
        newest = max(a.seq for a in mine)
        assert coverage.last_added == (given + dt.timedelta(minutes=newest)).replace(microsecond=0)
        assert coverage.added_recently == sum(given + dt.timedelta(minutes=a.seq) >= given + dt.timedelta(minutes=300)
                                              for a in mine)
    assert sum(c.added_recently for c in found.values()) > 0


def test_check_refuses_what_the_embedded_backend_refuses(oracle: EmbeddedReader, postgres: PostgresReader) -> None:
    for q in ["kosovo", "negotiat*", "vu?ic", '"council of europe"']:
        postgres.check(q)
        oracle.check(q)
    for q in ["title:", "colour:red", '"kosovo', "(kosovo", "kosovo AND", "*"]:
        try:
            oracle.check(q)
        except QueryError as e:
            expected: QueryError | None = e
        else:
            expected = None
        if expected is None:
            postgres.check(q)
            continue
        with pytest.raises(QueryError) as refused:
            postgres.check(q)
        assert (str(refused.value), refused.value.hint) == (str(expected), expected.hint)
    capped = PostgresReader(postgres.connection, dataclasses.replace(oracle.settings, max_wildcard_terms=3),
                            postgres.gazetteer)
    with pytest.raises(QueryError, match="over 3 words"):
        capped.check("*o*")


def test_new_articles_are_those_numbered_above_in_ingest_order(oracle: EmbeddedReader, postgres: PostgresReader,
                                                               stored: list[StoredArticle]) -> None:
    for after in (0, 100, max(a.seq for a in stored) - 3, max(a.seq for a in stored)):
        found = postgres.new_articles(after)
        expected = oracle.new_articles(after)
        # The same articles (the rows keep moments to the second, as test_pg_reader.py writes them).
        assert [dataclasses.replace(a, published_utc=None) for a in found] == \
            [dataclasses.replace(a, published_utc=None) for a in expected]
        assert [a.seq for a in found] == sorted(a.seq for a in stored if a.seq > after)
    assert postgres.committed() is None


def test_a_query_is_read_as_a_search_query() -> None:
    assert SearchQuery(q="x").q == "x"  # the records cross the seam unchanged
