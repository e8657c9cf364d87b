"""The stored document: an ``Article`` to the fields the index writes, and
the stored fields back to a typed ``StoredArticle``.

Part of the index stage, beside the schema (search/index/schema.py): the one
module that knows how an article is laid out in a Whoosh document. The
writer (search/index/store.py) stores ``to_fields(article)``; the read side
(search/query/run.py, and the alerts' percolation) reads ``from_stored`` and
never a stored field by name. Adding a field is one edit here (both ways)
plus its declaration in the schema; tests/test_document.py fails when a
stored field is not read back.

Exports: ``to_fields``, ``word_fields``, ``from_stored``, ``articles_after``
(the new articles an alert run considers), ``searched_fields`` and
``search_fields`` (the fields a saved query may search, and their values,
for an index of just the new articles).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from whoosh import query as wq
from whoosh.searching import Searcher

from search.index.analysis import WORD_FIELDS
from search.index.duplicates import sketch_hex, text_key
from search.index.schema import QUERY_FIELDS
from search.records import UNKNOWN, Article, Published, StoredArticle
from search.timeparse import parse_iso


def to_fields(article: Article) -> dict[str, Any]:
    """The Whoosh document for an article, as the writer stores it.

    The index stage adds ``cluster`` and ``seq`` when it writes (search/index/store.py).
    """
    published = article.published
    document: dict[str, Any] = {
        "id": article.id,
        "title": article.title,
        "body": article.text,
        "outlet": article.outlet or UNKNOWN,
        "year": article.year,
        "language": article.language or UNKNOWN,
        "actor": _joined(article.actors),
        "date_key": _date_key(published),
        "published_iso": published.isoformat() if published else None,
        "published_source": article.published_source,
        "origin": article.origin,
    }
    if article.url:
        document["url"] = article.url
    if article.author:
        document["author"] = article.author
    if published:
        document["published"] = _naive_utc(published)
    document["text_key"] = text_key(article.text, article.title)
    if article.minhash is not None:
        document["minhash"] = sketch_hex(article.minhash)
    # The cluster is not part of the document's content: it is assigned at
    # write time, after the fingerprint, so an unchanged article stays unchanged.
    document["fingerprint"] = _fingerprint(document)
    document.update(word_fields(document))  # derived, so not part of the fingerprint
    if published:
        # Stored to the microsecond, indexed by its day: a date query only ever names whole days
        # (search/index/analysis.py's date_span and date_range), so the day finds exactly the same
        # articles, and the articles of one day share all their terms instead of having 4 of their
        # own (the moment's terms were a tenth of the index).
        moment = document["published"]
        document["_stored_published"], document["published"] = moment, _day(moment)
    document["indexed_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return document


def word_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """The wildcard twins of a document's text fields (search/index/schema.py): the same texts, indexed unstemmed."""
    return {twin: document[name] for name, twin in WORD_FIELDS.items() if document.get(name) is not None}


def from_stored(stored: Mapping[str, Any]) -> StoredArticle:
    """An article from its stored fields (``searcher.document``, ``hit.fields()``)."""
    return StoredArticle(
        id=stored["id"],
        url=stored.get("url"),
        title=stored.get("title", ""),
        text=stored.get("body", ""),
        origin=stored.get("origin", ""),
        outlet=stored.get("outlet", UNKNOWN),
        author=stored.get("author"),
        published=parse_iso(stored.get("published_iso")),
        published_utc=stored.get("published"),
        published_source=stored.get("published_source"),
        year=stored.get("year", UNKNOWN),
        language=stored.get("language", UNKNOWN),
        actors=tuple(actor for actor in stored.get("actor", "").split(",") if actor),
        cluster=stored.get("cluster") or stored["id"],
        seq=int(stored.get("seq") or 0),  # 0: a document not written through the index stage
        indexed_at=stored.get("indexed_at"),
        fingerprint=stored.get("fingerprint", ""),
        text_key=stored.get("text_key", ""),
        minhash=_sketch(stored.get("minhash")),
    )


def articles_after(searcher: Searcher, seq: int) -> list[StoredArticle]:
    """The articles numbered above ``seq`` (search/index/sequence.py) in this snapshot, in ingest order."""
    results = searcher.search(wq.NumericRange("seq", seq + 1, None), limit=None, scored=False)
    return sorted((from_stored(hit.fields()) for hit in results), key=lambda article: article.seq)


def searched_fields() -> tuple[str, ...]:
    """The fields a saved query may search: those a query may name (search/index/schema.py) and their wildcard twins.

    What an index of just the new articles must hold for an alert to match
    there exactly what the results page finds.
    """
    return (*QUERY_FIELDS, *(WORD_FIELDS[name] for name in QUERY_FIELDS if name in WORD_FIELDS))


def search_fields(article: StoredArticle) -> dict[str, Any]:
    """An article's values of ``searched_fields()``, as the writer stored them (a value it lacks is left out)."""
    values: dict[str, Any] = {
        "id": article.id,
        "url": article.url,
        "title": article.title,
        "body": article.text,
        "author": article.author,
        "outlet": article.outlet,
        "year": article.year,
        "language": article.language,
        "actor": _joined(article.actors),
        "published": article.published_utc,
        "cluster": article.cluster,
    }
    fields = {name: values[name] for name in QUERY_FIELDS if values[name] is not None}
    return fields | word_fields(fields)


def _date_key(published: Published | None) -> int:
    """Sortable integer YYYYMMDDhhmmss in UTC; 0 (sorts last, newest first) when unknown."""
    if published is None:
        return 0
    moment = _naive_utc(published)
    return int(moment.strftime("%Y%m%d%H%M%S"))


def _joined(actors: Iterable[str]) -> str:
    return ",".join(actors)


def _day(moment: dt.datetime) -> dt.datetime:
    return dt.datetime(moment.year, moment.month, moment.day)


def _naive_utc(published: Published) -> dt.datetime:
    if not isinstance(published, dt.datetime):
        return dt.datetime(published.year, published.month, published.day)
    if published.tzinfo is not None:
        published = published.astimezone(dt.UTC).replace(tzinfo=None)
    return published


def _fingerprint(document: dict[str, Any]) -> str:
    payload = json.dumps(document, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()


def _sketch(stored: str | None) -> tuple[int, ...] | None:
    """A stored sketch (search.index.duplicates.sketch_hex: 8 hex digits, 4 bytes, a bin) back to its values."""
    if stored is None:
        return None
    data = bytes.fromhex(stored)
    values: tuple[int, ...] = struct.unpack(f">{len(data) // 4}I", data)
    return values
