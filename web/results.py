"""Search results in every format: the HTML page, ``/api/search`` and Atom.

Each view is the same three steps — parse the request, ``query.search``,
render — and the formats differ only in the renderer picked from
``RENDERERS``. The front page (no query, no filter, page 1) also says what
the instance holds and how to add more (``query.overview``, rendered by
templates/_instance.html).

Downloads (``/search.csv``, ``/search.jsonl``) parse the same request and
write every match instead of a page (``query.export``), streamed a chunk of
rows at a time, by the writer picked from ``EXPORT_WRITERS``; with
``facet=NAME`` they write that facet's whole table (``FACET_WRITERS``).
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import json
import logging
import re
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from search.alerts import article_link
from search.enrich import Gazetteer
from search.errors import QueryError
from search.folding import fold
from search.index import open_index
from search.query import (
    EXPORT_COLUMNS,
    Export,
    ExportRow,
    Overview,
    export,
    facet_label,
    facet_table,
    make_query,
    overview,
    search,
)
from search.query.parse import CERTAINTY, DATED, DATES_HINT, MAX_FACET_LIMIT, MAX_PAGE, MAX_PER_PAGE, RANGES, SORTS
from search.records import FacetValue, SearchPage, SearchQuery
from web.atom import as_uri, commit_time, entry_dates, feed_response, filters_text, moment, newest, public_url
from web.searcher import get_gazetteer, get_searcher, get_settings

bp = Blueprint("results", __name__)
log = logging.getLogger(__name__)

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


# --- downloads: every match of a search, as a file ---------------------------------------------------------

#: text/csv as RFC 4180 registers it, with its charset parameter. JSON Lines has no registered media type:
#: application/x-ndjson is the one the NDJSON description names and streaming APIs (Elasticsearch's) use.
CSV_TYPE = "text/csv; charset=utf-8"
JSONL_TYPE = "application/x-ndjson"
#: A cell starting with one of these is a formula to a spreadsheet (Excel, LibreOffice, Google Sheets), or
#: may become one: OWASP's "CSV Injection" list (= + - @, tab, carriage return), the null ASVS 1.2.10 adds,
#: and, to be safe, the line feed and the full-width forms of the four operators.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: Rows written per chunk of the response: large enough that a chunk is a few kilobytes, not a row.
ROWS_PER_WRITE = 64


@bp.route("/search.csv")
def export_csv() -> Response:
    return _export("csv")


@bp.route("/search.jsonl")
def export_jsonl() -> Response:
    return _export("jsonl")


def _export(fmt: str) -> Response:
    """Every match of the page's search (its paging ignored), or with ``facet=NAME`` that facet's whole table.

    Everything that can refuse the request (its parameters, the query, the
    time limit) runs before the first byte, so a refusal is a 400 with a
    hint, as on the page. The rows are read from a searcher of the
    export's own: one snapshot of the index from the first row to the last,
    whatever is committed meanwhile, closed with the response.
    """
    query, settings, gazetteer = parse_request(), get_settings(), get_gazetteer()
    bom = _bom() if fmt == "csv" else False
    facet = request.args.get("facet")
    if facet is not None:
        table = facet_table(get_searcher(), query, settings, gazetteer, facet)
        return _download(FACET_WRITERS[fmt](table, bom), fmt, _filename(query, gazetteer, facet), len(table))
    searcher = open_index(settings).searcher()
    try:
        found = export(searcher, query, settings, gazetteer)
    except BaseException:
        searcher.close()
        raise
    response = _download(_logged(EXPORT_WRITERS[fmt](found, bom)), fmt, _filename(query, gazetteer), found.total)
    # Closed once, when the server closes the response: sent whole, cut short, never begun (HEAD), or failed.
    response.call_on_close(searcher.close)
    return response


def _bom() -> bool:
    """Whether the CSV starts with a byte order mark (``bom=1``, the default; ``bom=0`` leaves it out)."""
    value = request.args.get("bom", "1")
    if value not in ("0", "1"):
        raise QueryError(f"unknown bom={value!r}", hint="bom=1 (the default) starts the file with the byte order "
                         "mark Excel needs to read UTF-8; bom=0 leaves it out")
    return value == "1"


def _logged(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The response body, its failures logged.

    A failure after the first byte cannot change the status any more: it is
    logged and raised again, and the server then drops the connection
    without HTTP's closing chunk, so no client takes the cut file for a
    whole one (and ``X-Total-Count`` said how many rows to expect).
    """
    try:
        yield from chunks
    except Exception:
        log.exception("an export failed after its first bytes were sent")
        raise


