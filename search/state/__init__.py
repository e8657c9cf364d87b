"""State: what an instance keeps beside its articles, in SQLite or in PostgreSQL.

On the ground floor, below every stage. Beside the index and the WARC
archive, the third thing an instance keeps: accounts, saved searches and the
alert outbox, what the crawler knows (frontier, fetch log, per-host and
per-source health), the kept sources, candidate actors, ingest numbers. With
the default backend it is the SQLite database in the instance directory
(``state.sqlite``); with the ``postgres`` backend it is the PostgreSQL
database ``database_url``, so every web process and worker shares it
(search/state/postgres.py).

**One way to talk to either.** ``open_state`` gives a ``StateConnection``:
``execute``/``executemany`` with ``?`` placeholders, rows read by name or by
position, ``with connection:`` as a transaction. Each stage owns its tables
and its SQL, written in what both engines run; where they must differ it
says so in one place. With SQLite a stage declares its tables with
``ensure_tables`` when it opens the database (its DDL, and an ``upgrade``
for columns added since), so a stage never depends on another stage's
migrations; with PostgreSQL the same tables are made by the numbered schema
migrations (search/index/migrations/0004_state.sql, applied when a writing
connection is first opened: search/database.py) and ``ensure_tables`` does
nothing.

**What stays local.** The archive's catalogue (search/archive/store.py)
describes the WARC files in the instance directory, so it lives beside them
in ``state.sqlite`` whatever the backend (``open_local_state``).

WAL mode lets the web app read while a crawl writes; every write happens in
a transaction, so a process killed mid-crawl leaves the last committed state.

The SQLite database holds password hashes, sessions and e-mail addresses,
so it is its owner's alone (mode 0600, as the secret key is); SQLite gives its
WAL and shared-memory files the database file's mode.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

from search.settings import Settings

STATE_FILE = "state.sqlite"
T = TypeVar("T")

#: What a constraint refusing a write raises, on either engine (PostgreSQL's error comes as a subclass).
IntegrityError = sqlite3.IntegrityError


class Row(Protocol):
    """A row of the state: read by column name or by position (``sqlite3.Row``, or PostgreSQL's alike)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...


class StateCursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class StateConnection(Protocol):
    """What the stages ask of a state connection, on either engine (see the module docstring)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> StateCursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> StateCursor: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None, /) -> bool | None: ...


def in_postgres(settings: Settings) -> bool:
    """Whether the instance keeps its state in PostgreSQL (the ``postgres`` backend)."""
    return settings.backend == "postgres"


def open_state(settings: Settings, readonly: bool = False) -> StateConnection:
    """A connection to the instance's state (the SQLite file, or the PostgreSQL database, made when missing).

    ``readonly`` opens without creating anything: for the web app, which only
    shows state and must not make an instance directory (or a schema) appear.
    """
    if in_postgres(settings):
        from search.state.postgres import open_postgres  # psycopg: the postgres extra's

        return open_postgres(settings.database_url, readonly)
    return open_local_state(settings, readonly)


def open_local_state(settings: Settings, readonly: bool = False) -> sqlite3.Connection:
    """The SQLite database in the instance directory, whatever the backend: for what describes the
    directory's own files (the archive's catalogue)."""
    path = settings.index / STATE_FILE
    if readonly:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=settings.write_timeout)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        _owner_only(path)
        connection = sqlite3.connect(path, timeout=settings.write_timeout)
        _write_ahead(connection, settings.write_timeout)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


def _write_ahead(connection: sqlite3.Connection, timeout: float) -> None:
    """Put the database in WAL mode, waiting up to ``timeout`` seconds for the lock that takes.

    Switching a new database to WAL needs it alone for a moment, and SQLite
    answers "database is locked" at once, without its busy handler, while
    another connection opening the same new file holds it: several processes
    or threads making an instance's state at once (tests/test_state_postgres.py's
    four adds) would fail. Once the file is in WAL mode the pragma is a read.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _owner_only(path: Path) -> None:
    """Create the file readable by its owner only, or take group and others' access off an older one.

    An existing database is never opened here: closing any descriptor of it
    drops every POSIX lock this process holds on it, those of its open
    connections included (SQLite's "How To Corrupt" §2.2). Another process
    closing its last connection then believes it is the last of all, and
    checkpoints and deletes the write-ahead log under the connections here:
    the database was corrupt within seconds once the index was written in a
    process of its own.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, mode & 0o700)
        for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if companion.exists():
                os.chmod(companion, stat.S_IMODE(companion.stat().st_mode) & 0o700)


def is_sqlite(connection: StateConnection) -> bool:
    """Whether ``connection`` is SQLite's: for what only SQLite has (pragmas, columns added in place)."""
    return isinstance(connection, sqlite3.Connection)


def ensure_tables(connection: StateConnection, ddl: str,
                  upgrade: Callable[[sqlite3.Connection], None] | None = None) -> None:
    """Create a stage's SQLite tables and indexes (``CREATE ... IF NOT EXISTS``), then ``upgrade`` them
    (columns added since a table was first made). In PostgreSQL the migrations made them: nothing to do."""
    if not isinstance(connection, sqlite3.Connection):
        return
    with connection:
        connection.executescript(ddl)
    if upgrade is not None:
        upgrade(connection)


def read_state(settings: Settings, read: Callable[[StateConnection], T], empty: T) -> T:
    """``read`` on a read-only connection to the state; ``empty`` before the database, or the table it reads,
    exists (another stage made the database, or nothing was ever written there). Never creates anything."""
    if not state_exists(settings):
        return empty
    connection = open_state(settings, readonly=True)
    try:
        return read(connection)
    except sqlite3.OperationalError as e:  # PostgreSQL's missing table comes as a subclass
        if "no such table" in str(e):
            return empty
        raise
    finally:
        connection.close()


def state_exists(settings: Settings) -> bool:
    """Whether there can be state to read: the SQLite file is there; a PostgreSQL database always may be."""
    return in_postgres(settings) or state_path(settings).is_file()


def state_path(settings: Settings) -> Path:
    """The SQLite state file of the instance directory (with the ``postgres`` backend: the archive's only)."""
    return settings.index / STATE_FILE


@contextmanager
def exclusive_transaction(connection: StateConnection, name: str) -> Iterator[None]:
    """A write transaction that two processes running it under the same ``name`` run one after the other, from
    their first read on: SQLite's ``BEGIN IMMEDIATE`` (the database's write lock), PostgreSQL's advisory
    lock for ``name`` held to the commit. Committed at the end, rolled back on an exception."""
    if isinstance(connection, sqlite3.Connection):
        connection.execute("BEGIN IMMEDIATE")
    else:
        from search.state.postgres import PostgresState

        assert isinstance(connection, PostgresState)
        connection.lock(lock_key(name))
    try:
        yield
    except BaseException:
        connection.rollback()
        raise
    connection.commit()


def lock_key(name: str) -> int:
    """The advisory lock key (a 32-bit number) of ``name``."""
    return zlib.crc32(f"newsdesk:{name}".encode())
