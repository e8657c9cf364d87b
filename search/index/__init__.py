"""The index: articles into Whoosh and back. Fourth stage; the search backend's write side.

Where it sits: it reads records (``Article``, fingerprints from the ground
floor), never the enricher or the query side. Whoosh's schema, analysis and
writers stay inside this package and ``search.query``: above them everything
speaks ``Article`` and ``StoredArticle``.

Exports: the write side's seam, ``open_store`` (an ``ArticleStore``:
Whoosh or PostgreSQL, by the settings) and ``rebuilding``; ``open_index``, ``create_index``, ``write_articles``,
``prepare_article`` (an article's document and analysis, made where the
writer is not), ``delete_articles``, ``replace_index``, ``fingerprints`` and
the ``IndexReport``; the stored document (``from_stored``, ``articles_after``,
``search_fields``); the schema and analysis the query side builds on.

Modules: ``store`` (open, write, delete, swap), ``schema``, ``analysis``
(folding, stems, the query parser's plugins), ``document`` (``Article`` ↔
stored fields, both ways), ``duplicates`` (copies and clusters),
``sequence`` (ingest numbers for alerts), ``mapped`` (index files read
through memory maps rather than copied into each searcher), ``writer``
(Whoosh's segment writer doing the same work with less, merging segments
term by term) and ``codec`` (the same postings in fewer bytes).
"""

from __future__ import annotations

from search.index.analysis import (
    DATE_FIELD,
    DATE_HINT,
    WORD,
    WORD_FIELDS,
    folded_word,
    index_terms,
    query_parser,
    text_analyzer,
)
from search.index.backend import ArticleStore, Named, PostgresStore, Rebuild, WhooshStore, open_store, rebuilding
from search.index.document import articles_after, from_stored, search_fields
from search.index.schema import QUERY_FIELDS, build_schema
from search.index.sequence import first_indexed, last_number
from search.index.store import (
    IndexReport,
    PreparedArticle,
    create_index,
    delete_articles,
    fingerprints,
    open_index,
    prepare_article,
    replace_index,
    write_articles,
)

__all__ = [
    "DATE_FIELD",
    "DATE_HINT",
    "QUERY_FIELDS",
    "WORD",
    "WORD_FIELDS",
    "ArticleStore",
    "IndexReport",
    "Named",
    "PostgresStore",
    "PreparedArticle",
    "Rebuild",
    "WhooshStore",
    "articles_after",
    "build_schema",
    "create_index",
    "delete_articles",
    "fingerprints",
    "first_indexed",
    "folded_word",
    "from_stored",
    "index_terms",
    "last_number",
    "open_index",
    "open_store",
    "prepare_article",
    "query_parser",
    "rebuilding",
    "replace_index",
    "search_fields",
    "text_analyzer",
    "write_articles",
]
