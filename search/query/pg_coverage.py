"""The PostgreSQL backend's coverage: how well the database covers each outlet, for the sources page.

Part of the query stage, for the PostgreSQL backend (issue 19), below the
reader's facade (search/query/pg_reader.py); the embedded backend's
counterpart is search/query/coverage.py, whose record (``OutletCoverage``)
and rules this keeps, counted in one statement grouped by outlet:

* **no outlet** is the row ``unknown`` (the writer stores ``UNKNOWN``, as
  the index does); **no date** is a NULL moment; **no author** is an author
  with no term in the title-author-body vector (weight ``B``: an author
  holding no word, "—", counts as none, as the index's field length says);
  **unknown language** is ``unknown`` or empty;
* **when articles arrived** comes from their ingest numbers: the moment each
  number was given (``article_numbers.indexed``, 0002_writing.sql, which the
  PostgreSQL writer records in the database as the embedded one records it
  in the instance's SQLite state). An outlet's ``last_added`` is that moment
  for its highest number; ``added_recently`` counts its articles numbered at
  or above the lowest number given within the window (numbers are given in
  order). ``last_added`` is given to the second, as the embedded state keeps it.
"""

from __future__ import annotations

import datetime as dt

from psycopg import sql

from search.query.coverage import OutletCoverage
from search.query.pg_counts import int_of, utc_second
from search.query.pg_plan import Run
from search.query.tsquery import PUBLISHED
from search.records import UNKNOWN

_SECONDS_A_DAY = 86400.0
#: The language values that say "not known".
_NO_LANGUAGE = [UNKNOWN, ""]

_COVERAGE = sql.SQL("""
    WITH since AS (SELECT min(seq) AS seq FROM article_numbers WHERE indexed >= %(start)s),
    outlets AS (
        SELECT outlet, count(*) AS articles, count({published}) AS dated,
               count(*) FILTER (WHERE length(ts_filter(lexemes, '{{b}}')) > 0) AS authored,
               count(*) FILTER (WHERE language <> ALL(%(unknown)s)) AS languaged,
               max(seq) AS newest,
               count(*) FILTER (WHERE seq >= (SELECT seq FROM since)) AS recent
        FROM articles GROUP BY outlet)
    SELECT o.outlet, o.articles, o.dated, o.authored, o.languaged, n.indexed, o.recent
    FROM outlets o LEFT JOIN article_numbers n ON n.seq = o.newest""").format(published=sql.Identifier(PUBLISHED))


def outlet_coverage(run: Run, now: dt.datetime, window: dt.timedelta) -> list[OutletCoverage]:
    """Each outlet's coverage, sorted by name (case-folded, then as is); ``ValueError`` for a naive ``now`` or
    a window that is not positive, as the embedded backend."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if window <= dt.timedelta(0):
        raise ValueError(f"the window must be positive, not {window}")
    rows = run(_COVERAGE, {"start": now - window, "unknown": _NO_LANGUAGE})
    found = [OutletCoverage(outlet=str(outlet) or UNKNOWN, articles=int_of(articles), dated=int_of(dated),
                            authored=int_of(authored), languaged=int_of(languaged),
                            last_added=_moment(indexed), added_recently=int_of(recent),
                            window_days=window.total_seconds() / _SECONDS_A_DAY)
             for outlet, articles, dated, authored, languaged, indexed, recent in rows]
    return sorted(found, key=lambda row: (row.outlet.casefold(), row.outlet))


def _moment(indexed: object) -> dt.datetime | None:
    """A ``timestamptz`` as an aware UTC moment to the second."""
    if not isinstance(indexed, dt.datetime):
        return None
    return utc_second(indexed.astimezone(dt.UTC).replace(tzinfo=None))
