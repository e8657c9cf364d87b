"""Keyset paging: the cursor a page of results gives for the page after it.

Part of the query stage, below both backends' runs (search/query/run.py for
Whoosh, search/query/pg_counts.py for PostgreSQL) and read from a URL by
search/query/parse.py's ``make_query``; no engine is imported here.

Every results order is total: the sort key first — a date key
(``YYYYMMDDhhmmss`` in UTC, newest first, undated ``0`` last) or a relevance
score (highest first) — then the ingest number (``seq``, unique per article
and kept when the article is updated), then the id. A cursor names the last
result a page showed by those three, so the next page starts right after that
result wherever it now stands:

* articles ingested between two pages neither repeat a result nor push one
  out of sight, as they would under a numbered page's offset;
* paging goes on past ``MAX_PAGE`` (numbered pages stop there; a cursor does
  not), and PostgreSQL starts its scan at the cursor instead of counting rows
  off (search/query/pg_counts.py).

A cursor belongs to one search: it carries a digest of what selects and
orders the results (the query, the filters, the sort, collapsing), and a
relevance cursor the backend whose scores it holds (BM25F and ``ts_rank_cd``
differ). Used with another search or backend it is refused with a hint, never
read as a position in another order. The page size may change between pages.

A cursor is an opaque token to its users: base64url of a short JSON array.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from search.errors import QueryError
from search.records import SearchQuery

T = TypeVar("T")
#: What a refused cursor's message suggests.
HINT = "follow the 'next' link of a results page, or leave out after= to start again from page 1"
#: The format's version, first in every token: a token of another version is refused, not misread.
_VERSION = 1


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after the result ``(key, seq, id)`` of the search ``search``."""

    page: int  # the number of the page it leads to (shown to the user; it positions nothing)
    sort: str  # "date" or "relevance"
    key: int | float  # a date key (0: undated) for "date", a score for "relevance"
    seq: int
    id: str
    search: str  # search_digest() of the search it belongs to
    engine: str = ""  # the backend whose scores ``key`` is ("whoosh", "postgres"); "" for dates

    def encode(self) -> str:
        """The token for a URL (base64url, no padding)."""
        fields = [_VERSION, self.page, self.sort, self.key, self.seq, self.id, self.search, self.engine]
        data = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def token_after(request: SearchQuery, key: float, seq: int, id: str, engine: str) -> str:
    """The token of the page after ``request``'s page, whose last result is ``(key, seq, id)``; ``engine`` is
    the backend whose scores a relevance key is."""
    return Cursor(request.page + 1, request.sort, key, seq, id, search_digest(request),
                  engine if request.sort == "relevance" else "").encode()


def decode(token: str, request: SearchQuery) -> Cursor:
    """The cursor ``token`` names, checked to belong to ``request``'s search; else ``QueryError`` (400)."""
    try:
        padded = token + "=" * (-len(token) % 4)
        fields = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise QueryError("after= is not a cursor this search engine gave", hint=HINT) from None
    cursor = _fields(fields)
    if cursor.sort != request.sort or cursor.search != search_digest(request):
        raise QueryError("this cursor belongs to another search (its words, filters, dates or order differ)",
                         hint=HINT)
    return cursor


def _fields(fields: object) -> Cursor:
    if not (isinstance(fields, list) and len(fields) == 8 and fields[0] == _VERSION):
        raise QueryError("after= is not a cursor this search engine gave", hint=HINT)
    _, page, sort, key, seq, id, search, engine = fields
    # Bounded as the engines' columns are (a bigint, a real): a forged number is refused here, not by a database.
    numbers_fit = (type(page) is int and 1 <= page < 2**31 and type(seq) is int and 0 <= seq < 2**63
                   and type(key) in (int, float) and math.isfinite(key) and abs(key) < 1e18)
    if not (numbers_fit and sort in ("date", "relevance") and isinstance(id, str) and isinstance(search, str)
            and isinstance(engine, str) and (sort == "relevance" or type(key) is int)):
        raise QueryError("after= is not a cursor this search engine gave", hint=HINT)
    return Cursor(page, sort, key, seq, id, search, engine)


def check_engine(cursor: Cursor, engine: str) -> None:
    """Refuse a relevance cursor made by another backend: its score is on another scale."""
    if cursor.sort == "relevance" and cursor.engine != engine:
        raise QueryError("this cursor was made by another search backend; its scores mean nothing here",
                         hint=HINT)


def search_digest(request: SearchQuery) -> str:
    """What selects and orders ``request``'s results, digested: equal for every page of one search.

    The page, its size, the facet limit and what the counts count are left
    out: they change neither which results there are nor their order.
    """
    selecting = [request.q, request.sort, request.collapse, *request.filters().items(),
                 sorted(request.dates().items())]
    digest = hashlib.blake2b(json.dumps(selecting, ensure_ascii=False).encode(), digest_size=9)
    return base64.urlsafe_b64encode(digest.digest()).decode("ascii")


def following(rank: Callable[[int], list[T]], positions: Callable[[list[T]], list[tuple[int | float, int]]],
              after: tuple[int | float, int], wanted: int, guess: int) -> list[T]:
    """The first ``wanted`` results after the place ``after`` (a result's (negated key, ingest number)), for a
    backend that ranks in memory: ``rank(n)`` gives the first ``n`` results in order, ``positions`` their
    places. The first ranking asks as far as the cursor's page suggests (``guess``); should articles added
    since have pushed the cursor's result further, twice as far, until enough follow it or none are left."""
    n = max(guess, wanted)
    while True:
        ranked = rank(n)
        start = bisect.bisect_right(positions(ranked), after)
        if len(ranked) - start >= wanted or len(ranked) < n:
            return ranked[start:start + wanted]
        n *= 2


def date_key(moment: dt.datetime | None) -> int:
    """A naive UTC moment as its date key (``YYYYMMDDhhmmss``, the index's ``date_key``); 0 when undated."""
    return int(moment.strftime("%Y%m%d%H%M%S")) if moment is not None else 0


def moment_of(key: int) -> dt.datetime | None:
    """A cursor's date key as a naive UTC moment; None for 0 (undated)."""
    try:
        return dt.datetime.strptime(str(key), "%Y%m%d%H%M%S") if key else None
    except ValueError:
        raise QueryError("after= is not a cursor this search engine gave", hint=HINT) from None
