"""Exports: every article a search matches, in the search's order, as rows a file can hold.

Part of the query stage, beside search/query/run.py: the same parsing, the
same selection (``select``: the query's matches, its date filter, its facet
filters) and the same order as the results page, but no page: ``export``
answers with an ``Export`` whose ``rows()`` yield every match once, first
to last. The web app (web/exports.py) writes them as CSV
and JSON Lines; ``facet_table`` gives one facet's whole table.

Memory stays flat however many articles match. What is held for the whole
export is the order — one 8-byte document number per match — and each
document's story (search/query/stories.py: a 4-byte code per document and
the live copies per story, no Python object per cluster), which gives each
row its copies; stored fields, which carry
each article's whole text, are read ``CHUNK`` documents at a time (in
document order within a chunk, so the reads move forward through the file)
and let go before the next chunk. No ``Hit``, no snippet, no list of all
rows is ever made.

Everything comes from one searcher: the caller opens it, ``export`` reads
the order from it, and ``rows()`` reads the articles from it to the end. A
Whoosh searcher is a snapshot (its segments and deletions as of its
commit, kept alive while it is open: search/index/mapped.py), so an export
never mixes two states of the index, whatever is committed meanwhile.

What runs before the first row — the page's own search (for its refusals
and its total), then the export's matching and ordering — is bounded by the
search's time limit, each part as a page is, and fails as the page fails
(``QueryError``, a 400); writing the rows is not: it is paced by the client
reading them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from whoosh import query as wq
from whoosh.searching import Searcher

from search.enrich import Gazetteer
from search.errors import NewsdeskError, QueryError
from search.index import from_stored
from search.query import facets
from search.query.parse import Deadline, parse_query
from search.query.run import search
from search.query.selection import best, facet_filter, highest_order, newest_order, require, select
from search.query.stories import Stories, stories
from search.records import FACETS, FacetValue, SearchQuery, StoredArticle
from search.settings import Settings

#: The columns of an export, in order: a CSV file's header, a JSON Lines object's keys.
EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "url", "title", "outlet", "author", "published", "published_source", "language",
    "actor_ids", "actor_names", "cluster", "copies",
)

#: Stored documents read at a time: each holds its article's whole text, so this bounds what a chunk weighs.
CHUNK = 64


@dataclass(frozen=True)
class ExportRow:
    """One article as an export lists it: what an analyst needs to cite, count and group it.

    ``published`` is ISO 8601 as the API gives it (a date, or a moment with
    its UTC offset); ``actor_names`` are the display names of ``actor_ids``,
    position by position; ``copies`` counts the live articles of its
    cluster, this one included (1 when alone), as a results page does.
    """

    id: str
    url: str | None
    title: str
    outlet: str
    author: str | None
    published: str | None
    published_source: str | None
    language: str
    actor_ids: tuple[str, ...]
    actor_names: tuple[str, ...]
    cluster: str
    copies: int

    def as_json(self) -> dict[str, object]:
        """The row as a JSON object: ``EXPORT_COLUMNS`` as keys, lists for the actors, null for what is unknown."""
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in ((name, getattr(self, name)) for name in EXPORT_COLUMNS)}


class Exported(Protocol):
    """What any backend's export gives (the seam's, search/query/backend.py): the search, how many articles
    it selects, and its rows in the page's order, read from one snapshot as they are iterated."""

    @property
    def query(self) -> SearchQuery: ...

    @property
    def total(self) -> int: ...

    def rows(self) -> Iterator[ExportRow]: ...


