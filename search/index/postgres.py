"""PostgreSQL: the schema the PostgreSQL backend keeps an instance's articles in, and how it gets there.

Part of the index stage, for the PostgreSQL backend (issue 19), beside the
Whoosh index of search/index/store.py. The schema is numbered SQL files,
``migrations/NNNN_name.sql``, applied in order by ``migrate`` — by the
first command that opens an empty database, and by every later one that
finds a file not yet applied. Each file is applied in a transaction of its
own and recorded in ``schema_migrations``; a transaction-level advisory
lock makes two processes starting at once apply each file once. A database
that a newer Newsdesk migrated further than this one knows is refused
(``SchemaMismatch``) rather than read with the wrong columns.

Articles are partitioned by month of publication (0001_articles.sql):
``ensure_month`` makes a month's partition before its first article is
written, under a lock of its own, so concurrent writers never race to
create one. DDL takes no bound parameters: a partition's bounds are dates
quoted by the driver (``sql.Literal``), its name made from the date's digits.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import psycopg
from psycopg import sql

from search.errors import SchemaMismatch

#: How a row names its month: undated articles (``month_of`` None) are kept under 'infinity' (0001_articles.sql).
MONTH_VALUE = sql.SQL("COALESCE({}::date, 'infinity'::date)").format(sql.Placeholder())
_MIGRATION_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
#: The advisory locks' keys: migrating, and making a month's partition (one key per month).
_MIGRATE_LOCK = zlib.crc32(b"newsdesk:migrate")
_MONTH_LOCK = zlib.crc32(b"newsdesk:month")

Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@cache
def migrations() -> tuple[Migration, ...]:
    """The schema's migrations in order, read from the package's ``migrations`` folder."""
    found = []
    for entry in resources.files("search.index").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"the migrations are not numbered 1 to {len(found)}: {[m.version for m in found]}")
    return tuple(found)


def migrate(connection: Connection) -> list[str]:
    """Apply the migrations the database has not had, in order; the names applied (none when up to date)."""
    applied_now = []
    known = migrations()
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
        connection.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())""")
        done = {int(str(row[0])) for row in connection.execute("SELECT version FROM schema_migrations")}
        newer = sorted(version for version in done if version > len(known))
        if newer:
            raise SchemaMismatch(
                f"the database has schema version {newer[-1]}, newer than this Newsdesk's {len(known)}",
                hint="upgrade Newsdesk on this machine, or point database_url at another database")
        for migration in known:
            if migration.version in done:
                continue
            connection.execute(migration.sql.encode("utf-8"))  # no parameters: the file's statements, as written
            connection.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                               (migration.version, migration.name))
            applied_now.append(f"{migration.version:04d}_{migration.name}")
    return applied_now


def month_of(published_utc: dt.datetime | None) -> dt.date | None:
    """The month an article is kept under: the first day of its month of publication (UTC); None when undated
    (written as 'infinity': ``MONTH_VALUE``)."""
    return None if published_utc is None else dt.date(published_utc.year, published_utc.month, 1)


def ensure_month(connection: Connection, month: dt.date | None) -> str:
    """Make ``month``'s partition if it is not there yet (within the caller's transaction); its name."""
    if month is None:
        return "articles_undated"
    name = f"articles_{month.year:04d}_{month.month:02d}"
    following = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    connection.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_MONTH_LOCK, month.year * 12 + month.month))
    connection.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF articles FOR VALUES FROM ({}) TO ({})")
                       .format(sql.Identifier(name), sql.Literal(month), sql.Literal(following)))
    return name


def months(connection: Connection) -> list[str]:
    """The partitions of ``articles``, by name, in order."""
    rows = connection.execute("""SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                                 JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'articles'
                                 ORDER BY c.relname""").fetchall()
    return [str(row[0]) for row in rows]
