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

A number saved before the commit is *tentative* until the commit is done
(``confirm``). A tentative number of an article that never reached the index
(the process was killed in between) is not the article's: when the article
comes again it gets a fresh number, above what alerts have seen since, so it
is new exactly when it becomes searchable. (Kept, the old number would have
fallen below the watermark of alerts run meanwhile: never alerted.) For an
article in the index, the index's number is the article's.

The moment a number is given is kept with it (``first_indexed``): the one
date of an undated article that never moves, which its Atom entries show
as ``<updated>`` (the index's ``indexed_at`` is rewritten by every update
and by a rebuilt index).

**The postgres backend** numbers articles in PostgreSQL as it writes them
(search/index/pg_writer.py: the sequence ``article_seq``, each number kept
for good in ``article_numbers`` with the moment it was given, by
0002_writing.sql). There ``last_number`` and ``first_indexed`` read that
table, and ``open_sequence`` — the Whoosh writer's counter — is refused:
numbers given beside PostgreSQL's would be a second count.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from search.errors import IndexUnavailable
from search.settings import Settings
from search.state import StateConnection, ensure_tables, in_postgres, open_state, read_state, state_exists

_DDL = """
CREATE TABLE IF NOT EXISTS ingest_sequence (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS article_numbers (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    indexed TEXT,                 -- when the number was given (UTC, ISO 8601); NULL for numbers older than the column
    committed INTEGER NOT NULL DEFAULT 1  -- 0 from save() until the index commit is confirmed
);
"""


