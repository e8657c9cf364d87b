"""Memory of a real server: `newsdesk serve` after N varied requests over every page kind, then N more.

Issue 16, target 2: the server's resident memory after a warm-up of varied
searches, and that it stays steady. A `newsdesk serve` is started on a free
loopback port against an index; a bounded client (``--clients`` keep-alive
connections, default 8) sends ``--requests`` requests drawn, seeded, from
every page kind the app serves — results pages with filters, paging, sort and
page size; the front page; ``/api/search``; the search Atom feed; article and
actor pages and their JSON; candidate actors; sources; a saved search's
tokenised feed; the logged-in saved-searches and account pages; log-in page and
a static file — then as many again, drawn afresh. The server's own
``/proc/<pid>/status`` is read right after start (before any request), after
the first N and after the second N: VmRSS, RssAnon (private memory: what the
process really costs) and RssFile (index files mapped, shared through the
page cache and given back under pressure), and VmHWM (the peak).

    .venv/bin/python bench/serve_memory.py                       # builds 3,000 corpus articles, 300 + 300 requests
    .venv/bin/python bench/serve_memory.py --index DIR --requests 1000   # an instance there (built once if absent)
    .venv/bin/python bench/serve_memory.py --index DIR --scale 5 --limit 0   # the 24k corpus 5× (~120k)
        [--variant NAME:VAR=VALUE,...]   # serve again with environment variables set (repeatable)
        [--newsdesk PATH]                # another checkout's newsdesk command, served first as the baseline

Every variant (and the baseline) is a fresh server on the same index with the
same requests, one after another. Prints a Markdown section and appends it
to bench/RESULTS.md (or ``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import logging
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from ingest_search import (  # the corpus, the query maker and the enrichment of the in-process benchmark
    _queries_for,
    enrich_all,
    find_corpus,
    read_records,
    replicate,
    to_article,
)

from search.records import Article

DEFAULT_OUT = REPO / "bench" / "RESULTS.md"
SEED = 16
_USER, _PASSWORD = "bench@example.org", "bench-password-16"
_STATUS_KEYS = ("VmRSS", "RssAnon", "RssFile", "VmHWM", "Pss_File")
log = logging.getLogger("bench")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, help="instance directory (built there if it holds no index)")
    parser.add_argument("--limit", type=int, default=3000, help="corpus articles to build (0: all)")
    parser.add_argument("--scale", type=int, default=1, help="build the articles K times (new ids, outlets, years)")
    parser.add_argument("--requests", type=int, default=300, help="requests per round (two rounds)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--newsdesk", help="another checkout's newsdesk command, served first as a baseline")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:VAR=VALUE,...",
                        help="serve again with these environment variables (repeatable)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    instance = args.index or Path(tempfile.mkdtemp(prefix="newsdesk-serve-memory-"))
    try:
        articles = _ensure_index(instance, args.limit or None, args.scale)
        site = _site(instance)
        plan = _Plan(site, random.Random(SEED))
        rounds = [plan.draw(args.requests), plan.draw(args.requests)]
        runs = [_serve_and_measure(name, command, env, instance, rounds, args.clients)
                for name, command, env in _servers(args)]
    finally:
        if args.index is None:
            shutil.rmtree(instance, ignore_errors=True)
    _report(args, articles, rounds, runs)
    return 0


# --- the instance ----------------------------------------------------------------


def _ensure_index(instance: Path, limit: int | None, scale: int) -> int:
    """Build ``instance`` from the corpus unless it already holds an index; the number of articles in it."""
    from search.index import create_index, open_index, write_articles
    from search.settings import Settings

    settings = Settings(index=instance)
    if not any(settings.index_dir.glob("*.toc")):
        instance.mkdir(parents=True, exist_ok=True)
        log.info("building %s: %s corpus articles × %d", instance, limit or "all", scale)
        create_index(settings)
        articles = _articles(limit, scale)
        for done, batch in enumerate(_chunks(articles, 5000), 1):
            write_articles(batch, settings)
            log.info("indexed %d of %d", min(done * 5000, len(articles)), len(articles))
    with open_index(settings).searcher() as searcher:
        return int(searcher.doc_count())


def _articles(limit: int | None, scale: int) -> list[Article]:
    """The corpus articles enriched once; each copy takes its original's enrichment (same text)."""
    from search.enrich import load_gazetteer

    records = read_records(find_corpus(), limit)
    originals, _ = enrich_all([to_article(r) for r in records], load_gazetteer(), seed=0)
    by_text = {(a.title, a.text): a for a in originals}
    copies = [to_article(r) for r in replicate(records, scale)[len(records):]]
    return originals + [_enriched_like(copy, by_text[(copy.title, copy.text)]) for copy in copies]


