#!/usr/bin/env python3
"""Benchmark: the PostgreSQL backend's search against the embedded (Whoosh) one, on the same articles, in one run.

Issue 19's first measure of the read side. On an instance of the shared
corpus (``newsdesk ingest`` of its records, replicated ``--scale`` times, as
bench/stories.py and bench/timeline.py build it; ``--index DIR`` reuses one):

1. every stored article of the instance (``all_stored_fields`` →
   ``from_stored``, turned back into the ``Article`` the ingest wrote) is
   written into a fresh database on a throwaway PostgreSQL server
   (tests/services.py's ``postgres_primary``: loopback, fsync off) with the
   PostgreSQL writer (search/index/pg_writer.py), in ingest order, timed
   (articles/s, wall and the client's CPU); then ``VACUUM ANALYZE`` (untimed:
   a freshly loaded table has no statistics, and the planner needs them);
2. for bench/stories.py's queries, by relevance and by date, page 1 with its
   four facets and the facet cache off: the embedded reader over a warm
   searcher against the PostgreSQL reader over one connection, one untimed
   run each first, then ``--rounds`` interleaved rounds. The PostgreSQL
   backend's work is done in the server, so the figure compared is the
   *wall* time of a search (median, p95 over the rounds); the client's CPU
   time is given beside it. Totals of both are compared (a sanity check, not
   the oracle: tests/test_pg_reader.py is);
3. the database's size (``pg_database_size``) against the Whoosh index
   directory's, and the server's memory from /proc: the postmaster's and the
   search connection's backend's VmRSS and VmHWM, with RssAnon (private) apart
   from RssShmem (shared buffers touched, counted in every process that
   touched them — which is why a sum over processes would mislead);
4. for the slowest PostgreSQL search: each statement's wall time, and the
   plan of its counting statement (``EXPLAIN (ANALYZE, BUFFERS)``), printed.

Not measured: concurrency (one client, one connection), a server tuned for
the machine (tests/services.py's settings: PostgreSQL's defaults but
durability off), replicas, and the client and the server share the same cores.

Run: ``python bench/pg_search.py [--limit N] [--scale K] [--index DIR] [--rounds R] [--out bench/RESULTS.md]``.
"""

from __future__ import annotations

import datetime as dt
import logging
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psycopg
from ingest_search import (
    REPO,
    append_results,
    corpus_instance,
    directory_mb,
    instance_parser,
    machine,
    md_table,
    percentile,
)
from psycopg import sql

from search.enrich import load_gazetteer
from search.errors import NewsdeskError
from search.index import from_stored, open_index
from search.index.pg_writer import write_articles_pg
from search.index.postgres import migrate
from search.query import make_query
from search.query.embedded import EmbeddedReader
from search.query.pg_reader import PostgresReader
from search.records import UNKNOWN, Article, SearchPage, SearchQuery, StoredArticle
from search.settings import Settings

sys.path.insert(0, str(REPO / "tests"))  # the tests' throwaway servers: the bench starts its own the same way
from services import Postgres, postgres_primary

QUERIES = ("", "Kosovo", "Lavrov", "Serbia Kosovo", '"foreign minister"', "election", "oil OR gas")  # stories.py's
SORTS = ("relevance", "date")
BACKENDS = ("embedded", "postgres")
#: The server's settings reported beside the figures.
SERVER_SETTINGS = ("server_version", "shared_buffers", "work_mem", "effective_cache_size", "max_parallel_workers_per_gather",
                   "jit", "random_page_cost", "fsync", "synchronous_commit")
#: The /proc status lines reported for a server process.
STATUS_KEYS = ("VmRSS", "VmHWM", "RssAnon", "RssShmem")

log = logging.getLogger("bench.pg_search")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = instance_parser(__doc__.split("\n\n")[0], rounds=15)
    args = parser.parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    with corpus_instance(args, "pg") as (settings, _):
        figures = measure(settings, args.rounds)
    section = render(figures, started, "python " + shlex.join(["bench/pg_search.py", *argv]))
    print(section)
    print(figures.plan)
    append_results(args.out, section)
    return 0


