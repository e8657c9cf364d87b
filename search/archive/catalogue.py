"""The catalogue of the archive's WARC files: which file and offset holds each record, under which keys.

Pipeline: beside it, between sources and the cleaner. The store
(``search.archive``) keeps these tables in the instance's state database
(``search.state``) and rebuilds them from the WARC files when they are lost
or stale; this module holds their schema (``DDL``), the queries that pick the
latest capture of a page and of its metadata (``LATEST_PAGE``,
``LATEST_METADATA``, ``LATEST_PAGES``: replay order) and of the page an
article was made from (``ARTICLE_PAGE``, ``KEYED_PAGE``: its original page),
and ``Pending``, what the catalogue needs of a record written or found.

Exports: ``DDL``, ``LATEST_PAGE``, ``LATEST_METADATA``, ``LATEST_PAGES``,
``ARTICLE_PAGE``, ``KEYED_PAGE``, ``Pending``, ``pending_for``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DDL = """
CREATE TABLE IF NOT EXISTS archive_files (
    name TEXT PRIMARY KEY,        -- file name in archive/
    seq INTEGER NOT NULL,         -- its counter: files are read in this order
    size INTEGER NOT NULL,        -- bytes on disk when catalogued
    clean_end INTEGER NOT NULL    -- end of its last complete record (< size: a cut tail)
);
CREATE TABLE IF NOT EXISTS archive_records (
    file TEXT NOT NULL REFERENCES archive_files(name) ON DELETE CASCADE,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    kind TEXT NOT NULL,           -- warcinfo, response, resource, metadata
    record_id TEXT NOT NULL,      -- WARC-Record-ID
    refers_to TEXT,               -- metadata: the record it describes
    target_uri TEXT NOT NULL,
    digest TEXT NOT NULL,         -- sha256 of the payload (metadata: of its JSON)
    PRIMARY KEY (file, offset)
);
CREATE INDEX IF NOT EXISTS archive_records_target ON archive_records(target_uri, kind);
CREATE INDEX IF NOT EXISTS archive_records_id ON archive_records(record_id);
CREATE INDEX IF NOT EXISTS archive_records_refers ON archive_records(refers_to);
CREATE TABLE IF NOT EXISTS archive_keys (
    record_id TEXT NOT NULL,      -- a response or resource record
    key TEXT NOT NULL,            -- a URL or article id that names it
    PRIMARY KEY (key, record_id)
);
CREATE TABLE IF NOT EXISTS archive_articles (
    record_id TEXT NOT NULL,      -- a response or resource record
    article_id TEXT NOT NULL,     -- the article it became when last cleaned
    PRIMARY KEY (record_id, article_id)
);
CREATE INDEX IF NOT EXISTS archive_articles_article ON archive_articles(article_id);
"""


@dataclass
class Pending:
    """A record written or found, with what the catalogue needs of it."""

    kind: str
    record_id: str
    target: str
    digest: str
    refers_to: str | None = None
    keys: set[str] = field(default_factory=set)
    record: Any = None  # the warcio record, when it is still to be written


def pending_for(
    record: Any, target: str, digest: str, refers_to: str | None = None, keys: set[str] | None = None
) -> Pending:
    """A warcio record about to be written, with what the catalogue will note of it."""
    record_id = str(record.rec_headers.get_header("WARC-Record-ID"))
    return Pending(record.rec_type, record_id, target, digest, refers_to, keys or set(), record)


_ORDER = "f.seq DESC, r.offset DESC"
LATEST_PAGE = f"""
SELECT r.* FROM archive_records r JOIN archive_files f ON f.name = r.file
WHERE r.target_uri = ? AND r.kind IN ('response', 'resource') ORDER BY {_ORDER} LIMIT 1
"""
LATEST_METADATA = f"""
SELECT r.* FROM archive_records r JOIN archive_files f ON f.name = r.file
WHERE r.refers_to = ? AND r.kind = 'metadata' ORDER BY {_ORDER} LIMIT 1
"""
# A position (file counter, offset) as one sortable number: offsets stay below 2**40.
_POSITION = "f.seq * 1099511627776 + r.offset"
LATEST_PAGES = f"""
WITH winners AS (
    SELECT * FROM (
        SELECT r.*, {_POSITION} AS pos,
               ROW_NUMBER() OVER (PARTITION BY r.target_uri ORDER BY {_ORDER}) AS rank
        FROM archive_records r JOIN archive_files f ON f.name = r.file
        WHERE r.kind IN ('response', 'resource')
    ) WHERE rank = 1
), same_article AS (
    SELECT a.record_id, MAX(w.pos) AS group_pos
    FROM archive_articles a
    JOIN archive_articles b ON b.article_id = a.article_id
    JOIN winners w ON w.record_id = b.record_id
    GROUP BY a.record_id
)
SELECT w.* FROM winners w LEFT JOIN same_article g ON g.record_id = w.record_id
ORDER BY COALESCE(g.group_pos, w.pos), w.pos DESC
"""

# The page an article was made from: the latest capture the cleaner turned into
# it (``link``), whatever its URI (two URLs, one canonical link: the newest is
# the one the index holds, as in replay). Failing that, the latest page whose
# keys name the article: all a catalogue rebuilt from the files knows until
# the next reindex links its pages again.
_PAGE_COLUMNS = "r.file, r.offset, r.length, r.kind, r.record_id, r.target_uri, r.digest"
ARTICLE_PAGE = f"""
SELECT {_PAGE_COLUMNS} FROM archive_articles a
JOIN archive_records r ON r.record_id = a.record_id JOIN archive_files f ON f.name = r.file
WHERE a.article_id = ? AND r.kind IN ('response', 'resource') ORDER BY {_ORDER} LIMIT 1
"""
KEYED_PAGE = f"""
SELECT {_PAGE_COLUMNS} FROM archive_keys k
JOIN archive_records r ON r.record_id = k.record_id JOIN archive_files f ON f.name = r.file
WHERE k.key = ? AND r.kind IN ('response', 'resource') ORDER BY {_ORDER} LIMIT 1
"""
