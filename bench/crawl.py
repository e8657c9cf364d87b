"""Crawl throughput: pages/s against local fixture sites on several loopback hosts.

    .venv/bin/python bench/crawl.py [--hosts 8] [--pages 30] [--gap 1.0] [--concurrency 4] [--out FILE]

Starts one HTTP server per host (127.0.0.1 … 127.0.0.H, all loopback) in a
separate process, so serving never competes with the crawler for the GIL.
Each site has a robots.txt, an RSS feed and P generated article pages
(~8 KB of HTML with page furniture). Three runs, each into a fresh instance
directory:

(a) ``crawl()`` with politeness on: ``crawl_min_gap`` = ``--gap`` between two
    requests to one host, ``--concurrency`` hosts at once — the real thing:
    robots.txt, feed, fetch, clean, enrich, archive, index, frontier;
(b) the same with no gap: what the pipeline itself allows;
(c) raw httpx: the same page URLs fetched by ``--concurrency`` threads and
    nothing else — the network floor;
(d) ``newsdesk serve`` with the sites added as the instance's sources and no
    gap: from the server's start until its background crawler has indexed
    every page (the index polled twice a second), and the resident memory of
    the server, the fork server and the crawl process then, from ``/proc``.

It reports pages/s for each, the ratios (a)/(b), (b)/(c) and (d)/(b), and
(a) against the politeness bound min(H, C) / gap pages/s (no crawl of H hosts
at C at once can beat it), then appends a section to bench/RESULTS.md.
Nothing leaves the machine; the instance directories are removed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import random
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_search import append_results, machine, md_table  # the sibling benchmark's report helpers

from search.crawl.crawler import CrawlReport, crawl
from search.records import Source
from search.settings import Settings

REPO = Path(__file__).resolve().parents[1]
WORDS = [
    "government", "minister", "talks", "agreement", "border", "energy", "election", "parliament", "union",
    "council", "court", "police", "president", "economy", "trade", "region", "capital", "statement",
    "spokesperson", "delegation", "treaty", "army", "village", "power", "budget", "vote", "opposition", "reform",
    "report", "officials", "meeting", "dialogue", "security", "crisis", "summit", "market",
]


def article_html(host: int, n: int) -> bytes:
    rng = random.Random(host * 100_000 + n)
    paragraphs = [" ".join(rng.choice(WORDS) for _ in range(60)).capitalize() + "." for _ in range(6)]
    menu = "".join(f"<li><a href='/section/{w}'>{w}</a></li>" for w in WORDS[:20])
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Story {host}-{n}</title></head><body>"
        f"<nav><ul>{menu}</ul></nav><article><h1>Story {host}-{n} on {rng.choice(WORDS)}</h1>{body}</article>"
        f"<footer>© Site {host}. All rights reserved.</footer></body></html>"
    ).encode()


def serve(hosts: int, pages: int, ports: multiprocessing.Queue[list[int]]) -> None:  # type: ignore[type-arg]
    """The fixture servers, in their own process until terminated."""
    found = []
    for host in range(1, hosts + 1):
        server = ThreadingHTTPServer((f"127.0.0.{host}", 0), _handler(host, pages))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        found.append(int(server.server_address[1]))
    ports.put(found)
    threading.Event().wait()


def _handler(host: int, pages: int) -> type[BaseHTTPRequestHandler]:
    routes: dict[str, tuple[str, bytes]] = {"/robots.txt": ("text/plain", b"User-agent: *\nDisallow: /private/\n")}
    for n in range(pages):
        routes[f"/news/{n}"] = ("text/html; charset=utf-8", article_html(host, n))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers

        def do_GET(self) -> None:
            if self.path == "/feed.rss":
                base = f"http://{self.headers['Host']}"
                items = "".join(f"<item><link>{base}/news/{n}</link></item>" for n in range(pages))
                found = ("application/rss+xml", f"<rss version='2.0'><channel>{items}</channel></rss>".encode())
            else:
                found = routes.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in routes or self.path == "/feed.rss" else 404)
            self.send_header("Content-Type", found[0])
            self.send_header("Content-Length", str(len(found[1])))
            self.end_headers()
            self.wfile.write(found[1])

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@dataclass
class Run:
    label: str
    pages: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def crawl_run(label: str, sources: list[Source], gap: float, concurrency: int) -> tuple[Run, CrawlReport]:
    with tempfile.TemporaryDirectory(prefix="newsdesk-crawl-bench-") as root:
        settings = Settings(index=Path(root), crawl_min_gap=gap, crawl_concurrency=concurrency)
        started = time.perf_counter()
        report = crawl(sources, settings, progress=False)
        seconds = time.perf_counter() - started
    return Run(label, report.added, seconds), report


def raw_run(urls: list[str], concurrency: int) -> Run:
    """The floor: fetch every page, nothing else."""
    by_host: dict[str, list[str]] = {}
    for url in urls:
        by_host.setdefault(urlsplit(url).netloc, []).append(url)
    with httpx.Client() as client:
        fetch: Callable[[list[str]], int] = lambda group: sum(len(client.get(u).content) > 0 for u in group)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            fetched = sum(pool.map(fetch, by_host.values()))
        seconds = time.perf_counter() - started
    return Run("(c) raw httpx fetches, no politeness, no pipeline", fetched, seconds)


def background_run(sources: list[Source], pages: int, concurrency: int) -> tuple[Run, dict[str, int]]:
    """(d): a real ``newsdesk serve`` crawling the sources in the background; memory (MB RSS) by process."""
    import os
    import socket
    import subprocess

    from search.errors import IndexUnavailable
    from search.index import open_index
    from search.sources import add_source

    with tempfile.TemporaryDirectory(prefix="newsdesk-crawl-bench-") as root:
        settings = Settings(index=Path(root))
        for source in sources:
            add_source(settings, source)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "NEWSDESK_CRAWL_MIN_GAP": "0", "NEWSDESK_CRAWL_CONCURRENCY": str(concurrency)}
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--index", root],
                                  cwd=REPO, env=env, stdout=subprocess.DEVNULL)
        try:
            count, wanted = 0, len(sources) * pages
            while count < wanted and time.perf_counter() - started < 600:
                time.sleep(0.5)
                try:
                    with open_index(settings).searcher() as searcher:
                        count = searcher.doc_count()
                except IndexUnavailable:
                    count = 0
            seconds = time.perf_counter() - started
            memory = _memory(server.pid)
        finally:
            server.terminate()  # SIGTERM, as a service manager stops it: the crawl commits, then all exit
            server.wait(60)
    return Run("(d) `newsdesk serve`, background crawler, no gap (from server start)", count, seconds), memory


def _memory(server: int) -> dict[str, int]:
    """MB resident (VmRSS) of the server and the processes under it, by role."""
    roles = {"server": server}
    for child in _children(server):
        if b"forkserver" in Path(f"/proc/{child}/cmdline").read_bytes():
            roles["fork server"] = child
            for crawl in _children(child):  # one at a time
                roles["crawl process"] = crawl
    return {role: _rss(pid) for role, pid in roles.items()}


def _children(pid: int) -> list[int]:
    """Every thread's children: the server starts its crawler's processes from a thread of its own."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(n) for n in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) // 1024 for line in status.splitlines() if line.startswith("VmRSS"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=8, help="loopback hosts, one site each (at most 254)")
    parser.add_argument("--pages", type=int, default=30, help="article pages per site")
    parser.add_argument("--gap", type=float, default=1.0, help="politeness gap for run (a), seconds (the default setting)")
    parser.add_argument("--concurrency", type=int, default=4, help="hosts crawled at once")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = parser.parse_args(argv)

    ports: multiprocessing.Queue[list[int]] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.hosts, args.pages, ports), daemon=True)
    server.start()
    try:
        found = ports.get(timeout=30)
        origins = [f"http://127.0.0.{host}:{port}" for host, port in enumerate(found, start=1)]
        sources = [Source(f"Site {n}", f"{o}/", feeds=(f"{o}/feed.rss",)) for n, o in enumerate(origins, start=1)]
        started = dt.datetime.now(dt.UTC)
        info = machine()
        polite, report = crawl_run(f"(a) `crawl()`, politeness on (gap {args.gap:g} s)", sources, args.gap,
                                   args.concurrency)
        free, _ = crawl_run("(b) `crawl()`, no gap", sources, 0.0, args.concurrency)
        raw = raw_run([f"{o}/news/{n}" for o in origins for n in range(args.pages)], args.concurrency)
        background, memory = background_run(sources, args.pages, args.concurrency)
    finally:
        server.terminate()
    section = _section(args, started, info, [polite, free, raw, background], report, memory)
    print(section)
    append_results(args.out, section)
    return 0