@dataclass
class Row:
    q: str
    sort: str
    wall: dict[str, list[float]] = field(default_factory=lambda: {b: [] for b in BACKENDS})
    cpu: dict[str, list[float]] = field(default_factory=lambda: {b: [] for b in BACKENDS})
    totals: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Figures:
    articles: int = 0
    written: str = ""
    write_wall: float = 0.0
    write_cpu: float = 0.0
    vacuum_s: float = 0.0
    server: dict[str, str] = field(default_factory=dict)
    database_mb: float = 0.0
    whoosh_mb: float = 0.0
    memory: dict[str, dict[str, str]] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    statements: list[tuple[str, float]] = field(default_factory=list)
    worst: str = ""
    plan: str = ""


class RecordingCursor(psycopg.Cursor[Any]):
    """A cursor that notes each statement, its parameters and its wall time while ``RecordingCursor.on`` is set:
    how the slowest search's statements are found without reaching into the reader."""

    on = False
    seen: ClassVar[list[tuple[Any, Any, float]]] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> RecordingCursor:
        start = time.perf_counter()
        super().execute(query, params, **kwargs)
        if RecordingCursor.on:
            RecordingCursor.seen.append((query, params, (time.perf_counter() - start) * 1000))
        return self


def to_article(stored: StoredArticle) -> Article:
    """The article the ingest wrote, back from its stored fields: what the writer reads (it numbers and clusters
    it again; the unknown outlet and language are what ``to_fields`` stores for none)."""
    return Article(id=stored.id, title=stored.title, text=stored.text, origin=stored.origin, url=stored.url,
                   outlet=None if stored.outlet == UNKNOWN else stored.outlet, author=stored.author,
                   published=stored.published, published_source=stored.published_source,
                   language=None if stored.language == UNKNOWN else stored.language, actors=list(stored.actors),
                   minhash=stored.minhash)


def measure(settings: Settings, rounds: int) -> Figures:
    figures = Figures()
    gazetteer = load_gazetteer()
    with open_index(settings).searcher() as searcher:
        stored = sorted((from_stored(fields) for fields in searcher.all_stored_fields()), key=lambda a: a.seq)
    figures.articles = len(stored)
    figures.whoosh_mb = directory_mb(settings.index_dir)
    articles = [to_article(article) for article in stored]
    log.info("%d articles read from %s", len(articles), settings.index_dir)
    with postgres_primary() as server, psycopg.connect(server.url(), autocommit=True,
                                                       cursor_factory=RecordingCursor) as connection:
        migrate(connection)
        wall, cpu = time.perf_counter(), time.process_time()
        report = write_articles_pg(connection, articles, batch_size=settings.batch_size)
        figures.write_wall, figures.write_cpu = time.perf_counter() - wall, time.process_time() - cpu
        figures.written = (f"added {report.added:,}, updated {report.updated:,}, unchanged {report.unchanged:,}, "
                           f"duplicate {report.duplicate:,}")
        log.info("written in %.1f s: %s", figures.write_wall, figures.written)
        start = time.perf_counter()
        connection.execute("VACUUM ANALYZE")
        figures.vacuum_s = time.perf_counter() - start
        figures.server = {name: str(_one(connection, sql.SQL("SHOW {}").format(sql.Identifier(name))))
                          for name in SERVER_SETTINGS}
        figures.database_mb = int(_one(connection, "SELECT pg_database_size(current_database())")) / 2**20
        embedded = EmbeddedReader(open_index(settings).searcher(), settings, gazetteer)
        postgres = PostgresReader(connection, settings, gazetteer)
        try:
            figures.rows = [_time(embedded, postgres, make_query(q, sort=sort, settings=settings), rounds)
                            for q in QUERIES for sort in SORTS]
            figures.memory = _memory(server, int(_one(connection, "SELECT pg_backend_pid()")))
            _explain_worst(connection, postgres, settings, figures)
        finally:
            embedded.close()
    return figures


