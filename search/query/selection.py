"""Selection and order: which documents a ``SearchQuery`` selects, and in which order they come.

Part of the query stage, below search/query/run.py (the results page),
search/query/export.py (every match), search/query/timeline.py and
search/query/stories.py: the one account of a request's documents that all
of them count and list from. ``select`` gives them per segment as masks
(``Selection``): the query's matches (search/query/matches.py), under the
date filter, under the facet filters (search/query/facets.py). The order is
the newest first (``newest``, ``newest_order``: the ``date_key`` column,
undated last) or the best scored (``best``, ``highest``, ``highest_order``:
Whoosh's BM25F scores, computed over the arrays and checked against Whoosh's
matcher where they are estimates), ties by ingest number (``seq``): one total
order, the PostgreSQL backend's too, that a page's cursor can point into
(search/query/cursor.py). The document number, which Whoosh changes when it
merges segments, only breaks ties an index without ingest numbers leaves.

Where Whoosh's own collectors still run (scoring a query the arrays cannot
score exactly, the terms a page highlights, an alert's matches), they run
through ``collect`` and ``run_within``, which keep to the search's
``Deadline``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from whoosh import query as wq
from whoosh.collectors import WrappingCollector
from whoosh.searching import Results, Searcher

from search.errors import QueryError
from search.query import columns, facets, matches, stories
from search.query.columns import IndexColumns, Mask
from search.query.parse import DateFilter, Deadline, date_filter, parse_query
from search.records import SearchQuery
from search.settings import Settings


@dataclass(frozen=True, eq=False)
class Selection:
    """The documents a ``SearchQuery`` selects, per segment: the query's matches, under its date filter,
    under its facet filters. What the results page, the exports and the timeline all count from."""

    index: IndexColumns
    parsed: wq.Query
    found: matches.Matched  # the query's matches (scored when asked for)
    filters: dict[str, tuple[str, ...]]  # the facet filters set
    chosen: list[dict[str, Mask]]  # each facet filter's documents, per segment
    dates: DateFilter | None  # a preset resolved once, from the request's moment
    in_dates: list[Mask]  # the matches under the date filter
    under_all: list[Mask]  # ... and under every facet filter: what is listed and counted

    def undated(self, found: stories.Stories | None = None) -> int:
        """Matches the date filter left out for having no date (0 without one, or when it asks for undated);
        with ``found``, the stories they belong to."""
        if self.dates is None or self.dates.undated_only:
            return 0
        left = facets.narrowed(self.found.masks, self.chosen)
        return facets.undated(self.index, left) if found is None else stories.undated(self.index, found, left)


def select(searcher: Searcher, request: SearchQuery, settings: Settings, deadline: Deadline,
           scored: bool = False, parsed: wq.Query | None = None) -> Selection:
    """Which documents ``request`` selects (``scored``: with the matches' scores, for relevance order;
    ``parsed``: its query, when the caller parsed it already)."""
    parsed = parsed if parsed is not None else parse_query(request.q, searcher, settings, deadline)
    filters = {name: values for name, values in request.filters().items() if values}
    dates = date_filter(request)
    index = columns.index_columns(searcher)
    found = matches.everything(index) if isinstance(parsed, wq.Every) else matches.matched(
        searcher, index, parsed, deadline, scored=scored)
    chosen = facets.selections(index, filters)
    # The date filter narrows the matches before anything is counted, as the query does: every facet,
    # the total and the page are under it.
    in_dates = found.masks
    if dates is not None:
        taken = facets.dated(searcher, index, found.masks, dates, _reading_sources(deadline))
        in_dates = [mask & dated for mask, dated in zip(found.masks, taken, strict=True)]
    return Selection(index, parsed, found, filters, chosen, dates, in_dates, facets.narrowed(in_dates, chosen))




def _reading_sources(deadline: Deadline) -> Callable[[], None]:
    """The deadline's check while a certainty filter reads where dates came from, saying what takes the time."""
    def check() -> None:
        if deadline.remaining() <= 0:
            raise QueryError(f"the search took longer than {deadline.limit:g} s",
                             hint="a certainty filter reads where each article's date came from, once; what was "
                                  "read is kept, so ask again, or narrow the search first")
    return check




# --- the order -------------------------------------------------------------------


