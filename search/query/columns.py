"""Columns: each segment's facet values, actors and dates as numpy arrays, read once.

Part of the read side, below search/query/facets.py and search/query/run.py,
which count facets, filter and sort by date over these arrays instead of
feeding Whoosh's collectors one document at a time. Nothing above the query
stage sees them.

Per segment (``SegmentColumns``): for each single-valued facet (outlet,
year, language: sortable ID columns) a code per document into the segment's
table of values; for the multi-valued actor facet the (document, actor code)
pairs read from the actor field's postings; the ``date_key`` column as
unsigned 64-bit integers. A segment's files never change once written, so
these are built once and kept while any reader of the segment lives (and a
little beyond, in a bounded cache, so the next searcher after a commit
does not build them again). Deletions do change: which documents are live
is read from each reader's own segment (``Leaf.live``).

Per searcher (``IndexColumns``): the segments in the searcher's order with
their document offsets, and per facet one table of values over all
segments with each segment's map from its codes to the table's, so counts
from every segment add up in one array.

Reading the columns' bytes goes through Whoosh's column readers' attributes
(Whoosh is pinned; a reader of another kind is read value by value).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from whoosh import columns as whoosh_columns
from whoosh.codec import whoosh3
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length, length_to_byte

from search.query import postings

#: The single-valued facets, each a sortable ID column.
SINGLE = ("outlet", "year", "language")
ACTOR = "actor"
DATE = "date_key"
SEQ = "seq"
#: The columns whose bytes tell one segment's contents from another's (``_segment_key``).
_DIGESTED = ("id", *SINGLE, DATE)

Mask = NDArray[np.bool_]
Codes = NDArray[np.int32]


@dataclass(frozen=True, eq=False)
class Coded:
    """One facet in one segment: a code per document (or per pair) into ``values``."""

    codes: Codes
    values: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class SegmentColumns:
    """What a segment's files say, for every document, deleted or not."""

    size: int  # documents in the segment, deleted ones included
    single: dict[str, Coded]
    actor_docs: Codes  # the document of each (document, actor) pair, ascending
    actors: Coded  # the actor of each pair
    dates: NDArray[np.uint64]
    #: Each document's ingest number (``seq``): the results orders' tie-break (search/query/cursor.py).
    seqs: NDArray[np.uint64]
    #: Text field → each document's length byte (Whoosh's lossy length); filled when a field is first scored.
    lengths: dict[str, NDArray[np.uint8]] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        arrays: list[NDArray[Any]] = [self.actor_docs, self.actors.codes, self.dates, self.seqs,
                                      *self.lengths.values()]
        return sum(a.nbytes for a in arrays) + sum(c.codes.nbytes for c in self.single.values())


@dataclass(frozen=True, eq=False)
class Leaf:
    """One segment as a searcher sees it: its columns, its live documents, its place.

    No reference to a reader or searcher: this is kept weakly keyed by the
    searcher's reader, which a reference from here would keep alive forever.
    """

    position: int  # in the searcher's ``leaf_searchers()``
    offset: int  # the segment's first document number in the whole index
    columns: SegmentColumns
    live: Mask  # False for a deleted document


@dataclass(frozen=True, eq=False)
class IndexColumns:
    """Every segment of one searcher, and one table of values per facet across them."""

    leaves: tuple[Leaf, ...]
    values: dict[str, tuple[str, ...]]  # facet → every value in any segment: the table
    codes: dict[str, dict[str, int]]  # facet → value → its code in the table
    to_table: dict[str, tuple[Codes, ...]]  # facet → per leaf: its codes → the table's

    def coded(self, leaf: int, name: str) -> Coded:
        columns = self.leaves[leaf].columns
        return columns.actors if name == ACTOR else columns.single[name]

    def seqs_of(self, docnums: NDArray[np.int64]) -> NDArray[np.uint64]:
        """The ingest numbers of documents numbered in the whole index."""
        found = np.zeros(len(docnums), dtype=np.uint64)
        if not self.leaves or not len(docnums):
            return found
        at = np.searchsorted(np.array([leaf.offset for leaf in self.leaves]), docnums, side="right") - 1
        for i, leaf in enumerate(self.leaves):
            here = at == i
            found[here] = leaf.columns.seqs[docnums[here] - leaf.offset]
        return found


def index_columns(searcher: Searcher) -> IndexColumns:
    """The columns of every segment ``searcher`` reads, built on first use and kept with its reader."""
    top = searcher.reader()
    with _LOCK:
        found = _BY_SEARCHER_READER.get(top)
    if found is None:
        found = _index_columns(searcher)
        with _LOCK:
            _BY_SEARCHER_READER[top] = found
    return found


