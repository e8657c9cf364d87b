"""Copies of one text, recognised as articles are written to the index.

Two cases, told apart by outlet:

* **the same outlet** publishing one text twice (under two URLs, or again
  after a headline change) — the later copy is a *duplicate*: not stored,
  counted in the ``IndexReport`` with the id it duplicates;
* **several outlets** publishing one text (a wire story) — every copy is
  stored under its own outlet, and all share a *cluster* id: the id of the
  first article of the cluster.

How alike two texts are is the Jaccard similarity of their sets of
three-word shingles (``search.fingerprint.shingles``). Exact copies are found by
the hash of the folded words (``text_key``); near copies through the MinHash
sketch enrichment computed, for texts of at least ``MIN_FINGERPRINT_WORDS``
words — shorter ones only ever match exactly, title included.

Threshold: a copy shares at least ``CLUSTER_SIMILARITY`` = 0.7 of its
shingles. Measured on the shared 24k-article corpus: a copy with a
rewritten first sentence (20 words) and one changed word stays above 0.7 in
every 300–600-word story and in 83 % of 150–300-word ones; the pairs above
0.7 were reused text (agency updates, recycled features) except a few
templated market reports of one outlet.

Lookup: the 64 bins of the sketch form 16 bands of 4 bins, each band a
lookup key (``band_terms``: the band and a 64-bit hash of its bins). Texts
with similarity J share a band with probability 1 − (1 − J⁴)¹⁶: 0.99 at
J = 0.7, 0.12 at 0.3, 0.002 at 0.1 — on the corpus, 0.08 candidates per
article. A candidate's sketch then estimates J (equal bins / 64, standard
deviation about 0.05) and only one above ``_SKETCH_FLOOR`` is compared
shingle by shingle.

The keys are not index terms: 17 unique terms per article (16 bands and the
text key) were a fifth of the index and of the time writing it. Each
segment's keys are read once from its stored fields into sorted arrays
(``_SegmentKeys``), kept per process by segment id — a segment never
changes, and deletions are read from the live reader at every lookup — so
candidates come out in the order the band terms' postings gave them.

Why not a 64-bit SimHash with Hamming-distance bands (the first design):
its bits scatter binomially, so the same rewritten lead put copies of a
300–600-word story anywhere from 2 to 12 bits apart; four 16-bit bands with
a 3-bit threshold found 5 % of them, the best layout tried 73 %.

A same-outlet duplicate must be closer still — ``DUPLICATE_SIMILARITY`` = 0.9,
which one corrected word leaves intact (about 0.98 for 250 words) and a
rewritten paragraph does not (about 0.8) — *and*
the same numbers in the same order — because a duplicate is dropped: an
outlet's daily templated reports (rates, results, case counts) differ mostly
in their numbers and must all be kept. Articles of an unknown outlet are
never duplicates of each other: "unknown" is not one outlet.
"""

from __future__ import annotations

import hashlib
import re
import threading
from array import array
from bisect import bisect_left
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from search.fingerprint import MIN_FINGERPRINT_WORDS, MINHASH_BINS, shingles
from search.folding import fold
from search.records import UNKNOWN

CLUSTER_SIMILARITY = 0.7
DUPLICATE_SIMILARITY = 0.9
#: Sketches agreeing on fewer bins than this are not compared word by word:
#: a true 0.7 is estimated below 0.55 less than once in a thousand.
_SKETCH_FLOOR = 0.55
BANDS, ROWS = 16, 4
#: Candidates examined per article: enough to find a cluster, and a bound on
#: the cost when a templated text has thousands of relatives.
MAX_CANDIDATES = 200

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+")
_HEX_PER_BIN = 8  # a bin's 32-bit value in hex
_TEXT = BANDS  # the kind of the text key's lookup key; bands are 0 … BANDS − 1
_ID = BANDS + 1  # the kind of an article id's (its 128-bit hash)
#: Segments' lookup keys kept per process, least recently used dropped past
#: this many documents (about 250 bytes each).
_KEPT_DOCUMENTS = 500_000
Document = Mapping[str, Any]
#: A lookup key: (kind, high, low) — a band (0–15) and its 64-bit hash,
#: ``_TEXT`` and the text key's 128 bits, or ``_ID`` and the id's hash.
Key = tuple[int, int, int]


@dataclass(frozen=True)
class Copy:
    """Another article holding the same or nearly the same text."""

    id: str
    cluster: str
    similarity: float  # Jaccard similarity of the shingle sets; 1.0 for the same words
    duplicate: bool  # same outlet and close enough to be the same article


def text_key(text: str, title: str = "") -> str:
    """Hash of the text's folded words: equal for texts that differ only in
    case, accents, script, spacing or punctuation.

    A text under ``MIN_FINGERPRINT_WORDS`` words is hashed with its title:
    "More to follow." or a video page's one line does not tell one article
    from another (the shared corpus has hundreds of headline-only items
    with one and the same placeholder body).
    """
    words = _WORD.findall(_folded(text))
    if len(words) < MIN_FINGERPRINT_WORDS:
        words = [*_WORD.findall(_folded(title)), "|", *words]
    return hashlib.sha256(" ".join(words).encode()).hexdigest()[:32]


