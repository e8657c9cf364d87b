"""Text folding shared by the index analyzer and actor matching.

Folding makes spellings meet: case, diacritics (Thaçi → thaci, Dačić →
dacic) and script (Serbian and Russian Cyrillic → Latin, so Лавров meets
Lavrov). Both the indexed text and the query pass through the same function,
which is what makes the match symmetric.
"""

from __future__ import annotations

import unicodedata

# Serbian Cyrillic first (its letters are one-to-one with Gaj's Latin), then
# the Russian letters Serbian lacks, by the common (BGN-like) romanisation.
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "dj", "е": "e",
    "ж": "z", "з": "z", "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj",
    "м": "m", "н": "n", "њ": "nj", "о": "o", "п": "p", "р": "r", "с": "s",
    "т": "t", "ћ": "c", "у": "u", "ф": "f", "х": "h", "ц": "c", "ч": "c",
    "џ": "dz", "ш": "s",
    "ё": "e", "й": "y", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e",
    "ю": "yu", "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ѓ": "gj", "ќ": "kj",
    "ѕ": "dz",
}
# Latin letters that do not decompose into base + combining mark.
_LATIN = {"đ": "dj", "ø": "o", "ł": "l", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i", "þ": "th"}
_TABLE = str.maketrans({**_CYRILLIC, **_LATIN})


def fold(text: str) -> str:
    """Lower-case, strip diacritics and transliterate Cyrillic to Latin."""
    lowered = text.casefold().translate(_TABLE)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
