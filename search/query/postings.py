"""Postings: a term's document numbers, weights and positions in one segment, as numpy arrays.

Part of the read side, under search/query/matches.py (which documents a query
matches, and their scores) and search/query/columns.py (the actors of each
document). Whoosh's matchers step through a posting list in Python, a few
calls per document, and read each block's header with many small reads. A
posting list is a header, then blocks of up to 128 postings: the block's
length, its pickled statistics, its pickled (and compressed) document
numbers (delta-coded), weights and values (whoosh/codec/whoosh3.py). Here
each block is read with one slice of the postings file and decoded with
numpy (``read_term``).

This reads Whoosh's codec below its public interface (Whoosh is pinned;
tests/test_query_arrays.py checks every term of an index against Whoosh's
matchers); another codec's terms are read through its matchers. Any other
matcher (a span, an unusual query) is stepped through in chunks, checking the
time limit between them. Deleted documents are *not* left out: callers mask
them with the segment's live documents.
"""

from __future__ import annotations

import io
import itertools
import pickle
import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3LeafMatcher, W3TermsReader
from whoosh.matching import FilterMatcher, ListMatcher, NullMatcherClass, WrappingMatcher
from whoosh.reading import TermNotFound

Ids = NDArray[np.int32]
Weights = NDArray[np.float64]
Check = Callable[[], None]

#: Between time checks: blocks of a posting list, or documents of a matcher stepped through in Python.
_BLOCKS_PER_CHECK = 64
_DOCS_PER_CHECK = 4096

_INT = struct.Struct("!i")  # a block's length, as Whoosh's StructFile writes it

_NO_IDS: Ids = np.zeros(0, dtype=np.int32)
_NO_WEIGHTS: Weights = np.zeros(0, dtype=np.float64)


def all_ids(matcher: Any, check: Check | None = None) -> Ids:
    """Every document number ``matcher`` matches from its start, ascending.

    A term's matcher may be wrapped to leave deleted documents out (or to
    boost its score): that wrapper is looked through, so the numbers may
    include deleted documents. ``check`` (the search's deadline) is called
    every few thousand documents.
    """
    leaf = _leaf(matcher)
    if leaf is None:
        return _stepped(matcher, check)
    return term_postings(leaf, check)[0]


def read_term(reader: Any, fieldname: str, text: bytes, check: Check | None = None) -> tuple[Ids, Weights] | None:
    """A term's document numbers and weights in one segment (deleted documents included), or None
    if the segment does not hold the term: what ``reader.postings`` would yield, read in one go."""
    found = read_term_values(reader, fieldname, text, check)
    return None if found is None else found[:2]


def read_term_values(reader: Any, fieldname: str, text: bytes,
                     check: Check | None = None) -> tuple[Ids, Weights, list[bytes] | None] | None:
    """``read_term``, with each posting's value as stored (a text field's positions), or None for
    the values when the posting list is not read here.

    A posting list is a header, then blocks: the block's length (negative
    for the last), its pickled statistics, its pickled (and compressed)
    data. Reading each block with one slice of the postings file and
    parsing it from memory spares Whoosh's matcher its many small reads.
    """
    try:
        info = reader.term_info(fieldname, text)
    except TermNotFound:
        return None
    if info.is_inlined():  # a short posting list, kept inline in the term index
        ids, weights, values = info.inlined_postings()
        return np.asarray(ids, dtype=np.int32), (np.asarray(weights, dtype=np.float64) if weights
                                                   else np.ones(len(ids), dtype=np.float64)), list(values)
    terms: Any = getattr(reader, "_terms", None)
    if type(terms) is not W3TermsReader:
        return (*term_postings(reader.postings(fieldname, text), check), None)
    return _parsed(terms._postfile, info.extent()[0], check)


def _parsed(postfile: Any, offset: int, check: Check | None) -> tuple[Ids, Weights, list[bytes]]:
    if postfile.get(offset, 4) != WHOOSH3_HEADER_MAGIC:
        raise ValueError(f"no posting list at {offset}")
    position = offset + 4
    deltas: list[tuple[int, ...]] = []
    weights: list[Any] = []
    values: list[bytes] = []
    ends: list[int] = []
    while True:
        (length,) = _INT.unpack(postfile.get(position, 4))
        block = postfile.get(position + 4, abs(length))
        stream = io.BytesIO(block)
        info = pickle.load(stream)  # (postings, last id, max weight, compression, min and max length)
        data = block[stream.tell():]
        ids_block, weights_block, values_block = pickle.loads(zlib.decompress(data) if info[3] else data)
        deltas.append(ids_block)
        weights.append(weights_block)
        if values_block:
            values.extend(values_block)
        ends.append(info[1])
        if length < 0:
            break
        position += 4 + length
        if check is not None and len(deltas) % _BLOCKS_PER_CHECK == 0:
            check()
    return (*_decoded(deltas, weights, ends), values)


