"""Workers on Redis (search/workers): the crawl's unit of work on RQ workers, politeness across them, a killed
worker's job retried without indexing anything twice, and a queued crawl giving the index an in-process one gives.

Everything is real: Redis and PostgreSQL from tests/services.py, HTTP sites on 127.0.0.x (tests/loopback.py)
that log every request, and workers as ``newsdesk worker --burst`` processes, so a test kills one as a machine
would lose it. Waits are on conditions (a process gone, a key in Redis), never on time alone.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from redis import Redis

from conftest import SEED_ARTICLES, make_settings
from loopback import Reply, Site, Web, page, rss
from search.crawl.crawler import CrawlReport, crawl
from search.index import open_index
from search.ingest import ingest
from search.records import Source
from search.settings import Settings
from search.state import open_state
from search.workers import HostLeases, queued_crawl
from search.workers.leases import lease_key
from web.cli import main

ROOT = Path(__file__).resolve().parents[1]
WAIT = 60.0  # seconds: a safety net for a condition, never a pause


def news_site(web: Web, name: str, count: int, host: str = "127.0.0.1") -> tuple[Site, Source]:
    """An outlet of ``count`` articles under ``/p/N``, listed by its feed."""
    site = web.site(host)
    items = [(site.url(f"/p/{n}"), f"{name} {n}", None) for n in range(count)]
    site.routes["/feed.rss"] = lambda: Reply(body=rss(items), headers={"Content-Type": "application/rss+xml"})
    for n in range(count):
        site.routes[f"/p/{n}"] = page(f"{name} story number {n}", f"{name.lower()} round {n}")
    return site, Source(name, site.url("/"), feeds=(site.url("/feed.rss"),))


def sources_file(path: Path, sources: list[Source]) -> Path:
    path.write_text("".join(f'[[source]]\nname = "{s.name}"\nurl = "{s.url}"\nfeeds = ["{s.feeds[0]}"]\n'
                            for s in sources))
    return path


def start_worker(settings: Settings, redis_url: str, *, crash_at: str = "", queues: str = "crawl,extract"
                 ) -> subprocess.Popen[bytes]:
    """``newsdesk worker --burst`` on the instance of ``settings`` (``crash_at``: NEWSDESK_WORKER_CRASH_AT)."""
    env = {**os.environ, "NEWSDESK_REDIS_URL": redis_url, "NEWSDESK_BACKEND": settings.backend,
           "NEWSDESK_DATABASE_URL": settings.database_url, "PYTHONFAULTHANDLER": "1"}
    if crash_at:
        env["NEWSDESK_WORKER_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "web.cli", "worker", "-v", "--burst", "--queues", queues, "--index", str(settings.index)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def enqueuer_running(redis_url: str) -> bool:
    from search.workers.runner import enqueuers_waiting

    return enqueuers_waiting(Redis.from_url(redis_url))


def stored(settings: Settings) -> list[dict[str, object]]:
    with open_index(settings).searcher() as searcher:
        return [dict(fields) for fields in searcher.all_stored_fields()]


def frontier(settings: Settings) -> dict[str, str]:
    """Every URL the frontier knows → its status."""
    with closing(open_state(settings, readonly=True)) as db:
        return {row[0]: row[1] for row in db.execute("SELECT url, status FROM crawl_frontier")}


def numbers(settings: Settings) -> dict[str, int]:
    """Each article id → its ingest number (what alerts count "new" by)."""
    with closing(open_state(settings, readonly=True)) as db:
        return {row[0]: int(row[1]) for row in db.execute("SELECT id, seq FROM article_numbers")}


# --- the tests' own Redis, emptied for each -------------------------------------------------------------------

GAP = 0.05


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    connection = Redis.from_url(redis_url)
    connection.flushdb()  # each test's queues, leases and gaps of its own
    yield connection
    connection.close()


class Enqueuer:
    """``queued_crawl`` in a thread of the test (the crawl's side), its report or error kept."""

    def __init__(self, sources: list[Source], settings: Settings, connection: Redis, workers_write: bool) -> None:
        self.report: CrawlReport | None = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.report = queued_crawl(sources, settings, connection, workers_write=workers_write)
            except BaseException as e:  # noqa: BLE001 - handed to the test, which fails on it
                self.error = e

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def result(self) -> CrawlReport:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the queued crawl did not end"
        assert self.error is None, self.error
        assert self.report is not None
        return self.report


def finish(*workers: subprocess.Popen[bytes]) -> None:
    """Each worker ran until the queues were empty and exited well (else its log, and where it hung)."""
    for worker in workers:
        try:
            _, err = worker.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGABRT)  # its threads' stacks, from the fault handler
            _, err = worker.communicate(timeout=WAIT)
        assert worker.returncode == 0, err.decode()


