"""Search results in the page's formats: the HTML page, ``/api/search`` and Atom.

Each view is the same three steps — parse the request (web/params.py),
``query.search``, render — and the formats differ only in the renderer
picked from ``RENDERERS``. The front page (no query, no filter, page 1) also
says what the instance holds and how to add more (``query.overview``,
rendered by templates/_instance.html). Every match as a file is
web/exports.py's.
"""

from __future__ import annotations

import calendar
import datetime as dt
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for

from search.alerts import article_link
from search.query import Overview
from search.query.parse import MAX_PAGE
from search.records import SearchPage, SearchQuery
from web.atom import as_uri, entry_dates, feed_response, filters_text, moment, newest, public_url
from web.params import changed_url, parse_request
from web.readers import get_gazetteer, get_reader, get_settings
from web.timeline import chart_for

bp = Blueprint("results", __name__)

#: Below this many articles the front page shows how to add more (the commands, open); from it on, the same
#: commands stay one click away, under a closed "Add more articles". A newcomer's instance (the five seed
#: articles) is far below it, an instance in daily use far above. The app setting ``NEWSDESK_FEW_ARTICLES``
#: overrides it.
FEW_ARTICLES = 1000


@dataclass(frozen=True)
class Instance:
    """What the front page says about the instance: its overview, and the ``--index`` its commands name."""

    overview: Overview
    index: str  # the instance directory as the server was given it, quoted for a shell
    small: bool  # under ``FEW_ARTICLES``: the commands shown open


def _render_html(page: SearchPage) -> Response | str:
    drawn = chart_for(page.query)
    chart, links = drawn if drawn is not None else (None, [])
    return render_template("search.html", page=page, instance=_instance(page.query), chart=chart,
                           timeline_links=links)


def _instance(query: SearchQuery) -> Instance | None:
    """The front page's account of the instance; None on any other results page."""
    if query.q.strip() or any(query.filters().values()) or query.dates() or query.page > 1:
        return None
    settings = get_settings()
    about = get_reader().overview()
    few = current_app.config.get("NEWSDESK_FEW_ARTICLES", FEW_ARTICLES)
    return Instance(about, index=shlex.quote(str(settings.index)), small=about.articles < few)


def _render_json(page: SearchPage) -> Response | str:
    return jsonify(page.as_json())


def _render_atom(page: SearchPage) -> Response | str:
    settings, reader = get_settings(), get_reader()
    args = list(request.args.items(multi=True))
    dates = entry_dates(settings, reader, page.hits)
    committed = reader.committed()
    body = render_template(
        "search.atom.xml", page=page, dates=dates, updated=newest(dates.values(), committed),
        title=filters_text(page.query, get_gazetteer()), self_url=public_url(settings, request.path, args),
        page_url=public_url(settings, url_for("results.index"), args),
        article_url=partial(article_link, settings), as_uri=as_uri,
    )
    return feed_response(body, committed)


RENDERERS: dict[str, Callable[[SearchPage], Response | str]] = {
    "html": _render_html,
    "json": _render_json,
    "atom": _render_atom,
}


#: What the HTML page reads where its URL says nothing, unlike the API and Atom: the copies of one story as one
#: result (``collapse=none`` lists every copy), counted as articles, as the API, the chart and the downloads count
#: (``count=stories`` counts each story once).
PAGE_DEFAULTS = {"html": {"collapse": "story", "count": "articles"}}


def _respond(fmt: str) -> Response | str:
    query = parse_request(defaults=PAGE_DEFAULTS.get(fmt))
    page = get_reader().search(query)
    return RENDERERS[fmt](page)


@bp.route("/")
def index() -> Response | str:
    return _respond("html")


@bp.route("/api/search")
def api_search() -> Response | str:
    return _respond("json")


@bp.route("/search.atom")
def atom() -> Response | str:
    return _respond("atom")


@bp.app_context_processor
def _facet_titles() -> dict[str, object]:
    return {"facet_titles": {"outlet": "Outlet", "actor": "Actor", "year": "Year", "language": "Language"}}


@bp.app_template_global()
def search_url(**changes: object) -> str:
    """This page's URL with some parameters replaced (None removes one)."""
    return changed_url(changes)


@bp.app_template_global()
def previous_url(page: SearchPage) -> str | None:
    """The page before this one by its number; None on the first page, and past the numbered pages (where
    paging goes on only forward, by cursor: the browser's Back returns)."""
    before = page.query.page - 1
    return search_url(page=before) if 1 <= before <= MAX_PAGE else None


@bp.app_template_global()
def toggle_url(facet: str, value: str) -> str:
    """The URL that adds ``value`` to a facet filter, or removes it if present."""
    values = request.args.getlist(facet)
    values = [v for v in values if v != value] if value in values else [*values, value]
    return changed_url({facet: values or None})


# --- the date filter on the page -------------------------------------------------------

#: The presets as the page offers them, "" being no date filter ("all time"); what each reaches back is
#: search.query.parse.RANGES.
DATE_PRESETS = {"24h": "Past 24 hours", "week": "Past week", "month": "Past month", "year": "Past year",
                "": "All time"}
DATE_TITLES = {"from": "From", "to": "To", "range": "Published", "dated": "Articles", "certainty": "Date"}
_DATE_VALUES = {
    "range": {value: label.lower() for value, label in DATE_PRESETS.items()},
    "dated": {"yes": "dated only", "no": "undated only"},
    "certainty": {"certain": "certain only", "uncertain": "uncertain only"},
}


@bp.app_template_global()
def date_label(name: str, value: str) -> str:
    """How a date parameter's value is shown in a chip: ``past week``, ``undated only``, a date as written."""
    return _DATE_VALUES.get(name, {}).get(value, value)


@bp.app_template_global()
def date_url(**changes: str | None) -> str:
    """This page with the date filter changed (``from_``, ``to``, ``range``, ``dated``, ``certainty``; None
    removes one). Dates, a preset or a certainty replace undated-only, and undated-only replaces them all."""
    named = {name.rstrip("_"): value for name, value in changes.items()}
    if any(named.get(name) for name in ("from", "to", "range", "certainty")) and request.args.get("dated") == "no":
        named.setdefault("dated", None)
    if named.get("dated") == "no":
        named.update({"from": None, "to": None, "range": None, "certainty": None})
    return search_url(**named)


@bp.app_template_global()
def kept_parameters(*names: str) -> list[tuple[str, str]]:
    """This page's parameters but ``names`` (and the page number), for the hidden fields of a form."""
    return [(name, value) for name, value in request.args.items(multi=True) if name not in (*names, "page", "after")]


@bp.app_template_global()
def date_input(text: str, end: bool = False) -> str:
    """A ``from``/``to`` value as an ``<input type=date>`` holds it: the same span's first (or last) day;
    empty for a moment, which a date field cannot show."""
    parts = text.split("-")
    if not text or "T" in text or not all(part.isdigit() for part in parts):
        return ""
    year = int(parts[0])
    month = int(parts[1]) if len(parts) > 1 else (12 if end else 1)
    day = int(parts[2]) if len(parts) > 2 else (calendar.monthrange(year, month)[1] if end else 1)
    return f"{year:04d}-{month:02d}-{day:02d}"


@bp.app_context_processor
def _date_choices() -> dict[str, object]:
    return {"date_presets": DATE_PRESETS, "date_titles": DATE_TITLES}


@bp.app_template_filter("atom_date")
def _atom_date(value: dt.date | dt.datetime) -> str:
    """An RFC 3339 date-time, as Atom's date constructs require (RFC 4287 §3.3)."""
    return moment(value).isoformat()


