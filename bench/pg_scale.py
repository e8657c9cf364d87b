#!/usr/bin/env python3
"""Benchmark: the PostgreSQL backend against Whoosh at 120k and 240k articles (issue 19's "Measures").

The shared 24k corpus replicated 5× and 10× (bench/ingest_search.py's
``replicate``: copy k gets new ids and URLs, years +40·k and an outlet of its
own) — a replicated corpus, not 240k distinct texts: each copy's words are
the original's, so the vocabulary stays the corpus' and every query matches
K times as often. Everything is kept under ``--root`` (default
/work/bench-pg/): the records files, the Whoosh instances, a PostgreSQL data
directory (started with tests/services.py's settings: loopback, fsync off)
holding one database per build, and ``builds.json`` with each build's
figures, so a re-run of the read part rebuilds nothing.

``build``: for each scale, each missing one of, timed one after another
(never two builds at once), through the ``newsdesk ingest`` command as a
user runs it (its worker processes clean and enrich on every core, one
writer process writes):

* ``whoosh`` — ``newsdesk ingest records.jsonl.gz`` into a Whoosh instance;
* ``pg1`` — the same into a fresh database, one ingest process;
* ``pg2`` — the records split in two files (alternate records), two ingest
  processes at once against one fresh database (each its own instance
  directory for its archive);
* ``rq1``, ``rq2`` — ``newsdesk queue ingest records.jsonl.gz`` into a fresh
  database with 1 or 2 ``newsdesk worker`` processes on a Redis of the
  run's own: the workers clean, enrich and write (issue 19's "1 vs 2 worker
  processes"); the ingest command only reads and queues;
* ``pgcopy`` — the Whoosh instance copied into a fresh database by
  ``migrate_to_postgres`` (``newsdesk migrate --to postgres``: nothing decided
  again), for a scale whose writer build is too slow here.

Each build's wall time, articles/s (the articles stored at the end over the
wall time), the client's CPU (``wait4`` of the commands: the ingest and all
its workers), the server's CPU (the postmaster's own and reaped children's
CPU plus its live children's, from /proc/<pid>/stat, before and after),
the client's memory (the largest VmHWM of one of its processes, and the
peak of the process tree's summed VmRSS, sampled every 0.5 s) and the
database's and index's size. A ``VACUUM ANALYZE`` follows each database
build, untimed (a freshly loaded table has no statistics).

``read`` (every scale built): in one process, the Whoosh reader over a warm
searcher against the PostgreSQL reader over one connection, interleaved:

* search + facets: bench/pg_search.py's queries, by relevance and by date,
  page 1 with the four facets, facet cache off: wall p50/p95 over rounds;
* the front page (the empty query) the same way;
* memory: a fresh process per backend runs the same searches and reports
  its own RssAnon (private memory) and VmRSS, with the PostgreSQL server
  backend's RssAnon beside the reader's — what each of N web processes adds;

and says where each backend wins. The export rate and alert matching with
10,000 saved searches are measured when the PostgreSQL reader offers them
(``export`` and ``percolator``); otherwise the report says they are not.

Run: ``python bench/pg_scale.py build --scale 5 --scale 10 [--copy-only 10]``, then
``python bench/pg_scale.py read --scale 5 --scale 10 [--out bench/RESULTS.md]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import logging
import math
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import psycopg
from ingest_search import (
    REPO,
    append_results,
    directory_mb,
    find_corpus,
    machine,
    md_table,
    percentile,
    read_records,
    replicate,
)
from psycopg import sql

from search.database import connect
from search.enrich import load_gazetteer
from search.index import last_number, open_index
from search.query import make_query, open_readers
from search.query.embedded import EmbeddedReader
from search.query.pg_reader import PostgresReader
from search.records import SearchQuery, StoredArticle
from search.settings import Settings

sys.path.insert(0, str(REPO / "tests"))  # the tests' throwaway servers: this one is started the same way, but kept
from services import POSTGRES_BIN, POSTGRES_CONF, SUPERUSER, Postgres, ServiceError, _run, redis_server, server_account

log = logging.getLogger("bench.pg_scale")

DEFAULT_ROOT = Path("/work/bench-pg")
BUILDS = ("whoosh", "pg1", "pg2", "rq1", "rq2", "pgcopy")
NEWSDESK = REPO / ".venv" / "bin" / "newsdesk"
#: How often the process trees of a build are sampled for memory.
SAMPLE_S = 0.5


# --- the server, kept -----------------------------------------------------------------------------------------


@contextmanager
def kept_server(root: Path) -> Iterator[Postgres]:
    """The benchmark's own PostgreSQL server: its data directory under ``root``, made (initdb, tests/services.py's
    settings) the first time and started on a free loopback port; stopped (fast: a checkpoint, data kept) after."""
    assert POSTGRES_BIN is not None
    account = server_account()
    home = root / "pg"
    server = Postgres(home, 0, account)
    if not (server.data / "PG_VERSION").exists():
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o700)
        if account:
            os.chown(home, account.uid, account.gid)
        done = _run([str(POSTGRES_BIN / "initdb"), "-D", str(server.data), "-U", SUPERUSER, "--auth=trust",
                     "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"], account, home)
        if done.returncode != 0:
            raise ServiceError(f"initdb failed:\n{done.stdout}{done.stderr}")
        with open(server.data / "postgresql.conf", "a") as conf:
            conf.write(POSTGRES_CONF)
    running = _running_port(server)
    if running is not None:  # another run of this benchmark started it (a build while the read part runs): shared
        yield Postgres(home, running, account)
        return
    server.start()
    try:
        yield server
    finally:
        _run([str(POSTGRES_BIN / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(server.data)], account, home)


def _running_port(server: Postgres) -> int | None:
    """The port of the server already running on this data directory, if one answers."""
    try:
        port = int((server.data / "postmaster.pid").read_text().splitlines()[3])
        with psycopg.connect(server.url("postgres").replace(":0/", f":{port}/"), connect_timeout=3):
            return port
    except (OSError, IndexError, ValueError, psycopg.Error):
        return None


def create_database(server: Postgres, name: str) -> str:
    """A fresh, empty database ``name`` (dropped first if a failed build left one)."""
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return str(server.url(name))


# --- measuring a build ------------------------------------------------------------------------------------------


def _stat_cpu(pid: int, reaped: bool) -> float:
    """A process's CPU seconds from /proc/<pid>/stat (with its reaped children's when ``reaped``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if reaped else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # gone meanwhile
        return []
    for task in tasks:
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def status(pid: int) -> dict[str, int]:
    """A process's /proc status memory lines, kB."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    found = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
            found[key] = int(value.split()[0])
    return found


def server_cpu(server: Postgres) -> float:
    """The server's CPU seconds so far: the postmaster's own and its reaped backends', plus the live ones'."""
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    return _stat_cpu(postmaster, reaped=True) + sum(_stat_cpu(child, reaped=False) for child in _children(postmaster))


class TreeSampler:
    """Samples the process trees of some commands every ``SAMPLE_S``: the largest VmHWM of one process, the peak
    of the trees' summed VmRSS, and the peak of the server's summed RssAnon (its private memory)."""

    def __init__(self, pids: Sequence[int], server_pid: int | None) -> None:
        self.pids, self.server_pid = list(pids), server_pid
        self.hwm_kb = self.rss_kb = self.server_anon_kb = 0
        self.cpu: dict[int, float] = {}  # each process's CPU seconds when last seen
        self.loads: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            rss = 0
            for root in self.pids:
                for pid in _tree(root):
                    self.cpu[pid] = max(self.cpu.get(pid, 0.0), _stat_cpu(pid, reaped=False))
                    found = status(pid)
                    self.hwm_kb = max(self.hwm_kb, found.get("VmHWM", 0))
                    rss += found.get("VmRSS", 0)
            self.rss_kb = max(self.rss_kb, rss)
            self.loads.append(os.getloadavg()[0])
            if self.server_pid is not None:
                anon = sum(status(pid).get("RssAnon", 0) for pid in _tree(self.server_pid))
                self.server_anon_kb = max(self.server_anon_kb, anon)


@dataclass
class Build:
    """One build's figures (kept in builds.json)."""

    scale: int
    kind: str
    records: int
    articles: int = 0
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    client_hwm_mb: float = 0.0
    client_rss_peak_mb: float = 0.0
    server_anon_peak_mb: float = 0.0
    size_mb: float = 0.0
    analyze_s: float = 0.0
    processes: int = 1
    when: str = ""
    load_before: str = ""
    load_during: float = 0.0  # the 1-minute load average's mean over the build
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.articles / self.wall_s if self.wall_s else 0.0


