"""Attention over time: how many matching articles were published per day, week, month or year.

Part of the query side, beside the facets: it counts from the same arrays
(search/query/columns.py) — each document's ``date_key`` (its publication
moment in UTC, 0 when undated) and outlet code — over the documents a search
matches, given as per-segment masks. Nothing is read per document.

* **Buckets** start on a UTC day: the day, the ISO week's Monday, the
  month's first day, the year's first day. Every bucket from the first
  matching article's to the last one's is listed, empty ones included, so a
  chart's bars stand where the time is.
* **The interval** is chosen from the span when not asked for
  (``choose_interval``): at most ``MAX_BARS`` bars where a finer one allows.
* **Undated** articles are not a bucket: they are counted apart.
* **Split by outlet**: the ``top`` outlets with most matching articles,
  each a series, the rest summed as one ``other`` series; each series also
  carries the outlet's own output per bucket (every dated article of it,
  matching or not, in the searched index), so a reader can see the share of
  its output a subject took — the normalised attention Media Cloud reports —
  not only raw counts, which follow how much an outlet publishes at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from whoosh.searching import Searcher

from search.errors import QueryError
from search.query.columns import IndexColumns, Mask
from search.query.parse import Deadline
from search.query.selection import select  # the query stage's one account of what a request selects
from search.records import SearchQuery
from search.settings import Settings

#: The intervals a timeline can count by, finest first.
INTERVALS = ("day", "week", "month", "year")
#: A chart of more bars than this is chosen a coarser interval when none is asked for.
MAX_BARS = 100
#: Most buckets one timeline may have (a day interval over 50 years): beyond, a coarser interval is asked for.
MAX_BUCKETS = 20_000
#: The series name of the outlets beyond the top ones.
OTHER = "other"
#: ``date_key`` (YYYYMMDDhhmmss) divided by this is the day, YYYYMMDD.
_DAY = 1_000_000
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Series:
    """One outlet's (or the other outlets') matching articles per bucket, and its whole output per bucket."""

    outlet: str
    counts: tuple[int, ...]
    output: tuple[int, ...]  # every dated article of the outlet(s) in the bucket, matching or not

    @property
    def total(self) -> int:
        return sum(self.counts)

    def share(self, bucket: int) -> float | None:
        """The share of the outlet's output in the bucket that matched; None when it published nothing then."""
        return self.counts[bucket] / self.output[bucket] if self.output[bucket] else None


@dataclass(frozen=True)
class Timeline:
    interval: str
    starts: tuple[dt.date, ...]  # each bucket's first day (UTC)
    counts: tuple[int, ...]  # matching dated articles per bucket
    undated: int  # matching articles without a date: in no bucket
    series: tuple[Series, ...] = ()  # by outlet, when asked for

    def end(self, bucket: int) -> dt.date:
        """The bucket's last day."""
        return _next(self.starts[bucket], self.interval) - dt.timedelta(days=1)

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "interval": self.interval,
            "buckets": [{"start": start.isoformat(), "count": count} for start, count in zip(self.starts, self.counts,
                                                                                               strict=True)],
            "undated": self.undated,
        }
        if self.series:
            found["series"] = [
                {"outlet": series.outlet, "total": series.total,
                 "buckets": [{"start": start.isoformat(), "count": series.counts[i], "output": series.output[i],
                              "share": series.share(i)} for i, start in enumerate(self.starts)]}
                for series in self.series
            ]
        return found


def choose_interval(first: dt.date, last: dt.date) -> str:
    """The finest interval that draws ``first`` to ``last`` in at most ``MAX_BARS`` bars."""
    days = (last - first).days
    for interval, length in (("day", 1), ("week", 7), ("month", 31)):
        # A cheap bound first, so a long span never builds a long list just to be measured.
        if days // length < MAX_BARS and len(_starts(_start(first, interval), _start(last, interval),
                                                     interval)) <= MAX_BARS:
            return interval
    return "year"


