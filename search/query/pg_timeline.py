"""The PostgreSQL backend's timeline: what a request selects counted per day, week, month or year, in SQL.

Part of the query stage, for the PostgreSQL backend (issue 19), below the
reader's facade (search/query/pg_reader.py); the embedded backend's
counterpart is search/query/timeline.py, whose record (``Timeline``,
``Series``) and rules this keeps:

* buckets start on a UTC day — the day, the ISO week's Monday, the month's
  or the year's first day: ``date_trunc`` of the stored moment, which is
  naive UTC (PostgreSQL's weeks begin on Monday, as ISO's do); every bucket
  from the first matching article's to the last one's is listed, empty ones
  included (``generate_series``), at most ``MAX_BUCKETS`` of them;
* the interval, when not asked for, is chosen from the span
  (``choose_interval``); undated matches are counted apart;
* split by outlet: the ``top`` outlets with most matches (ties by name, in
  Python's order of text, as the embedded backend sorts them), the rest as
  one ``other`` series, each with its whole output per bucket (every dated
  article of the outlet, matching or not).

Rows come back per bucket (and outlet), never per article.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from psycopg import sql

from search.errors import QueryError
from search.query.pg_counts import int_of
from search.query.pg_plan import Plan, Run
from search.query.timeline import INTERVALS, MAX_BUCKETS, OTHER, Series, Timeline, choose_interval
from search.query.tsquery import PUBLISHED

_PUBLISHED = sql.Identifier(PUBLISHED)
#: Each interval as PostgreSQL's ``date_trunc`` field and ``generate_series`` step.
_STEP = {"day": "1 day", "week": "1 week", "month": "1 month", "year": "1 year"}


def timeline(run: Run, plan: Plan, interval: str | None = None, *, split: bool = False, top: int = 5) -> Timeline:
    """The matches of ``plan`` (its query, dates and facet filters) per bucket."""
    _check(interval)
    first, last, undated = _span(run, plan)
    if first is None or last is None:
        return Timeline(interval or "month", (), (), undated)
    interval = interval or choose_interval(first, last)
    starts = _starts(run, first, last, interval)
    counts = _counted(run, plan, interval, starts)
    series = _series(run, plan, interval, starts, top) if split else ()
    return Timeline(interval, starts, counts, undated, series)


def side_by_side(run: Run, plans: Sequence[Plan], interval: str | None = None) -> tuple[Timeline, ...]:
    """One timeline per plan, all on the same buckets: from the first matching day of any to the last of any."""
    _check(interval)
    spans = [_span(run, plan) for plan in plans]
    firsts = [first for first, _, _ in spans if first is not None]
    lasts = [last for _, last, _ in spans if last is not None]
    if not firsts:
        return tuple(Timeline(interval or "month", (), (), undated) for _, _, undated in spans)
    chosen = interval or choose_interval(min(firsts), max(lasts))
    starts = _starts(run, min(firsts), max(lasts), chosen)
    return tuple(Timeline(chosen, starts, _counted(run, plan, chosen, starts), undated)
                 for plan, (_, _, undated) in zip(plans, spans, strict=True))


def _check(interval: str | None) -> None:
    if interval is not None and interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}")


def _span(run: Run, plan: Plan) -> tuple[dt.date | None, dt.date | None, int]:
    """The first and last matching day (UTC) and the undated matches, in one statement."""
    where = plan.where()
    (first, last, undated), = run(sql.SQL("SELECT min({p})::date, max({p})::date, count(*) FILTER (WHERE {p} IS NULL) "
                                          "FROM articles WHERE {}").format(where.where, p=_PUBLISHED), where.params)
    return first, last, int_of(undated)


def _starts(run: Run, first: dt.date, last: dt.date, interval: str) -> tuple[dt.date, ...]:
    """Every bucket's first day from ``first``'s bucket to ``last``'s (``QueryError`` beyond ``MAX_BUCKETS``)."""
    rows = run(sql.SQL("SELECT generate_series(date_trunc(%s, %s::timestamp), date_trunc(%s, %s::timestamp), "
                       "%s::interval)::date LIMIT %s"),
               (interval, first, interval, last, _STEP[interval], MAX_BUCKETS + 1))
    if len(rows) > MAX_BUCKETS:
        raise QueryError(f"the matching articles span {rows[0][0]} to {_truncated(last, interval)}: too many "
                         f"{interval}s to count",
                         hint="choose a coarser interval (week, month or year) or a narrower date range")
    return tuple(row[0] for row in rows)


def _truncated(day: dt.date, interval: str) -> dt.date:
    """``day``'s bucket's first day (as ``date_trunc`` gives it), for the message."""
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1) if interval == "year" else day


def _bucket(interval: str) -> sql.Composable:
    return sql.SQL("date_trunc({}, {})::date").format(sql.Literal(interval), _PUBLISHED)


def _counted(run: Run, plan: Plan, interval: str, starts: tuple[dt.date, ...]) -> tuple[int, ...]:
    """The dated matches per bucket, grouped in SQL."""
    where = plan.where()
    rows = run(sql.SQL("SELECT {bucket}, count(*) FROM articles WHERE {} AND {p} IS NOT NULL GROUP BY 1").format(
        where.where, bucket=_bucket(interval), p=_PUBLISHED), where.params)
    found = {day: int_of(n) for day, n in rows}
    return tuple(found.get(start, 0) for start in starts)


def _series(run: Run, plan: Plan, interval: str, starts: tuple[dt.date, ...], top: int) -> tuple[Series, ...]:
    """The ``top`` outlets' matches and output per bucket, and the other outlets' together."""
    where = plan.where()
    matched: dict[str, dict[dt.date, int]] = {}
    for outlet, day, n in run(sql.SQL("SELECT outlet, {bucket}, count(*) FROM articles WHERE {} AND {p} IS NOT NULL "
                                      "GROUP BY 1, 2").format(where.where, bucket=_bucket(interval), p=_PUBLISHED),
                              where.params):
        matched.setdefault(str(outlet), {})[day] = int_of(n)
    totals = {outlet: sum(days.values()) for outlet, days in matched.items()}
    ranked = sorted(totals, key=lambda outlet: (-totals[outlet], outlet))
    shown = ranked[:top]
    names = [*shown, *([OTHER] if len(ranked) > top else [])]
    row_of = {outlet: position for position, outlet in enumerate(shown)}
    # Every dated article of the span, matching or not, of the outlets shown and (when it is a series) the rest.
    output: dict[tuple[int, dt.date], int] = {}
    for outlet, day, n in run(sql.SQL("SELECT outlet, {bucket}, count(*) FROM articles WHERE {p} >= %s AND "
                                      "{p} < %s::timestamp + %s::interval GROUP BY 1, 2").format(
                                          bucket=_bucket(interval), p=_PUBLISHED),
                              (starts[0], starts[-1], _STEP[interval])):
        row = row_of.get(str(outlet), len(shown))
        if row < len(names):
            output[(row, day)] = output.get((row, day), 0) + int_of(n)
    counts: dict[tuple[int, dt.date], int] = {}
    for outlet, days in matched.items():
        row = row_of.get(outlet, len(shown))
        for day, n in days.items():
            counts[(row, day)] = counts.get((row, day), 0) + n
    return tuple(Series(name, tuple(counts.get((row, start), 0) for start in starts),
                        tuple(output.get((row, start), 0) for start in starts)) for row, name in enumerate(names))
