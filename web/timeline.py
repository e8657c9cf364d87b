"""Attention over time: ``/api/timeline``, ``/timeline.csv``, and the chart on every results page.

The same search parameters as the results page (``web.params.parse_request``:
query, facet filters, date filter), plus the timeline's own, read and checked
here once (``options``):

* ``interval`` — ``day``, ``week``, ``month`` or ``year``; chosen from the
  matches' span when not given (at most 100 bars);
* ``split=outlet`` — one series per outlet (the ``top`` with most matches,
  default 5, at most 20; the rest as ``other``), each with its own output per
  bucket;
* ``measure=share`` — the chart draws each outlet's matches as a share of its
  own output (with ``split=outlet``); the API and CSV always carry both.

Buckets are UTC days, ISO weeks (from Monday), months and years; undated
matches are counted apart, in no bucket (search/query/timeline.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from flask import Blueprint, Response, jsonify, request, url_for
from werkzeug.datastructures import MultiDict

from search.errors import QueryError
from search.query import INTERVALS, Timeline
from search.records import SearchQuery
from web.chart import Chart, draw
from web.params import Parameter, changed_url, parse_request, read_parameter
from web.readers import get_reader

bp = Blueprint("timeline", __name__)

#: Most outlets drawn as series of their own.
MAX_TOP = 20
MEASURES = ("count", "share")


@dataclass(frozen=True)
class Options:
    interval: str | None  # None: chosen from the span
    split: bool  # one series per outlet
    top: int
    measure: str  # what the chart draws: "count" or "share"


#: The timeline's own parameters, beside the search's (``web.params.SEARCH_PARAMETERS``): what ``options``
#: reads and checks against, and what /api/openapi.json describes (web/openapi.py).
TIMELINE_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("interval", "string", "Count per UTC day, ISO week (from Monday), month or year; chosen from the "
              "matches' span when absent (at most 100 buckets).", enum=INTERVALS),
    Parameter("split", "string", "`outlet`: one series per outlet besides the totals (the `top` outlets with most "
              "matches, the rest as `other`).", enum=("outlet",), default=""),
    Parameter("top", "integer", "How many outlets get a series of their own with `split=outlet`.", minimum=1,
              maximum=MAX_TOP, default=5),
    Parameter("measure", "string", "What the page's chart draws per outlet (`share`: of the outlet's own output); "
              "the API always gives both.", enum=MEASURES, default="count"),
)
_PARAMETER = {parameter.name: parameter for parameter in TIMELINE_PARAMETERS}


def options(args: Mapping[str, str]) -> Options:
    """The timeline's parameters (``TIMELINE_PARAMETERS``), checked (``QueryError`` → 400 with a hint)."""
    given = args if isinstance(args, MultiDict) else MultiDict(args)
    value = {name: str(read_parameter(given, parameter) or "") for name, parameter in _PARAMETER.items()}
    interval = value["interval"] or None
    if interval is not None and interval not in _PARAMETER["interval"].enum:
        raise QueryError(f"unknown interval {interval!r}", hint=f"interval is one of {', '.join(INTERVALS)}")
    split = value["split"]
    if split not in ("", *_PARAMETER["split"].enum):
        raise QueryError(f"cannot split by {split!r}", hint="split=outlet gives one series per outlet")
    top = value["top"]
    if not top.isdigit() or not 1 <= int(top) <= MAX_TOP:
        raise QueryError(f"top={top!r} is not a number of outlets", hint=f"top is 1 to {MAX_TOP}")
    measure = value["measure"]
    if measure not in _PARAMETER["measure"].enum:
        raise QueryError(f"unknown measure {measure!r}", hint="measure is count or share (of each outlet's output)")
    return Options(interval, split == "outlet", int(top), measure)


def timeline_for(query: SearchQuery, chosen: Options) -> Timeline:
    return get_reader().timeline(query, chosen.interval, split=chosen.split, top=chosen.top)


def chart_for(query: SearchQuery) -> tuple[Chart, list[tuple[str, str, str | None]]] | None:
    """The results page's chart and its switches (label, URL; None for the one shown); None without dated
    matches. Bad timeline parameters are the page's 400, like its own."""
    chosen = options(request.args)
    found = timeline_for(query, chosen)
    if not found.starts:
        return None
    chart = draw(found, chosen.measure if chosen.split else "count", _narrowed)
    return chart, _switches(chosen, found.interval)


@bp.route("/api/timeline")
def api() -> Response:
    return jsonify(timeline_for(parse_request(), options(request.args)).as_json())


@bp.route("/timeline.csv")
def csv_export() -> Response:
    found = timeline_for(parse_request(), options(request.args))
    response = Response(_csv_rows(found), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="newsdesk-timeline.csv"'
    return response


@bp.app_template_global()
def timeline_csv_url(interval: str) -> str:
    """The chart's numbers as CSV: this page's search and timeline parameters, at the interval drawn (its
    paging and its grouping of copies have no part in a timeline)."""
    args = {key: values for key, values in request.args.to_dict(flat=False).items()
            if key not in ("page", "after", "per_page", "collapse", "count")}
    return url_for("timeline.csv_export", **{**args, "interval": [interval]})  # type: ignore[arg-type]


def _csv_rows(found: Timeline) -> Iterator[str]:
    """start, end, outlet ("" for all matches), count, output, share — the undated count as its own row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["start", "end", "outlet", "count", "output", "share"])
    for i, start in enumerate(found.starts):
        writer.writerow([start.isoformat(), found.end(i).isoformat(), "", found.counts[i], "", ""])
        for series in found.series:
            share = series.share(i)
            writer.writerow([start.isoformat(), found.end(i).isoformat(), series.outlet, series.counts[i],
                             series.output[i], "" if share is None else f"{share:.6f}"])
    writer.writerow(["undated", "", "", found.undated, "", ""])
    yield out.getvalue()


def _narrowed(first: dt.date, last: dt.date, series: int | None) -> str:
    """This page limited to ``first`` … ``last`` (a bucket): a preset or undated-only gives way. (A series' bar
    narrows the dates of all the page's matches alike: its outlet is one click away in the facets.)"""
    return changed_url({"from": first.isoformat(), "to": last.isoformat(), "range": None, "dated": None})


def _timeline_url(**changes: str | None) -> str:
    return changed_url(changes, anchor="timeline")


def _switches(chosen: Options, interval: str) -> list[tuple[str, str, str | None]]:
    links: list[tuple[str, str, str | None]] = [
        (f"interval-{name}", f"per {name}", None if name == interval else _timeline_url(interval=name))
        for name in INTERVALS
    ]
    links.append(("split-none", "all outlets together", _timeline_url(split=None, measure=None) if chosen.split else None))
    links.append(("split-outlet", "by outlet", None if chosen.split else _timeline_url(split="outlet")))
    if chosen.split:
        links.append(("measure-count", "articles", None if chosen.measure == "count" else _timeline_url(measure=None)))
        links.append(("measure-share", "share of each outlet's output",
                      None if chosen.measure == "share" else _timeline_url(measure="share")))
    return links
