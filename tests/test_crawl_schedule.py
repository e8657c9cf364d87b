"""Crawling on a schedule: ``newsdesk serve`` keeps the news flowing, no cron job needed.

A loopback news site of three outlets on three hosts — a busy wire whose feed
gains a story every second, a quiet weekly whose feed never changes, and a
daily whose feed answers 500 — is added with ``newsdesk sources add`` and
left to a real ``newsdesk serve`` process. The tests then read only what the
other side sees: the requests the servers logged, the index, the mail the
SMTP server accepted, and the schedule in the instance's state.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT, Inbox, free_port, make_settings
from loopback import Reply, Request, Web, html, paragraphs, rss
from search.crawl.crawler import CRAWL_LOCK, crawl
from search.crawl.loop import crawl_due
from search.crawl.schedule import Schedule, next_interval
from search.errors import CrawlBusy, IndexBusy
from search.index import open_index
from search.records import Source
from search.settings import Settings
from search.sources import add_source
from search.state import open_state
from web.cli import main

FLOOR, CEILING = 0.5, 6.0  # the test's crawl_interval_min and _max, seconds
BUSY_EVERY = 1.0  # the busy wire publishes a story every this many seconds


# --- the news site -----------------------------------------------------------------


@dataclass
class NewsSite:
    web: Web
    busy: str  # homepage URLs
    quiet: str
    broken: str
    late: str  # a fourth outlet, added while the server runs
    started: float

    def feed_requests(self, homepage: str) -> list[Request]:
        origin = homepage.rstrip("/")
        return [r for r in self.web.requests() if r.origin == origin and r.path.startswith("/feed.xml")]


def _homepage(name: str) -> Callable[[], Reply]:
    body = (f'<!doctype html><html><head><meta charset="utf-8"><title>{name} | Home</title>'
            f'<meta property="og:site_name" content="{name}">'
            f'<link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>'
            f"<body><h1>{name}</h1></body></html>").encode()
    return lambda: Reply(body=body)


def _story_title(n: int) -> str:
    # From the sixth story on, the wire reports from Zlatibor: what the saved search waits for.
    return f"Zlatibor talks, day {n}" if n >= 6 else f"Brussels dialogue, round {n}"


def _busy_feed(site_url: Callable[[str], str], started: float) -> Callable[[], Reply]:
    def answer() -> Reply:
        count = min(3 + int((time.monotonic() - started) / BUSY_EVERY), 60)
        items = [(site_url(f"/story/{n}"), _story_title(n), None) for n in range(count)]
        return Reply(body=rss(items), headers={"Content-Type": "application/rss+xml"})
    return answer


def _story(n: int) -> Callable[[], Reply]:
    body = html(_story_title(n), _story_title(n)).encode()  # its own text: no two stories are copies
    return lambda: Reply(body=body)


@pytest.fixture
def news_site() -> Iterator[NewsSite]:
    web = Web()
    started = time.monotonic()
    busy, quiet, broken, late = (web.site(host) for host in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"))
    busy.routes["/"] = _homepage("Busy Wire")
    busy.routes["/feed.xml"] = _busy_feed(busy.url, started)
    for n in range(60):
        busy.routes[f"/story/{n}"] = _story(n)
    quiet.routes["/"] = _homepage("Quiet Weekly")
    quiet_items = [(quiet.url(f"/essay/{n}"), f"Essay {n} on the dialogue", None) for n in range(2)]
    quiet.routes["/feed.xml"] = lambda: Reply(body=rss(quiet_items), headers={"Content-Type": "application/rss+xml"})
    for n in range(2):
        quiet.routes[f"/essay/{n}"] = _story(100 + n)
    broken.routes["/"] = _homepage("Broken Daily")
    broken_feed = {"healthy": True}
    good_feed = rss([(broken.url("/news/1"), "News 1", None)])
    broken.routes["/feed.xml"] = lambda: (Reply(body=good_feed, headers={"Content-Type": "application/rss+xml"})
                                          if broken_feed["healthy"] else Reply(500, b"down"))
    broken.routes["/news/1"] = _story(200)
    late.routes["/"] = _homepage("Late Gazette")
    late.routes["/feed.xml"] = lambda: Reply(body=rss([]), headers={"Content-Type": "application/rss+xml"})
    site = NewsSite(web, busy.url("/"), quiet.url("/"), broken.url("/"), late.url("/"), started)
    site.broken_feed = broken_feed  # type: ignore[attr-defined]
    yield site
    web.close()


def _cli(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with redirect_stdout(out):
            code = main(list(args))
    finally:
        sys.stdin = old_stdin
    assert code == 0, out.getvalue()
    return out.getvalue()


def _settings_file(instance: Path, smtp_port: int, **extra: object) -> None:
    values = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "crawl_interval_min": FLOOR,
              "crawl_interval_max": CEILING, "crawl_min_gap": 0.0, "crawl_retries": 0, "alerts_interval": 0,
              "workers": 1, **extra}
    lines = [f"{key} = {value!r}".replace("'", '"') if isinstance(value, str) else f"{key} = {value}"
             for key, value in values.items()]
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "newsdesk.toml").write_text("\n".join(lines) + "\n")


def _wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _titles(settings: Settings) -> set[str]:
    try:
        with open_index(settings).searcher() as searcher:
            return {str(fields["title"]) for fields in searcher.all_stored_fields()}
    except Exception:  # noqa: BLE001 - no index yet: nothing crawled so far
        return set()


def _descendants(pid: int) -> set[int]:
    """Every live process under ``pid`` (children of any of its threads, and theirs)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = {int(n) for n in (task / "children").read_text().split()}
        except OSError:
            continue
        for child in children:
            found |= {child, *_descendants(child)}
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _text(message: object) -> str:
    body = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    return f"{message['Subject']}\n{body.get_content() if body is not None else ''}"  # type: ignore[index]


