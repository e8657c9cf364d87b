"""Stories: the copies of one text (a syndication cluster) counted and listed once.

Part of the query stage, beside search/query/facets.py and below
search/query/run.py and search/query/export.py. The index stage gives every
article its cluster's id (search/index/duplicates.py: the copies of one wire
story share one, an article alone has its own id); here every document of a
searcher gets a **story code**, the same for every article of a cluster in
whatever segment it stands. The codes are read from each segment's
``cluster`` column in one go (an article indexed without one is its own
story, named by its id, as ``from_stored`` names it), numbered once per
searcher with numpy, and kept with its ``IndexColumns``.

What reads them:

* a results page collapsed to stories (``collapse=story``): ``firsts``
  keeps the first article of each story in the page's order (its best
  scored, or its newest), and ``total`` counts the stories it pages over;
* counts in stories (``count=stories``, implied by ``collapse=story`` in
  the API, a choice of the reader's on the page): the total, the facets
  (``facet_counts``) and the undated count, where a story with copies in
  three outlets counts once under each of them, and once in the total;
* the copies an export lists beside each article (``Stories.copies``): the
  live articles of its story, as a results page shows them.

Nothing counts in stories unless asked: ``/api/search`` without
``collapse=story`` or ``count=stories``, the results page unless the reader
switches, the timeline, exports and alerts count every article.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from whoosh import columns as whoosh_columns
from whoosh.searching import Searcher

from search.query import columns
from search.query.columns import ACTOR, Codes, IndexColumns, Mask
from search.query.facets import Chosen, Counts, under_others
from search.records import FACETS

#: ``SearchQuery.collapse``'s value that lists one result per story ("": every article).
STORY = "story"
#: ``SearchQuery.count``'s value that counts stories rather than articles.
STORIES = "stories"


@dataclass(frozen=True, eq=False)
class Stories:
    """Each document's story, for one searcher's documents (deleted ones included)."""

    by_docnum: Codes  # the story of each document number of the whole index
    codes: tuple[Codes, ...]  # per leaf of the ``IndexColumns``: its slice of ``by_docnum``
    count: int  # stories: codes run from 0 to count - 1
    live: NDArray[np.int64]  # live articles per story, deleted ones left out: its copies

    def copies(self, docnums: NDArray[np.int64]) -> NDArray[np.int64]:
        """How many live articles the story of each of these documents holds (1 for an article alone)."""
        found: NDArray[np.int64] = np.maximum(self.live[self.by_docnum[docnums]], 1)
        return found


def stories(searcher: Searcher, index: IndexColumns) -> Stories:
    """The story of every document ``index`` (``searcher``'s columns) holds: built once, kept with ``index``."""
    with _LOCK:
        found = _BY_INDEX.get(index)
    if found is None:
        found = _stories(searcher, index)
        with _LOCK:
            _BY_INDEX[index] = found
    return found


def total(found: Stories, masks: list[Mask]) -> int:
    """How many stories the documents of ``masks`` (per leaf) belong to."""
    seen = np.zeros(found.count, dtype=np.bool_)
    for codes, mask in zip(found.codes, masks, strict=True):
        seen[codes[mask]] = True
    return int(np.count_nonzero(seen))


def undated(index: IndexColumns, found: Stories, masks: list[Mask]) -> int:
    """How many stories the undated documents of ``masks`` belong to (facets.undated, in stories)."""
    return total(found, [mask & (leaf.columns.dates == 0) for leaf, mask in zip(index.leaves, masks, strict=True)])


def facet_counts(index: IndexColumns, found: Stories, masks: list[Mask], chosen: Chosen) -> Counts:
    """Each facet counted in stories over ``masks`` under every *other* facet's filters (facets.count's
    multi-select counts): per value, the stories with at least one such article holding it.

    Each facet's (story, value) pairs — one per document, one per (document,
    actor) pair for actors — are put in (story, value) order once per
    searcher (``_pairs``); a count then takes the pairs of the documents
    counted, in that order, and counts a pair only where it differs from
    the one before: no sort per search, and a story whose copies stand in
    two segments counts once.
    """
    end = len(found.by_docnum)
    counts: Counts = {}
    for name in FACETS:
        under = np.zeros(end, dtype=np.bool_)
        for leaf, mask, filters in zip(index.leaves, masks, chosen, strict=True):
            under[leaf.offset:leaf.offset + leaf.columns.size] = under_others(mask, filters, name)
        pairs = _pairs(index, found, name)
        taken = under[pairs.docs]
        story, value = pairs.stories[taken], pairs.values[taken]
        first = np.ones(len(story), dtype=np.bool_)
        first[1:] = (story[1:] != story[:-1]) | (value[1:] != value[:-1])
        per_value = np.bincount(value[first], minlength=len(index.values[name]))
        present = np.flatnonzero(per_value)
        counts[name] = dict(zip([index.values[name][v] for v in present.tolist()], per_value[present].tolist(),
                                strict=True))
    return counts


@dataclass(frozen=True, eq=False)
class _Pairs:
    """One facet's (document, story, value) triples over the whole index, in (story, value) order."""

    docs: Codes  # the document's number in the whole index
    stories: Codes
    values: Codes  # the value's code in the facet's table (``IndexColumns.values``)

    @property
    def nbytes(self) -> int:
        return self.docs.nbytes + self.stories.nbytes + self.values.nbytes


def _pairs(index: IndexColumns, found: Stories, name: str) -> _Pairs:
    """A facet's pairs in (story, value) order: sorted once per searcher, when a count in stories first asks."""
    with _LOCK:
        kept = _PAIRS.setdefault(found, {})
        pairs = kept.get(name)
    if pairs is not None:
        return pairs
    docs, values = [], []
    for i, leaf in enumerate(index.leaves):
        coded = index.coded(i, name)
        local = leaf.columns.actor_docs if name == ACTOR else np.arange(leaf.columns.size, dtype=np.int32)
        docs.append((local + leaf.offset).astype(np.int32))
        values.append(index.to_table[name][i][coded.codes])
    all_docs = np.concatenate(docs) if docs else np.zeros(0, dtype=np.int32)
    all_values = np.concatenate(values) if values else np.zeros(0, dtype=np.int32)
    story = found.by_docnum[all_docs]
    order = np.lexsort((all_values, story))
    pairs = _Pairs(all_docs[order], story[order], all_values[order])
    with _LOCK:
        kept[name] = pairs
    return pairs


Ranked = list[tuple[Any, int]]  # (sort key, document number) pairs, first first: the page's order


def firsts(rank: Callable[[int], Ranked], found: Stories, limit: int, available: int, stories: int) -> Ranked:
    """The first ``limit`` stories in ``rank``'s order, each as its first article there.

    ``rank(n)`` gives the first ``n`` matched documents in the page's order,
    of ``available`` matched documents in ``stories`` stories. The first
    ranking asks for as many documents as ``limit`` stories hold on average
    (and a quarter more); should copies still crowd the page, the next asks
    for as many more as the stories found so far suggest, until the page is
    full or every document is ranked.
    """
    per_story = available / max(stories, 1)
    wanted = min(available, max(limit, math.ceil(limit * per_story * 1.25)))
    while True:
        ranked = rank(wanted)
        kept = _first_of_each(ranked, found)
        if len(kept) >= limit or len(ranked) < wanted or wanted >= available:
            return kept[:limit]
        # As many documents per story as so far, twice over: two or three rounds however large the copies.
        wanted = min(available, max(wanted * 2, 2 * wanted * limit // max(len(kept), 1)))


def _first_of_each(ranked: Ranked, found: Stories) -> Ranked:
    if not ranked:
        return []
    docnums = np.fromiter((docnum for _, docnum in ranked), dtype=np.int64, count=len(ranked))
    _, first = np.unique(found.by_docnum[docnums], return_index=True)
    return [ranked[i] for i in np.sort(first).tolist()]


# --- building ------------------------------------------------------------------------


def _stories(searcher: Searcher, index: IndexColumns) -> Stories:
    subsearchers = searcher.leaf_searchers()
    end = max((leaf.offset + leaf.columns.size for leaf in index.leaves), default=0)
    names: list[NDArray[np.bytes_]] = []
    for leaf in index.leaves:
        reader = subsearchers[leaf.position][0].reader()
        cluster = _id_column(reader, "cluster", leaf.columns.size)
        ids = _id_column(reader, "id", leaf.columns.size)
        names.append(np.where(cluster == b"", ids, cluster))  # no cluster stored: the article is its own story
    by_docnum = np.zeros(end, dtype=np.int32)
    count = 0
    if names:
        unique, inverse = np.unique(np.concatenate(names), return_inverse=True)
        count = len(unique)
        inverse = inverse.astype(np.int32)
        at = 0
        for leaf in index.leaves:
            by_docnum[leaf.offset:leaf.offset + leaf.columns.size] = inverse[at:at + leaf.columns.size]
            at += leaf.columns.size
    by_docnum.flags.writeable = False
    codes = tuple(by_docnum[leaf.offset:leaf.offset + leaf.columns.size] for leaf in index.leaves)
    live = np.zeros(count, dtype=np.int64)
    for leaf, leaf_codes in zip(index.leaves, codes, strict=True):
        live += np.bincount(leaf_codes[leaf.live], minlength=count)
    return Stories(by_docnum, codes, count, live)


def _id_column(reader: Any, name: str, size: int) -> NDArray[np.bytes_]:
    """Every document's value in a sortable ID column (``id``, ``cluster``), deleted ones included; ``b""``
    where a document has none, or the segment no such column.

    Values of one length (ids: 20 hex digits) stand one after another in the
    column's bytes, which are then the array; otherwise each value is read.
    """
    if not reader.has_column(name):
        return np.full(size, b"", dtype="S1")
    column = reader.column_reader(name, translate=False)
    if type(column) is whoosh_columns.VarBytesColumn.Reader and len(column._lengths) == size > 0:
        lengths = np.asarray(column._lengths)
        width = int(lengths[0])
        if width and (lengths == width).all() \
                and np.array_equal(np.asarray(column._offsets), np.arange(len(lengths)) * width):
            data = column._dbfile.get(column._basepos, width * len(lengths))
            return np.frombuffer(data, dtype=f"S{width}")
    values = columns.var_bytes_values(column)
    found = np.array(values if values is not None else list(column), dtype=np.bytes_)
    return found if len(found) >= size else np.concatenate([found, np.full(size - len(found), b"", dtype="S1")])


#: ``IndexColumns`` → its stories, and their facets' pairs; weak keys: they go with the searcher's columns.
_BY_INDEX: weakref.WeakKeyDictionary[IndexColumns, Stories] = weakref.WeakKeyDictionary()
_PAIRS: weakref.WeakKeyDictionary[Stories, dict[str, _Pairs]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