def run_commands(commands: Sequence[tuple[list[str], dict[str, str]]], server: Postgres | None,
                 build: Build, log_dir: Path, ready: Callable[[], None] | None = None) -> None:
    """Run the commands at once and wait for all; their wall time, CPU (wait4) and memory into ``build``.
    With ``ready``, the first command is started alone and the others once ``ready()`` returns (timed alike)."""
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0]) if server else None
    server_before = server_cpu(server) if server else 0.0
    build.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    start = time.perf_counter()
    # Their output to files, read after: a pipe nobody reads until the end would stop a command once it filled.
    logs = [log_dir / f"{build.kind}-{build.scale}x-{n}.log" for n in range(len(commands))]
    procs = []
    for n, ((args, env), path) in enumerate(zip(commands, logs, strict=True)):
        if n == 1 and ready is not None:
            ready()
        with path.open("w") as out:
            procs.append(subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT))
    cpu = 0.0
    with TreeSampler([p.pid for p in procs], postmaster) as sampler:
        for proc in procs:
            _, code, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(code)
            cpu += usage.ru_utime + usage.ru_stime
    outputs = [path.read_text(errors="replace") for path in logs]
    build.wall_s = time.perf_counter() - start
    # wait4 counts the processes the commands reaped; the sampled sum also those reaped by others (the
    # forkserver's workers), short of each one's last half second: the larger of the two.
    build.client_cpu_s = max(cpu, sum(sampler.cpu.values()))
    build.load_during = statistics.mean(sampler.loads) if sampler.loads else 0.0
    build.server_cpu_s = (server_cpu(server) - server_before) if server else 0.0
    build.client_hwm_mb, build.client_rss_peak_mb = sampler.hwm_kb / 1024, sampler.rss_kb / 1024
    build.server_anon_peak_mb = sampler.server_anon_kb / 1024
    for (args, _), proc, output in zip(commands, procs, outputs, strict=True):
        log.info("%s → %s: %s", shlex.join(args[:3]), proc.returncode, output.strip()[-400:])
        if proc.returncode != 0:
            raise SystemExit(f"build {build.kind} {build.scale}×: {shlex.join(args)} failed:\n{output}")


# --- the builds -----------------------------------------------------------------------------------------------


def records_files(root: Path, scale: int, limit: int | None) -> tuple[Path, list[Path], int]:
    """The corpus (``limit`` records of it spread evenly, for a smoke run) replicated ``scale``×: one file, and
    the same records split alternately in two."""
    whole = root / f"records-{scale}x.jsonl.gz"
    halves = [root / f"records-{scale}x-{part}.jsonl.gz" for part in "ab"]
    records = replicate(read_records(find_corpus(), limit), scale)
    if not whole.exists() or not all(h.exists() for h in halves):
        for path, chosen in ((whole, records), (halves[0], records[0::2]), (halves[1], records[1::2])):
            with gzip.open(path.with_suffix(".tmp"), "wt", encoding="utf-8") as out:
                out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in chosen)
            path.with_suffix(".tmp").rename(path)
    return whole, halves, len(records)


def db_name(kind: str, scale: int) -> str:
    return f"newsdesk_{kind}_{scale}x"


def instance(root: Path, kind: str, scale: int, part: str = "") -> Path:
    return root / f"{kind}-{scale}x{part}"


