"""Search parameters: how a URL becomes a ``SearchQuery``, and the one table of them.

Below every blueprint that searches (web/results.py, web/exports.py,
web/timeline.py, web/compare.py) and web/openapi.py, which describes the
same table: ``SEARCH_PARAMETERS`` is read by ``parse_request`` and written
out by /api/openapi.json, so the description cannot drift from the parsing.
``changed_url`` is the results page's URL with some parameters changed, for
links that narrow or widen a search.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import request, url_for
from werkzeug.datastructures import MultiDict

from search.query import make_query
from search.query.parse import (
    CERTAINTY,
    COLLAPSE,
    COUNTS,
    DATED,
    DATES_HINT,
    MAX_FACET_LIMIT,
    MAX_PAGE,
    MAX_PER_PAGE,
    RANGES,
    SORTS,
)
from search.records import SearchQuery
from web.readers import get_settings


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
    Parameter("page", "integer", f"The page of results by number, up to page {MAX_PAGE}; past it, follow `next`.",
              minimum=1, maximum=MAX_PAGE, default=1),
    Parameter("after", "string", "A cursor: the `next` of the page before (its page number comes with it). The page "
              "lists the results after the last one that page showed, wherever it now stands: articles added "
              "meanwhile neither repeat a result nor hide one, and paging goes on past the numbered pages. Refused "
              "(400) with another search's query, filters, dates or order."),
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
    Parameter("collapse", "string", "`story`: the copies of one text (a syndicated story) as one hit, its first in "
              "the order asked for, paged by stories; `none`: every article (the API's default; the results page "
              "groups copies unless told `none`). Exports, the timeline and Atom list every article.",
              enum=COLLAPSE),
    Parameter("count", "string", "What `total`, the facet counts and `undated` count: `articles`, or `stories` (the "
              "copies of one text count once). Absent: stories with `collapse=story`, else articles (the results "
              "page counts articles unless told). `counted` says which; `articles` is always the articles matched.",
              enum=COUNTS),
)


def read_parameter(args: MultiDict[str, str], parameter: Parameter) -> str | list[str] | None:
    """A parameter's value as the URL gives it: every value of a repeatable one, else the first (its default
    when absent, as text, the form every value arrives in)."""
    if parameter.repeatable:
        return args.getlist(parameter.name)
    return args.get(parameter.name, None if parameter.default is None else str(parameter.default))


def parse_request(args: MultiDict[str, str] | None = None, defaults: Mapping[str, str] | None = None) -> SearchQuery:
    """The ``SearchQuery`` a URL asks for (raises ``QueryError`` → 400): ``SEARCH_PARAMETERS`` read from
    ``args`` (the request's own when not given), ``defaults`` (by URL name) standing in for what is absent."""
    given = request.args if args is None else args
    if defaults:
        given = MultiDict([*given.items(multi=True), *((name, v) for name, v in defaults.items() if name not in given)])
    values = {parameter.keyword: read_parameter(given, parameter) for parameter in SEARCH_PARAMETERS}
    return make_query(**values, settings=get_settings())  # type: ignore[arg-type]  # each keyword's own type




def changed_url(changes: Mapping[str, object], anchor: str | None = None) -> str:
    """This page's URL with ``changes`` made (None removes a parameter), at ``anchor`` when given."""
    args = request.args.to_dict(flat=False)
    args.pop("page", None)  # a changed search starts at page 1 unless told
    args.pop("after", None)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value if isinstance(value, list) else [str(value)]
    return url_for("results.index", _anchor=anchor, **args)  # type: ignore[arg-type]  # lists: repeated params


