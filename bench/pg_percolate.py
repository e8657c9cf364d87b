#!/usr/bin/env python3
"""Benchmark: alert matching per new article, the PostgreSQL percolator against the RAM percolator.

A throwaway PostgreSQL server (tests/services.py's ``postgres_primary``:
loopback, fsync off) holds ``--base`` articles of the shared corpus
(``news-24k.jsonl.gz``, spread over the file), written by the PostgreSQL
writer; then two batches of ``--new`` articles more. 10,000 saved searches
are derived from the corpus titles (bench/ingest_search.py's
``derive_queries``), every other one with an outlet or language filter, a
tenth of them with a date preset. Both percolators match every saved search
against each batch (``match_all``), in the same run:

* **postgres, first batch** — includes compiling and storing the 10,000
  saved searches (once);
* **postgres, second batch** — the saved searches found stored: the cost of
  an alert run from then on;
* **ram** — search/query/percolate.py: the batch in a RAM index, each saved
  search run on it.

Both must find the same articles (checked). Figures are milliseconds per new
article. A quick measurement, not a timed test: one run, one connection.

    .venv/bin/python bench/pg_percolate.py [--base N] [--new N] [--saved N] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))

import psycopg
from ingest_search import derive_queries, find_corpus, machine, read_records, to_article

from search.enrich import enrich, load_gazetteer
from search.index.pg_writer import write_articles_pg
from search.index.postgres import migrate
from search.query import make_query
from search.query.percolate import RamPercolator
from search.query.pg_percolate import PostgresPercolator
from search.query.pg_reader import PostgresReader
from search.records import SearchQuery
from search.settings import Settings
from services import postgres_primary


def saved_searches(queries: list[str], outlets: list[str], count: int) -> list[SearchQuery]:
    now = dt.datetime.now(dt.UTC)
    found = []
    for i in range(count):
        q = queries[i % len(queries)]
        extra: dict[str, object] = {}
        if i % 2:
            extra["outlet"] = [outlets[i % len(outlets)]]
        elif i % 4 == 2:
            extra["language"] = ["en" if i % 8 == 2 else "ru"]
        if i % 10 == 5:
            extra["date_range"] = "year"
        found.append(replace(make_query(q, **extra), now=now))  # type: ignore[arg-type]
    return found


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--base", type=int, default=3000)
    parser.add_argument("--new", type=int, default=100)
    parser.add_argument("--saved", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = parser.parse_args(argv)
    records = read_records(find_corpus(), args.base + 2 * args.new)
    gazetteer = load_gazetteer()
    articles = [enrich(to_article(record), gazetteer, 0) for record in records]
    queries = derive_queries(records, count=2_000)
    outlets = sorted({a.outlet or "unknown" for a in articles})
    asked = saved_searches(queries, outlets, args.saved)
    settings = Settings()
    figures = []
    with postgres_primary() as server, psycopg.connect(server.url(), autocommit=True) as connection:
        migrate(connection)
        write_articles_pg(connection, articles[:args.base])
        reader = PostgresReader(connection, settings, gazetteer)
        for name, batch in (("first", articles[args.base:args.base + args.new]),
                            ("second", articles[args.base + args.new:])):
            top = max((a.seq for a in reader.new_articles(0)), default=0)
            write_articles_pg(connection, batch)
            fresh = reader.new_articles(top)
            started = time.perf_counter()
            found = PostgresPercolator(connection, fresh, settings).match_all(asked)
            postgres = time.perf_counter() - started
            ram_percolator = RamPercolator(fresh, settings)
            started = time.perf_counter()
            expected = ram_percolator.match_all(asked)
            ram = time.perf_counter() - started
            ram_percolator.close()
            same = sum(set(a) == set(b) for a, b in zip(found, expected, strict=True) if isinstance(a, dict)
                       and isinstance(b, dict))
            matched = sum(len(a) for a in found if isinstance(a, dict))
            figures.append((name, len(fresh), postgres, ram, same, matched))
    lines = [f"\n## PostgreSQL percolator against the RAM percolator ({dt.date.today().isoformat()})\n",
             f"- machine: {', '.join(f'{k}: {v}' for k, v in machine().items())}",
             (f"- {args.base:,} articles of the shared corpus stored, {args.saved:,} saved searches "
             "(title words and pairs; every other with an outlet or language filter, a tenth with range=year); "
             "bench/pg_percolate.py, one run, one connection\n"),
             ("| batch | new articles | PostgreSQL ms/article | RAM ms/article | ratio RAM/PostgreSQL | "
             "saved searches agreeing | matches |"), "|---|---|---|---|---|---|---|"]
    for name, new, postgres, ram, same, matched in figures:
        lines.append(f"| {name}{' (compiles the saved searches)' if name == 'first' else ''} | {new} | "
                     f"{1000 * postgres / new:.2f} | {1000 * ram / new:.2f} | {ram / postgres:.2f} | "
                     f"{same:,} of {len(asked):,} | {matched:,} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with args.out.open("a", encoding="utf-8") as out:
        out.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
