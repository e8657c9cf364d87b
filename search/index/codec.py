"""The index's postings format: Whoosh's codec writing the same postings in fewer bytes.

Part of the index stage, under search/index/writer.py (the segment writer,
whose ``open_writer`` hands Whoosh this codec). Every file it writes is read
by Whoosh's unchanged ``W3Codec`` reader; what differs is the layout:

* **Compact blocks.** Whoosh pickles each block of postings with pickle
  protocol 2, which spells every ``bytes`` value (a posting's positions) as
  a call to ``codecs.encode``, about 40 bytes, and then compresses every
  block with zlib even when that makes it longer. Most terms have one
  posting in a segment (on the shared corpus 60 %), so this is most of
  the postings file. Here a block is pickled with protocol 3 (``bytes`` as
  bytes) and compressed only when that makes it shorter, the block's header
  saying so: a one-posting block falls from about 97 to 55 bytes.
* **Shared twin postings.** The unstemmed twin of a text field
  (``body_words`` beside ``body``, search/index/analysis.py) mostly holds
  postings identical to a stemmed term's — the same documents, weights and
  field lengths — because most words are the only form of their stem in a
  segment. Such a twin term points at the stemmed term's postings instead
  of a copy of them. The twin reads them as frequencies (its format has no
  positions), so it sees exactly the blocks it would have written: same
  documents, weights, and block statistics. Only the positions, which it
  never reads, are extra. Its term statistics are its own, computed as
  Whoosh computes them.

Field lengths are read once per field (``LengthsReader``): Whoosh's writer
asked the new segment for every posting's, checking the file system for a
field without lengths each time.

The segment records a plain ``W3Codec``, so no index names this module.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
import zlib
from array import array
from collections.abc import Hashable, Iterable
from typing import Any

from whoosh.codec.base import OutOfOrderError
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3FieldWriter,
    W3PerDocReader,
    W3PostingsWriter,
    W3Segment,
    W3TermInfo,
    _lenfield,
)
from whoosh.fields import FieldType
from whoosh.filedb.filetables import OrderedHashWriter, md5_hash
from whoosh.filedb.structfile import StructFile
from whoosh.system import pack_int, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.util.numlists import delta_encode

from search.index.analysis import WORD_FIELDS

__all__ = ["Codec", "Term", "read_lengths"]

#: Blocks shorter than this are not worth a zlib attempt (its header and
#: checksum alone are 6 bytes).
_WORTH_COMPRESSING = 64
#: Protocol 3 pickles ``bytes`` as bytes and has no frame header.
_PICKLE_PROTOCOL = 3
_PROTOCOL_3_HEADER = b"\x80\x03"
_TWINS = {twin: main for main, twin in WORD_FIELDS.items()}
_ENTRY_LENGTHS = struct.Struct("!ii")  # a term-table entry's key and value lengths (whoosh.filedb.filetables)
_TERM_INFO = struct.Struct("!BfIBBfII")  # W3TermInfo._struct: flags, weight, frequency, lengths, max weight, ids
_EXTENT = struct.Struct("!qi")  # a term info's postings offset and length (pack_long, pack_int)
#: Postings compared as they are, not by digest, up to this many (``_fingerprint``).
_FINGERPRINT_AS_IS = 8

#: One term's postings: (field, term bytes, documents, weights, values).
Term = tuple[str, bytes, list[int], list[float], list[bytes]]


class Codec(W3Codec):  # type: ignore[misc]  # whoosh ships no type hints
    """Whoosh's codec with this module's writers; its segments record a plain ``W3Codec``."""

    def field_writer(self, storage: Any, segment: Any) -> _FieldWriter:
        return _FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile: StructFile, byteids: bool = False) -> _PostingsWriter:
        return _PostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=byteids,
                               compression=self._compression, inlinelimit=self._inlinelimit)

    def per_document_reader(self, storage: Any, segment: Any) -> LengthsReader:
        return LengthsReader(storage, segment)

    def new_segment(self, storage: Any, indexname: str) -> W3Segment:
        return W3Segment(W3Codec(blocklimit=self._blocklimit, compression=self._compression), indexname)


class _PostingsWriter(W3PostingsWriter):  # type: ignore[misc]
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


class _FieldWriter(W3FieldWriter):  # type: ignore[misc]
    """Whoosh's terms writer, a term's postings gathered and written at once; a twin's term whose
    postings equal a stemmed term's points at them.

    Fields are written in name order, so ``body`` is done before
    ``body_words``: each stemmed term's postings are fingerprinted (BLAKE2b
    over its documents, weights and field lengths) as they are written,
    and a twin term with the same fingerprint takes that term's extent in
    the postings file.
    """

    def __init__(self, codec: Codec, storage: Any, segment: Any) -> None:
        # W3FieldWriter.__init__ (Whoosh 2.7.5), with this module's term table.
        self._codec, self._storage, self._segment = codec, storage, segment
        self._fieldname: Any = None  # set, with the rest, by start_field
        self._fieldid: Any = None
        self._btext: Any = None
        self._fieldobj: Any = None
        self._format: Any = None
        self._tindex = _TermTable(self._create_file(W3Codec.TERMS_EXT))
        self._fieldmap: dict[str, int] = {}
        self._tindex.extras["fieldmap"] = self._fieldmap
        self._postfile = self._create_file(W3Codec.POSTS_EXT)
        self._postwriter: Any = None
        self._infield = False
        self.is_closed = False
        self._shared: dict[str, dict[Hashable, tuple[int, int]]] = {}  # stemmed field → fingerprint → extent
        self._role: str | None = None  # "main", "twin" or None while in a field

    def add_postings(self, schema: Any, lengths: Any, items: Iterable[tuple[str, bytes, int, float, bytes]]) -> None:
        """``FieldWriter.add_postings`` (Whoosh 2.7.5): the sorted postings, field by field, term by term."""
        fieldname: str | None = None
        btext: bytes | None = None
        field_lengths: list[int | None] | None = None
        ids: list[int] = []
        weights: list[float] = []
        values: list[bytes] = []
        for posting_field, posting_text, docnum, weight, value in items:
            if posting_field != fieldname:
                if fieldname is not None and posting_field < fieldname:
                    raise OutOfOrderError(f"Field {fieldname!r} .. {posting_field!r}")
                if btext is not None:
                    self._term(btext, ids, weights, values, field_lengths)
                if fieldname is not None:
                    self.finish_field()
                self.start_field(posting_field, schema[posting_field])
                fieldname, btext = posting_field, None
                field_lengths = lengths.field_lengths(fieldname) if lengths else None
            if docnum == -1:  # Whoosh's marker of a word for the spelling graph, not a posting
                continue
            if posting_text != btext:
                if btext is not None:
                    if posting_text < btext:
                        raise OutOfOrderError(f"Term {fieldname}:{btext!r} .. {fieldname}:{posting_text!r}")
                    self._term(btext, ids, weights, values, field_lengths)
                btext, ids, weights, values = posting_text, [], [], []
            ids.append(docnum)
            weights.append(weight)
            values.append(b"" if value is None else value)
        if btext is not None:
            self._term(btext, ids, weights, values, field_lengths)

    def add_terms(self, schema: Any, lengths: Any, terms: Iterable[Term]) -> None:
        """``add_postings`` given each term's postings together (a merge's), in (field, term) order."""
        fieldname: str | None = None
        btext: bytes | None = None
        field_lengths: list[int | None] | None = None
        for term_field, term_text, ids, weights, values in terms:
            if term_field != fieldname:
                if fieldname is not None:
                    if term_field < fieldname:
                        raise OutOfOrderError(f"Field {fieldname!r} .. {term_field!r}")
                    self.finish_field()
                self.start_field(term_field, schema[term_field])
                fieldname, btext = term_field, None
                field_lengths = lengths.field_lengths(fieldname) if lengths else None
            elif btext is not None and term_text <= btext:
                raise OutOfOrderError(f"Term {fieldname}:{btext!r} .. {fieldname}:{term_text!r}")
            btext = term_text
            self._term(btext, ids, weights, values, field_lengths)

    def start_field(self, fieldname: str, fieldobj: FieldType) -> None:
        super().start_field(fieldname, fieldobj)
        if fieldname in WORD_FIELDS:
            self._role = "main"
            self._shared[fieldname] = {}
        elif fieldname in _TWINS:
            self._role = "twin"
        else:
            self._role = None

    def finish_field(self) -> None:
        if self._role == "twin":
            self._shared.pop(_TWINS[self._fieldname], None)  # its twin is written: the fingerprints can go
        super().finish_field()
        self._role = None

    def _term(self, btext: bytes, ids: list[int], weights: list[float], values: list[bytes],
              field_lengths: list[int | None] | None) -> None:
        # The field length of each posting's document, as Whoosh asks the new segment (0: a field without lengths).
        lengths: list[int | None] = (
            [field_lengths[docnum] for docnum in ids] if field_lengths is not None else [0] * len(ids))
        role = self._role
        if role is None:
            info, _ = self._postwriter.write_term(self._format, ids, weights, values, lengths)
        else:
            fingerprint = _fingerprint(ids, weights, lengths)
            if role == "main":
                info, extent = self._postwriter.write_term(self._format, ids, weights, values, lengths)
                self._shared[self._fieldname].setdefault(fingerprint, extent)
            else:
                found = self._shared.get(_TWINS[self._fieldname], {}).get(fingerprint)
                if found:
                    info = self._shared_postings(ids, weights, lengths, found)
                else:
                    info, _ = self._postwriter.write_term(self._format, ids, weights, values, lengths)
        self._tindex.add(pack_ushort(self._fieldid) + btext, info)

    def _shared_postings(self, ids: list[int], weights: list[float], lengths: list[int | None],
                         extent: tuple[int, int]) -> bytes:
        """The term info as the postings writer would total it block by block; the extent the stemmed term's."""
        if len(ids) == 1 and not self._postwriter._byteids:
            single = _single(ids[0], weights[0], b"", lengths[0], 0)
            if single is not None:
                return single[1] + _EXTENT.pack(*extent)
        totals = _Totals()
        size = self._codec._blocklimit
        for start in range(0, len(ids), size):
            totals.add(weights[start:start + size], lengths[start:start + size])
        return totals.to_bytes(ids[0], ids[-1], *extent)