# --- leases -----------------------------------------------------------------------------------------------------


def test_a_host_is_leased_to_one_worker_at_a_time_and_released_only_by_its_holder(redis: Redis) -> None:
    one, other = HostLeases(redis), HostLeases(redis)
    lease = one.acquire("slow.example")
    assert lease is not None
    assert other.acquire("slow.example") is None  # at once, not waited for
    fast = other.acquire("fast.example")
    assert fast is not None  # another host is free
    assert other.release(fast) is True
    # The lease ran out and another worker took the host: the first holder's release must not free it.
    redis.set(lease_key("slow.example"), "elsewhere:1:token")
    assert one.release(lease) is False
    assert redis.get(lease_key("slow.example")) == b"elsewhere:1:token"


def test_a_lease_is_renewed_while_held(redis: Redis) -> None:
    leases = HostLeases(redis, ttl=0.3)
    lease = leases.acquire("example.org")
    assert lease is not None
    time.sleep(1.0)  # three lifetimes of an unrenewed lease
    assert redis.get(lease_key("example.org")) == lease.token.encode()
    assert leases.release(lease) is True
    assert redis.get(lease_key("example.org")) is None


def test_a_lease_whose_holder_died_on_this_machine_is_taken_over(redis: Redis) -> None:
    import socket

    gone = subprocess.Popen(["true"])
    gone.wait()
    redis.set(lease_key("example.org"), f"{socket.gethostname()}:{gone.pid}:token", px=60_000)
    leases = HostLeases(redis)
    lease = leases.acquire("example.org")
    assert lease is not None
    assert leases.release(lease) is True