def timeline_of(searcher: Searcher, request: SearchQuery, settings: Settings, interval: str | None = None, *,
                split: bool = False, top: int = 5) -> Timeline:
    """The timeline of what ``request`` selects (its query, date filter and facet filters, as the page lists)."""
    chosen = select(searcher, request, settings, Deadline(settings))
    return timeline(chosen.index, chosen.under_all, interval, split=split, top=top)


def timeline(
    index: IndexColumns, masks: Sequence[Mask], interval: str | None = None, *, split: bool = False, top: int = 5,
) -> Timeline:
    """Matching articles per bucket; ``masks``: per leaf of ``index``, the documents matched (live ones only)."""
    if interval is not None and interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}")
    days, outlets, undated = _matched(index, masks, by_outlet=split)
    if not len(days):
        return Timeline(interval or "month", (), (), undated)
    first, last = _date(int(days.min())), _date(int(days.max()))
    interval = interval or choose_interval(first, last)
    starts = _starts(_start(first, interval), _start(last, interval), interval)
    buckets = _bucket_of(days, starts, interval)
    counts = np.bincount(buckets, minlength=len(starts))
    series = _series(index, outlets, buckets, len(starts), starts, interval, top) if split else ()
    return Timeline(interval, tuple(starts), tuple(int(n) for n in counts), undated, series)


def side_by_side(index: IndexColumns, selections: Sequence[Sequence[Mask]], interval: str | None = None,
                 ) -> tuple[Timeline, ...]:
    """One timeline per selection, all on the same buckets: from the first matching day of any to the last of
    any, at ``interval`` or the one that span asks for (a comparison reads across, bucket by bucket)."""
    matched = [_matched(index, masks) for masks in selections]
    dated = [days for days, _, _ in matched if len(days)]
    if not dated:
        return tuple(Timeline(interval or "month", (), (), undated) for _, _, undated in matched)
    first = _date(int(min(int(days.min()) for days in dated)))
    last = _date(int(max(int(days.max()) for days in dated)))
    interval = interval or choose_interval(first, last)
    starts = _starts(_start(first, interval), _start(last, interval), interval)
    found = []
    for days, _, undated in matched:
        counts = np.bincount(_bucket_of(days, starts, interval), minlength=len(starts))
        found.append(Timeline(interval, tuple(starts), tuple(int(n) for n in counts), undated))
    return tuple(found)


# --- counting -----------------------------------------------------------------------


def _matched(index: IndexColumns, masks: Sequence[Mask], by_outlet: bool = False,
             ) -> tuple[NDArray[np.uint64], NDArray[np.int64], int]:
    """The matched documents' days (YYYYMMDD) and, ``by_outlet``, their outlet codes (the index's table; else
    none: only a split reads them), and how many are undated."""
    days, outlets, undated = [], [], 0
    for i, (leaf, mask) in enumerate(zip(index.leaves, masks, strict=True)):
        keys = leaf.columns.dates[mask]
        dated = keys > 0
        undated += int(np.count_nonzero(~dated))
        days.append(keys[dated] // _DAY)
        if by_outlet:  # the matched documents' codes, then translated: not every document's
            codes = leaf.columns.single["outlet"].codes[mask][dated]
            outlets.append(index.to_table["outlet"][i][codes].astype(np.int64))
    if not days:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64), undated
    return np.concatenate(days), np.concatenate(outlets) if by_outlet else np.zeros(0, dtype=np.int64), undated


def _series(
    index: IndexColumns, outlets: NDArray[np.int64], buckets: NDArray[np.int64], size: int,
    starts: list[dt.date], interval: str, top: int,
) -> tuple[Series, ...]:
    table = index.values["outlet"]
    totals = np.bincount(outlets, minlength=len(table))
    ranked = sorted((code for code in range(len(table)) if totals[code]), key=lambda code: (-totals[code], table[code]))
    shown = ranked[:top]
    row = np.full(len(table), len(shown), dtype=np.int64)  # every outlet not shown: the "other" row
    for position, code in enumerate(shown):
        row[code] = position
    rows = len(shown) + (1 if len(ranked) > top else 0)
    counts = np.bincount(row[outlets] * size + buckets, minlength=rows * size).reshape(rows, size)[:rows]
    output = _output(index, row, rows, starts, interval)
    names = [table[code] for code in shown] + ([OTHER] if rows > len(shown) else [])
    return tuple(Series(name, tuple(int(n) for n in counts[r]), tuple(int(n) for n in output[r]))
                 for r, name in enumerate(names))


