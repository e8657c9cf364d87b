"""Load on a real server: `newsdesk serve` against an index, N concurrent keep-alive clients.

Measures what a deployment sees (issue 16, target 3): requests per second,
latency p50/p95 per request kind, the server's CPU milliseconds per request
(from /proc/<pid>/stat, so the clients' own work is not counted) and its
memory (VmRSS, RssAnon, RssFile from /proc/<pid>/status) after a warm-up and after
the timed run. The server's fixed cost per request is measured the same way
on a static file, the baseline the search figures are read against.

    .venv/bin/python bench/serve_load.py --index DIR [--clients 8] [--seconds 30]
        [--newsdesk PATH]   # another checkout's newsdesk, to compare versions on one index

The queries are the corpus-style keyword queries of bench/ingest_search.py
(made from the index's own titles, seeded) plus the front page (no query).
Appends a section to bench/RESULTS.md (or --out).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from ingest_search import _queries_for  # the same query maker as the in-process benchmark

DEFAULT_OUT = REPO / "bench" / "RESULTS.md"
_TICKS = os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="instance directory holding whoosh/")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="timed run per request kind")
    parser.add_argument("--warmup", type=int, default=200, help="requests before timing")
    parser.add_argument("--newsdesk", default=str(REPO / ".venv" / "bin" / "newsdesk"), help="the command to serve with")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    paths = _search_paths(args.index)
    port = _free_port()
    server = subprocess.Popen([args.newsdesk, "serve", "--index", str(args.index), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(port)
        _run(port, paths, args.clients, count=args.warmup)  # searchers opened, caches warm
        warm = _memory(server.pid)
        rows = {
            "static file (server's fixed cost)": _timed(server.pid, port, ["/static/newsdesk.css"], args),
            "search: hits, snippets, facets": _timed(server.pid, port, paths[:-1], args),
            "front page (no query)": _timed(server.pid, port, paths[-1:], args),
        }
        after = _memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    _report(args, rows, warm, after)
    return 0


def _search_paths(index: Path) -> list[str]:
    sys.path.insert(0, str(REPO))
    from search.index import open_index
    from search.settings import Settings

    with open_index(Settings(index=index)).searcher() as searcher:
        titles = [fields.get("title", "") for fields in searcher.all_stored_fields()]
    queries = _queries_for(titles, 100, random.Random(7))
    return [f"/api/search?q={urllib.parse.quote(q)}" for q in queries] + ["/api/search"]


def _timed(pid: int, port: int, paths: list[str], args: argparse.Namespace) -> dict[str, float]:
    cpu_before = _cpu_seconds(pid)
    start = time.perf_counter()
    latencies = _run(port, paths, args.clients, seconds=args.seconds)
    wall = time.perf_counter() - start
    cpu = _cpu_seconds(pid) - cpu_before
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_second": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "cpu_ms": 1000 * cpu / max(1, len(latencies)),
    }


def _run(port: int, paths: list[str], clients: int, *, seconds: float = 0, count: int = 0) -> list[float]:
    """Each client walks the paths in its own seeded order, on one keep-alive connection."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    issued = iter(range(count)) if count else None

    def client(number: int) -> None:
        order = paths[:]
        random.Random(number).shuffle(order)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for i in range(10**9):
            if issued is not None:
                with lock:
                    if next(issued, None) is None:
                        break
            elif time.perf_counter() >= deadline:
                break
            t0 = time.perf_counter()
            connection.request("GET", order[i % len(order)])
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"{order[i % len(order)]} answered {response.status}")
            with lock:
                latencies.append(time.perf_counter() - t0)
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _memory(pid: int) -> dict[str, float]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(status[key].split()[0]) / 1024 for key in ("VmRSS", "RssAnon", "RssFile", "VmHWM") if key in status}


def _wait_until_up(port: int) -> None:
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _report(args: argparse.Namespace, rows: dict[str, dict[str, float]], warm: dict[str, float],
            after: dict[str, float]) -> None:
    now = dt.datetime.now(dt.UTC)
    command = " ".join(["python", "bench/serve_load.py", *sys.argv[1:]])
    lines = [
        f"## Server under load — {now:%Y-%m-%d %H:%M} UTC — `{command}`", "",
        (f"- host: {platform.node()}; cores: {os.cpu_count()}; Python {platform.python_version()}; "
        f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"),
        (f"- {args.clients} keep-alive clients on loopback, {args.seconds:g} s per kind after {args.warmup} warm-up "
        "requests; server CPU from /proc/<pid>/stat, memory from /proc/<pid>/status"), "",
        "| request kind | requests | requests/s | p50 ms | p95 ms | server CPU ms per request |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, row in rows.items():
        lines.append(f"| {kind} | {row['requests']:,.0f} | {row['per_second']:.1f} | {row['p50_ms']:.1f} | "
                     f"{row['p95_ms']:.1f} | {row['cpu_ms']:.1f} |")
    search = rows["search: hits, snippets, facets"]
    lines += [
        "",
        (f"- search: requests/s {search['per_second']:.1f} against 1,000 ÷ CPU ms = {1000 / search['cpu_ms']:.1f} "
        f"(ratio {search['per_second'] * search['cpu_ms'] / 1000:.2f}); p95/p50 {search['p95_ms'] / search['p50_ms']:.2f}"),
        (f"- server memory after warm-up: RSS {warm.get('VmRSS', 0):.0f} MB (anonymous {warm.get('RssAnon', 0):.0f} MB, "
        f"mapped files {warm.get('RssFile', 0):.0f} MB); after the run: RSS {after.get('VmRSS', 0):.0f} MB (anonymous "
        f"{after.get('RssAnon', 0):.0f} MB, mapped files {after.get('RssFile', 0):.0f} MB), peak {after.get('VmHWM', 0):.0f} MB "
        "(bench/serve_memory.py breaks memory down)"),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    with args.out.open("a", encoding="utf-8") as out:
        out.write("\n" + text)


if __name__ == "__main__":
    sys.exit(main())
