"""The PostgreSQL backend's schema (search/index/postgres.py): made by the first command, migrated by later
ones, each migration once however many processes start together, and articles kept by month of publication.

Against a real PostgreSQL server (tests/services.py), a database of each test's own.
"""

from __future__ import annotations

import datetime as dt
import threading

import psycopg
import pytest
from psycopg import sql

from search.errors import SchemaMismatch
from search.index.postgres import MONTH_VALUE, ensure_month, migrate, migrations, month_of, months


def connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True)


def tables(connection: psycopg.Connection[tuple[object, ...]]) -> set[str]:
    rows = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {str(row[0]) for row in rows}


def insert(connection: psycopg.Connection[tuple[object, ...]], article_id: str,
           published: dt.datetime | None) -> None:
    connection.execute(
        sql.SQL("""INSERT INTO articles (month, id, title, body, outlet, year, language, origin, cluster, seq,
                   indexed_at, fingerprint, text_key, published_utc, lexemes, words)
                   VALUES ({}, %s, 't', 'b', 'o', 'unknown', 'unknown', 'test', %s, 1, now(), 'f', 'k', %s, '', '')""")
        .format(MONTH_VALUE), (month_of(published), article_id, article_id, published))


def test_the_first_migration_makes_the_schema_and_the_next_finds_nothing_to_do(fresh_database: str) -> None:
    with connect(fresh_database) as connection:
        assert migrate(connection) == [f"{m.version:04d}_{m.name}" for m in migrations()]
        assert {"articles_undated", "article_months", "words_seen", "schema_migrations"} <= tables(connection)
        assert migrate(connection) == []
        versions = connection.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        assert [row[0] for row in versions] == [m.version for m in migrations()]


def test_processes_starting_together_apply_each_migration_once(fresh_database: str) -> None:
    applied: list[list[str]] = []
    failed: list[BaseException] = []
    start = threading.Barrier(4)

    def start_up() -> None:
        try:
            with connect(fresh_database) as connection:
                start.wait()
                applied.append(migrate(connection))
        except BaseException as e:  # noqa: BLE001  # reported below, whatever it is
            failed.append(e)

    threads = [threading.Thread(target=start_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed
    assert sorted(len(names) for names in applied) == [0, 0, 0, len(migrations())]


def test_a_database_migrated_by_a_newer_newsdesk_is_refused_with_a_hint(fresh_database: str) -> None:
    with connect(fresh_database) as connection:
        migrate(connection)
        connection.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, 'from_the_future')",
                           (migrations()[-1].version + 1,))
        with pytest.raises(SchemaMismatch, match="newer") as refused:
            migrate(connection)
    assert refused.value.status == 503 and "upgrade" in (refused.value.hint or "")


def test_articles_are_kept_in_their_months_partition_and_the_undated_apart(fresh_database: str) -> None:
    with connect(fresh_database) as connection:
        migrate(connection)
        september = dt.datetime(2018, 9, 30, 23, 59, 59)
        with connection.transaction():
            assert ensure_month(connection, month_of(september)) == "articles_2018_09"
            insert(connection, "late-september", september)
        insert(connection, "undated", None)
        where = dict(connection.execute("SELECT id, tableoid::regclass::text FROM articles").fetchall())
        assert where == {"late-september": "articles_2018_09", "undated": "articles_undated"}
        # A month without its partition takes nothing: the writer makes it first.
        with pytest.raises(psycopg.errors.CheckViolation, match="no partition"):
            insert(connection, "october", dt.datetime(2018, 10, 1))
        assert months(connection) == ["articles_2018_09", "articles_undated"]


def test_writers_making_one_months_partition_at_once_make_it_once(fresh_database: str) -> None:
    with connect(fresh_database) as connection:
        migrate(connection)
    failed: list[BaseException] = []
    start = threading.Barrier(4)

    def write(n: int) -> None:
        try:
            with connect(fresh_database) as connection, connection.transaction():
                start.wait()
                ensure_month(connection, dt.date(2019, 2, 1))
                insert(connection, f"article-{n}", dt.datetime(2019, 2, 14, n))
        except BaseException as e:  # noqa: BLE001  # reported below, whatever it is
            failed.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed
    with connect(fresh_database) as connection:
        assert months(connection) == ["articles_2019_02", "articles_undated"]
        assert connection.execute("SELECT count(*) FROM articles_2019_02").fetchone() == (4,)


def test_a_december_partition_ends_where_january_begins(fresh_database: str) -> None:
    with connect(fresh_database) as connection:
        migrate(connection)
        with connection.transaction():
            ensure_month(connection, dt.date(2018, 12, 1))
            ensure_month(connection, dt.date(2019, 1, 1))
        insert(connection, "new-years-eve", dt.datetime(2018, 12, 31, 23, 59, 59))
        insert(connection, "new-year", dt.datetime(2019, 1, 1))
        where = dict(connection.execute("SELECT id, tableoid::regclass::text FROM articles").fetchall())
    assert where == {"new-years-eve": "articles_2018_12", "new-year": "articles_2019_01"}


def test_newsdesk_connections_run_without_jit_however_the_server_is_configured(fresh_database: str) -> None:
    """JIT's compile time grows with a plan's partitions: an export over 611 month partitions spent 55 of its 56 s
    compiling (bench/pg_scale.py). Every connection Newsdesk opens turns it off, read-only ones too."""
    from search.database import connect

    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} SET jit = on").format(sql.Identifier(conn.info.dbname)))
    with psycopg.connect(fresh_database) as bare:
        assert bare.execute("SHOW jit").fetchone() == ("on",)  # what the server gives a connection by default
    for readonly in (False, True):
        with connect(fresh_database, readonly=readonly) as conn:
            assert conn.execute("SHOW jit").fetchone() == ("off",)
