#!/usr/bin/env python3
"""Benchmark: what opening a searcher costs, through Whoosh's own storage and through memory maps.

Whoosh's ``FileStorage`` reads a segment by mapping its file and copying
each part (postings, terms, stored fields, columns) into a ``BytesIO``: every
searcher holds a private copy of the index and pays for it when it opens.
``open_index`` reads the same files through read-only maps
(search/index/mapped.py). On one index of N corpus articles, built through
Newsdesk's ingest path (``enrich`` + ``write_articles``) or reused with
``--index``, this measures for each storage, each time in a fresh (spawned)
process, in alternating order over ``--rounds``:

- CPU ms to open the first searcher, and to open one again after closing it
  (what a server that opens a searcher per request pays each time);
- private memory (``RssAnon`` from /proc/self/status) added by opening the
  searcher, and after the ~100 benchmark queries of bench/ingest_search.py
  through ``search.query.search`` (hits, snippets, four facet counts, counts
  never kept); file-backed memory (``RssFile``, the page cache's pages,
  shared between processes) after them;
- CPU ms of those queries, so a slower read path would show;

and checks that both storages give identical pages (totals, hits, snippets,
facets) for every query. Figures are medians over the rounds.

Run: ``python bench/searcher_open.py [--limit N] [--index DIR] [--rounds R]
[--out bench/RESULTS.md]``. ``--index DIR`` reuses the index in the instance
directory DIR, or builds it there and keeps it; without it the index is built
in a temporary directory and removed. Prints a Markdown section and appends it
to RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import logging
import multiprocessing
import shlex
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest_search import (
    DEFAULT_OUT,
    append_results,
    derive_queries,
    directory_mb,
    enrich_all,
    find_corpus,
    machine,
    md_table,
    memory_mb,
    read_records,
    to_article,
)
from whoosh import index as whoosh_index
from whoosh.index import FileIndex

from search.enrich import load_gazetteer
from search.index import create_index, open_index, write_articles
from search.query import make_query, search
from search.settings import Settings

log = logging.getLogger("bench")

STORAGES = {
    "plain": "Whoosh `FileStorage` (each file copied into the searcher)",
    "mapped": "Newsdesk `open_index` (files read through memory maps)",
}
REOPENS = 5


@dataclass(frozen=True)
class Opened:
    """One fresh process: one storage's figures."""

    first_open_ms: float  # CPU
    reopen_ms: float  # CPU, median of REOPENS opens after closing the first searcher
    private_open_mb: float  # RssAnon added by opening the searcher
    private_queries_mb: float  # RssAnon added by opening it and running the queries
    file_mb: float  # RssFile added by opening it and running the queries
    queries_ms: float  # CPU of all the queries
    answers: str  # sha256 of every page
    totals: tuple[int, ...]


def _settings(instance: Path) -> Settings:
    # Counts never kept: every query counts its facets, in both processes alike.
    return Settings(index=instance, facet_cache_size=0)


def _open(kind: str, settings: Settings) -> FileIndex:
    if kind == "plain":
        return whoosh_index.open_dir(str(settings.index_dir))
    return open_index(settings)


def measure(instance: str, kind: str, queries: list[str]) -> Opened:
    """In this (fresh) process: open a searcher through ``kind`` storage, run the queries, read CPU and memory."""
    settings, gazetteer = _settings(Path(instance)), load_gazetteer()
    requests = [make_query(q, per_page=10) for q in queries]
    gc.collect()
    before = memory_mb()
    cpu = time.process_time()
    searcher = _open(kind, settings).searcher()
    first_open_ms = (time.process_time() - cpu) * 1e3
    opened = memory_mb()
    cpu = time.process_time()
    pages = [search(searcher, request, settings, gazetteer) for request in requests]
    queries_ms = (time.process_time() - cpu) * 1e3
    searched = memory_mb()
    searcher.close()
    reopens = []
    for _ in range(REOPENS):
        cpu = time.process_time()
        again = _open(kind, settings).searcher()
        reopens.append((time.process_time() - cpu) * 1e3)
        again.close()
    return Opened(
        first_open_ms, statistics.median(reopens),
        opened[0] - before[0], searched[0] - before[0], searched[1] - before[1], queries_ms,
        hashlib.sha256(repr(pages).encode()).hexdigest(), tuple(page.total for page in pages),
    )


def in_fresh_process(instance: Path, kind: str, queries: list[str]) -> Opened:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measure, str(instance), kind, queries).result()