def build_one(root: Path, server: Postgres, kind: str, scale: int, limit: int | None) -> Build:
    whole, halves, count = records_files(root, scale, limit)
    build = Build(scale=scale, kind=kind, records=count, when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    whoosh_env = {"NEWSDESK_BACKEND": "whoosh"}
    if kind == "whoosh":
        target = instance(root, "whoosh", scale)
        run_commands([([str(NEWSDESK), "ingest", str(whole), "--index", str(target)], whoosh_env)], None, build, root)
        build.articles = whoosh_count(target)
        build.size_mb = directory_mb(target / "whoosh")
        return build
    url = create_database(server, db_name(kind, scale))
    pg_env = {"NEWSDESK_BACKEND": "postgres", "NEWSDESK_DATABASE_URL": url}
    if kind == "pg1":
        run_commands([([str(NEWSDESK), "ingest", str(whole), "--index", str(instance(root, kind, scale))], pg_env)],
                     server, build, root)
    elif kind == "pg2":
        build.processes = 2
        run_commands([([str(NEWSDESK), "ingest", str(half), "--index", str(instance(root, kind, scale, f"-{i}"))],
                       pg_env) for i, half in enumerate(halves)], server, build, root)
    elif kind in ("rq1", "rq2"):
        build.processes = int(kind[-1])
        target = str(instance(root, kind, scale))
        with redis_server() as redis_url:
            env = {**pg_env, "NEWSDESK_REDIS_URL": redis_url}
            workers = [([str(NEWSDESK), "worker", "--burst", "--queues", "extract", "--index", target], env)
                       for _ in range(build.processes)]
            run_commands([([str(NEWSDESK), "queue", "ingest", str(whole), "--index", target], env), *workers],
                         server, build, root, ready=lambda: _announced(redis_url))
        build.notes.append(f"`newsdesk queue ingest` with {build.processes} `newsdesk worker --burst` on Redis")
    else:  # pgcopy: newsdesk migrate --to postgres from the Whoosh instance
        source = instance(root, "whoosh", scale)
        if not (source / "whoosh").exists():
            raise SystemExit(f"pgcopy {scale}× needs the Whoosh instance {source}: build whoosh first")
        run_commands([([str(NEWSDESK), "migrate", "--to", "postgres", "--index", str(source)],
                       {**whoosh_env, "NEWSDESK_DATABASE_URL": url})], server, build, root)
        build.notes.append("loaded by `newsdesk migrate --to postgres` from the Whoosh instance (no copy decisions)")
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        build.analyze_s = time.perf_counter() - start
        build.articles = int(_one(conn, "SELECT count(*) FROM articles"))
        build.size_mb = int(_one(conn, "SELECT pg_database_size(current_database())")) / 2**20
    return build


def _announced(redis_url: str) -> None:
    """Once the queued ingest announced itself: a ``--burst`` worker started before would find nothing to wait for."""
    from redis import Redis

    from search.workers.runner import enqueuers_waiting

    connection = Redis.from_url(redis_url)
    deadline = time.monotonic() + 120
    while not enqueuers_waiting(connection):
        if time.monotonic() > deadline:
            raise SystemExit("the queued ingest never announced itself")
        time.sleep(0.05)
    connection.close()


def whoosh_count(target: Path) -> int:
    with open_index(Settings(index=target)).searcher() as searcher:
        return int(searcher.doc_count())


def _one(conn: psycopg.Connection[Any], statement: str) -> Any:
    row = conn.execute(statement).fetchone()
    assert row is not None
    return row[0]


def load_builds(root: Path) -> dict[str, Build]:
    path = root / "builds.json"
    if not path.exists():
        return {}
    return {key: Build(**value) for key, value in json.loads(path.read_text()).items()}


def save_builds(root: Path, builds: dict[str, Build]) -> None:
    path = root / "builds.json"
    path.with_suffix(".tmp").write_text(json.dumps({k: asdict(v) for k, v in builds.items()}, indent=1))
    path.with_suffix(".tmp").rename(path)


def build_command(args: argparse.Namespace) -> int:
    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    builds = load_builds(root)
    with kept_server(root) as server:
        for scale in args.scale:
            for kind in args.kinds:
                key = f"{kind}-{scale}x"
                if key in builds and not args.again:
                    log.info("%s: built already (%s)", key, builds[key].when)
                    continue
                log.info("building %s", key)
                builds[key] = build_one(root, server, kind, scale, args.limit)
                b = builds[key]
                log.info("%s: %d articles in %.0f s (%.1f/s), client CPU %.0f s, server CPU %.0f s", key,
                         b.articles, b.wall_s, b.rate, b.client_cpu_s, b.server_cpu_s)
                save_builds(root, builds)
    return 0


# --- the read side --------------------------------------------------------------------------------------------

#: Saved searches matched against each batch of new articles.
SAVED_SEARCHES = 10_000
#: New articles per alert batch.
NEW_ARTICLES = 100
#: What the read part measures.
PARTS = ("searches", "exports", "alerts", "memory")
#: The PostgreSQL database read at a scale: the first of these built.
READ_ORDER = ("pg1", "pg2", "pgcopy")


@dataclass
class Timed:
    """Milliseconds of one kind of work, per backend (a list of samples each)."""

    label: str
    wall: dict[str, list[float]] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)  # rows exported, matches found, …
    note: str = ""