def _enriched_like(copy: Article, original: Article) -> Article:
    return replace(copy, language=original.language, actors=original.actors, minhash=original.minhash)


def _chunks(items: list[Article], size: int) -> list[list[Article]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


@dataclass
class _Site:
    """What the requests are made of: the index's own titles, ids, facet values; a user's saved search."""

    titles: list[str]
    ids: list[str]
    facets: dict[str, list[str]]
    feed_path: str


def _site(instance: Path) -> _Site:
    from search.alerts import add_user, feed_url, find_user, list_saved, save_search
    from search.errors import NewsdeskError
    from search.index import open_index
    from search.query import make_query
    from search.settings import Settings

    settings = Settings(index=instance)
    titles, ids, values = [], [], {name: Counter[str]() for name in ("outlet", "actor", "year", "language")}
    with open_index(settings).searcher() as searcher:
        for stored in searcher.all_stored_fields():
            titles.append(stored.get("title", ""))
            ids.append(stored["id"])
            for name, counter in values.items():
                counter.update(v for v in str(stored.get(name) or "").split(",") if v)
    try:
        user = find_user(settings, _USER)
    except NewsdeskError:
        user = add_user(settings, _USER, _PASSWORD)
    saved = next(iter(list_saved(settings, user.id)), None) or save_search(
        settings, user.id, "bench", make_query(q=_queries_for(titles, 1, random.Random(SEED))[0]),
        frequency="instant", email=False, feed=True)
    feed = urllib.parse.urlsplit(feed_url(settings, saved)).path
    return _Site(titles, ids, {name: [v for v, _ in c.most_common(200)] for name, c in values.items()}, feed)


# --- the requests ----------------------------------------------------------------


class _Plan:
    """Seeded draws of request paths over every page kind, in fixed proportions."""

    def __init__(self, site: _Site, rng: random.Random) -> None:
        self.site, self.rng = site, rng
        self.queries = _queries_for(site.titles, 600, random.Random(SEED))
        self.kinds = [
            ("results", 6, self._results), ("api/search", 4, lambda: "/api/search" + self._search_args(True)),
            ("front page", 2, self._front), ("search.atom", 2, lambda: "/search.atom" + self._search_args(True)),
            ("article", 2, lambda: f"/articles/{self._id()}"), ("api/article", 1, lambda: f"/api/articles/{self._id()}"),
            ("actor", 2, lambda: f"/actors/{self._value('actor')}"),
            ("api/actor", 1, lambda: f"/api/actors/{self._value('actor')}"),
            ("candidates", 1, lambda: self.rng.choice(["/actors/candidates", "/api/actors/candidates"])),
            ("sources", 1, lambda: "/sources"), ("saved feed", 1, lambda: site.feed_path),
            ("logged in", 1, lambda: self.rng.choice(["/saved", "/account"])),
            ("login page, static", 1, lambda: self.rng.choice(["/login", "/static/newsdesk.css"])),
        ]

    def draw(self, n: int) -> list[tuple[str, str]]:
        """``n`` (kind, path) pairs."""
        names = [name for name, weight, _ in self.kinds for _ in range(weight)]
        makers = {name: make for name, _, make in self.kinds}
        return [(kind, makers[kind]()) for kind in (self.rng.choice(names) for _ in range(n))]

    def _results(self) -> str:
        return "/" + self._search_args(self.rng.random() < 0.8)

    def _front(self) -> str:
        args = {"page": self.rng.randint(1, 5)} if self.rng.random() < 0.5 else {}
        return "/" + (f"?{urllib.parse.urlencode(args)}" if args else "")

    def _search_args(self, with_text: bool) -> str:
        args: list[tuple[str, object]] = [("q", self.rng.choice(self.queries))] if with_text else []
        for name in ("outlet", "actor", "year", "language"):
            if self.rng.random() < 0.15:
                args.append((name, self._value(name)))
        if self.rng.random() < 0.3:
            args.append(("sort", "date"))
        if self.rng.random() < 0.3:
            args.append(("page", self.rng.randint(2, 4)))
        if self.rng.random() < 0.1:
            args.append(("per_page", self.rng.choice([20, 50])))
        return f"?{urllib.parse.urlencode(args)}" if args else ""

    def _id(self) -> str:
        return self.rng.choice(self.site.ids)

    def _value(self, name: str) -> str:
        values = self.site.facets[name]
        return self.rng.choice(values) if values else "unknown"


# --- serving and measuring -------------------------------------------------------


@dataclass
class _Run:
    name: str
    memory: dict[str, dict[str, float]] = field(default_factory=dict)  # moment → key → MB
    statuses: Counter[int] = field(default_factory=Counter)
    cpu_seconds: float = 0.0


def _servers(args: argparse.Namespace) -> list[tuple[str, str, dict[str, str]]]:
    ours = str(REPO / ".venv" / "bin" / "newsdesk")
    servers: list[tuple[str, str, dict[str, str]]] = []
    if args.newsdesk:
        servers.append((f"baseline: {_version_of(args.newsdesk)}", args.newsdesk, {}))
    servers.append(("as shipped", ours, {}))
    for variant in args.variant:
        name, _, assignments = variant.partition(":")
        env = dict(item.split("=", 1) for item in assignments.split(",") if item)
        servers.append((name, ours, env))
    return servers


def _version_of(command: str) -> str:
    """The commit of the checkout whose ``.venv/bin/newsdesk`` ``command`` is, if it can tell."""
    checkout = Path(command).resolve().parents[2]
    done = subprocess.run(["git", "-C", str(checkout), "log", "-1", "--format=%h %s"], check=False,
                          capture_output=True, text=True)
    return done.stdout.strip()[:70] or "another checkout"


def _serve_and_measure(name: str, command: str, env: dict[str, str], instance: Path,
                       rounds: list[list[tuple[str, str]]], clients: int) -> _Run:
    port = _free_port()
    run = _Run(f"{name}{' (' + ', '.join(f'{k}={v}' for k, v in env.items()) + ')' if env else ''}")
    log.info("serving: %s", run.name)
    server = subprocess.Popen([command, "serve", "--index", str(instance), "--port", str(port)],
                              env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(port)
        run.memory["started"] = _memory(server.pid)
        cookie = _log_in(port)
        for moment, paths in zip(("after round 1", "after round 2"), rounds, strict=True):
            run.statuses.update(_run_round(port, paths, clients, cookie))
            run.memory[moment] = _memory(server.pid)
        run.cpu_seconds = _cpu_seconds(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return run


def _log_in(port: int) -> str:
    """A logged-in session's cookie, through the login form (with its CSRF token)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = _cookie(response)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if token is None:
        raise SystemExit("no CSRF token on the login page")
    body = urllib.parse.urlencode({"csrf_token": token.group(1), "email": _USER, "password": _PASSWORD})
    connection.request("POST", "/login", body, {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status != 302:
        raise SystemExit(f"logging in answered {response.status}")
    return _cookie(response) or cookie


def _cookie(response: http.client.HTTPResponse) -> str:
    return "; ".join(value.split(";", 1)[0] for key, value in response.getheaders() if key.lower() == "set-cookie")


def _run_round(port: int, paths: list[tuple[str, str]], clients: int, cookie: str) -> Counter[int]:
    """The paths in order over ``clients`` keep-alive connections, each taking the next one free."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    queue = iter(paths)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                break
            kind, path = item
            connection.request("GET", path, headers={"Cookie": cookie} if kind == "logged in" else {})
            response = connection.getresponse()
            response.read()
            with lock:
                statuses[response.status] += 1
            if response.status >= 500:
                raise SystemExit(f"{path} answered {response.status}")
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _memory(pid: int) -> dict[str, float]:
    """MB by /proc/<pid>/status (and ``Pss_File`` from smaps_rollup: mapped file pages counted once however
    many maps share them); ``index maps``: how many maps of index files the process holds."""
    status = _fields(Path(f"/proc/{pid}/status")) | _fields(Path(f"/proc/{pid}/smaps_rollup"))
    figures = {key: int(status[key].split()[0]) / 1024 for key in _STATUS_KEYS if key in status}
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    figures["index maps"] = sum(1 for line in maps if "/whoosh/" in line)
    return figures


def _fields(path: Path) -> dict[str, str]:
    return dict(line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_up(port: int) -> None:
    for _ in range(1200):
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


# --- the report ------------------------------------------------------------------


def _without_paths(argv: list[str]) -> list[str]:
    """The command line with the machine's paths left out (the index, another checkout)."""
    shown, hidden = [], {"--index": "DIR", "--newsdesk": "PATH", "--out": "FILE"}
    for i, arg in enumerate(argv):
        shown.append(hidden[argv[i - 1]] if i and argv[i - 1] in hidden else arg)
    return shown


def _report(args: argparse.Namespace, articles: int, rounds: list[list[tuple[str, str]]], runs: list[_Run]) -> None:
    now = dt.datetime.now(dt.UTC)
    command = " ".join(["python", "bench/serve_memory.py", *_without_paths(sys.argv[1:])])
    kinds = Counter(kind for kind, _ in rounds[0] + rounds[1])
    lines = [
        f"## Server memory — {now:%Y-%m-%d %H:%M} UTC — `{command}`", "",
        (f"- host: {platform.node()}; cores: {os.cpu_count()}; Python {platform.python_version()}; "
         f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"),
        (f"- {articles:,} articles; {args.clients} keep-alive clients; two rounds of {args.requests:,} requests "
         f"each, drawn seeded from: {', '.join(f'{k} {n}' for k, n in kinds.most_common())}"),
        "- MB from the server's /proc/<pid>/status: RSS = anonymous (private) + file (mapped index files, shared)",
        ("- file pages counted once: Pss_File from /proc/<pid>/smaps_rollup (a page of an index file mapped by "
         "several searchers counts once there, once per map in RSS); maps: index-file maps the server holds"), "",
        ("| server | started RSS / anon | round 1 RSS / anon / file | round 2 RSS / anon / file | round 2 − round 1 RSS "
         "| file counted once, round 1 / 2 | maps | peak RSS | CPU s | statuses |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        start, one, two = (run.memory[m] for m in ("started", "after round 1", "after round 2"))
        lines.append(
            f"| {run.name} | {start['VmRSS']:.0f} / {start['RssAnon']:.0f} | "
            f"{one['VmRSS']:.0f} / {one['RssAnon']:.0f} / {one['RssFile']:.0f} | "
            f"{two['VmRSS']:.0f} / {two['RssAnon']:.0f} / {two['RssFile']:.0f} | {two['VmRSS'] - one['VmRSS']:+.0f} | "
            f"{one.get('Pss_File', 0):.0f} / {two.get('Pss_File', 0):.0f} | {two['index maps']:.0f} | {two['VmHWM']:.0f} | {run.cpu_seconds:.0f} | "
            f"{', '.join(f'{s}: {n}' for s, n in sorted(run.statuses.items()))} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with args.out.open("a", encoding="utf-8") as out:
        out.write("\n" + text)


if __name__ == "__main__":
    sys.exit(main())
