"""Atom (RFC 4287) as feed readers and validators read it: what both feeds share.

Used by the search feed (``/search.atom``, web/results.py) and a saved
search's alert feed (``/feeds/<token>.atom``, web/feeds.py):

* every absolute link and id starts from ``base_url`` (search/settings.py),
  never from the request's Host header, so one article has one id however
  the server was reached;
* they are URIs, not IRIs: a query's spaces, quotes and Cyrillic letters are
  percent-encoded (UTF-8, RFC 3986 §2.1), as the ``atom:id`` and ``href``
  grammar requires;
* an entry's ``<updated>`` is its publication date, else the moment the
  article was first indexed (search/index/sequence.py): it never moves as other
  articles arrive, so a reader never shows an old story as new;
* a feed's title names its filters, so two feeds of one query differ in a
  reader's list;
* the answer carries an ``ETag`` (the body's hash) and a ``Last-Modified``
  (the commit of the index snapshot it was read from), and a conditional GET
  (``If-None-Match``, ``If-Modified-Since``) is answered 304 by Werkzeug's
  ``make_conditional`` (RFC 9110 §13).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from urllib.parse import quote, urlencode

from flask import Response, request

from search.enrich import Gazetteer
from search.index import first_indexed
from search.query import Reader, facet_label
from search.records import Hit, Published, SearchQuery
from search.settings import Settings

ATOM = "application/atom+xml"

#: What a URI may hold as is (RFC 3986 §2.2 reserved, §2.3 unreserved) and
#: ``%`` of an escape already made: everything else is percent-encoded.
_URI_SAFE = "!#$%&'()*+,/:;=?@[]~-._"

#: Shown when nothing in the feed carries a date (RFC 4287 requires one).
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def public_url(settings: Settings, path: str, args: Iterable[tuple[str, str]] = ()) -> str:
    """``base_url`` + ``path`` + the query ``args``, percent-encoded (spaces as ``%20``)."""
    query = urlencode(list(args), quote_via=quote)
    return f"{settings.base_url.rstrip('/')}{quote(path, safe='/')}{'?' + query if query else ''}"


def as_uri(iri: str) -> str:
    """An IRI (an article's address as the page gave it) as a URI (RFC 3987 §3.1)."""
    return quote(iri, safe=_URI_SAFE)


def moment(value: Published) -> dt.datetime:
    """A publication date as an RFC 3339 moment: a date alone is its midnight UTC."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def entry_dates(settings: Settings, reader: Reader, hits: Sequence[Hit]) -> dict[str, dt.datetime]:
    """Each hit's ``<updated>``: published, else first indexed (else, for an
    article numbered before that moment was recorded, its stored ``indexed_at``)."""
    undated = [hit.id for hit in hits if hit.published is None]
    first = first_indexed(settings, undated)
    dates = {}
    for hit in hits:
        if hit.published is not None:
            dates[hit.id] = moment(hit.published)
        elif hit.id in first:
            dates[hit.id] = first[hit.id]
        else:
            dates[hit.id] = reader.indexed_at(hit.id) or _EPOCH
    return dates


def newest(dates: Iterable[dt.datetime], otherwise: dt.datetime | None) -> dt.datetime:
    return max(dates, default=otherwise or _EPOCH)


def filters_text(query: SearchQuery, gazetteer: Gazetteer) -> str:
    """The query and its facet and date filters in words:
    ``Lavrov · outlet: RksNews · actor: Sergey Lavrov · from: 2018-09 · published: past week``."""
    parts = [query.q.strip() or "all articles"]
    parts += [f"{name}: {', '.join(facet_label(name, value, gazetteer) for value in values)}"
              for name, values in query.filters().items() if values]
    parts += [_DATE_WORDS.get(f"{name}={value}", f"{name}: {value}") for name, value in query.dates().items()]
    return " · ".join(parts)


_DATE_WORDS = {
    "range=24h": "published: past 24 hours", "range=week": "published: past week",
    "range=month": "published: past month", "range=year": "published: past year",
    "dated=yes": "dated only", "dated=no": "undated only",
    "certainty=certain": "date: certain only", "certainty=uncertain": "date: uncertain only",
}


def feed_response(body: str, last_modified: dt.datetime | None) -> Response:
    """The feed with its validators; 304 without a body when the reader's copy is current."""
    response = Response(body, mimetype=ATOM)
    response.add_etag()
    if last_modified is not None:
        response.last_modified = last_modified
    response.make_conditional(request)
    return response
