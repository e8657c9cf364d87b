"""The index writer: Whoosh's segment writer, writing the same postings in fewer bytes and less time.

Part of the index stage: search/index/store.py opens every writer here
(``open_writer``); nothing else writes to the live index. What a segment
holds — terms, postings, their statistics, stored fields, columns — is
exactly what Whoosh's own writer would put there; how the postings are laid
out in the file differs in three ways, all read by Whoosh's unchanged
``W3Codec`` reader:

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
* **Field lengths read once.** Whoosh's writer asks the new segment for the
  field length of every posting, and for a field without lengths (the
  keyword and id fields) checks the file system each time (one ``stat``
  per posting, a seventh of the indexing time on the corpus); the answer
  is kept here.

The segment records a plain ``W3Codec``: an index written here is a Whoosh
index like any other, and any Whoosh writer may later merge it.
"""

from __future__ import annotations

import hashlib
import pickle
import zlib
from array import array
from typing import Any

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
from whoosh.filedb.structfile import StructFile
from whoosh.index import FileIndex
from whoosh.system import pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from search.index.analysis import WORD_FIELDS

__all__ = ["open_writer"]

#: Blocks shorter than this are not worth a zlib attempt (its header and
#: checksum alone are 6 bytes).
_WORTH_COMPRESSING = 64
#: Protocol 3 pickles ``bytes`` as bytes and has no frame header.
_PICKLE_PROTOCOL = 3
_TWINS = {twin: main for main, twin in WORD_FIELDS.items()}


def open_writer(ix: FileIndex, timeout: float, limitmb: int) -> SegmentWriter:
    """A writer on ``ix`` (waiting up to ``timeout`` s for its lock; ``LockError`` after that)."""
    return SegmentWriter(ix, timeout=timeout, limitmb=limitmb, codec=_Codec())


class _Codec(W3Codec):  # type: ignore[misc]  # whoosh ships no type hints
    """Whoosh's codec with this module's writers; its segments record a plain ``W3Codec``."""

    def field_writer(self, storage: Any, segment: Any) -> _FieldWriter:
        return _FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile: StructFile, byteids: bool = False) -> _PostingsWriter:
        return _PostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=byteids,
                               compression=self._compression, inlinelimit=self._inlinelimit)

    def per_document_reader(self, storage: Any, segment: Any) -> _LengthsReader:
        return _LengthsReader(storage, segment)

    def new_segment(self, storage: Any, indexname: str) -> W3Segment:
        return W3Segment(W3Codec(blocklimit=self._blocklimit, compression=self._compression), indexname)


class _PostingsWriter(W3PostingsWriter):  # type: ignore[misc]
    """Whoosh's postings writer with compact blocks (see the module's docstring)."""

    def _write_block(self, last: bool = False) -> None:
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        data = pickle.dumps((self._mini_ids(), self._mini_weights(), self._mini_values()), _PICKLE_PROTOCOL)
        compression = 0
        if self._compression and len(data) >= _WORTH_COMPRESSING:
            packed = zlib.compress(data, self._compression)
            if len(packed) < len(data):
                data, compression = packed, self._compression
        ids = self._ids
        # The block's header as Whoosh writes it; the reader decompresses only if it names a level.
        info = pickle.dumps((len(ids), ids[-1], self._maxweight, compression,
                             length_to_byte(self._minlength), length_to_byte(self._maxlength)), 2)
        length = len(info) + len(data)
        self._postfile.write_int(-length if last else length)
        self._postfile.write(info)
        self._postfile.write(data)
        self._blockcount += 1
        self._new_block()


class _StatisticsOnly(W3PostingsWriter):  # type: ignore[misc]
    """Collects a term's statistics block by block as Whoosh does, writing nothing."""

    def _write_block(self, last: bool = False) -> None:
        self._terminfo.add_block(self)
        self._blockcount += 1
        self._new_block()


