"""``/compare``: up to five searches side by side, on one chart and in one table, shareable by URL.

``/compare?q=Kosovo&q=Lavrov`` compares queries; ``/compare?q=Kosovo&outlet=A&outlet=B``
(one query, several outlets) compares that query across those outlets. Every
other parameter of the results page (facet filters, the date filter) applies
to each item alike, and ``interval`` to the chart (the timeline's own rule
when not given). Each item shows its total and its top actors, its
timeline, all on the same buckets (``search.query.timeline.side_by_side``),
and ``/compare.csv`` gives the table. Drawn by templates/compare.html with the
results page's chart (templates/_timeline.html): no JavaScript.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial

from flask import Blueprint, Response, render_template, request, url_for

from search.errors import QueryError
from search.query.timeline import Series, Timeline
from search.records import FacetValue, SearchQuery
from web.chart import draw
from web.params import parse_request
from web.readers import get_reader
from web.timeline import options

bp = Blueprint("compare", __name__)

#: Most searches compared at once (the issue's five: beyond, a chart of panels stops being a comparison).
MAX_ITEMS = 5
#: Actors listed per item.
TOP_ACTORS = 5


@dataclass(frozen=True)
class Item:
    label: str  # "Kosovo", or "Kosovo in Sputnik"
    query: SearchQuery
    total: int  # as its results page counts it (under the date filter, if any)
    actors: tuple[FacetValue, ...]  # its top actors, with their counts

    @property
    def href(self) -> str:
        """Its results page: the same query, facet filters and date filter, so the page counts ``total``."""
        return _results(self.query)


@bp.route("/compare")
def page() -> str:
    items, timelines = _compare()
    chart = None
    if items and timelines[0].starts:
        first = timelines[0]
        joined = Timeline(first.interval, first.starts, first.counts, 0, tuple(
            Series(item.label, found.counts, (0,) * len(found.counts)) for item, found in zip(items, timelines,
                                                                                              strict=True)))
        chart = draw(joined, "count", partial(_narrowed, items))
    return render_template("compare.html", items=items, timelines=timelines, chart=chart, timeline_links=[],
                           asked=request.args.getlist("q") or [""], max_items=MAX_ITEMS)


def _narrowed(items: list[Item], first: dt.date, last: dt.date, series: int | None) -> str:
    """The results page of the item a bar stands for, narrowed to the bar's days."""
    return _results(items[series or 0].query, (first, last))


def _results(query: SearchQuery, days: tuple[dt.date, dt.date] | None = None) -> str:
    """The results page of ``query`` with its facet and date filters; ``days``: narrowed to those (a preset or
    "dated" gives way to them)."""
    args: dict[str, object] = {name: list(values) for name, values in query.filters().items() if values}
    if days is None:
        args.update(query.dates())
    else:
        args.update({name: value for name, value in query.dates().items() if name not in ("range", "dated")})
        args.update({"from": days[0].isoformat(), "to": days[1].isoformat()})
    args["q"] = query.q or None
    return url_for("results.index", **{name: value for name, value in args.items() if value})  # type: ignore[arg-type]


@bp.route("/compare.csv")
def table() -> Response:
    items, timelines = _compare()
    response = Response(_rows(items, timelines), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="newsdesk-compare.csv"'
    return response


def _compare() -> tuple[list[Item], tuple[Timeline, ...]]:
    """The items asked for, each searched, and their timelines on common buckets."""
    # The shared filters, checked as on the results page; counted in articles, as the timelines beside them are.
    base = replace(parse_request(), collapse="", count="articles")
    chosen = options(request.args)
    queries = _queries(base)
    if not queries:
        return [], ()
    reader = get_reader()
    items = []
    for label, query in queries:
        found = reader.search(replace(query, per_page=1, page=1, after=""))
        items.append(Item(label, query, found.total, tuple(found.facets["actor"][:TOP_ACTORS])))
    return items, reader.side_by_side([query for _, query in queries], chosen.interval)


def _queries(base: SearchQuery) -> list[tuple[str, SearchQuery]]:
    """The searches to compare: each ``q`` given, or one ``q`` in each of the ``outlet`` filters given."""
    # The form sends all its boxes: the empty ones are no search (nor do they turn one search across outlets
    # into one search in any of them).
    asked = [q for q in (q.strip() for q in request.args.getlist("q")) if q]
    if len(asked) > MAX_ITEMS:
        raise QueryError(f"{len(asked)} searches to compare", hint=f"compare at most {MAX_ITEMS} at once")
    if len(asked) <= 1 and len(base.outlet) > 1:
        if len(base.outlet) > MAX_ITEMS:
            raise QueryError(f"{len(base.outlet)} outlets to compare", hint=f"compare at most {MAX_ITEMS} at once")
        q = asked[0] if asked else ""
        return [(f"{q or 'everything'} in {outlet}", replace(base, q=q, outlet=(outlet,))) for outlet in base.outlet]
    return [(q, replace(base, q=q)) for q in asked]


def _rows(items: list[Item], timelines: tuple[Timeline, ...]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["start", "end", *(item.label for item in items)])
    if timelines and timelines[0].starts:
        for i, start in enumerate(timelines[0].starts):
            writer.writerow([start.isoformat(), timelines[0].end(i).isoformat(), *(t.counts[i] for t in timelines)])
    writer.writerow(["undated", "", *(t.undated for t in timelines)])
    writer.writerow(["total", "", *(item.total for item in items)])
    yield out.getvalue()
