"""Enrichment: third stage, between the cleaner and the index.

Adds what the text implies but does not state: its language (langdetect,
seeded so the same text always gets the same answer) and the actors it
names (the gazetteer in ``seeds/actors.toml``). The year facet is derived
from the date on the ``Article`` itself.
"""

from __future__ import annotations

from dataclasses import replace

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

from search.actors import Gazetteer
from search.records import UNKNOWN, Article

#: langdetect is unreliable below this share; the article is then "unknown".
_MIN_LANGUAGE_PROBABILITY = 0.5
#: Enough text to decide; more only costs time.
_LANGUAGE_SAMPLE = 5000


def enrich(article: Article, gazetteer: Gazetteer, seed: int = 0) -> Article:
    """Return the article with ``language`` and ``actors`` filled in."""
    text = f"{article.title}\n\n{article.text}"
    return replace(article, language=detect_language(text, seed), actors=gazetteer.find(text))


def detect_language(text: str, seed: int = 0) -> str:
    """ISO 639-1 code of the text's language, or "unknown"."""
    # langdetect samples randomly; its global seed makes the answer repeatable.
    DetectorFactory.seed = seed
    try:
        best = detect_langs(text[:_LANGUAGE_SAMPLE])[0]
    except LangDetectException:
        return UNKNOWN
    return best.lang if best.prob >= _MIN_LANGUAGE_PROBABILITY else UNKNOWN
