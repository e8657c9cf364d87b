"""The query syntax compiled for PostgreSQL (search/query/tsquery.py), held to the embedded backend.

Every form the project's syntax has — words, AND/OR/NOT, phrases (with
Russian stems and slop), fields, prefixes and wildcards, dates and their
ranges, facet fields — must find in PostgreSQL exactly the articles it
finds in the Whoosh index. The same generated articles are written to both:
to Whoosh by the index stage, to a table on a real PostgreSQL server as
their tsvectors (search/index/lexemes.py) and columns. The oracle is the
embedded backend's own ``matching``, itself held to plain Python elsewhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from search.enrich import Gazetteer
from search.index import build_schema, from_stored, open_index, write_articles
from search.index.lexemes import vectors
from search.query import make_query
from search.query.parse import read_query
from search.query.run import matching
from search.query.tsquery import COLUMNS, MAX_PHRASE_FORMS, compile_query
from search.records import Article, StoredArticle
from search.settings import Settings

WORDS = ["kosovo", "serbia", "talks", "council", "of", "europe", "negotiations", "negotiated", "Vučić", "Vucic",
         "Лавров", "Лаврова", "сказал", "Thaçi", "border", "o'brien", "putin", "lavrov", "minister", "foreign"]
OUTLETS = ("RksNews", "Sputnik", "Balkan Wire")
ACTORS = ("Q58217", "Q403", "Q1246")

#: Every query form; each found in PostgreSQL exactly as in the Whoosh index.
QUERIES = [
    "kosovo", "kosovo serbia", "kosovo OR serbia", "lavrov NOT putin", "NOT kosovo", "kosovo ANDNOT serbia",
    "kosovo ANDMAYBE serbia", "(kosovo OR serbia) AND talks", '"council of europe"', '"foreign minister"',
    '"лавров сказал"', '"lavrov сказал"', '"kosovo talks"~3', "Лаврова", "Лавров", "thaci", "Thaçi", "vucic",
    "title:lavrov", "title:(kosovo OR serbia)", "author:brien", "outlet:RksNews", 'outlet:"Balkan Wire"',
    "actor:Q58217", "year:2018", "language:sr", "negotiat*", "title:neg*", "vu?ic", "*cic", "neg*ions",
    "published:2018", "published:2018-09", "published:[2018-09 to]", "published:[to 2017]", "published:<2019",
    "published:>=2018-09-14", "kosovo AND published:2018", "kosovo OR outlet:Sputnik", "o'brien",
    "year:[2016 TO 2017]", "NOT outlet:RksNews AND serbia",
]


def _article(n: int, rng: random.Random) -> Article:
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 25))]
    if n % 5 == 0:
        words[1:1] = ["council", "of", "europe"]
    if n % 7 == 0:
        words[2:2] = ["Лавров", "сказал"]
    day = dt.date(2016 + n // 7 % 4, 1 + n % 12, 1 + n % 28)
    published = None if n % 6 == 0 else (day if n % 2 else dt.datetime(day.year, day.month, day.day, 9, tzinfo=dt.UTC))
    return Article(
        id=f"a{n:04d}", title=" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))), text=" ".join(words),
        origin="generated", outlet=rng.choice(OUTLETS), author=rng.choice([None, "Ana O'Brien", "Јована Петровић"]),
        published=published, published_source="manifest" if published else None,
        language=rng.choice(["en", "sr", "ru", None]), actors=rng.sample(ACTORS, rng.randint(0, 2)),
    )


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(index=tmp_path_factory.mktemp("embedded"))
    rng = random.Random(19)
    write_articles([_article(n, rng) for n in range(400)], dataclasses.replace(settings, batch_size=100))
    return settings


@pytest.fixture(scope="module")
def stored(embedded: Settings) -> list[StoredArticle]:
    with open_index(embedded).searcher() as searcher:
        return [from_stored(fields) for fields in searcher.all_stored_fields()]


@pytest.fixture(scope="module")
def database(postgres_url: str, stored: list[StoredArticle]) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """The same articles as rows: columns and the two vectors, in a table of the test's own."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS tsquery_articles")
        connection.execute("""CREATE TABLE tsquery_articles (
            id text PRIMARY KEY, url text, outlet text NOT NULL, year text NOT NULL, language text NOT NULL,
            cluster text NOT NULL, actors text[] NOT NULL, published_utc timestamp,
            lexemes tsvector NOT NULL, words tsvector NOT NULL)""")
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO tsquery_articles VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::tsvector, %s::tsvector)",
                [(a.id, a.url, a.outlet, a.year, a.language, a.cluster, list(a.actors), a.published_utc,
                  *dataclasses.astuple(vectors({"title": a.title, "author": a.author, "body": a.text})))
                 for a in stored])
        yield connection
        connection.execute("DROP TABLE tsquery_articles")


