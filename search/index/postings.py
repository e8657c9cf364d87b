"""A term's postings as blocks in the postings file: what Whoosh's postings writer writes, in fewer bytes and less time.

Part of the index stage, under search/index/codec.py (whose field writer
hands each term's postings here) and read by Whoosh's unchanged ``W3Codec``
reader.

* **Compact blocks.** Whoosh pickles each block of postings with pickle
  protocol 2, which spells every ``bytes`` value (a posting's positions) as
  a call to ``codecs.encode``, about 40 bytes, and then compresses every
  block with zlib even when that makes it longer. Most terms have one
  posting in a segment (on the shared corpus 60 %), so this is most of
  the postings file. Here a block is pickled with protocol 3 (``bytes`` as
  bytes) and compressed only when that makes it shorter, the block's header
  saying so: a one-posting block falls from about 97 to 55 bytes.
* **A term at once.** A term's postings are written in one pass with the
  bytes of its term info, without Whoosh's objects per block and per term;
  a one-posting term's block is spelled out by hand (``_single``).
"""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from array import array
from typing import Any

from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3PostingsWriter, W3TermInfo
from whoosh.filedb.structfile import StructFile
from whoosh.system import pack_int
from whoosh.util.numeric import length_to_byte
from whoosh.util.numlists import delta_encode

__all__ = ["PostingsWriter", "shared_term_info"]

#: Blocks shorter than this are not worth a zlib attempt (its header and
#: checksum alone are 6 bytes).
_WORTH_COMPRESSING = 64
#: Protocol 3 pickles ``bytes`` as bytes and has no frame header.
_PICKLE_PROTOCOL = 3
_PROTOCOL_3_HEADER = b"\x80\x03"
_TERM_INFO = struct.Struct("!BfIBBfII")  # W3TermInfo._struct: flags, weight, frequency, lengths, max weight, ids
_EXTENT = struct.Struct("!qi")  # a term info's postings offset and length (pack_long, pack_int)