def test_worker_without_redis_says_how_to_name_one(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSDESK_REDIS_URL", raising=False)
    assert main(["worker", "--burst", "--index", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "redis_url is not set" in err and "NEWSDESK_REDIS_URL" in err
    assert "Traceback" not in err


# --- politeness across workers ------------------------------------------------------------------------------------


def test_two_workers_never_ask_one_host_at_once_and_keep_its_gap_while_another_host_proceeds(
    tmp_path: Path, redis: Redis, redis_url: str
) -> None:
    gap, slow_for = 0.3, 0.15
    web = Web()
    visits: list[tuple[float, float, str]] = []  # (start, end, path) of each request to the slow host, server side
    lock = threading.Lock()
    try:
        slow, slow_source = news_site(web, "Slow", 4, host="127.0.0.2")
        fast, fast_source = news_site(web, "Fast", 8, host="127.0.0.3")
        for path, route in list(slow.routes.items()) + [("/robots.txt", lambda: Reply(404, b""))]:
            def timed(route: Callable[[], Reply] = route, path: str = path) -> Reply:
                start = time.monotonic()
                time.sleep(slow_for)  # a slow server: two workers at once would overlap here
                with lock:
                    visits.append((start, time.monotonic(), path))
                return route()
            slow.routes[path] = timed
        settings = make_settings(tmp_path / "instance", crawl_min_gap=gap)
        enqueuer = Enqueuer([slow_source, fast_source], settings, redis, workers_write=False)
        wait_for(lambda: enqueuer_running(redis_url), "the crawl to start")
        workers = [start_worker(settings, redis_url, queues="crawl") for _ in range(2)]
        finish(*workers)
        report = enqueuer.result()
        assert report.added == 12 and report.failed == 0
        visits.sort()
        paths = [path for _, _, path in visits]
        assert paths[0] == "/robots.txt"
        # Each page and the feed once; robots.txt once per worker process at most (each keeps its own copy).
        assert sorted(p for p in paths if p != "/robots.txt") == ["/feed.rss", "/p/0", "/p/1", "/p/2", "/p/3"]
        assert 1 <= paths.count("/robots.txt") <= 2
        for (_, end, _), (start, _, _) in itertools.pairwise(visits):
            assert start >= end, "two requests to the slow host at once"
            assert start - end >= gap - 0.01, f"only {start - end:.3f} s between two requests to the slow host"
        fast_asked = [r.at for r in web.requests() if r.origin == fast.origin]
        busy = (visits[0][0], visits[-1][1])
        assert sum(busy[0] < at < busy[1] for at in fast_asked) >= 4, "the fast host waited for the slow one"
    finally:
        web.close()


# --- a queued crawl gives the index an in-process crawl gives ----------------------------------------------------


def test_queued_crawl_with_two_workers_builds_the_index_an_in_process_crawl_builds(
    tmp_path: Path, redis: Redis, redis_url: str
) -> None:
    web = Web()
    try:
        _, first = news_site(web, "Wire", 6, host="127.0.0.4")
        _, second = news_site(web, "Daily", 5, host="127.0.0.5")
        listed = sources_file(tmp_path / "sources.toml", [first, second])
        here = crawl([first, second], make_settings(tmp_path / "here", crawl_min_gap=GAP), progress=False)
        queued = make_settings(tmp_path / "queued", crawl_min_gap=GAP)
        env = {**os.environ, "NEWSDESK_REDIS_URL": redis_url, "NEWSDESK_CRAWL_MIN_GAP": str(GAP)}
        crawler = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "queue", "crawl", "--sources", str(listed), "--index", str(queued.index)],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        wait_for(lambda: enqueuer_running(redis_url), "the queued crawl to start")
        finish(start_worker(queued, redis_url), start_worker(queued, redis_url))
        out, err = crawler.communicate(timeout=WAIT)
        assert crawler.returncode == 0, err.decode()
        assert "articles added 11," in out.decode() and "failed 0," in out.decode()
        in_process = {doc["id"]: doc["title"] for doc in stored(make_settings(tmp_path / "here"))}
        from_workers = [(doc["id"], doc["title"]) for doc in stored(queued)]
        assert len(from_workers) == len(in_process) == here.added == 11
        assert dict(from_workers) == in_process  # the same ids, each once
        assert frontier(queued) == frontier(make_settings(tmp_path / "here"))
    finally:
        web.close()


def test_queued_ingest_cleans_in_workers_and_indexes_what_ingest_indexes(
    tmp_path: Path, redis: Redis, redis_url: str
) -> None:
    here = make_settings(tmp_path / "here", workers=1)
    ingest([SEED_ARTICLES], here, progress=False)
    queued = make_settings(tmp_path / "queued")
    env = {**os.environ, "NEWSDESK_REDIS_URL": redis_url}
    ingesting = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "queue", "ingest", str(SEED_ARTICLES), "--index", str(queued.index)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    wait_for(lambda: enqueuer_running(redis_url), "the queued ingest to start")
    finish(start_worker(queued, redis_url, queues="extract"))
    out, err = ingesting.communicate(timeout=WAIT)
    assert ingesting.returncode == 0, err.decode()
    expected = {doc["id"]: doc["title"] for doc in stored(here)}
    assert f"added {len(expected)}," in out.decode()
    assert {doc["id"]: doc["title"] for doc in stored(queued)} == expected
    assert sorted(numbers(queued).values()) == list(range(1, len(expected) + 1))


# --- a killed worker's job is retried, and nothing is indexed twice --------------------------------------------


@pytest.mark.parametrize("workers_write", [True, False], ids=["workers-write", "the-crawl-writes"])
@pytest.mark.parametrize("crash_at", ["fetched", "written"])
def test_a_killed_workers_job_runs_again_and_nothing_is_indexed_twice(
    tmp_path: Path, redis: Redis, redis_url: str, crash_at: str, workers_write: bool
) -> None:
    web = Web()
    try:
        site, source = news_site(web, "Wire", 4)
        settings = make_settings(tmp_path / "instance", crawl_min_gap=GAP)
        enqueuer = Enqueuer([source], settings, redis, workers_write=workers_write)
        wait_for(lambda: enqueuer_running(redis_url), "the crawl to start")
        doomed = start_worker(settings, redis_url, crash_at=f"{crash_at}:/p/2")
        doomed.wait(WAIT)
        assert doomed.returncode == -signal.SIGKILL  # killed inside the job for /p/2
        before = numbers(settings) if workers_write and crash_at == "written" else {}
        finish(start_worker(settings, redis_url))  # takes the abandoned job over, and the rest
        report = enqueuer.result()

        asked = [r.path for r in web.requests() if r.path.startswith("/p/")]
        assert asked.count("/p/2") == 2  # the job ran again
        assert sorted(set(asked)) == [f"/p/{n}" for n in range(4)]
        docs = stored(settings)
        assert sorted(doc["title"] for doc in docs) == [f"Wire story number {n}" for n in range(4)]  # each once
        assert len({doc["id"] for doc in docs}) == 4
        assert all(frontier(settings)[site.url(f"/p/{n}")] == "done" for n in range(4))
        ids = numbers(settings)
        assert sorted(ids.values()) == [1, 2, 3, 4]  # no number given twice: alerts see each article once
        if before:  # /p/2's article was written, then written again by the retry: its number is unchanged
            assert before.items() <= ids.items()
            # The killed job's own count never came back; its retry found the article written already.
            assert report.added == 3 and report.unchanged == 1
        else:
            assert report.added == 4
        assert report.failed == 0
    finally:
        web.close()


# --- PostgreSQL: every worker writes its own articles ------------------------------------------------------------


def test_with_postgres_two_workers_write_the_articles_an_in_process_crawl_indexes(
    tmp_path: Path, redis: Redis, redis_url: str, fresh_database: str
) -> None:
    import psycopg

    web = Web()
    try:
        _, first = news_site(web, "Wire", 6, host="127.0.0.4")
        _, second = news_site(web, "Daily", 5, host="127.0.0.5")
        crawl([first, second], make_settings(tmp_path / "here", crawl_min_gap=GAP), progress=False)
        expected = {doc["id"]: doc["title"] for doc in stored(make_settings(tmp_path / "here"))}
        settings = make_settings(tmp_path / "pg", crawl_min_gap=GAP, backend="postgres", database_url=fresh_database)
        enqueuer = Enqueuer([first, second], settings, redis, workers_write=True)
        wait_for(lambda: enqueuer_running(redis_url), "the crawl to start")
        finish(start_worker(settings, redis_url), start_worker(settings, redis_url))
        report = enqueuer.result()
        assert report.added == len(expected) == 11
        with psycopg.connect(fresh_database) as conn:
            rows = conn.execute("SELECT id, title FROM articles").fetchall()
        assert dict(rows) == expected and len(rows) == 11
    finally:
        web.close()


# --- a queued ingest keeps a window of batches in Redis -------------------------------------------------------


def test_with_postgres_a_queued_ingest_holds_a_window_of_batches_in_redis_while_workers_write(
    tmp_path: Path, redis: Redis, redis_url: str, fresh_database: str
) -> None:
    """However long the input, the enqueuer keeps a bounded window of batches queued and waits for replies before
    reading on: 240,000 records once all went into Redis before the first was written."""
    import gzip
    import json

    import psycopg
    from rq import Queue

    from search.workers import QUEUES, queued_ingest
    from search.workers.enqueue import _BATCHES_AHEAD, BATCH_PAGES

    records = tmp_path / "records.jsonl.gz"
    count = (_BATCHES_AHEAD + 6) * BATCH_PAGES
    with gzip.open(records, "wt", encoding="utf-8") as out:
        for n in range(count):
            record = {"id": f"r{n}", "outlet": "Balkan Wire", "lang": "en", "date": f"2019-0{1 + n % 9}-1{n % 10}",
                      "title": f"Report {n}", "body": f"Delegations met for round {n} of the talks. " * 4}
            out.write(json.dumps(record) + "\n")
    settings = make_settings(tmp_path / "pg", backend="postgres", database_url=fresh_database)
    outcome: dict[str, object] = {}
    thread = threading.Thread(target=lambda: outcome.update(report=queued_ingest([records], settings, redis)),
                              daemon=True)
    thread.start()
    def queued() -> int:
        return int(Queue(QUEUES["extract"], connection=redis).count)

    wait_for(lambda: queued() == _BATCHES_AHEAD + 1, "the window of batches to fill")
    time.sleep(0.5)  # no worker yet: the enqueuer waits for a reply instead of queueing the rest
    assert queued() == _BATCHES_AHEAD + 1 and thread.is_alive()
    finish(start_worker(settings, redis_url, queues="extract"))
    thread.join(WAIT)
    report = outcome["report"]
    with psycopg.connect(fresh_database) as conn:
        written = int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])  # type: ignore[index]
    assert report.added == written == count  # type: ignore[attr-defined]
