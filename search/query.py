"""Query: a ``SearchQuery`` in, a ``SearchPage`` out. The read side of the
index, used by the web app, the JSON API, Atom and ``newsdesk search``;
``actor_page`` builds an actor's page (``ActorPage``) from one such search.

Query text uses Whoosh syntax (phrases, AND/OR/NOT, ``field:term``,
wildcards over the unstemmed words, dates and date ranges read by
search/analysis.py) with AND between bare words. Facet
filters combine as OR within a facet and AND across facets. Facet counts are
"multi-select": each facet is counted under the query and every *other*
facet's filters, so picking one outlet still shows how many articles the
other outlets have.

Unusable input raises ``QueryError`` (HTTP 400) with a hint; nothing else
escapes the parser. A costly query is bounded by a cap on wildcard
expansion and by one ``Deadline`` (``search_time_limit``) shared by
expansion, collection, facet counts and highlighting: past it, a
``QueryError`` says so.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from markupsafe import escape
from whoosh import highlight, sorting
from whoosh import query as wq
from whoosh.analysis import LowercaseFilter, RegexTokenizer
from whoosh.collectors import TimeLimit, TimeLimitCollector
from whoosh.highlight import ContextFragmenter, Formatter, Highlighter
from whoosh.searching import Results, SearchContext, Searcher

from search import facets
from search.actors import Actor, Gazetteer
from search.analysis import (
    DATE_FIELD,
    DATE_HINT,
    WORD,
    WORD_FIELDS,
    folded_word,
    index_terms,
    query_parser,
    text_analyzer,
)
from search.errors import NotFound, QueryError
from search.facets import Counts
from search.language import LANGUAGE_NAMES
from search.records import FACETS, UNKNOWN, ActorPage, ActorRef, FacetValue, Hit, SearchPage, SearchQuery
from search.settings import Settings
from search.timeparse import parse_iso

log = logging.getLogger(__name__)

#: Fields a user may name in the query text, e.g. ``title:kosovo``.
QUERY_FIELDS = ("title", "body", "author", "outlet", "actor", "year", "language", "published", "url", "id", "cluster")
MAX_PER_PAGE = 100
MAX_FACET_LIMIT = 1000
MAX_PAGE = 1000
SORTS = ("relevance", "date")
_SNIPPET_CHARS = 240


def search(searcher: Searcher, request: SearchQuery, settings: Settings, gazetteer: Gazetteer) -> SearchPage:
    """Run one search: the page of hits and the four facets' counts, all within the time limit."""
    deadline = Deadline(settings)
    parsed = parse_query(request.q, searcher, settings, deadline)
    filters = {name: _filter(name, values) for name, values in request.filters().items() if values}
    cache_key = facets.counts_key(searcher, parsed, request)
    counts = facets.kept_counts(cache_key) if settings.facet_cache_size else None
    unfiltered = [name for name in FACETS if name not in filters] if counts is None else []
    results = _collect(
        searcher, _require(parsed, filters.values()), deadline,
        limit=request.page * request.per_page,
        sortedby=_sort(request, parsed),
        groupedby=facets.facet_types(unfiltered) if unfiltered else None,
        terms=bool(request.q),  # matched terms are only needed for highlighting
        # Whoosh's block-quality skipping trips an assertion inside Require.
        optimize=not filters,
    )
    results.highlighter = _WordsHighlighter(fragmenter=_FRAGMENTER, formatter=_MarkFormatter())
    if counts is None:
        counts = {name: results.groups(name) for name in unfiltered}
        counts.update(_filtered_counts(searcher, parsed, filters, deadline))
        facets.keep_counts(cache_key, counts, settings.facet_cache_size)
    start = (request.page - 1) * request.per_page
    hits = tuple(_hit(hit, gazetteer, request.q, deadline) for hit in _page(results, start, request.per_page))
    hits = _with_copies(searcher, hits)
    deadline.check()
    values = {name: _facet_values(name, counts[name], request, gazetteer) for name in FACETS}
    return SearchPage(query=request, total=len(results), hits=hits, facets=values)


