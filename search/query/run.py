"""Query: a ``SearchQuery`` in, a ``SearchPage`` out. The read side of the
index, used by the web app, the JSON API, Atom and ``newsdesk search``;
``actor_page`` builds an actor's page (``ActorPage``) from one such search,
``matching`` finds what a saved search matches (search/alerts/runner.py).

The text is parsed by search/query/parse.py (``make_query``, ``parse_query``,
the ``Deadline``), snippets are made by search/query/snippets.py, articles are
read through search/index/document.py. Facet filters combine as OR within a facet
and AND across facets. Facet counts are "multi-select": each facet is counted
under the query and every *other* facet's filters, so picking one outlet
still shows how many articles the other outlets have.

How a search runs: search/query/selection.py's ``select`` gives which
documents of each segment the request selects (search/query/matches.py's
matches, as numpy arrays, under the date and facet filters);
search/query/facets.py counts the facets on those arrays, with the
per-segment columns of search/query/columns.py; the page is the newest of
them (``date_key``) or the best scored (selection.py's ``newest`` and
``best``), and only its hits are read and highlighted. The answers are
those of Whoosh's collectors scoring, sorting and counting every match,
which this replaces: tests/test_query_arrays.py holds them against Whoosh
and plain Python.

A costly query is bounded by a cap on wildcard expansion and by one
``Deadline`` (``search_time_limit``) shared by expansion, matching, scoring
and highlighting: past it, a ``QueryError`` says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh import sorting
from whoosh.collectors import TermsCollector
from whoosh.searching import Results, Searcher

from search.enrich import Actor, Gazetteer
from search.errors import NotFound
from search.index import WORD_FIELDS, from_stored, index_terms, text_analyzer
from search.language import LANGUAGE_NAMES
from search.query import columns, cursor, facets, matches, stories
from search.query.columns import Mask
from search.query.parse import MAX_FACET_LIMIT, MAX_PER_PAGE, Deadline, date_filter, parse_query
from search.query.selection import Selection, best, collect, facet_filter, newest, require, run_within, select
from search.query.snippets import highlighter, lead, one_line
from search.records import (
    FACETS,
    UNKNOWN,
    ActorPage,
    ActorRef,
    FacetValue,
    Hit,
    SearchPage,
    SearchQuery,
    StoredArticle,
)
from search.settings import Settings


def search(searcher: Searcher, request: SearchQuery, settings: Settings, gazetteer: Gazetteer) -> SearchPage:
    """Run one search: the page of hits and the four facets' counts, all within the time limit."""
    deadline = Deadline(settings)
    parsed = parse_query(request.q, searcher, settings, deadline)
    newest_first = request.sort == "date" or isinstance(parsed, wq.Every)
    # Which documents match, per segment: for the counts, the total, the page
    # and the words to highlight.
    chosen = select(searcher, request, settings, deadline, scored=not newest_first, parsed=parsed)
    index, found, dates, in_dates, under_all = chosen.index, chosen.found, chosen.dates, chosen.in_dates, \
        chosen.under_all
    key = facets.counts_key(searcher, parsed, request, dates)
    counted = facets.kept_counts(key) if settings.facet_cache_size else None
    if counted is None:
        counted = _count(searcher, chosen, request)
        facets.keep_counts(key, counted, settings.facet_cache_size)
    filtering = [facet_filter(name, values) for name, values in chosen.filters.items()]
    if dates is not None:  # for Whoosh's own collectors, where the arrays are not used
        filtering.append(facets.Within(searcher, index, in_dates))
    required = require(parsed, filtering)
    def ranked(limit: int) -> list[tuple[Any, int]]:
        if newest_first:
            # Newest first; undated (date_key 0) last; ties by ingest number (search/query/cursor.py).
            return newest(index, under_all, limit)
        return best(searcher, index, parsed, required, found, under_all, limit, deadline)

    def listed(limit: int) -> list[tuple[Any, int]]:
        if request.collapse:  # the first article of each story, in the same order
            # How many stories, to guess how far to rank (``_count`` counts them whenever the page lists them).
            told = counted.stories if counted.stories is not None else counted.articles
            return stories.firsts(ranked, stories.stories(searcher, index), limit, counted.articles, told)
        return ranked(limit)

    def positions(top: list[tuple[Any, int]]) -> list[tuple[int | float, int]]:
        """Each listed document's place in the order (search/query/cursor.py): (newest: -date key, as
        ``newest`` gives it; best: -score), then its ingest number."""
        seqs = index.seqs_of(np.fromiter((docnum for _, docnum in top), dtype=np.int64, count=len(top))).tolist()
        return [(key if newest_first else -key, seq) for (key, _), seq in zip(top, seqs, strict=True)]

    if request.after:  # the page after a cursor's result: one more, to know whether a page follows
        at = cursor.decode(request.after, request)
        cursor.check_engine(at, ENGINE)
        guess = (at.page - 1) * request.per_page + request.per_page + 1
        top = cursor.following(listed, positions, (-at.key, at.seq), request.per_page + 1, guess)
        start = 0
    else:
        start = (request.page - 1) * request.per_page
        top = listed(start + request.per_page + 1)
    following = top[start + request.per_page:]
    top = top[:start + request.per_page]
    results = Results(searcher, parsed, top)
    if request.q:  # the terms the matched articles matched, for highlighting
        shown = [docnum for _, docnum in top[start:start + request.per_page]]
        terms = _highlighted_terms(searcher, index, required, found, under_all, shown, newest_first, deadline)
        results.termdocs, results.docterms = dict.fromkeys(terms, ()), {}
    results.highlighter = highlighter()
    hits = tuple(_hit(hit, gazetteer, request.q, deadline) for hit in _page(results, start, request.per_page))
    hits = _with_copies(searcher, hits)
    deadline.check()
    values = {name: facet_values(name, counted.counts[name], request, gazetteer) for name in FACETS}
    bounds = (dates.first, dates.last) if dates is not None else None
    after = None
    if following and hits:  # the last hit's place, for the page after this one
        place, seq = positions(top[-1:])[0]
        after = cursor.token_after(request, -place, seq, hits[-1].id, ENGINE)
    return SearchPage(query=request, total=counted.total, hits=hits, facets=values, undated=counted.undated,
                      date_bounds=bounds, counted=request.count, articles=counted.articles, stories=counted.stories,
                      next=after)