def _download(body: Iterable[bytes], fmt: str, filename: str, rows: int) -> Response:
    response = Response(body, content_type=CSV_TYPE if fmt == "csv" else JSONL_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["X-Total-Count"] = str(rows)
    return response


def _filename(query: SearchQuery, gazetteer: Gazetteer, facet: str | None = None) -> str:
    """The file's name, after the query and its filters: ``newsdesk-kosovo-sergey-lavrov-from-2018``, ASCII only."""
    words = [query.q, *(facet_label(name, value, gazetteer) for name, values in query.filters().items()
                        for value in values), *(f"{name} {value}" for name, value in query.dates().items())]
    slug = re.sub(r"[^a-z0-9]+", "-", fold(" ".join(words))).strip("-")[:80].strip("-")
    return f"newsdesk-{slug or 'all-articles'}" + (f"-by-{facet}" if facet else "")


def _csv_export(found: Export, bom: bool) -> Iterator[bytes]:
    """RFC 4180: a header row, CRLF line ends, fields quoted only when they must be (quotes doubled)."""
    lines = _Lines(["\ufeff"] if bom else [])
    writer = csv.writer(lines, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield lines.drained()
    for n, row in enumerate(found.rows(), 1):
        writer.writerow(_csv_cells(row))
        if n % ROWS_PER_WRITE == 0:
            yield lines.drained()
    yield lines.drained()


def _csv_cells(row: ExportRow) -> list[str]:
    """A row's cells: lists joined by ``;``, nothing for what is unknown, formulas defused."""
    values = [";".join(value) if isinstance(value, tuple) else value for value in
              (getattr(row, name) for name in EXPORT_COLUMNS)]
    return [_cell("" if value is None else str(value)) for value in values]


def _cell(text: str) -> str:
    """A CSV cell no spreadsheet runs as a formula: one that starts like one gets a leading ``'``
    (OWASP's advice), which spreadsheets show as text and which is the only change ever made."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Lines(list[str]):
    """What a ``csv.writer`` writes, until it is sent: a list of lines, emptied as each chunk goes out."""

    def write(self, text: str) -> int:
        self.append(text)
        return len(text)

    def drained(self) -> bytes:
        data = "".join(self).encode("utf-8")
        self.clear()
        return data


def _jsonl_export(found: Export, bom: bool) -> Iterator[bytes]:
    """JSON Lines: one object per article, UTF-8, each ended by ``\\n``."""
    lines: list[str] = []
    for row in found.rows():
        lines.append(_json_line(row.as_json()))
        if len(lines) == ROWS_PER_WRITE:
            yield "".join(lines).encode("utf-8")
            lines.clear()
    yield "".join(lines).encode("utf-8")


def _json_line(value: dict[str, object]) -> str:
    # U+2028 and U+2029 are valid inside JSON strings, but line breaks to many line readers (str.splitlines,
    # JavaScript before ES2019): escaped, a line is a line whatever reads it.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


def _csv_facet(table: tuple[FacetValue, ...], bom: bool) -> Iterator[bytes]:
    lines = _Lines(["\ufeff"] if bom else [])
    writer = csv.writer(lines, lineterminator="\r\n")
    writer.writerow(("value", "label", "count"))
    writer.writerows((_cell(f.value), _cell(f.label), str(f.count)) for f in table)
    yield lines.drained()


def _jsonl_facet(table: tuple[FacetValue, ...], bom: bool) -> Iterator[bytes]:
    yield "".join(_json_line({"value": f.value, "label": f.label, "count": f.count}) for f in table).encode("utf-8")


EXPORT_WRITERS: dict[str, Callable[[Export, bool], Iterator[bytes]]] = {
    "csv": _csv_export,
    "jsonl": _jsonl_export,
}
FACET_WRITERS: dict[str, Callable[[tuple[FacetValue, ...], bool], Iterator[bytes]]] = {
    "csv": _csv_facet,
    "jsonl": _jsonl_facet,
}


@bp.app_template_global()
def export_url(fmt: str, **changes: str) -> str:
    """This search's download in ``fmt`` (``csv``, ``jsonl``): the page's parameters but its paging."""
    args = {key: values for key, values in request.args.to_dict(flat=False).items() if key not in _PAGING}
    args.update({key: [value] for key, value in changes.items()})
    return url_for(f"results.export_{fmt}", **args)  # type: ignore[arg-type]  # lists are repeated params


#: Parameters of a page that an export, which lists every match, has no use for.
_PAGING = ("page", "per_page")
