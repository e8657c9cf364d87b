"""What a text is written in: its script, the languages a script allows, look-alike letters.

Pipeline: sources → clean → **enrich** → index. The language detector
(``search.language.detector``) and its South Slavic rule (``search.language.south_slavic``)
read a sample through these: ``count_letters`` says how many of its letters
are Latin and Cyrillic (``Letters.script``), ``without_homoglyphs`` makes
Cyrillic look-alikes inside Latin words Latin, and a declared language is
possible for a script only as ``CYRILLIC_LANGUAGES`` and
``NON_LATIN_LANGUAGES`` allow.

Exports: ``Letters``, ``count_letters``, ``letter_count``, ``WORD``,
``UPPER``, ``without_homoglyphs``, ``CYRILLIC_LANGUAGES``,
``NON_LATIN_LANGUAGES``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Runs, not single letters: findall then builds a short list (5x faster).
WORD = re.compile(r"[^\W\d_]+")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]+")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]+")
UPPER = re.compile(r"[A-Z\u00C0-\u00DE\u0400-\u042F]+")
#: Written in Cyrillic (Serbian also in Latin).
CYRILLIC_LANGUAGES = frozenset(
    {"ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "mn", "tg", "tt", "ba", "cv", "ce", "os"}
)
#: Never written in Latin script: a declaration of one of these on a Latin text is wrong.
NON_LATIN_LANGUAGES = (CYRILLIC_LANGUAGES - {"sr"}) | frozenset(
    {
        "el", "ar", "fa", "ur", "ps", "he", "yi", "hi", "mr", "ne", "bn", "pa", "gu", "ta", "te",
        "kn", "ml", "si", "th", "lo", "km", "my", "ka", "hy", "am", "zh", "ja", "ko", "dv", "bo",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Letters:
    """What the sample is written in."""

    total: int
    latin: int
    cyrillic: int

    @property
    def script(self) -> str:
        if self.cyrillic * 2 > self.total:
            return "cyrillic"
        if self.latin * 2 > self.total:
            return "latin"
        return "other"


def count_letters(sample: str) -> Letters:
    """The sample's letters: all of them, the Latin ones, the Cyrillic ones."""
    if sample.isascii():  # every letter Latin, none Cyrillic: one count instead of three
        total = letter_count(WORD, sample)
        return Letters(total=total, latin=total, cyrillic=0)
    return Letters(
        total=letter_count(WORD, sample),
        latin=letter_count(_LATIN, sample),
        cyrillic=letter_count(_CYRILLIC, sample),
    )


def letter_count(pattern: re.Pattern[str], sample: str) -> int:
    """How many letters the runs ``pattern`` finds in the sample hold."""
    return sum(map(len, pattern.findall(sample)))


def without_homoglyphs(sample: str) -> str:
    """Cyrillic look-alikes inside Latin words made Latin ("Ministаrstvо" with
    a Cyrillic а and о): copied or obfuscated text, whose words no rule and
    no n-gram of langdetect would recognise otherwise."""
    # Most samples have no look-alike at all: a character class finds that
    # faster than the pattern for a mixed word.
    if sample.isascii() or not _LOOK_ALIKE.search(sample) or not _MIXED_WORD.search(sample):
        return sample
    return _MIXED_WORD.sub(_latin_word, sample)


def _latin_word(match: re.Match[str]) -> str:
    word = match.group()
    # A Cyrillic word with a stray Latin letter stays as it is.
    return word.translate(_HOMOGLYPHS) if letter_count(_LATIN, word) * 2 >= len(word) else word


#: Cyrillic letters drawn like Latin ones.
_HOMOGLYPHS = str.maketrans("аеорсхуіјАВЕКМНОРСТХІЈ", "aeopcxyijABEKMHOPCTXIJ")
_LOOK_ALIKE = re.compile("[аеорсхуіјАВЕКМНОРСТХІЈ]")
#: A word with a Latin letter next to a Cyrillic look-alike (either order).
_MIXED_WORD = re.compile(
    r"\b\w*(?:[A-Za-z\u00C0-\u024F][аеорсхуіјАВЕКМНОРСТХІЈ]|[аеорсхуіјАВЕКМНОРСТХІЈ][A-Za-z\u00C0-\u024F])\w*"
)