@dataclass
class ScaleFigures:
    scale: int
    articles: dict[str, int] = field(default_factory=dict)
    database: str = ""
    rows: list[Any] = field(default_factory=list)  # bench/pg_search.py's Row
    kept: list[Any] = field(default_factory=list)  # the front page counted by grouping every article (before)
    kept_same: bool | None = None  # whether the kept counts' page equals that one
    exports: list[Timed] = field(default_factory=list)
    alerts: list[Timed] = field(default_factory=list)
    memory: dict[str, dict[str, int]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    partitions: int = 0
    explained: list[tuple[str, str, float, float]] = field(default_factory=list)


def reader_settings(root: Path, scale: int, url: str | None) -> Settings:
    whoosh = instance(root, "whoosh", scale)
    if url is None:
        return Settings(index=whoosh, facet_cache_size=0)
    return Settings(index=whoosh, facet_cache_size=0, backend="postgres", database_url=url)


def measure_scale(root: Path, server: Postgres, scale: int, builds: dict[str, Build], rounds: int,
                  parts: Sequence[str] = PARTS) -> ScaleFigures:
    from pg_search import QUERIES, SORTS

    figures = ScaleFigures(scale)
    kind = next(k for k in READ_ORDER if f"{k}-{scale}x" in builds)
    figures.database = f"{kind}-{scale}x"
    url = server.url(db_name(kind, scale))
    gazetteer = load_gazetteer()
    whoosh_settings, pg_settings = reader_settings(root, scale, None), reader_settings(root, scale, url)
    # As the web's readers connect (search/database.py: JIT off, the schema migrated first), not a bare connection.
    with connect(url) as connection:
        embedded = EmbeddedReader(open_index(whoosh_settings).searcher(), whoosh_settings, gazetteer)
        postgres = PostgresReader(connection, pg_settings, gazetteer)
        try:
            figures.articles = {"embedded": embedded.overview().articles, "postgres": postgres.overview().articles}
            pid = int(_one(connection, "SELECT pg_backend_pid()"))
            readers: dict[str, Any] = {"embedded": embedded, "postgres": postgres}
            if "searches" in parts:
                figures.rows = [time_search(readers, make_query(q, sort=sort, settings=whoosh_settings), rounds, pid)
                                for q in QUERIES for sort in SORTS]
                if _has_kept_counts(connection):
                    counted = CountedAll(postgres)
                    figures.kept = [time_search({"embedded": embedded, "postgres": counted},
                                                make_query("", sort=sort, settings=whoosh_settings), rounds, pid)
                                    for sort in SORTS]
                    request = make_query("", settings=whoosh_settings)
                    figures.kept_same = counted.search(request) == postgres.search(request)
                figures.partitions = int(_one(connection, "SELECT count(*) FROM pg_inherits i JOIN pg_class p "
                                                          "ON p.oid = i.inhparent WHERE p.relname = 'articles'"))
                figures.explained = explain_statements(connection, pg_settings)
            if "exports" in parts:
                figures.exports = measure_exports(readers, whoosh_settings, figures.missing)
            if "alerts" in parts:
                figures.alerts = measure_alerts(readers, whoosh_settings, figures.missing)
        finally:
            embedded.close()
    figures.missing += [f"{part}: left out of this run (--parts)" for part in PARTS if part not in parts]
    if "memory" not in parts:
        return figures
    for backend, settings in (("embedded", whoosh_settings), ("postgres", pg_settings)):
        figures.memory[backend] = reader_memory(settings)
    return figures


@dataclass
class CpuRow:
    """One search's samples per backend: wall ms, and CPU ms — the process's own, plus for PostgreSQL its
    server backend's (from /proc/<pid>/schedstat, nanoseconds): on a machine shared with other work the CPU a
    search costs is steadier than its wall time, which includes waiting for a core."""

    q: str
    sort: str
    wall: dict[str, list[float]] = field(default_factory=lambda: {"embedded": [], "postgres": []})
    cpu: dict[str, list[float]] = field(default_factory=lambda: {"embedded": [], "postgres": []})
    totals: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def _schedstat_ms(pid: int) -> float:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6


def time_search(readers: dict[str, Any], request: SearchQuery, rounds: int, backend_pid: int) -> CpuRow:
    """One untimed run each (warm, and the totals), then ``rounds`` interleaved rounds."""
    row = CpuRow(request.q or "(front page)", request.sort)
    for backend, reader in readers.items():
        try:
            row.totals[backend] = reader.search(request).total
        except Exception as error:  # noqa: BLE001 - recorded: one failing query must not lose the run
            row.error = f"{backend}: {type(error).__name__}: {error}"
            log.warning("%r %s: %s", request.q, request.sort, row.error)
            return row
    order = list(readers)
    for i in range(rounds):
        for backend in order if i % 2 == 0 else order[::-1]:
            server = _schedstat_ms(backend_pid) if backend == "postgres" else 0.0
            wall, cpu = time.perf_counter(), time.process_time()
            readers[backend].search(request)
            row.wall[backend].append((time.perf_counter() - wall) * 1000)
            used = (time.process_time() - cpu) * 1000
            if backend == "postgres":
                used += _schedstat_ms(backend_pid) - server
            row.cpu[backend].append(used)
    log.info("%r %s: Whoosh %.1f ms CPU / %.1f wall, PostgreSQL %.1f ms CPU / %.1f wall", request.q, request.sort,
             statistics.median(row.cpu["embedded"]), statistics.median(row.wall["embedded"]),
             statistics.median(row.cpu["postgres"]), statistics.median(row.wall["postgres"]))
    return row


def _med(row: CpuRow, kind: str, backend: str) -> float:
    return statistics.median((row.wall if kind == "wall" else row.cpu)[backend])


def _cpu_cells(row: CpuRow) -> list[str]:
    if row.error:
        return [row.q, row.sort, "", "", "", "", "", "", "", row.error]
    total = row.totals.get("embedded", 0)
    return [row.q, row.sort, f"{total:,}", f"{_med(row, 'cpu', 'embedded'):.1f}", f"{_med(row, 'wall', 'embedded'):.1f}",
            f"{percentile(row.wall['embedded'], 95):.1f}", f"{_med(row, 'cpu', 'postgres'):.1f}",
            f"{_med(row, 'wall', 'postgres'):.1f}", f"{percentile(row.wall['postgres'], 95):.1f}",
            f"{_med(row, 'cpu', 'postgres') / _med(row, 'cpu', 'embedded'):.2f}"]


#: The searches whose statements are explained, each by date and by relevance.
EXPLAINED = ("", "Kosovo", "oil OR gas")


def explain_statements(connection: psycopg.Connection[Any], settings: Settings) -> list[tuple[str, str, float, float]]:
    """For a few searches, the planning and execution ms of their counting and page statements (``EXPLAIN
    (ANALYZE, SUMMARY)``, warm): how much of a search is planning, which grows with the month partitions."""
    from search.query.parse import Deadline
    from search.query.pg_counts import _count_statement, _every_article, page_statement
    from search.query.pg_plan import plan, snapshot

    found = []
    for q in EXPLAINED:
        for sort in ("relevance", "date"):
            request = make_query(q, sort=sort, settings=settings)
            with snapshot(connection, settings) as run:
                compiled = plan(run, request, settings, Deadline(settings))
                statements = [("page", *page_statement(compiled, request))]
                if not _every_article(compiled, request):
                    statements.insert(0, ("counting", *_count_statement(compiled, False, False)))
                for kind, statement, params in statements:
                    for _ in range(2):  # the second one counted: warm
                        lines = [str(row[0]) for row in connection.execute(
                            sql.SQL("EXPLAIN (ANALYZE, SUMMARY) ") + statement, params).fetchall()]
                    times = {line.split(":")[0]: float(line.split(":")[1].split()[0]) for line in lines
                             if line.startswith(("Planning Time", "Execution Time"))}
                    found.append((f"{q or '(front page)'} {sort}", kind, times.get("Planning Time", 0.0),
                                  times.get("Execution Time", 0.0)))
    return found


def _has_kept_counts(connection: psycopg.Connection[Any]) -> bool:
    return _one(connection, "SELECT to_regclass('facet_counts') IS NOT NULL") is True


class CountedAll:
    """The PostgreSQL reader as it was before the schema kept counts: a search of every article (the front page)
    counted by grouping every article in the counting statement — the figure the kept counts are measured
    against, and the answer they must equal."""

    def __init__(self, reader: PostgresReader) -> None:
        self.reader = reader

    def search(self, request: SearchQuery) -> Any:
        from search.query import pg_counts

        original = pg_counts._every_article
        pg_counts._every_article = lambda plan, request: False
        try:
            return self.reader.search(request)
        finally:
            pg_counts._every_article = original


def measure_exports(readers: dict[str, Any], settings: Settings, missing: list[str]) -> list[Timed]:
    """Every row of two big exports streamed (``reader.export(request).rows()``): articles/s."""
    found = []
    for label, q, sort in (("everything, newest first", "", "date"), ("`oil OR gas`, by relevance", "oil OR gas",
                                                                       "relevance")):
        timed = Timed(label)
        for backend, reader in readers.items():
            if not _offers(reader, "export"):
                missing.append(f"export on {backend}: its reader has none yet")
                continue
            start = time.perf_counter()
            rows = sum(1 for _ in reader.export(make_query(q, sort=sort, settings=settings)).rows())
            timed.wall[backend] = [(time.perf_counter() - start) * 1000]
            timed.count[backend] = rows
            log.info("export %s on %s: %d rows in %.1f s", label, backend, rows, timed.wall[backend][0] / 1000)
        found.append(timed)
    return found


def _offers(reader: Any, method: str) -> bool:
    """Whether the reader has ``method`` of its own (not a seam's placeholder that raises)."""
    return callable(getattr(reader, method, None))


def saved_searches(articles: Sequence[StoredArticle], count: int = SAVED_SEARCHES) -> list[SearchQuery]:
    """``count`` realistic saved searches, deterministically: title words, AND pairs, OR pairs and phrases
    from the corpus (``derive_queries``), a field query in ten, and facet and date filters over them — outlets,
    actors, languages and years of the articles they will be matched against, so some do match."""
    from ingest_search import derive_queries

    queries = derive_queries(read_records(find_corpus(), None), count=2_000)
    outlets = sorted({a.outlet for a in articles})
    actors = sorted({actor for a in articles for actor in a.actors}) or [""]
    years = sorted({a.year for a in articles if a.year.isdigit()}) or ["2000"]
    found = []
    for i in range(count):
        q, variant = queries[i % len(queries)], i % 10
        if variant == 4:
            q = f"{q} OR {queries[(i * 7 + 3) % len(queries)]}"
        elif variant == 8 and " " not in q and not q.startswith('"'):
            q = f"title:{q}"
        found.append(make_query(
            "" if variant == 9 else q,
            outlet=(outlets[i % len(outlets)],) if variant in (1, 5) else (),
            actor=(actors[i % len(actors)],) if variant in (3, 9) and actors[0] else (),
            language=("en",) if variant == 7 else (),
            date_from=years[i % len(years)] if variant in (2, 6) else None,
            date_to=years[(i + 1) % len(years)] if variant == 6 and years[(i + 1) % len(years)] >= years[i % len(years)]
            else None))
    return found


def measure_alerts(readers: dict[str, Any], settings: Settings, missing: list[str]) -> list[Timed]:
    """10,000 saved searches matched against the ``NEW_ARTICLES`` newest articles, all at once (``match_all``), as
    the alert runner asks: ms per new article, on a first run (PostgreSQL compiles and stores each saved search
    then) and a second (each stored query reused, as every later run does)."""
    runs = [Timed(f"{SAVED_SEARCHES:,} saved searches × {NEW_ARTICLES} new articles, first run"),
            Timed(f"{SAVED_SEARCHES:,} saved searches × {NEW_ARTICLES} new articles, later runs")]
    for backend, reader in readers.items():
        if not _offers(reader, "percolator") or not _offers(reader, "new_articles"):
            missing.append(f"alert matching on {backend}: its reader has no percolator yet")
            continue
        articles = reader.new_articles(_last_seq(reader, settings) - NEW_ARTICLES)
        requests = saved_searches(articles)
        if isinstance(reader, PostgresReader):  # a true first run: no saved search compiled and stored yet
            reader.connection.execute("DELETE FROM alert_queries")
        for timed in runs:
            start = time.perf_counter()
            percolator = reader.percolator(articles)
            try:
                found = percolator.match_all(requests)
            finally:
                percolator.close()
            timed.wall[backend] = [(time.perf_counter() - start) * 1000 / len(articles)]
            timed.count[backend] = sum(len(result) for result in found if isinstance(result, dict))
            errors = sum(1 for result in found if isinstance(result, Exception))
            if errors:
                timed.note += f"{backend}: {errors} saved searches refused; "
            log.info("alerts on %s, %s: %.2f ms per new article, %d matches", backend, timed.label,
                     timed.wall[backend][0], timed.count[backend])
    return runs


def _last_seq(reader: Any, settings: Settings) -> int:
    """The highest ingest number the reader's articles hold."""
    if isinstance(reader, PostgresReader):
        row = reader.connection.execute("SELECT max(seq) FROM articles").fetchone()
        return int(str(row[0])) if row and row[0] is not None else 0
    return last_number(settings)


def reader_memory(settings: Settings) -> dict[str, int]:
    """A fresh process's private memory after opening the reader and running the searches (``memory``)."""
    done = subprocess.run([sys.executable, __file__, "memory", "--index", str(settings.index),
                           *(["--database-url", settings.database_url] if settings.database_url else [])],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).parent)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def memory_command(args: argparse.Namespace) -> int:
    """Open one reader as a web process does, run the searches three times, report /proc memory (kB)."""
    from pg_search import QUERIES, SORTS

    settings = Settings(index=args.index, facet_cache_size=0, backend="postgres" if args.database_url else "whoosh",
                        database_url=args.database_url)
    before = status(os.getpid())
    readers = open_readers(settings)
    reader = readers.current()
    for _ in range(3):
        for q in QUERIES:
            for sort in SORTS:
                reader.search(make_query(q, sort=sort, settings=settings))
    found = {f"process {k}": v for k, v in status(os.getpid()).items()}
    found["process RssAnon before opening"] = before.get("RssAnon", 0)
    if isinstance(reader, PostgresReader):
        pid = reader.connection.execute("SELECT pg_backend_pid()").fetchone()
        assert pid is not None
        found.update({f"server backend {k}": v for k, v in status(int(str(pid[0]))).items()})
    readers.close()
    print(json.dumps(found))
    return 0


