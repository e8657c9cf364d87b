"""State in PostgreSQL: a connection that answers as the stages' SQLite connections do.

Part of the state (search/state), for the ``postgres`` backend: the stages
keep their own SQL, written in what both engines run (``ON CONFLICT``,
``RETURNING``, ``CASE`` rather than SQLite's two-argument ``max``/``min``),
and talk to either engine through the same few calls: ``execute`` and
``executemany`` with ``?`` placeholders, rows read by name or by position,
``with connection:`` as a transaction, ``commit``, ``rollback``, ``close``.

What differs is kept here, in one place:

* **Placeholders.** ``?`` becomes psycopg's ``%s`` (and a literal ``%``
  ``%%``) outside quotes and comments; nothing else in a statement is touched.
* **Transactions** follow Python's sqlite3 (its default, "legacy" mode): a
  statement that writes (``INSERT``, ``UPDATE``, ``DELETE``) opens one when
  none is open, a ``with`` block opens one and commits it (or rolls it back
  on an exception), and reads outside one run on their own. The psycopg
  connection itself is in autocommit mode, so an idle connection never sits
  in an open transaction holding locks.
* **Errors** a stage tells apart arrive as sqlite3's classes: a constraint
  refusing a write as ``IntegrityError`` (a subclass of
  ``sqlite3.IntegrityError``), a table that is not there yet as
  ``MissingTable`` (of ``sqlite3.OperationalError``).

The tables themselves are made by the schema's migrations
(search/index/migrations/0004_state.sql), never by a stage's DDL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from types import TracebackType
from typing import Any, Literal, Self

import psycopg
from psycopg import pq

from search.database import connect

#: Statements that open a transaction when none is open, as Python's sqlite3 does.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class IntegrityError(sqlite3.IntegrityError):
    """A constraint refused a write (unique, foreign key, not null): PostgreSQL's error, as SQLite's class."""


class MissingTable(sqlite3.OperationalError):
    """The table (or column) a statement names is not there: a database nothing was written to yet."""


class PostgresRow:
    """A row readable by column name and by position, as ``sqlite3.Row`` is."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: tuple[Any, ...], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key] if isinstance(key, str) else key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __repr__(self) -> str:
        return f"PostgresRow({dict(zip(self._index, self._values, strict=False))!r})"


def _row_maker(cursor: Any) -> Callable[[Sequence[Any]], PostgresRow]:
    index: dict[str, int] = {}
    for position, column in enumerate(cursor.description or ()):
        index.setdefault(column.name, position)  # a name twice: the first, as sqlite3.Row finds it

    def make(values: Sequence[Any]) -> PostgresRow:
        return PostgresRow(tuple(values), index)

    return make


Cursor = psycopg.Cursor[PostgresRow]


class PostgresState:
    """One connection to the state in PostgreSQL, for one thread at a time (as a sqlite3 connection is)."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection
        connection.row_factory = _row_maker

    @property
    def in_transaction(self) -> bool:
        return self._connection.info.transaction_status != pq.TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        self._begin_for(sql)
        cursor: Cursor = self._connection.cursor()
        try:
            cursor.execute(placeholders(sql), tuple(parameters))
        except psycopg.Error as e:
            raise _translated(e) from e
        return cursor

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        self._begin_for(sql)
        cursor: Cursor = self._connection.cursor()
        try:
            cursor.executemany(placeholders(sql), [tuple(row) for row in parameters])
        except psycopg.Error as e:
            raise _translated(e) from e
        return cursor

    def lock(self, key: int) -> None:
        """Wait for the advisory lock ``key`` for the rest of the current transaction (one is opened if none is)."""
        self.begin()
        self.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    def begin(self) -> None:
        if not self.in_transaction:
            self._connection.execute("BEGIN")

    def commit(self) -> None:
        if self.in_transaction:
            self._connection.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self._connection.execute("ROLLBACK")

    def close(self) -> None:
        if not self._connection.closed:
            if not self._connection.broken:
                self.rollback()  # what a sqlite3 connection closed mid-transaction does too
            self._connection.close()

    def __enter__(self) -> Self:
        self.begin()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> Literal[False]:
        if kind is None:
            self.commit()
        elif not self._connection.broken:
            self.rollback()
        return False

    def _begin_for(self, sql: str) -> None:
        if not self.in_transaction and sql.lstrip().split(None, 1)[0].upper() in _WRITES:
            self.begin()


def open_postgres(url: str, readonly: bool = False) -> PostgresState:
    """A state connection to ``url``, its schema brought up to date first unless ``readonly``."""
    try:
        return PostgresState(connect(url, readonly=readonly))
    except psycopg.OperationalError as e:
        from search.errors import IndexUnavailable

        raise IndexUnavailable(f"cannot reach the PostgreSQL database of database_url ({e})".strip(),
                               hint="is the server running, and the URL right?") from e


@lru_cache(maxsize=2048)
def placeholders(sql: str) -> str:
    """``sql`` with each ``?`` outside quotes and comments as ``%s``, and each ``%`` as ``%%``."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":  # a literal or a quoted name, to its closing quote (a doubled quote stays inside)
            end = sql.find(c, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == c:
                end = sql.find(c, end + 2)
            end = n - 1 if end == -1 else end
            out.append(sql[i:end + 1].replace("%", "%%"))
            i = end + 1
        elif sql.startswith("--", i):  # a comment, to the end of its line
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        else:
            out.append("%s" if c == "?" else "%%" if c == "%" else c)
            i += 1
    return "".join(out)


def _translated(error: psycopg.Error) -> Exception:
    if isinstance(error, psycopg.IntegrityError):
        return IntegrityError(str(error))
    if isinstance(error, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
        return MissingTable(f"no such table: {error}")
    return error
