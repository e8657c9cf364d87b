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

from search.enrich.actors import Actor, Gazetteer, load_gazetteer
from search.enrich.candidates import find_candidate, list_candidates, promote, record_candidates
from search.enrich.enricher import enrich

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