def _schedule(settings: Settings, name: str) -> tuple[float, int]:
    connection = open_state(settings, readonly=True)
    try:
        row = connection.execute("SELECT interval, failures FROM crawl_schedule WHERE name = ?", (name,)).fetchone()
    finally:
        connection.close()
    assert row is not None, f"{name} was never scheduled"
    return float(row["interval"]), int(row["failures"])


# --- the whole story, through the commands a user types ----------------------------------


def test_serve_crawls_added_sources_on_their_own_schedule_and_alerts_arrive_without_cron(
    tmp_path: Path, news_site: NewsSite, inbox: tuple[Inbox, int]
) -> None:
    mail, smtp_port = inbox
    instance = tmp_path / "instance"
    _settings_file(instance, smtp_port)
    settings = make_settings(instance, crawl_interval_min=FLOOR, crawl_interval_max=CEILING)
    index = ("--index", str(instance))
    # A collection in one command.
    collection = tmp_path / "archive.jsonl"
    collection.write_text("".join(
        json.dumps({"id": f"old-{n}", "title": f"Archive story {n}", "text": " ".join(paragraphs(f"archive {n}")),
                    "source": "Old Archive", "date": f"2019-03-0{n + 1}", "lang": "en"}) + "\n"
        for n in range(3)
    ))
    assert "added 3" in _cli("ingest", str(collection), *index)
    # An outlet by its homepage URL: the feed is found on the page and checked once.
    added = _cli("sources", "add", news_site.busy, *index)
    assert "added Busy Wire" in added and "feed.xml" in added and "pages listed" in added
    # Another from a feed reader's OPML file.
    opml = tmp_path / "reader.opml"
    opml.write_text(f"""<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head><title>My feeds</title></head>
<body><outline text="Balkans" title="Balkans"><outline type="rss" text="Quiet Weekly" title="Quiet Weekly"
 xmlUrl="{news_site.quiet}feed.xml" htmlUrl="{news_site.quiet}"/></outline></body></opml>""")
    assert "added 1" in _cli("sources", "import", str(opml), *index)
    _cli("sources", "add", news_site.broken, *index)
    news_site.broken_feed["healthy"] = False  # type: ignore[attr-defined]  # down from now on
    _cli("users", "add", "ana@example.org", *index, stdin="a long password\n")
    _cli("alerts", "add", "--user", "ana@example.org", "--name", "Zlatibor", "--query", "Zlatibor",
         "--frequency", "instant", "--email", *index)

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port), *index], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        # Nobody runs a crawl: the server's background crawler does, and the alert follows the commit.
        _wait_for(lambda: any("Zlatibor" in title for title in _titles(settings)), 90, "the Zlatibor story indexed")
        _wait_for(lambda: any("Zlatibor talks" in _text(m) for m in mail.messages), 60, "the instant alert")
        # A source added while the server runs is due at once.
        _cli("sources", "add", news_site.late, *index)
        added_at = time.monotonic()
        _wait_for(lambda: news_site.feed_requests(news_site.late)[-1:] and
                  news_site.feed_requests(news_site.late)[-1].at > added_at, 30, "the new source's feed read")
        # Let the schedule settle, then read it.
        time.sleep(2 * CEILING)
        below = _descendants(server.pid)
        assert len(below) >= 2  # at least the fork server and the crawl process
    finally:
        server.send_signal(signal.SIGTERM)  # as a service manager stops it
        output = server.communicate(timeout=60)[0].decode()
    assert server.returncode in (0, 130), output
    assert "Traceback" not in output, output
    _wait_for(lambda: not any(_alive(pid) for pid in below), 10, "the crawl process and the fork server to exit")
    assert {f"Archive story {n}" for n in range(3)} <= _titles(settings)  # the collection is still there

    # Each article once: no Zlatibor story is in two messages, and none before the sixth story.
    texts = [_text(m) for m in mail.messages]
    told = [day for text in texts for day in set(re.findall(r"Zlatibor talks, day (\d+)", text))]
    assert told and len(told) == len(set(told)), told
    assert not any("Brussels dialogue" in text for text in texts)

    # The busy wire is read more often than the quiet weekly, and its interval is shorter.
    busy, quiet = news_site.feed_requests(news_site.busy), news_site.feed_requests(news_site.quiet)
    assert len(busy) > len(quiet), (len(busy), len(quiet))
    busy_interval, _ = _schedule(settings, "Busy Wire")
    quiet_interval, _ = _schedule(settings, "Quiet Weekly")
    assert FLOOR <= busy_interval < quiet_interval <= CEILING

    # The failing daily backs off: its interval doubled with each failure, up to the ceiling.
    interval, failures = _schedule(settings, "Broken Daily")
    assert failures >= 2
    assert interval == pytest.approx(min(FLOOR * 2 ** failures, CEILING))
    # Never asked before its time: after its k-th failure it waited at least FLOOR × 2^k.
    broken = [r.at for r in news_site.feed_requests(news_site.broken)][1:]  # the first was `sources add`'s check
    assert len(broken) >= 3
    for k, (earlier, later) in enumerate(itertools.pairwise(broken), start=1):
        assert later - earlier >= 0.95 * min(FLOOR * 2**k, CEILING), (k, later - earlier)


