#!/usr/bin/env python3
"""Benchmark: the results page's timeline (search/query/timeline.py, web/chart.py) beside the plain search.

Issue 18's target: a results page with its chart and facets costs at most
twice the page without the chart. On an instance of the shared corpus
(``newsdesk ingest`` of its records, replicated ``--scale`` times), for a set
of queries, warm (a server's searcher), interleaved, median CPU ms over
``--rounds``:

1. ``search`` — the results page's engine work: hits, snippets, facets;
2. ``search`` + ``timeline_of`` + ``draw`` — the same with its chart (the
   timeline selects the matches again, counts them per bucket, and the
   bars are laid out);
3. ``timeline_of`` with ``split=outlet`` — the chart by outlet, alone.

Reports each and the ratio (2) / (1) per query and overall (the target: ≤ 2),
and the process's memory once measured (VmRSS and its peak VmHWM, from
/proc; the peak includes the build when the instance was built in the run).

Run: ``python bench/timeline.py [--limit N] [--scale K] [--index DIR] [--rounds R] [--out bench/RESULTS.md]``.
``--index DIR`` reuses (or builds and keeps) the instance there.
"""

from __future__ import annotations

import datetime as dt
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ingest_search import append_results, corpus_instance, instance_parser, machine, md_table

from search.enrich import load_gazetteer
from search.index import open_index
from search.query import make_query, search, timeline_of
from search.settings import Settings
from web.chart import draw

QUERIES = ("", "Kosovo", "Lavrov", "Serbia Kosovo", '"foreign minister"', "election", "oil OR gas")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = instance_parser(__doc__.split("\n\n")[0], rounds=15)
    args = parser.parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    with corpus_instance(args, "timeline") as (settings, built):
        rows, articles = measure(settings, args.rounds)
    section = render(rows, articles, started, "python " + shlex.join(["bench/timeline.py", *argv]), memory(), built)
    print(section)
    append_results(args.out, section)
    return 0


def measure(settings: Settings, rounds: int) -> tuple[list[tuple[str, float, float, float]], int]:
    gazetteer = load_gazetteer()
    rows = []
    with open_index(settings).searcher() as searcher:
        articles = searcher.doc_count()
        for q in QUERIES:
            request = make_query(q, settings=settings)

            def page(request: object = request) -> object:
                return search(searcher, request, settings, gazetteer)  # type: ignore[arg-type]

            def charted(request: object = request) -> object:
                found = search(searcher, request, settings, gazetteer)  # type: ignore[arg-type]
                drawn = timeline_of(searcher, request, settings)  # type: ignore[arg-type]
                return found, draw(drawn, "count", lambda first, last, series: "")

            def by_outlet(request: object = request) -> object:
                return timeline_of(searcher, request, settings, split=True)  # type: ignore[arg-type]

            runs: dict[str, Callable[[], object]] = {"page": page, "charted": charted, "outlets": by_outlet}
            for run in runs.values():
                run()  # warm: columns read, caches filled, as in a server
            times: dict[str, list[float]] = {name: [] for name in runs}
            for i in range(rounds):
                order = list(runs)[i % 3:] + list(runs)[:i % 3]
                for name in order:
                    start = time.process_time()
                    runs[name]()
                    times[name].append((time.process_time() - start) * 1000)
            rows.append((q or "(front page)", *(statistics.median(times[name]) for name in runs)))
    return rows, articles


def memory() -> dict[str, int]:
    """This process's resident memory now and at its peak, MB (VmRSS, VmHWM); empty where /proc is not."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return {}
    found = {}
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) // 1024  # kB
    return found


def render(rows: list[tuple[str, float, float, float]], articles: int, started: dt.datetime, command: str,
           resident: dict[str, int], built: bool) -> str:
    ratios = [charted / page for _, page, charted, _ in rows if page]
    lines = [f"## {started:%Y-%m-%d %H:%M} UTC — `{command}`", ""]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    lines += [f"- articles: {articles:,}; warm searcher, facet cache off; CPU ms, median", "",
              "### The results page's chart against the page without it", "",
              md_table(["query", "search (page)", "search + timeline + chart", "ratio", "timeline by outlet"],
                       [(q, f"{page:.1f}", f"{charted:.1f}", f"{charted / page:.2f}", f"{outlets:.1f}")
                        for q, page, charted, outlets in rows]),
              "", f"- median ratio **{statistics.median(ratios):.2f}**, worst {max(ratios):.2f} (target ≤ 2)"]
    if resident:
        how = "the instance built in this run: the peak includes the build" if built else "the instance reused"
        lines.append(f"- memory once measured: VmRSS {resident.get('VmRSS', 0):,} MB, peak VmHWM "
                     f"{resident.get('VmHWM', 0):,} MB ({how})")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
