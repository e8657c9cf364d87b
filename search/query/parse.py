"""Parsing a query: loosely typed input to a ``SearchQuery`` (``make_query``)
and its text to a Whoosh query (``parse_query``), within one ``Deadline``.

The first half of the query stage (search/query/run.py runs what this parses;
later ``query/parse.py``). Query text uses Whoosh syntax (phrases,
AND/OR/NOT, ``field:term`` over the fields of ``search.index.schema.QUERY_FIELDS``,
wildcards over the unstemmed words, dates and date ranges read by
search/index/analysis.py) with AND between bare words.

Unusable input raises ``QueryError`` (HTTP 400) with a hint; nothing else
escapes the parser. Wildcards, prefixes, fuzzy terms and term ranges are
expanded here, under a cap on words and the search's ``Deadline``, so the
search itself never walks an unbounded list of words.

The date filter (``from``, ``to``, ``range``, ``dated``, ``certainty``) is
read and checked here too, by ``make_query``, and resolved to moments by
``date_filter``: dates are UTC, a day (month, year) means the whole of it, a
moment with an offset means that instant, and presets count back from the
request's ``now``, taken once.

Exports: ``make_query``, ``parse_query``, ``Deadline``, ``DateFilter`` and
``date_filter``, the bounds ``MAX_PER_PAGE``, ``MAX_FACET_LIMIT``,
``MAX_PAGE``, ``SORTS``, and the date filter's ``RANGES``, ``DATED``,
``CERTAINTY``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from whoosh import query as wq
from whoosh.fields import Schema
from whoosh.searching import SearchContext, Searcher

from search.errors import QueryError
from search.index import DATE_FIELD, DATE_HINT, QUERY_FIELDS, build_schema, query_parser
from search.query import cursor
from search.records import CERTAIN_DATE_SOURCES, SearchQuery
from search.settings import Settings

log = logging.getLogger(__name__)

MAX_PER_PAGE = 100
MAX_FACET_LIMIT = 1000
MAX_PAGE = 1000
SORTS = ("relevance", "date")
#: The date presets: how far back from the request's moment each reaches (no upper end: an article its
#: outlet dated a little ahead is still in). "all" is no date filter.
RANGES: dict[str, dt.timedelta] = {
    "24h": dt.timedelta(hours=24), "week": dt.timedelta(days=7), "month": dt.timedelta(days=30),
    "year": dt.timedelta(days=365),
}
DATED = ("yes", "no")
CERTAINTY = ("certain", "uncertain")
#: ``collapse``: one result per story (the copies of one text), or every article ("none", the API's default).
COLLAPSE = ("story", "none")
#: ``count``: what the total and the facets count (absent: stories with ``collapse=story``, else articles).
COUNTS = ("articles", "stories")


def make_query(
    q: str = "",
    outlet: Iterable[str] = (),
    actor: Iterable[str] = (),
    year: Iterable[str] = (),
    language: Iterable[str] = (),
    sort: str = "relevance",
    page: str | int | None = None,
    per_page: str | int | None = None,
    facet_limit: str | int | None = None,
    settings: Settings | None = None,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    date_range: str | None = None,
    dated: str | None = None,
    certainty: str | None = None,
    now: dt.datetime | None = None,
    collapse: str | None = None,
    count: str | None = None,
    after: str | None = None,
) -> SearchQuery:
    """Build a validated ``SearchQuery`` from loosely typed input (URL or CLI).

    The date filter's values are checked and normalised here and nowhere
    else (``QueryError`` with a hint, so a 400); ``now`` is the moment a
    preset counts back from, the request's own unless given. ``after`` is a
    cursor from the page before (search/query/cursor.py), checked to belong to
    this search.
    """
    if sort not in SORTS:
        raise QueryError(f"unknown sort {sort!r}", hint="use sort=relevance or sort=date")
    default_per_page = settings.per_page if settings else 10
    preset = _choice("range", date_range, ("all", *RANGES), "range=24h, week, month, year or all")
    preset = "" if preset == "all" else preset
    query = SearchQuery(
        q=(q or "").strip(),
        outlet=_values(outlet), actor=_values(actor), year=_values(year), language=_values(language),
        sort=sort,
        page=_page_number(page),
        per_page=_bounded_int("per_page", per_page, default_per_page, 1, MAX_PER_PAGE),
        facet_limit=_bounded_int("facet_limit", facet_limit, 10, 1, MAX_FACET_LIMIT),
        date_from=_date_text("from", date_from), date_to=_date_text("to", date_to), date_range=preset,
        dated=_choice("dated", dated, DATED, "dated=yes (dated articles only) or dated=no (undated only)"),
        certainty=_choice("certainty", certainty, CERTAINTY, "certainty=certain or certainty=uncertain"),
        now=_aware(now or dt.datetime.now(dt.UTC)) if preset else None,
        collapse=_collapse(collapse),
        count=_choice("count", count, COUNTS, "count=articles or count=stories (the copies of one text count once)")
        or ("stories" if _collapse(collapse) else "articles"),
    )
    _check_dates(query)
    if after:  # the page after a cursor's result: its number is the cursor's (past MAX_PAGE too)
        query = replace(query, page=cursor.decode(after, query).page, after=after)
    return query


# --- the date filter -----------------------------------------------------------

DATES_HINT = ("from and to take a day (2018-09-14; a month 2018-09 or a year 2018 also work), whole and in UTC, "
              "or a moment with its offset (2018-09-14T08:00:00+02:00)")
_DAY = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_LONGEST_DATE = 40  # "2018-09-14T08:00:00.000000+02:00" is 32


@dataclass(frozen=True)
class DateFilter:
    """A date filter resolved: its first and last moment (naive UTC, whole seconds; None: open), and which
    articles it takes. Every date filter but ``dated=no`` leaves undated articles out.

    Dates are compared to the second: the ``date_key`` column the index keeps
    per article is its moment in UTC to the second (search/index/document.py).
    """

    first: dt.datetime | None = None
    last: dt.datetime | None = None
    undated_only: bool = False
    certainty: str = ""  # "", "certain" or "uncertain"

    @property
    def first_key(self) -> int:
        """The smallest ``date_key`` taken (1: any date)."""
        return date_key(self.first) if self.first else 1

    @property
    def last_key(self) -> int | None:
        return date_key(self.last) if self.last else None

    def admits(self, moment: dt.datetime | None, source: str | None) -> bool:
        """Whether an article with this stored moment (naive UTC) and ``published_source`` passes."""
        if moment is None:
            return self.undated_only
        if self.undated_only:
            return False
        key = date_key(moment)
        if key < self.first_key or (self.last_key is not None and key > self.last_key):
            return False
        return not self.certainty or (source in CERTAIN_DATE_SOURCES) == (self.certainty == "certain")


def date_key(moment: dt.datetime) -> int:
    """A naive UTC moment as the index's ``date_key``: YYYYMMDDhhmmss as a number, to the second."""
    return (((moment.year * 100 + moment.month) * 100 + moment.day) * 100 + moment.hour) * 10_000 \
        + moment.minute * 100 + moment.second


