"""The PostgreSQL reader (search/query/pg_reader.py), held to the embedded backend's answers.

The same generated articles — copies of one text in several outlets (one
cluster), undated articles, dates certain and not, Cyrillic text, articles
with several actors and none, outlets and languages not stated — are written
to a Whoosh index by the index stage and, as rows, to a real PostgreSQL
database migrated to the project's schema. Every search form then asks both
backends, and the embedded backend's answer is the oracle (itself held to
plain Python over the stored articles elsewhere: tests/test_query_arrays.py,
tests/test_date_filter.py, tests/test_copies_oracle.py):

* the same total, undated count and facets — every value, label, count and
  selection, with a facet limit no facet reaches;
* the same articles over all pages, each page a slice of one order (no
  article twice, none left out), each hit the same record (fields, actors
  with their labels, copies and the other outlets, the snippet);
* by date, the same sequence of moments; by relevance, loosely: an article
  with the word in its title comes before those with it only in the body.

The rows are written here, by a few lines of the test's own (the project's
writer for PostgreSQL is written separately), from the very articles the
Whoosh index stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from test_tsquery import QUERIES, WORDS

from search.enrich import Gazetteer
from search.errors import NotFound, QueryError
from search.index import from_stored, open_index, write_articles
from search.index.duplicates import sketch_hex
from search.index.lexemes import vectors
from search.index.pg_writer import write_articles_pg
from search.index.postgres import MONTH_VALUE, Connection, ensure_month, migrate, month_of
from search.query import make_query
from search.query.embedded import EmbeddedReader
from search.query.parse import MAX_FACET_LIMIT, MAX_PER_PAGE
from search.query.pg_reader import PostgresReader
from search.records import Article, Hit, SearchPage, SearchQuery, StoredArticle
from search.settings import Settings

OUTLETS = ("RksNews", "Sputnik", "Balkan Wire", None)  # None: the outlet is not stated ("unknown")
ACTORS = ("Q58217", "Q403", "Q1246", "Q1741")
SOURCES = ("manifest", "htmldate", "url", None)  # certain, uncertain, certain, not recorded (uncertain)
#: A word in one article's title and in other articles' bodies only: the ranking's loose check.
TITLE_WORD = "zanzibar"
TITLE_ARTICLE = "t0000"
NOW = dt.datetime(2019, 6, 1, 12, tzinfo=dt.UTC)


def _article(n: int, rng: random.Random) -> Article:
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 25))]
    if n % 5 == 0:
        words[1:1] = ["council", "of", "europe"]
    if n % 7 == 0:
        words[2:2] = ["Лавров", "сказал"]
    if n % 13 == 0:
        words.append(TITLE_WORD)  # once in the body: never as much as one title match
    day = dt.date(2016 + n // 7 % 4, 1 + n % 12, 1 + n % 28)
    # Dates: a day, a moment on the hour, a moment with minutes and an offset; every sixth undated.
    published: dt.date | dt.datetime | None = (
        None if n % 6 == 0 else day if n % 3 == 1
        else dt.datetime(day.year, day.month, day.day, n % 24, n % 60, n % 7, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    return Article(
        id=f"a{n:04d}", title=" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))), text=" ".join(words),
        origin="generated", outlet=rng.choice(OUTLETS), author=rng.choice([None, "Ana O'Brien", "Јована Петровић"]),
        published=published, published_source=rng.choice(SOURCES) if published else None,
        language=rng.choice(["en", "sr", "ru", None]), actors=rng.sample(ACTORS, rng.randint(0, 3)),
        url=f"https://example.org/{n}" if n % 4 else None,
    )


def corpus() -> list[Article]:
    """400 articles, every ninth copied word for word into other outlets (a cluster of two or three), and one
    article with ``TITLE_WORD`` in its title."""
    rng = random.Random(1919)
    articles = [_article(n, rng) for n in range(400)]
    copies = []
    for original in articles[::9]:
        others = [outlet for outlet in OUTLETS if outlet != original.outlet][: 1 + len(copies) % 2]
        copies += [dataclasses.replace(original, id=f"{original.id}-{outlet}", outlet=outlet, actors=list(original.actors),
                                       published=_copy_date(original.published, len(copies)))
                   for outlet in others]
    # The last second of a day, and a moment within it: a date filter ending that day takes both.
    last_second = [Article(id=f"s{n}", title="border talks", text=f"kosovo border {n}", origin="generated",
                           outlet="Sputnik", published=dt.datetime(2018, 9, 14, 23, 59, 59, n * 500_000, tzinfo=dt.UTC),
                           published_source="url", language="sr") for n in range(2)]
    title = Article(id=TITLE_ARTICLE, title=f"{TITLE_WORD} talks", text="kosovo serbia border", origin="generated",
                    outlet="RksNews", published=dt.date(2018, 9, 14), published_source="manifest", language="en")
    return [*articles, *copies, *last_second, title]


def _copy_date(published: dt.date | dt.datetime | None, n: int) -> dt.date | dt.datetime | None:
    """A copy's date: none, its original's, or three days later (a copy newer than the text it copies)."""
    if published is None or n % 4 == 0:
        return None
    return published + dt.timedelta(days=3) if n % 4 == 1 else published


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(index=tmp_path_factory.mktemp("embedded"))
    write_articles(corpus(), dataclasses.replace(settings, batch_size=100))
    return settings


@pytest.fixture(scope="module")
def stored(embedded: Settings) -> list[StoredArticle]:
    with open_index(embedded).searcher() as searcher:
        return [from_stored(fields) for fields in searcher.all_stored_fields()]


@pytest.fixture
def oracle(embedded: Settings, gazetteer: Gazetteer) -> Iterator[EmbeddedReader]:
    reader = EmbeddedReader(open_index(embedded).searcher(), embedded, gazetteer)
    yield reader
    reader.close()


def write_rows(connection: Connection, articles: list[StoredArticle]) -> None:
    """The articles as the PostgreSQL backend keeps them: a row each in its month's partition, its month in
    ``article_months``, and every word of the ``words`` vectors counted in ``words_seen``."""
    columns = ("id", "url", "title", "body", "author", "outlet", "year", "language", "actors", "published_utc",
               "published_iso", "published_source", "origin", "cluster", "seq", "indexed_at", "fingerprint",
               "text_key", "minhash")
    insert = sql.SQL("INSERT INTO articles (month, {}, lexemes, words) VALUES ({}, {}, %s::tsvector, %s::tsvector)").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), MONTH_VALUE, sql.SQL(", ").join(sql.Placeholder() * len(columns)))
    with connection.transaction(), connection.cursor() as cursor:
        for month in {month_of(a.published_utc) for a in articles}:
            ensure_month(connection, month)
        rows = []
        for a in articles:
            moment = a.published_utc.replace(microsecond=0) if a.published_utc else None  # to the second
            text = vectors({"title": a.title, "author": a.author, "body": a.text})
            rows.append((month_of(moment), a.id, a.url, a.title, a.text, a.author, a.outlet, a.year, a.language,
                         list(a.actors), moment, a.published.isoformat() if a.published else None, a.published_source,
                         a.origin, a.cluster, a.seq, a.indexed_at, a.fingerprint, a.text_key,
                         sketch_hex(a.minhash) if a.minhash else None, text.lexemes, text.words))
        cursor.executemany(insert, rows)
        cursor.executemany(sql.SQL("INSERT INTO article_months (id, month) VALUES (%s, {})").format(MONTH_VALUE),
                           [(a.id, month_of(a.published_utc)) for a in articles])
        cursor.execute("INSERT INTO words_seen (word, articles) SELECT word, count(*) FROM articles, "
                       "unnest(tsvector_to_array(words)) AS word GROUP BY word")


@pytest.fixture
def postgres(fresh_database: str, stored: list[StoredArticle], embedded: Settings,
             gazetteer: Gazetteer) -> Iterator[PostgresReader]:
    with psycopg.connect(fresh_database, autocommit=True) as connection:
        migrate(connection)
        write_rows(connection, stored)
        yield PostgresReader(connection, embedded, gazetteer)


# --- comparing the two backends' answers ------------------------------------------------------------------------


def every_page(reader: EmbeddedReader | PostgresReader, request: SearchQuery) -> tuple[SearchPage, list[Hit]]:
    """The first page, and the hits of every page in their order."""
    first = reader.search(request)
    hits = list(first.hits)
    for number in range(2, first.pages + 1):
        hits += reader.search(dataclasses.replace(request, page=number)).hits
    return first, hits


def assert_same(oracle: EmbeddedReader, postgres: PostgresReader, request: SearchQuery,
                published: dict[str, dt.datetime | None]) -> SearchPage:
    expected, expected_hits = every_page(oracle, request)
    found, found_hits = every_page(postgres, request)
    asked = f"{request.q!r} {request.filters()} {request.dates()} sort={request.sort} count={request.count}"
    assert (found.total, found.undated, found.articles, found.stories, found.date_bounds) == \
        (expected.total, expected.undated, expected.articles, expected.stories, expected.date_bounds), asked
    assert found.facets == expected.facets, asked
    ids = [hit.id for hit in found_hits]
    assert len(ids) == len(set(ids)) == found.listed, f"{asked}: an article on two pages, or one left out"
    if request.collapse:  # a story's first article may differ where the order ties: the same stories are listed
        assert sorted(h.cluster for h in found_hits) == sorted(h.cluster for h in expected_hits), asked
    else:
        assert {hit.id: hit for hit in found_hits} == {hit.id: hit for hit in expected_hits}, asked
    if request.sort == "date" or not request.q:  # ties (the same second) may stand in another order
        assert [published[h.id] for h in found_hits] == [published[h.id] for h in expected_hits], asked
    return found


@pytest.fixture(scope="module")
def published(stored: list[StoredArticle]) -> dict[str, dt.datetime | None]:
    """Each article's moment to the second (the date order's key)."""
    return {a.id: a.published_utc.replace(microsecond=0) if a.published_utc else None for a in stored}


def request(q: str = "", **asked: object) -> SearchQuery:
    return make_query(q, per_page=asked.pop("per_page", MAX_PER_PAGE), facet_limit=MAX_FACET_LIMIT, **asked)


# --- the corpus is what the tests say it is ---------------------------------------------------------------------


def test_the_corpus_has_copies_undated_articles_cyrillic_and_actors(stored: list[StoredArticle]) -> None:
    clusters: dict[str, set[str]] = {}
    for a in stored:
        clusters.setdefault(a.cluster, set()).add(a.outlet)
    assert sum(len(outlets) > 1 for outlets in clusters.values()) >= 30
    assert sum(a.published is None for a in stored) >= 60
    assert {a.published_source for a in stored if a.published} == {"manifest", "htmldate", "url", None}
    assert sum("Лавров" in a.text for a in stored) >= 50
    assert sum(len(a.actors) >= 2 for a in stored) >= 50 and sum(not a.actors for a in stored) >= 50
    assert {"unknown"} <= {a.outlet for a in stored} & {a.language for a in stored} & {a.year for a in stored}


# --- searches --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_every_query_form_finds_and_counts_what_the_embedded_backend_does(
        oracle: EmbeddedReader, postgres: PostgresReader, published: dict[str, dt.datetime | None], sort: str) -> None:
    for q in ["", *QUERIES, TITLE_WORD, "*"]:
        page = assert_same(oracle, postgres, request(q, sort=sort), published)
        assert 0 < page.total, q


FILTERED_QUERIES = ["", "kosovo", "kosovo OR serbia", "NOT kosovo", "negotiat*", '"council of europe"', "Лавров",
                    "vu?ic", "lavrov NOT putin"]
FILTERS: list[dict[str, object]] = [
    {"outlet": ["Sputnik"]},
    {"outlet": ["Sputnik", "unknown"]},
    {"outlet": ["No Such Outlet"]},
    {"actor": ["Q403"]},
    {"actor": ["Q403", "Q1741"]},
    {"year": ["unknown"]},
    {"year": ["2017", "2018"], "language": ["ru", "unknown"]},
    {"outlet": ["RksNews", "Balkan Wire"], "actor": ["Q58217"], "year": ["2016", "unknown"], "language": ["en", "sr"]},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f"{k}={'|'.join(v)}" for k, v in f.items()))
def test_facet_filters_combine_and_count_as_in_the_embedded_backend(
        oracle: EmbeddedReader, postgres: PostgresReader, published: dict[str, dt.datetime | None],
        filters: dict[str, object]) -> None:
    """OR within a facet, AND across facets, each facet counted under the others' filters; a selected value
    always listed, even with no article."""
    for q in FILTERED_QUERIES:
        for sort in ("relevance", "date"):
            page = assert_same(oracle, postgres, request(q, sort=sort, **filters), published)
            selected = {f.value for values in page.facets.values() for f in values if f.selected}
            assert selected == {value for values in filters.values() for value in values}


DATES: list[dict[str, object]] = [
    {"date_from": "2018"},
    {"date_to": "2017-06"},
    {"date_from": "2017-03-05", "date_to": "2018-09-14"},
    {"date_to": "2018-09-14T23:59:59+00:00"},
    {"date_from": "2017-03-05T10:30:00+02:00", "date_to": "2018-09-14T08:00:00+02:00"},
    {"date_range": "year", "now": NOW},
    {"dated": "yes"},
    {"dated": "no"},
    {"certainty": "certain"},
    {"certainty": "uncertain"},
    {"date_from": "2017", "certainty": "uncertain", "outlet": ["Sputnik", "unknown"]},
]


@pytest.mark.parametrize("dates", DATES, ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()))
def test_date_filters_take_and_leave_out_what_the_embedded_backend_does(
        oracle: EmbeddedReader, postgres: PostgresReader, published: dict[str, dt.datetime | None],
        dates: dict[str, object]) -> None:
    """Every date filter but dated=no leaves undated articles out and says how many; certainty goes by where
    the date came from; a moment's last second is in."""
    undated = 0
    for q in FILTERED_QUERIES:
        for sort in ("relevance", "date"):
            undated += assert_same(oracle, postgres, request(q, sort=sort, **dates), published).undated
    assert (undated == 0) == (dates.get("dated") == "no")


