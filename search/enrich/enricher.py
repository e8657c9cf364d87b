"""Enrichment: third stage, between the cleaner and the index.

Adds what the text implies but does not state: its language when the
cleaner has not already found it (``search.language.detector``), the actors it names
(the gazetteer in ``seeds/actors.toml``) and a MinHash sketch of the text,
by which the index recognises copies of one story (``search.index.duplicates``;
the sketch itself is defined in ``search.fingerprint``). The year facet is
derived from the date on the ``Article`` itself.
"""

from __future__ import annotations

from dataclasses import replace

from search.enrich.actors import Gazetteer
from search.fingerprint import text_minhash
from search.language import detect_language
from search.records import Article


def enrich(article: Article, gazetteer: Gazetteer, seed: int = 0) -> Article:
    """Return the article with ``language`` (unless the cleaner set it, with
    the page's declared language to go by), ``actors`` and ``minhash`` filled in."""
    text = f"{article.title}\n\n{article.text}"
    return replace(
        article,
        language=article.language or detect_language(text, None, seed),
        actors=gazetteer.find(text),
        minhash=text_minhash(article.text),
    )
