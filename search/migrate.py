"""Moving an instance: ``newsdesk migrate --to postgres`` copies an embedded instance into PostgreSQL.

A runner beside ingest and reindex, above the index and state stages: it
reads the embedded instance (the Whoosh index and ``state.sqlite`` in the
instance directory) and writes the database ``database_url`` through the
PostgreSQL side of each (search/index/pg_writer.py's ``copy_articles_pg``;
the state tables by their own modules' names).

**Alerts go on without a gap or a duplicate.** An alert's watermark is an
ingest number: it has seen every article numbered up to it. So every
article is copied with its own number (and cluster, fingerprint and time
written: nothing is decided again), the numbers of articles taken down are
copied too (one coming back is not new again), and the shared sequence is
moved past the highest, so the next article written is numbered as it would
have been in the embedded instance. The saved searches keep their
watermarks and the outbox its deliveries and pending messages: a message
pending before the move is sent once, after it.

The copy goes into a database holding no articles (a copy, not a merge);
the embedded instance is only read, so it stays usable until the settings
say ``backend = "postgres"``. Stop writers (``serve``, crawls, ingests)
first: what they write meanwhile would not be copied.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from search.database import Connection, connect
from search.errors import NewsdeskError, SettingsError
from search.index import from_stored, open_index
from search.index.pg_writer import copy_articles_pg, copy_numbers_pg
from search.index.sequence import given_numbers
from search.records import StoredArticle
from search.settings import Settings
from search.state import open_state, state_exists

log = logging.getLogger(__name__)

#: Without a terminal, a progress line every this many articles.
_LOG_EVERY = 5000


@dataclass
class MigrationReport:
    """What was copied."""

    articles: int = 0
    numbers: int = 0  # ingest numbers of articles no longer stored (taken down), kept
    last_number: int = 0
    state: dict[str, int] = field(default_factory=dict)  # rows copied, by table


def migrate_to_postgres(settings: Settings, database_url: str, *, progress: bool | None = None) -> MigrationReport:
    """Copy the embedded instance ``settings`` names into the PostgreSQL database ``database_url``."""
    if settings.backend != "whoosh":
        raise SettingsError("migrate copies an embedded instance, and these settings already name PostgreSQL",
                            hint="run it with backend = \"whoosh\" (the instance as it is), then switch")
    connection = connect(database_url)  # migrates an empty database: the tables are there
    try:
        held = connection.execute("SELECT count(*) FROM articles").fetchone()
        if held and int(str(held[0])):
            raise NewsdeskError(f"the database already holds {held[0]} articles; migrate copies into an empty one",
                                hint="give an empty database (createdb newsdesk2) or drop this one's tables")
        report = MigrationReport()
        ix = open_index(settings)  # raises IndexMissing / SchemaMismatch with their hints
        with ix.searcher() as searcher:
            total = searcher.doc_count()
            stored: set[str] = set()
            articles = _tracked(_stored(searcher.all_stored_fields(), stored), total, progress)
            report.articles = copy_articles_pg(connection, articles)
        numbers = [number for number in given_numbers(settings) if number[0] not in stored]
        copy_numbers_pg(connection, numbers)
        report.numbers = len(numbers)
        row = connection.execute("SELECT coalesce(max(seq), 0) FROM article_numbers").fetchone()
        report.last_number = int(str(row[0])) if row else 0
        report.state = _copy_state(settings, connection)
        return report
    finally:
        connection.close()


#: The state's tables (search/index/migrations/0004_state.sql), each after the tables it refers to. The
#: archive's catalogue is not among them: it describes the WARC files beside it and stays there.
STATE_TABLES = ("users", "sessions", "login_failures", "saved_searches", "deliveries", "mail_refusals",
                "broken_alerts", "crawl_frontier", "crawl_validators", "crawl_robots", "crawl_fetch_log",
                "crawl_hosts", "crawl_sources", "crawl_schedule", "sources", "candidate_mention")
#: Tables whose ids PostgreSQL gives (an identity column): moved past the ids copied.
_IDENTITIES = ("users", "saved_searches", "crawl_fetch_log")


def _copy_state(settings: Settings, connection: Connection) -> dict[str, int]:
    """Every row of the embedded state's tables, in one transaction: rows copied, by table. Columns are
    matched by name (an older instance's table may lack a later column: the column's default is taken)."""
    if not state_exists(settings):
        return {}
    copied: dict[str, int] = {}
    source = open_state(settings, readonly=True)
    assert isinstance(source, sqlite3.Connection)  # an embedded instance's state
    try:
        with connection.transaction():
            for table in STATE_TABLES:
                present = [str(row["name"]) for row in source.execute(f"PRAGMA table_info({table})")]
                if not present:
                    continue  # the stage never ran here (no crawl, no account)
                wanted = {str(row[0]) for row in connection.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))}
                columns = [name for name in present if name in wanted]
                names = sql.SQL(", ").join(map(sql.Identifier, columns))
                with connection.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                        sql.Identifier(table), names)) as copy:
                    rows = source.execute(f"SELECT {', '.join(columns)} FROM {table}")  # names from PRAGMA
                    copied[table] = 0
                    for row in rows:
                        copy.write_row(tuple(row))
                        copied[table] += 1
            for table in _IDENTITIES:
                connection.execute(sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'id'), max(id)) FROM {} "
                                           "HAVING max(id) IS NOT NULL").format(sql.Identifier(table)), (table,))
    finally:
        source.close()
    return copied


def _stored(documents: Iterator[dict[str, Any]], ids: set[str]) -> Iterator[StoredArticle]:
    """The index's documents as articles, each id noted in ``ids``."""
    for fields in documents:
        article = from_stored(fields)
        ids.add(article.id)
        yield article


def _tracked(articles: Iterator[StoredArticle], total: int, progress: bool | None) -> Iterator[StoredArticle]:
    """A progress bar on a terminal, a log line every ``_LOG_EVERY`` articles otherwise."""
    if progress is None:
        progress = sys.stderr.isatty()
    if progress:
        with logging_redirect_tqdm(), tqdm(total=total, unit="article", desc="migrate") as bar:
            for article in articles:
                bar.update()
                yield article
        return
    for count, article in enumerate(articles, start=1):
        if count % _LOG_EVERY == 0 or count == total:
            log.info("migrate: %d/%d articles copied", count, total)
        yield article
