"""The counts the PostgreSQL schema keeps (search/index/migrations/0005_counting.sql): after every kind of
write — new articles, copies of them in other outlets, changed ones (other outlet, actors, month), takedowns, a
migration's copy, two writers at once, a hand-made UPDATE, TRUNCATE — ``facet_counts`` must equal plain Python's
count over the stored articles: each outlet, year, language and actor with its number of articles (an actor once
per element of the array), the total, and no row for a value no article holds; and ``cluster_counts`` each
cluster's articles by outlet. A database that held articles before the migration is counted by the migration.
The reader's side (search/query/pg_counts.py) reads them back as plain Python counts them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest
from psycopg import sql

from search.fingerprint import text_minhash
from search.index.document import from_stored
from search.index.pg_writer import ROW_COLUMNS, copy_articles_pg, delete_articles_pg, stored_fields, write_articles_pg
from search.index.postgres import migrate, migrations
from search.query.pg_counts import cluster_outlets, every_article_counts
from search.records import FACETS, Article, StoredArticle

Connection = psycopg.Connection[tuple[object, ...]]
OUTLETS = ("Balkan Wire", "Daily Observer", "Танюг Digest", None)
ACTORS = ("putin", "vucic", "kurti", "lavrov", "osmani")
WORDS = ("talks", "envoy", "treaty", "border", "vote", "budget", "граница", "договор")


def article(rng: random.Random, article_id: str) -> Article:
    """A distinct text (no copies: every article is stored), one of a few outlets or none, zero to three actors,
    undated or in one of 2019's and 2020's months, a language or none."""
    text = f"{article_id} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60))) + "."
    published = None if rng.random() < 0.2 else dt.datetime(rng.choice([2019, 2020]), rng.randint(1, 12),
                                                            rng.randint(1, 28), 12, tzinfo=dt.UTC)
    return Article(id=article_id, title=f"Title {article_id}", text=text, origin=f"generated/{article_id}",
                   outlet=rng.choice(OUTLETS), published=published, published_source="manifest" if published else None,
                   language=rng.choice([None, "en", "ru"]), actors=rng.sample(ACTORS, rng.randint(0, 3)),
                   minhash=text_minhash(text))


def expected(connection: Connection) -> dict[tuple[str, str], int]:
    """Plain Python over the stored articles: what facet_counts must hold."""
    counted: Counter[tuple[str, str]] = Counter()
    for outlet, year, language, actors in connection.execute("SELECT outlet, year, language, actors FROM articles"):
        counted.update([("total", ""), ("outlet", str(outlet)), ("year", str(year)), ("language", str(language))])
        assert isinstance(actors, list)
        counted.update(("actor", str(actor)) for actor in actors)
    return dict(counted)


def expected_clusters(connection: Connection) -> dict[tuple[str, str], int]:
    """Plain Python over the stored articles: each cluster's articles by outlet, what cluster_counts must hold."""
    return dict(Counter((str(cluster), str(outlet))
                        for cluster, outlet in connection.execute("SELECT cluster, outlet FROM articles")))


def kept_clusters(connection: Connection) -> dict[tuple[str, str], int]:
    return {(str(cluster), str(outlet)): int(str(n))
            for cluster, outlet, n in connection.execute("SELECT cluster, outlet, articles FROM cluster_counts")}


def kept(connection: Connection) -> dict[tuple[str, str], int]:
    return {(str(facet), str(value)): int(str(n))
            for facet, value, n in connection.execute("SELECT facet, value, articles FROM facet_counts")}


def assert_counted(connection: Connection) -> None:
    assert kept(connection) == expected(connection)
    assert kept_clusters(connection) == expected_clusters(connection)


def stored(connection: Connection) -> list[StoredArticle]:
    columns = ", ".join(ROW_COLUMNS)
    with connection.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        return [from_stored(stored_fields(row)) for row in cursor.execute(f"SELECT {columns} FROM articles ORDER BY seq")]


@pytest.fixture
def database(fresh_database: str) -> Iterator[Connection]:
    with psycopg.connect(fresh_database, autocommit=True) as connection:
        migrate(connection)
        yield connection


