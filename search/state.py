"""State: the SQLite database in the instance directory (``state.sqlite``).

Beside the Whoosh index and the WARC archive, the third thing an instance
keeps: what the crawler knows (frontier, fetch log, per-host and per-source
health) and where the archive holds each document. Each stage owns its
tables and declares them with ``ensure_tables`` when it opens the database,
so a stage never depends on another stage's migrations.

WAL mode lets the web app read while a crawl writes; every write happens in
a transaction, so a process killed mid-crawl leaves the last committed state.

The database holds password hashes, sessions and e-mail addresses, so it is
its owner's alone (mode 0600, as the secret key is); SQLite gives its WAL and
shared-memory files the database file's mode.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from search.settings import Settings

STATE_FILE = "state.sqlite"
T = TypeVar("T")


def open_state(settings: Settings, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the instance's state database (created when missing).

    ``readonly`` opens without creating anything: for the web app, which only
    shows state and must not make an instance directory appear.
    """
    path = settings.index / STATE_FILE
    if readonly:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=settings.write_timeout)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        _owner_only(path)
        connection = sqlite3.connect(path, timeout=settings.write_timeout)
        connection.execute("PRAGMA journal_mode=WAL")
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


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


def ensure_tables(connection: sqlite3.Connection, ddl: str) -> None:
    """Create a stage's tables and indexes (``CREATE ... IF NOT EXISTS``)."""
    with connection:
        connection.executescript(ddl)


def read_state(settings: Settings, read: Callable[[sqlite3.Connection], T], empty: T) -> T:
    """``read`` on a read-only connection to the state; ``empty`` before the database, or the table it reads,
    exists (another stage made the database, or nothing was ever written there). Never creates anything."""
    if not state_path(settings).is_file():
        return empty
    connection = open_state(settings, readonly=True)
    try:
        return read(connection)
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return empty
        raise
    finally:
        connection.close()


def state_path(settings: Settings) -> Path:
    return settings.index / STATE_FILE