# --- the rules, one at a time ---------------------------------------------------------------


@given(
    previous=st.one_of(st.none(), st.floats(0.01, 1e6)),
    failed=st.booleans(),
    watched=st.floats(0, 30 * 86400),
    new_pages=st.integers(0, 10_000),
    floor=st.floats(0.01, 3600),
    ceiling=st.floats(0.01, 86400),
)
def test_an_interval_stays_within_its_bounds(
    previous: float | None, failed: bool, watched: float, new_pages: int, floor: float, ceiling: float
) -> None:
    interval = next_interval(previous, failed, watched, new_pages, floor, ceiling)
    assert floor <= interval <= max(floor, ceiling)


def test_a_failure_doubles_the_interval_up_to_the_ceiling() -> None:
    assert next_interval(None, True, 0, 0, 300, 21600) == 600
    assert next_interval(600, True, 0, 0, 300, 21600) == 1200
    assert next_interval(16000, True, 0, 0, 300, 21600) == 21600


def test_the_interval_follows_the_rate_of_new_pages() -> None:
    day = 86400.0
    assert next_interval(300, False, day, 288, 300, 21600) == 300  # every 5 minutes: as often as allowed
    assert next_interval(300, False, day, 24, 300, 21600) == 3600  # hourly
    assert next_interval(300, False, day, 0, 300, 21600) == 21600  # nothing in a day: as seldom as allowed
    assert next_interval(300, False, 600, 0, 300, 21600) == 600  # quiet so far: the time watched
    assert next_interval(300, False, 0, 0, 300, 21600) == 300  # just added