def date_filter(query: SearchQuery) -> DateFilter | None:
    """The query's date filter resolved to moments (a preset counted back from ``query.now``), or None."""
    if query.dated == "no":
        return DateFilter(undated_only=True)
    if not (query.date_from or query.date_to or query.date_range or query.dated or query.certainty):
        return None
    first = last = None
    if query.date_range:
        now = _aware(query.now or dt.datetime.now(dt.UTC))
        first = _naive_utc(now - RANGES[query.date_range])
    if query.date_from:
        first = _moments(query.date_from)[0]
    if query.date_to:
        last = _moments(query.date_to)[1]
    return DateFilter(_second(first), _second(last), certainty=query.certainty)


def _check_dates(query: SearchQuery) -> None:
    if query.dated == "no" and (query.date_from or query.date_to or query.date_range or query.certainty):
        raise QueryError("dated=no lists undated articles, which no date range or certainty can take",
                         hint="leave out dated=no, or from, to, range and certainty")
    if query.date_from and query.date_to:
        first, last = _moments(query.date_from)[0], _moments(query.date_to)[1]
        if first.replace(microsecond=0) > last.replace(microsecond=0):  # compared to the second, as articles are
            raise QueryError(f"the dates run from {query.date_from} to {query.date_to}: they end before they start",
                             hint="put the earlier date in from")


