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

Counts for one (query, filters) pair only change when the index does, and
paging or reloading the front page asks for them again, so they are kept
with the total, keyed by the exact segments (and deletions) they were
counted on.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Generic, TypeVar

import numpy as np
from whoosh import query as wq
from whoosh.searching import Searcher

from search.query.columns import ACTOR, IndexColumns, Mask
from search.records import FACETS, SearchQuery

K = TypeVar("K")
V = TypeVar("V")

Counts = dict[str, dict[str, int]]  # facet → value → count
Filters = Mapping[str, tuple[str, ...]]  # facet → the values picked (OR)


@dataclass(frozen=True)
class Counted:
    """The four facets' counts and the number of documents under the query and all filters."""

    counts: Counts
    total: int


def selections(index: IndexColumns, filters: Filters) -> list[dict[str, Mask]]:
    """Per segment, per filtered facet: the documents holding any of the picked values."""
    picked = {name: _picked(index, name, values) for name, values in filters.items()}
    return [
        {name: _documents(index, i, name, chosen[index.to_table[name][i]]) for name, chosen in picked.items()}
        for i in range(len(index.leaves))
    ]


def narrowed(masks: list[Mask], chosen: list[dict[str, Mask]]) -> list[Mask]:
    """Per segment, the documents matched under every filter."""
    return [reduce(np.logical_and, filters.values(), mask) for mask, filters in zip(masks, chosen, strict=True)]


def count(index: IndexColumns, masks: list[Mask], chosen: list[dict[str, Mask]]) -> Counts:
    """Each facet counted over ``masks`` under every *other* facet's filters."""
    totals = {name: np.zeros(len(index.values[name]), dtype=np.int64) for name in FACETS}
    for i, (mask, filters) in enumerate(zip(masks, chosen, strict=True)):
        everywhere = reduce(np.logical_and, filters.values(), mask)
        for name in FACETS:
            if name in filters:
                under = reduce(np.logical_and, (f for other, f in filters.items() if other != name), mask)
            else:
                under = everywhere
            coded = index.coded(i, name)
            picked = coded.codes[under[index.leaves[i].columns.actor_docs]] if name == ACTOR else coded.codes[under]
            # A segment's codes map to distinct table codes, so adding by fancy index adds each once.
            totals[name][index.to_table[name][i]] += np.bincount(picked, minlength=len(coded.values))
    return {name: _by_value(index.values[name], totals[name]) for name in FACETS}


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


# --- kept counts -------------------------------------------------------------------


def kept_counts(key: tuple[object, ...]) -> Counted | None:
    return _COUNTS.get(key)


def keep_counts(key: tuple[object, ...], counted: Counted, size: int) -> None:
    """Keep counts for reuse; ``size`` (the ``facet_cache_size`` setting) 0 keeps nothing."""
    _COUNTS.put(key, counted, size)


def counts_key(searcher: Searcher, parsed: wq.Query, request: SearchQuery) -> tuple[object, ...]:
    """What counts depend on: the segments and their deletions, the query, the filters."""
    segments = tuple(
        (segment.segment_id(), segment.deleted_count())
        for sub, _ in searcher.leaf_searchers()
        if (segment := sub.reader().segment()) is not None
    )
    return (segments, repr(parsed), tuple(sorted(request.filters().items())))


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
