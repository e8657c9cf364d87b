"""PostgreSQL: the schema the PostgreSQL backend keeps an instance's articles in, and how it gets there.

Part of the index stage, for the PostgreSQL backend (issue 19), beside the
Whoosh index of search/index/store.py. The schema is numbered SQL files,
``migrations/NNNN_name.sql``, applied in order by ``migrate``; the runner
lives on the ground floor (search/database.py), since the state
(search/state) needs it too and sits below this stage. Its names are
re-exported here (``Connection``, ``Migration``, ``migrations``, ``migrate``).

Articles are partitioned by month of publication (0001_articles.sql):
``ensure_month`` makes a month's partition before its first article is
written, under a lock of its own, so concurrent writers never race to
create one. DDL takes no bound parameters: a partition's bounds are dates
quoted by the driver (``sql.Literal``), its name made from the date's digits.
"""

from __future__ import annotations

import datetime as dt
import zlib

from psycopg import sql

from search.database import Connection, Migration, migrate, migrations

__all__ = ["MONTH_VALUE", "Connection", "Migration", "ensure_month", "migrate", "migrations", "month_of", "months"]

#: How a row names its month: undated articles (``month_of`` None) are kept under 'infinity' (0001_articles.sql).
MONTH_VALUE = sql.SQL("COALESCE({}::date, 'infinity'::date)").format(sql.Placeholder())
#: The advisory lock's key when making a month's partition (one key per month).
_MONTH_LOCK = zlib.crc32(b"newsdesk:month")


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