def _time(embedded: EmbeddedReader, postgres: PostgresReader, request: SearchQuery, rounds: int) -> Row:
    row = Row(request.q or "(front page)", request.sort)
    runs: dict[str, Callable[[], SearchPage]] = {"embedded": lambda: embedded.search(request),
                                                  "postgres": lambda: postgres.search(request)}
    for backend, run in runs.items():  # warm, and the totals
        try:
            row.totals[backend] = run().total
        except (NewsdeskError, psycopg.Error) as error:  # recorded and carried on: one failing query must not lose the run
            row.error = f"{backend}: {type(error).__name__}: {error}"
            log.warning("%r %s: %s", request.q, request.sort, row.error)
            return row
    for i in range(rounds):
        for backend in (BACKENDS if i % 2 == 0 else BACKENDS[::-1]):
            wall, cpu = time.perf_counter(), time.process_time()
            runs[backend]()
            row.wall[backend].append((time.perf_counter() - wall) * 1000)
            row.cpu[backend].append((time.process_time() - cpu) * 1000)
    log.info("%r %s: embedded %.1f ms, postgres %.1f ms", request.q, request.sort,
             statistics.median(row.wall["embedded"]), statistics.median(row.wall["postgres"]))
    return row


def _memory(server: Postgres, backend_pid: int) -> dict[str, dict[str, str]]:
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    return {"postmaster": _status(postmaster), "search connection's backend": _status(backend_pid)}


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    values = dict(line.split(":", 1) for line in lines if ":" in line)
    return {key: " ".join(values.get(key, "?").split()) for key in STATUS_KEYS}


def _explain_worst(connection: psycopg.Connection[Any], postgres: PostgresReader, settings: Settings,
                   figures: Figures) -> None:
    """The statements of the slowest PostgreSQL search, timed one by one, and the plan of its counting one."""
    timed = [row for row in figures.rows if row.error is None]
    if not timed:
        return
    worst = max(timed, key=lambda row: statistics.median(row.wall["postgres"]))
    q = "" if worst.q == "(front page)" else worst.q
    figures.worst = f"{worst.q!r} by {worst.sort}"
    RecordingCursor.seen.clear()
    RecordingCursor.on = True
    try:
        postgres.search(make_query(q, sort=worst.sort, settings=settings))
    finally:
        RecordingCursor.on = False
    seen = [(query, params, ms) for query, params, ms in RecordingCursor.seen
            if "statement_timeout" not in _text(connection, query)]
    figures.statements = [(" ".join(_text(connection, query).split())[:90], ms) for query, _, ms in seen]
    counting = [(query, params, ms) for query, params, ms in seen if "MATERIALIZED" in _text(connection, query)]
    slowest = max(seen, key=lambda statement: statement[2], default=None)
    plans = []
    for kind, statement in (("counting", counting[0] if counting else None), ("slowest", slowest)):
        if statement is None or (kind == "slowest" and counting and statement[0] is counting[0][0]):
            continue
        query, params, _ = statement
        explained = connection.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + query, params).fetchall()
        plans.append(f"EXPLAIN (ANALYZE, BUFFERS) of the {kind} statement of {figures.worst}:\n"
                     + "\n".join(str(line[0]) for line in explained))
    figures.plan = "\n\n".join(plans)


def _text(connection: psycopg.Connection[Any], query: Any) -> str:
    return query.as_string(connection) if isinstance(query, sql.Composable) else str(query)


def _one(connection: psycopg.Connection[Any], statement: Any) -> Any:
    row = connection.execute(statement).fetchone()
    assert row is not None
    return row[0]


