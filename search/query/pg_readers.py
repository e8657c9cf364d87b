"""Readers of the PostgreSQL backend: a connection kept per thread, searches on the replica when there is one.

Part of the query stage, the PostgreSQL side of ``open_readers``
(search/query/backend.py), beside the embedded backend's per-thread Whoosh
searchers (search/query/embedded.py). Each question a ``PostgresReader``
answers is its own REPEATABLE READ transaction, so a kept connection is
always up to date: nothing is reopened after a commit, as a searcher is.

**Where reads go.** ``database_read_url`` names a read replica (a hot
standby streaming from the primary): the web's searches go there, so N web
processes add load to replicas rather than to the primary the workers write
to. A replica may lag the primary by a moment; what must see a write just
made reads the primary (``fresh``): the alert runner, which mails the
articles it has just matched and would otherwise drop one it cannot find
yet. The schema is the primary's to migrate (a replica is read only and
receives it by replication); the first connection to the primary migrates
it, as every command against the database does.
"""

from __future__ import annotations

import threading

from search.database import Connection, connect
from search.enrich import Gazetteer, load_gazetteer
from search.query.pg_reader import PostgresReader
from search.settings import Settings


class _Kept(threading.local):
    reader: PostgresReader | None = None
    connection: Connection | None = None


class PostgresReaders:
    """Readers of one PostgreSQL database: a kept one per thread, and snapshots of the caller's own."""

    def __init__(self, settings: Settings, *, fresh: bool = False) -> None:
        self.settings = settings
        self.url = settings.database_url if fresh else settings.database_read_url or settings.database_url
        self._kept = _Kept()
        self._gazetteer: Gazetteer | None = None
        self._migrated = False
        self._lock = threading.Lock()

    def current(self) -> PostgresReader:
        kept = self._kept
        if kept.reader is not None and kept.connection is not None and not kept.connection.closed:
            return kept.reader
        self.close()  # a connection the server closed (restarted, or killed it) is replaced
        kept.connection = self._connect()
        kept.reader = PostgresReader(kept.connection, self.settings, self.gazetteer)
        return kept.reader

    def snapshot(self) -> PostgresReader:
        return PostgresReader(self._connect, self.settings, self.gazetteer)

    def close(self) -> None:
        """Close this thread's kept connection (each thread's goes with its thread)."""
        kept = self._kept
        if kept.connection is not None:
            kept.connection.close()
        kept.reader = kept.connection = None

    @property
    def gazetteer(self) -> Gazetteer:
        if self._gazetteer is None:
            self._gazetteer = load_gazetteer()
        return self._gazetteer

    def _connect(self) -> Connection:
        """A connection to where reads go, the primary's schema migrated first (once per process)."""
        with self._lock:
            if not self._migrated and self.url != self.settings.database_url:
                connect(self.settings.database_url).close()  # a replica receives the schema, never makes it
            self._migrated = True
        return connect(self.url, migrated=self.url == self.settings.database_url)