def _folded(text: str) -> str:
    """``fold(text)``; for ASCII text that is its lower case (nothing to decompose or transliterate),
    found in a tenth of the time: most of the corpus is ASCII, and folding it was a tenth of the index stage."""
    return text.lower() if text.isascii() else fold(text)


def sketch_hex(minhash: Sequence[int]) -> str:
    """The sketch as stored in the index: one 8-digit hex value per bin.

    Hex rather than the 256 bytes themselves: the minima's leading digits
    are mostly zeros, so the stored fields' compression makes the hex the
    shorter of the two (2.0 against 2.2 MB for 8,000 articles).
    """
    return "".join(f"{value:08x}" for value in minhash)


def band_terms(minhash: Sequence[int]) -> list[str]:
    """A sketch's band keys written out: the band in hex, then the 64-bit hash of its bins."""
    return [f"{band:x}{digest:016x}" for band, digest in enumerate(_band_hashes(sketch_hex(minhash)))]


def _band_hashes(sketch: str) -> list[int]:
    """Each band's 64-bit BLAKE2b hash of its bins in hex, as the band terms of schema 4 had it."""
    step = ROWS * _HEX_PER_BIN
    return [
        int.from_bytes(hashlib.blake2b(sketch[start : start + step].encode(), digest_size=8).digest())
        for start in range(0, BANDS * step, step)
    ]


def estimate(ours: str, theirs: str) -> float:
    """Jaccard similarity estimated from two stored sketches: the share of equal bins."""
    step = _HEX_PER_BIN
    equal = sum(ours[i : i + step] == theirs[i : i + step] for i in range(0, len(ours), step))
    return equal / MINHASH_BINS


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def duplicate_of(copies: list[Copy]) -> Copy | None:
    """The stored article an incoming one duplicates, if any."""
    return next((copy for copy in copies if copy.duplicate), None)


def copies_among(document: Document, candidates: Iterable[Document]) -> list[Copy]:
    """The candidates holding the same or nearly the same text as ``document``, in the candidates' order.

    The one comparison of both backends: ``CopyFinder`` gives it the Whoosh
    index's candidates, search/index/pg_writer.py those PostgreSQL finds by
    the same lookup keys; each candidate is a stored document (``id``,
    ``outlet``, ``cluster``, ``text_key``, ``minhash`` in hex, ``body``).
    """
    incoming = _Incoming(document)
    found = (incoming.compare(other) for other in candidates)
    return [copy for copy in found if copy is not None]


def nearest(copies: list[Copy]) -> Copy | None:
    """The copy whose cluster an incoming article joins: the most similar
    (ties by cluster id, so the same input always gives the same clusters)."""
    return min(copies, key=lambda copy: (-copy.similarity, copy.cluster), default=None)


class CopyFinder:
    """Finds an incoming document's copies among the committed index and
    the documents of the batch not yet committed (which no searcher sees)."""

    def __init__(self, searcher: Searcher) -> None:
        self._searcher = searcher
        self._pending: dict[str, Document] = {}
        # The batch's own lookup keys, so finding its copies stays a few
        # dictionary lookups however large the batch.
        self._pending_ids: defaultdict[Key, list[str]] = defaultdict(list)
        self._written: list[list[Key]] = []  # each added document's keys, in the order written

    def copies(self, document: Document) -> list[Copy]:
        """Every candidate holding the same or nearly the same text."""
        return copies_among(document, self._candidates(document))

    def stored(self, article_id: str) -> Document | None:
        """The stored fields of the live document with this id, as ``searcher.document(id=…)`` finds them.

        Through the segments' keys: a few array lookups, where Whoosh's
        query took a tenth of a millisecond per segment.
        """
        key = _id_key(article_id)
        for leaf, offset in self._searcher.leaf_searchers():
            reader = leaf.reader()
            if not reader.doc_count_all():
                continue
            for docnum in _segment_keys(reader).documents(key):
                if not reader.is_deleted(docnum):
                    stored = self._searcher.stored_fields(offset + docnum)
                    if stored["id"] == article_id:  # the hash's 128 bits, checked
                        return stored
        return None

    def add(self, document: Document) -> None:
        """A document written in this batch: a candidate for the ones after it."""
        self._pending[document["id"]] = document
        keys = _lookup_keys(document.get("text_key"), document.get("minhash"))
        for key in keys:
            self._pending_ids[key].append(document["id"])
        self._written.append([_id_key(document["id"]), *keys])

    def committed(self, segment_id: str, size: int) -> None:
        """The batch is committed as segment ``segment_id`` of ``size`` documents: when those are exactly
        the documents added here, in order (the commit merged nothing in), their keys are that segment's,
        and the next batch need not read them back from its stored fields."""
        if self._written and size == len(self._written):
            _keep(segment_id, _SegmentKeys(self._written))

    def _candidates(self, document: Document) -> Iterator[Document]:
        keys = _lookup_keys(document.get("text_key"), document.get("minhash"))
        pending = dict.fromkeys(i for key in keys for i in self._pending_ids.get(key, ()))
        yield from (self._pending[i] for i in pending)
        for n, docnum in enumerate(dict.fromkeys(self._stored_with(keys))):
            if n >= MAX_CANDIDATES:
                return
            stored = self._searcher.stored_fields(docnum)
            if stored["id"] not in self._pending:  # else superseded in this batch
                yield stored

    def _stored_with(self, keys: list[Key]) -> Iterator[int]:
        """The live documents holding any of the keys: segment by segment, key by key, in document order."""
        for leaf, offset in self._searcher.leaf_searchers():
            reader = leaf.reader()
            if not reader.doc_count_all():  # an empty index's reader has no segment
                continue
            found = _segment_keys(reader)
            for key in keys:
                yield from (offset + docnum for docnum in found.documents(key) if not reader.is_deleted(docnum))


