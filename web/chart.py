"""The timeline drawn: bars of inline SVG, computed here, drawn by templates/_timeline.html.

Server-side, no JavaScript: each bar is a link that narrows the page's date
filter to its bucket. Readable without colour: one panel per series (small
multiples, each named in text) rather than coloured stacks, every bar with a
``<title>`` (its bucket and value, which screen readers and a hover read),
each panel with a ``<title>``/``<desc>``, and the same numbers as a table
beside it. Geometry only, in a fixed coordinate space (the SVG's viewBox);
the page scales it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from search.query.timeline import OTHER, Series, Timeline

#: The drawing's coordinate space (viewBox), and the room kept below the bars for the axis' dates.
WIDTH, HEIGHT, AXIS = 640.0, 120.0, 18.0
#: The gap between two bars, as a share of a bar's slot (none once bars are thinner than a pixel or two).
_GAP = 0.15
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # "March 2019: 12 articles" — the bar's <title>
    href: str  # this page narrowed to the bucket


@dataclass(frozen=True)
class Panel:
    title: str  # "All matching articles", or an outlet's name
    summary: str  # the <desc>: what the bars show, their range and peak
    bars: tuple[Bar, ...]
    first: str  # the first and last bucket, written under the axis
    last: str
    peak: str  # the top of the scale, written at the top left


@dataclass(frozen=True)
class Chart:
    interval: str
    measure: str  # "count" or "share"
    panels: tuple[Panel, ...]
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # the table: a bucket's label, then one cell per panel
    undated: int


def draw(timeline: Timeline, measure: str, narrowed: Callable[[dt.date, dt.date, int | None], str]) -> Chart:
    """The chart of ``timeline``: one panel for all matches, or one per series when it has them.

    ``measure`` ``share`` draws each outlet's matches as a share of its own output per bucket (only with
    series); ``narrowed(first, last, series)`` is the URL of the results behind a bar: those days, of the
    series at that position (None for the one panel of all matches).
    """
    interval, starts = timeline.interval, timeline.starts
    labels = [bucket_label(start, interval) for start in starts]
    ends = [timeline.end(i) for i in range(len(starts))]
    if timeline.series:
        shares = measure == "share"
        values = [[(s.share(i) or 0.0) if shares else float(s.counts[i]) for i in range(len(starts))]
                  for s in timeline.series]
        top = max((v for row in values for v in row), default=0.0)
        panels = tuple(_panel(_series_title(s), values[n], labels, starts, ends,
                              partial(_of_series, narrowed, n), top, shares, interval)
                       for n, s in enumerate(timeline.series))
        cells = [[_value(values[n][i], shares) for n in range(len(values))] for i in range(len(starts))]
    else:
        counts = [float(count) for count in timeline.counts]
        panels = (_panel("All matching articles", counts, labels, starts, ends,
                         partial(_of_series, narrowed, None), max(counts, default=0.0), False, interval),)
        cells = [[_value(count, False)] for count in counts]
        measure = "count"
    rows = tuple((label, tuple(row)) for label, row in zip(labels, cells, strict=True))
    return Chart(interval, measure, panels, rows, timeline.undated)


def _of_series(narrowed: Callable[[dt.date, dt.date, int | None], str], series: int | None, first: dt.date,
               last: dt.date) -> str:
    return narrowed(first, last, series)


def bucket_label(start: dt.date, interval: str) -> str:
    if interval == "day":
        return f"{start.day} {_MONTHS[start.month - 1][:3]} {start.year}"
    if interval == "week":
        return f"week of {start.day} {_MONTHS[start.month - 1][:3]} {start.year}"
    if interval == "month":
        return f"{_MONTHS[start.month - 1]} {start.year}"
    return str(start.year)


def _panel(
    title: str, values: list[float], labels: list[str], starts: tuple[dt.date, ...], ends: list[dt.date],
    narrowed: Callable[[dt.date, dt.date], str], top: float, shares: bool, interval: str,
) -> Panel:
    slot = WIDTH / max(len(values), 1)
    gap = slot * _GAP if slot > 4 else 0.0
    room = HEIGHT - AXIS
    bars = []
    for i, value in enumerate(values):
        height = room * value / top if top else 0.0
        bars.append(Bar(
            x=round(i * slot + gap / 2, 2), y=round(room - height, 2), width=round(slot - gap, 2),
            height=round(height, 2), label=f"{labels[i]}: {_value(value, shares)}",
            href=narrowed(starts[i], ends[i]),
        ))
    peak_at = max(range(len(values)), key=lambda i: values[i]) if values else None
    what = "share of the outlet's articles that match" if shares else "matching articles"
    summary = (f"{what.capitalize()} per {interval}, {labels[0]} to {labels[-1]}; highest: "
               f"{_value(values[peak_at], shares)} in {labels[peak_at]}." if peak_at is not None else "No articles.")
    return Panel(title, summary, tuple(bars), labels[0] if labels else "", labels[-1] if labels else "",
                 _value(top, shares))


def _series_title(series: Series) -> str:
    return f"{series.outlet} ({series.total:,} matching)" if series.outlet != OTHER else \
        f"Other outlets ({series.total:,} matching)"


def _value(value: float, shares: bool) -> str:
    if shares:
        return f"{value:.1%}"
    count = int(value)
    return f"{count:,} article{'' if count == 1 else 's'}"