# --- the report -------------------------------------------------------------------------------------------------


def read_command(args: argparse.Namespace) -> int:
    root: Path = args.root
    builds = load_builds(root)
    started = dt.datetime.now(dt.UTC)
    scales: list[ScaleFigures] = []
    with kept_server(root) as server:
        settings_shown = server_settings(server)
        for scale in args.scale:
            log.info("reading at %d×", scale)
            scales.append(measure_scale(root, server, scale, builds, args.rounds, args.parts))
    section = render(builds, scales, settings_shown, started,
                     "python " + shlex.join(["bench/pg_scale.py", *args.argv]), args.rounds)
    print(section)
    if args.out:
        append_results(args.out, section)
    return 0


def server_settings(server: Postgres) -> dict[str, str]:
    from pg_search import SERVER_SETTINGS

    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        return {name: str(_one(conn, f"SHOW {name}")) for name in SERVER_SETTINGS}


def render(builds: dict[str, Build], scales: list[ScaleFigures], server: dict[str, str], started: dt.datetime,
           command: str, rounds: int) -> str:
    lines = [f"## Issue 19 at scale: PostgreSQL against Whoosh — {started:%Y-%m-%d %H:%M} UTC — `{command}`", ""]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    lines += ["- PostgreSQL (the benchmark's own server, tests/services.py's settings, loopback TCP): "
              + ", ".join(f"{k} {v}" for k, v in server.items()),
              ("- corpus: the shared news-24k (24,097 records) **replicated 5× (120k records) and 10× (240k records)** "
               "by bench/ingest_search.py's `replicate` (copy k: new id, URL and outlet, years +40·k): the same texts "
               "K times, so every query matches about K times as often and the vocabulary does not grow as a real "
               "240k corpus's would; articles stored are fewer than records (records without text are skipped)"),
              ""]
    lines += render_builds(builds)
    for figures in scales:
        lines += render_scale(figures, rounds)
    lines += render_growth(scales, builds)
    return "\n".join(lines) + "\n"


