"""The Whoosh schema: declared once, read by the index writer and the query.

Sits between enrichment and the index: every ``Article`` field that is
searched, filtered, faceted or shown has exactly one declaration here.

Facet fields are single-valued sortable columns (outlet, year, language) so
counting them reads a column instead of walking postings; the actor field is
multi-valued, so it is a KEYWORD field counted with overlap faceting.
"""

from __future__ import annotations

from whoosh import fields

from search.index.analysis import text_analyzer, word_analyzer

#: Bump when a field changes: an index built with another version must be
#: rebuilt, and Newsdesk says so instead of failing on a missing field.
SCHEMA_VERSION = 4  # 2: syndication fields; 3: Russian stems beside the folded words, seq; 4: *_words

#: Fields a user may name in the query text, e.g. ``title:kosovo`` (the facets among them): what the
#: query parser reads, and what an alert's index of the new articles holds (search/index/document.py).
QUERY_FIELDS = ("title", "body", "author", "outlet", "actor", "year", "language", "published", "url", "id", "cluster")

#: Title matches count double against body matches.
TITLE_BOOST = 2.0


def build_schema(actor_vectors: bool = False) -> fields.Schema:
    """The article schema.

    ``actor_vectors`` stores term vectors on the actor field: only the
    benchmark builds such an index, to compare Whoosh's vector-reading facet
    path with the engine's per-segment cache (the cache won; see
    bench/RESULTS.md), so the engine never reads them.
    """
    analyzer = text_analyzer()
    return fields.Schema(
        # Sortable: the tie-breaker that keeps date-sorted pages stable.
        id=fields.ID(stored=True, unique=True, sortable=True),
        url=fields.ID(stored=True),
        title=fields.TEXT(stored=True, analyzer=analyzer, field_boost=TITLE_BOOST),
        body=fields.TEXT(stored=True, analyzer=analyzer),
        author=fields.TEXT(stored=True, analyzer=text_analyzer()),
        # The same texts folded but not stemmed, for wildcards only
        # (search/index/analysis.py): not stored, no positions (a wildcard is
        # never part of a phrase), the title's boost kept for ranking.
        title_words=fields.TEXT(analyzer=word_analyzer(), phrase=False, field_boost=TITLE_BOOST),
        body_words=fields.TEXT(analyzer=word_analyzer(), phrase=False),
        author_words=fields.TEXT(analyzer=word_analyzer(), phrase=False),
        outlet=fields.ID(stored=True, sortable=True),
        year=fields.ID(stored=True, sortable=True),
        language=fields.ID(stored=True, sortable=True),
        actor=fields.KEYWORD(stored=True, commas=True, scorable=False, vector=actor_vectors),
        published=fields.DATETIME(stored=True),
        # Newest first with undated articles last: 0 for "no date" sorts last
        # in reverse order, where a missing DATETIME would not.
        date_key=fields.NUMERIC(bits=64, sortable=True, signed=False),
        published_iso=fields.STORED,
        published_source=fields.STORED,
        origin=fields.STORED,
        fingerprint=fields.STORED,
        indexed_at=fields.DATETIME(stored=True),
        # The ingest sequence (search/index/sequence.py): when the article first
        # entered this instance. Alerts find new articles by range on it.
        seq=fields.NUMERIC(bits=64, stored=True, sortable=True, signed=False),
        # Copies of one text (search/index/duplicates.py): the hash of its folded
        # words finds exact copies; the MinHash sketch (64 × 8 hex digits)
        # and its band terms find near copies; copies share a cluster id,
        # sortable so the copies on a results page are counted from a column.
        text_key=fields.ID(stored=True),
        minhash=fields.STORED,
        minhash_bands=fields.KEYWORD(scorable=False),
        cluster=fields.ID(stored=True, sortable=True),
    )
