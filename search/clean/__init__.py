"""The cleaner: a ``RawPage`` in, an ``Article`` out. Second stage, after acquisition.

Where it sits: above the ground floor only. It reads the page's text (decoded
where the page was acquired), never the sources file: the pipeline hands it
the host → outlet map.

Exports: ``clean`` (a page to an article, or ``ExtractionError``),
``extract`` (one HTML page taken alone). The language comes from
``search.language``, which enrichment shares.

Modules: ``cleaner`` (the entry points, parsing and bounds), ``body``
(trafilatura with a fallback), ``leftovers`` (furniture left in a body),
``metadata`` with ``titles``, ``authors``, ``meta_tags``, ``page_strings``
(what a page says of itself), ``linked_data`` (JSON-LD, read once per page),
``dates`` with ``date_text`` and ``date_formats`` (the date and its
provenance).
"""

from __future__ import annotations

from search.clean.cleaner import clean, extract

__all__ = [
    "clean",
    "extract",
]
