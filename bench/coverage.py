#!/usr/bin/env python3
"""Benchmark: outlet coverage (search/query/coverage.py), what the sources page computes, beside a facet search.

On a Newsdesk instance of the shared corpus (``newsdesk ingest`` of its
records, on every core, so the state holds each number's moment), this
measures the CPU time of one ``outlet_coverage`` call:

1. **warm**: on a searcher that has already read its columns (a server's),
   median over ``--rounds``, interleaved with the baseline;
2. **cold**: the first call on a new searcher with no segment's columns kept
   (after a commit that rewrote every segment), median of 3;
3. beside the **front page** (``search`` of the empty query: newest first,
   the four facets counted afresh, ``facet_cache_size=0``), warm and cold,
   measured the same way: the plain facet search the page sits beside;
4. and the **stored-field walk** it replaces: every live article's stored
   fields read to count the same (once), whose answer every row is checked
   against before anything is timed.

Run: ``python bench/coverage.py [--limit N] [--scale K] [--index DIR]
[--rounds R] [--out bench/RESULTS.md]``. ``--index DIR`` reuses the instance
directory DIR (or ingests into it and keeps it); without it the instance is
built in a temporary directory and removed. Prints a Markdown section and
appends it to RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import re
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ingest_search import (
    DEFAULT_OUT,
    append_results,
    ingest_replicated,
    machine,
    md_table,
)
from whoosh.searching import Searcher

from search.enrich import load_gazetteer
from search.index import open_index
from search.query import columns, outlet_coverage, search
from search.records import UNKNOWN, SearchQuery
from search.settings import Settings
from search.state import state_path

log = logging.getLogger("bench.coverage")
WINDOW = dt.timedelta(days=7)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-coverage-") as tmp:
        instance = args.index or Path(tmp) / "instance"
        settings = Settings(index=instance, facet_cache_size=0)
        ingest_s = None if (settings.index_dir).exists() else ingest_replicated(settings, Path(tmp), args.limit, args.scale)
        figures = measure(settings, args.rounds)
    context = {"started": started, "command": "python " + shlex.join(["bench/coverage.py", *argv]),
               "ingest_s": ingest_s, "rounds": args.rounds}
    section = render(figures, context)
    print(section)
    append_results(args.out, section)
    return 0


def measure(settings: Settings, rounds: int) -> dict[str, Any]:
    gazetteer = load_gazetteer()
    front_page = SearchQuery()
    now = dt.datetime.now(dt.UTC)
    paths: dict[str, Callable[[Searcher], object]] = {
        "outlet_coverage": lambda s: outlet_coverage(s, settings, now, WINDOW),
        "front page search": lambda s: search(s, front_page, settings, gazetteer),
    }
    figures: dict[str, Any] = {}
    with open_index(settings).searcher() as searcher:
        figures["articles"] = searcher.doc_count()
        figures["segments"] = len(searcher.leaf_searchers())
        start = time.process_time()
        walked = walk(searcher, settings, now)
        figures["walk_ms"] = (time.process_time() - start) * 1000
        rows = outlet_coverage(searcher, settings, now, WINDOW)
        computed = [{name: getattr(row, name) for name in walked[0]} for row in rows]
        if computed != walked:
            sys.exit("bench: outlet_coverage differs from the stored-field walk")
        figures["outlets"] = len(rows)
        warm: dict[str, list[float]] = {name: [] for name in paths}
        for run in paths.values():
            run(searcher)  # warm-up
        for i in range(rounds):
            for name in (list(paths)[i % 2:] + list(paths)[:i % 2]):
                warm[name].append(cpu_ms(lambda name=name: paths[name](searcher)))
    cold: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(3):
        for name, run in paths.items():
            columns._SHARED.clear()  # no segment's columns kept: as after a commit that merged every segment
            with open_index(settings).searcher() as fresh:
                cold[name].append(cpu_ms(lambda run=run, fresh=fresh: run(fresh)))
    figures["warm"] = {name: statistics.median(values) for name, values in warm.items()}
    figures["cold"] = {name: statistics.median(values) for name, values in cold.items()}
    return figures


def cpu_ms(run: Callable[[], object]) -> float:
    start = time.process_time()
    run()
    return (time.process_time() - start) * 1000


def walk(searcher: Searcher, settings: Settings, now: dt.datetime) -> list[dict[str, Any]]:
    """The rows counted from every live article's stored fields and every number's moment: the slow way."""
    moments: dict[int, dt.datetime | None] = {}
    if state_path(settings).is_file():
        with sqlite3.connect(f"file:{state_path(settings)}?mode=ro", uri=True) as connection:
            for seq, indexed in connection.execute("SELECT seq, indexed FROM article_numbers"):
                moments[seq] = dt.datetime.fromisoformat(indexed) if indexed else None
        connection.close()
    recent = [seq for seq, moment in moments.items() if moment is not None and moment >= now - WINDOW]
    since = min(recent) if recent else None
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(
        ("articles", "dated", "authored", "languaged", "added_recently", "newest"), 0))
    for document in searcher.documents():
        row = rows[document.get("outlet") or UNKNOWN]
        row["articles"] += 1
        row["dated"] += document.get("published") is not None
        row["authored"] += re.search(r"\w", document.get("author") or "") is not None
        row["languaged"] += document.get("language", UNKNOWN) not in (UNKNOWN, "")
        row["added_recently"] += since is not None and document["seq"] >= since
        row["newest"] = max(row["newest"], document["seq"])
    return [
        {"outlet": outlet, **{k: v for k, v in row.items() if k != "newest"}, "last_added": moments.get(row["newest"])}
        for outlet, row in sorted(rows.items(), key=lambda item: (item[0].casefold(), item[0]))
    ]


def render(figures: dict[str, Any], context: dict[str, Any]) -> str:
    info = machine()
    built = f"built by `newsdesk ingest` in {context['ingest_s']:.0f} s" if context["ingest_s"] else "reused"
    lines = [
        f"## {context['started']:%Y-%m-%d %H:%M} UTC — `{context['command']}`",
        (f"Outlet coverage (the sources page) beside the front page search. {figures['articles']:,} live articles, "
         f"{figures['outlets']} outlets, {figures['segments']} segments ({built}); {info['CPU']}, {info['cores']} "
         f"cores, load average at start {info['load average at start']}; Python {info['Python']}."),
        md_table(["CPU ms", f"warm (median of {context['rounds']})", "cold (median of 3)"], [
            (name, f"{figures['warm'][name]:.1f}", f"{figures['cold'][name]:.1f}") for name in figures["warm"]
        ]),
        (f"- The stored-field walk counting the same (every live article read once, checked equal to "
         f"`outlet_coverage` row by row): {figures['walk_ms']:,.0f} ms."),
        ("- warm: a searcher whose segments' columns are already read; cold: a new searcher after the kept "
         "columns are dropped (the columns of every segment read again, actor postings included, as the first "
         "search after a full merge does). The front page counts its four facets afresh (`facet_cache_size=0`)."),
    ]
    return "\n\n".join(lines) + "\n"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, metavar="N", help="N records spread evenly over the corpus")
    parser.add_argument("--scale", type=int, default=1, metavar="K", help="the corpus K× (new ids, outlets)")
    parser.add_argument("--index", type=Path, metavar="DIR", help="reuse (or build and keep) this instance")
    parser.add_argument("--rounds", type=int, default=20, metavar="R", help="warm rounds (default 20)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file to append to")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
