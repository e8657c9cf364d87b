"""Facets: how the query stage counts outlet, actor, year and language.

Part of the read side (``search.query`` runs the searches and asks here for
the facet definitions and for kept counts). Two things make counting cheap:

* single-valued facets (outlet, year, language) are sortable columns; a
  segment reader's column readers are kept while the reader lives (opening
  one re-reads the column's offset table: 8% of a search's CPU when every
  search opened three per segment), so a server thread's kept searcher
  opens each once;
* the multi-valued actor facet reads each document's actor ids from a
  per-segment list built once: segments never change once written. Whoosh's
  own overlap faceting rebuilds those lists from the postings on every
  search, or reads a term vector per matching document; ``bench/
  ingest_search.py`` measures all three paths.

Counts for one (query, filters) pair only change when the index does, and
paging or reloading the front page asks for them again, so they are kept,
keyed by the exact segments (and deletions) they were counted on.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from whoosh import query as wq
from whoosh import sorting
from whoosh.searching import Searcher

from search.records import SearchQuery

K = TypeVar("K")
V = TypeVar("V")

Counts = dict[str, dict[str, int]]  # facet → value → count


def facet_types(names: Iterable[str]) -> sorting.Facets:
    """The Whoosh facets that count ``names``."""
    facets = sorting.Facets()
    for name in names:
        facet = _ActorFacet() if name == "actor" else _ColumnFacet(name, maptype=sorting.Count)
        facets.add_facet(name, facet)
    return facets


def kept_counts(key: tuple[object, ...]) -> Counts | None:
    return _COUNTS.get(key)


def keep_counts(key: tuple[object, ...], counts: Counts, size: int) -> None:
    """Keep counts for reuse; ``size`` (the ``facet_cache_size`` setting) 0 keeps nothing."""
    _COUNTS.put(key, counts, size)


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


_COUNTS: _Lru[tuple[object, ...], Counts] = _Lru()
_SEGMENT_ACTORS: _Lru[str, list[tuple[str, ...]]] = _Lru()
_SEGMENTS_KEPT = 256


class _ColumnFacet(sorting.FieldFacet):  # type: ignore[misc]  # whoosh ships no type hints
    """A single-valued facet counted from its column, with the column readers kept per segment reader."""

    def categorizer(self, global_searcher: Searcher) -> sorting.Categorizer:
        if not global_searcher.reader().has_column(self.fieldname):  # an empty index: Whoosh's own way
            return super().categorizer(global_searcher)
        return _KeptColumnCategorizer(global_searcher, self.fieldname)


class _KeptColumnCategorizer(sorting.ColumnCategorizer):  # type: ignore[misc]
    def set_searcher(self, segment_searcher: Searcher, docoffset: int) -> None:
        self._creader = _column_reader(segment_searcher.reader(), self._fieldname)


#: Segment reader → its column readers, dropped with the reader. A column
#: reader reads through its reader's files, so it must not outlive them: keyed
#: by the reader object (weakly), never by segment id, which a new searcher's
#: reader of the same segment shares.
_COLUMN_READERS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_COLUMN_LOCK = threading.Lock()


def _column_reader(reader: Any, fieldname: str) -> Any:
    with _COLUMN_LOCK:
        columns = _COLUMN_READERS.setdefault(reader, {})
        column = columns.get(fieldname)
        if column is None:
            column = columns[fieldname] = reader.column_reader(fieldname, translate=False)
        return column


class _ActorFacet(sorting.FacetType):  # type: ignore[misc]  # whoosh ships no type hints
    """The multi-valued actor facet, counted from the per-segment lists."""

    maptype = sorting.Count

    def categorizer(self, global_searcher: Searcher) -> sorting.Categorizer:
        return _ActorCategorizer()


class _ActorCategorizer(sorting.Categorizer):  # type: ignore[misc]
    allow_overlap = True

    def __init__(self) -> None:
        self._lists: list[tuple[str, ...]] = []

    def set_searcher(self, segment_searcher: Searcher, docoffset: int) -> None:
        self._lists = _segment_actors(segment_searcher.reader())

    def keys_for(self, matcher: Any, docid: int) -> tuple[str, ...]:
        return self._lists[docid]


def _segment_actors(reader: Any) -> list[tuple[str, ...]]:
    """Every document's actor ids in one segment, built once and kept."""
    if reader.segment() is None:  # an empty index has no segment
        return []
    key = f"{reader.segment().segment_id()}:{reader.doc_count_all()}"
    cached = _SEGMENT_ACTORS.get(key)
    if cached is None:
        lists: list[list[str]] = [[] for _ in range(reader.doc_count_all())]
        for btext in reader.lexicon("actor"):
            actor = btext.decode("utf-8")
            for docid in reader.postings("actor", btext).all_ids():
                lists[docid].append(actor)
        cached = [tuple(actors) for actors in lists]
        _SEGMENT_ACTORS.put(key, cached, _SEGMENTS_KEPT)
    return cached
