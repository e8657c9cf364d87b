#!/usr/bin/env python3
"""Benchmark: exports (``/search.csv``, ``/search.jsonl``) — articles/s and peak memory, beside baselines.

On an instance of the shared corpus (``newsdesk ingest`` of its records;
``--scale 5`` for ~120k articles), measured in the same run, interleaved
round by round:

(a) **CSV export** of every article (newest first), and of one keyword
    query by relevance: ``GET /search.csv`` from ``newsdesk serve`` on a free
    loopback port, the body read by one client in 64 KB blocks. A fresh
    server for each export, so its ``VmHWM`` (peak resident memory, from
    ``/proc/<pid>/status``) is that export's peak; ``VmRSS`` after the
    server answered its first page is given beside it.
(b) **JSON Lines export** of every article, the same way; the client parses
    each line and checks every id is there once and the count is
    ``X-Total-Count``.
(c) baseline **stored-field walk**: a fresh Python process iterates
    ``searcher.all_stored_fields()`` (index order: no search, no sort, no
    copies) and writes the same columns with the csv module to /dev/null;
    its own ``VmHWM``.
(d) baseline **API paging**: the JSON API paged through, 100 hits a page,
    from a fresh server, as a client without exports collects a result set
    (it stops at the page cap, 1,000 pages: 100,000 hits).

Run: ``python bench/export.py [--index DIR] [--scale K] [--limit N]
[--rounds R] [--out FILE]``. ``--index DIR`` reuses the instance in DIR, or
builds it there and keeps it; without it the instance is built in a
temporary directory and removed. Appends a Markdown section to
bench/RESULTS.md (or ``--out``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.client
import json
import logging
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from ingest_search import DEFAULT_OUT, append_results, ingest_replicated, machine, md_table
from scale import Server

from search.enrich import load_gazetteer
from search.index import from_stored, open_index
from search.settings import Settings

log = logging.getLogger("bench.export")
#: The keyword export: common across the corpus's languages' English part, ordered by relevance.
KEYWORD = "minister"
BLOCK = 1 << 16


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--walk"]:  # baseline (c), in a process of its own
        print(json.dumps(walk(Path(argv[1]))))
        return 0
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-export-") as tmp:
        instance = args.index or Path(tmp) / "instance"
        settings = Settings(index=instance)
        ingest_s = None if settings.index_dir.exists() else ingest_replicated(settings, Path(tmp), args.limit, args.scale)
        figures = measure(settings, args.rounds, Path(tmp))
    context = {"started": started, "command": "python " + shlex.join(["bench/export.py", *argv]),
               "ingest_s": ingest_s, "rounds": args.rounds}
    section = render(figures, context)
    print(section)
    append_results(args.out, section)
    return 0


# --- the runs -----------------------------------------------------------------------------------------------


Run = Callable[[Settings, Path], dict[str, Any]]


def measure(settings: Settings, rounds: int, tmp: Path) -> dict[str, Any]:
    with open_index(settings).searcher() as searcher:
        articles, segments = searcher.doc_count(), len(searcher.leaf_searchers())
    runs: dict[str, Run] = {
        "csv": lambda s, t: served_download(s, t, "/search.csv"),
        "csv_keyword": lambda s, t: served_download(s, t, f"/search.csv?q={KEYWORD}"),
        "jsonl": lambda s, t: served_download(s, t, "/search.jsonl", check=True),
        "walk": lambda s, t: walked(s),
        "api": lambda s, t: api_paging(s, t),
    }
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    for i in range(rounds):
        names = list(runs)[i % len(runs):] + list(runs)[:i % len(runs)]  # a different run first each round
        for name in names:
            log.info("round %d: %s", i + 1, name)
            results[name].append(runs[name](settings, tmp))
    figures: dict[str, Any] = {"articles": articles, "segments": segments}
    for name, found in results.items():
        figures[name] = {
            "rows": found[0]["rows"], "bytes": found[0].get("bytes", 0),
            "seconds": statistics.median(r["seconds"] for r in found),
            "hwm": max(r["hwm"] for r in found),
            **{key: statistics.median(r.get(key, 0.0) for r in found) for key in ("rss_start", "rss_first", "rss_end")},
        }
        figures[name]["rate"] = figures[name]["rows"] / figures[name]["seconds"]
    return figures


def served_download(settings: Settings, tmp: Path, path: str, check: bool = False) -> dict[str, Any]:
    """One export from a fresh server: wall seconds, rows, bytes, and the server's memory."""
    server = Server(settings.index, tmp / "server.log")
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        connection.request("GET", "/api/search?per_page=1")  # the server up and its searcher open
        connection.getresponse().read()
        rss_start = server.memory()["VmRSS"]
        start = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        if response.status != 200:
            raise SystemExit(f"bench: {path} answered {response.status}: {response.read()[:300]!r}")
        expected = int(response.getheader("X-Total-Count") or -1)
        size, lines, ids, rest, last = 0, 0, set(), b"", b""
        end = b"\r\n" if path.startswith("/search.csv") else b"\n"
        rss_first = None
        while block := response.read(BLOCK):
            if rss_first is None:  # the export under way: its order and clusters' sizes made, rows being written
                rss_first = _status_mb("VmRSS", server.pid)
            size += len(block)
            lines += (last + block).count(end)  # a CRLF may straddle two blocks
            last = block[-1:] if end == b"\r\n" else b""
            if check:
                *whole, rest = (rest + block).split(b"\n")
                ids.update(json.loads(line)["id"] for line in whole)
        seconds = time.perf_counter() - start
        memory = server.memory()
    finally:
        server.close()
    rows = lines - 1 if path.startswith("/search.csv") else lines
    rss = {"rss_start": rss_start, "rss_first": rss_first or rss_start, "rss_end": memory["VmRSS"]}
    if rows != expected or (check and len(ids) != expected):
        raise SystemExit(f"bench: {path} gave {rows} rows ({len(ids)} ids) where X-Total-Count said {expected}")
    return {"rows": rows, "bytes": size, "seconds": seconds, "hwm": memory["VmHWM"], **rss}


