"""Text fingerprints: shingles and their MinHash sketch, on the ground floor.

Enrichment computes an article's sketch (``text_minhash``) and the index
compares sketches and shingles to recognise copies of one story
(``search.index.duplicates``): both read the same definitions from here, so what
"alike" means is decided once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import numpy

from search.folding import fold

#: Texts shorter than this get no fingerprint: a few words leave too few
#: shingles to tell a copy from a look-alike (templated briefs — market
#: reports, result lines — would pass for copies), so they match only exactly.
MIN_FINGERPRINT_WORDS = 50
#: Words per shingle. Three words, not one: single words make reports on one
#: subject or in one template look alike.
SHINGLE_WORDS = 3
#: Bins of the MinHash sketch: one minimum per bin.
MINHASH_BINS = 64
_EMPTY_BIN = 1 << 32  # above every 32-bit value
_WORD = re.compile(r"\w+")


def text_minhash(text: str) -> tuple[int, ...] | None:
    """The MinHash sketch of the text's shingles, or None for a short text.

    Only the text, never the title: copies of a wire story usually carry
    each outlet's own headline.
    """
    found = _shingle_list(text)
    # A shingle that comes back changes no minimum: no set is needed here.
    return minhash(found) if found is not None else None


def shingles(text: str) -> set[str] | None:
    """The text's runs of ``SHINGLE_WORDS`` folded words, or None when it has
    fewer than ``MIN_FINGERPRINT_WORDS`` words."""
    found = _shingle_list(text)
    return set(found) if found is not None else None


def _shingle_list(text: str) -> list[str] | None:
    """The shingles in text order, repeats included (None for a short text)."""
    words = _WORD.findall(_folded(text))
    if len(words) < MIN_FINGERPRINT_WORDS:
        return None
    runs = zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False)  # each word and the next ones
    return list(map(" ".join, runs))


def minhash(features: Iterable[str]) -> tuple[int, ...]:
    """One-permutation MinHash (Li, Owen & Zhang 2012): each feature's hash
    picks a bin and a 32-bit value; each bin keeps its smallest value.

    Two sets agree on a bin with probability equal to their Jaccard
    similarity, so the share of equal bins estimates it. One hash per
    feature instead of one per feature and bin: 64 times less hashing than
    classic MinHash, for the same estimate. Hashes are BLAKE2b, not
    ``hash()``, whose per-process salt would change the sketch every run.
    """
    # The hashes are computed one by one (hashlib), then split and reduced
    # as one array: the same integers as divmod and min over each feature.
    digests = b"".join([hashlib.blake2b(feature.encode(), digest_size=8).digest() for feature in features])
    hashes = numpy.frombuffer(digests, dtype=">u8")
    minima = numpy.full(MINHASH_BINS, _EMPTY_BIN, dtype=numpy.uint64)
    numpy.minimum.at(minima, (hashes >> 32) % MINHASH_BINS, hashes & 0xFFFFFFFF)
    return tuple(_densify(minima.tolist()))


def _densify(minima: list[int]) -> list[int]:
    """Fill each empty bin from the first non-empty one in a fixed, per-bin
    pseudo-random order ("optimal densification", Shrivastava 2017), so two
    texts fill an empty bin alike and equal bins still mean shared shingles."""
    if all(value == _EMPTY_BIN for value in minima):
        return minima
    return [
        value if value != _EMPTY_BIN else next(minima[j] for j in _BORROW_ORDER[b] if minima[j] != _EMPTY_BIN)
        for b, value in enumerate(minima)
    ]


def _folded(text: str) -> str:
    """``fold(text)``, the ASCII runs lower-cased in C and each run of other
    characters folded once per process: folding works one character at a
    time (case folding, a table, decomposition, then every combining mark
    dropped, whatever order decomposition put them in), so it can be done
    piecewise, and ASCII folds to its lower case."""
    if text.isascii():
        return text.lower()
    parts = _NON_ASCII.split(text)  # ASCII, non-ASCII, ASCII, ...
    parts[::2] = [part.lower() for part in parts[::2]]
    parts[1::2] = [_fold_run(run) for run in parts[1::2]]
    return "".join(parts)


def _fold_run(run: str) -> str:
    folded = _FOLDED_RUNS.get(run)
    if folded is None:
        folded = fold(run)
        if len(_FOLDED_RUNS) >= _FOLDED_RUNS_SIZE:
            _FOLDED_RUNS.clear()
        _FOLDED_RUNS[run] = folded
    return folded


_NON_ASCII = re.compile(r"([^\x00-\x7f]+)")
_FOLDED_RUNS: dict[str, str] = {}
_FOLDED_RUNS_SIZE = 100_000


def _hash64(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")


# Derived from BLAKE2b rather than ``random``, whose algorithms may change
# between Python versions: a sketch must mean the same in every index.
def _borrow_order(bin_: int) -> tuple[int, ...]:
    return tuple(sorted(range(MINHASH_BINS), key=lambda j: _hash64(f"borrow {bin_} {j}")))


_BORROW_ORDER = tuple(_borrow_order(b) for b in range(MINHASH_BINS))