def _filtered_counts(
    searcher: Searcher, parsed: wq.Query, filters: dict[str, wq.Query], deadline: Deadline
) -> Counts:
    """Each filtered facet counted under the query and the *other* facets' filters."""
    counts = {}
    for name in filters:
        others = _require(parsed, (f for other, f in filters.items() if other != name))
        results = _collect(searcher, others, deadline, limit=1, scored=False, groupedby=facets.facet_types([name]))
        counts[name] = results.groups(name)
    return counts


def matching(searcher: Searcher, request: SearchQuery, settings: Settings) -> dict[str, tuple[str, ...]]:
    """Every article ``request`` (text and facet filters) finds, by id, with the query words it matched.

    The same parsing and filters as ``search``, so an alert (search/alerts.py)
    matches exactly what the results page shows; words are given as typed.
    """
    deadline = Deadline(settings)
    parsed = parse_query(request.q, searcher, settings, deadline)
    filters = [_filter(name, values) for name, values in request.filters().items() if values]
    results = _collect(searcher, _require(parsed, filters), deadline, limit=None, scored=False,
                       terms=bool(request.q), optimize=not filters)
    words = _typed_words(request.q)  # analysed once, not once per hit
    return {hit["id"]: _matched_words(words, hit) for hit in results}


def _typed_words(q: str) -> list[tuple[str, str]]:
    """(analysed term, word as typed) for each word of ``q``."""
    tokens = text_analyzer()(q, mode="query", chars=True, removestops=False)
    return [(token.text, q[token.startchar:token.endchar]) for token in tokens]


def _matched_words(words: list[tuple[str, str]], hit: Any) -> tuple[str, ...]:
    """The typed words whose analysed terms the hit matched in its title or body."""
    if not words or not hit.results.has_matched_terms():
        return ()
    found = {term.decode() for field, term in hit.matched_terms() if field in ("title", "body")}
    # A wildcard matched whole words: a typed word counts when it stems like one of them.
    words_fields = (WORD_FIELDS["title"], WORD_FIELDS["body"])
    found.update(t for field, term in hit.matched_terms() if field in words_fields for t in index_terms(term.decode()))
    return tuple(dict.fromkeys(word for term, word in words if term in found))


def hits_by_id(searcher: Searcher, ids: Iterable[str], gazetteer: Gazetteer) -> tuple[Hit, ...]:
    """The articles with these ids, in that order, with their lead as snippet; ids not indexed are left out."""
    stored = (searcher.document(id=article_id) for article_id in ids)
    return _with_copies(searcher, tuple(_to_hit(s, gazetteer, _lead(s.get("body", ""))) for s in stored if s))


def get_article(searcher: Searcher, article_id: str, gazetteer: Gazetteer) -> Hit:
    """One article by id, with its full text, or ``NotFound``."""
    stored = searcher.document(id=article_id)
    if stored is None:
        raise NotFound(f"no article with id {article_id!r}")
    return _with_copies(searcher, (_to_hit(stored, gazetteer, _lead(stored.get("body", "")), full=True),))[0]


def get_copies(searcher: Searcher, article: Hit, gazetteer: Gazetteer, limit: int = 100) -> tuple[Hit, ...]:
    """The other articles of ``article``'s cluster (the copies of its text), newest first."""
    if article.copies <= 1:
        return ()
    newest = sorting.FieldFacet("date_key", reverse=True)
    results = searcher.search(wq.Term("cluster", article.cluster), limit=limit + 1, sortedby=newest)
    others = (_to_hit(hit.fields(), gazetteer, "") for hit in results if hit["id"] != article.id)
    return tuple(others)[:limit]


