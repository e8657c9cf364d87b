"""The index's postings format: Whoosh's codec writing the same postings in fewer bytes.

Part of the index stage, under search/index/writer.py (the segment writer,
whose ``open_writer`` hands Whoosh this codec). Every file it writes is read
by Whoosh's unchanged ``W3Codec`` reader; what differs is the layout:

* **Compact blocks**, written by search/index/postings.py.
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
import struct
from array import array
from collections.abc import Hashable, Iterable
from typing import Any

from whoosh.codec.base import OutOfOrderError
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    W3Codec,
    W3FieldWriter,
    W3PerDocReader,
    W3Segment,
    _lenfield,
)
from whoosh.fields import FieldType
from whoosh.filedb.filetables import OrderedHashWriter, md5_hash
from whoosh.filedb.structfile import StructFile
from whoosh.system import pack_ushort
from whoosh.util.numeric import byte_to_length

from search.index.analysis import WORD_FIELDS
from search.index.postings import PostingsWriter, shared_term_info

__all__ = ["Codec", "Term", "read_lengths"]

_TWINS = {twin: main for main, twin in WORD_FIELDS.items()}
_ENTRY_LENGTHS = struct.Struct("!ii")  # a term-table entry's key and value lengths (whoosh.filedb.filetables)
#: Postings compared as they are, not by digest, up to this many (``_fingerprint``).
_FINGERPRINT_AS_IS = 8

#: One term's postings: (field, term bytes, documents, weights, values).
Term = tuple[str, bytes, list[int], list[float], list[bytes]]


class Codec(W3Codec):  # type: ignore[misc]  # whoosh ships no type hints
    """Whoosh's codec with this module's writers; its segments record a plain ``W3Codec``."""

    def field_writer(self, storage: Any, segment: Any) -> _FieldWriter:
        return _FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile: StructFile, byteids: bool = False) -> PostingsWriter:
        return PostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=byteids,
                               compression=self._compression, inlinelimit=self._inlinelimit)

    def per_document_reader(self, storage: Any, segment: Any) -> LengthsReader:
        return LengthsReader(storage, segment)

    def new_segment(self, storage: Any, indexname: str) -> W3Segment:
        return W3Segment(W3Codec(blocklimit=self._blocklimit, compression=self._compression), indexname)


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
                    info = shared_term_info(ids, weights, lengths, self._codec._blocklimit, found)
                else:
                    info, _ = self._postwriter.write_term(self._format, ids, weights, values, lengths)
        self._tindex.add(pack_ushort(self._fieldid) + btext, info)


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
