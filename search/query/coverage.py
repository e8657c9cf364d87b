"""Coverage: how well the index covers each outlet, counted from its columns.

Part of the read side, beside search/query/facets.py: the ``/sources`` page
and ``newsdesk sources`` show, for every outlet the index holds (crawled or
ingested from files), how many articles it has, how many of them have a
date, an author and a known language, when its newest article arrived and
how many arrived lately. ``outlet_coverage`` computes it from the per-segment
arrays of search/query/columns.py and the ``seq`` column, never reading a
stored document: at 120k articles the page is loaded interactively.

What the index holds for a missing value, and so what is counted here
(search/index/document.py ``to_fields``, search/index/schema.py):

* **No outlet** is stored as ``UNKNOWN`` (``"unknown"``, search/records.py),
  the outlet facet's value: such articles are the one row ``"unknown"``,
  whose facet filter and label (``facet_label``) are the facet's. The index
  cannot tell it from an outlet named "unknown". A document holding no
  outlet value at all (not written through ``to_fields``: the column's
  default ``""``) joins that row, as ``from_stored`` reads it as
  ``UNKNOWN`` too.
* **No date**: no ``published`` field, year ``"unknown"``, and ``date_key``
  0, which no date gives (it is ``YYYYMMDDhhmmss``): dated means a
  ``date_key`` above 0.
* **No author**: the ``author`` field is left out. Counted from the field's
  length column (its number of words, kept for scoring), so an author is one
  with at least one word: a stated author holding no word at all (``"—"``)
  is stored but has no term, nothing finds it, and it counts as none.
* **Unknown language**: ``UNKNOWN`` (the detector's answer when it cannot
  tell, and what ``to_fields`` stores for none); ``""`` is read the same way.

Deleted documents are not counted: each segment's live documents
(``Leaf.live``) mask every count.

When articles arrived comes from their ingest numbers (search/index/sequence.py):
the index stores each article's number as ``seq``, and the state table
``article_numbers`` keeps the moment each number was given (``indexed``,
UTC; NULL for numbers older than the column). An outlet's ``last_added`` is
that moment for its highest number. Numbers are given in order, so "first
indexed within the window" is "numbered at or above the lowest number given
since the window began"; numbers without a moment count as older. Without a
state database (or one from before the moments were kept) nothing is known:
``last_added`` is None and ``added_recently`` 0. The state is opened read-only:
a missing one is not created (SQLite's ``-wal`` and ``-shm`` companions of an
existing one may appear, as for any reader of a WAL database).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from whoosh.searching import Searcher

from search.index.sequence import moment
from search.query.columns import IndexColumns, Leaf, field_lengths, index_columns, numeric_column
from search.records import UNKNOWN
from search.settings import Settings
from search.state import StateConnection, open_state, state_exists

__all__ = ["OutletCoverage", "outlet_coverage"]

DEFAULT_WINDOW = dt.timedelta(days=7)
_SECONDS_A_DAY = 86400.0
#: The values of the language facet that say "not known" (``to_fields`` stores ``UNKNOWN``).
_NO_LANGUAGE = frozenset({UNKNOWN, ""})
#: SQLite's limit on parameters, as search/index/sequence.py keeps to.
_CHUNK = 500


@dataclass(frozen=True)
class OutletCoverage:
    """One outlet's articles in the index and how completely they are described."""

    outlet: str  # the outlet facet's value; ``UNKNOWN`` for the articles without an outlet
    articles: int  # live articles of this outlet
    dated: int  # of those, with a publication date
    authored: int  # with an author (at least one word)
    languaged: int  # with a known language
    last_added: dt.datetime | None  # when its newest article (highest ``seq``) was first indexed (UTC)
    added_recently: int  # articles first indexed within ``window_days`` before ``now``
    window_days: float

    @property
    def per_day(self) -> float:
        """Articles first indexed per day over the window."""
        return self.added_recently / self.window_days

    @property
    def dated_share(self) -> float:
        return _share(self.dated, self.articles)

    @property
    def authored_share(self) -> float:
        return _share(self.authored, self.articles)

    @property
    def languaged_share(self) -> float:
        return _share(self.languaged, self.articles)


