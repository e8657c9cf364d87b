"""langdetect's n-gram model, run without its per-character Python loops.

Where it sits: inside language identification (``search.language``), under
the detector (``search.language.detector``), which asks ``langdetect_guesses`` for
langdetect's answer on a sample. Stage 2 (the cleaner) and stage 3
(enrichment) get their language through the detector.

langdetect 1.0.9 spends nearly all its time in three loops of pure Python: it
feeds the text to its n-gram buffer one character at a time (normalising
each), it multiplies 55 language probabilities one by one for each n-gram it
draws, and it renormalises them one by one. This module gives the very same
answers (same languages, same probabilities to the last bit) in a fraction
of the time, from the profiles langdetect itself loads:

* the text is prepared with langdetect's own code (its URL and e-mail
  patterns, its Vietnamese normaliser), and each *distinct* character is
  classified and normalised by langdetect's own functions, once per process;
* the n-grams come word by word: langdetect's buffer starts afresh after
  every space, so a word followed or not by a space always gives the same
  n-grams, and those are kept per word (``_word_rows``);
* the probabilities are a numpy vector: each draw multiplies it element by
  element by ``weight + profile row``, as langdetect does in a loop, so every
  product is the same IEEE operation in the same order; the sum that
  normalises them is Python's ``sum`` over the same floats in the same
  order, as in langdetect;
* the random draws are langdetect's: one ``random.Random`` seeded alike,
  ``gauss`` once per trial and ``choice`` over a list as long as its list of
  n-grams, once per step.

``tests/test_language_profiles.py`` holds the two side by side on real and
generated texts: any difference in a probability fails it.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy
from langdetect.detector import Detector
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.utils.ngram import NGram
from langdetect.utils.unicode_block import unicode_block

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: langdetect's constants, read from its class so that they cannot drift apart.
_ALPHA = Detector.ALPHA_DEFAULT
_ALPHA_WIDTH = Detector.ALPHA_WIDTH
_ITERATION_LIMIT = Detector.ITERATION_LIMIT
_PROB_THRESHOLD = Detector.PROB_THRESHOLD
_CONV_THRESHOLD = Detector.CONV_THRESHOLD
_BASE_FREQ = Detector.BASE_FREQ
#: ``Detector().max_text_length`` (an instance attribute, set in ``__init__``).
_MAX_TEXT_LENGTH = 10_000
#: Steps between two normalisations (langdetect: ``if i % 5 == 0``).
_NORMALISE_EVERY = 5
#: Words whose n-grams are kept; past this the cache starts over (about 15 MB).
_WORD_CACHE_SIZE = 100_000
_SPACE_RUNS = re.compile(" {2,}")


class Guess(NamedTuple):
    """One of langdetect's languages and its probability."""

    lang: str
    prob: float


class _Model:
    """langdetect's profiles as one matrix: a row per n-gram, a column per
    language, in the order langdetect's own factory loads them."""

    def __init__(self, factory: DetectorFactory) -> None:
        self.langs: tuple[str, ...] = tuple(factory.langlist)
        grams = factory.word_lang_prob_map
        self.row_of: dict[str, int] = {gram: row for row, gram in enumerate(grams)}
        # float64, as langdetect's Python floats: the same values exactly.
        self.matrix: NDArray[numpy.float64] = numpy.array(list(grams.values()), dtype=numpy.float64)
        self.uniform = 1.0 / len(self.langs)  # langdetect: [1.0 / len(langlist)] * len(langlist)


_model: _Model | None = None
_model_lock = threading.Lock()


def _loaded() -> _Model:
    """The model, loaded once (about half a second; the matrix is 39 MB, and
    langdetect's own copy, three times that in Python objects, is let go)."""
    global _model
    with _model_lock:
        if _model is None:
            factory = DetectorFactory()
            factory.load_profile(PROFILES_DIRECTORY)
            _model = _Model(factory)
        return _model


