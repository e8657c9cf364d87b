#!/usr/bin/env python3
"""Benchmark: importing the shared corpus, ``newsdesk ingest news-24k.jsonl.gz``, end to end.

What is measured, each run in a fresh process of its own (spawned), so its
peak memory is its own:

1. **Newsdesk import**: the command line's own path (``web.cli.main(["ingest",
   FILE, "--index", DIR])``, called in-process) into a fresh instance: read
   the gzipped JSON Lines as a stream, archive each record, clean, enrich,
   find copies, index, commit every ``batch_size``. Records/s and articles/s
   on wall time, CPU time (``time.process_time``: user + system of the
   process), and peak RSS (``VmHWM`` from /proc/self/status).
2. **Constant memory**: the same at ``--small`` records (default 2,000; the
   first records of the file, written to a gzipped file of their own) and at
   the full corpus: the peak RSS should not grow with the records read.
3. **Where the memory goes**: the import's parts alone, each at both sizes
   in a fresh process — reading the file, reading and archiving, reading,
   cleaning and enriching — so a peak that grows with the records is pinned
   on the part that grows.
4. **Raw Whoosh baseline**, in the same run on the same texts:
   ``bench/ingest_search.py``'s three-field schema with Whoosh's stemming
   analyzer, one writer, the same batch size (``create_raw_index``,
   ``add_raw``), indexing each record's title and body; reading the records
   is not timed. Newsdesk / raw articles/s is the cost of everything an
   import does beyond indexing words.

Runs are interleaved (raw small, Newsdesk small, raw full, Newsdesk full, then
each again with ``--rounds 2``) so a burst of load on a shared machine falls on
both; compare ratios across runs.

    .venv/bin/python bench/import_jsonl.py [--small N] [--limit N] [--rounds R] [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import io
import json
import multiprocessing
import os
import re
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh.index import FileIndex

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from ingest_search import (
    add_raw,
    append_results,
    create_raw_index,
    find_corpus,
    machine,
    md_table,
    to_article,
)

from search.records import Article

DEFAULT_OUT = REPO / "bench" / "RESULTS.md"
#: Parts of the import run alone (``stage_run``), to tell where its memory goes.
STAGES = {"read": "stage: read only", "archive": "stage: read + archive", "clean": "stage: read + clean + enrich"}


@dataclass(frozen=True)
class Run:
    """One import (or raw indexing) in a fresh process."""

    what: str  # "newsdesk" or "raw"
    records: int  # read from the file
    articles: int  # indexed
    wall_s: float
    cpu_s: float
    peak_rss_mb: float  # VmHWM
    summary: str = ""  # the command's last lines (Newsdesk)

    @property
    def rate(self) -> float:
        return self.articles / self.wall_s if self.wall_s else float("nan")

    @property
    def cpu_rate(self) -> float:
        return self.articles / self.cpu_s if self.cpu_s else float("nan")


def peak_rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


def newsdesk_run(path: str, instance: str) -> Run:
    """``newsdesk ingest PATH --index DIR`` in this (fresh) process."""
    from web.cli import main

    out = io.StringIO()
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(out):
        code = main(["ingest", path, "--index", instance])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if code != 0:
        raise SystemExit(f"bench: newsdesk ingest exited {code}:\n{out.getvalue()[-2000:]}")
    lines = [line for line in out.getvalue().splitlines() if line.startswith(("read ", "added "))]
    records = int(re.search(r"read ([\d,]+) records?", lines[0]).group(1).replace(",", ""))  # type: ignore[union-attr]
    added = int(re.search(r"added (\d+)", lines[1]).group(1))  # type: ignore[union-attr]
    summary = "; ".join(line.split(" — index:")[0] for line in lines)  # not the temporary directory
    return Run("newsdesk", records, added, wall, cpu, peak_rss_mb(), summary)


def raw_run(path: str, instance: str, batch_size: int) -> Run:
    """The raw Whoosh baseline over the same file's texts: only the indexing is timed."""
    ix = create_raw_index(Path(instance) / "raw")
    records = articles = 0
    wall = cpu = 0.0
    batch: list[Article] = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            records += 1
            record = json.loads(line)
            if not (record.get("body") or "").strip():
                continue  # as Newsdesk skips it
            batch.append(to_article(record))
            if len(batch) == batch_size:
                articles, wall, cpu = _timed_add(ix, batch, articles, wall, cpu)
                batch = []
    if batch:
        articles, wall, cpu = _timed_add(ix, batch, articles, wall, cpu)
    return Run("raw", records, articles, wall, cpu, peak_rss_mb())


def _timed_add(ix: FileIndex, batch: list[Article], articles: int, wall: float, cpu: float) -> tuple[int, float, float]:
    w, c = time.perf_counter(), time.process_time()
    articles += add_raw(ix, batch)
    return articles, wall + time.perf_counter() - w, cpu + time.process_time() - c


def stage_run(what: str, path: str, instance: str) -> Run:
    """Part of the import alone, to tell where memory goes: reading ("read"), reading and
    archiving ("archive"), reading, cleaning and enriching ("clean")."""
    from search.archive import open_archive
    from search.pipeline import load_pipeline
    from search.records import RawPage
    from search.settings import Settings
    from search.sources import open_inputs

    settings = Settings(index=Path(instance))
    pipeline = load_pipeline(settings)
    records = articles = 0
    wall, cpu = time.perf_counter(), time.process_time()
    with open_archive(settings) as archive:
        for item in open_inputs([path], manifest={}):
            records += 1
            if not isinstance(item, RawPage):
                continue
            if what == "archive":
                archive.add_file(item)
            elif what == "clean":
                with contextlib.suppress(Exception):  # a page without an article: skipped, as ingest does
                    pipeline.process(item)
            articles += 1
    return Run(what, records, articles, time.perf_counter() - wall, time.process_time() - cpu, peak_rss_mb())