def outlet_coverage(searcher: Searcher, settings: Settings, now: dt.datetime,
                    window: dt.timedelta = DEFAULT_WINDOW) -> list[OutletCoverage]:
    """Each outlet's coverage in ``searcher``'s snapshot, sorted by name (case-folded, then as is).

    ``now`` (timezone-aware) ends the window of ``window`` for ``added_recently``.
    Raises ``ValueError`` for a naive ``now`` or a window that is not positive.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if window <= dt.timedelta(0):
        raise ValueError(f"the window must be positive, not {window}")
    index = index_columns(searcher)
    # One row per outlet name: a document without any outlet value ("") is an article without an outlet.
    names = [value or UNKNOWN for value in index.values["outlet"]]
    rows = {name: code for code, name in enumerate(dict.fromkeys(names))}
    to_row = np.fromiter((rows[name] for name in names), dtype=np.int32, count=len(names))
    counts = _count(searcher, index, to_row, len(rows))
    numbers = _Numbers.read(settings, now - window, {int(n) for n in counts.newest[counts.articles > 0]})
    since = numbers.since
    recent = counts.recent(since) if since is not None else np.zeros_like(counts.articles)
    found = [
        OutletCoverage(
            outlet=name,
            articles=int(counts.articles[code]),
            dated=int(counts.dated[code]),
            authored=int(counts.authored[code]),
            languaged=int(counts.languaged[code]),
            last_added=numbers.moments.get(int(counts.newest[code])),
            added_recently=int(recent[code]),
            window_days=window.total_seconds() / _SECONDS_A_DAY,
        )
        for name, code in rows.items()
        if counts.articles[code]  # an outlet whose articles are all deleted is no longer in the index
    ]
    return sorted(found, key=lambda row: (row.outlet.casefold(), row.outlet))


# --- the index's side ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Counts:
    """Per outlet (a row): the counts, the highest number, and each segment's numbers."""

    articles: NDArray[np.int64]
    dated: NDArray[np.int64]
    authored: NDArray[np.int64]
    languaged: NDArray[np.int64]
    newest: NDArray[np.uint64]  # 0: no number (a document not written through the index stage)
    #: Per segment: the live documents' rows and numbers.
    numbered: tuple[tuple[NDArray[np.int32], NDArray[np.uint64]], ...]

    def recent(self, since: int) -> NDArray[np.int64]:
        """Per outlet, the live documents numbered ``since`` or above."""
        recent = np.zeros_like(self.articles)
        for outlets, seqs in self.numbered:
            recent += np.bincount(outlets[seqs >= since], minlength=len(recent))
        return recent


def _count(searcher: Searcher, index: IndexColumns, to_row: NDArray[np.int32], size: int) -> _Counts:
    """Count per row: ``to_row`` maps the outlet table's codes to rows (``size`` of them)."""
    known_language = np.fromiter((value not in _NO_LANGUAGE for value in index.values["language"]),
                                 dtype=np.bool_, count=len(index.values["language"]))
    articles, dated, authored, languaged = (np.zeros(size, dtype=np.int64) for _ in range(4))
    newest = np.zeros(size, dtype=np.uint64)
    numbered = []
    readers = [sub.reader() for sub, _ in searcher.leaf_searchers()]
    for i, leaf in enumerate(index.leaves):
        reader = readers[leaf.position]
        live = leaf.live
        outlets = to_row[index.to_table["outlet"][i][leaf.columns.single["outlet"].codes][live]]
        languages = index.to_table["language"][i][leaf.columns.single["language"].codes][live]
        seqs = numeric_column(reader, "seq", leaf.columns.size)[live]
        articles += np.bincount(outlets, minlength=size)
        dated += np.bincount(outlets[leaf.columns.dates[live] > 0], minlength=size)
        authored += np.bincount(outlets[_author_words(reader, leaf)[live] > 0], minlength=size)
        languaged += np.bincount(outlets[known_language[languages]], minlength=size)
        np.maximum.at(newest, outlets, seqs)
        numbered.append((outlets, seqs))
    return _Counts(articles, dated, authored, languaged, newest, tuple(numbered))