def term_postings(matcher: Any, check: Check | None = None) -> tuple[Ids, Weights]:
    """A single term's document numbers and the weight Whoosh's matcher gives each (wrappers looked through)."""
    leaf = _leaf(matcher)
    if leaf is None:
        raise TypeError(f"not a single term's matcher: {matcher!r}")
    if isinstance(leaf, NullMatcherClass):
        return _NO_IDS, _NO_WEIGHTS
    if type(leaf) is ListMatcher:  # a short posting list, kept inline in the term index
        return _listed(leaf)
    return _blocks(leaf, check)


def term(matcher: Any) -> tuple[str, bytes] | None:
    """The term a single term's matcher reads, or None for any other matcher."""
    leaf = _leaf(matcher)
    if leaf is None or isinstance(leaf, NullMatcherClass):
        return None
    found: tuple[str, bytes] | None = leaf.term()
    return found


def is_term(matcher: Any) -> bool:
    """Whether ``matcher`` reads one term's postings (or nothing), so ``term_postings`` can read it."""
    return _leaf(matcher) is not None


def _leaf(matcher: Any) -> Any:
    """The term's own posting reader under ``matcher``'s wrappers, or None if it is not one."""
    while type(matcher) in (FilterMatcher, WrappingMatcher):
        matcher = matcher.child
    if isinstance(matcher, NullMatcherClass) or type(matcher) is ListMatcher:
        return matcher
    if type(matcher) is W3LeafMatcher and not matcher._byteids:
        return matcher
    return None


def _listed(leaf: ListMatcher) -> tuple[Ids, Weights]:
    ids = np.asarray(leaf._ids, dtype=np.int32)
    if leaf._all_weights:  # as ListMatcher.weight() gives them
        weights = np.full(len(ids), leaf._all_weights, dtype=np.float64)
    elif leaf._weights:
        weights = np.asarray(leaf._weights, dtype=np.float64)
    else:
        weights = np.ones(len(ids), dtype=np.float64)
    return ids, weights


def _blocks(leaf: W3LeafMatcher, check: Check | None) -> tuple[Ids, Weights]:
    # A wrapper may have moved the reader on (past deleted documents): start over.
    leaf.reset()
    deltas: list[tuple[int, ...]] = []
    weights: list[Any] = []
    ends: list[int] = []  # each block's last document number
    while True:
        leaf._read_data()
        deltas.append(leaf._data[0])
        weights.append(leaf._data[1])
        ends.append(leaf._maxid)
        if leaf._lastblock:
            break
        leaf._goto(leaf._nextoffset)
        if check is not None and len(deltas) % _BLOCKS_PER_CHECK == 0:
            check()
    return _decoded(deltas, weights, ends)


def _decoded(deltas: list[tuple[int, ...]], weights: list[Any], ends: list[int]) -> tuple[Ids, Weights]:
    lengths = np.fromiter((len(d) for d in deltas), dtype=np.int64, count=len(deltas))
    flat = np.fromiter(itertools.chain.from_iterable(deltas), dtype=np.int64, count=int(lengths.sum()))
    # Each block's first number is absolute (its deltas start from 0): make it
    # relative to the previous block's last, so one running sum decodes all.
    flat[np.cumsum(lengths)[:-1]] -= np.asarray(ends[:-1], dtype=np.int64)
    return np.cumsum(flat).astype(np.int32), _weights(weights, lengths)


def _weights(blocks: list[Any], lengths: NDArray[np.int64]) -> Weights:
    """Each posting's weight as ``W3LeafMatcher.weight()`` gives it: a block
    stores none (all 1.0), one for all (read back as a 32-bit float), or one each."""
    parts = []
    for stored, length in zip(blocks, lengths.tolist(), strict=True):
        if stored is None:
            parts.append(np.ones(length, dtype=np.float64))
        elif isinstance(stored, float):
            parts.append(np.full(length, np.float32(stored), dtype=np.float64))
        else:
            parts.append(np.asarray(stored, dtype=np.float64))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _stepped(matcher: Any, check: Check | None) -> Ids:
    ids = matcher.all_ids()
    chunks = []
    while True:
        chunk = np.fromiter(itertools.islice(ids, _DOCS_PER_CHECK), dtype=np.int32)
        if not len(chunk):
            break
        chunks.append(chunk)
        if check is not None:
            check()
    return np.concatenate(chunks) if chunks else _NO_IDS