def in_fresh_process(what: str, path: Path, root: Path, batch_size: int) -> Run:
    instance = tempfile.mkdtemp(prefix=f"{what}-", dir=root)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        if what == "newsdesk":
            return pool.submit(newsdesk_run, str(path), instance).result()
        if what == "raw":
            return pool.submit(raw_run, str(path), instance, batch_size).result()
        return pool.submit(stage_run, what, str(path), instance).result()


def first_records(corpus: Path, n: int, out: Path) -> Path:
    """The first ``n`` lines of the corpus as a gzipped file of their own (streamed)."""
    with gzip.open(corpus, "rb") as source, gzip.open(out, "wb") as sink:
        for count, line in enumerate(source):
            if count == n:
                break
            sink.write(line)
    return out


def render(runs: dict[str, list[Run]], context: dict[str, Any]) -> str:
    def med(values: Sequence[float]) -> float:
        return statistics.median(values)

    rows = []
    for label, group in runs.items():
        first = group[0]
        rows.append((
            label, f"{first.records:,}", f"{first.articles:,}", f"{med([r.wall_s for r in group]):.1f}",
            f"{med([r.cpu_s for r in group]):.1f}", f"{med([r.rate for r in group]):.1f}",
            f"{med([r.cpu_rate for r in group]):.1f}", f"{max(r.peak_rss_mb for r in group):.0f}",
        ))
    table = md_table(
        ("run (fresh process each)", "records", "articles", "wall s", "CPU s", "articles/s (wall)",
         "articles/s (CPU)", "peak RSS MB"), rows,
    )
    small, full = int(context["small"]), int(context["full"])
    nd_small, nd_full = runs[f"Newsdesk import, {small:,}"], runs[f"Newsdesk import, {full:,}"]
    raw_full = runs[f"raw Whoosh index, {full:,}"]
    cpu_ratio = med([r.cpu_rate for r in nd_full]) / med([r.cpu_rate for r in raw_full])
    wall_ratio = med([r.rate for r in nd_full]) / med([r.rate for r in raw_full])
    peak_full, peak_small = max(r.peak_rss_mb for r in nd_full), max(r.peak_rss_mb for r in nd_small)
    setup = [f"- {key}: {value}" for key, value in context["machine"].items()]
    lines = [
        f"## Import of the shared corpus — {context['started']:%Y-%m-%d %H:%M} UTC — `{context['command']}`",
        "",
        *setup,
        (f"- corpus: news-24k.jsonl.gz ({context['corpus_mb']:.1f} MB gzipped); small run: its first {small:,} "
         f"records; {context['rounds']} round(s), medians; the whole run took {context['wall_s'] / 60:.1f} min"),
        ("- Newsdesk: `newsdesk ingest FILE --index DIR` (web.cli.main in-process) into a fresh instance; raw: "
         "bench/ingest_search.py's schema and `add_raw`, indexing only"),
        "",
        table,
        "",
        f"- Newsdesk / raw, articles/s on CPU time (full corpus): **{cpu_ratio:.2f}**; on wall time: {wall_ratio:.2f}",
        (f"- peak RSS, Newsdesk, {full:,} / {small:,} records: {peak_full:.0f} / {peak_small:.0f} MB = "
         f"**{peak_full / peak_small:.2f}**"),
        f"- Newsdesk's summary (full): {nd_full[0].summary}",
        ("- stage rows: the import's parts alone, once each (articles = pages handed on); their peak RSS "
         "against the whole import's tells which part grows with the records"),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=2000, help="records of the small run (default 2000)")
    parser.add_argument("--limit", type=int, help="records of the large run (default: the whole corpus)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from search.settings import Settings

    corpus = find_corpus()
    started, wall = dt.datetime.now(dt.UTC), time.perf_counter()
    context: dict[str, Any] = {
        "started": started, "machine": machine(), "rounds": args.rounds, "small": args.small,
        "corpus_mb": corpus.stat().st_size / 1e6,
        "command": "python bench/import_jsonl.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
    }
    batch_size = Settings().batch_size
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        root = Path(tmp)
        small = first_records(corpus, args.small, root / f"first-{args.small}.jsonl.gz")
        large = first_records(corpus, args.limit, root / f"first-{args.limit}.jsonl.gz") if args.limit else corpus
        with gzip.open(large, "rb") as lines:
            full = sum(1 for line in lines if line.strip())
        context["full"] = full
        plan = [
            ("raw", small, f"raw Whoosh index, {args.small:,}"), ("newsdesk", small, f"Newsdesk import, {args.small:,}"),
            ("raw", large, f"raw Whoosh index, {full:,}"), ("newsdesk", large, f"Newsdesk import, {full:,}"),
        ]
        runs: dict[str, list[Run]] = {label: [] for _, _, label in plan}
        for round_ in range(args.rounds):
            for what, path, label in plan:
                print(f"bench: round {round_ + 1}: {label}", file=sys.stderr, flush=True)
                runs[label].append(in_fresh_process(what, path, root, batch_size))
        for what, label in STAGES.items():  # once: they locate the memory, the rounds time the whole
            for path, n in ((small, args.small), (large, full)):
                print(f"bench: {label}, {n:,}", file=sys.stderr, flush=True)
                runs[f"{label}, {n:,}"] = [in_fresh_process(what, path, root, batch_size)]
    context["wall_s"] = time.perf_counter() - wall
    context["machine"]["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    section = render(runs, context)
    print(section)
    append_results(args.out, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