def render_builds(builds: dict[str, Build]) -> list[str]:
    if not builds:
        return []
    names = {"whoosh": "Whoosh, `newsdesk ingest` (workers + 1 writer process)",
             "pg1": "PostgreSQL, 1 `newsdesk ingest` process",
             "pg2": "PostgreSQL, 2 `newsdesk ingest` processes at once (records split in two)",
             "rq1": "PostgreSQL, `newsdesk queue ingest` + 1 `newsdesk worker` (Redis)",
             "rq2": "PostgreSQL, `newsdesk queue ingest` + 2 `newsdesk worker`s (Redis)",
             "pgcopy": "PostgreSQL, `newsdesk migrate --to postgres` from the Whoosh instance"}
    rows = []
    for b in sorted(builds.values(), key=lambda b: (b.scale, BUILDS.index(b.kind))):
        cpu_ms = (b.client_cpu_s + b.server_cpu_s) * 1000 / b.articles if b.articles else 0.0
        rows.append([f"{b.scale}×", names[b.kind], f"{b.records:,}", f"{b.articles:,}", f"{b.wall_s:,.0f}",
                     f"**{b.rate:,.0f}**", f"{b.client_cpu_s:,.0f}", f"{b.server_cpu_s:,.0f}", f"{cpu_ms:.1f}",
                     f"{b.client_hwm_mb:,.0f}", f"{b.client_rss_peak_mb:,.0f}", f"{b.server_anon_peak_mb:,.0f}",
                     f"{b.size_mb:,.0f}", f"{b.analyze_s:.0f}" if b.kind != "whoosh" else "", f"{b.load_during:.1f}",
                     b.when])
    lines = ["### Index build (one build of a kind at a time; other work on the machine shows in the load column)", "",
             md_table(["scale", "build", "records", "articles stored", "wall s", "articles/s", "client CPU s",
                       "server CPU s", "CPU ms/article (both)", "largest process VmHWM MB",
                       "client tree RSS peak MB", "server RssAnon peak MB", "size MB", "VACUUM ANALYZE s (untimed)",
                       "load", "built"], rows), ""]
    for scale in sorted({b.scale for b in builds.values()}):
        got = {b.kind: b for b in builds.values() if b.scale == scale}
        if "whoosh" in got and "pg1" in got:
            lines.append(f"- {scale}×: PostgreSQL (1 process) ÷ Whoosh, articles/s: "
                         f"**{got['pg1'].rate / got['whoosh'].rate:.2f}**")
        if "pg1" in got and "pg2" in got:
            lines.append(f"- {scale}×: PostgreSQL 2 processes ÷ 1 process, articles/s: "
                         f"**{got['pg2'].rate / got['pg1'].rate:.2f}**")
        if "rq1" in got and "rq2" in got:
            lines.append(f"- {scale}×: PostgreSQL 2 workers ÷ 1 worker, articles/s: "
                         f"**{got['rq2'].rate / got['rq1'].rate:.2f}**")
    lines += [("- client CPU: the larger of `wait4` of the commands and the sum over their process trees sampled "
               "(each ingest with all its worker processes); server CPU: the postmaster's own, its reaped backends' "
               "and its live ones' from /proc/<pid>/stat, before and after; memory sampled every 0.5 s from "
               "/proc/<pid>/status over the commands' process trees and the server's; load: the 1-minute load "
               "average's mean during the build (other work on the machine shows there)"), ""]
    return lines


