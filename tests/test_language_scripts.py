"""search.language.scripts and the detector's letter counts, against their plain definitions.

The shortcuts taken for ASCII samples and for samples without a Cyrillic
look-alike must give what the general rules give, on any text.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from search.language.detector import judged_letters
from search.language.scripts import WORD, Letters, count_letters, letter_count, without_homoglyphs

_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]+")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]+")
_MIXED_WORD = re.compile(
    r"\b\w*(?:[A-Za-z\u00C0-\u024F][аеорсхуіјАВЕКМНОРСТХІЈ]|[аеорсхуіјАВЕКМНОРСТХІЈ][A-Za-z\u00C0-\u024F])\w*"
)
_TEXTS = (
    st.text(alphabet=st.sampled_from(sorted(set("abcXYZ 1_.,'-\n" "аеорсАВЕМНј" "čšĐ" "ßİı" "中"))), max_size=200)
    | st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=200)
    | st.text(max_size=100)
)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_letters_are_counted_as_three_patterns_count_them(sample: str) -> None:
    assert count_letters(sample) == Letters(letter_count(WORD, sample), letter_count(_LATIN, sample),
                                            letter_count(_CYRILLIC, sample))


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_judged_letters_are_the_letters_of_distinct_case_folded_words(sample: str) -> None:
    assert judged_letters(sample) == sum(map(len, {word.casefold() for word in WORD.findall(sample)}))


_HOMOGLYPHS = str.maketrans("аеорсхуіјАВЕКМНОРСТХІЈ", "aeopcxyijABEKMHOPCTXIJ")


def _latin_word(match: re.Match[str]) -> str:
    word = match.group()
    return word.translate(_HOMOGLYPHS) if letter_count(_LATIN, word) * 2 >= len(word) else word


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_look_alikes_are_replaced_only_in_mixed_words(sample: str) -> None:
    assert without_homoglyphs(sample) == _MIXED_WORD.sub(_latin_word, sample)


def test_a_mixed_word_is_made_latin() -> None:
    assert without_homoglyphs("Ministаrstvо spoljnih poslova") == "Ministarstvo spoljnih poslova"
