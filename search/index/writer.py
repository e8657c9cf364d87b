"""The index writer: Whoosh's segment writer, writing the same postings in fewer bytes and less time.

Part of the index stage: search/index/store.py opens every writer here
(``open_writer``); nothing else writes to the live index. What a segment
holds — terms, postings, their statistics, stored fields, columns — is
exactly what Whoosh's own writer would put there; how the postings are laid
out in the file differs in three ways (and the analysis is shared), all read by Whoosh's unchanged
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
* **One analysis for a text and its twin.** Whoosh analyses each field on
  its own, so every title, body and author went through the tokenizer
  twice. ``_Writer.add_document`` tokenizes a text once and derives both
  fields' postings from the same words — the stemmed field's terms and
  positions, the twin's folded words and counts — exactly as each
  field's analyzer and format would (``_pair_items``); a schema whose text
  fields are not built as search/index/schema.py builds them is analysed
  by Whoosh field by field.
* **Merges term by term.** Whoosh merges a segment into the one being
  written by reading each of its terms through a term lookup and a
  matcher, posting by posting, into the sorting pool, which spills to
  disk past ``limitmb`` and is sorted again: at 8,000 articles a merge
  took as long as writing them. Here a merged segment's term table is
  read in order (it is sorted), each term's blocks unpickled whole, and the
  new documents' terms and every merged segment's are merged by term, their
  postings concatenated in document order: the same postings, written the
  same way.
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
import heapq
import io
import itertools
import pickle
import re
import struct
import zlib
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

from whoosh.analysis import CompositeAnalyzer, LowercaseFilter, RegexTokenizer
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
from whoosh.columns import TranslatingColumnReader
from whoosh.fields import FieldType
from whoosh.filedb.filetables import OrderedHashWriter, md5_hash
from whoosh.filedb.structfile import StructFile
from whoosh.index import FileIndex
from whoosh.reading import SegmentReader
from whoosh.system import pack_int, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from search.index.analysis import (
    WORD,
    WORD_FIELDS,
    FoldingFilter,
    PositionArrays,
    StemmingFilter,
    WordCounts,
    folded_word,
    index_terms,
)

__all__ = ["Analysed", "analyse", "open_writer"]

#: Blocks shorter than this are not worth a zlib attempt (its header and
#: checksum alone are 6 bytes).
_WORTH_COMPRESSING = 64
#: Protocol 3 pickles ``bytes`` as bytes and has no frame header.
_PICKLE_PROTOCOL = 3
_PROTOCOL_3_HEADER = b"\x80\x03"
_TWINS = {twin: main for main, twin in WORD_FIELDS.items()}
_BLOCK_SIZE = struct.Struct("!i")
_ENTRY_LENGTHS = struct.Struct("!ii")  # a term-table entry's key and value lengths (whoosh.filedb.filetables)
#: PostingPool.add's estimate of a posting's memory, less its field name, term and value.
_POSTING_SIZE = 28 + 4 * 5 + 21 + 26 + 18 + 16 + 21  # a block's length, negative for a term's last


def open_writer(ix: FileIndex, timeout: float, limitmb: int) -> SegmentWriter:
    """A writer on ``ix`` (waiting up to ``timeout`` s for its lock; ``LockError`` after that)."""
    return _Writer(ix, timeout=timeout, limitmb=limitmb, codec=_Codec())


#: A field's postings as Whoosh's writer takes them: (term bytes, frequency, weight, value).
Items = list[tuple[bytes, int, float, bytes]]


#: One term's postings: (field, term bytes, documents, weights, values).
Term = tuple[str, bytes, list[int], list[float], list[bytes]]


class _Writer(SegmentWriter):  # type: ignore[misc]  # whoosh ships no type hints
    """Whoosh's segment writer; a text field and its twin are analysed in one pass, and merged segments'
    postings are merged term by term (see the module's docstring)."""

    def __init__(self, ix: FileIndex, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self._pairs = _analysable_pairs(self.schema)
        # Segments merged into this one: a reader of each, kept open to the flush; first document; old → new.
        self._merged: list[tuple[SegmentReader, int, dict[int, int] | None]] = []

    def add_reader(self, reader: Any) -> None:
        """``SegmentWriter.add_reader`` (Whoosh 2.7.5), the postings left in the segment until the flush."""
        if not isinstance(reader, SegmentReader):
            super().add_reader(reader)
            return
        self._check_state()
        basedoc = self.docnum
        indexed = {name for name in reader.indexed_field_names() if name in self.schema}
        docmap = self.write_per_doc(set(self.schema.names()) | indexed, reader)
        # The merge policy closes its reader once this returns.
        self._merged.append((SegmentReader(self.storage, self.schema, reader.segment()), basedoc, docmap))
        self._added = True

    def write_per_doc(self, fieldnames: set[str], reader: Any) -> dict[int, int] | None:
        """``SegmentWriter.write_per_doc`` (Whoosh 2.7.5), each field's lengths read once (Whoosh asked the
        segment for every document's every field, checking the file system for fields without lengths)."""
        perdoc = getattr(reader, "_perdoc", None)
        if not isinstance(reader, SegmentReader) or not isinstance(perdoc, W3PerDocReader):
            return super().write_per_doc(fieldnames, reader)
        schema, pdw = self.schema, self.perdocwriter
        docmap: dict[int, int] | None = {} if reader.has_deletions() else None
        columns = {}
        for fieldname in fieldnames:
            column = schema[fieldname].column_type
            if column and reader.has_column(fieldname):
                found = reader.column_reader(fieldname, column)
                columns[fieldname] = found.raw_column() if isinstance(found, TranslatingColumnReader) else found
        lengths: dict[str, list[int | None] | None] = {}
        for docnum, stored in reader.iter_docs():
            if docmap is not None:
                docmap[docnum] = self.docnum
            pdw.start_doc(self.docnum)
            for fieldname in fieldnames | {name for name in stored if name in schema}:
                field = schema[fieldname]
                if fieldname not in lengths:
                    lengths[fieldname] = _read_lengths(perdoc, fieldname)
                field_lengths = lengths[fieldname]
                pdw.add_field(fieldname, field, stored.get(fieldname), 0 if field_lengths is None else field_lengths[docnum])
                if field.vector and reader.has_vector(docnum, fieldname):
                    pdw.add_vector_matcher(fieldname, field, reader.vector(docnum, fieldname, field.vector))
                if fieldname in columns:
                    pdw.add_column_value(fieldname, field.column_type, columns[fieldname][docnum])
            pdw.finish_doc()
            self.docnum += 1
        return docmap

    def _flush_segment(self) -> None:
        if not self._merged:
            super()._flush_segment()
            return
        self.perdocwriter.close()
        lengths = self.per_document_reader() if self.codec.length_stats else None
        # New documents first (their numbers come first), then each merged segment, in the order added.
        streams = [_pool_terms(self.pool.iter_postings()),
                   *(_segment_terms(reader, basedoc, docmap, self.schema) for reader, basedoc, docmap in self._merged)]
        self.fieldwriter.add_terms(self.schema, lengths, _joined(heapq.merge(*streams, key=_term_key)))
        self.fieldwriter.close()
        if lengths:
            lengths.close()

    def _finish(self) -> None:
        for reader, _, _ in self._merged:
            reader.close()
        self._merged = []
        super()._finish()

    def add_document(self, **fields: Any) -> None:
        """``SegmentWriter.add_document`` (Whoosh 2.7.5), the shared pairs' postings computed once."""
        self._check_state()
        schema = self.schema
        if any(schema[name].separate_spelling() for name in fields if name in schema):
            super().add_document(**fields)  # not in Newsdesk's schema: Whoosh's own path
            return
        perdocwriter, docnum, pool = self.perdocwriter, self.docnum, self.pool
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        shared: dict[str, Items] = {}
        analysed: Analysed = fields.get("_analysed") or {}
        for main, twin in self._pairs:
            if isinstance(fields.get(main), str) and fields.get(twin) == fields[main]:
                ready = analysed.get(main)
                shared[main], shared[twin] = ready if ready is not None else \
                    _pair_items(fields[main], schema[main], schema[twin])
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    fieldboost = self._field_boost(fields, fieldname, docboost)
                    items = shared[fieldname] if fieldname in shared else list(field.index(value))
                    postings = [(fieldname, tbytes, docnum, weight * fieldboost, vbytes)
                                for tbytes, _, weight, vbytes in items]
                    if field.scorable:
                        length = sum(freq for _, freq, _, _ in items)
                    # PostingPool.add for each, at once: its size estimate, then a sorted run on disk past
                    # the limit (where the runs split changes nothing: the postings come out in one order).
                    pool.fieldnames.add(fieldname)
                    pool.currentsize += sum(_POSTING_SIZE + len(fieldname) + 2 * len(tbytes) + len(vbytes or b"")
                                            for _, tbytes, _, _, vbytes in postings)
                    pool.current.extend(postings)
                    if pool.currentsize > pool.limit:
                        pool.save()
                if field.vector:
                    vitems = field.vector.word_values(value, field.analyzer, mode="index")
                    vitems = sorted((text, weight, vbytes) for text, _, weight, vbytes in vitems)
                    perdocwriter.add_vector_items(fieldname, field, vitems)
                customval = fields.get(f"_stored_{fieldname}", value)
                perdocwriter.add_field(fieldname, field, customval if field.stored else None, length)
                if field.column_type and customval is not None:
                    perdocwriter.add_column_value(fieldname, field.column_type, field.to_column_value(customval))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1


#: A document's texts analysed ahead of the writer: stemmed field → (its postings, its twin's).
Analysed = dict[str, tuple[Items, Items]]


def analyse(document: dict[str, Any], schema: Any) -> Analysed:
    """The postings ``add_document`` would compute for ``document``'s text fields and their twins.

    Needs no index, only the schema, so it can run in another process
    (search/pipeline.py's workers) while the one writer writes: handed back
    as the document's ``_analysed`` entry, it spares the writer the
    analysis, a third of its time. ``schema`` is this code's (``build_schema``):
    an index of another schema version is never opened for writing, so it is
    the index's too.
    """
    analysed: Analysed = {}
    for main, twin in _analysable_pairs(schema):
        if isinstance(document.get(main), str) and document.get(twin) == document[main]:
            analysed[main] = _pair_items(document[main], schema[main], schema[twin])
    return analysed


def _analysable_pairs(schema: Any) -> list[tuple[str, str]]:
    """The (stemmed field, twin) pairs built as search/index/schema.py builds them, so ``_pair_items`` is exact."""
    pairs = []
    for main, twin in WORD_FIELDS.items():
        if main not in schema or twin not in schema:
            continue
        stemmed, words = schema[main], schema[twin]
        expected = ((stemmed.analyzer, StemmingFilter, stemmed.format, PositionArrays),
                    (words.analyzer, FoldingFilter, words.format, WordCounts))
        if all(_plain_chain(analyzer, last) and type(format_) is kind for analyzer, last, format_, kind in expected) \
                and stemmed.analyzer.items[0].expression.pattern == words.analyzer.items[0].expression.pattern:
            pairs.append((main, twin))
    return pairs


def _plain_chain(analyzer: Any, last: type) -> bool:
    """``RegexTokenizer | LowercaseFilter | last``, the tokenizer splitting on matches."""
    if not isinstance(analyzer, CompositeAnalyzer) or len(analyzer.items) != 3:
        return False
    tokenizer, lower, final = analyzer.items
    return (type(tokenizer) is RegexTokenizer and not tokenizer.gaps and type(lower) is LowercaseFilter
            and type(final) is last)


def _pair_items(text: str, stemmed: FieldType, words: FieldType) -> tuple[Items, Items]:
    """The postings of ``text`` in a stemmed field and in its twin, from one pass over its words.

    What ``stemmed.index(text)`` and ``words.index(text)`` give: the
    tokenizer's matches lower-cased; each word's index terms (main term,
    then a Russian stem) at its position, weights summed from token boosts
    of 1.0; each word folded, dropped if that leaves nothing.
    """
    positions: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    known = _ANALYSED
    for position, token in enumerate(_matches(stemmed.analyzer.items[0].expression, text)):
        analysed = known.get(token)
        if analysed is None:
            if len(known) >= _ANALYSED_WORDS:
                known.clear()
            word = token.lower()
            analysed = known[token] = (index_terms(word), folded_word(word))
        terms, folded = analysed
        for term in terms:
            found = positions.get(term)
            if found is None:
                positions[term] = [position]
            else:
                found.append(position)
        if folded:
            counts[folded] = counts.get(folded, 0) + 1
    stemmed_format, words_format = stemmed.format, words.format
    return (
        [(term.encode(), len(found), float(len(found)) * stemmed_format.field_boost, stemmed_format.encode(found))
         for term, found in positions.items()],
        [(word.encode(), count, float(count) * words_format.field_boost, b"") for word, count in counts.items()],
    )


#: Each token as written → (its index terms, its folded form): one lookup per token instead of two cached
#: calls and a lower-casing. Emptied past this many words: each costs about 300 bytes in every process that
#: analyses (each ingest worker), and on the shared corpus (151k distinct tokens) a cap of 100k analysed as
#: fast as one of 500k (0.303 vs 0.300 ms an article) with 12 MB less; the frequent words come back at once.
_ANALYSED: dict[str, tuple[tuple[str, ...], str]] = {}
_ANALYSED_WORDS = 100_000
_WORD_MATCHES = re.compile(WORD.replace("(", "(?:"))  # the same matches, without the group findall would return


def _matches(expression: re.Pattern[str], text: str) -> list[str]:
    """The tokenizer's matches in ``text``: all at once where the expression is Newsdesk's word pattern."""
    if expression.pattern == WORD and expression.flags == _WORD_MATCHES.flags:
        return _WORD_MATCHES.findall(text)
    return [match.group(0) for match in expression.finditer(text)]


def _term_key(term: Term) -> tuple[str, bytes]:
    return term[0], term[1]


def _pool_terms(postings: Iterable[tuple[str, bytes, int, float, bytes | None]]) -> Iterator[Term]:
    """The pool's sorted postings (the new documents'), a term at a time."""
    current: Term | None = None
    for fieldname, btext, docnum, weight, value in postings:
        if current is None or current[0] != fieldname or current[1] != btext:
            if current is not None:
                yield current
            current = (fieldname, btext, [], [], [])
        current[2].append(docnum)
        current[3].append(weight)
        current[4].append(b"" if value is None else value)
    if current is not None:
        yield current


def _segment_terms(reader: SegmentReader, basedoc: int, docmap: dict[int, int] | None, schema: Any) -> Iterator[Term]:
    """A merged segment's terms in order, with their live postings renumbered as the merged segment numbers them.

    What ``SegmentReader.iter_postings`` gives, read a block at a time
    instead of a posting at a time (deleted documents left out; a term left
    with none is dropped).
    """
    terms = reader._terms  # Whoosh's W3TermsReader: the term table is in (field, term) order
    for (fieldname, btext), terminfo in terms.items():
        if fieldname not in schema:
            continue
        ids, weights, values = _postings(terms._postfile, terminfo, schema[fieldname].format)
        if docmap is None:
            ids = [basedoc + docnum for docnum in ids]
        else:
            live = [n for n, docnum in enumerate(ids) if docnum in docmap]
            if len(live) < len(ids):
                weights, values = [weights[n] for n in live], [values[n] for n in live]
            ids = [docmap[ids[n]] for n in live]
        if ids:
            yield fieldname, btext, ids, weights, values


def _postings(postfile: Any, terminfo: W3TermInfo, format_: Any) -> tuple[list[int], list[float], list[bytes]]:
    """A term's postings as Whoosh's matcher reads them (``id()``, ``weight()``, ``value()``; W3LeafMatcher,
    2.7.5), from one read of the term's bytes: the matcher read each block's header a few bytes at a time."""
    if terminfo.is_inlined():
        inlined_ids, inlined_weights, inlined_values = terminfo.inlined_postings()
        return (list(inlined_ids), list(inlined_weights),
                [value or b"" for value in inlined_values] if inlined_values else [b""] * len(inlined_ids))
    offset, length = terminfo.extent()
    stream = io.BytesIO(postfile.get(offset, length[0] if isinstance(length, tuple) else length))
    if stream.read(4) != WHOOSH3_HEADER_MAGIC:
        raise ValueError(f"no postings at {offset}")
    fixed = format_.fixed_value_size()
    ids: list[int] = []
    weights: list[float] = []
    values: list[bytes] = []
    last = False
    while not last:
        (size,) = _BLOCK_SIZE.unpack(stream.read(_BLOCK_SIZE.size))
        last, size = size < 0, abs(size)
        end = stream.tell() + size
        count, _, _, compression, _, _ = pickle.load(stream)
        data = stream.read(end - stream.tell())
        block_ids, block_weights, block_values = pickle.loads(zlib.decompress(data) if compression else data)
        ids.extend(itertools.accumulate(block_ids))  # delta-coded
        if block_weights is None:
            weights.extend([1.0] * count)
        elif isinstance(block_weights, float):
            weights.extend(array("f", [block_weights] * count))  # as the matcher widens it: 32-bit
        else:
            weights.extend(block_weights)
        if fixed is None or fixed < 0:
            values.extend(block_values)
        elif fixed == 0:
            values.extend([b""] * count)
        else:
            values.extend(block_values[at:at + fixed] for at in range(0, len(block_values), fixed))
    return ids, weights, values


def _joined(terms: Iterable[Term]) -> Iterator[Term]:
    """Terms in order with the runs of one term joined: its postings concatenated in the order given."""
    current: Term | None = None
    for term in terms:
        if current is not None and _term_key(current) == _term_key(term):
            current[2].extend(term[2])
            current[3].extend(term[3])
            current[4].extend(term[4])
            continue
        if current is not None:
            yield current
        current = (term[0], term[1], list(term[2]), list(term[3]), list(term[4]))
    if current is not None:
        yield current


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

    def __init__(self, codec: _Codec, storage: Any, segment: Any) -> None:
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


class _LengthsReader(W3PerDocReader):  # type: ignore[misc]
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
        return _read_lengths(self, fieldname)


def _read_lengths(perdoc: W3PerDocReader, fieldname: str) -> list[int | None] | None:
    """Each document's length of the field, as ``doc_field_length`` answers (None for a document without
    the field), or None for a field without lengths (whose documents' length is the default)."""
    if not perdoc.has_column(_lenfield(fieldname)):
        return None
    column = perdoc.column_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    return [byte_to_length(byte) if byte else None for byte in column]
