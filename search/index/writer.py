"""The index writer: Whoosh's segment writer, writing the same postings in fewer bytes and less time.

Part of the index stage: search/index/store.py opens every writer here
(``open_writer``); nothing else writes to the live index. What a segment
holds — terms, postings, their statistics, stored fields, columns — is
exactly what Whoosh's own writer would put there; how the postings are laid
out in the file differs in two ways, all read by Whoosh's unchanged
``W3Codec`` reader:

* **Compact blocks.** Whoosh pickles each block of postings with pickle
  protocol 2, which spells every ``bytes`` value (a posting's positions) as
  a call to ``codecs.encode``, about 40 bytes, and then compresses every
  block with zlib even when that makes it longer. Most terms have one
  posting in a segment (on the shared corpus 60 %), so this is most of
  the postings file. Here a block is pickled with protocol 3 (``bytes`` as
  bytes) and compressed only when that makes it shorter, the block's header
  saying so: a one-posting block falls from about 97 to 55 bytes.
* **Field lengths read once.** Whoosh's writer asks the new segment for the
  field length of every posting, and for a field without lengths (the
  keyword and id fields) checks the file system each time (one ``stat``
  per posting, a seventh of the indexing time on the corpus); the answer
  is kept here.

The segment records a plain ``W3Codec``: an index written here is a Whoosh
index like any other, and any Whoosh writer may later merge it.
"""

from __future__ import annotations

import pickle
import zlib
from typing import Any

from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3PerDocReader,
    W3PostingsWriter,
    W3Segment,
    _lenfield,
)
from whoosh.filedb.structfile import StructFile
from whoosh.index import FileIndex
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

__all__ = ["open_writer"]

#: Blocks shorter than this are not worth a zlib attempt (its header and
#: checksum alone are 6 bytes).
_WORTH_COMPRESSING = 64
#: Protocol 3 pickles ``bytes`` as bytes and has no frame header.
_PICKLE_PROTOCOL = 3


def open_writer(ix: FileIndex, timeout: float, limitmb: int) -> SegmentWriter:
    """A writer on ``ix`` (waiting up to ``timeout`` s for its lock; ``LockError`` after that)."""
    return SegmentWriter(ix, timeout=timeout, limitmb=limitmb, codec=_Codec())


class _Codec(W3Codec):  # type: ignore[misc]  # whoosh ships no type hints
    """Whoosh's codec with this module's writers; its segments record a plain ``W3Codec``."""

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