def walked(settings: Settings) -> dict[str, Any]:
    """Baseline (c) in a fresh process: its rows, seconds and peak memory."""
    done = subprocess.run([sys.executable, __file__, "--walk", str(settings.index)], check=True,
                          capture_output=True, text=True, cwd=REPO)
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


def walk(index: Path) -> dict[str, Any]:
    """Every stored document in index order, written as CSV rows of the export's columns (copies left out)."""
    gazetteer = load_gazetteer()
    start = time.perf_counter()
    rows = 0
    with open_index(Settings(index=index)).searcher() as searcher, open(os.devnull, "w", newline="") as sink:
        writer = csv.writer(sink, lineterminator="\r\n")
        for stored in searcher.all_stored_fields():
            a = from_stored(stored)
            writer.writerow((a.id, a.url or "", a.title, a.outlet, a.author or "",
                             a.published.isoformat() if a.published else "", a.published_source or "",
                             a.language, ";".join(a.actors), ";".join(gazetteer.label(x) for x in a.actors),
                             a.cluster))
            rows += 1
    seconds = time.perf_counter() - start
    return {"rows": rows, "seconds": seconds, "hwm": _status_mb("VmHWM")}


def api_paging(settings: Settings, tmp: Path) -> dict[str, Any]:
    """Baseline (d): ``/api/search`` page after page, 100 hits each, to the end or the page cap."""
    server = Server(settings.index, tmp / "server.log")  # RSS at the end: after the last page
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        connection.request("GET", "/api/search?per_page=1")
        connection.getresponse().read()
        rss_start = server.memory()["VmRSS"]
        start = time.perf_counter()
        rows, page, total = 0, 1, None
        while page <= 1000:
            connection.request("GET", f"/api/search?per_page=100&page={page}")
            data = json.loads(connection.getresponse().read())
            rows, total = rows + len(data["hits"]), data["total"]
            if page * 100 >= total:
                break
            page += 1
        seconds = time.perf_counter() - start
        memory = server.memory()
    finally:
        server.close()
    return {"rows": rows, "seconds": seconds, "hwm": memory["VmHWM"], "rss_start": rss_start,
            "rss_end": memory["VmRSS"], "total": total}


