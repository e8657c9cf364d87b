"""Overview: what an instance holds, in a few numbers, for its front page.

Part of the read side, beside search/query/run.py: counted from the same
per-segment arrays as the front page's own facets and date order
(search/query/columns.py; the live documents as ``matches.everything``
gives them; the outlet facet counted as search/query/facets.py counts it),
so the numbers agree with the facet counts and cost a few array operations
(about 1.4 ms at 100,000 articles), never a stored-field read per article.
One stored document is read: the newest article's, for when it was added.

- **articles**: the live documents;
- **outlets**: the outlet facet's values, ``unknown`` apart (an article whose
  outlet is not known names no outlet, and "unknown" is not one);
- **earliest** and **latest** publication moments, from the ``date_key``
  column (UTC, to the second; 0 means undated and is left out);
- **added**: when the newest article first entered the instance. "Newest"
  is the highest ingest number (``seq``, search/index/sequence.py), which an
  article keeps through updates and rebuilds, so updating an old article
  does not make it new; the moment is the one recorded with its number
  (``first_indexed``), else its stored ``indexed_at``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from whoosh.searching import Searcher

from search.index import first_indexed
from search.query import columns, matches
from search.records import UNKNOWN
from search.settings import Settings


@dataclass(frozen=True)
class Overview:
    """What the index holds: counts, the publication span, the last arrival."""

    articles: int
    outlets: int  # distinct outlets named
    no_outlet: int  # articles that name none
    dated: int
    earliest: dt.datetime | None  # UTC; None when no article is dated
    latest: dt.datetime | None
    added: dt.datetime | None  # UTC; None for an empty index (or articles never numbered)

    @property
    def undated(self) -> int:
        return self.articles - self.dated


def overview(searcher: Searcher, settings: Settings) -> Overview:
    """The overview of the index snapshot ``searcher`` reads."""
    index = columns.index_columns(searcher)
    live = matches.everything(index).masks
    outlets = _outlet_counts(index, live)
    no_outlet = int(outlets[index.codes["outlet"][UNKNOWN]]) if UNKNOWN in index.codes["outlet"] else 0
    earliest, latest, dated = _span(index, live)
    return Overview(
        articles=sum(int(np.count_nonzero(mask)) for mask in live),
        outlets=int(np.count_nonzero(outlets)) - (1 if no_outlet else 0),
        no_outlet=no_outlet,
        dated=dated,
        earliest=_moment(earliest) if dated else None,
        latest=_moment(latest) if dated else None,
        added=_added(searcher, index, live, settings),
    )


def _outlet_counts(index: columns.IndexColumns, live: list[columns.Mask]) -> NDArray[np.int64]:
    """The live articles per outlet, by the outlet table's code: the outlet facet as facets.count counts it,
    without the three other facets."""
    counts = np.zeros(len(index.values["outlet"]), dtype=np.int64)
    for i, mask in enumerate(live):
        coded = index.coded(i, "outlet")
        counts[index.to_table["outlet"][i]] += np.bincount(coded.codes[mask], minlength=len(coded.values))
    return counts


def _span(index: columns.IndexColumns, live: list[columns.Mask]) -> tuple[int, int, int]:
    """The least and greatest ``date_key`` of the live dated articles, and how many are dated (0: no span)."""
    earliest, latest, dated = _UNDATED_LAST, 0, 0
    for leaf, mask in zip(index.leaves, live, strict=True):
        dates = leaf.columns.dates
        counted = mask & (dates > 0)  # 0 is "undated"
        dated += int(np.count_nonzero(counted))
        if counted.any():
            earliest = min(earliest, int(np.where(counted, dates, _UNDATED_LAST).min()))
            latest = max(latest, int(np.where(counted, dates, 0).max()))
    return earliest, latest, dated


#: Above every ``date_key``: what an undated or deleted article counts as when the earliest is looked for.
_UNDATED_LAST = np.iinfo(np.uint64).max


def _moment(date_key: int) -> dt.datetime:
    """A ``date_key`` (YYYYMMDDhhmmss in UTC, search/index/document.py) as an aware moment."""
    return dt.datetime.strptime(str(date_key), "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)


def _added(searcher: Searcher, index: columns.IndexColumns, live: list[columns.Mask],
           settings: Settings) -> dt.datetime | None:
    """When the live article with the highest ingest number was first indexed."""
    best = (0, -1)  # (ingest number, document number in the whole index): none yet
    for leaf, mask in zip(index.leaves, live, strict=True):
        seqs = np.where(mask, leaf.columns.seqs, 0)
        top = int(np.argmax(seqs)) if len(seqs) else 0
        if len(seqs) and int(seqs[top]) > best[0]:
            best = (int(seqs[top]), leaf.offset + top)
    if best[1] < 0:  # an empty index, or articles never numbered
        return None
    stored = searcher.stored_fields(best[1])
    recorded = first_indexed(settings, [stored["id"]]).get(stored["id"])
    if recorded is not None:
        return recorded.astimezone(dt.UTC)
    indexed = stored.get("indexed_at")  # numbered before the moment was recorded
    return indexed.replace(tzinfo=dt.UTC) if isinstance(indexed, dt.datetime) else None