def _date_text(name: str, value: str | None) -> str:
    """A ``from`` or ``to`` value checked and normalised: a day, month or year as written, a moment with its offset."""
    text = (value or "").strip()
    if not text:
        return ""
    if len(text) > _LONGEST_DATE:
        raise QueryError(f"{name}= is {len(text)} characters long, too long for a date", hint=DATES_HINT)
    if _DAY.fullmatch(text):
        _moments(text, name)  # a day that exists
        return text
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", text):
        raise QueryError(f"{name}={text!r} is not a date", hint=DATES_HINT)
    try:
        moment = dt.datetime.fromisoformat(text)
        _naive_utc(_aware(moment))  # a moment UTC can hold
    except (ValueError, OverflowError):
        raise QueryError(f"{name}={text!r} is not a date", hint=DATES_HINT) from None
    return _aware(moment).isoformat()


def _moments(text: str, name: str = "date") -> tuple[dt.datetime, dt.datetime]:
    """The first and last moment (naive UTC) a normalised ``from``/``to`` value stands for."""
    day = _DAY.fullmatch(text)
    if day is None:
        moment = _naive_utc(dt.datetime.fromisoformat(text))
        return moment, moment
    year, month, mday = int(day[1]), day[2], day[3]
    try:
        if month is None:
            first, last = dt.datetime(year, 1, 1), dt.datetime(year, 12, 31)
        elif mday is None:
            first = dt.datetime(year, int(month), 1)
            last = first.replace(day=calendar.monthrange(year, int(month))[1])
        else:
            first = last = dt.datetime(year, int(month), int(mday))
    except ValueError:
        raise QueryError(f"there is no date {text!r} ({name}=)", hint=DATES_HINT) from None
    return first, last.replace(hour=23, minute=59, second=59, microsecond=999999)


def _aware(moment: dt.datetime) -> dt.datetime:
    """A moment with its offset; one written without is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _second(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(microsecond=0) if moment else None


def _collapse(value: str | None) -> str:
    """``SearchQuery.collapse``: "story", or "" for every article (``none``, or nothing said)."""
    chosen = _choice("collapse", value, COLLAPSE, "collapse=story (the copies of one text as one result, "
                     "counted as stories) or collapse=none (every article)")
    return "" if chosen == "none" else chosen


def _choice(name: str, value: str | None, allowed: Iterable[str], hint: str) -> str:
    text = (value or "").strip()
    if text and text not in allowed:
        raise QueryError(f"unknown {name} {text!r}", hint=f"use {hint}")
    return text


def parse_query(text: str, searcher: Searcher, settings: Settings, deadline: Deadline | None = None) -> wq.Query:
    """Parse query text, or raise ``QueryError`` saying what to change.

    Wildcards are expanded here, within ``deadline`` (the search's time
    limit) and the ``max_wildcard_terms`` cap, so nothing a user types makes
    the search itself walk an unbounded list of words.
    """
    deadline = deadline or Deadline(settings)
    parsed = read_query(text, searcher.schema, settings)
    return parsed if isinstance(parsed, wq.Every) else _expanded(parsed, searcher, settings, deadline)


def read_query(text: str, schema: Schema, settings: Settings) -> wq.Query:
    """Query text as a Whoosh query tree over ``schema``, checked, its wildcards not yet expanded (``QueryError``
    saying what to change): what ``parse_query`` expands against an index's words, and what another backend
    compiles to its own form (search/query/tsquery.py)."""
    text = _lowercase_fields(text)
    if not text or text == "*":
        return wq.Every()  # "*" alone: every article, as the empty query lists them
    _check_syntax(text, settings)
    parsed = _parse(_comparisons_on_dates_only(text), schema)
    if parsed is wq.NullQuery:
        raise QueryError(f"nothing to search for in {text!r}", hint="type one or more words")
    _check_leaves(parsed)
    return parsed


def check_syntax(text: str, settings: Settings) -> None:
    """``QueryError`` for query text no index could run (its syntax, fields and dates); its wildcards are
    bounded only against an index's words (``Reader.check``)."""
    read_query(text, build_schema(), settings)