def test_pages_are_slices_of_one_order(oracle: EmbeddedReader, postgres: PostgresReader,
                                       published: dict[str, dt.datetime | None]) -> None:
    for q in ["", "kosovo", "outlet:Sputnik", "serbia OR talks"]:
        for sort in ("relevance", "date"):
            assert_same(oracle, postgres, request(q, sort=sort, per_page=7), published)
    beyond = postgres.search(request("kosovo", per_page=50, page=20))
    assert beyond.hits == () and beyond.total > 0


@pytest.mark.parametrize("shape", [{"count": "stories"}, {"collapse": "story"}, {"collapse": "story", "count": "articles"}],
                         ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_stories_count_and_list_as_in_the_embedded_backend(
        oracle: EmbeddedReader, postgres: PostgresReader, published: dict[str, dt.datetime | None],
        shape: dict[str, str]) -> None:
    for q in ["", "kosovo", "council"]:
        for extra in ({}, {"outlet": ["Sputnik", "RksNews"]}, {"date_from": "2017"}):
            page = assert_same(oracle, postgres, request(q, sort="date", per_page=9, **shape, **extra), published)
            assert page.stories is not None and page.stories < page.articles


# --- ranking, hits, snippets ------------------------------------------------------------------------------------


def test_a_title_match_ranks_above_body_matches(postgres: PostgresReader, stored: list[StoredArticle]) -> None:
    in_bodies = {a.id for a in stored if TITLE_WORD in a.text}
    page = postgres.search(request(TITLE_WORD))
    assert len(in_bodies) >= 10 and page.total == len(in_bodies) + 1
    assert page.hits[0].id == TITLE_ARTICLE
    assert postgres.search(request(f"title:{TITLE_WORD}")).hits[0].id == TITLE_ARTICLE


def test_snippets_mark_the_query_words_as_the_embedded_backend_does(
        oracle: EmbeddedReader, postgres: PostgresReader) -> None:
    for q in ["lavrov", "Лавров", "negotiat*", '"council of europe"', "vu?ic", "lavrov NOT putin", "title:kosovo",
              "kosovo OR (serbia AND talks)", "kosovo OR (serbia AND NOT talks)", '"council of europe" OR border',
              "kosovo ANDMAYBE serbia", "border AND NOT neg*", 'kosovo NOT "lavrov putin"',
              'kosovo ANDNOT "serbia talks"', "talks NOT (kosovo AND serbia)"]:
        expected = {hit.id: hit.snippet for hit in oracle.search(request(q)).hits}
        found = {hit.id: hit.snippet for hit in postgres.search(request(q, sort="relevance")).hits}
        common = expected.keys() & found.keys()
        assert common and all(found[i] == expected[i] for i in common), q
    assert any("<mark>Лавров</mark>" in hit.snippet for hit in postgres.search(request("Лавров")).hits)
    assert all("<mark>" not in hit.snippet for hit in postgres.search(request("title:kosovo")).hits)


def test_articles_by_id_their_copies_and_the_overview(oracle: EmbeddedReader, postgres: PostgresReader,
                                                     stored: list[StoredArticle]) -> None:
    copied = [a.id for a in stored if sum(b.cluster == a.cluster for b in stored) > 2][:3]
    ids = [*copied, "no-such-id", "a0007", TITLE_ARTICLE]
    assert postgres.hits(ids) == oracle.hits(ids)
    assert [hit.id for hit in postgres.hits(ids)] == [i for i in ids if i != "no-such-id"]
    for article_id in [*copied, "a0007"]:
        article = postgres.article(article_id)
        assert article == oracle.article(article_id) and article.text
    clustered = [a.id for a in stored if sum(b.cluster == a.cluster for b in stored) > 1]
    assert len(clustered) > 60
    for article_id in clustered:
        article = postgres.article(article_id)
        copies, expected = postgres.copies(article), oracle.copies(oracle.article(article_id))
        assert len(copies) == article.copies - 1 >= 1
        assert {c.id for c in copies} == {c.id for c in expected}, article_id
        assert [c.published for c in copies] == [c.published for c in expected], article_id  # newest first
    assert postgres.copies(postgres.article("a0007")) == ()
    with pytest.raises(NotFound):
        postgres.article("no-such-id")
    assert postgres.overview() == dataclasses.replace(oracle.overview(), added=postgres.overview().added)
    newest = max(stored, key=lambda a: a.seq)
    assert postgres.overview().added == (newest.indexed_at or NOW).replace(tzinfo=dt.UTC)


def test_a_facet_table_and_an_actor_page_are_the_embedded_backends(oracle: EmbeddedReader,
                                                                  postgres: PostgresReader) -> None:
    asked = request("kosovo", outlet=["Sputnik"], per_page=10)
    for name in ("outlet", "actor", "year", "language"):
        assert postgres.facet_table(dataclasses.replace(asked, facet_limit=2), name) == oracle.facet_table(
            dataclasses.replace(asked, facet_limit=2), name)
    with pytest.raises(QueryError):
        postgres.facet_table(asked, "colour")
    found, expected = postgres.actor("Q403"), oracle.actor("Q403")
    assert (found.total, found.years, found.name) == (expected.total, expected.years, expected.name) and found.total
    with pytest.raises(NotFound):
        postgres.actor("Q0")


# --- refusals -----------------------------------------------------------------------------------------------


def test_a_wildcard_over_the_cap_is_refused_as_by_the_embedded_backend(
        embedded: Settings, postgres: PostgresReader, gazetteer: Gazetteer) -> None:
    few = dataclasses.replace(embedded, max_wildcard_terms=3)
    capped = PostgresReader(postgres.connection, few, gazetteer)
    with open_index(embedded).searcher() as searcher, pytest.raises(QueryError) as embedded_refusal:
        EmbeddedReader(searcher, few, gazetteer).search(request("*o*"))
    with pytest.raises(QueryError) as refused:
        capped.search(request("*o*"))
    assert str(refused.value) == str(embedded_refusal.value) and refused.value.hint
    assert capped.search(request("vu?ic")).total > 0  # under the cap


def test_values_are_parameters_never_sql_text(postgres: PostgresReader, stored: list[StoredArticle]) -> None:
    hostile = "x'); DROP TABLE articles; --"
    assert postgres.search(request(f'outlet:"{hostile}" OR o\'brien', outlet=[hostile, "Sputnik"])).total >= 0
    assert postgres.search(request("", actor=[hostile], year=[hostile], language=[hostile])).total == 0
    assert postgres.hits([hostile]) == ()
    assert postgres.overview().articles == len(stored)


def test_a_search_past_its_time_limit_is_a_query_error(embedded: Settings, postgres: PostgresReader,
                                                      gazetteer: Gazetteer) -> None:
    hurried = PostgresReader(postgres.connection, dataclasses.replace(embedded, search_time_limit=1e-9), gazetteer)
    with pytest.raises(QueryError, match="took longer"):
        hurried.search(request("kosovo"))
    assert postgres.search(request("kosovo")).total > 0  # the connection is usable after


def test_a_statement_past_the_time_left_is_cancelled_by_the_server(embedded: Settings, postgres: PostgresReader,
                                                                   gazetteer: Gazetteer) -> None:
    """Each statement runs under what is left of the search's time (``statement_timeout``): a statement that
    would run on is cancelled by PostgreSQL, and that is the same ``QueryError``."""
    hurried = PostgresReader(postgres.connection, dataclasses.replace(embedded, search_time_limit=0.2), gazetteer)
    started = time.monotonic()
    with pytest.raises(QueryError, match="took longer"), hurried._snapshot() as run:
        run(sql.SQL("SELECT pg_sleep(5)"), ())
    assert time.monotonic() - started < 2
    assert postgres.search(request("kosovo")).total > 0


# --- the writer and the reader together --------------------------------------------------------------------------


@pytest.fixture
def written(fresh_database: str, embedded: Settings, gazetteer: Gazetteer) -> Iterator[PostgresReader]:
    """The corpus written by the PostgreSQL backend's own writer (search/index/pg_writer.py), in the batches
    the embedded index was written in, and read by its reader."""
    with psycopg.connect(fresh_database, autocommit=True) as connection:
        migrate(connection)
        write_articles_pg(connection, corpus(), batch_size=100)
        yield PostgresReader(connection, embedded, gazetteer)


@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_what_the_postgresql_writer_stores_its_reader_finds_as_the_embedded_backend_does(
        oracle: EmbeddedReader, written: PostgresReader, published: dict[str, dt.datetime | None], sort: str) -> None:
    """End to end: the same articles through each backend's writer and reader give the same pages, counts,
    copies and stories (the writer's copies and clusters included, which ``postgres`` above took as stored)."""
    for q in ["", "kosovo", '"council of europe"', "Лавров", "negotiat*", "vu?ic", "lavrov NOT putin"]:
        assert_same(oracle, written, request(q, sort=sort), published)
        assert_same(oracle, written, request(q, sort=sort, collapse="story", count="stories"), published)
    assert_same(oracle, written, request("kosovo", sort=sort, outlet=["Sputnik", "unknown"], date_from="2017"),
                published)