def _fingerprint(ids: list[int], weights: list[float], lengths: list[int | None]) -> Hashable:
    """What tells a twin term's postings equal to a stemmed term's: documents, weights and field lengths.

    The postings themselves while they are few (most terms'), compared
    exactly; a BLAKE2b digest of them past that, so that a large merge does
    not hold a copy of every stemmed term's postings.
    """
    if len(ids) <= _FINGERPRINT_AS_IS:
        return (*ids, *weights, *lengths)
    return hashlib.blake2b(array("I", ids).tobytes() + array("d", weights).tobytes()
                           + array("I", [length or 0 for length in lengths]).tobytes(), digest_size=16).digest()


class _TermTable(OrderedHashWriter):  # type: ignore[misc]
    """Whoosh's ordered hash file of terms (the .trm), each entry written in one call at a counted position.

    ``OrderedHashWriter.add`` asked the file its position twice and wrote
    three times per term, and hashed the key through a hex string.
    """

    lastkey: bytes

    def __init__(self, dbfile: StructFile) -> None:
        super().__init__(dbfile)
        if self.hashfn is not md5_hash:
            raise ValueError("the term table is hashed with MD5")
        self._position: int = dbfile.tell()

    def add(self, key: bytes, value: bytes) -> None:
        if key <= self.lastkey:
            raise ValueError(f"Keys must increase: {self.lastkey!r}..{key!r}")
        position = self._position
        self.index.append(position)
        entry = b"".join((_ENTRY_LENGTHS.pack(len(key), len(value)), key, value))
        self.dbfile.write(entry)
        self._position += len(entry)
        # md5_hash: the low 32 bits of the key's MD5, read from its last four bytes.
        hashed = int.from_bytes(hashlib.md5(key, usedforsecurity=False).digest()[-4:])
        self.buckets[hashed & 255].append((hashed, position))
        self.lastkey = key


class LengthsReader(W3PerDocReader):  # type: ignore[misc]
    """The new segment's field lengths, each field's read once into a list."""

    def __init__(self, storage: Any, segment: Any) -> None:
        super().__init__(storage, segment)
        self._lengths: dict[str, list[int | None] | None] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int | None:
        lengths = self.field_lengths(fieldname)
        return default if lengths is None else lengths[docnum]

    def field_lengths(self, fieldname: str) -> list[int | None] | None:
        """Each document's length of the field; None for a field without lengths."""
        try:
            return self._lengths[fieldname]
        except KeyError:
            lengths = self._lengths[fieldname] = self._read_lengths(fieldname)
            return lengths

    def _read_lengths(self, fieldname: str) -> list[int | None] | None:
        return read_lengths(self, fieldname)


def read_lengths(perdoc: W3PerDocReader, fieldname: str) -> list[int | None] | None:
    """Each document's length of the field, as ``doc_field_length`` answers (None for a document without
    the field), or None for a field without lengths (whose documents' length is the default)."""
    if not perdoc.has_column(_lenfield(fieldname)):
        return None
    column = perdoc.column_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    return [byte_to_length(byte) if byte else None for byte in column]