def build(instance: Path, records: list[dict[str, Any]]) -> None:
    """The index of ``records`` through Newsdesk's ingest path (enrich, then ``write_articles``)."""
    settings = _settings(instance)
    articles, _ = enrich_all([to_article(record) for record in records], load_gazetteer(), Settings().langdetect_seed)
    create_index(settings)
    start = time.perf_counter()
    report = write_articles(articles, settings)
    log.info("indexed %d articles in %.0f s", report.added, time.perf_counter() - start)


def run(instance: Path, queries: list[str], rounds: int) -> dict[str, list[Opened]]:
    """Each storage in a fresh process per round, the order alternating, so load falls on both."""
    figures: dict[str, list[Opened]] = {kind: [] for kind in STORAGES}
    for i in range(rounds):
        for kind in list(STORAGES)[:: 1 if i % 2 == 0 else -1]:
            figures[kind].append(in_fresh_process(instance, kind, queries))
            log.info("round %d %s: open %.0f ms CPU, +%.0f MB private",
                     i + 1, kind, figures[kind][-1].first_open_ms, figures[kind][-1].private_open_mb)
    return figures


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def render(figures: dict[str, list[Opened]], context: dict[str, Any]) -> str:
    rows, med = [], {}
    for kind, runs in figures.items():
        med[kind] = {field: _median([getattr(r, field) for r in runs])
                     for field in ("first_open_ms", "reopen_ms", "private_open_mb", "private_queries_mb",
                                   "file_mb", "queries_ms")}
        m = med[kind]
        rows.append((STORAGES[kind], f"{m['first_open_ms']:.0f}", f"{m['reopen_ms']:.0f}",
                     f"{m['private_open_mb']:.1f}", f"{m['private_queries_mb']:.1f}", f"{m['file_mb']:.1f}",
                     f"{m['queries_ms']:.0f}"))
    answers = {r.answers for runs in figures.values() for r in runs}
    plain, mapped = med["plain"], med["mapped"]
    lines = [
        f"## {context['started']:%Y-%m-%d %H:%M} UTC — `{context['command']}` (searcher open)",
        "\n".join(f"- {key}: {value}" for key, value in context["machine"].items()),
        (f"- index: {context['articles']:,} articles, {context['segments']} segments, "
         f"{context['index_mb']:.1f} MB on disk; {len(context['queries'])} queries "
         f"({context['total_hits']:,} matches in all); {context['rounds']} rounds, each storage in a fresh process "
         f"per round, medians; wall time {context['wall_s']:.0f} s"),
        md_table(
            ("storage", "open ms CPU (first)", f"open ms CPU (again, median of {REOPENS})", "private MB after open",
             "private MB after queries", "file-backed MB after queries", "queries ms CPU"),
            rows,
        ),
        (f"- mapped / plain: first open CPU **{mapped['first_open_ms'] / plain['first_open_ms']:.2f}**, "
         f"open again **{mapped['reopen_ms'] / plain['reopen_ms']:.2f}**, queries CPU "
         f"**{mapped['queries_ms'] / plain['queries_ms']:.2f}**; private memory after open "
         f"{plain['private_open_mb']:.1f} → {mapped['private_open_mb']:.1f} MB, after the queries "
         f"{plain['private_queries_mb']:.1f} → {mapped['private_queries_mb']:.1f} MB"),
        "- answers (totals, hits, snippets, facet counts of every query) identical across storages and rounds: "
        + ("**yes**" if len(answers) == 1 else f"**NO** ({len(answers)} different sets)"),
    ]
    return "\n\n".join(lines) + "\n"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=8000, metavar="N",
                        help="N articles spread evenly over the corpus (default 8000)")
    parser.add_argument("--index", type=Path, metavar="DIR",
                        help="instance directory: reuse its index, or build it there and keep it")
    parser.add_argument("--rounds", type=int, default=3, metavar="R", help="fresh processes per storage (default 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file to append to")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still remove the temporary index
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    records = read_records(find_corpus(), args.limit)
    queries = derive_queries(records)
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
        instance = args.index or Path(tmp) / "instance"
        if whoosh_index.exists_in(str(_settings(instance).index_dir)):
            log.info("reusing the index in %s", instance)
        else:
            build(instance, records)
        figures = run(instance, queries, args.rounds)
        with open_index(_settings(instance)).searcher() as searcher:
            articles, segments = searcher.doc_count(), len(searcher.leaf_searchers())
        index_mb = directory_mb(_settings(instance).index_dir)
    context = {
        "started": started, "command": "python " + shlex.join(["bench/searcher_open.py", *argv]),
        "machine": machine(), "articles": articles, "segments": segments, "index_mb": index_mb,
        "queries": queries, "total_hits": sum(figures["plain"][0].totals), "rounds": args.rounds,
        "wall_s": time.perf_counter() - clock,
    }
    section = render(figures, context)
    print(section)
    append_results(args.out, section)
    log.info("appended to %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