class Deadline:
    """The moment a search must be answered by (``search_time_limit`` after it started)."""

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.search_time_limit
        self.at = time.monotonic() + self.limit

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def check(self) -> None:
        if self.remaining() <= 0:
            raise self.error()

    def error(self) -> QueryError:
        return QueryError(f"the search took longer than {self.limit:g} s",
                          hint="use fewer wildcards or more specific words")


def _parse(text: str, schema: Schema) -> wq.Query:
    try:
        return query_parser(schema, QUERY_FIELDS).parse(text)
    except QueryError:
        raise
    except RecursionError:
        raise QueryError("the query is nested too deeply", hint="use fewer brackets") from None
    except Exception:
        # Whoosh's parser fails with IndexError and the like on some operator
        # sequences; the checks above catch the known ones with a better hint.
        log.warning("the query parser failed on %r", text, exc_info=True)
        raise QueryError("the query could not be read",
                         hint="check its operators, brackets and quotes; put punctuation in quotes") from None


# --- checks before and after parsing ---------------------------------------

_FIELD_PREFIX = re.compile(r"(?:^|[\s(])(\w+):(\S?)")
_OPERATOR_AT_EDGE = re.compile(r"^(AND|OR)\b|\b(AND|OR|NOT)$")
_OPERATORS = r"(?:AND|OR|NOT|ANDNOT|ANDMAYBE)"
# An operator right after another (NOT NOT a, a NOT OR b, a AND OR b: Whoosh fails on some and silently
# reads others as AND), except AND NOT and OR NOT; or an operator at a group's edge.
_OPERATOR_PAIR = re.compile(
    rf"(?<!\S)(?!(?:AND|OR)\s+NOT(?!\S)){_OPERATORS}\s+{_OPERATORS}(?!\S)"
    r"|(?<!\S)(AND|OR|NOT)\s*\)|\(\s*(AND|OR)(?!\S)"
)
_COMPARISON = re.compile(r"(\w+:)?(<=|>=|=<|=>|<|>)")
_MAX_DEPTH = 20


def _lowercase_fields(text: str) -> str:
    """``Title:kosovo`` means ``title:kosovo``: field names are lower case."""
    return _FIELD_PREFIX.sub(lambda m: m.group(0).replace(m.group(1) + ":", m.group(1).lower() + ":"), text)