class _FieldWriter(W3FieldWriter):  # type: ignore[misc]
    """Whoosh's terms writer; a twin's term whose postings equal a stemmed term's points at them.

    Fields are written in name order, so ``body`` is done before
    ``body_words``: each stemmed term's postings are fingerprinted (BLAKE2b
    over its documents, weights and field lengths) as they are written,
    and a twin term with the same fingerprint takes that term's extent in
    the postings file.
    """

    def __init__(self, codec: _Codec, storage: Any, segment: Any) -> None:
        super().__init__(codec, storage, segment)
        self._shared: dict[str, dict[bytes, tuple[int, int]]] = {}  # stemmed field → fingerprint → extent
        self._role: str | None = None  # "main", "twin" or None while in a field
        self._postings: tuple[array[int], array[float], array[int]] | None = None
        self._values: list[bytes] = []

    def start_field(self, fieldname: str, fieldobj: FieldType) -> None:
        super().start_field(fieldname, fieldobj)
        if fieldname in WORD_FIELDS:
            self._role = "main"
            self._shared[fieldname] = {}
        elif fieldname in _TWINS:
            self._role = "twin"
        else:
            self._role = None

    def start_term(self, btext: bytes) -> None:
        if self._role is None:
            super().start_term(btext)
            return
        self._btext = btext
        self._postings = (array("I"), array("d"), array("I"))
        if self._role == "main":
            super().start_term(btext)
        else:
            self._values = []

    def add(self, docnum: int, weight: float, vbytes: bytes, length: int | None) -> None:
        if self._role is None:
            self._postwriter.add_posting(docnum, weight, vbytes, length)
            return
        assert self._postings is not None
        ids, weights, lengths = self._postings
        ids.append(docnum)
        weights.append(weight)
        lengths.append(length or 0)  # the postings writer takes None and 0 alike
        if self._role == "main":
            self._postwriter.add_posting(docnum, weight, vbytes, length)
        else:
            self._values.append(vbytes)

    def finish_term(self) -> None:
        if self._role is None:
            super().finish_term()
            return
        fingerprint = self._fingerprint()
        if self._role == "main":
            terminfo = self._postwriter.finish_postings()
            self._shared[self._fieldname].setdefault(fingerprint, terminfo.extent())
        else:
            extent = self._shared.get(_TWINS[self._fieldname], {}).get(fingerprint)
            terminfo = self._shared_postings(extent) if extent else self._own_postings()
        self._tindex.add(pack_ushort(self._fieldid) + self._btext, terminfo.to_bytes())

    def finish_field(self) -> None:
        if self._role == "twin":
            self._shared.pop(_TWINS[self._fieldname], None)  # its twin is written: the fingerprints can go
        super().finish_field()
        self._role = None

    def _fingerprint(self) -> bytes:
        assert self._postings is not None
        ids, weights, lengths = self._postings
        return hashlib.blake2b(ids.tobytes() + weights.tobytes() + lengths.tobytes(), digest_size=16).digest()

    def _replay(self, writer: W3PostingsWriter) -> W3TermInfo:
        assert self._postings is not None
        ids, weights, lengths = self._postings
        writer.start_postings(self._format, W3TermInfo())
        for docnum, weight, vbytes, length in zip(ids, weights, self._values, lengths, strict=True):
            writer.add_posting(docnum, weight, vbytes, length)
        return writer.finish_postings()

    def _own_postings(self) -> W3TermInfo:
        return self._replay(self._postwriter)

    def _shared_postings(self, extent: tuple[int, int]) -> W3TermInfo:
        # The statistics as if written, the extent the stemmed term's.
        counter = _StatisticsOnly(self._postfile, blocklimit=self._codec._blocklimit)
        terminfo = self._replay(counter)
        terminfo.set_extent(*extent)
        return terminfo


class _LengthsReader(W3PerDocReader):  # type: ignore[misc]
    """The new segment's field lengths, each field's read once into a list."""

    def __init__(self, storage: Any, segment: Any) -> None:
        super().__init__(storage, segment)
        self._lengths: dict[str, list[int | None] | None] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int | None:
        try:
            lengths = self._lengths[fieldname]
        except KeyError:
            lengths = self._lengths[fieldname] = self._read_lengths(fieldname)
        if lengths is None:
            return default
        return lengths[docnum]

    def _read_lengths(self, fieldname: str) -> list[int | None] | None:
        if not self.has_column(_lenfield(fieldname)):
            return None
        column = self.column_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        # As Whoosh answers: None for a document without the field.
        return [byte_to_length(byte) if byte else None for byte in column]
