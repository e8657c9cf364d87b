#!/usr/bin/env python3
"""Benchmark: results collapsed to stories (search/query/stories.py) beside the plain search.

Issue 18 asks for collapsed results at 24k and 120k articles against the
plain search in the same run. On an instance of the shared corpus
(``newsdesk ingest`` of its records, replicated ``--scale`` times: each
replica's copy of an article is a copy of its text in another outlet, so
at ``--scale 5`` every story has at least five copies), for a set of
queries, warm (a server's searcher), interleaved, median CPU ms over
``--rounds``, the facet cache off:

1. ``plain`` — the API's default page: every article listed and counted;
2. ``collapsed`` — the results page's default: one result per story (the
   first of each in the page's order), the stories counted beside the
   articles, facets counted in articles;
3. ``stories`` — the same counted in stories (``count=stories``): the
   total, the four facets and the undated count each in distinct stories.

Each by relevance and by date. Reports each and the ratios (2)/(1) and
(3)/(1). Apart, once per searcher: building the story codes (``stories``:
each segment's ``cluster`` column read, numbered over the index), which a
server pays on the first collapsed page after each commit, and sorting the
facets' (story, value) pairs, which the first count in stories pays; and
what each holds in memory.

Run: ``python bench/stories.py [--limit N] [--scale K] [--index DIR] [--rounds R] [--out bench/RESULTS.md]``.
``--index DIR`` reuses (or builds and keeps) the instance there.
"""

from __future__ import annotations

import datetime as dt
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from ingest_search import append_results, corpus_instance, instance_parser, machine, md_table

from search.enrich import load_gazetteer
from search.index import open_index
from search.query import columns, make_query, search
from search.query.stories import _pairs, _stories
from search.records import FACETS
from search.settings import Settings

QUERIES = ("", "Kosovo", "Lavrov", "Serbia Kosovo", '"foreign minister"', "election", "oil OR gas")
#: The three pages measured, by their parameters beside the query.
KINDS = {"plain": {}, "collapsed": {"collapse": "story", "count": "articles"}, "stories": {"count": "stories"}}
SORTS = ("relevance", "date")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = instance_parser(__doc__.split("\n\n")[0], rounds=15)
    args = parser.parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    with corpus_instance(args, "stories") as (settings, _):
        rows, about = measure(settings, args.rounds)
    section = render(rows, about, started, "python " + shlex.join(["bench/stories.py", *argv]))
    print(section)
    append_results(args.out, section)
    return 0


Row = tuple[str, str, float, float, float, int, int]


def measure(settings: Settings, rounds: int) -> tuple[list[Row], dict[str, object]]:
    gazetteer = load_gazetteer()
    rows: list[Row] = []
    with open_index(settings).searcher() as searcher:
        index = columns.index_columns(searcher)
        builds = []
        for _ in range(5):  # cold: what the first collapsed page after a commit pays
            start = time.process_time()
            built = _stories(searcher, index)
            builds.append((time.process_time() - start) * 1000)
        pairs_ms, pairs_bytes = [], 0
        for _ in range(3):  # cold: what the first count in stories after a commit pays besides
            fresh = _stories(searcher, index)
            start = time.process_time()
            pairs_bytes = sum(_pairs(index, fresh, name).nbytes for name in FACETS)
            pairs_ms.append((time.process_time() - start) * 1000)
        about: dict[str, object] = {
            "articles": searcher.doc_count(), "stories": int((built.live > 0).sum()),
            "build_ms": statistics.median(builds),
            "story_bytes": built.by_docnum.nbytes + built.live.nbytes,
            "pairs_ms": statistics.median(pairs_ms), "pairs_bytes": pairs_bytes,
        }
        for q in QUERIES:
            for sort in SORTS:
                requests = {kind: make_query(q, sort=sort, settings=settings, **params)  # type: ignore[arg-type]
                            for kind, params in KINDS.items()}
                runs: dict[str, Callable[[], object]] = {
                    kind: (lambda r=request: search(searcher, r, settings, gazetteer))  # type: ignore[misc]
                    for kind, request in requests.items()}
                for run in runs.values():
                    run()  # warm: columns and story codes read, as in a server
                times: dict[str, list[float]] = {kind: [] for kind in runs}
                for i in range(rounds):
                    order = list(runs)[i % 3:] + list(runs)[:i % 3]
                    for kind in order:
                        start = time.process_time()
                        runs[kind]()
                        times[kind].append((time.process_time() - start) * 1000)
                page = search(searcher, requests["stories"], settings, gazetteer)
                plain, collapsed, counted = (statistics.median(times[kind]) for kind in KINDS)
                rows.append((q or "(front page)", sort, plain, collapsed, counted, page.articles, page.total))
    return rows, about


def render(rows: list[Row], about: dict[str, object], started: dt.datetime, command: str) -> str:
    collapsed = [c / p for _, _, p, c, _, _, _ in rows if p]
    counted = [s / p for _, _, p, _, s, _, _ in rows if p]
    lines = [f"## {started:%Y-%m-%d %H:%M} UTC — `{command}`", ""]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    lines += [(f"- articles: {about['articles']:,} in {about['stories']:,} stories; warm searcher, facet cache off; "
              "CPU ms, median"), "",
              "### Results collapsed to stories against the plain search", "",
              md_table(["query", "sort", "plain", "collapsed", "ratio", "counted in stories", "ratio",
                        "articles", "stories"],
                       [(q, sort, f"{p:.1f}", f"{c:.1f}", f"{c / p:.2f}", f"{s:.1f}", f"{s / p:.2f}",
                         f"{articles:,}", f"{stories:,}")
                        for q, sort, p, c, s, articles, stories in rows]),
              "", f"- collapsed page: median ratio **{statistics.median(collapsed):.2f}**, worst {max(collapsed):.2f}",
              f"- counted in stories: median ratio **{statistics.median(counted):.2f}**, worst {max(counted):.2f}",
              (f"- story codes, once per searcher (after each commit): built in {about['build_ms']:.1f} ms CPU, "
               f"{_mb(about['story_bytes'])} MB held"),
              (f"- the facets' (story, value) pairs, once per searcher, when a count in stories first asks: sorted "
               f"in {about['pairs_ms']:.1f} ms CPU, {_mb(about['pairs_bytes'])} MB held"), ""]
    return "\n".join(lines)


def _mb(value: object) -> str:
    return f"{int(str(value)) / 2**20:.1f}"


if __name__ == "__main__":
    sys.exit(main())
