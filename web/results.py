"""Search results in every format: the HTML page, ``/api/search`` and Atom.

Each view is the same three steps — parse the request, ``query.search``,
render — and the formats differ only in the renderer picked from
``RENDERERS``. The front page (no query, no filter, page 1) also says what
the instance holds and how to add more (``query.overview``, rendered by
templates/_instance.html).
"""

from __future__ import annotations

import calendar
import datetime as dt
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from search.alerts import article_link
from search.query import Overview, make_query, overview, search
from search.query.parse import CERTAINTY, DATED, DATES_HINT, MAX_FACET_LIMIT, MAX_PAGE, MAX_PER_PAGE, RANGES, SORTS
from search.records import SearchPage, SearchQuery
from web.atom import as_uri, commit_time, entry_dates, feed_response, filters_text, moment, newest, public_url
from web.searcher import get_gazetteer, get_searcher, get_settings

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


@dataclass(frozen=True)
class Parameter:
    """One URL parameter as the code reads it and as /api/openapi.json describes it (web/openapi.py): the one
    definition both use, so the description cannot drift from the parsing."""

    name: str  # in the URL
    type: str  # its JSON Schema type: "string" or "integer"
    description: str
    argument: str = ""  # the keyword of ``make_query`` it is passed as; "" for the same as ``name``
    repeatable: bool = False  # read with ``getlist``: repeated for OR (``actor=Q1&actor=Q2``)
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    default: str | int | None = None  # what it is read as when absent; None: absent (the parser's own default)
    pattern: str | None = None  # a regular expression of what it takes, for the description only

    @property
    def keyword(self) -> str:
        return self.argument or self.name


_FACET_TEXT = "Only articles with this {} (repeat the parameter for OR; the facet's `value`, as the API lists it)."
#: The date filter's ``from``/``to``: a day, month or year, or a moment with a time (its offset, UTC if none).
DATE_PATTERN = r"^\s*(\d{4}(-\d{2}(-\d{2}([T ]\d{2}:\d{2}.*)?)?)?)?\s*$"

#: The search parameters, in the order the API documents them: what ``parse_request`` reads (each passed to
#: ``make_query`` as its ``keyword``) and what /api/openapi.json describes, for every route that searches.
SEARCH_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("q", "string", "The query, in Whoosh syntax (phrases, AND/OR/NOT, field:term, wildcards, "
              "published: dates); empty lists every article.", default=""),
    Parameter("outlet", "string", _FACET_TEXT.format("outlet"), repeatable=True),
    Parameter("actor", "string", _FACET_TEXT.format("actor (an actor id such as Q58217)"), repeatable=True),
    Parameter("year", "string", _FACET_TEXT.format("year (or `unknown` for undated)"), repeatable=True),
    Parameter("language", "string", _FACET_TEXT.format("language (an ISO 639-1 code or `unknown`)"),
              repeatable=True),
    Parameter("sort", "string", "Best matches first, or newest first (undated last).", enum=SORTS,
              default="relevance"),
    Parameter("page", "integer", f"The page of results. Deep paging stops at page {MAX_PAGE}: narrow the search "
              "(a date filter, a facet) to reach further.", minimum=1, maximum=MAX_PAGE, default=1),
    Parameter("per_page", "integer", "Hits per page (the instance's `per_page` setting when absent, 10 unless set).",
              minimum=1, maximum=MAX_PER_PAGE),
    Parameter("facet_limit", "integer", "Values listed per facet, largest counts first (a selected value always).",
              minimum=1, maximum=MAX_FACET_LIMIT, default=10),
    Parameter("from", "string", f"Published on or after (UTC unless an offset is given; inclusive): {DATES_HINT}.",
              argument="date_from", pattern=DATE_PATTERN),
    Parameter("to", "string", f"Published on or before (inclusive, a day or month to its end): {DATES_HINT}.",
              argument="date_to", pattern=DATE_PATTERN),
    Parameter("range", "string", "A preset counted back from the request's moment (`all`: no date filter).",
              argument="date_range", enum=(*RANGES, "all")),
    Parameter("dated", "string", "`yes`: dated articles only; `no`: undated only (with no other date parameter).",
              enum=DATED),
    Parameter("certainty", "string", "Only articles whose date is certain (stated by the outlet or the corpus), or "
              "only those whose date came from a weak signal.", enum=CERTAINTY),
)


def read_parameter(args: MultiDict[str, str], parameter: Parameter) -> str | list[str] | None:
    """A parameter's value as the URL gives it: every value of a repeatable one, else the first (its default
    when absent, as text, the form every value arrives in)."""
    if parameter.repeatable:
        return args.getlist(parameter.name)
    return args.get(parameter.name, None if parameter.default is None else str(parameter.default))


def parse_request(args: MultiDict[str, str] | None = None) -> SearchQuery:
    """The ``SearchQuery`` a URL asks for (raises ``QueryError`` → 400): ``SEARCH_PARAMETERS`` read from
    ``args`` (the request's own when not given)."""
    given = request.args if args is None else args
    values = {parameter.keyword: read_parameter(given, parameter) for parameter in SEARCH_PARAMETERS}
    return make_query(**values, settings=get_settings())  # type: ignore[arg-type]  # each keyword's own type


def _render_html(page: SearchPage) -> Response | str:
    from web.timeline import chart_for  # beside the results: its blueprint builds on this one's parsing

    drawn = chart_for(page.query)
    chart, links = drawn if drawn is not None else (None, [])
    return render_template("search.html", page=page, instance=_instance(page.query), chart=chart,
                           timeline_links=links)


def _instance(query: SearchQuery) -> Instance | None:
    """The front page's account of the instance; None on any other results page."""
    if query.q.strip() or any(query.filters().values()) or query.dates() or query.page > 1:
        return None
    settings = get_settings()
    about = overview(get_searcher(), settings)
    few = current_app.config.get("NEWSDESK_FEW_ARTICLES", FEW_ARTICLES)
    return Instance(about, index=shlex.quote(str(settings.index)), small=about.articles < few)


def _render_json(page: SearchPage) -> Response | str:
    return jsonify(page.as_json())


def _render_atom(page: SearchPage) -> Response | str:
    settings, searcher = get_settings(), get_searcher()
    args = list(request.args.items(multi=True))
    dates = entry_dates(settings, searcher, page.hits)
    committed = commit_time(settings, searcher)
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


def _respond(fmt: str) -> Response | str:
    page = search(get_searcher(), parse_request(), get_settings(), get_gazetteer())
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


def changed_url(changes: Mapping[str, object], anchor: str | None = None) -> str:
    """This page's URL with ``changes`` made (None removes a parameter), at ``anchor`` when given."""
    args = request.args.to_dict(flat=False)
    args.pop("page", None)  # a changed search starts at page 1 unless told
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value if isinstance(value, list) else [str(value)]
    return url_for("results.index", _anchor=anchor, **args)  # type: ignore[arg-type]  # lists: repeated params


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
    return [(name, value) for name, value in request.args.items(multi=True) if name not in names and name != "page"]


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
