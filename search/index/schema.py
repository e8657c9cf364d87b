"""The Whoosh schema: declared once, read by the index writer and the query.

Sits between enrichment and the index: every ``Article`` field that is
searched, filtered, faceted or shown has exactly one declaration here.

Facet fields are single-valued sortable columns (outlet, year, language) so
counting them reads a column instead of walking postings; the actor field is
multi-valued, so it is a KEYWORD field counted with overlap faceting.

A field is indexed only if a query reads its terms: ``date_key`` is only
sorted on (a column), ``indexed_at``, ``text_key`` and the MinHash sketch
are only read back (the copy finder keeps its own lookup of them,
search/index/duplicates.py). Each indexed value costs a term in every
segment holding it; on the shared corpus the ``date_key`` and ``indexed_at``
terms and the sketch's band terms were a fifth of the index.
"""

from __future__ import annotations

from typing import Any

from whoosh import fields

from search.index.analysis import PositionArrays, WordCounts, text_analyzer, word_analyzer

#: Bump when a field changes: an index built with another version must be
#: rebuilt, and Newsdesk says so instead of failing on a missing field.
SCHEMA_VERSION = 5  # 2: syndication fields; 3: Russian stems beside the folded words, seq; 4: *_words;
# 5: positions in arrays, the wildcard twins without per-posting values, no band, text_key, date_key or
# indexed_at terms

#: Fields a user may name in the query text, e.g. ``title:kosovo`` (the facets among them): what the
#: query parser reads, and what an alert's index of the new articles holds (search/index/document.py).
QUERY_FIELDS = ("title", "body", "author", "outlet", "actor", "year", "language", "published", "url", "id", "cluster")

#: Title matches count double against body matches.
TITLE_BOOST = 2.0


def build_schema() -> fields.Schema:
    """The article schema."""
    analyzer = text_analyzer()
    return fields.Schema(
        # Sortable: the tie-breaker that keeps date-sorted pages stable.
        id=fields.ID(stored=True, unique=True, sortable=True),
        url=fields.ID(stored=True),
        title=_text_field(analyzer, TITLE_BOOST),
        body=_text_field(analyzer),
        author=_text_field(text_analyzer()),
        # The same texts folded but not stemmed, for wildcards only
        # (search/index/analysis.py): not stored, no positions (a wildcard is
        # never part of a phrase), the title's boost kept for ranking.
        title_words=_words_field(TITLE_BOOST),
        body_words=_words_field(),
        author_words=_words_field(),
        outlet=fields.ID(stored=True, sortable=True),
        year=fields.ID(stored=True, sortable=True),
        language=fields.ID(stored=True, sortable=True),
        actor=fields.KEYWORD(stored=True, commas=True, scorable=False),
        published=fields.DATETIME(stored=True),
        # Newest first with undated articles last: 0 for "no date" sorts last
        # in reverse order, where a missing DATETIME would not. A column only.
        date_key=_column_only(fields.NUMERIC(bits=64, sortable=True, signed=False)),
        published_iso=fields.STORED,
        published_source=fields.STORED,
        origin=fields.STORED,
        fingerprint=fields.STORED,
        indexed_at=fields.STORED,
        # The ingest sequence (search/index/sequence.py): when the article first
        # entered this instance. Alerts find new articles by range on it.
        seq=fields.NUMERIC(bits=64, stored=True, sortable=True, signed=False),
        # Copies of one text (search/index/duplicates.py): the hash of its folded
        # words finds exact copies, the MinHash sketch (64 × 8 hex digits)
        # near copies; copies share a cluster id, sortable so the copies on a
        # results page are counted from a column.
        text_key=fields.STORED,
        minhash=fields.STORED,
        cluster=fields.ID(stored=True, sortable=True),
    )


def _text_field(analyzer: Any, boost: float = 1.0) -> fields.TEXT:
    """A stored, stemmed text field with positions (phrases), kept compact (``PositionArrays``)."""
    field = fields.TEXT(stored=True, analyzer=analyzer, field_boost=boost)
    field.format = PositionArrays(field_boost=boost)
    return field


def _words_field(boost: float = 1.0) -> fields.TEXT:
    field = fields.TEXT(analyzer=word_analyzer(), phrase=False, field_boost=boost)
    field.format = WordCounts(field_boost=boost)
    return field


def _column_only(field: fields.FieldType) -> fields.FieldType:
    """``field`` kept as a sortable column, without terms (nothing searches it)."""
    field.indexed = False
    return field