def _status_mb(key: str, pid: int | str = "self") -> float:
    """One field of /proc/<pid>/status, in MB (a quick read: no smaps)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- the report ---------------------------------------------------------------------------------------------


def render(figures: dict[str, Any], context: dict[str, Any]) -> str:
    info = machine()
    built = f"built by `newsdesk ingest` in {context['ingest_s']:.0f} s" if context["ingest_s"] else "reused"
    names = {
        "csv": "(a) `/search.csv`, every article, newest first",
        "csv_keyword": f"(a) `/search.csv?q={KEYWORD}`, by relevance",
        "jsonl": "(b) `/search.jsonl`, every article (ids checked)",
        "walk": "(c) baseline: stored-field walk to csv, one process",
        "api": "(d) baseline: `/api/search` paged, 100 a page",
    }
    rows = []
    for key, name in names.items():
        f = figures[key]
        rss = " / ".join(f"{f[key]:.0f}" for key in ("rss_start", "rss_first", "rss_end") if f[key])
        rows.append((name, f"{f['rows']:,}", f"{f['bytes'] / 1e6:,.1f}" if f["bytes"] else "",
                     f"{f['seconds']:.2f}", f"{f['rate']:,.0f}", rss, f"{f['hwm']:.0f}"))
    csv_rate = figures["csv"]["rate"]
    lines = [
        f"## {context['started']:%Y-%m-%d %H:%M} UTC — `{context['command']}`",
        (f"Exports (issue 18, item 5). {figures['articles']:,} live articles, {figures['segments']} segments "
         f"({built}); {info['CPU']}, {info['cores']} cores, load average at start "
         f"{info['load average at start']}; Python {info['Python']}. Medians of {context['rounds']} interleaved "
         "rounds; each served run on a fresh `newsdesk serve`, peak memory its VmHWM."),
        md_table(["run", "rows", "MB sent", "s", "articles/s", "server RSS before / first bytes / end, MB",
                  "peak RSS (VmHWM), MB"], rows),
        (f"- CSV export against the stored-field walk (which searches, sorts and counts copies not at all): "
         f"**{csv_rate / figures['walk']['rate']:.2f}×** its rate; against paging the JSON API: "
         f"**{csv_rate / figures['api']['rate']:.2f}×**"
         + (" (the API stops at its page cap, 100,000 hits)" if figures["api"]["rows"] < figures["csv"]["rows"]
            else "") + "."),
        (f"- Memory the CSV export of every article adds to a server: "
         f"{figures['csv']['hwm'] - figures['csv']['rss_start']:.0f} MB at its peak (VmHWM less the RSS before "
         f"it) for {figures['csv']['bytes'] / 1e6:,.0f} MB of CSV; of which "
         f"{figures['csv']['rss_end'] - figures['csv']['rss_first']:.0f} MB while its rows were written (RSS "
         "at the end less RSS at the first bytes, when the order and the clusters' sizes were made): that part is "
         "waitress's output buffers, as for any streamed response (a bare WSGI generator's grew to about 25 MB "
         "and no further, whatever its length); in process the RSS stays flat while rows are written. (c) holds "
         "no server: its peak is a bare process's."),
    ]
    return "\n\n".join(lines) + "\n"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, metavar="N", help="N records spread evenly over the corpus")
    parser.add_argument("--scale", type=int, default=1, metavar="K", help="the corpus K× (new ids, outlets)")
    parser.add_argument("--index", type=Path, metavar="DIR", help="reuse (or build and keep) this instance")
    parser.add_argument("--rounds", type=int, default=3, metavar="R", help="interleaved rounds (default 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="append the results here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