def _section(
    args: argparse.Namespace, started: dt.datetime, info: dict[str, str], runs: list[Run], report: CrawlReport,
    memory: dict[str, int],
) -> str:
    polite, free, raw, background = runs
    bound = min(args.hosts, args.concurrency) / args.gap if args.gap else float("inf")
    command = "python bench/crawl.py " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "python bench/crawl.py"
    lines = [f"## {started:%Y-%m-%d %H:%M} UTC — `{command.strip()}`", ""]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    lines += [
        (f"- sites: {args.hosts} loopback hosts × {args.pages} article pages (~8 KB HTML each), robots.txt and "
         f"an RSS feed per site; servers in a separate process; concurrency {args.concurrency} hosts"),
        f"- run (a) fetched {report.fetched} responses (feeds and pages), failed {report.failed}",
        "",
        "### Crawl throughput",
        "",
        md_table(["run", "pages", "seconds", "pages/s"],
                 [(r.label, r.pages, f"{r.seconds:.1f}", f"{r.rate:.1f}") for r in runs]),
        "",
        (f"- (a) against the politeness bound min(hosts, concurrency) / gap = {bound:.1f} pages/s: "
         f"**{polite.rate / bound:.2f}**"),
        f"- ratio (a)/(b), what politeness costs: **{polite.rate / free.rate:.2f}**",
        (f"- ratio (b)/(c), what the pipeline (robots, clean, enrich, archive, index, frontier) costs against "
         f"bare fetches: **{free.rate / raw.rate:.3f}**"),
        (f"- ratio (d)/(b), the background crawler of `newsdesk serve` (server start, crawl process, its loop) "
         f"against one direct crawl: **{background.rate / free.rate:.2f}**"),
        "- resident memory once (d) had indexed every page (MB, VmRSS from /proc): "
        + ", ".join(f"{role} {mb}" for role, mb in memory.items()),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