def expand_from(connection: psycopg.Connection[tuple[object, ...]]) -> object:
    def expand(field: str, pattern: str) -> list[str]:
        like = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%").replace("?", "_")
        rows = connection.execute("SELECT DISTINCT word FROM tsquery_articles, unnest(tsvector_to_array(words)) "
                                  "AS word WHERE word LIKE %s", (like,)).fetchall()
        return sorted(str(row[0]) for row in rows)
    return expand


def found_in_postgres(connection: psycopg.Connection[tuple[object, ...]], text: str) -> set[str]:
    condition = compile_query(read_query(text, build_schema(), Settings()), expand_from(connection))  # type: ignore[arg-type]
    statement = sql.SQL("SELECT id FROM tsquery_articles WHERE {}").format(condition.where)
    return {str(row[0]) for row in connection.execute(statement, condition.params).fetchall()}


@pytest.mark.parametrize("text", QUERIES)
def test_postgresql_finds_what_the_embedded_index_finds(embedded: Settings, gazetteer: Gazetteer,
                                                       database: psycopg.Connection[tuple[object, ...]],
                                                       text: str) -> None:
    with open_index(embedded).searcher() as searcher:
        expected = set(matching(searcher, make_query(text), embedded))
    assert found_in_postgres(database, text) == expected


def test_the_queries_find_some_and_not_all(embedded: Settings, stored: list[StoredArticle]) -> None:
    """Each query is a real test: it finds something, and not everything (but NOT-only and date forms)."""
    with open_index(embedded).searcher() as searcher:
        sizes = {text: len(matching(searcher, make_query(text), embedded)) for text in QUERIES}
    assert all(0 < size < len(stored) for size in sizes.values()), {t: n for t, n in sizes.items() if not 0 < n < len(stored)}


def test_values_are_parameters_never_sql_text(database: psycopg.Connection[tuple[object, ...]]) -> None:
    condition = compile_query(read_query("outlet:\"x'); DROP TABLE tsquery_articles; --\" AND o'brien",
                                         build_schema(), Settings()), expand_from(database))  # type: ignore[arg-type]
    text = condition.where.as_string(database)
    assert "DROP" not in text and "brien" not in text
    assert found_in_postgres(database, "outlet:\"x'); DROP TABLE tsquery_articles; --\"") == set()
    assert database.execute("SELECT count(*) FROM tsquery_articles").fetchone() == (400,)


def test_a_phrase_with_too_many_forms_is_refused_with_a_hint(database: psycopg.Connection[tuple[object, ...]]) -> None:
    from search.errors import QueryError

    words = " ".join(["kosovo"] * 5)
    with pytest.raises(QueryError, match="too many forms") as refused:
        found_in_postgres(database, f'"{words}"~{round(MAX_PHRASE_FORMS ** 0.25) + 1}')
    assert refused.value.hint


def test_every_column_a_query_names_is_in_the_table(database: psycopg.Connection[tuple[object, ...]]) -> None:
    names = {row[0] for row in database.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'tsquery_articles'").fetchall()}
    assert set(COLUMNS.values()) | {"actors", "published_utc", "lexemes", "words"} <= names
