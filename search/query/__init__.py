"""The query side: a ``SearchQuery`` in, a ``SearchPage`` out. Read side of the search backend.

Where it sits: above the index (its schema, analysis and stored document)
and the gazetteer (actor labels); below alerts and the web app.

The seam every backend answers (``backend``): ``Reader``, one snapshot of
an instance, asked everything below through one interface, and
``Readers``, a backend's source of them (``open_readers``); the embedded
Whoosh backend (``embedded``) answers with the functions below.

Exports: ``search`` (hits, snippets, facets), ``matching`` (what alerts
percolate), ``make_query`` and ``parse_query``, ``hits_by_id``,
``get_article``, ``get_copies``, ``actor_page``, ``facet_label``;
``overview`` (what the instance holds, for its front page) and its
``Overview``; ``outlet_coverage`` (each outlet's articles and how completely
they are described, for the sources page) and its ``OutletCoverage``;
``select`` (which documents a request selects: the one account the page,
the exports and the timeline count from); ``timeline_of`` (attention over
time) and its ``Timeline``; ``related`` (the articles most like one
article, for its page) and its ``RelatedArticle``.
Downloads: ``export`` (every match of a search, in its order, as
``ExportRow``s read a chunk at a time) and ``facet_table`` (a facet's whole table).

Modules: ``run`` (searching, hits, copies, actor pages), ``selection``
(which documents a request selects, and their order), ``parse`` (syntax,
dates, wildcards, the time limit), ``matches`` (which documents a query
matches, as per-segment arrays, and their BM25F scores), ``postings``
(posting lists read a block at a time), ``columns`` (each segment's facet
codes, dates and liveness as arrays, built once), ``facets`` (counting them),
``coverage`` and ``overview`` (per outlet and per instance, from the same
arrays), ``timeline`` (matches per day, week, month or year), ``related``
(more like this: key terms of an article's body, searched for), ``snippets``.
``export`` (a search's every match, for CSV and JSON Lines).
"""

from __future__ import annotations

from search.query.backend import Percolator, Reader, Readers, open_readers
from search.query.coverage import OutletCoverage, outlet_coverage
from search.query.export import EXPORT_COLUMNS, Export, Exported, ExportRow, export, facet_table
from search.query.overview import Overview, overview
from search.query.parse import MAX_FACET_LIMIT, check_syntax, make_query, parse_query
from search.query.related import RelatedArticle, related
from search.query.run import (
    actor_page,
    facet_label,
    get_article,
    get_copies,
    hits_by_id,
    matching,
    search,
)
from search.query.selection import Selection, select
from search.query.timeline import INTERVALS, Timeline, side_by_side, timeline, timeline_of

__all__ = [
    "EXPORT_COLUMNS",
    "INTERVALS",
    "MAX_FACET_LIMIT",
    "Export",
    "ExportRow",
    "Exported",
    "OutletCoverage",
    "Overview",
    "Percolator",
    "Reader",
    "Readers",
    "RelatedArticle",
    "Selection",
    "Timeline",
    "actor_page",
    "check_syntax",
    "export",
    "facet_label",
    "facet_table",
    "get_article",
    "get_copies",
    "hits_by_id",
    "make_query",
    "matching",
    "open_readers",
    "outlet_coverage",
    "overview",
    "parse_query",
    "related",
    "search",
    "select",
    "side_by_side",
    "timeline",
    "timeline_of",
]