def actor_page(
    searcher: Searcher, actor_id: str, settings: Settings, gazetteer: Gazetteer, latest: int = 10
) -> ActorPage:
    """One actor: its names, its articles counted by year and the newest of them; or ``NotFound``.

    One search filtered by the actor gives all three, so the page counts
    exactly what the actor facet and ``?actor=<id>`` count.
    """
    per_page = max(1, min(latest, MAX_PER_PAGE))
    request = SearchQuery(actor=(actor_id,), sort="date", per_page=per_page, facet_limit=MAX_FACET_LIMIT)
    page = search(searcher, request, settings, gazetteer)
    actor = gazetteer.get(actor_id)
    # An id the gazetteer dropped still has its articles (and its facet entry) until a reindex.
    if actor is None and not page.total:
        raise NotFound(
            f"no actor with id {actor_id!r}",
            hint="actor ids look like Q58217; an article's page links to each of its actors",
        )
    return ActorPage(
        id=actor_id,
        name=gazetteer.label(actor_id),
        type=actor.type if actor else UNKNOWN,
        aliases=_other_names(actor),
        roles=actor.roles if actor else (),
        total=page.total,
        years=_newest_first(page.facets["year"]),
        latest=page.hits,
    )


def _other_names(actor: Actor | None) -> tuple[str, ...]:
    """Every alias and short form once, in the gazetteer's order, the display name left out."""
    if actor is None:
        return ()
    names = dict.fromkeys((*actor.aliases, *actor.short))
    names.pop(actor.name, None)
    return tuple(names)


def _newest_first(years: Iterable[FacetValue]) -> tuple[tuple[str, int], ...]:
    counts = {f.value: f.count for f in years if f.count}
    known = sorted((year for year in counts if year != UNKNOWN), reverse=True)  # four digits: text order is numeric
    return tuple((year, counts[year]) for year in [*known, *(y for y in counts if y == UNKNOWN)])


def _with_copies(searcher: Searcher, hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
    """The hits with their clusters' sizes and other outlets, counted by one
    grouped search over the clusters on the page — a search, not the term's
    document frequency, because that still counts deleted articles."""
    if not hits:
        return hits
    clusters = wq.Or([wq.Term("cluster", cluster) for cluster in sorted({hit.cluster for hit in hits})])
    by_outlet = sorting.MultiFacet([sorting.FieldFacet("cluster"), sorting.FieldFacet("outlet")], maptype=sorting.Count)
    results = searcher.search(clusters, limit=1, scored=False, groupedby={"copies": by_outlet})
    counts: dict[tuple[str, str], int] = results.groups("copies")
    return tuple(_counted(hit, counts) for hit in hits)


def _counted(hit: Hit, counts: Mapping[tuple[str, str], int]) -> Hit:
    outlets = {outlet: n for (cluster, outlet), n in counts.items() if cluster == hit.cluster}
    also = tuple(sorted((o for o in outlets if o != hit.outlet), key=str.casefold))
    return replace(hit, copies=max(1, sum(outlets.values())), also=also)


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
) -> SearchQuery:
    """Build a validated ``SearchQuery`` from loosely typed input (URL or CLI)."""
    if sort not in SORTS:
        raise QueryError(f"unknown sort {sort!r}", hint="use sort=relevance or sort=date")
    default_per_page = settings.per_page if settings else 10
    return SearchQuery(
        q=(q or "").strip(),
        outlet=_values(outlet), actor=_values(actor), year=_values(year), language=_values(language),
        sort=sort,
        page=_bounded_int("page", page, 1, 1, MAX_PAGE),
        per_page=_bounded_int("per_page", per_page, default_per_page, 1, MAX_PER_PAGE),
        facet_limit=_bounded_int("facet_limit", facet_limit, 10, 1, MAX_FACET_LIMIT),
    )