def render_scale(f: ScaleFigures, rounds: int) -> list[str]:
    lines = [(f"### {f.scale}×: {f.articles.get('embedded', 0):,} articles (Whoosh) / "
              f"{f.articles.get('postgres', 0):,} (PostgreSQL, database `{f.database}`)"), "",
             ("Search, page 1 with the four facets, facet cache off; one untimed run, then "
              f"{rounds} interleaved rounds, medians. CPU ms: Whoosh's process; PostgreSQL's client process plus its "
              "server backend (/proc schedstat) — the steadier figure on a shared machine; wall ms beside it."), "",
             md_table(["query", "sort", "total", "Whoosh CPU ms", "wall", "wall p95", "PostgreSQL CPU ms", "wall",
                       "wall p95", "CPU ratio pg/whoosh"], [_cpu_cells(row) for row in f.rows]), ""]
    ok = [row for row in f.rows if row.error is None]
    searches = [row for row in ok if row.q != "(front page)"]
    fronts = [row for row in ok if row.q == "(front page)"]
    for label, chosen in (("searches", searches), ("front page", fronts)):
        for kind in ("cpu", "wall"):
            if chosen:
                w = [_med(row, kind, "embedded") for row in chosen]
                p = [_med(row, kind, "postgres") for row in chosen]
                lines.append(f"- {label}, {kind.upper() if kind == 'cpu' else kind} over the queries' medians: "
                             f"Whoosh p50 {percentile(w, 50):.1f} ms, p95 {percentile(w, 95):.1f}; PostgreSQL p50 "
                             f"{percentile(p, 50):.1f} ms, p95 {percentile(p, 95):.1f}; ratio of p50s "
                             f"**{percentile(p, 50) / percentile(w, 50):.2f}**")
    for row in f.kept:
        if row.error is None:
            lines.append(f"- front page by {row.sort} counted as before the kept counts (every article grouped by "
                         f"the counting statement): PostgreSQL {_med(row, 'cpu', 'postgres'):.1f} ms CPU, "
                         f"{_med(row, 'wall', 'postgres'):.1f} wall, against Whoosh {_med(row, 'cpu', 'embedded'):.1f} "
                         f"CPU, {_med(row, 'wall', 'embedded'):.1f} wall; CPU ratio "
                         f"**{_med(row, 'cpu', 'postgres') / _med(row, 'cpu', 'embedded'):.2f}**")
    if f.kept_same is not None:
        lines.append("- the front page read from the kept counts " + ("equals" if f.kept_same else "**differs from**")
                     + " the one counted by the counting statement (hits, facets, total), at this size")
    if f.explained:
        lines.append(f"- PostgreSQL's statements, planning / execution ms (EXPLAIN ANALYZE, warm; {f.partitions:,} "
                     "month partitions — the replication's shifted years multiply them): " + "; ".join(
                         f"{search} {kind} {planning:.1f} / {execution:.1f}"
                         for search, kind, planning, execution in f.explained))
    mismatched = [f"{row.q!r} {row.sort} ({row.totals})" for row in ok if len(set(row.totals.values())) > 1]
    lines.append("- totals: " + ("the same on both backends" if not mismatched else "differ: " + "; ".join(mismatched)))
    lines += [f"- {row.q!r} {row.sort}: failed — {row.error}" for row in f.rows if row.error]
    for timed in f.exports:
        if timed.wall:
            lines.append(f"- export, {timed.label}: " + "; ".join(
                f"{backend} {timed.count[backend]:,} rows in {timed.wall[backend][0] / 1000:.1f} s "
                f"(**{timed.count[backend] / (timed.wall[backend][0] / 1000):,.0f} articles/s**)"
                for backend in timed.wall))
    for timed in f.alerts:
        if timed.wall:
            lines.append(f"- alert matching, {timed.label}: " + "; ".join(
                f"{backend} **{timed.wall[backend][0]:.2f} ms per new article** ({timed.count[backend]:,} matches)"
                for backend in timed.wall))
    lines += [f"- not measured: {what}" for what in dict.fromkeys(f.missing)]
    if f.memory:
        lines.append("- memory of one fresh reader process after opening its reader and running the searches 3× "
                     "(kB, /proc/self/status; for PostgreSQL its server backend's too — what each web process adds):")
        for backend, found in f.memory.items():
            lines.append(f"  - {backend}: " + ", ".join(f"{k} {v:,}" for k, v in found.items()))
    return [*lines, ""]