def test_a_new_source_is_due_at_once_and_a_robots_delay_is_a_floor(fresh: Settings) -> None:
    connection = open_state(fresh)
    try:
        schedule = Schedule(connection)
        assert schedule.due_names(["New Outlet"], time.time()) == ["New Outlet"]
        assert schedule.next_due(["New Outlet"]) == 0.0
    finally:
        connection.close()
    from protego import Protego

    from search.crawl.politeness import origin_of
    from search.crawl.schedule import floor_for

    source = Source(name="Slowpoke", url="http://slow.example/", feeds=("http://slow.example/feed",))
    robots = {origin_of(source.url): Protego.parse("User-agent: *\nCrawl-delay: 900\n")}
    assert floor_for(source, make_settings(fresh.index, crawl_interval_min=300.0), robots) == 900


def test_one_crawl_at_a_time_per_instance(fresh: Settings) -> None:
    import fcntl

    fresh.index.mkdir(parents=True)
    with (fresh.index / CRAWL_LOCK).open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(CrawlBusy):
            crawl([Source(name="Any", url="http://127.0.0.1:9/")], fresh, progress=False)


def test_a_crawl_waits_for_an_ingest_holding_the_writer_lock(tmp_path: Path) -> None:
    from search.archive import open_archive

    settings = make_settings(tmp_path / "instance", write_timeout=0.3)
    add_source(settings, Source(name="Any", url="http://127.0.0.1:9/", feeds=("http://127.0.0.1:9/feed",)))
    archive = open_archive(settings)  # what an ingest holds while it writes
    try:
        with pytest.raises(IndexBusy):
            crawl_due(settings)
    finally:
        archive.close()
    # Nothing was recorded for the source: it is still due.
    connection = open_state(settings)
    try:
        assert Schedule(connection).due_names(["Any"], time.time()) == ["Any"]
    finally:
        connection.close()


def test_crawl_loop_runs_until_interrupted(tmp_path: Path, news_site: NewsSite, inbox: tuple[Inbox, int]) -> None:
    instance = tmp_path / "instance"
    _settings_file(instance, inbox[1])
    _cli("sources", "add", news_site.quiet, "--index", str(instance))
    loop = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "crawl", "--loop", "--index", str(instance)], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    settings = make_settings(instance)
    try:
        _wait_for(lambda: len(_titles(settings)) == 2, 60, "the weekly's two essays")
        _wait_for(lambda: len(news_site.feed_requests(news_site.quiet)) >= 3, 30, "the feed read again")
    finally:
        loop.send_signal(signal.SIGINT)
        output = loop.communicate(timeout=60)[0].decode()
    assert loop.returncode in (0, 130), output
    assert "Traceback" not in output, output
    assert "Quiet Weekly: fetched" in output


def test_the_background_crawler_waits_for_a_source_and_stops_with_the_server(
    tmp_path: Path, news_site: NewsSite
) -> None:
    import multiprocessing

    from search.crawl import BackgroundCrawler

    settings = make_settings(tmp_path / "instance", crawl_interval_min=FLOOR, crawl_interval_max=CEILING,
                             crawl_min_gap=0.0, workers=1)
    crawler = BackgroundCrawler(settings).start()
    try:
        time.sleep(2 * FLOOR)
        # A new instance (`make run`) has nothing to crawl: no process, no network.
        assert not [p for p in multiprocessing.active_children() if p.name == "newsdesk-crawler"]
        assert news_site.web.requests() == []
        add_source(settings, Source(name="Quiet Weekly", url=news_site.quiet,
                                    feeds=(news_site.quiet + "feed.xml",)))
        _wait_for(lambda: len(_titles(settings)) == 2, 60, "the weekly's two essays")
        assert [p.name for p in multiprocessing.active_children()].count("newsdesk-crawler") == 1
    finally:
        stopping = time.monotonic()
        crawler.shutdown()
    assert time.monotonic() - stopping < 10
    assert not [p for p in multiprocessing.active_children() if p.name == "newsdesk-crawler"]


def test_a_source_robots_txt_keeps_out_backs_off_instead_of_being_asked_again_at_once(
    tmp_path: Path, news_site: NewsSite
) -> None:
    site = news_site.web.site("127.0.0.5")
    site.routes["/robots.txt"] = lambda: Reply(body=b"User-agent: *\nDisallow: /\n",
                                               headers={"Content-Type": "text/plain"})
    settings = make_settings(tmp_path / "instance", crawl_interval_min=FLOOR, crawl_interval_max=CEILING,
                             crawl_min_gap=0.0)
    add_source(settings, Source(name="Closed", url=site.url("/"), feeds=(site.url("/feed.xml"),)))
    report = crawl_due(settings).report
    assert report is not None and report.robots == 1
    assert _schedule(settings, "Closed") == (2 * FLOOR, 1)
    assert crawl_due(settings).crawled == ()  # not due again until its interval has passed