def parse_query(text: str, searcher: Searcher, settings: Settings, deadline: Deadline | None = None) -> wq.Query:
    """Parse query text, or raise ``QueryError`` saying what to change.

    Wildcards are expanded here, within ``deadline`` (the search's time
    limit) and the ``max_wildcard_terms`` cap, so nothing a user types makes
    the search itself walk an unbounded list of words.
    """
    deadline = deadline or Deadline(settings)
    text = _lowercase_fields(text)
    if not text or text == "*":
        return wq.Every()  # "*" alone: every article, as the empty query lists them
    _check_syntax(text, settings)
    parsed = _parse(_comparisons_on_dates_only(text), searcher)
    if parsed is wq.NullQuery:
        raise QueryError(f"nothing to search for in {text!r}", hint="type one or more words")
    _check_leaves(parsed)
    return _expanded(parsed, searcher, settings, deadline)


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


def _parse(text: str, searcher: Searcher) -> wq.Query:
    try:
        return query_parser(searcher.schema, QUERY_FIELDS).parse(text)
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


# --- collecting -------------------------------------------------------------


def _collect(searcher: Searcher, q: wq.Query, deadline: Deadline, **kwargs: Any) -> Results:
    deadline.check()
    collector = searcher.collector(**kwargs)
    if isinstance(q, wq.Every):
        # Listing everything costs one pass over the index and nothing a user
        # types can make it worse; the time limit's per-document check would
        # only slow the front page down.
        searcher.search_with_collector(q, collector)
        return collector.results()
    collector = TimeLimitCollector(collector, timelimit=max(deadline.remaining(), 0.0), use_alarm=False)
    try:
        searcher.search_with_collector(q, collector)
    except TimeLimit:
        raise deadline.error() from None
    return collector.results()


def _sort(request: SearchQuery, parsed: wq.Query) -> sorting.FacetType | None:
    if request.sort == "date" or isinstance(parsed, wq.Every):
        # Newest first; undated (date_key 0) last; ties in index order, which
        # the same input reproduces. (An id tie-breaker doubled the sort cost.)
        return sorting.FieldFacet("date_key", reverse=True)
    return None


def _filter(name: str, values: tuple[str, ...]) -> wq.Query:
    return wq.Or([wq.Term(name, value) for value in values])


def _require(parsed: wq.Query, filters: Iterable[wq.Query]) -> wq.Query:
    """The query restricted by filters that take no part in scoring.

    A query rather than ``filter=``: Whoosh's time-limit collector bypasses
    the filter collector, and intersecting postings is cheaper anyway.
    """
    filters = list(filters)
    return wq.Require(parsed, wq.And(filters)) if filters else parsed


def _page(results: Results, start: int, size: int) -> list[Any]:
    return [results[i] for i in range(start, min(start + size, results.scored_length()))]


# --- building the page ------------------------------------------------------


def _hit(hit: Any, gazetteer: Gazetteer, q: str, deadline: Deadline) -> Hit:
    deadline.check()  # highlighting a long text is the costly part of a hit
    stored = hit.fields()
    snippet = hit.highlights("body", top=2) if q else ""
    # A snippet is one run of text: paragraph breaks inside it become spaces.
    return _to_hit(stored, gazetteer, _one_line(snippet) or _lead(stored.get("body", "")))


def _to_hit(stored: Mapping[str, Any], gazetteer: Gazetteer, snippet: str, full: bool = False) -> Hit:
    actors = [a for a in stored.get("actor", "").split(",") if a]
    return Hit(
        id=stored["id"],
        url=stored.get("url"),
        title=stored.get("title", ""),
        outlet=stored.get("outlet", UNKNOWN),
        author=stored.get("author"),
        published=parse_iso(stored.get("published_iso")),
        year=stored.get("year", UNKNOWN),
        language=stored.get("language", UNKNOWN),
        actors=tuple(ActorRef(a, gazetteer.label(a)) for a in actors),
        snippet=snippet,
        text=stored.get("body") if full else None,
        published_source=stored.get("published_source") if full else None,
        cluster=stored.get("cluster") or stored["id"],
    )


def _lead(body: str) -> str:
    """The opening of the text as a snippet, cut at a word, escaped."""
    body = _one_line(body)
    if len(body) <= _SNIPPET_CHARS:
        return str(escape(body))
    cut = body[:_SNIPPET_CHARS].rsplit(" ", 1)[0]
    return str(escape(cut)) + "…"


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text).strip()


