#!/usr/bin/env python3
"""Benchmark: ``ingest()`` on real HTML pages with one worker process and with two, against trafilatura alone.

Each ``--pages DIR`` (a folder of real saved pages, ``.html`` or
``.html.gz``: the shared ``data/pages/wcxb/html`` and ``data/pages/aeb/html``)
is ingested end to end — read, archive, clean, enrich, index, commit — into a
fresh instance directory, with the ``workers`` setting at 1 (everything in
this process) and at 2 (clean and enrich in two worker processes, the archive
and the index writer here). The baseline, in the same run and on the same
pages: ``trafilatura.extract`` alone in this process, the library the cleaner
drives, so "articles/s ÷ trafilatura pages/s" says what the rest of the
pipeline costs and what the workers win back. Runs are interleaved, in
rotating order, ``--repeats`` times; each figure is the median.

Wall time and CPU time both: CPU is this process's (``time.process_time``)
plus the worker processes'. Those are children of multiprocessing's fork
server, which reaps each one when it exits, so their CPU is read from the
fork server's ``cutime`` + ``cstime`` in ``/proc/<pid>/stat`` (it lives as long
as this process: the difference over a run is that run's workers). The
machine is shared: compare the ratios, not the seconds.

Also measured: starting a pool of two workers (fork server, pipeline
unpickled, first page back), cold (the first pool of the process) and warm,
against cleaning the same page in this process.

    python bench/ingest_cores.py --pages DIR [--pages DIR ...] [--repeats R] [--limit N] [--out FILE]

Without any of the folders it says so and exits 0. Appends a Markdown section
to bench/RESULTS.md (or ``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import logging
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import trafilatura
from ingest_search import append_results, machine, md_table

from search.ingest import ingest
from search.pipeline import _work, _worker_pool, load_pipeline
from search.records import RawPage
from search.settings import Settings, usable_cores
from search.sources import read_files

DEFAULT_OUT = REPO / "bench" / "RESULTS.md"
KINDS = ("trafilatura", "ingest, workers 1", "ingest, workers 2")


@dataclass(frozen=True)
class Run:
    kind: str
    wall: float
    cpu: float  # this process
    pages: int
    articles: int
    workers_cpu: float = 0.0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    folders = [folder for folder in args.pages if folder.is_dir()]
    missing = [str(folder) for folder in args.pages if not folder.is_dir()]
    if missing:
        print(f"no pages in {', '.join(missing)}: skipped", file=sys.stderr)
    if not folders:
        print("nothing to measure: pass --pages DIR (a folder of .html or .html.gz pages)", file=sys.stderr)
        return 0
    logging.basicConfig(level=logging.ERROR)  # the skipped pages' warnings would drown the figures
    started, wall0 = dt.datetime.now(dt.UTC), time.perf_counter()
    facts = machine()
    startup = measure_startup(folders[0])
    corpora = []
    with tempfile.TemporaryDirectory(prefix="newsdesk-cores-") as scratch:
        for folder in folders:
            corpus = Path(scratch) / folder.parent.name / folder.name
            copy_pages(folder, corpus, args.limit)
            corpora.append((folder, measure(corpus, Path(scratch), args.repeats)))
    section = render(corpora, startup, facts, args, started, time.perf_counter() - wall0)
    print(section)
    append_results(args.out, section)
    return 0


def copy_pages(folder: Path, corpus: Path, limit: int | None) -> None:
    """The folder's pages (the first ``limit`` by name), copied so every run reads the same files."""
    pages = sorted(p for p in folder.iterdir() if p.name.endswith((".html", ".html.gz", ".htm")))
    corpus.mkdir(parents=True)
    for page in pages[:limit]:
        shutil.copy(page, corpus / page.name)


def measure(corpus: Path, scratch: Path, repeats: int) -> dict[str, list[Run]]:
    """Each kind ``repeats`` times, in rotating order: a burst of load on the machine falls on all of them."""
    htmls = [gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes() for p in sorted(corpus.iterdir())]
    runs: dict[str, list[Run]] = {kind: [] for kind in KINDS}
    for repeat in range(repeats):
        for k in range(len(KINDS)):
            kind = KINDS[(repeat + k) % len(KINDS)]
            if kind == "trafilatura":
                run = extract_alone(htmls)
            else:
                run = ingest_run(kind, corpus, scratch / f"instance-{repeat}-{k}", int(kind[-1]))
            runs[kind].append(run)
            print(f"{corpus.name} #{repeat + 1} {kind}: {run.articles} articles of {run.pages} pages, "
                  f"{run.wall:.1f} s wall, {run.cpu:.1f} s CPU", file=sys.stderr)
    return runs


def extract_alone(htmls: list[bytes]) -> Run:
    wall, cpu = time.perf_counter(), time.process_time()
    extracted = sum(1 for html in htmls if trafilatura.extract(html))
    return Run("trafilatura", time.perf_counter() - wall, time.process_time() - cpu, len(htmls), extracted)


