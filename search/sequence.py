"""The ingest sequence: articles numbered in the order they first enter the index.

Beside the index stage. Alerts need "new since I last looked" to mean *new
to this instance*, not "published recently" (a publication date may be old,
wrong or missing) and not "written again" (an updated or re-ingested
article keeps its number). Each article id gets the next number of a counter
kept in ``state.sqlite`` when it is first indexed, and keeps it for good
(through updates, re-ingests, a takedown and a rebuilt index); the index
stores it as ``seq``.

Numbers are taken while the index's write lock is held and saved before the
index commit, so commits appear in number order and a number is never
reused: a process killed between the two loses numbers, never articles, and
whoever has seen number *n* has seen every committed article below it.

The moment a number is given is kept with it (``first_indexed``): the one
date of an undated article that never moves, which its Atom entries show
as ``<updated>`` (the index's ``indexed_at`` is rewritten by every update
and by a rebuilt index).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from search.settings import Settings
from search.state import ensure_tables, open_state, state_path

_DDL = """
CREATE TABLE IF NOT EXISTS ingest_sequence (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS article_numbers (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    indexed TEXT                  -- when the number was given (UTC, ISO 8601); NULL for numbers older than the column
);
"""


class Sequence:
    """The counter and the numbers given, read per batch and saved with ``save`` before the commit."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        row = connection.execute("SELECT value FROM ingest_sequence WHERE name = 'article'").fetchone()
        self.last = int(row["value"]) if row else 0
        self._known: dict[str, int] = {}
        self._new: list[tuple[str, int, str]] = []

    def expect(self, ids: Iterable[str]) -> None:
        """Look up the numbers of a batch's articles in one query."""
        wanted = sorted(set(ids) - self._known.keys())
        for start in range(0, len(wanted), 500):  # SQLite's limit on parameters
            chunk = wanted[start:start + 500]
            rows = self._connection.execute(
                f"SELECT id, seq FROM article_numbers WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            )
            self._known.update((row["id"], int(row["seq"])) for row in rows)

    def number(self, article_id: str) -> int:
        """The article's number: the one it was given when first indexed, else the next one."""
        if article_id not in self._known:
            self.expect([article_id])
        if article_id not in self._known:
            self.last += 1
            self._known[article_id] = self.last
            self._new.append((article_id, self.last, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
        return self._known[article_id]

    def save(self) -> None:
        with self._connection:
            self._connection.executemany("INSERT OR IGNORE INTO article_numbers (id, seq, indexed) VALUES (?, ?, ?)", self._new)
            self._connection.execute(
                "INSERT INTO ingest_sequence (name, value) VALUES ('article', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                (self.last,),
            )
        self._new.clear()


@contextmanager
def open_sequence(settings: Settings) -> Iterator[Sequence]:
    """The counter of this instance; use it only while holding the index's write lock."""
    connection = open_state(settings)
    try:
        _ensure(connection)
        yield Sequence(connection)
    finally:
        connection.close()


def last_number(settings: Settings) -> int:
    """The highest number given so far (0 on a new instance)."""
    with open_sequence(settings) as sequence:
        return sequence.last


def first_indexed(settings: Settings, ids: Iterable[str]) -> dict[str, dt.datetime]:
    """When each of these articles was first indexed (UTC); ids without a recorded moment are left out."""
    wanted = sorted(set(ids))
    found: dict[str, dt.datetime] = {}
    if not wanted or not state_path(settings).is_file():
        return found
    connection = open_state(settings, readonly=True)
    try:
        if "indexed" not in _columns(connection):  # an instance whose ingests predate the column
            return found
        for start in range(0, len(wanted), 500):  # SQLite's limit on parameters
            chunk = wanted[start:start + 500]
            rows = connection.execute(
                f"SELECT id, indexed FROM article_numbers WHERE indexed IS NOT NULL AND id IN "
                f"({', '.join('?' * len(chunk))})", chunk,
            )
            found.update((row["id"], dt.datetime.fromisoformat(row["indexed"])) for row in rows)
    except sqlite3.OperationalError:  # no table yet: nothing was ever numbered
        return {}
    finally:
        connection.close()
    return found


def _ensure(connection: sqlite3.Connection) -> None:
    ensure_tables(connection, _DDL)
    if "indexed" not in _columns(connection):  # made before the column existed
        with connection:
            connection.execute("ALTER TABLE article_numbers ADD COLUMN indexed TEXT")


def _columns(connection: sqlite3.Connection) -> set[str]:
    return {row["name"] for row in connection.execute("PRAGMA table_info(article_numbers)")}