def _output(index: IndexColumns, row: NDArray[np.int64], rows: int, starts: list[dt.date], interval: str,
            ) -> NDArray[np.int64]:
    """Per series row and bucket: every live dated article of its outlet(s), matching or not."""
    size = len(starts)
    first, after = _day_key(starts[0]), _day_key(_next(starts[-1], interval))
    output = np.zeros(rows * size, dtype=np.int64)
    for i, leaf in enumerate(index.leaves):
        days = leaf.columns.dates[leaf.live] // _DAY
        outlets = index.to_table["outlet"][i][leaf.columns.single["outlet"].codes][leaf.live].astype(np.int64)
        inside = (days >= first) & (days < after)
        rows_here = row[outlets[inside]]
        wanted = rows_here < rows
        buckets = _bucket_of(days[inside][wanted], starts, interval)
        output += np.bincount(rows_here[wanted] * size + buckets, minlength=rows * size)
    return output.reshape(rows, size)


def _bucket_of(days: NDArray[np.uint64], starts: list[dt.date], interval: str) -> NDArray[np.int64]:
    """Each day's bucket (its position in ``starts``, which lists every bucket from the first on), in integer
    arithmetic over the YYYYMMDD numbers: numpy's calendar conversions (datetime64 to months and years) and a
    search of the starts took 7 of the 9 ms the timeline of 105k articles cost, more than the search itself."""
    numbers = days.astype(np.int64)
    first = starts[0]
    if interval == "year":
        found: NDArray[np.int64] = numbers // 10_000 - first.year
        return found
    months = numbers // 100  # YYYYMM
    if interval == "month":
        return (months // 100 - first.year) * 12 + months % 100 - first.month
    # Days since the first bucket's first day; a week's first day is a Monday, so 7 of them are a week.
    found = _days_since_1970(months // 100, months % 100, numbers % 100) - (first - _EPOCH).days
    if interval == "week":
        found //= 7
    return found


def _days_since_1970(years: NDArray[np.int64], months: NDArray[np.int64], days: NDArray[np.int64],
                     ) -> NDArray[np.int64]:
    """Proleptic Gregorian days since 1970-01-01 (H. Hinnant's ``days_from_civil``): a year counted from March,
    so that the leap day falls last, in eras of 400 years."""
    years = years - (months <= 2)
    era = years // 400
    of_era = years - era * 400
    of_year = (153 * (months + np.where(months > 2, -3, 9)) + 2) // 5 + days - 1
    found: NDArray[np.int64] = era * 146_097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719_468
    return found


# --- calendar --------------------------------------------------------------------------


def _date(day: int) -> dt.date:
    return dt.date(day // 10_000, day // 100 % 100, day % 100)


def _day_key(day: dt.date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def _start(day: dt.date, interval: str) -> dt.date:
    if interval == "day":
        return day
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())  # ISO weeks begin on Monday
    if interval == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _next(start: dt.date, interval: str) -> dt.date:
    if interval == "day":
        return start + dt.timedelta(days=1)
    if interval == "week":
        return start + dt.timedelta(days=7)
    if interval == "month":
        return dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return dt.date(start.year + 1, 1, 1)


def _starts(first: dt.date, last: dt.date, interval: str) -> list[dt.date]:
    starts = [first]
    while starts[-1] < last:
        if len(starts) >= MAX_BUCKETS:
            raise QueryError(f"the matching articles span {first} to {last}: too many {interval}s to count",
                             hint="choose a coarser interval (week, month or year) or a narrower date range")
        starts.append(_next(starts[-1], interval))
    return starts
