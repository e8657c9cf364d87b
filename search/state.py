"""State: the SQLite database in the instance directory (``state.sqlite``).

Beside the Whoosh index and the WARC archive, the third thing an instance
keeps: what the crawler knows (frontier, fetch log, per-host and per-source
health) and where the archive holds each document. Each stage owns its
tables and declares them with ``ensure_tables`` when it opens the database,
so a stage never depends on another stage's migrations.

WAL mode lets the web app read while a crawl writes; every write happens in
a transaction, so a process killed mid-crawl leaves the last committed state.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from search.settings import Settings

STATE_FILE = "state.sqlite"


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
        connection = sqlite3.connect(path, timeout=settings.write_timeout)
        connection.execute("PRAGMA journal_mode=WAL")
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


def ensure_tables(connection: sqlite3.Connection, ddl: str) -> None:
    """Create a stage's tables and indexes (``CREATE ... IF NOT EXISTS``)."""
    with connection:
        connection.executescript(ddl)


def state_path(settings: Settings) -> Path:
    return settings.index / STATE_FILE