def test_a_crawl_yields_to_an_ingest_waiting_for_the_index_and_resumes_next_turn(
    tmp_path: Path, news_site: NewsSite
) -> None:
    import threading

    from search.archive import open_archive
    from search.crawl import CrawlReport

    site = news_site.web.site("127.0.0.6")
    count = 30
    site.routes["/feed.xml"] = lambda: Reply(body=rss([(site.url(f"/p/{n}"), f"Page {n}", None) for n in range(count)]),
                                             headers={"Content-Type": "application/rss+xml"})
    for n in range(count):
        site.routes[f"/p/{n}"] = _story(300 + n)
    settings = make_settings(tmp_path / "instance", crawl_min_gap=0.2, write_timeout=60.0, workers=1)
    add_source(settings, Source(name="Long Read", url=site.url("/"), feeds=(site.url("/feed.xml"),)))
    reports: list[CrawlReport | None] = []
    crawler = threading.Thread(target=lambda: reports.append(crawl_due(settings).report))
    crawler.start()
    _wait_for(lambda: sum(r.path.startswith("/p/") for r in news_site.web.requests()) >= 5, 60, "a few pages")
    waited = time.monotonic()
    archive = open_archive(settings)  # what `newsdesk ingest` does first: it waits for the crawl...
    waited = time.monotonic() - waited
    archive.close()
    crawler.join(30)
    [first] = reports
    assert first is not None and 0 < first.added < count  # ...which stopped early instead of making it wait long
    assert waited < 10, waited
    # The pages left are due at once, although the source's own schedule is not.
    second = crawl_due(settings)
    assert second.crawled == ("Long Read",) and second.report is not None
    assert first.added + second.report.added == count
    assert len(_titles(settings)) == count  # each page once


def test_a_source_removed_and_added_again_is_new_again(tmp_path: Path, news_site: NewsSite) -> None:
    from search.crawl import stop_following

    settings = make_settings(tmp_path / "instance", crawl_interval_min=60.0, crawl_min_gap=0.0, workers=1)
    weekly = Source(name="Quiet Weekly", url=news_site.quiet, feeds=(news_site.quiet + "feed.xml",))
    add_source(settings, weekly)
    assert crawl_due(settings).crawled == ("Quiet Weekly",)
    assert crawl_due(settings).crawled == ()  # its next crawl is a minute away
    assert stop_following(settings, "quiet weekly").name == "Quiet Weekly"
    assert crawl_due(settings).crawled == ()  # not followed any more
    add_source(settings, weekly)
    assert crawl_due(settings).crawled == ("Quiet Weekly",)  # due at once, as any source just added


def test_the_loop_outlives_a_turn_that_fails_and_says_why(
    tmp_path: Path, news_site: NewsSite, caplog: pytest.LogCaptureFixture
) -> None:
    """The state database held by another process past the wait: that turn fails, logged in full; the next runs."""
    import sqlite3
    import threading

    from search.crawl import crawl_loop
    from search.state import state_path

    settings = make_settings(tmp_path / "instance", crawl_interval_min=0.2, crawl_min_gap=0.0, write_timeout=0.1,
                             workers=1)
    add_source(settings, Source(name="Quiet Weekly", url=news_site.quiet, feeds=(news_site.quiet + "feed.xml",)))
    holder = sqlite3.connect(state_path(settings), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # what a long write of another process looks like
    turns: list[object] = []
    stop = threading.Event()
    loop = threading.Thread(target=crawl_loop, args=(settings,),
                            kwargs={"stop": stop, "progress": False, "on_turn": turns.append})
    loop.start()
    try:
        _wait_for(lambda: "crawl turn failed" in caplog.text, 30, "the failed turn logged")
        assert "database is locked" in caplog.text and not turns
        holder.execute("COMMIT")
        _wait_for(lambda: turns, 60, "a turn after the database was free again")
    finally:
        stop.set()
        loop.join(30)
        holder.close()
    assert not loop.is_alive()
