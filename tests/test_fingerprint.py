"""search.fingerprint: the MinHash sketch and the folding under it, against their plain definitions.

The sketch is stored in the index and compared across runs, so a faster way
of computing it must give the very same integers: each test holds the
module's code against the definition written out in plain Python here.
"""

from __future__ import annotations

import hashlib
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from search.fingerprint import MINHASH_BINS, _folded, minhash, shingles, text_minhash
from search.folding import fold

# Letters where folding is not one character for one: combining marks,
# ligatures, ß, đ, Cyrillic soft signs and й (translated before decomposition),
# Greek final sigma, dotted İ, full-width forms, a fraction, the Serbian and
# Albanian alphabets.
_TRICKY = ("e\u0301 a\u0308\u0301 ﬁ ß đ Đ ъ ь й Й ё Ё ς Σ İ ı ＡＢＣ ½ ℌ ¨ ǅ "
           "čćšžđ ČĆŠŽĐ ë ç Ë Ç љњџђћ ЉЊЏЂЋ ѓќѕ Ω ø æ œ þ ł")
_TEXTS = st.text(alphabet=st.sampled_from(sorted(set(_TRICKY + "abc XYZ.,-\n\t'’")) ), max_size=300) | st.text(
    max_size=200
)


def _reference_minhash(features: set[str]) -> tuple[int, ...]:
    """The sketch as first written: one BLAKE2b hash per feature split by divmod, a min per bin."""
    empty = 1 << 32
    minima = [empty] * MINHASH_BINS
    for feature in features:
        value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
        bin_, low = divmod(value, 1 << 32)
        bin_ %= MINHASH_BINS
        minima[bin_] = min(minima[bin_], low)
    if all(v == empty for v in minima):
        return tuple(minima)
    order = [sorted(range(MINHASH_BINS), key=lambda j, b=b: int.from_bytes(
        hashlib.blake2b(f"borrow {b} {j}".encode(), digest_size=8).digest(), "big")) for b in range(MINHASH_BINS)]
    return tuple(v if v != empty else next(minima[j] for j in order[b] if minima[j] != empty)
                 for b, v in enumerate(minima))


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_folding_piecewise_is_folding_the_whole(text: str) -> None:
    assert _folded(text) == fold(text)


def test_folding_keeps_what_fold_does_to_tricky_letters() -> None:
    assert _folded(_TRICKY) == fold(_TRICKY)
    assert _folded("Vučić ĐOKOVIĆ") == "vucic djokovic"
    # The decomposed and the composed é fold alike.
    assert _folded("Caf" + unicodedata.normalize("NFD", "é")) == _folded("Café") == "cafe"


@settings(max_examples=200, deadline=None)
@given(st.sets(st.text(max_size=12), max_size=150))
def test_the_sketch_is_its_definition(features: set[str]) -> None:
    assert minhash(features) == _reference_minhash(features)


def test_the_sketch_of_a_text_is_its_definition_over_its_shingles() -> None:
    words = [f"w{i % 97}" if i % 5 else "Ćirilica" for i in range(400)]
    text = " ".join(words)
    found = shingles(text)
    assert found is not None
    assert text_minhash(text) == _reference_minhash(found)
    assert text_minhash(" ".join(words[:10])) is None  # too short to fingerprint
    assert minhash(set()) == (1 << 32,) * MINHASH_BINS  # nothing to sketch: every bin empty
