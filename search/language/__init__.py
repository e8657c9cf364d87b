"""Language identification: what language a text is in, and what its code is called.

Where it sits: below the cleaner (which knows a page's ``<html lang>``) and
enrichment (which labels what the cleaner left open), above the ground floor
only; the query side and the web app read the names. One package decides
languages for all of them.

Exports: ``detect_language`` (an ISO 639-1 code or "unknown"),
``LANGUAGE_NAMES`` (code → English name).

Modules: ``detector`` (seeded langdetect with the declared language as a
prior), ``profiles`` (langdetect's algorithm over its profiles, vectorised),
``scripts`` (what a sample is written in), ``south_slavic`` (the
Serbian / Croatian / Bosnian / Macedonian rule), ``names``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search.language.names import LANGUAGE_NAMES

if TYPE_CHECKING:
    from search.language.detector import detect_language


def __getattr__(name: str) -> Any:
    # The detector (langdetect) loads on first use: the query side and the
    # web server read only the names (tests/test_server_memory.py).
    if name == "detect_language":
        from search.language import detector

        return detector.detect_language
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["LANGUAGE_NAMES", "detect_language"]
