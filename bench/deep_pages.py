#!/usr/bin/env python3
"""Benchmark: a deep page by its number (OFFSET) against the same page after a cursor (keyset), both backends.

Reads what bench/pg_scale.py built under its ``--root`` (the replicated
corpus at a scale: the Whoosh instance, and the first PostgreSQL database of
``pg1``, ``pg2``, ``pgcopy``), in one process, one connection, warm. For a
few searches by date and by relevance and a few page numbers, page N is
asked twice on each backend: by number (``page=N``: the rows before it
counted off) and by the cursor numbered page N−1 gave (``after=``: keyset
paging, search/query/cursor.py). Both must list the same articles; each is
timed in interleaved rounds, wall and CPU (for PostgreSQL the server
backend's CPU added, from /proc/<pid>/schedstat). The ratio is numbered ÷
cursor, per backend: how much of a deep page the cursor saves.

Run (after ``pg_scale.py build``): ``python bench/deep_pages.py --scale 10 [--out bench/RESULTS.md]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingest_search import REPO, append_results, machine, percentile
from pg_scale import DEFAULT_ROOT, READ_ORDER, _schedstat_ms, db_name, kept_server, load_builds, reader_settings

from search.database import connect
from search.enrich import load_gazetteer
from search.index import open_index
from search.query import make_query
from search.query.embedded import EmbeddedReader
from search.query.pg_reader import PostgresReader
from search.records import SearchQuery

log = logging.getLogger("deep_pages")

#: (query, sort) searched: every article by date (the front page's order), a common word by date and by
#: relevance (3,340 matches at 10×), an OR by relevance (16,170).
SEARCHES = (("", "date"), ("election", "date"), ("election", "relevance"), ("oil OR gas", "relevance"))
PAGES = (2, 50, 500)
PER_PAGE = 20


def timed(reader: Any, request: SearchQuery, pid: int | None) -> tuple[float, float, list[str]]:
    """Wall ms, CPU ms (the server backend's added for PostgreSQL) and the page's ids."""
    server = _schedstat_ms(pid) if pid else 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    page = reader.search(request)
    used = (time.process_time() - cpu) * 1000 + ((_schedstat_ms(pid) - server) if pid else 0.0)
    return (time.perf_counter() - wall) * 1000, used, [hit.id for hit in page.hits]


def measure(readers: dict[str, tuple[Any, int | None]], rounds: int, settings: Any) -> list[list[str]]:
    rows = []
    for q, sort in SEARCHES:
        for number in PAGES:
            cells = [q or "(every article)", sort, str(number)]
            for backend, (reader, pid) in readers.items():
                numbered = make_query(q, sort=sort, page=number, per_page=PER_PAGE, settings=settings)
                before = reader.search(replace(numbered, page=number - 1))
                if before.next is None:
                    cells += ["", "", "", "fewer pages"]
                    continue
                keyset = make_query(q, sort=sort, per_page=PER_PAGE, settings=settings, after=before.next)
                samples: dict[str, list[tuple[float, float]]] = {"numbered": [], "cursor": []}
                ids: dict[str, list[str]] = {}
                for i in range(rounds + 1):
                    for kind in (("numbered", "cursor") if i % 2 else ("cursor", "numbered")):
                        wall, cpu, ids[kind] = timed(reader, numbered if kind == "numbered" else keyset, pid)
                        if i:  # the first round warms
                            samples[kind].append((wall, cpu))
                if ids["numbered"] != ids["cursor"]:
                    raise SystemExit(f"{backend} {q!r} {sort} page {number}: the cursor's page differs")
                cpu_n = statistics.median(c for _, c in samples["numbered"])
                cpu_c = statistics.median(c for _, c in samples["cursor"])
                cells += [f"{cpu_n:.1f}", f"{cpu_c:.1f}",
                          f"{percentile([w for w, _ in samples['cursor']], 95):.1f}", f"{cpu_n / cpu_c:.2f}"]
                log.info("%s %r %s page %d: numbered %.1f ms CPU, cursor %.1f", backend, q, sort, number, cpu_n,
                         cpu_c)
            rows.append(cells)
    return rows


def section(scale: int, articles: dict[str, int], database: str, rows: list[list[str]], rounds: int,
            argv: Sequence[str]) -> str:
    head = ["search", "sort", "page", *(f"{b} {c}" for b in ("Whoosh", "PostgreSQL")
                                         for c in ("numbered CPU ms", "cursor CPU ms", "cursor p95 wall ms",
                                                   "numbered ÷ cursor"))]
    lines = [(f"## Deep pages: by number against after a cursor, {scale}× corpus — "
             f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"), "",
             (f"`python bench/deep_pages.py {' '.join(argv)}` (bench/deep_pages.py): {articles['embedded']:,} articles "
             f"in Whoosh, {articles['postgres']:,} in PostgreSQL (`{database}`); {PER_PAGE} per page, page N asked by "
             f"number and after the cursor page N−1 gave (the same articles, checked); medians of {rounds} "
             "interleaved rounds, CPU including the PostgreSQL server backend's."), "",
             "| " + " | ".join(f"{k}: {v}" for k, v in machine().items()) + " |", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="where bench/pg_scale.py keeps its builds")
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, help="append the section here (e.g. bench/RESULTS.md)")
    args = parser.parse_args(argv)
    builds = load_builds(args.root)
    kind = next(k for k in READ_ORDER if f"{k}-{args.scale}x" in builds)
    gazetteer = load_gazetteer()
    with kept_server(args.root) as server:
        url = server.url(db_name(kind, args.scale))
        whoosh_settings = reader_settings(args.root, args.scale, None)
        with connect(url) as connection:  # as the web's readers connect (search/database.py)
            embedded = EmbeddedReader(open_index(whoosh_settings).searcher(), whoosh_settings, gazetteer)
            postgres = PostgresReader(connection, reader_settings(args.root, args.scale, url), gazetteer)
            pid = int(connection.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
            try:
                articles = {"embedded": embedded.overview().articles, "postgres": postgres.overview().articles}
                rows = measure({"Whoosh": (embedded, None), "PostgreSQL": (postgres, pid)}, args.rounds,
                               whoosh_settings)
            finally:
                embedded.close()
    text = section(args.scale, articles, f"{kind}-{args.scale}x", rows, args.rounds, argv)
    print(text)
    if args.out:
        append_results(args.out if args.out.is_absolute() else REPO / args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
