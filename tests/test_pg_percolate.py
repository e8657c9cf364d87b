"""The PostgreSQL percolator (search/query/pg_percolate.py), held to the RAM percolator's answers.

The generated corpus of tests/test_pg_reader.py (copies, undated articles,
dates certain and not, Cyrillic text, actors, unknown outlets) is written
by the PostgreSQL writer to a real server; its newest articles are the
batch an alert run would match. Every saved-search form — words, phrases,
AND/OR/NOT, fields, prefixes, wildcards, dates in the text, facet filters,
date filters and presets — is matched by both percolators, and the RAM
percolator (the embedded backend's, itself held to the results page) is the
oracle: the same articles, with the same words.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator

import psycopg
import pytest
from test_pg_reader import NOW, corpus
from test_tsquery import QUERIES

from search.errors import QueryError
from search.index.pg_writer import write_articles_pg
from search.index.postgres import migrate
from search.query import make_query
from search.query.parse import read_query
from search.query.percolate import RamPercolator
from search.query.pg_percolate import PostgresPercolator, canonical_key, required_lexemes
from search.query.pg_plan import schema
from search.records import SearchQuery, StoredArticle
from search.settings import Settings

_NEGATED_PHRASE = re.compile(r'NOT "')
#: Facet and date filters, each saved with several query texts.
FILTERS: list[dict[str, object]] = [
    {"outlet": ["Sputnik", "unknown"]},
    {"actor": ["Q403", "Q1741"]},
    {"year": ["2017", "2018"], "language": ["ru", "unknown"]},
    {"date_from": "2017-03-05", "date_to": "2018-09-14"},
    {"date_to": "2018-09-14T23:59:59+00:00"},
    {"date_range": "year"},
    {"date_range": "month", "date_from": "2016"},
    {"dated": "no"},
    {"certainty": "certain"},
    {"certainty": "uncertain", "outlet": ["RksNews"]},
]
FILTERED = ["", "kosovo", "kosovo OR serbia", "negotiat*", "vu?ic", '"council of europe"', "lavrov NOT putin"]


def saved_searches() -> list[SearchQuery]:
    """Every query form bare, and a few under each filter: what users save."""
    found = [make_query(q) for q in [*QUERIES, "kosovo talks", "Лавров OR vucic", 'kosovo NOT "lavrov putin"',
                                     "border AND NOT neg*", "(kosovo OR neg*) AND serbia", "talks ANDMAYBE border"]]
    found += [make_query(q, **filters) for filters in FILTERS for q in FILTERED]  # type: ignore[arg-type]
    return [dataclasses.replace(request, now=NOW) for request in found]


@pytest.fixture
def database(fresh_database: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(fresh_database, autocommit=True) as connection:
        migrate(connection)
        write_articles_pg(connection, corpus(), batch_size=100)
        yield connection


@pytest.fixture
def batch(database: psycopg.Connection[tuple[object, ...]]) -> list[StoredArticle]:
    """The newest 200 articles, as the alert run reads them (``new_articles``)."""
    from search.query.pg_reader import PostgresReader

    reader = PostgresReader(database, Settings())
    everything = reader.new_articles(0)
    return everything[-200:]


def test_the_postgresql_percolator_matches_what_the_ram_percolator_matches_with_the_same_words(
        database: psycopg.Connection[tuple[object, ...]], batch: list[StoredArticle]) -> None:
    settings = Settings()
    asked = saved_searches()
    assert len(asked) >= 100 and len({canonical_key(request) for request in asked}) == len(asked)
    ram = RamPercolator(batch, settings)
    try:
        expected = ram.match_all(asked)
    finally:
        ram.close()
    found = PostgresPercolator(database, batch, settings).match_all(asked)
    matched = 0
    for request, mine, theirs in zip(asked, found, expected, strict=True):
        asked_as = f"{request.q!r} {request.filters()} {request.dates()}"
        assert not isinstance(theirs, Exception), asked_as
        assert not isinstance(mine, Exception), f"{asked_as}: {mine}"
        assert set(mine) == set(theirs), asked_as
        if _NEGATED_PHRASE.search(request.q):
            # Whoosh reports a negated phrase's word where its matchers happened to stand on it as they stepped
            # through the batch; the words found here are the positive ones, all of which Whoosh reports too.
            assert all(set(mine[i]) <= set(theirs[i]) for i in mine), asked_as
        else:
            assert mine == theirs, asked_as  # and the words each was found by
        matched += bool(mine)
    assert matched >= 80  # most forms match something in the batch
    assert any(words for result in found if isinstance(result, dict) for words in result.values())


def test_a_saved_search_is_compiled_once(database: psycopg.Connection[tuple[object, ...]],
                                         batch: list[StoredArticle]) -> None:
    """The second batch (and the second alert run) finds every saved search stored: nothing is compiled again,
    and a changed saved search is a new row."""
    asked = saved_searches()
    first = PostgresPercolator(database, batch[:100], Settings())
    first.match_all(asked)
    assert first.compiled == len(asked)
    stored = database.execute("SELECT count(*), max(compiled) FROM alert_queries").fetchone()
    assert stored is not None and stored[0] == len(asked)
    second = PostgresPercolator(database, batch[100:], Settings())
    second.match_all([dataclasses.replace(request, now=NOW + dt.timedelta(days=1)) for request in asked])
    assert second.compiled == 0
    assert database.execute("SELECT count(*), max(compiled) FROM alert_queries").fetchone() == stored
    changed = PostgresPercolator(database, batch, Settings())
    changed.match_all([make_query("kosovo serbia talks"), asked[0]])
    assert changed.compiled == 1


def test_only_saved_searches_sharing_a_word_with_an_article_are_evaluated(
        database: psycopg.Connection[tuple[object, ...]], batch: list[StoredArticle]) -> None:
    """A saved search whose required words no article of the batch holds is never a candidate: the cost
    follows the saved searches that could match, not how many there are."""
    absent = [make_query(f"zzword{n} OR \"zzother{n} phrase\"") for n in range(500)]
    present = [make_query("kosovo")]
    percolator = PostgresPercolator(database, batch, Settings())
    found = percolator.match_all([*absent, *present])
    assert found[:-1] == [{}] * len(absent)
    kosovo = found[-1]
    assert isinstance(kosovo, dict) and kosovo
    holding = sum("kosovo" in required_lexemes_of(article) for article in batch)
    assert percolator.candidates == holding  # each article holding the word, for the one query asking it
    assert required_lexemes(read_query("zzword1 OR \"zzother1 phrase\"", schema(), Settings())) == {"zzword1",
                                                                                                     "zzother1"}
    assert required_lexemes(read_query("NOT kosovo", schema(), Settings())) is None
    assert required_lexemes(read_query("kosovo neg*", schema(), Settings())) == {"kosovo"}
    # The prefilter is the GIN index on the required words.
    database.execute("SET enable_seqscan = off")
    plan = database.execute("EXPLAIN SELECT key FROM alert_queries WHERE required && ARRAY['kosovo']").fetchall()
    assert "alert_queries_required" in " ".join(str(row[0]) for row in plan)


def required_lexemes_of(article: StoredArticle) -> set[str]:
    from search.index import text_analyzer

    return {token.text for field in (article.title, article.text, article.author or "")
            for token in text_analyzer()(field)}


def test_a_saved_search_that_cannot_run_is_its_own_failure(database: psycopg.Connection[tuple[object, ...]],
                                                          batch: list[StoredArticle]) -> None:
    asked = [make_query("kosovo"), SearchQuery(q="title:"), make_query("serbia"),
             SearchQuery(q='"a b c d e f g h i j"~9')]
    found = PostgresPercolator(database, batch, Settings()).match_all(asked)
    expected = RamPercolator(batch, Settings()).match_all(asked)
    assert isinstance(found[1], QueryError) and isinstance(expected[1], QueryError)
    assert isinstance(found[0], dict) and found[0] and isinstance(found[2], dict) and found[2]
    assert type(found[3]) is type(expected[3]) or isinstance(found[3], QueryError)