def test_counts_follow_new_changed_and_deleted_articles(database: Connection) -> None:
    rng = random.Random(19)
    articles = [article(rng, f"a{n}") for n in range(60)]
    # The same texts in another outlet: stored, each in its original's cluster.
    copies = [dataclasses.replace(a, id=f"{a.id}-copy", origin=f"{a.origin}-copy", outlet="Copy Desk")
              for a in articles[:12]]
    write_articles_pg(database, articles + copies, batch_size=7)
    assert_counted(database)
    assert kept(database)[("total", "")] == 72
    assert max(Counter(cluster for cluster, _ in kept_clusters(database)).values()) == 2
    assert ("actor", "osmani") in kept(database)

    # Changed texts with another outlet, other actors and another month: each article leaves its old values.
    changed = [dataclasses.replace(article(rng, a.id), text=a.text + " changed") for a in articles[::3]]
    report = write_articles_pg(database, changed, batch_size=7)
    assert report.updated == len(changed)
    assert_counted(database)

    # Takedowns, including every article of one outlet: its value goes, not counted zero.
    gone = [a.id for a in articles[1::3]]
    held = dict(database.execute("SELECT id, outlet FROM articles").fetchall())
    gone += [i for i, outlet in held.items() if outlet == "Balkan Wire"]
    delete_articles_pg(database, gone)
    assert_counted(database)
    assert ("outlet", "Balkan Wire") not in kept(database)


def test_counts_follow_a_hand_made_update_a_copy_and_truncate(database: Connection) -> None:
    rng = random.Random(7)
    write_articles_pg(database, [article(rng, f"b{n}") for n in range(40)], batch_size=9)
    database.execute("UPDATE articles SET language = 'sr', actors = actors || '{vucic}'::text[] WHERE seq % 4 = 0")
    assert_counted(database)
    assert kept(database)[("language", "sr")] == 10

    copies = stored(database)
    database.execute("TRUNCATE articles, article_months, article_bands")
    assert kept(database) == {}
    assert kept_clusters(database) == {}
    assert copy_articles_pg(database, copies, batch_size=6) == 40
    assert_counted(database)
    assert kept(database)[("total", "")] == 40


def test_two_writers_at_once_keep_the_counts(database: Connection, fresh_database: str) -> None:
    rng = random.Random(3)
    halves = [[article(rng, f"c{n}-{part}") for n in range(50)] for part in (0, 1)]
    failures: list[BaseException] = []

    def write(articles: list[Article]) -> None:
        try:
            with psycopg.connect(fresh_database, autocommit=True) as connection:
                write_articles_pg(connection, articles, batch_size=5)
                delete_articles_pg(connection, [a.id for a in articles[::4]])
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            failures.append(error)

    threads = [threading.Thread(target=write, args=(half,)) for half in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert_counted(database)
    assert kept(database)[("total", "")] == 100 - 2 * 13


def test_the_migration_counts_what_the_table_held_before_it(fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as connection:
        connection.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                           "applied timestamptz NOT NULL DEFAULT now())")
        counting = next(m.version for m in migrations() if m.name == "counting")
        for earlier in [m for m in migrations() if m.version < counting]:
            connection.execute(earlier.sql.encode())
            connection.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                               (earlier.version, earlier.name))
        rng = random.Random(11)
        write_articles_pg(connection, [article(rng, f"d{n}") for n in range(30)], batch_size=8)
        assert connection.execute("SELECT to_regclass('facet_counts')").fetchone() == (None,)

        migrate(connection)
        assert_counted(connection)
        assert kept(connection)[("total", "")] == 30


def test_the_reader_reads_the_kept_counts_as_plain_python_counts_them(database: Connection) -> None:
    rng = random.Random(5)
    articles = [article(rng, f"e{n}") for n in range(30)]
    copies = [dataclasses.replace(a, id=f"{a.id}-copy", origin=f"{a.origin}-copy", outlet="Copy Desk")
              for a in articles[:5]]
    write_articles_pg(database, articles + copies, batch_size=8)

    def run(statement: sql.Composable, params: Sequence[object]) -> list[tuple[Any, ...]]:
        return database.execute(statement, params).fetchall()

    facets, total = every_article_counts(run)
    counted = expected(database)
    assert total == counted.pop(("total", ""))
    assert {(name, value): n for name, values in facets.items() for value, n in values.items()} == counted
    assert set(facets) == set(FACETS)

    clusters = {cluster for cluster, _ in expected_clusters(database)}
    some = sorted(clusters)[:10] + ["no such cluster"]
    assert cluster_outlets(run, some) == {key: n for key, n in expected_clusters(database).items() if key[0] in some}
    assert any(n for (cluster, outlet), n in cluster_outlets(run, clusters).items() if outlet == "Copy Desk")
