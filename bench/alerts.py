#!/usr/bin/env python3
"""Benchmark: alert matching time per new article, percolation against searching the live index.

An instance is built in a temporary directory from the shared corpus
(``news-24k.jsonl.gz``): ``--base`` articles indexed, then 10,000 real saved
searches (``search.alerts.saved.save_search``) whose queries are derived
deterministically from the corpus titles (``derive_queries``), every
other one with an outlet, actor or language filter, a tenth filter-only. Then
``--new`` more articles are indexed, and for 10, 1,000 and 10,000 active
saved searches, in the same run:

* **percolation** — ``run_alerts`` as shipped: the new articles (a range on
  ``seq``) in a RAM index, every due saved search run on it, deliveries and
  watermarks recorded (SQLite included: an upper bound on the matching alone);
* **baseline** — each saved search run on the live index, restricted to the
  new articles by a range on ``seq`` (``Require(query, seq > watermark)``),
  with matched terms collected as the percolator does.

Both must find the same matches (checked). Figures are milliseconds per new
article; the ratio baseline / percolation is what to compare across runs.

    .venv/bin/python bench/alerts.py [--base N] [--new N] [--sizes 10,1000,10000] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from ingest_search import append_results, derive_queries, find_corpus, machine, md_table, read_records, to_article
from whoosh import query as wq

from search.alerts import add_user, run_alerts
from search.alerts.saved import list_saved, save_search, saved_db
from search.enrich import Gazetteer, enrich, load_gazetteer
from search.index import last_number, open_index, write_articles
from search.query import parse_query
from search.records import SearchQuery
from search.settings import Settings

DEFAULT_OUT = REPO / "bench" / "RESULTS.md"
SIZES = (10, 1_000, 10_000)


@dataclass(frozen=True)
class Row:
    searches: int
    matches: int
    percolation_ms: float  # per new article
    baseline_ms: float  # per new article


@dataclass(frozen=True)
class Instance:
    settings: Settings
    watermark: int  # the last number before the new articles
    new: int  # new articles indexed (duplicates are not)


def build_instance(root: Path, records: list[dict[str, object]], new_count: int, gazetteer: Gazetteer) -> Instance:
    settings = Settings(index=root / "instance", batch_size=1000)
    step = max(1, len(records) // new_count)
    new = records[::step][:new_count]  # spread over outlets, like the base
    base = [r for i, r in enumerate(records) if i % step or i // step >= new_count]
    write_articles((enrich(to_article(r), gazetteer, 0) for r in base), settings)
    save_searches(settings, records, max(SIZES))
    watermark = last_number(settings)
    report = write_articles((enrich(to_article(r), gazetteer, 0) for r in new), settings)
    return Instance(settings, watermark, report.added)


def save_searches(settings: Settings, records: list[dict[str, object]], count: int) -> None:
    """``count`` inactive saved searches (activated per size): title queries, some with facet filters.

    The first ten through ``save_search``; the rest copy the first one's row
    with their own name, text and filters in one transaction (10,000 calls
    would spend a minute on disk syncs, which is not what is measured).
    """
    queries = derive_queries(records, count=2_000)
    outlets = sorted({str(r.get("outlet") or "unknown") for r in records})
    with open_index(settings).searcher() as searcher:
        actors = sorted({a for fields in searcher.all_stored_fields() for a in fields.get("actor", "").split(",") if a})
    user = add_user(settings, "bench@example.org", "a long password")
    wanted = [_bench_query(i, queries, outlets, actors) for i in range(count)]
    first = [save_search(settings, user.id, f"bench {i}", query, email=False, feed=False)
             for i, query in enumerate(wanted[:10])]
    copy = (
        "INSERT INTO saved_searches (user_id, name, q, filters, frequency, hour, weekday, email, feed, first_of_cluster,"
        " watermark, feed_nonce, created, last_run) SELECT user_id, ?, ?, ?, frequency, hour, weekday, email, feed,"
        " first_of_cluster, watermark, feed_nonce, created, last_run FROM saved_searches WHERE id = ?"
    )
    with saved_db(settings) as db, db:
        db.executemany(copy, [(f"bench {i}", query.q, _filters(query), first[0].id)
                              for i, query in enumerate(wanted) if i >= 10])


def _bench_query(i: int, queries: list[str], outlets: list[str], actors: list[str]) -> SearchQuery:
    variant = i % 10
    return SearchQuery(
        q="" if variant == 9 and actors else queries[i % len(queries)],
        outlet=(outlets[i % len(outlets)],) if variant in (1, 5) else (),
        actor=(actors[i % len(actors)],) if variant in (3, 9) and actors else (),
        language=("en",) if variant == 7 else (),
    )


def _filters(query: SearchQuery) -> str:
    return json.dumps({name: list(values) for name, values in query.filters().items() if values}, sort_keys=True)


def activate(settings: Settings, count: int, watermark: int) -> None:
    """The first ``count`` saved searches alert (feed only), all from ``watermark``, nothing delivered yet."""
    with saved_db(settings) as db, db:
        first = [row["id"] for row in db.execute("SELECT id FROM saved_searches ORDER BY id LIMIT ?", (count,))]
        db.execute("UPDATE saved_searches SET feed = 0, watermark = ?, last_run = NULL", (watermark,))
        db.executemany("UPDATE saved_searches SET feed = 1 WHERE id = ?", [(i,) for i in first])
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'deliveries'").fetchone():
            db.execute("DELETE FROM deliveries")


def percolate(settings: Settings, gazetteer: Gazetteer) -> tuple[float, int]:
    start = time.perf_counter()
    report = run_alerts(settings, gazetteer=gazetteer)
    return time.perf_counter() - start, report.matched


def baseline(settings: Settings, watermark: int) -> tuple[float, int]:
    """Every active saved search on the live index, restricted to the new articles by their numbers."""
    active = [saved for saved in list_saved(settings) if saved.feed]
    start = time.perf_counter()
    matches = 0
    with open_index(settings).searcher() as searcher:
        new = wq.NumericRange("seq", watermark + 1, None)
        for saved in active:
            parsed = parse_query(saved.query.q, searcher, settings)
            filters = [wq.Or([wq.Term(name, v) for v in values]) for name, values in saved.query.filters().items()
                       if values]
            results = searcher.search(wq.Require(parsed, wq.And([new, *filters])), limit=None, scored=False,
                                      terms=bool(saved.query.q))
            for hit in results:  # the percolator reads matched terms too (the "why")
                matches += 1
                if saved.query.q:
                    hit.matched_terms()
    return time.perf_counter() - start, matches


def measure(settings: Settings, sizes: Sequence[int], new_count: int, watermark: int, gazetteer: Gazetteer) -> list[Row]:
    rows = []
    for size in sizes:
        activate(settings, size, watermark)
        base_s, base_matches = baseline(settings, watermark)
        perc_s, perc_matches = percolate(settings, gazetteer)
        if perc_matches != base_matches:
            print(f"bench: WARNING {size} searches: percolation found {perc_matches}, baseline {base_matches}")
        rows.append(Row(size, perc_matches, perc_s * 1000 / new_count, base_s * 1000 / new_count))
        print(f"  {size:>6} searches: percolation {rows[-1].percolation_ms:8.2f} ms/article, "
              f"baseline {rows[-1].baseline_ms:8.2f} ms/article, {perc_matches} matches", flush=True)
    return rows


def render(rows: list[Row], context: dict[str, str]) -> str:
    table = md_table(
        ("saved searches", "matches", "percolation ms / new article", "baseline ms / new article",
         "baseline ÷ percolation"),
        [(f"{r.searches:,}", f"{r.matches:,}", f"{r.percolation_ms:.2f}", f"{r.baseline_ms:.2f}",
          f"{r.baseline_ms / r.percolation_ms:.2f}") for r in rows],
    )
    setup = ", ".join(f"{key} {value}" for key, value in machine().items())
    return (
        f"## Alerts — {context['started']} UTC — `{context['command']}`\n\n"
        f"Machine: {setup}. Index: {context['base']} corpus articles, then {context['new']} new ones. "
        f"Percolation: `run_alerts` as shipped (RAM index of the new articles, deliveries and watermarks recorded "
        f"in SQLite). Baseline, same run: each saved search on the live index restricted by a `seq` range.\n\n"
        f"{table}\n"
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--base", type=int, default=2_000, help="articles indexed before the saved searches")
    parser.add_argument("--new", type=int, default=100, help="articles indexed after them: what alerts match")
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES), help="saved searches active, per row")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    sizes = [int(s) for s in args.sizes.split(",")]
    started = dt.datetime.now(dt.UTC)
    records = read_records(find_corpus(), args.base + args.new)
    gazetteer = load_gazetteer()
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-alerts-") as tmp:
        print(f"bench: indexing {args.base} + {args.new} articles, saving {max(SIZES):,} searches…", flush=True)
        instance = build_instance(Path(tmp), records, args.new, gazetteer)
        rows = measure(instance.settings, sizes, instance.new, instance.watermark, gazetteer)
    context = {"started": f"{started:%Y-%m-%d %H:%M}", "command": " ".join(["bench/alerts.py", *argv]),
               "base": f"{args.base:,}", "new": f"{args.new:,}"}
    section = render(rows, context)
    print(section)
    append_results(args.out, section)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