def langdetect_guesses(text: str, seed: int, trials: int) -> list[Guess]:
    """langdetect's ``get_probabilities()`` for a detector seeded with ``seed``,
    given ``trials`` trials and ``text`` appended: its languages above 0.1,
    most probable first. Empty where langdetect raises (no n-gram it knows)."""
    model = _loaded()
    rows = _ngram_rows(_cleaned(_appended(text)), model)
    if not rows:
        return []
    langprob = numpy.zeros(len(model.langs))
    rng = random.Random()
    rng.seed(seed)
    for _ in range(trials):
        langprob += _trial(model, rows, rng) / trials
    found = [Guess(lang, float(p)) for lang, p in zip(model.langs, langprob.tolist(), strict=True)
             if p > _PROB_THRESHOLD]
    # langdetect sorts its Language objects (compared by probability) in
    # reverse, which keeps ties in language order: so does this stable sort.
    found.sort(key=lambda guess: guess.prob, reverse=True)
    return found


def _trial(model: _Model, rows: list[int], rng: random.Random) -> NDArray[numpy.float64]:
    """One of langdetect's trials: random n-grams multiply the probabilities
    until one language holds nearly all of it (or ``_ITERATION_LIMIT``).

    langdetect normalises after steps 0, 5, 10, ...: the five steps between
    two normalisations are one block here. The normalised probabilities and
    the block's five rows (plus the weight) fill one array, and
    ``multiply.reduce`` down its rows multiplies them in row order, as the
    steps would, each product the same IEEE operation. Every call writes
    into arrays made once per trial: numpy's cost here is per call, not per
    number.
    """
    langs = len(model.langs)
    weight = (_ALPHA + rng.gauss(0.0, 1.0) * _ALPHA_WIDTH) / _BASE_FREQ
    draw = _drawing(rng, rows)
    take, multiply, divide, add = model.matrix.take, numpy.multiply.reduce, numpy.divide, numpy.add
    block = numpy.empty((_NORMALISE_EVERY + 1, langs))
    normalised, drawn = block[0], block[1:]
    prob = numpy.full(langs, model.uniform)
    prob *= model.matrix[draw(1)[0]] + weight  # step 0
    step = 0
    while True:
        values = prob.tolist()
        # Python's sum, as langdetect's own call (numpy's is pairwise, and
        # Python's from 3.12 compensates: either way, the same as langdetect's).
        total = sum(values)
        # max(p / total) is max(p) / total: division by a positive number keeps the order.
        if max(values) / total > _CONV_THRESHOLD or step >= _ITERATION_LIMIT:
            return prob / total
        divide(prob, total, out=normalised)
        take(draw(_NORMALISE_EVERY), 0, drawn)
        add(drawn, weight, out=drawn)
        multiply(block, axis=0, out=prob)
        step += _NORMALISE_EVERY


def _drawing(rng: random.Random, rows: list[int], with_bits: bool | None = None) -> Callable[[int], list[int]]:
    """``count`` draws of ``rng.choice(rows)``, as langdetect makes them.

    ``choice`` is ``rows[rng._randbelow(len(rows))]``, and ``_randbelow``
    draws ``getrandbits(k)`` until it is below ``len(rows)``: done here in
    one loop, without two Python calls per draw, when this Python's
    ``random`` is checked to draw so (``_DRAWS_LIKE_CHOICE``; ``with_bits``
    decides instead when given); else by ``choice`` itself.
    """
    if not (_DRAWS_LIKE_CHOICE if with_bits is None else with_bits):
        choice = rng.choice
        return lambda count: [choice(rows) for _ in range(count)]
    getrandbits, n = rng.getrandbits, len(rows)
    bits = n.bit_length()

    def draw(count: int) -> list[int]:
        picks = []
        for _ in range(count):
            r = getrandbits(bits)
            while r >= n:
                r = getrandbits(bits)
            picks.append(rows[r])
        return picks

    return draw


def _draws_like_choice() -> bool:
    """Whether ``getrandbits`` drawn as ``_drawing`` does gives ``choice``'s
    picks and leaves the generator in the same state, on this Python."""
    for n in (1, 2, 3, 7, 100, 1342, 4097, 65537):
        by_choice, by_bits = random.Random(n), random.Random(n)
        seq = list(range(n))
        draw = _drawing(by_bits, seq, with_bits=True)
        if [by_choice.choice(seq) for _ in range(64)] != draw(64) or by_choice.getstate() != by_bits.getstate():
            return False
    return True


_DRAWS_LIKE_CHOICE = _draws_like_choice()


# --- the text langdetect reads, and its n-grams ---


