"""Facets: how the query stage counts outlet, actor, year and language.

Part of the read side: search/query/run.py hands over which documents of each
segment the query matched (search/query/matches.py) and the facet filters;
counting reads the per-segment arrays of search/query/columns.py.

Filters combine as OR within a facet and AND across facets. Counts are
"multi-select": each facet is counted under the query and every *other*
facet's filters, so picking one outlet still shows how many articles the
other outlets have. A filter matches what Whoosh's ``Term(facet, value)``
matches: an ID field indexes its whole value as its one term, the value its
column holds; an actor filter reads the actor postings' pairs.

Per segment a count is one ``numpy.bincount`` over the matched documents'
codes, added into one array per facet over the values of all segments; no
Python runs per matched document.

The date filter (search/query/parse.py's ``DateFilter``) narrows every
facet alike, as the query does: ``dated`` gives per segment the documents it
takes, from the ``date_key`` column, and for the certainty filter from where
each date came from (``published_source``, a stored field only: read once per
document, when a certainty filter first needs it, and kept with the
segment's columns). ``undated`` counts what a date filter left out for
having no date.

Counts for one (query, filters) pair only change when the index does, and
paging or reloading the front page asks for them again, so they are kept
with the total, keyed by the exact segments (and deletions) they were
counted on.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray
from whoosh import query as wq
from whoosh.matching import ListMatcher, NullMatcher
from whoosh.searching import Searcher

from search.query.columns import ACTOR, IndexColumns, Mask, SegmentColumns
from search.query.parse import DateFilter
from search.records import CERTAIN_DATE_SOURCES, FACETS, SearchQuery

K = TypeVar("K")
V = TypeVar("V")

Counts = dict[str, dict[str, int]]  # facet → value → count
Filters = Mapping[str, tuple[str, ...]]  # facet → the values picked (OR)
Chosen = list[dict[str, Mask]]  # per segment, per filtered facet: the documents its filter takes


@dataclass(frozen=True)
class Counted:
    """The four facets' counts, the number of documents (or stories: search/query/stories.py) under the
    query and all filters, and how many more the date filter left out for having no date."""

    counts: Counts
    total: int
    undated: int = 0
    articles: int = 0  # the documents under the query and all filters (``total`` when it counts them)
    stories: int | None = None  # the stories they belong to, when counted (search/query/stories.py)


def selections(index: IndexColumns, filters: Filters) -> Chosen:
    """Per segment, per filtered facet: the documents holding any of the picked values."""
    picked = {name: _picked(index, name, values) for name, values in filters.items()}
    return [
        {name: _documents(index, i, name, chosen[index.to_table[name][i]]) for name, chosen in picked.items()}
        for i in range(len(index.leaves))
    ]


def narrowed(masks: list[Mask], chosen: Chosen) -> list[Mask]:
    """Per segment, the documents matched under every filter."""
    return [reduce(np.logical_and, filters.values(), mask) for mask, filters in zip(masks, chosen, strict=True)]


def count(index: IndexColumns, masks: list[Mask], chosen: Chosen) -> Counts:
    """Each facet counted over ``masks`` under every *other* facet's filters."""
    totals = {name: np.zeros(len(index.values[name]), dtype=np.int64) for name in FACETS}
    for i, (mask, filters) in enumerate(zip(masks, chosen, strict=True)):
        for name in FACETS:
            under = under_others(mask, filters, name)
            coded = index.coded(i, name)
            picked = coded.codes[under[index.leaves[i].columns.actor_docs]] if name == ACTOR else coded.codes[under]
            # A segment's codes map to distinct table codes, so adding by fancy index adds each once.
            totals[name][index.to_table[name][i]] += np.bincount(picked, minlength=len(coded.values))
    return {name: _by_value(index.values[name], totals[name]) for name in FACETS}


def under_others(mask: Mask, filters: dict[str, Mask], name: str) -> Mask:
    """One segment's documents of ``mask`` under every filter but facet ``name``'s: what ``name`` counts."""
    return reduce(np.logical_and, (f for other, f in filters.items() if other != name), mask)


def _by_value(values: tuple[str, ...], counts: np.ndarray) -> dict[str, int]:
    found = np.flatnonzero(counts)
    return dict(zip([values[i] for i in found.tolist()], counts[found].tolist(), strict=True))


def _picked(index: IndexColumns, name: str, values: Iterable[str]) -> np.ndarray:
    """The table's codes of ``values``, as a flag per code (values no segment holds match nothing)."""
    flags = np.zeros(len(index.values[name]), dtype=np.bool_)
    codes = index.codes[name]
    flags[[codes[v] for v in values if v in codes]] = True
    return flags


def _documents(index: IndexColumns, leaf: int, name: str, chosen: np.ndarray) -> Mask:
    """One segment's documents whose value (or one of whose actors) is flagged in ``chosen`` (by segment code)."""
    coded = index.coded(leaf, name)
    if name != ACTOR:
        flagged: Mask = chosen[coded.codes]
        return flagged
    documents = np.zeros(index.leaves[leaf].columns.size, dtype=np.bool_)
    documents[index.leaves[leaf].columns.actor_docs[chosen[coded.codes]]] = True
    return documents


# --- the date filter -----------------------------------------------------------------