class PostingsWriter(W3PostingsWriter):  # type: ignore[misc]
    """Whoosh's postings writer with compact blocks (see the module's docstring), a term's postings taken at once.

    It keeps the file position itself (Whoosh asked the file at every term's
    start and end, a tenth of the writing time on the corpus): nothing else
    writes to a postings file while its field is written.
    """

    _terminfo: Any  # a W3TermInfo while in a term, else None

    def __init__(self, postfile: StructFile, **kwargs: Any) -> None:
        super().__init__(postfile, **kwargs)
        self._position: int = postfile.tell()

    def start_postings(self, format_: Any, terminfo: W3TermInfo) -> None:
        if self._terminfo:
            raise RuntimeError("Called start in a term")
        self._format = format_
        self._blockcount = 0
        self._new_block()
        self._terminfo = terminfo
        self._startoffset = self._position

    def finish_postings(self) -> W3TermInfo:
        terminfo = self._terminfo
        if self._ids:
            self._write_block(last=True)
        terminfo.set_extent(self._startoffset, self._position - self._startoffset)
        self._terminfo = None
        return terminfo

    def write_term(self, format_: Any, ids: list[int], weights: list[float], values: list[bytes],
                   lengths: list[int | None]) -> tuple[bytes, tuple[int, int]]:
        """A term's postings: what ``start_postings``, ``add_posting`` for each and ``finish_postings``
        write, with the bytes of the term info they total (``W3TermInfo.to_bytes``) and their extent.

        In one pass over the postings, without Whoosh's objects per block
        and per term: most terms have one posting, so their overhead was
        most of the time spent writing a segment.
        """
        if self._terminfo:
            raise RuntimeError("Called start in a term")
        fixed = format_.fixed_value_size()
        if len(ids) == 1 and not self._byteids:
            start = self._position
            single = _single(ids[0], weights[0], values[0], lengths[0], fixed)
            if single is not None:
                block, info = single
                self._postfile.write(block)
                self._position += len(block)
                self._blockcount += 1
                return info + _EXTENT.pack(start, len(block)), (start, len(block))
        return self._write_blocks(fixed, ids, weights, values, lengths)

    def _write_blocks(self, fixed: int | None, ids: list[int], weights: list[float], values: list[bytes],
                      lengths: list[int | None]) -> tuple[bytes, tuple[int, int]]:
        """``write_term``'s general path: the postings in blocks of ``blocklimit``, their statistics totalled."""
        size, count, start = self._blocklimit, len(ids), self._position
        totals = _Totals()
        blocks = []
        for at in range(0, count, size):
            end = at + size
            block_ids = ids[at:end] if count > size else ids
            stats = totals.add(weights[at:end] if count > size else weights,
                               lengths[at:end] if count > size else lengths)
            given = [value for value in (values[at:end] if count > size else values) if value]
            block_values = (tuple(given) if fixed is None or fixed < 0 else None if fixed == 0 else b"".join(given))
            blocks.append(self._block(block_ids, stats, block_values, first=not at, last=end >= count))
        written = b"".join(blocks)
        self._postfile.write(written)
        self._position += len(written)
        self._blockcount += len(blocks)
        return totals.to_bytes(ids[0], ids[-1], start, len(written)), (start, len(written))

    def _block(self, ids: list[int], stats: _BlockStats, values: Any, *, first: bool, last: bool) -> bytes:
        """One block's bytes, as ``_write_block`` writes it from the block's postings and statistics."""
        weights, maxweight, minlength, maxlength = stats
        if all(weight == 1.0 for weight in weights):  # Whoosh's _mini_weights
            mini_weights: Any = None
        elif all(weight == weights[0] for weight in weights):
            mini_weights = weights[0]
        else:
            mini_weights = tuple(weights)
            if not self._byteids and all(weight.is_integer() for weight in mini_weights):
                mini_weights = tuple(int(weight) for weight in mini_weights)
        mini_ids = tuple(ids) if self._byteids else (
            (ids[0],) if len(ids) == 1 else tuple(delta_encode(ids)))
        return self._block_bytes(mini_ids, mini_weights, values, len(ids), ids[-1], maxweight,
                                 minlength, maxlength, first=first, last=last)

    def _write_block(self, last: bool = False) -> None:
        self._terminfo.add_block(self)
        weights = self._mini_weights()
        if type(weights) is tuple and not self._byteids and all(weight.is_integer() for weight in weights):
            weights = tuple(int(weight) for weight in weights)  # counts: 2 bytes each in the pickle, not 9
        ids = self._ids
        block = self._block_bytes(self._mini_ids(), weights, self._mini_values(), len(ids), ids[-1],
                                  self._maxweight, self._minlength, self._maxlength,
                                  first=not self._blockcount, last=last)
        self._postfile.write(block)
        self._position += len(block)
        self._blockcount += 1
        self._new_block()

    def _block_bytes(self, mini_ids: Any, mini_weights: Any, mini_values: Any, count: int, last_id: int,
                     maxweight: float, minlength: int | None, maxlength: int, *, first: bool, last: bool) -> bytes:
        data = _pickled((mini_ids, mini_weights, mini_values), _PICKLE_PROTOCOL)
        compression = 0
        if self._compression and len(data) >= _WORTH_COMPRESSING:
            packed = zlib.compress(data, self._compression)
            if len(packed) < len(data):
                data, compression = packed, self._compression
        # The block's header as Whoosh reads it (a pickled 6-tuple); the reader decompresses only if it names a level.
        if isinstance(maxweight, float) and maxweight.is_integer():
            maxweight = int(maxweight)
        info = _pickled((count, last_id, maxweight, compression, length_to_byte(minlength),
                         length_to_byte(maxlength)), 1)
        length = len(info) + len(data)
        return b"".join((WHOOSH3_HEADER_MAGIC if first else b"", pack_int(-length if last else length), info, data))


def _single(docnum: int, weight: float, value: bytes, length: int | None,
            fixed: int | None) -> tuple[bytes, bytes] | None:
    """A one-posting term's block and term info (less its extent), as ``write_term`` makes them; None where
    the general path must (an unusual weight, a block long enough to be worth compressing).

    Most terms of a segment have one posting, so this is most of what a
    segment's writing does, spelled out: the block's pickles written as
    ``_pickled`` writes them (tests/test_index_writer.py compares the two),
    without a pickler, a block object or a term info object for each.
    """
    if type(weight) is not float or not 0 <= docnum < _BININT_LIMIT:
        return None
    if weight.is_integer() and -_F32_EXACT <= weight <= _F32_EXACT:
        stored = weight  # the same as a 32-bit float
    else:
        stored = _F32.unpack(_F32.pack(weight))[0]
    maxweight = max(0, weight)
    header_weight: bytes
    if isinstance(maxweight, float):
        if maxweight.is_integer():
            if maxweight >= _BININT_LIMIT:
                return None
            header_weight = _pickled_int(int(maxweight))
        else:
            header_weight = b"G" + _DOUBLE.pack(maxweight)
    else:
        header_weight = _pickled_int(maxweight)
    if fixed is None or fixed < 0:
        values = _pickled_bytes(value) + b"\x85" if value else b")"  # (value,) or ()
    elif fixed == 0:
        values = b"N"
    else:
        values = _pickled_bytes(value)
    data = b"".join((_pickled_int(docnum), b"\x85", b"N" if stored == 1.0 else b"G" + _DOUBLE.pack(stored),
                     values, b"\x87."))
    if len(data) >= _WORTH_COMPRESSING:
        return None
    minlength = length_to_byte(length) if length else 0
    maxlength = length_to_byte(length if length else 0)
    info = b"".join((b"(K\x01", _pickled_int(docnum), header_weight, b"K\x00", _pickled_int(minlength),
                     _pickled_int(maxlength), b"t."))
    size = len(info) + len(data)
    block = b"".join((WHOOSH3_HEADER_MAGIC, pack_int(-size), info, data))
    # The total weight as the block totals sum it, from 0 (which turns -0.0 into 0.0).
    return block, _TERM_INFO.pack(False, 0 + stored, 1, minlength, maxlength, max(0, maxweight), docnum, docnum)


