"""The index writer: Whoosh's segment writer, writing the same postings in fewer bytes and less time.

Part of the index stage: search/index/store.py opens every writer here
(``open_writer``); nothing else writes to the live index. What a segment
holds — terms, postings, their statistics, stored fields, columns — is
exactly what Whoosh's own writer would put there. How the postings are laid
out in the file is search/index/codec.py's (compact blocks, twin postings
shared), all read by Whoosh's unchanged ``W3Codec`` reader. Here, the same
work done with less:

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
from whoosh.codec.whoosh3 import (
    WHOOSH3_HEADER_MAGIC,
    W3PerDocReader,
    W3TermInfo,
)
from whoosh.columns import TranslatingColumnReader
from whoosh.fields import FieldType
from whoosh.index import FileIndex
from whoosh.reading import SegmentReader
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
from search.index.codec import Codec, Term, read_lengths

__all__ = ["Analysed", "analyse", "open_writer"]

_BLOCK_SIZE = struct.Struct("!i")
#: PostingPool.add's estimate of a posting's memory, less its field name, term and value.
_POSTING_SIZE = 28 + 4 * 5 + 21 + 26 + 18 + 16 + 21  # a block's length, negative for a term's last


def open_writer(ix: FileIndex, timeout: float, limitmb: int) -> SegmentWriter:
    """A writer on ``ix`` (waiting up to ``timeout`` s for its lock; ``LockError`` after that)."""
    return _Writer(ix, timeout=timeout, limitmb=limitmb, codec=Codec())


#: A field's postings as Whoosh's writer takes them: (term bytes, frequency, weight, value).
Items = list[tuple[bytes, int, float, bytes]]




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
                    lengths[fieldname] = read_lengths(perdoc, fieldname)
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