def _outside_phrases(text: str) -> str:
    """``text`` with each phrase's inside blanked, so checks see only the query syntax."""
    return re.sub(r'"[^"]*"', lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', text)


def _check_syntax(text: str, settings: Settings) -> None:
    if len(text) > settings.max_query_length:
        raise QueryError(
            f"query is {len(text)} characters long", hint=f"keep it under {settings.max_query_length}"
        )
    if text.count('"') % 2:
        raise QueryError("a phrase is not closed", hint='add the closing quote, as in "like this"')
    syntax = _outside_phrases(text)
    _check_balanced(syntax)
    for match in _FIELD_PREFIX.finditer(syntax):
        field, following = match.groups()
        if field not in QUERY_FIELDS:
            raise QueryError(
                f"unknown field {field!r}",
                hint=f"fields are {', '.join(QUERY_FIELDS)}; put text with a colon in quotes",
            )
        if not following:
            raise QueryError(f"nothing after {field}:", hint=f"write {field}:word")
        if following in "<>" and field != DATE_FIELD:
            raise QueryError(f"{field}: cannot compare", hint=f"only dates compare, as in {DATE_FIELD}:>=2018-09")
    if _OPERATOR_AT_EDGE.search(syntax.strip()):
        raise QueryError("an operator has nothing on one side", hint="write: kosovo AND serbia, NOT may not end the query")
    pair = _OPERATOR_PAIR.search(syntax)
    if pair:
        raise QueryError(f"{' '.join(pair.group(0).split())!r}: an operator has nothing on one side",
                         hint="put a word or a group between operators: lavrov NOT putin, (a OR b) AND c")


def _check_balanced(text: str) -> None:
    depth = {"(": 0, "[": 0, "{": 0}
    closing = {")": "(", "]": "[", "}": "{"}
    for ch in text:
        if ch in depth:
            depth[ch] += 1
            if sum(depth.values()) > _MAX_DEPTH:
                raise QueryError(f"more than {_MAX_DEPTH} brackets open at once", hint="use fewer brackets")
        elif ch in closing:
            depth[closing[ch]] -= 1
            if depth[closing[ch]] < 0:
                raise QueryError(f"unexpected {ch!r}", hint="remove it or open it first")
    for opener, count in depth.items():
        if count:
            raise QueryError(f"{opener!r} is not closed", hint="close every bracket you open")


def _comparisons_on_dates_only(text: str) -> str:
    """``<`` and ``>`` compare right after ``published:``; anywhere else they
    separate words like other punctuation (``<script>`` is the word script).

    Whoosh would make a term range of ``title:>x`` (refused above) and fails
    on a comparison with no field before it.
    """
    def keep_or_blank(match: re.Match[str]) -> str:
        if match.group(1) == f"{DATE_FIELD}:":
            after = text[match.end():match.end() + 1]
            if not after or after.isspace() or after in "()[]{}":
                raise QueryError(f"nothing after {match.group(0)}", hint=f"write {DATE_FIELD}:>=2018-09")
            return match.group(0)
        return (match.group(1) or "") + " " * len(match.group(2))

    syntax = _outside_phrases(text)
    in_dates = _inside_date_groups(syntax)
    pieces, last = [], 0
    for match in _COMPARISON.finditer(syntax):
        if in_dates[match.start()] and match.group(1) is None:
            # published:(>2018) would silently mean all of 2018.
            raise QueryError(f"{match.group(2)!r} inside {DATE_FIELD}:( )",
                             hint=f"put the comparison right after the field: {DATE_FIELD}:>2018")
        pieces += [text[last:match.start()], keep_or_blank(match)]
        last = match.end()
    return "".join(pieces) + text[last:]


def _inside_date_groups(syntax: str) -> list[bool]:
    """For each character, whether it stands in a group opened by ``published:(``."""
    opened: list[bool] = []
    inside = []
    for i, ch in enumerate(syntax):
        if ch == "(":
            opened.append(syntax.endswith(f"{DATE_FIELD}:", 0, i) or any(opened))
        elif ch == ")" and opened:
            opened.pop()
        inside.append(any(opened))
    return inside


def _check_leaves(parsed: wq.Query) -> None:
    """Refuse what would walk every posting: a lone ``*`` beside other words, or ``field:*``."""
    for sub in parsed.leaves():
        if isinstance(sub, wq.Every):
            raise QueryError(
                "a lone * stands for every word",
                hint="leave it out, or put letters before it (negotiat*); * alone lists every article",
            )
        if isinstance(sub, wq.MultiTerm) and sub.field() == DATE_FIELD:
            raise QueryError(f"{DATE_FIELD}: takes no wildcards", hint=DATE_HINT)


def _expanded(parsed: wq.Query, searcher: Searcher, settings: Settings, deadline: Deadline) -> wq.Query:
    """The query with each wildcard, prefix, fuzzy term and term range expanded
    to its words once, within the cap on words (all together) and the deadline."""
    reader = searcher.reader()
    expanded = 0

    def expand(sub: wq.Query) -> wq.Query:
        nonlocal expanded
        if not isinstance(sub, wq.MultiTerm):
            return sub
        words = []
        # _btexts is a generator: counting stops at the cap, or at the deadline.
        for word in sub._btexts(reader):
            words.append(word)
            expanded += 1
            if expanded > settings.max_wildcard_terms:
                shown = getattr(sub, "text", None) or str(sub)
                raise QueryError(
                    f"{shown!r} takes the query over {settings.max_wildcard_terms} words",
                    hint="use fewer wildcards, or more letters before each * or ?",
                )
            if expanded % 64 == 0:
                deadline.check()
        deadline.check()
        return _Expanded(sub, words, deadline)

    result: wq.Query = parsed.accept(expand)
    return result


class _Expanded(wq.MultiTerm):  # type: ignore[misc]  # whoosh ships no type hints
    """A wildcard (or prefix, fuzzy term, term range) with its words already
    listed, so the search does not list them again past its deadline. It
    stands for the original in repr and equality (the facet cache's key)."""

    def __init__(self, original: wq.MultiTerm, words: list[Any], deadline: Deadline) -> None:
        self.original = original
        self.fieldname = original.field()
        self.text = getattr(original, "text", "")
        self.boost = original.boost
        self.constantscore = getattr(original, "constantscore", False)
        self.words = words
        self.deadline = deadline

    def _btexts(self, ixreader: Any) -> list[Any]:
        return self.words

    def matcher(self, searcher: Searcher, context: Any = None) -> Any:
        """Whoosh's own union of the words' postings, each read only while time remains:
        reading 2,000 posting lists happens before collection, where no time limit looks."""
        if len(self.words) <= 1:
            return super().matcher(searcher, context)
        if self.constantscore:
            context = context.set(weighting=None) if context else SearchContext(weighting=None)
        terms = [_TermInTime(self.fieldname, word, self.deadline) for word in self.words if word]
        return wq.Or(terms, boost=self.boost).matcher(searcher, context)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Expanded) and other.original == self.original

    def __hash__(self) -> int:
        return hash(self.original)

    def __repr__(self) -> str:
        return repr(self.original)

    def __unicode__(self) -> str:
        return str(self.original)

    __str__ = __unicode__


