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

Lookup: the 64 bins of the sketch form 16 bands of 4 bins, each band indexed
as one term (``band_terms``). Texts with similarity J share a band with
probability 1 − (1 − J⁴)¹⁶: 0.99 at J = 0.7, 0.12 at 0.3, 0.002 at 0.1 — on
the corpus, 0.08 candidates per article. A candidate's sketch then
estimates J (equal bins / 64, standard deviation about 0.05) and only one
above ``_SKETCH_FLOOR`` is compared shingle by shingle.

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
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

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
Document = Mapping[str, Any]


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
    words = _WORD.findall(fold(text))
    if len(words) < MIN_FINGERPRINT_WORDS:
        words = [*_WORD.findall(fold(title)), "|", *words]
    return hashlib.sha256(" ".join(words).encode()).hexdigest()[:32]


def sketch_hex(minhash: Sequence[int]) -> str:
    """The sketch as stored in the index: one 8-digit hex value per bin."""
    return "".join(f"{value:08x}" for value in minhash)


def band_terms(minhash: Sequence[int]) -> list[str]:
    """The index terms a sketch is looked up by: one per band of ``ROWS`` bins."""
    terms = []
    for band in range(BANDS):
        rows = sketch_hex(minhash[band * ROWS : (band + 1) * ROWS]).encode()
        terms.append(f"{band:x}{hashlib.blake2b(rows, digest_size=8).hexdigest()}")
    return terms


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
        # The batch's own lookup terms, so finding its copies stays a few
        # dictionary lookups however large the batch.
        self._pending_ids: defaultdict[tuple[str, str], list[str]] = defaultdict(list)

    def copies(self, document: Document) -> list[Copy]:
        """Every candidate holding the same or nearly the same text."""
        incoming = _Incoming(document)
        found = (incoming.compare(other) for other in self._candidates(document))
        return [copy for copy in found if copy is not None]

    def add(self, document: Document) -> None:
        """A document written in this batch: a candidate for the ones after it."""
        self._pending[document["id"]] = document
        for term in _lookup_terms(document):
            self._pending_ids[term].append(document["id"])

    def _candidates(self, document: Document) -> Iterator[Document]:
        terms = _lookup_terms(document)
        pending = dict.fromkeys(i for term in terms for i in self._pending_ids.get(term, ()))
        yield from (self._pending[i] for i in pending)
        for n, docnum in enumerate(dict.fromkeys(self._postings(terms))):
            if n >= MAX_CANDIDATES:
                return
            stored = self._searcher.stored_fields(docnum)
            if stored["id"] not in self._pending:  # else superseded in this batch
                yield stored

    def _postings(self, terms: list[tuple[str, str]]) -> Iterator[int]:
        """The live documents holding any of the terms, read term by term:
        an ``Or`` query over the 17 terms made Whoosh build a union matcher
        each time, 2.3 ms per article on the corpus against 0.4 ms for this
        whole lookup."""
        for leaf, offset in self._searcher.leaf_searchers():
            reader = leaf.reader()
            for field, text in terms:
                if (field, text) in reader:
                    yield from (offset + docnum for docnum in reader.postings(field, text).all_ids())


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


def _lookup_terms(document: Document) -> list[tuple[str, str]]:
    bands = document.get("minhash_bands", "").split()
    return [("text_key", document["text_key"]), *(("minhash_bands", band) for band in bands)]


def _same_numbers(document: Document, other: Document) -> bool:
    return bool(_NUMBER.findall(document["body"]) == _NUMBER.findall(other.get("body", "")))