class Sequence:
    """The counter and the numbers given, read per batch and saved with ``save`` before the commit."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        row = connection.execute("SELECT value FROM ingest_sequence WHERE name = 'article'").fetchone()
        self.last = int(row["value"]) if row else 0
        self._known: dict[str, int] = {}  # committed numbers
        self._tentative: dict[str, int] = {}  # saved before a commit that may never have happened
        self._new: list[tuple[str, int, str]] = []
        self._saved: list[str] = []  # tentative until ``confirm``
        self._found: list[str] = []  # tentative, but the index holds them: their commit did happen

    def expect(self, ids: Iterable[str]) -> None:
        """Look up the numbers of a batch's articles in one query."""
        wanted = sorted(set(ids) - self._known.keys() - self._tentative.keys())
        for start in range(0, len(wanted), 500):  # SQLite's limit on parameters
            chunk = wanted[start:start + 500]
            rows = self._connection.execute(
                f"SELECT id, seq, committed FROM article_numbers WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            )
            for row in rows:
                (self._known if row["committed"] else self._tentative)[row["id"]] = int(row["seq"])

    def number(self, article_id: str, indexed: int | None = None) -> int:
        """The article's number: ``indexed``, the one the index holds for it; else the one it was given
        when first committed; else the next one."""
        if article_id not in self._known and article_id not in self._tentative:
            self.expect([article_id])
        if indexed is not None:
            if self._tentative.pop(article_id, None) == indexed:
                self._found.append(article_id)
                self._known[article_id] = indexed
            return indexed
        if article_id not in self._known:
            self._tentative.pop(article_id, None)  # never committed: not this article's number
            self.last += 1
            self._known[article_id] = self.last
            self._new.append((article_id, self.last, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
        return self._known[article_id]

    def save(self) -> None:
        """Save the batch's new numbers, tentatively, and the counter: before the index commit."""
        with self._connection:
            self._connection.executemany(
                "INSERT INTO article_numbers (id, seq, indexed, committed) VALUES (?, ?, ?, 0) ON CONFLICT (id) "
                "DO UPDATE SET seq = excluded.seq, indexed = excluded.indexed, committed = 0", self._new
            )
            self._connection.executemany("UPDATE article_numbers SET committed = 1 WHERE id = ?",
                                         [(article_id,) for article_id in self._found])
            self._connection.execute(
                "INSERT INTO ingest_sequence (name, value) VALUES ('article', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = CASE WHEN ingest_sequence.value > excluded.value "
                "THEN ingest_sequence.value ELSE excluded.value END",
                (self.last,),
            )
        self._saved = [article_id for article_id, _, _ in self._new]
        self._new.clear()
        self._found.clear()

    def confirm(self) -> None:
        """The index commit is done: the numbers ``save`` saved are the articles' for good."""
        with self._connection:
            self._connection.executemany("UPDATE article_numbers SET committed = 1 WHERE id = ?",
                                         [(article_id,) for article_id in self._saved])
        self._saved.clear()


@contextmanager
def open_sequence(settings: Settings) -> Iterator[Sequence]:
    """The counter of this instance; use it only while holding the index's write lock."""
    if in_postgres(settings):
        raise IndexUnavailable("the postgres backend numbers articles as it writes them, in PostgreSQL",
                               hint="write articles through the backend's writer (search/index/pg_writer.py)")
    connection = open_state(settings)
    assert isinstance(connection, sqlite3.Connection)
    try:
        _ensure(connection)
        yield Sequence(connection)
    finally:
        connection.close()


def last_number(settings: Settings) -> int:
    """The highest number given so far (0 on a new instance)."""
    if in_postgres(settings):  # the highest number an article has: a number drawn by a batch rolled back is lost
        return int(read_state(settings, lambda db: db.execute(
            "SELECT coalesce(max(seq), 0) FROM article_numbers").fetchone()[0], 0))
    with open_sequence(settings) as sequence:
        return sequence.last


def first_indexed(settings: Settings, ids: Iterable[str]) -> dict[str, dt.datetime]:
    """When each of these articles was first indexed (UTC); ids without a recorded moment are left out."""
    wanted = sorted(set(ids))
    found: dict[str, dt.datetime] = {}
    if not wanted or not state_exists(settings):
        return found
    connection = open_state(settings, readonly=True)
    try:
        if isinstance(connection, sqlite3.Connection) and "indexed" not in _columns(connection):
            return found  # an instance whose ingests predate the column
        for start in range(0, len(wanted), 500):  # SQLite's limit on parameters
            chunk = wanted[start:start + 500]
            rows = connection.execute(
                f"SELECT id, indexed FROM article_numbers WHERE indexed IS NOT NULL AND id IN "
                f"({', '.join('?' * len(chunk))})", chunk,
            )
            found.update((row["id"], moment(row["indexed"])) for row in rows)
    except sqlite3.OperationalError:  # no table yet: nothing was ever numbered
        return {}
    finally:
        connection.close()
    return found


def given_numbers(settings: Settings) -> list[tuple[str, int, dt.datetime | None]]:
    """Every number given for good (confirmed), as (id, number, when given): what an instance moved elsewhere
    keeps (search/migrate.py)."""
    if in_postgres(settings) or not state_exists(settings):
        return []  # PostgreSQL's numbers are where they would be copied to
    connection = open_state(settings, readonly=True)
    assert isinstance(connection, sqlite3.Connection)
    try:
        indexed = "indexed" if "indexed" in _columns(connection) else "NULL"
        rows = connection.execute(f"SELECT id, seq, {indexed} AS indexed FROM article_numbers WHERE committed = 1 "
                                  "ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # no table yet: nothing was ever numbered
        return []
    finally:
        connection.close()
    return [(row["id"], int(row["seq"]), dt.datetime.fromisoformat(row["indexed"]) if row["indexed"] else None)
            for row in rows]


def moment(value: str | dt.datetime) -> dt.datetime:
    """A number's moment as it is stored: ISO text in SQLite, ``timestamptz`` in PostgreSQL; UTC."""
    if isinstance(value, dt.datetime):  # to the second, as SQLite's are written
        return value.astimezone(dt.UTC).replace(microsecond=0)
    return dt.datetime.fromisoformat(value)


def _ensure(connection: StateConnection) -> None:
    ensure_tables(connection, _DDL, upgrade=_upgrade)


def _upgrade(connection: sqlite3.Connection) -> None:
    columns = _columns(connection)
    with connection:  # tables made before these columns existed
        if "indexed" not in columns:
            connection.execute("ALTER TABLE article_numbers ADD COLUMN indexed TEXT")
        if "committed" not in columns:  # numbers from before the rule: taken as committed
            connection.execute("ALTER TABLE article_numbers ADD COLUMN committed INTEGER NOT NULL DEFAULT 1")
        # For the sources page's coverage (search/query/coverage.py): when a number was given, and the first
        # number given since a moment, without a pass over every row (16 of its 22 ms at 105k articles).
        connection.execute("CREATE INDEX IF NOT EXISTS article_numbers_seq ON article_numbers (seq)")
        connection.execute("CREATE INDEX IF NOT EXISTS article_numbers_indexed ON article_numbers (indexed)")


def _columns(connection: sqlite3.Connection) -> set[str]:
    return {row["name"] for row in connection.execute("PRAGMA table_info(article_numbers)")}