@dataclass(frozen=True, eq=False)
class Export:
    """A search's every match in the page's order, read from one searcher when ``rows()`` is iterated."""

    query: SearchQuery
    total: int
    searcher: Searcher
    order: NDArray[np.int64]  # the matches' document numbers, first to last
    stories: Stories  # whose copies each row counts
    gazetteer: Gazetteer

    def rows(self) -> Iterator[ExportRow]:
        """Every match once, in order; stored fields read ``CHUNK`` documents at a time."""
        for start in range(0, len(self.order), CHUNK):
            chunk = self.order[start:start + CHUNK].tolist()
            stored = {docnum: self.searcher.stored_fields(docnum) for docnum in sorted(chunk)}
            articles = [from_stored(stored.pop(docnum)) for docnum in chunk]
            del stored
            copies = self.stories.copies(self.order[start:start + CHUNK]).tolist()
            for article, size in zip(articles, copies, strict=True):
                yield self._row(article, size)

    def _row(self, article: StoredArticle, copies: int) -> ExportRow:
        return ExportRow(
            id=article.id,
            url=article.url,
            title=article.title,
            outlet=article.outlet,
            author=article.author,
            published=article.published.isoformat() if article.published else None,
            published_source=article.published_source,
            language=article.language,
            actor_ids=article.actors,
            actor_names=tuple(self.gazetteer.label(actor) for actor in article.actors),
            cluster=article.cluster,
            copies=copies,
        )


class ExportMismatch(NewsdeskError):
    """The export would list other articles than the search counts: a filter the export does not apply."""

    status = 500


def export(searcher: Searcher, request: SearchQuery, settings: Settings, gazetteer: Gazetteer) -> Export:
    """Every article ``request`` selects, ordered as its results pages list them (page and per_page ignored).

    The search itself runs first, as for a one-hit page: it refuses what the
    page refuses, with the same ``QueryError``, and its total is what the
    export must list. Both count from ``select``; an export whose count
    still differed (the page's search narrowed some other way, one day)
    stops before its first row rather than write a file that looks
    complete and is not.
    """
    request = replace(request, collapse="", count="articles", after="")  # every article, whatever the page
    counted = search(searcher, replace(request, page=1, per_page=1), settings, gazetteer).total
    deadline = Deadline(settings)
    parsed = parse_query(request.q, searcher, settings, deadline)
    newest_first = request.sort == "date" or isinstance(parsed, wq.Every)
    # What the page selects (its query, date filter and facet filters), by the page's own account of it.
    chosen = select(searcher, request, settings, deadline, scored=not newest_first, parsed=parsed)
    index, found, masks = chosen.index, chosen.found, chosen.under_all
    if newest_first:
        order = newest_order(index, masks)
    elif found.scores is not None and found.exact:
        order = highest_order(index, found.scores, masks)
    else:
        # Whoosh's own scores, as the page falls back to them (its filters as the page gives them to
        # Whoosh's collectors): one (score, number) pair per match, for a moment.
        filtering = [facet_filter(name, values) for name, values in chosen.filters.items()]
        if chosen.dates is not None:
            filtering.append(facets.Within(searcher, index, chosen.in_dates))
        total = sum(int(np.count_nonzero(mask)) for mask in masks)
        top = best(searcher, index, parsed, require(parsed, filtering), found, masks, total, deadline)
        order = np.fromiter((docnum for _, docnum in top), dtype=np.int64, count=len(top))
        del top
    deadline.check()
    if len(order) != counted:
        raise ExportMismatch(f"the export found {len(order):,} articles where the search counts {counted:,}",
                             hint="this is a fault of ours: please report it with the search's address")
    return Export(request, len(order), searcher, order, stories(searcher, index), gazetteer)


def facet_table(searcher: Searcher, request: SearchQuery, settings: Settings, gazetteer: Gazetteer,
                name: str) -> tuple[FacetValue, ...]:
    """One facet's whole table under ``request``: every value with its count, in the page's order.

    The page's own search, asked for every value rather than the first
    ``facet_limit``: the counts are the page's, the page shows the top of them
    (in articles, as every export counts, even from a page counting stories).
    """
    if name not in FACETS:
        raise QueryError(f"unknown facet {name!r}", hint=f"use facet={', '.join(FACETS)}")
    whole = replace(request, page=1, per_page=1, after="", facet_limit=_EVERY_VALUE, collapse="", count="articles")
    page = search(searcher, whole, settings, gazetteer)
    return page.facets[name]


#: A facet limit no facet reaches: ``facet_table`` lists every value.
_EVERY_VALUE = 1 << 62
