"""The PostgreSQL backend's export: every article a search selects, in its pages' order, streamed.

Part of the query stage, for the PostgreSQL backend (issue 19), below the
reader's facade (search/query/pg_reader.py); the embedded backend's
counterpart is search/query/export.py, whose rows (``ExportRow``,
``EXPORT_COLUMNS``) and rules this keeps: the page's own search runs first
(its refusals, its total), then every match is listed once, first to last,
in the order the results pages list them (search/query/pg_counts.py's
``NEWEST`` or ``BEST``), each with the live articles of its cluster.

One snapshot from the total to the last row, as a Whoosh searcher is: the
export opens a read-only REPEATABLE READ transaction on the reader's
connection, counts in it and declares a server-side cursor in it; ``rows()``
fetches ``CHUNK`` rows at a time from that cursor, so memory stays flat
however many articles match (the sort, if any, is the server's, spilling to
disk past ``work_mem``). The transaction ends when the rows are read to the
end, when the iteration is abandoned, or when the reader is closed.

What runs before the first row is bounded by the search's time limit (the
search's statements); fetching rows is not (``statement_timeout`` 0): it is
paced by the client reading them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from psycopg import sql
from psycopg.pq import TransactionStatus

from search.enrich import Gazetteer
from search.index.postgres import Connection
from search.query.export import CHUNK, ExportRow
from search.query.parse import Deadline
from search.query.pg_counts import BEST, NEWEST, hit_columns, int_of, stored_article
from search.query.pg_plan import plan, snapshot
from search.records import SearchQuery
from search.settings import Settings

_CURSOR = "newsdesk_export"


@dataclass(eq=False)
class PostgresExport:
    """A search's every match in the page's order, fetched from one snapshot as ``rows()`` is iterated
    (search/query/export.py's ``Export``: ``query``, ``total``, ``rows()``)."""

    query: SearchQuery
    total: int
    connection: Connection
    gazetteer: Gazetteer
    owned: bool  # the export began the transaction (and ends it)
    _ended: bool = field(default=False)

    def rows(self) -> Iterator[ExportRow]:
        """Every match once, in order, ``CHUNK`` rows per fetch."""
        try:
            while not self._ended:
                fetched = self.connection.execute(sql.SQL("FETCH FORWARD {} FROM {}").format(
                    sql.Literal(CHUNK), sql.Identifier(_CURSOR))).fetchall()
                if not fetched:
                    break
                for row in fetched:
                    yield self._row(row)
        finally:
            self.end()

    def end(self) -> None:
        """Close the cursor and the transaction (once; nothing is written, so it is rolled back)."""
        if self._ended:
            return
        self._ended = True
        if self.connection.closed:
            return
        if self.owned:
            self.connection.execute("ROLLBACK")
        else:
            self.connection.execute(sql.SQL("CLOSE {}").format(sql.Identifier(_CURSOR)))

    def _row(self, row: tuple[object, ...]) -> ExportRow:
        article = stored_article(row[:-1])
        return ExportRow(
            id=article.id, url=article.url, title=article.title, outlet=article.outlet, author=article.author,
            published=article.published.isoformat() if article.published else None,
            published_source=article.published_source, language=article.language, actor_ids=article.actors,
            actor_names=tuple(self.gazetteer.label(actor) for actor in article.actors), cluster=article.cluster,
            copies=max(int_of(row[-1]), 1),
        )


def export(connection: Connection, request: SearchQuery, settings: Settings, gazetteer: Gazetteer,
           total: Callable[[], int]) -> PostgresExport:
    """Every article ``request`` selects (``collapse`` and ``count`` already reset): ``total`` is the page's
    own search, run inside the export's snapshot for its refusals and its count."""
    owned = connection.info.transaction_status == TransactionStatus.IDLE
    if owned:
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    try:
        counted = total()
        with snapshot(connection, settings) as run:
            compiled = plan(run, request, settings, Deadline(settings))
        where = compiled.where()
        order = NEWEST if compiled.newest_first else BEST
        # The cluster's live articles per row as it is fetched, from the counts the schema keeps by cluster and
        # outlet (0005_counting.sql): counting the articles themselves probed every month's cluster index per
        # row (an export of 8,000 articles took a minute at 120k articles).
        statement = sql.SQL(
            "DECLARE {cursor} NO SCROLL CURSOR FOR SELECT {columns}, "
            "(SELECT sum(c.articles)::bigint FROM cluster_counts c WHERE c.cluster = chosen.cluster) "
            "FROM (SELECT {columns}, {rank} AS rank FROM articles WHERE {where}) chosen ORDER BY {order}").format(
            cursor=sql.Identifier(_CURSOR), columns=hit_columns(), rank=compiled.rank.where, where=where.where,
            order=order)
        connection.execute("SELECT set_config('statement_timeout', '0', true)")  # rows are paced by the reader
        connection.execute(statement, (*compiled.rank.params, *where.params))
    except BaseException:
        if owned:
            connection.execute("ROLLBACK")
        raise
    return PostgresExport(request, counted, connection, gazetteer, owned)