def _index_columns(searcher: Searcher) -> IndexColumns:
    leaves = []
    for position, (sub, offset) in enumerate(searcher.leaf_searchers()):
        reader = sub.reader()
        if reader.doc_count_all() == 0 or reader.segment() is None:  # an empty index
            continue
        leaves.append(Leaf(position, offset, segment_columns(reader), _live(reader)))
    values: dict[str, tuple[str, ...]] = {}
    codes: dict[str, dict[str, int]] = {}
    to_table: dict[str, tuple[Codes, ...]] = {}
    for name in (*SINGLE, ACTOR):
        tables = [leaf.columns.actors if name == ACTOR else leaf.columns.single[name] for leaf in leaves]
        codes[name], to_table[name] = _merged([t.values for t in tables])
        values[name] = tuple(codes[name])
    return IndexColumns(tuple(leaves), values, codes, to_table)


def _merged(tables: Sequence[tuple[str, ...]]) -> tuple[dict[str, int], tuple[Codes, ...]]:
    """One table of the values of all ``tables`` (value → code), and each table's map into it."""
    merged: dict[str, int] = {}
    maps = []
    for table in tables:
        maps.append(np.fromiter((merged.setdefault(v, len(merged)) for v in table), dtype=np.int32, count=len(table)))
    return merged, tuple(maps)


def _live(reader: Any) -> Mask:
    """The reader's live documents: its segment as of its commit, deletions included."""
    live = np.ones(reader.doc_count_all(), dtype=np.bool_)
    if reader.has_deletions():
        deleted = np.fromiter(reader.segment().deleted_docs(), dtype=np.int64)
        live[deleted[deleted < len(live)]] = False
    return _read_only(live)


# --- one segment -------------------------------------------------------------------


def segment_columns(reader: Any) -> SegmentColumns:
    """A segment reader's columns: kept with the reader, shared with other readers of the same segment."""
    with _LOCK:
        found = _BY_READER.get(reader)
    if found is not None:
        return found
    opened = _Columns(reader)
    key = _segment_key(reader, opened)
    found = _SHARED.get(key) if key is not None else None
    if found is None:
        found = _build(reader, opened)
        if key is not None:
            _SHARED.put(key, found)
    with _LOCK:
        _BY_READER[reader] = found
    return found


class _Columns:
    """A segment reader's column readers, each opened once (opening one reads its table of offsets)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self._opened: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        """The column's reader (untranslated: bytes), or None if no document of the segment has one."""
        if name not in self._opened:
            has = self.reader.has_column(name)
            self._opened[name] = self.reader.column_reader(name, translate=False) if has else None
        return self._opened[name]


def _segment_key(reader: Any, opened: _Columns) -> tuple[object, ...] | None:
    """What identifies a segment's contents across readers: its id, its size, a digest of its columns.

    Segment ids are random names, but Whoosh draws them from the global
    ``random``, which a seeded test (or library) makes repeat; the digest of
    the articles' ids, facet values and dates keeps two such segments apart.
    None if a column cannot be read whole: then nothing is shared.
    """
    digest = hashlib.blake2b(digest_size=16)
    for name in _DIGESTED:
        data = _raw_column(opened.get(name))
        if data is None:
            return None
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return (reader.segment().segment_id(), reader.doc_count_all(), digest.digest())


def _build(reader: Any, opened: _Columns) -> SegmentColumns:
    size = reader.doc_count_all()
    single = {name: _coded_column(reader.schema[name], opened.get(name), size) for name in SINGLE}
    actor_docs, actors = _actor_pairs(reader)
    return SegmentColumns(size, single, actor_docs, actors, _read_only(_numbers(opened.get(DATE), size)),
                          _read_only(_numbers(opened.get(SEQ), size)))


def _coded_column(field: Any, opened: Any, size: int) -> Coded:
    column: Iterable[bytes]
    if opened is None:
        column = [field.column_type.default_value()] * size
    else:
        column = var_bytes_values(opened) or opened
    index: dict[bytes, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in column), dtype=np.int32, count=size)
    return Coded(_read_only(codes), tuple(field.from_column_value(v) for v in index))


def var_bytes_values(column: Any) -> list[bytes] | None:
    """Every value of a variable-length column, sliced from its bytes in one read."""
    if type(column) is not whoosh_columns.VarBytesColumn.Reader:
        return None
    offsets, lengths = column._offsets, column._lengths
    if not len(lengths):
        return []
    data = column._dbfile.get(column._basepos, offsets[-1] + lengths[-1])
    return [data[o:o + n] for o, n in zip(offsets, lengths, strict=True)]


def numeric_column(reader: Any, fieldname: str, size: int) -> NDArray[np.uint64]:
    """A segment's unsigned numeric column (``date_key``, ``seq``) as an array, deleted documents
    included; 0 where a document has no value or the segment no such column.

    The stored values are read in one go, not value by value: read by value, a
    large index's front page spent tens of milliseconds on its ``seq`` column.
    """
    if not reader.has_column(fieldname):
        return np.zeros(size, dtype=np.uint64)
    return _numbers(reader.column_reader(fieldname, translate=False), size)