def _facet_values(
    name: str, counts: Mapping[str, int], request: SearchQuery, gazetteer: Gazetteer
) -> tuple[FacetValue, ...]:
    """Largest counts first (ties by label), capped; selected values always shown."""
    selected = set(getattr(request, name))
    labelled = [(value, facet_label(name, value, gazetteer), count) for value, count in counts.items() if value]
    labelled.sort(key=lambda item: (-item[2], item[1].casefold(), item[0]))
    top_values = {value for value, _, _ in labelled[: request.facet_limit]}
    # A selected value must stay visible (to be removed): it takes the place
    # of the smallest of the top values, so the cap still holds.
    missing = sorted(selected - top_values)[: request.facet_limit]
    shown = labelled[: request.facet_limit - len(missing)]
    shown += [(v, facet_label(name, v, gazetteer), counts.get(v, 0)) for v in missing]
    return tuple(FacetValue(value, label, count, value in selected) for value, label, count in shown)


def facet_label(name: str, value: str, gazetteer: Gazetteer) -> str:
    """How a facet value is shown: an actor's name, a language's name, "Unknown"; the value is the key."""
    if name == "actor":
        return gazetteer.label(value)
    if name == "language":
        return LANGUAGE_NAMES.get(value, value)
    return "Unknown" if value == UNKNOWN else value


def _values(values: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    seen = dict.fromkeys(v.strip() for v in values if v and v.strip())
    return tuple(seen)


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


class _MarkFormatter(Formatter):  # type: ignore[misc]  # whoosh ships no type hints
    """Highlights as ``<mark>``, everything else HTML-escaped."""

    between = " "

    def _text(self, text: str) -> str:
        return str(escape(text))

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"<mark>{escape(text[token.startchar:token.endchar])}</mark>"

    def format_fragment(self, fragment: Any, replace: bool = False) -> str:
        # An ellipsis where the fragment cuts into the text, as the lead snippet has.
        inner = super().format_fragment(fragment, replace)
        before = "…" if fragment.startchar > 0 else ""
        after = "…" if fragment.endchar < len(fragment.text) else ""
        return f"{before}{inner.strip()}{after}"


_FRAGMENTER = ContextFragmenter(maxchars=160, surround=60)


class _WordsHighlighter(Highlighter):  # type: ignore[misc]  # whoosh ships no type hints
    """Marks a word of the text when its stem matched, or when the word itself
    matched a wildcard (on the field's unstemmed twin)."""

    def highlight_hit(self, hitobj: Any, fieldname: str, text: str | None = None, top: int = 3,
                      minscore: int = 1, strict_phrase: bool = False) -> str:
        twin = WORD_FIELDS.get(fieldname)
        results = hitobj.results
        if twin is None or not results.has_matched_terms():
            return str(super().highlight_hit(hitobj, fieldname, text, top, minscore, strict_phrase))
        text = hitobj[fieldname] if text is None else text
        matched = results.matched_terms()
        stems = {term.decode() for field, term in matched if field == fieldname}
        words = {term.decode() for field, term in matched if field == twin}
        tokens = _LOWERCASE_WORDS(text, positions=True, chars=True, mode="index")
        marked = (self._marked(token, stems, words) for token in tokens)
        fragments = self.fragmenter.fragment_tokens(text, self._merge_matched_tokens(marked))
        return str(self.formatter.format(highlight.top_fragments(fragments, top, self.scorer, self.order,
                                                                 minscore=minscore)))

    @staticmethod
    def _marked(token: Any, stems: set[str], words: set[str]) -> Any:
        # index_terms takes the word unfolded: it tells Russian words by their letters.
        token.matched = folded_word(token.text) in words or not stems.isdisjoint(index_terms(token.text))
        return token


_LOWERCASE_WORDS = RegexTokenizer(expression=WORD) | LowercaseFilter()