def _pickled_int(value: int) -> bytes:
    """A non-negative int below 2**31 as the pickler writes it (BININT1, BININT2, BININT)."""
    if value < 256:
        return _BININT1[value]
    if value < 65536:
        return b"M" + value.to_bytes(2, "little")
    return b"J" + value.to_bytes(4, "little")


def _pickled_bytes(value: bytes) -> bytes:
    """``bytes`` as pickle protocol 3 writes them (SHORT_BINBYTES, BINBYTES)."""
    if len(value) < 256:
        return b"C" + _BININT1[len(value)][1:] + value
    return b"B" + len(value).to_bytes(4, "little") + value


_BININT1 = [b"K" + bytes((n,)) for n in range(256)]
_BININT_LIMIT = 2**31
_F32 = struct.Struct("f")
_F32_EXACT = 2**24  # integers up to this are exact as 32-bit floats
_DOUBLE = struct.Struct(">d")  # BINFLOAT's


#: A block's statistics: its weights as 32-bit floats, its largest weight as given, its shortest and longest
#: field lengths (None and 0 when no posting has one).
_BlockStats = tuple["array[float]", float, "int | None", int]


class _Totals:
    """A term's statistics totalled block by block, as ``W3TermInfo.add_block`` totals them (Whoosh 2.7.5)."""

    __slots__ = ("count", "maxlength", "maxweight", "minlength", "weight")

    def __init__(self) -> None:
        self.weight: float = 0
        self.count = 0
        self.minlength: int | None = None
        self.maxlength = 0
        self.maxweight: float = 0

    def add(self, weights: list[float], lengths: list[int | None]) -> _BlockStats:
        """Add a block of postings, given their weights and field lengths; its statistics."""
        stored = array("f", weights)  # the writer keeps weights as 32-bit floats, and sums those
        maxweight = max(0, max(weights))  # and keeps the largest weight as given, from 0
        given = [length for length in lengths if length]
        minlength = min(given) if given else None
        maxlength = max(given) if given else 0
        self.weight += sum(stored)
        self.count += len(weights)
        self.minlength = minlength if self.minlength is None else min(self.minlength, minlength)  # type: ignore[type-var]
        self.maxlength = max(self.maxlength, maxlength)
        self.maxweight = max(self.maxweight, maxweight)
        return stored, maxweight, minlength, maxlength

    def to_bytes(self, minid: int, maxid: int, offset: int, length: int) -> bytes:
        """``W3TermInfo.to_bytes`` of the totals, for postings at ``offset`` (not inlined)."""
        minlength = 0 if self.minlength is None else length_to_byte(self.minlength)
        return _TERM_INFO.pack(False, self.weight, self.count, minlength, length_to_byte(self.maxlength),
                               self.maxweight, minid, maxid) + _EXTENT.pack(offset, length)


def _pickled(value: Any, protocol: int) -> bytes:
    """``value`` pickled without memo entries (nothing in a block is referenced twice) and without the
    protocol header, which the unpickler does not need: 8 to 11 bytes less per block than Whoosh's pickles.

    Integer weights pickle as ints: Whoosh's scorers compute the same floats from them (BM25 and its
    block bounds multiply and add them with floats), so scores are unchanged.
    """
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol)
    pickler.fast = True  # no memo: the opcodes that would store each tuple for a later reference
    pickler.dump(value)
    data = out.getvalue()
    return data[2:] if data.startswith(_PROTOCOL_3_HEADER) else data


def shared_term_info(ids: list[int], weights: list[float], lengths: list[int | None], blocklimit: int,
                     extent: tuple[int, int]) -> bytes:
    """The term info of postings already written at ``extent`` (a twin term's, search/index/codec.py),
    totalled block by block as ``PostingsWriter.write_term`` totals them."""
    if len(ids) == 1:
        single = _single(ids[0], weights[0], b"", lengths[0], 0)
        if single is not None:
            return single[1] + _EXTENT.pack(*extent)
    totals = _Totals()
    for start in range(0, len(ids), blocklimit):
        totals.add(weights[start:start + blocklimit], lengths[start:start + blocklimit])
    return totals.to_bytes(ids[0], ids[-1], *extent)