def dated(searcher: Searcher, index: IndexColumns, found: list[Mask], dates: DateFilter,
          check: Callable[[], None]) -> list[Mask]:
    """Per segment, the documents ``dates`` takes, among those ``found`` (beyond them: any answer)."""
    subsearchers = searcher.leaf_searchers()
    return [_dated_mask(subsearchers[leaf.position][0].reader(), leaf.columns, mask, dates, check)
            for leaf, mask in zip(index.leaves, found, strict=True)]


def undated(index: IndexColumns, masks: list[Mask]) -> int:
    """How many of ``masks``' documents have no date (``date_key`` 0)."""
    return sum(int(np.count_nonzero(mask & (leaf.columns.dates == 0)))
               for leaf, mask in zip(index.leaves, masks, strict=True))


def _dated_mask(reader: Any, columns: SegmentColumns, found: Mask, dates: DateFilter,
                check: Callable[[], None]) -> Mask:
    keys = columns.dates
    if dates.undated_only:
        taken: Mask = keys == 0
        return taken
    taken = keys >= np.uint64(dates.first_key)
    if dates.last_key is not None:
        taken &= keys <= np.uint64(dates.last_key)
    if dates.certainty:
        certain = _certain(reader, columns, np.flatnonzero(taken & found), check)
        taken &= certain == (_CERTAIN if dates.certainty == "certain" else _UNCERTAIN)
    return taken


#: Per document of a segment, whether its date is certain (``CERTAIN_DATE_SOURCES``); 0 when not read yet.
_UNREAD, _CERTAIN, _UNCERTAIN = 0, 1, 2
_SOURCES: weakref.WeakKeyDictionary[SegmentColumns, NDArray[np.int8]] = weakref.WeakKeyDictionary()
_SOURCES_LOCK = threading.Lock()
#: Documents read between two looks at the clock (about 60 µs each).
_READS_PER_CHECK = 64


def _certain(reader: Any, columns: SegmentColumns, documents: NDArray[np.intp],
             check: Callable[[], None]) -> NDArray[np.int8]:
    """The segment's certainty codes, read for ``documents`` from their stored ``published_source``.

    The source is a stored field only (the schema has no column of it), so a
    document's is read once, the first time a certainty filter takes it in,
    and kept with the segment's columns, which never change. What is read
    before the deadline is kept, so an answer cut short is quicker next time.
    Threads that read the same document write the same code.
    """
    with _SOURCES_LOCK:
        codes = _SOURCES.get(columns)
        if codes is None:
            codes = _SOURCES[columns] = np.zeros(columns.size, dtype=np.int8)
    for n, document in enumerate(documents[codes[documents] == _UNREAD].tolist()):
        if n % _READS_PER_CHECK == 0:
            check()
        source = reader.stored_fields(document).get("published_source")
        codes[document] = _CERTAIN if source in CERTAIN_DATE_SOURCES else _UNCERTAIN
    return codes


class Within(wq.Query):  # type: ignore[misc]  # whoosh ships no type hints
    """The documents of given per-segment masks, as a Whoosh query: the date filter wherever Whoosh's
    own collectors run (search/query/run.py), so they see what the arrays see. Scores nothing."""

    def __init__(self, searcher: Searcher, index: IndexColumns, masks: list[Mask]) -> None:
        subsearchers = searcher.leaf_searchers()
        self.by_reader = {id(subsearchers[leaf.position][0].reader()): np.flatnonzero(mask)
                          for leaf, mask in zip(index.leaves, masks, strict=True)}
        self.boost = 1.0

    def matcher(self, searcher: Searcher, context: Any = None) -> Any:
        documents = self.by_reader.get(id(searcher.reader()))
        if documents is None or not len(documents):
            return NullMatcher()
        return ListMatcher(documents.tolist(), all_weights=0.0)

    def estimate_size(self, ixreader: Any) -> int:
        return sum(len(documents) for documents in self.by_reader.values())

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.estimate_size(None)} documents)"


# --- kept counts -------------------------------------------------------------------


def kept_counts(key: tuple[object, ...]) -> Counted | None:
    return _COUNTS.get(key)


def keep_counts(key: tuple[object, ...], counted: Counted, size: int) -> None:
    """Keep counts for reuse; ``size`` (the ``facet_cache_size`` setting) 0 keeps nothing."""
    _COUNTS.put(key, counted, size)


def counts_key(searcher: Searcher, parsed: wq.Query, request: SearchQuery,
               dates: DateFilter | None = None) -> tuple[object, ...]:
    """What counts depend on: the segments and their deletions, the query, the filters, the dates resolved,
    and whether they count articles or stories."""
    segments = tuple(
        (segment.segment_id(), segment.deleted_count())
        for sub, _ in searcher.leaf_searchers()
        if (segment := sub.reader().segment()) is not None
    )
    return (segments, repr(parsed), tuple(sorted(request.filters().items())), dates, request.collapse,
            request.count)


class _Lru(Generic[K, V]):
    """A bounded map that forgets the least recently used entry first.

    One lock around each operation: the server's threads share it, and a
    lookup's "get, then mark as recent" must not see another thread evict
    the entry in between (a ``KeyError``, so a 500, under load).
    """

    def __init__(self) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V, size: int) -> None:
        if size <= 0:
            return
        with self._lock:
            self._items[key] = value
            while len(self._items) > size:
                self._items.popitem(last=False)


_COUNTS: _Lru[tuple[object, ...], Counted] = _Lru()