def newest(index: IndexColumns, masks: list[Mask], limit: int) -> list[tuple[Any, int]]:
    """The first ``limit`` matched documents newest first, as Whoosh's (sort key, document number) pairs:
    the ``date_key`` column descending, then the ingest number."""
    if not index.leaves:
        return []
    dates = np.concatenate([leaf.columns.dates[mask] for leaf, mask in zip(index.leaves, masks, strict=True)])
    docnums = np.concatenate([np.flatnonzero(mask) + leaf.offset for leaf, mask in zip(index.leaves, masks, strict=True)])
    seqs = _seqs(index, masks)
    order_key = ~dates  # ascending: newest first
    if len(order_key) > limit:
        # Only documents up to the limit-th key can make the page (ties at it included).
        threshold = np.partition(order_key, limit - 1)[limit - 1]
        kept = order_key <= threshold
        order_key, dates, docnums, seqs = order_key[kept], dates[kept], docnums[kept], seqs[kept]
    order = np.lexsort((docnums, seqs, order_key))[:limit]
    return [(-date, docnum) for date, docnum in zip(dates[order].tolist(), docnums[order].tolist(), strict=True)]


def best(searcher: Searcher, index: IndexColumns, parsed: wq.Query, required: wq.Query,
          found: matches.Matched, masks: list[Mask], limit: int, deadline: Deadline) -> list[tuple[Any, int]]:
    """The first ``limit`` matched documents by Whoosh's score, ties by ingest number.

    The scores computed over whole posting lists pick the few documents
    that can make the page (with a margin far above their rounding
    differences); Whoosh's matcher scores those exactly. Whoosh's own
    ``TopCollector`` would be quicker, but drops documents that belong on
    the page when it turns an OR into an AND for speed; so without
    usable scores every matched document is scored by Whoosh.
    """
    if found.scores is not None and found.exact:
        return highest(index, found.scores, masks, limit)
    if found.scores is not None:
        picked = _picked(index, found.scores, masks, limit)
        # Many estimates alike (ties): skipping to each is slower than scoring every match.
        if sum(len(local) for _, local, _ in picked) <= _MOST_RESCORED + 4 * limit:
            exact = _rescored(searcher, index, parsed, picked, deadline)
            if exact is not None:
                return by_score(index, exact)[:limit]
    results = collect(searcher, required, deadline, limit=None)
    return by_score(index, results.top_n)[:limit]


def by_score(index: IndexColumns, scored: list[tuple[Any, int]]) -> list[tuple[Any, int]]:
    """(score, document number) pairs highest first, ties by ingest number (then document number)."""
    if not scored:
        return []
    seqs = index.seqs_of(np.fromiter((docnum for _, docnum in scored), dtype=np.int64, count=len(scored)))
    return [item for _, _, item in sorted((-item[0], seq, item) for item, seq in zip(scored, seqs.tolist(), strict=True))]


def highest(index: IndexColumns, scores: list[np.ndarray], masks: list[Mask],
             limit: int) -> list[tuple[Any, int]]:
    """The ``limit`` highest of Whoosh's own scores (computed here to the last bit), ties by ingest number."""
    if not index.leaves:
        return []
    values = np.concatenate([score[mask] for score, mask in zip(scores, masks, strict=True)])
    docnums = np.concatenate([np.flatnonzero(mask) + leaf.offset
                              for leaf, mask in zip(index.leaves, masks, strict=True)])
    seqs = _seqs(index, masks)
    if len(values) > limit:
        threshold = -np.partition(-values, limit - 1)[limit - 1]
        kept = values >= threshold
        values, docnums, seqs = values[kept], docnums[kept], seqs[kept]
    order = np.lexsort((docnums, seqs, -values))[:limit]
    return list(zip(values[order].tolist(), docnums[order].tolist(), strict=True))


#: Candidates beyond the page's size that are still rescored one by one.
_MOST_RESCORED = 200
#: How far below the page's lowest estimated score a document is still rescored, relative to
#: that score: sums in another order differ by about 1e-16 of it.
_MARGIN = 1e-9