class _SegmentKeys:
    """One segment's lookup keys in arrays sorted by (high, kind, low, document), about 250 bytes a document."""

    __slots__ = ("_documents", "_high", "_kind", "_low", "size")

    def __init__(self, documents: Sequence[list[Key]]) -> None:
        """From each document's keys, in document order."""
        self.size = len(documents)
        # One int per key, (high, kind, low, document) packed: sorts as that tuple would, in a fraction of its memory.
        packed = sorted(
            ((high << 8 | kind) << 64 | low) << 32 | docnum
            for docnum, keys in enumerate(documents)
            for kind, high, low in keys
        )
        mask32, mask64 = (1 << 32) - 1, (1 << 64) - 1
        self._high = array("Q", (value >> 104 for value in packed))
        self._kind = array("B", (value >> 96 & 0xFF for value in packed))
        self._low = array("Q", (value >> 32 & mask64 for value in packed))
        self._documents = array("I", (value & mask32 for value in packed))

    def documents(self, key: Key) -> Iterator[int]:
        """The documents holding ``key``, in document order (deleted ones too)."""
        kind, high, low = key
        at = bisect_left(self._high, high)
        while at < len(self._high) and self._high[at] == high:
            if self._kind[at] == kind and self._low[at] == low:
                yield self._documents[at]
            at += 1


_kept: OrderedDict[str, _SegmentKeys] = OrderedDict()
_kept_lock = threading.Lock()


def _segment_keys(reader: IndexReader) -> _SegmentKeys:
    """The segment's keys, read from its stored fields once per process: a segment is never rewritten."""
    segment_id = reader.segment().segment_id()
    with _kept_lock:
        found = _kept.get(segment_id)
        if found is not None:
            _kept.move_to_end(segment_id)
            return found
    found = _SegmentKeys([_stored_keys(reader.stored_fields(docnum)) for docnum in range(reader.doc_count_all())])
    _keep(segment_id, found)
    return found


def _keep(segment_id: str, keys: _SegmentKeys) -> None:
    with _kept_lock:
        _kept[segment_id] = keys
        while len(_kept) > 1 and sum(kept.size for kept in _kept.values()) > _KEPT_DOCUMENTS:
            _kept.popitem(last=False)


def _stored_keys(stored: Document) -> list[Key]:
    return [_id_key(stored["id"]), *_lookup_keys(stored.get("text_key"), stored.get("minhash"))]


def _id_key(article_id: str) -> Key:
    digest = hashlib.blake2b(article_id.encode(), digest_size=16).digest()
    return _ID, int.from_bytes(digest[:8]), int.from_bytes(digest[8:])


def _lookup_keys(key: str | None, sketch: str | None) -> list[Key]:
    """The text key's lookup key, then each band's, in that order (the order candidates are read in)."""
    keys = [(_TEXT, int(key[:16], 16), int(key[16:], 16))] if key else []
    if sketch:
        keys += [(band, digest, 0) for band, digest in enumerate(_band_hashes(sketch))]
    return keys


class _Incoming:
    """The document being written, its shingles computed once if needed."""

    def __init__(self, document: Document) -> None:
        self.document = document

    @cached_property
    def shingles(self) -> set[str]:
        return shingles(self.document["body"]) or set()

    def compare(self, other: Document) -> Copy | None:
        ours = self.document
        if other["id"] == ours["id"]:
            return None
        exact = other.get("text_key") == ours["text_key"]
        similarity = 1.0 if exact else self._similarity(other)
        if similarity < CLUSTER_SIMILARITY:
            return None
        same_outlet = other.get("outlet") == ours["outlet"] != UNKNOWN
        close = exact or similarity >= DUPLICATE_SIMILARITY and _same_numbers(ours, other)
        return Copy(other["id"], other.get("cluster") or other["id"], similarity, same_outlet and close)

    def _similarity(self, other: Document) -> float:
        ours, theirs = self.document.get("minhash"), other.get("minhash")
        if not ours or not theirs or estimate(ours, theirs) < _SKETCH_FLOOR:
            return 0.0  # a short text, or too far apart to be worth reading
        return jaccard(self.shingles, shingles(other.get("body", "")) or set())


def _same_numbers(document: Document, other: Document) -> bool:
    return bool(_NUMBER.findall(document["body"]) == _NUMBER.findall(other.get("body", "")))
