"""The PostgreSQL database of the ``postgres`` backend: connecting to it, and bringing its schema up to date.

On the ground floor, beside the settings: the state (search/state) and the
index stage (search/index/postgres.py, the articles' partitions) both stand
on it, so it knows neither of them. The schema is numbered SQL files,
``search/index/migrations/NNNN_name.sql`` (the articles' tables first, then
the state's), applied in order by ``migrate`` — by the first command that
opens an empty database, and by every later one that finds a file not yet
applied. Each file is applied in a transaction of its own and recorded in
``schema_migrations``; a transaction-level advisory lock makes two processes
starting at once apply each file once. A database that a newer Newsdesk
migrated further than this one knows is refused (``SchemaMismatch``) rather
than read with the wrong columns.

The files are read as package data, without importing the index stage
(``search/index/__init__.py`` pulls in Whoosh and the analyzers): the
folder stays where the articles' migrations have always been.

psycopg is the ``postgres`` extra's: this module is imported only when an
instance runs that backend.
"""

from __future__ import annotations

import re
import threading
import zlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import psycopg

from search.errors import DatabaseUnavailable, SchemaMismatch

Connection = psycopg.Connection[tuple[object, ...]]

_MIGRATION_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
#: The advisory lock's key while migrating.
_MIGRATE_LOCK = zlib.crc32(b"newsdesk:migrate")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@cache
def migrations() -> tuple[Migration, ...]:
    """The schema's migrations in order, read from the package's ``index/migrations`` folder."""
    found = []
    for entry in resources.files("search").joinpath("index", "migrations").iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [m.version for m in found]
    # Numbers are handed out ahead to work under way (0003 is the alert queries', 0004 the state's): a gap is
    # a migration this copy does not have yet, applied when it arrives; a number twice is a mistake.
    if not versions or versions[0] != 1 or len(set(versions)) != len(versions):
        raise RuntimeError(f"the migrations are not numbered from 1, each once: {versions}")
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
        newer = sorted(done - {migration.version for migration in known})
        if newer:
            raise SchemaMismatch(
                f"the database has schema version {newer[-1]}, newer than this Newsdesk's {known[-1].version}",
                hint="upgrade Newsdesk on this machine, or point database_url at another database")
        for migration in known:
            if migration.version in done:
                continue
            connection.execute(migration.sql.encode("utf-8"))  # no parameters: the file's statements, as written
            connection.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                               (migration.version, migration.name))
            applied_now.append(f"{migration.version:04d}_{migration.name}")
    return applied_now


#: The databases this process has brought up to date: a later connection skips the check (a round trip and
#: an advisory lock each time a request opens the state).
_current: set[str] = set()
_current_lock = threading.Lock()


def connect(url: str, *, readonly: bool = False, migrated: bool = True) -> Connection:
    """An autocommit connection to ``url``; its schema brought up to date first (once per process and
    database) unless ``readonly`` or not ``migrated``. A read-only connection refuses every write
    (``default_transaction_read_only``), and creates nothing."""
    # JIT off: its compile time grows with the plan's partitions, not the rows — an export of 16,170 articles
    # over 611 month partitions spent 55 of its 56 s compiling 3,672 functions (bench/pg_scale.py, 240k).
    # Newsdesk's statements are short lookups and counts over indexes, which JIT never pays back.
    options = "-c jit=off" + (" -c default_transaction_read_only=on" if readonly else "")
    try:
        connection: Connection = psycopg.connect(url, autocommit=True, options=options)
    except psycopg.OperationalError as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DatabaseUnavailable(f"cannot reach the database: {reason}",
                                  hint="check database_url (NEWSDESK_DATABASE_URL) and that PostgreSQL runs") from e
    if migrated and not readonly and url not in _current:
        try:
            with _current_lock:
                if url not in _current:
                    migrate(connection)
                    _current.add(url)
        except BaseException:
            connection.close()
            raise
    return connection