def _picked(index: IndexColumns, scores: list[np.ndarray], masks: list[Mask],
            limit: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Per segment (by position), the documents whose estimated score can reach the page, with the estimate."""
    if not masks:
        return []
    estimates = np.concatenate([score[mask] for score, mask in zip(scores, masks, strict=True)])
    if not len(estimates):
        return []
    lowest = -np.partition(-estimates, min(limit, len(estimates)) - 1)[min(limit, len(estimates)) - 1]
    floor = lowest - _MARGIN * (abs(lowest) + 1)
    picked = []
    for leaf, score, mask in zip(index.leaves, scores, masks, strict=True):
        local = np.flatnonzero(mask & (score >= floor))
        if len(local):
            picked.append((leaf.position, local, score[local]))
    return picked


def _rescored(searcher: Searcher, index: IndexColumns, parsed: wq.Query,
              picked: list[tuple[int, np.ndarray, np.ndarray]], deadline: Deadline) -> list[tuple[Any, int]] | None:
    """Whoosh's exact scores of the picked documents, or None if one is not where the estimate says.

    Each segment's matcher is built as for collecting matched terms
    (``needs_current``: it decides how Whoosh adds an OR's scores) and
    skipped from document to document; a matcher's score depends only on
    which of its terms stand on the document.
    """
    context = searcher.context(needs_current=True)
    subsearchers = searcher.leaf_searchers()
    scored = []
    for position, local, estimates in picked:
        sub, offset = subsearchers[position]
        matcher = parsed.matcher(sub, context)
        for n, (docnum, estimate) in enumerate(zip(local.tolist(), estimates.tolist(), strict=True)):
            if n % _MATCHES_PER_CHECK == 0:
                deadline.check()
            if matcher.is_active() and matcher.id() < docnum:
                matcher.skip_to(docnum)
            if not matcher.is_active() or matcher.id() != docnum:
                return None
            score = matcher.score()
            if abs(score - estimate) > _MARGIN / 2 * (abs(score) + 1):
                return None
            scored.append((score, offset + docnum))
    return scored




def newest_order(index: IndexColumns, masks: list[Mask]) -> NDArray[np.int64]:
    """Matched documents newest first, undated last, ties by ingest number: the results page's
    order by date (``newest``), whole."""
    if not index.leaves:
        return np.zeros(0, dtype=np.int64)
    dates = np.concatenate([leaf.columns.dates[mask] for leaf, mask in zip(index.leaves, masks, strict=True)])
    docnums = _docnums(index, masks)
    return docnums[np.lexsort((docnums, _seqs(index, masks), ~dates))]


def highest_order(index: IndexColumns, scores: list[NDArray[np.float64]], masks: list[Mask]) -> NDArray[np.int64]:
    """Matched documents by Whoosh's score (exact to the last bit here), ties by ingest number: the page's
    order by relevance (``highest``), whole."""
    if not index.leaves:
        return np.zeros(0, dtype=np.int64)
    values = np.concatenate([score[mask] for score, mask in zip(scores, masks, strict=True)])
    docnums = _docnums(index, masks)
    return docnums[np.lexsort((docnums, _seqs(index, masks), -values))]


def _seqs(index: IndexColumns, masks: list[Mask]) -> NDArray[np.uint64]:
    return np.concatenate([leaf.columns.seqs[mask] for leaf, mask in zip(index.leaves, masks, strict=True)])


def _docnums(index: IndexColumns, masks: list[Mask]) -> NDArray[np.int64]:
    return np.concatenate([np.flatnonzero(mask).astype(np.int64) + leaf.offset
                           for leaf, mask in zip(index.leaves, masks, strict=True)])


# --- Whoosh's own collectors ---------------------------------------------------


def collect(searcher: Searcher, q: wq.Query, deadline: Deadline, **kwargs: Any) -> Results:
    """Whoosh's collection, within the deadline.

    The matchers are built as for collecting matched terms (``needs_current``):
    that decides how Whoosh combines an OR's scores, so scores are the same
    whether or not terms are collected.
    """
    return run_within(searcher, q, searcher.collector(**kwargs), deadline).results()


def run_within(searcher: Searcher, q: wq.Query, collector: Any, deadline: Deadline) -> Any:
    """Run ``collector`` (any of Whoosh's) over ``q``'s matches, checking the deadline as it goes."""
    wrapped = _InTime(collector, deadline)
    deadline.check()
    searcher.search_with_collector(q, wrapped, context=searcher.context(needs_current=True))
    return wrapped


class _InTime(WrappingCollector):  # type: ignore[misc]  # whoosh ships no type hints
    """Checks the deadline every few hundred matches (Whoosh's ``TimeLimitCollector`` starts a timer thread)."""

    def __init__(self, child: Any, deadline: Deadline) -> None:
        super().__init__(child)
        self.deadline = deadline

    def collect_matches(self) -> None:
        child, check = self.child, self.deadline.check
        for n, docnum in enumerate(child.matches()):
            if not n % _MATCHES_PER_CHECK:
                check()
            child.collect(docnum)


_MATCHES_PER_CHECK = 256


def facet_filter(name: str, values: tuple[str, ...]) -> wq.Query:
    return wq.Or([wq.Term(name, value) for value in values])


def require(parsed: wq.Query, filters: Iterable[wq.Query]) -> wq.Query:
    """The query restricted by filters that take no part in scoring.

    A query rather than ``filter=``: Whoosh's time-limit collector bypasses
    the filter collector, and intersecting postings is cheaper anyway.
    """
    filters = list(filters)
    return wq.Require(parsed, wq.And(filters)) if filters else parsed


