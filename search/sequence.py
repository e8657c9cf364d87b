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
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from search.settings import Settings
from search.state import ensure_tables, open_state

_DDL = """
CREATE TABLE IF NOT EXISTS ingest_sequence (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS article_numbers (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
"""


class Sequence:
    """The counter and the numbers given, read per batch and saved with ``save`` before the commit."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        row = connection.execute("SELECT value FROM ingest_sequence WHERE name = 'article'").fetchone()
        self.last = int(row["value"]) if row else 0
        self._known: dict[str, int] = {}
        self._new: list[tuple[str, int]] = []

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
            self._new.append((article_id, self.last))
        return self._known[article_id]

    def save(self) -> None:
        with self._connection:
            self._connection.executemany("INSERT OR IGNORE INTO article_numbers (id, seq) VALUES (?, ?)", self._new)
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
        ensure_tables(connection, _DDL)
        yield Sequence(connection)
    finally:
        connection.close()


def last_number(settings: Settings) -> int:
    """The highest number given so far (0 on a new instance)."""
    with open_sequence(settings) as sequence:
        return sequence.last