class _TermInTime(wq.Term):  # type: ignore[misc]  # whoosh ships no type hints
    """A term whose postings are opened only before the deadline."""

    def __init__(self, fieldname: str, text: Any, deadline: Deadline) -> None:
        super().__init__(fieldname, text)
        self.deadline = deadline

    def matcher(self, searcher: Searcher, context: Any = None) -> Any:
        self.deadline.check()
        return super().matcher(searcher, context)


def _values(values: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    seen = dict.fromkeys(v.strip() for v in values if v and v.strip())
    return tuple(seen)


def _page_number(page: str | int | None) -> int:
    """A numbered page: up to ``MAX_PAGE``, past which paging goes on by cursor only (search/query/cursor.py)."""
    try:
        return _bounded_int("page", page, 1, 1, MAX_PAGE)
    except QueryError as error:
        if str(page).strip().isdigit() and int(page or 0) > MAX_PAGE:
            raise QueryError(f"numbered pages stop at page {MAX_PAGE}",
                             hint="follow the 'next' link of a page (after=) to go further, or narrow the search "
                                  "with a date filter or a facet") from error
        raise


def _bounded_int(name: str, value: str | int | None, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise QueryError(f"{name} must be a whole number, not {value!r}", hint=f"use {name}={default}") from None
    if not low <= number <= high:
        raise QueryError(f"{name} must be between {low} and {high}", hint=f"use {name}={default}")
    return number