def ingest_run(kind: str, corpus: Path, instance: Path, workers: int) -> Run:
    settings = Settings(index=instance, workers=workers)
    wall, cpu, workers_cpu = time.perf_counter(), time.process_time(), fork_server_cpu()
    report = ingest([corpus], settings, progress=False)
    run = Run(kind, time.perf_counter() - wall, time.process_time() - cpu, len(list(corpus.iterdir())),
              report.added + report.updated, fork_server_cpu() - workers_cpu)
    shutil.rmtree(instance)
    return run


def fork_server_cpu() -> float:
    """CPU seconds of multiprocessing's fork server and the workers it has reaped (0 before it starts)."""
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                if b"forkserver" not in Path(f"/proc/{child}/cmdline").read_bytes():
                    continue
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            return sum(int(value) for value in fields[11:15]) / tick  # utime stime cutime cstime
    return 0.0


def measure_startup(folder: Path) -> dict[str, float]:
    """Seconds from a new pool of two to the first page back: cold (first pool here), then warm; and in-process."""
    page = next(p for p in read_files([folder], {}) if isinstance(p, RawPage))
    pipeline = load_pipeline(Settings(index=Path(tempfile.gettempdir()) / "unused"))
    here = time.perf_counter()
    pipeline.process(page)
    figures = {"in this process, first page": time.perf_counter() - here}
    for label in ("pool of 2, cold: first page back", "pool of 2, warm: first page back"):
        start = time.perf_counter()
        with _worker_pool(pipeline, 2) as pool:
            pool.submit(_work, page).result()
            figures[label] = time.perf_counter() - start
    here = time.perf_counter()
    pipeline.process(page)
    figures["in this process, next page"] = time.perf_counter() - here
    return figures


def render(corpora: list[tuple[Path, dict[str, list[Run]]]], startup: dict[str, float], facts: dict[str, str],
           args: argparse.Namespace, started: dt.datetime, wall: float) -> str:
    command = "python bench/ingest_cores.py " + " ".join(shlex.quote(_shown(a)) for a in args.argv)
    lines = [f"## Ingest on every core — {started:%Y-%m-%d %H:%M} UTC — `{command.strip()}`", ""]
    lines += [f"- {key}: {value}" for key, value in facts.items()]
    lines += [
        (f"- usable cores (sched_getaffinity): {usable_cores()}; repeats: {args.repeats}, interleaved in rotating "
         f"order, medians; wall time of the benchmark {wall / 60:.1f} min"),
        ("- CPU: this process (the parent: reading, archive, index writer) and its worker processes (the fork "
         "server's reaped children); ingest = read, archive, clean, enrich, index, commit into a fresh instance; "
         "trafilatura = `trafilatura.extract` on the same pages, in memory, one process"),
        "",
    ]
    for folder, runs in corpora:
        lines += [f"### {folder.parent.name}/{folder.name}", "", table(runs), ""]
    lines += ["Worker start-up (seconds, wall):", ""]
    lines += [md_table(("what", "s"), [(label, f"{seconds:.2f}") for label, seconds in startup.items()]), ""]
    return "\n".join(lines)


def _shown(argument: str) -> str:
    """A command-line argument as the results show it: no machine's paths (the shared data by its own layout)."""
    parts = Path(argument).parts
    if "data" in parts and len(parts) > 1:
        return "$NEWSDESK_SHARED/" + "/".join(parts[parts.index("data"):])
    return "FILE" if argument.endswith(".md") else argument


def table(runs: dict[str, list[Run]]) -> str:
    median = {kind: _median(kind_runs) for kind, kind_runs in runs.items()}
    base = median["trafilatura"]
    one = median["ingest, workers 1"]
    rows = []
    for kind, run in median.items():
        total = run.cpu + run.workers_cpu
        rate, cpu_rate = run.articles / run.wall, run.articles / total
        rows.append((
            kind, run.pages, run.articles, f"{run.wall:.1f}", f"{run.cpu:.1f}", f"{run.workers_cpu:.1f}",
            f"{rate:.1f}", f"{cpu_rate:.1f}", f"{rate / (base.articles / base.wall):.2f}",
            f"{one.wall / run.wall:.2f}" if kind != "trafilatura" else "",
        ))
    return md_table(("run", "pages", "articles", "wall s", "CPU s here", "CPU s workers", "articles/s wall",
                     "articles/s CPU", "÷ trafilatura pages/s (wall)", "speed-up vs workers 1 (wall)"), rows)


def _median(runs: list[Run]) -> Run:
    return replace(runs[0], wall=statistics.median(r.wall for r in runs), cpu=statistics.median(r.cpu for r in runs),
                   workers_cpu=statistics.median(r.workers_cpu for r in runs))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--pages", type=Path, action="append", required=True, metavar="DIR",
                        help="a folder of .html or .html.gz pages (repeatable)")
    parser.add_argument("--repeats", type=int, default=2, metavar="R", help="runs of each kind (default 2)")
    parser.add_argument("--limit", type=int, metavar="N", help="the first N pages of each folder (default: all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file (default bench/RESULTS.md)")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


if __name__ == "__main__":  # the worker processes import this module again: nothing may run on import
    sys.exit(main())
