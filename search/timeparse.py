"""Reading the dates Newsdesk writes down: ISO 8601 dates and datetimes.

Ground floor, beside ``records``: the read side (``search/query/run.py``, the
stored ``published_iso``), the crawler (its state, feeds' and sitemaps'
normalised dates, ``search/crawl/discover.py``) and the sources' manifests
(``search/sources/``) all read dates with :func:`parse_iso`, and none of
them needs the cleaner's date finder (``search/clean/dates.py``) for it. The
finder keeps its own lenient reader of page markup (``parse_date``),
which accepts far more than Newsdesk ever writes.

Exports :func:`parse_iso`.
"""

from __future__ import annotations

import datetime as dt

from search.records import Published


def parse_iso(value: str | None) -> Published | None:
    """An ISO 8601 date or datetime as Newsdesk stores them (index, state,
    manifest, feeds' normalised dates), or None when absent or unusable.
    Strict on purpose: the date finder's ``parse_date`` is the lenient reader of page markup."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if len(value) <= 10:  # a date without a time of day
        return parsed.date()
    # A time without an offset is taken as UTC, so every datetime we show has one.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