def render(figures: Figures, started: dt.datetime, command: str) -> str:
    lines = [f"## {started:%Y-%m-%d %H:%M} UTC — `{command}`", ""]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    lines += [("- PostgreSQL (tests/services.py's throwaway server, loopback TCP): "
              + ", ".join(f"{k} {v}" for k, v in figures.server.items())),
              f"- articles: {figures.articles:,}, every stored article of the instance", "",
              "### Writing them into PostgreSQL", "",
              (f"- `write_articles_pg`, one connection, in ingest order: {figures.written}; "
               f"{figures.write_wall:.1f} s wall (**{figures.articles / figures.write_wall:,.0f} articles/s**), "
               f"client CPU {figures.write_cpu:.1f} s (the documents and text vectors are made in Python); "
               f"then VACUUM ANALYZE {figures.vacuum_s:.1f} s, untimed above"),
              (f"- size: database {figures.database_mb:,.0f} MB (`pg_database_size`, tables + indexes + the catalog) "
               f"against the Whoosh index directory's {figures.whoosh_mb:,.0f} MB"), "",
              "### Search, page 1 with the four facets: PostgreSQL against embedded", "",
              md_table(["query", "sort", "total", "embedded wall ms", "p95", "CPU ms", "postgres wall ms", "p95",
                        "client CPU ms", "ratio pg/emb"],
                       [_cells(row) for row in figures.rows]), ""]
    ratios = [_median(row, "wall", "postgres") / _median(row, "wall", "embedded") for row in figures.rows
              if row.error is None]
    if ratios:
        lines.append(f"- wall ratio PostgreSQL/embedded: median **{statistics.median(ratios):.2f}**, "
                     f"best {min(ratios):.2f}, worst {max(ratios):.2f}")
    lines += [f"- {row.q!r} {row.sort}: failed — {row.error}" for row in figures.rows if row.error]
    mismatched = [f"{row.q!r} {row.sort} ({row.totals})" for row in figures.rows
                  if row.error is None and len(set(row.totals.values())) > 1]
    lines.append("- totals: " + ("the same on both backends" if not mismatched else "differ: " + "; ".join(mismatched)))
    if figures.statements:
        lines.append(f"- the slowest PostgreSQL search, {figures.worst}, statement by statement (wall ms, one run): "
                     + "; ".join(f"`{text}…` {ms:.1f}" for text, ms in figures.statements))
    lines += [("- server memory after the searches, from /proc (RssAnon: the process's own; RssShmem: the shared "
               "buffers it touched, shared by all server processes, so not to be summed):")]
    lines += [f"  - {name}: " + ", ".join(f"{k} {v}" for k, v in status.items())
              for name, status in figures.memory.items()]
    lines += [("- measured: one client, one connection, searches one at a time, warm (one untimed run each first), "
              "interleaved rounds, medians; wall ms compared because PostgreSQL's work is in the server, client CPU "
              "beside it. Not measured: concurrency, a tuned server, a cold cache, replicas; the client and the "
              f"server share the machine's {machine()['cores']} cores."), ""]
    return "\n".join(lines)


def _cells(row: Row) -> list[str]:
    if row.error:
        return [row.q, row.sort, "", "failed", "", "", row.error, "", "", ""]
    total = str(row.totals.get("embedded", ""))
    return [row.q, row.sort, f"{int(total):,}" if total else "",
            f"{_median(row, 'wall', 'embedded'):.1f}", f"{percentile(row.wall['embedded'], 95):.1f}",
            f"{_median(row, 'cpu', 'embedded'):.1f}",
            f"{_median(row, 'wall', 'postgres'):.1f}", f"{percentile(row.wall['postgres'], 95):.1f}",
            f"{_median(row, 'cpu', 'postgres'):.1f}",
            f"{_median(row, 'wall', 'postgres') / _median(row, 'wall', 'embedded'):.2f}"]


def _median(row: Row, kind: str, backend: str) -> float:
    return statistics.median((row.wall if kind == "wall" else row.cpu)[backend])


if __name__ == "__main__":
    sys.exit(main())