def _numbers(column: Any, size: int) -> NDArray[np.uint64]:
    if column is None:
        return np.zeros(size, dtype=np.uint64)
    data = _numeric_bytes(column)
    if data is None:
        return np.fromiter(column, dtype=np.uint64, count=size)
    dates = np.full(size, column._default, dtype=np.uint64)
    stored = np.frombuffer(data, dtype=">" + column._typecode).astype(np.uint64)
    dates[: len(stored)] = stored
    return dates


def field_lengths(reader: Any, columns: SegmentColumns, fieldname: str, ids: NDArray[np.int32]) -> NDArray[np.float64]:
    """Documents' lengths in a text field, as Whoosh's BM25F scorer reads them
    (``doc_field_length(docnum, field, 1)``: the length byte decoded; 1 without one)."""
    stored = columns.lengths.get(fieldname)
    if stored is None:
        stored = columns.lengths[fieldname] = _read_only(_length_bytes(reader, columns.size, fieldname))
    decoded: NDArray[np.float64] = _DECODED_LENGTHS[stored[ids]]
    return decoded


def _length_bytes(reader: Any, size: int, fieldname: str) -> NDArray[np.uint8]:
    stored = np.zeros(size, dtype=np.uint8)
    column = _length_column(reader, fieldname)
    data = _numeric_bytes(column) if column is not None else None
    if data is not None:
        stored[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    elif column is not None:
        stored[:] = np.fromiter(column, dtype=np.uint8, count=size)
    else:  # another codec: its lengths, encoded as Whoosh's codec would store them
        stored[:] = [length_to_byte(reader.doc_field_length(d, fieldname, 0) or 0) for d in range(size)]
    return stored


def _length_column(reader: Any, fieldname: str) -> Any:
    """The segment's column of field length bytes (Whoosh keeps it beside the fields, not in the schema)."""
    perdoc: Any = getattr(reader, "_perdoc", None)
    if type(perdoc) is not whoosh3.W3PerDocReader:
        return None
    return perdoc._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)


#: Length byte → the length Whoosh decodes from it; 0 (no length stored) reads as 1.
_DECODED_LENGTHS = np.array([1] + [byte_to_length(b) for b in range(1, 256)], dtype=np.float64)


def _read_only(array: NDArray[Any]) -> NDArray[Any]:
    array.flags.writeable = False
    return array


def _numeric_bytes(column: Any) -> bytes | None:
    """A numeric column's stored values (the first ones; the rest are its default), big-endian."""
    if type(column) is not whoosh_columns.NumericColumn.Reader or column._typecode not in "QqIiHhBb":
        return None
    data: bytes = column._dbfile.get(column._basepos, column._count * column._fixedlen)
    return data


def _raw_column(column: Any) -> bytes | None:
    """A column's bytes as written (for the segment's digest); None if it cannot be read whole."""
    if column is None:
        return b""
    if type(column) is whoosh_columns.NumericColumn.Reader:
        return _numeric_bytes(column)
    if type(column) is not whoosh_columns.VarBytesColumn.Reader:
        return None
    data: bytes = column._dbfile.get(column._basepos, column._length)
    return data


def _actor_pairs(reader: Any) -> tuple[Codes, Coded]:
    """(document, actor) pairs from the actor field's postings, deleted documents included."""
    docs: list[NDArray[np.int32]] = []
    values: list[str] = []
    for btext in reader.lexicon(ACTOR):
        found = postings.read_term(reader, ACTOR, btext)
        if found is not None:
            docs.append(found[0])
            values.append(btext.decode("utf-8"))
    if not docs:
        return np.zeros(0, dtype=np.int32), Coded(np.zeros(0, dtype=np.int32), ())
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    all_docs = np.concatenate(docs)
    codes = np.repeat(np.arange(len(docs), dtype=np.int32), lengths)
    order = np.argsort(all_docs, kind="stable")
    return _read_only(all_docs[order].astype(np.int32)), Coded(_read_only(codes[order]), tuple(values))


# --- keeping -------------------------------------------------------------------------

#: Reader → its segment's columns; searcher's top reader → its ``IndexColumns``.
#: Weak keys: an entry goes with its reader, never by segment id alone.
_BY_READER: weakref.WeakKeyDictionary[Any, SegmentColumns] = weakref.WeakKeyDictionary()
_BY_SEARCHER_READER: weakref.WeakKeyDictionary[Any, IndexColumns] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class _Shared:
    """Columns by segment contents, the least recently used dropped past a total size.

    A new searcher's readers find here what the previous searcher's built;
    the size bound keeps segments merged away from piling up.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[object, ...], SegmentColumns] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> SegmentColumns | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], columns: SegmentColumns) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = columns
            # Summed afresh (a few dozen entries): the items may be cleared from outside.
            while len(self._items) > 1 and sum(c.nbytes for c in self._items.values()) > self.max_bytes:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


#: About 50 bytes per document: 64 MB holds a few generations of a million-article index's columns.
_SHARED = _Shared(max_bytes=64 << 20)