def render_growth(scales: list[ScaleFigures], builds: dict[str, Build]) -> list[str]:
    """Where each backend wins, and the growth from 5× to 10× carried on to millions."""
    lines = ["### Where each backend wins", ""]
    for f in scales:
        ok = [row for row in f.rows if row.error is None]
        wins = {"embedded": 0, "postgres": 0}
        for row in ok:
            wins["postgres" if _med(row, "cpu", "postgres") < _med(row, "cpu", "embedded") else "embedded"] += 1
        lines.append(f"- {f.scale}×, searches and front pages (CPU per search): Whoosh cheaper in {wins['embedded']} "
                     f"of {len(ok)}, PostgreSQL in {wins['postgres']}")
        for timed in [*f.exports, *f.alerts]:
            if len(timed.wall) == 2:
                best = min(timed.wall, key=lambda b: timed.wall[b][0])
                lines.append(f"- {f.scale}×, {timed.label}: {best} faster "
                             f"({max(v[0] for v in timed.wall.values()) / min(v[0] for v in timed.wall.values()):.1f}×)")
        if f.memory:
            # What opening the reader and searching added to the process's private memory (its imports and the
            # gazetteer are the same for both), plus the PostgreSQL server backend's own private memory.
            added = {b: m.get("process RssAnon", 0) - m.get("process RssAnon before opening", 0)
                     + m.get("server backend RssAnon", 0) for b, m in f.memory.items()}
            whole = {b: m.get("process RssAnon", 0) + m.get("server backend RssAnon", 0) for b, m in f.memory.items()}
            lines.append(f"- {f.scale}×, private memory (RssAnon) per reader process, with its server backend's for "
                         f"PostgreSQL: Whoosh {whole.get('embedded', 0) / 1024:,.0f} MB, PostgreSQL "
                         f"{whole.get('postgres', 0) / 1024:,.0f} MB; of which opening the reader and searching added "
                         f"Whoosh {added.get('embedded', 0) / 1024:,.0f} MB, PostgreSQL "
                         f"{added.get('postgres', 0) / 1024:,.0f} MB — what each further web process costs")
    by_scale = {f.scale: f for f in scales}
    if len(by_scale) >= 2:
        small, large = min(by_scale), max(by_scale)
        lines += ["", f"### Growth from {small}× to {large}×, carried on to millions", "",
                  (f"Each figure's growth exponent b from the two sizes (time ∝ articles^b, b = log(t{large}/t{small}) "
                   f"/ log(n{large}/n{small})), carried on by the same power law to 1M and 5M articles. Two points "
                   "and a replicated corpus (matches grow exactly with the copies; a real corpus's vocabulary and "
                   "posting lists grow more slowly, its distinct texts faster): an order of magnitude, not a "
                   "forecast."), ""]
        rows = []
        n_small = by_scale[small].articles.get("postgres", 0)
        n_large = by_scale[large].articles.get("postgres", 0)
        for label, pick in (("front page, date", ("(front page)", "date")), ("`oil OR gas`, relevance",
                                                                            ("oil OR gas", "relevance")),
                            ("`Kosovo`, relevance", ("Kosovo", "relevance"))):
            for backend in ("embedded", "postgres"):
                t = [_row_median(by_scale[s], pick, backend) for s in (small, large)]
                if None in t or not n_small or not n_large:
                    continue
                a, b = t[0] or 0.0, t[1] or 0.0
                exponent = math.log(b / a) / math.log(n_large / n_small) if a > 0 and b > 0 else float("nan")
                at = [b * (n / n_large) ** exponent for n in (1_000_000, 5_000_000)]
                rows.append([label, "Whoosh" if backend == "embedded" else "PostgreSQL", f"{a:.1f}", f"{b:.1f}",
                             f"{exponent:.2f}", f"{at[0]:,.0f}", f"{at[1]:,.0f}"])
        lines.append(md_table(["search (CPU ms)", "backend", f"{small}×", f"{large}×", "b", "1M", "5M"], rows))
    rates = {(b.scale, b.kind): b.rate for b in builds.values()}
    for kind in ("whoosh", "pg1", "pg2", "rq1", "rq2"):
        scales_built = sorted(s for s, k in rates if k == kind)
        if scales_built:
            slowest = min(rates[(s, kind)] for s in scales_built)
            lines.append(f"- build, {kind}: at the slowest rate measured ({slowest:,.0f} articles/s), 1M articles take "
                         f"{1e6 / slowest / 3600:.1f} h, 5M {5e6 / slowest / 3600:.1f} h (a writer's rate falls as "
                         "its indexes grow: a floor on the time, not a ceiling)")
    return [*lines, ""]


def _row_median(f: ScaleFigures, pick: tuple[str, str], backend: str) -> float | None:
    for row in f.rows:
        if (row.q, row.sort) == pick and row.error is None:
            return float(_med(row, "cpu", backend))
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="where the builds are kept")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build what is missing")
    build.add_argument("--scale", type=int, action="append", required=True, help="the corpus K× (repeatable)")
    build.add_argument("--kinds", nargs="+", choices=BUILDS, default=["whoosh", "pg1", "pg2"])
    build.add_argument("--limit", type=int, metavar="N", help="N corpus records only (a smoke run; own --root)")
    build.add_argument("--again", action="store_true", help="rebuild what is there")
    read = commands.add_parser("read", help="measure the read side on what is built")
    read.add_argument("--scale", type=int, action="append", required=True, help="the corpus K× (repeatable)")
    read.add_argument("--rounds", type=int, default=9, help="interleaved rounds per search (default 9)")
    read.add_argument("--out", type=Path, help="append the section here (e.g. bench/RESULTS.md)")
    read.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to measure (default all)")
    read.add_argument("--searches-only", dest="parts", action="store_const", const=["searches"],
                      help="the searches and the front page only")
    memory = commands.add_parser("memory", help="(internal) one reader process's memory")
    memory.add_argument("--index", type=Path, required=True)
    memory.add_argument("--database-url")
    args = parser.parse_args(argv)
    args.argv = argv
    if args.command == "build":
        return build_command(args)
    if args.command == "read":
        return read_command(args)
    return memory_command(args)


if __name__ == "__main__":
    sys.exit(main())
