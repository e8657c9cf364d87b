"""Enrichment: what a text implies but does not state. Third stage, between the cleaner and the index.

Where it sits: above the cleaner (language detection) and the ground floor
(the fingerprint). It fills in the language, the actors named (whatever the
spelling or script) and the MinHash sketch of the text.

Exports: ``enrich``; the actor gazetteer (``load_gazetteer``, ``Gazetteer``,
``Actor``); candidate actors (``record_candidates``,
``list_candidates``, ``find_candidate``, ``promote``).

Modules: ``enricher``, ``actors`` (the matcher), ``gazetteer`` (the
dictionary), ``inflection`` and ``metonyms`` (the forms a name takes),
``candidates`` (titled people the gazetteer does not know yet).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search.enrich.actors import Actor, Gazetteer, load_gazetteer
from search.enrich.candidates import find_candidate, list_candidates, promote, record_candidates

if TYPE_CHECKING:
    from search.enrich.enricher import enrich


def __getattr__(name: str) -> Any:
    # ``enrich`` (and with it language detection, langdetect) loads on first
    # use: the query side and the web server need only the gazetteer
    # (tests/test_server_memory.py).
    if name == "enrich":
        from search.enrich import enricher

        return enricher.enrich
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Actor",
    "Gazetteer",
    "enrich",
    "find_candidate",
    "list_candidates",
    "load_gazetteer",
    "promote",
    "record_candidates",
]