def _appended(text: str) -> str:
    """``Detector.append``: URLs and addresses out, Vietnamese normalised, cut
    at the length limit, runs of spaces as one."""
    # Each pattern is tried only where it can match (a URL starts "http", an
    # address has an "@", the Vietnamese marks are not ASCII): scanning
    # for them costs more than the rest of the preparation.
    if "http" in text:
        text = Detector.URL_RE.sub(" ", text)
    if "@" in text:
        text = Detector.MAIL_RE.sub(" ", text)
    if not text.isascii():
        text = NGram.normalize_vi(text)
    return _SPACE_RUNS.sub(" ", text[:_MAX_TEXT_LENGTH])


def _cleaned(text: str) -> str:
    """``Detector.cleaning_text``: a text mostly in another script loses its
    Latin letters. Counted per distinct character, by langdetect's own tests."""
    if text.isascii():
        return text  # no character from U+0300 on: nothing to weigh against the Latin letters
    latin = non_latin = 0
    for ch, count in Counter(text).items():
        kind = _kind(ch)
        if kind > 0:
            latin += count
        elif kind < 0:
            non_latin += count
    if latin * 2 < non_latin:
        return text.translate(_WITHOUT_LATIN)
    return text


_kinds: dict[str, int] = {}


def _kind(ch: str) -> int:
    """+1 for what ``cleaning_text`` counts as Latin, -1 as non-Latin, else 0."""
    kind = _kinds.get(ch)
    if kind is None:
        # langdetect's very tests (its block name never equals the string it is
        # compared with, so every character from U+0300 on counts as non-Latin).
        if "A" <= ch <= "z":
            kind = 1
        elif ch >= "\u0300" and unicode_block(ch) != "Latin Extended Additional":
            kind = -1
        else:
            kind = 0
        _kinds[ch] = kind
    return kind


#: ``cleaning_text`` drops the characters from "A" to "z".
_WITHOUT_LATIN = dict.fromkeys(range(ord("A"), ord("z") + 1))


class _Normalised(dict[int, str]):
    """``NGram.normalize`` of each character, for ``str.translate``: computed
    by langdetect's own function the first time a character is seen."""

    def __missing__(self, code: int) -> str:
        normal: str = NGram.normalize(chr(code))
        self[code] = normal
        return normal


_NORMALISED = _Normalised()


def _ngram_rows(text: str, model: _Model) -> list[int]:
    """The profile rows of ``Detector._extract_ngrams``, in its order.

    langdetect's buffer holds the last three characters since the last
    space; after each character it yields the 1-, 2- and 3-grams ending
    there that its profiles know, except inside a word in capitals (this
    character and the one before both upper case). A space ends a word: its
    grams are the last one or two letters and the space. So each word's
    grams depend on the word alone and on whether a space follows it.
    """
    words = text.translate(_NORMALISED).split(" ")
    last = words.pop()  # the only word no space follows
    rows: list[int] = []
    cache, row_of = _spaced_words, model.row_of
    for word in words:
        if word:
            found = cache.get(word)
            if found is None:
                found = _cached(cache, word, _word_rows(word, True, row_of))
            rows += found
    if last:
        rows += _word_rows(last, False, row_of)
    return rows


def _cached(cache: dict[str, tuple[int, ...]], word: str, found: tuple[int, ...]) -> tuple[int, ...]:
    if len(cache) >= _WORD_CACHE_SIZE:
        cache.clear()
    cache[word] = found
    return found


#: The rows of each word followed by a space, as ``_word_rows`` finds them.
_spaced_words: dict[str, tuple[int, ...]] = {}


def _word_rows(word: str, spaced: bool, row_of: dict[str, int]) -> tuple[int, ...]:
    padded = " " + word
    found = []
    for end in range(2, len(padded) + 1):  # after each character of the word
        if padded[end - 1].isupper() and padded[end - 2].isupper():
            continue  # langdetect's "capital word": nothing yielded here
        for n in (1, 2, 3):
            if n > end:
                break
            row = row_of.get(padded[end - n : end])
            if row is not None:
                found.append(row)
    if spaced:  # the space after the word: its 2- and 3-gram (the 1-gram " " never counts)
        for gram in (padded[-1:] + " ", padded[-2:] + " "):
            row = row_of.get(gram)
            if row is not None:
                found.append(row)
    return tuple(found)