#: What a relevance cursor says its scores are (search/query/cursor.py): Whoosh's BM25F.
ENGINE = "whoosh"


def _count(searcher: Searcher, chosen: Selection, request: SearchQuery) -> facets.Counted:
    """The facets, the total and the undated count of what ``chosen`` selects, in articles or in stories
    (``request.count``); the stories are counted too when the page lists them (``request.collapse``)."""
    articles = sum(int(np.count_nonzero(mask)) for mask in chosen.under_all)
    if request.count != stories.STORIES:
        counts = facets.count(chosen.index, chosen.in_dates, chosen.chosen)
        told = stories.total(stories.stories(searcher, chosen.index), chosen.under_all) if request.collapse else None
        return facets.Counted(counts, articles, chosen.undated(), articles, told)
    found = stories.stories(searcher, chosen.index)
    told = stories.total(found, chosen.under_all)
    return facets.Counted(stories.facet_counts(chosen.index, found, chosen.in_dates, chosen.chosen), told,
                          chosen.undated(found), articles, told)


# --- the page's documents ---------------------------------------------------


def _highlighted_terms(searcher: Searcher, index: columns.IndexColumns, required: wq.Query,
                       found: matches.Matched, masks: list[Mask], shown: list[int], newest_first: bool,
                       deadline: Deadline) -> set[Any]:
    """The terms Whoosh's ``TermsCollector`` records over every matched document, for the highlighter.

    Read from the arrays, but for terms of the highlighted field that a
    shown article holds and that Whoosh's matcher may have stood on
    without matching (``Matched.unsure``): then the matched documents are
    stepped through as Whoosh collects them, and its record is used.
    """
    sure = found.terms(masks)
    shown_ids = [np.array([d - leaf.offset for d in shown if leaf.offset <= d < leaf.offset + leaf.columns.size],
                          dtype=np.int32) for leaf in index.leaves]
    if not found.unsure(masks, sure, (_SNIPPET_FIELD, WORD_FIELDS[_SNIPPET_FIELD]), shown_ids):
        return sure
    date = sorting.FieldFacet("date_key", reverse=True) if newest_first else None
    collector = TermsCollector(searcher.collector(limit=None, sortedby=date))
    run_within(searcher, required, collector, deadline)
    return set(collector.termdocs)


_SNIPPET_FIELD = "body"


def matching(searcher: Searcher, request: SearchQuery, settings: Settings) -> dict[str, tuple[str, ...]]:
    """Every article ``request`` (text and facet filters) finds, by id, with the query words it matched.

    The same parsing and filters as ``search``, so an alert (search/alerts/runner.py)
    matches exactly what the results page shows; words are given as typed.
    """
    deadline = Deadline(settings)
    parsed = parse_query(request.q, searcher, settings, deadline)
    filters = [facet_filter(name, values) for name, values in request.filters().items() if values]
    dates = date_filter(request)  # a saved preset counts back from the run's moment (``request.now``)
    results = collect(searcher, require(parsed, filters), deadline, limit=None, scored=False,
                       terms=bool(request.q), optimize=not filters)
    words = _typed_words(request.q)  # analysed once, not once per hit
    found = {}
    for hit in results:
        fields = hit.fields()
        # The stored moment and date source: an alert's index of the new articles has no date column.
        if dates is None or dates.admits(fields.get("published"), fields.get("published_source")):
            found[fields["id"]] = _matched_words(words, hit)
    return found


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
    found = (searcher.document(id=article_id) for article_id in ids)
    articles = (from_stored(stored) for stored in found if stored)
    return _with_copies(searcher, tuple(to_hit(article, gazetteer, lead(article.text)) for article in articles))