def _author_words(reader: Any, leaf: Leaf) -> NDArray[np.uint8]:
    """Each document's author length byte: 0 for no author (or one without a word), else at least 1.

    Whoosh keeps a byte per document and scored field, 0 only for length 0;
    ``field_lengths`` reads it once per segment into ``columns.lengths``.
    """
    if not reader.field_length("author"):
        # No document of the segment has an author word, so Whoosh wrote no lengths for the field, and
        # ``field_lengths`` would ask for each document's, looking for the missing file every time: 240 ms
        # for the 7 such segments of the shared 24k corpus.
        return np.zeros(leaf.columns.size, dtype=np.uint8)
    field_lengths(reader, leaf.columns, "author", np.zeros(0, dtype=np.int32))
    return leaf.columns.lengths["author"]


# --- the state's side ----------------------------------------------------------------


@dataclass(frozen=True)
class _Numbers:
    """What the state says about the numbers asked for, and about the window."""

    moments: dict[int, dt.datetime]  # number → when it was given (the numbers asked for that have one)
    since: int | None  # the lowest number given within the window; None: none (or nothing known)

    @classmethod
    def read(cls, settings: Settings, start: dt.datetime, numbers: Iterable[int]) -> _Numbers:
        wanted = sorted(n for n in numbers if n > 0)
        if not state_exists(settings):
            return cls({}, None)
        try:
            connection = open_state(settings, readonly=True)
        except sqlite3.OperationalError:
            return cls({}, None)
        try:
            return cls(_moments(connection, wanted), _lowest_since(connection, start))
        except sqlite3.OperationalError:  # no table yet, or no ``indexed`` column: nothing known
            return cls({}, None)
        finally:
            connection.close()


#: When each of a list of numbers was given ("{}": the list's placeholders).
MOMENTS_SQL = "SELECT seq, indexed FROM article_numbers WHERE indexed IS NOT NULL AND seq IN ({})"
#: The first number given at or after a moment. MIN(+seq): with an index on seq, SQLite would walk it from the
#: lowest number up to the first recent one, past every old number; the unary + leaves it the index on indexed,
#: which finds the recent ones directly.
LOWEST_SINCE_SQL = "SELECT MIN(+seq) AS seq FROM article_numbers WHERE indexed >= ?"


def _moments(connection: StateConnection, numbers: list[int]) -> dict[int, dt.datetime]:
    """When each of ``numbers`` was given (by the table's index on ``seq``, which search/index/sequence.py
    makes; an instance not written to since reads every row per chunk: 8 ms at 105k numbers)."""
    found: dict[int, dt.datetime] = {}
    for start in range(0, len(numbers), _CHUNK):
        chunk = numbers[start:start + _CHUNK]
        rows = connection.execute(MOMENTS_SQL.format(", ".join("?" * len(chunk))), chunk)
        found.update((int(row["seq"]), moment(row["indexed"])) for row in rows)
    return found


def _lowest_since(connection: StateConnection, start: dt.datetime) -> int | None:
    """The lowest number given at or after ``start``.

    Compared as text in SQLite: search/index/sequence.py writes every moment
    in one form (UTC, ``+00:00``, whole seconds), in which text order is time
    order; PostgreSQL reads the text as a ``timestamptz`` and compares moments
    (its own, to the microsecond, are read back to the second: ``moment``).
    A moment is a whole second, so it is at or after ``start`` exactly when
    it is at or after ``start`` rounded up to the second.
    """
    start = start.astimezone(dt.UTC)
    if start.microsecond:
        start = start.replace(microsecond=0) + dt.timedelta(seconds=1)
    row = connection.execute(LOWEST_SINCE_SQL, (start.isoformat(timespec="seconds"),)).fetchone()
    return None if row is None or row["seq"] is None else int(row["seq"])


# --- helpers -------------------------------------------------------------------------


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
