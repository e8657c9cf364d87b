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
from collections.abc import Iterable
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
                   lengths: list[int | None]) -> W3TermInfo:
        """A term's postings: what ``start_postings``, ``add_posting`` for each, ``finish_postings`` write."""
        self.start_postings(format_, W3TermInfo())
        size, count = self._blocklimit, len(ids)
        for start in range(0, count, size):
            end = start + size
            self._ids = array("I", ids[start:end])
            self._weights = array("f", weights[start:end])
            block_weights = weights[start:end]
            self._maxweight = max(0, max(block_weights))  # add_posting: the largest weight as given, from 0
            self._values = [value for value in values[start:end] if value]
            given = [length for length in lengths[start:end] if length]
            self._minlength = min(given) if given else None
            self._maxlength = max(given) if given else 0
            if end < count:  # add_posting writes a full block when the next posting comes
                self._write_block()
        return self.finish_postings()

    def _write_block(self, last: bool = False) -> None:
        self._terminfo.add_block(self)
        weights = self._mini_weights()
        if type(weights) is tuple and not self._byteids and all(weight.is_integer() for weight in weights):
            weights = tuple(int(weight) for weight in weights)  # counts: 2 bytes each in the pickle, not 9
        data = _pickled((self._mini_ids(), weights, self._mini_values()), _PICKLE_PROTOCOL)
        compression = 0
        if self._compression and len(data) >= _WORTH_COMPRESSING:
            packed = zlib.compress(data, self._compression)
            if len(packed) < len(data):
                data, compression = packed, self._compression
        ids = self._ids
        # The block's header as Whoosh reads it (a pickled 6-tuple); the reader decompresses only if it names a level.
        maxweight = self._maxweight
        if isinstance(maxweight, float) and maxweight.is_integer():
            maxweight = int(maxweight)
        info = _pickled((len(ids), ids[-1], maxweight, compression,
                         length_to_byte(self._minlength), length_to_byte(self._maxlength)), 1)
        length = len(info) + len(data)
        block = b"".join((b"" if self._blockcount else WHOOSH3_HEADER_MAGIC, pack_int(-length if last else length),
                          info, data))
        self._postfile.write(block)
        self._position += len(block)
        self._blockcount += 1
        self._new_block()


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


class _Block:
    """A run of a term's postings as ``W3TermInfo.add_block`` reads a block the postings writer filled."""

    __slots__ = ("_ids", "_maxlength", "_maxweight", "_minlength", "_weights")

    def __init__(self, ids: list[int], weights: list[float], lengths: list[int | None]) -> None:
        self._ids = ids
        self._weights = array("f", weights)  # the writer keeps weights as 32-bit floats, and sums those
        self._maxweight = max(0, max(weights))  # and keeps the largest weight as given, from 0
        given = [length for length in lengths if length]
        self._minlength = min(given) if given else None
        self._maxlength = max(given) if given else 0

    def __len__(self) -> int:
        return len(self._ids)

    def min_id(self) -> int:
        return self._ids[0]

    def max_id(self) -> int:
        return self._ids[-1]

    def min_length(self) -> int | None:
        return self._minlength

    def max_length(self) -> int:
        return self._maxlength

    def max_weight(self) -> float:
        return self._maxweight


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
        self._shared: dict[str, dict[bytes, tuple[int, int]]] = {}  # stemmed field → fingerprint → extent
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
        write = self._postwriter.write_term
        if self._role is None:
            terminfo = write(self._format, ids, weights, values, lengths)
        else:
            fingerprint = hashlib.blake2b(
                array("I", ids).tobytes() + array("d", weights).tobytes()
                + array("I", [length or 0 for length in lengths]).tobytes(), digest_size=16).digest()
            if self._role == "main":
                terminfo = write(self._format, ids, weights, values, lengths)
                self._shared[self._fieldname].setdefault(fingerprint, terminfo.extent())
            else:
                extent = self._shared.get(_TWINS[self._fieldname], {}).get(fingerprint)
                if extent:
                    terminfo = self._shared_postings(ids, weights, lengths, extent)
                else:
                    terminfo = write(self._format, ids, weights, values, lengths)
        self._tindex.add(pack_ushort(self._fieldid) + btext, terminfo.to_bytes())

    def _shared_postings(self, ids: list[int], weights: list[float], lengths: list[int | None],
                         extent: tuple[int, int]) -> W3TermInfo:
        """The statistics as the postings writer would total them block by block; the extent the stemmed term's."""
        terminfo = W3TermInfo()
        size = self._codec._blocklimit
        for start in range(0, len(ids), size):
            end = start + size
            terminfo.add_block(_Block(ids[start:end], weights[start:end], lengths[start:end]))
        terminfo.set_extent(*extent)
        return terminfo


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