def get_article(searcher: Searcher, article_id: str, gazetteer: Gazetteer) -> Hit:
    """One article by id, with its full text, or ``NotFound``."""
    stored = searcher.document(id=article_id)
    if stored is None:
        raise NotFound(f"no article with id {article_id!r}")
    article = from_stored(stored)
    return _with_copies(searcher, (to_hit(article, gazetteer, lead(article.text), full=True),))[0]


def get_copies(searcher: Searcher, article: Hit, gazetteer: Gazetteer, limit: int = 100) -> tuple[Hit, ...]:
    """The other articles of ``article``'s cluster (the copies of its text), newest first."""
    if article.copies <= 1:
        return ()
    newest = sorting.FieldFacet("date_key", reverse=True)
    results = searcher.search(wq.Term("cluster", article.cluster), limit=limit + 1, sortedby=newest)
    others = (to_hit(from_stored(hit.fields()), gazetteer, "") for hit in results if hit["id"] != article.id)
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
        aliases=other_names(actor),
        roles=actor.roles if actor else (),
        total=page.total,
        years=years_newest_first(page.facets["year"]),
        latest=page.hits,
    )


def other_names(actor: Actor | None) -> tuple[str, ...]:
    """Every alias and short form once, in the gazetteer's order, the display name left out."""
    if actor is None:
        return ()
    names = dict.fromkeys((*actor.aliases, *actor.short))
    names.pop(actor.name, None)
    return tuple(names)


def years_newest_first(years: Iterable[FacetValue]) -> tuple[tuple[str, int], ...]:
    """An actor page's years: (year, articles) newest first, ``unknown`` last, the empty ones left out."""
    counts = {f.value: f.count for f in years if f.count}
    known = sorted((year for year in counts if year != UNKNOWN), reverse=True)  # four digits: text order is numeric
    return tuple((year, counts[year]) for year in [*known, *(y for y in counts if y == UNKNOWN)])


def _with_copies(searcher: Searcher, hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
    """The hits with their clusters' sizes and other outlets.

    Read from the cluster field's postings, segment by segment, with deleted
    articles left out (a term's document frequency still counts them). Most
    clusters hold one article, whose outlet the hit already knows; only the
    articles of larger clusters are read for theirs. A grouped search did
    this before and cost a quarter of a results page.
    """
    if not hits:
        return hits
    members: dict[str, list[tuple[Any, int]]] = {}
    for cluster in sorted({hit.cluster for hit in hits}):
        for sub, _ in searcher.leaf_searchers():
            reader = sub.reader()
            if ("cluster", cluster) in reader:
                docs = reader.postings("cluster", cluster).all_ids()  # deleted ones filtered out
                members.setdefault(cluster, []).extend((reader, doc) for doc in docs)
    counts: dict[tuple[str, str], int] = {}
    outlets = {hit.cluster: hit.outlet for hit in hits}
    for cluster, docs in members.items():
        for reader, doc in docs:
            outlet = outlets[cluster] if len(docs) == 1 else reader.stored_fields(doc).get("outlet", UNKNOWN)
            counts[(cluster, outlet)] = counts.get((cluster, outlet), 0) + 1
    return tuple(with_counts(hit, counts) for hit in hits)


def with_counts(hit: Hit, counts: Mapping[tuple[str, str], int]) -> Hit:
    """The hit with its cluster's size and other outlets, from the live articles per (cluster, outlet)."""
    outlets = {outlet: n for (cluster, outlet), n in counts.items() if cluster == hit.cluster}
    also = tuple(sorted((o for o in outlets if o != hit.outlet), key=str.casefold))
    return replace(hit, copies=max(1, sum(outlets.values())), also=also)


def _page(results: Results, start: int, size: int) -> list[Any]:
    return [results[i] for i in range(start, min(start + size, results.scored_length()))]


# --- building the page ------------------------------------------------------


def _hit(hit: Any, gazetteer: Gazetteer, q: str, deadline: Deadline) -> Hit:
    deadline.check()  # highlighting a long text is the costly part of a hit
    article = from_stored(hit.fields())
    snippet = hit.highlights("body", top=2) if q else ""
    # A snippet is one run of text: paragraph breaks inside it become spaces.
    return to_hit(article, gazetteer, one_line(snippet) or lead(article.text))


def to_hit(article: StoredArticle, gazetteer: Gazetteer, snippet: str, full: bool = False) -> Hit:
    """A stored article as a hit, its actors labelled; with its text when ``full`` (one article's page)."""
    return Hit(
        id=article.id,
        url=article.url,
        title=article.title,
        outlet=article.outlet,
        author=article.author,
        published=article.published,
        year=article.year,
        language=article.language,
        actors=tuple(ActorRef(actor, gazetteer.label(actor)) for actor in article.actors),
        snippet=snippet,
        text=article.text if full else None,
        published_source=article.published_source,
        cluster=article.cluster,
    )


def facet_values(
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
