"""The crawler against real HTTP servers on loopback, serving fixture sites.

Three origins on two hosts: "Balkan Wire" (127.0.0.1, robots.txt, RSS, Atom,
a gzipped news sitemap under a sitemap index, and every awkward answer a
crawler meets), "Wire Mirror" (127.0.0.2, no robots.txt, a feed found only
through its homepage, the same wire story) and a third origin on 127.0.0.1
whose robots.txt answers 503. Every request the servers see is logged, so
the tests assert manners from the servers' side: what was asked, in what
order, how far apart.
"""

from __future__ import annotations

import gzip
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from html import escape as html_escape
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import ROOT, SHARED, make_settings
from loopback import (
    Reply,
    Request,
    Site,
    Web,
    atom,
    html,
    page,
    reply,
    rss,
    sequence,
)
from search.crawl import crawl_health
from search.crawl.crawler import CrawlReport, crawl
from search.crawl.discover import parse_feed, parse_sitemap
from search.crawl.fetch import robots_directives
from search.crawl.work import FetchContext, Outcome, fetch_article
from search.decode import decode_html
from search.errors import CrawlError, SettingsError
from search.index import open_index
from search.records import Source
from search.settings import Settings
from search.sources import load_sources
from search.state import open_state

GAP = 0.2  # the test's politeness gap, seconds
MAX_BYTES = 64 * 1024
LARGE_STREAM = 20 * 1024 * 1024


CYRILLIC_TEXT = [
    ("Министр иностранных дел России Сергей Лавров заявил в четверг, что Москва готова поддержать любое "
     "решение по Косово, которое устроит Белград, и призвал Европейский союз к сбалансированному подходу."),
    ("По словам министра, переговоры между Белградом и Приштиной должны продолжаться на основе резолюции "
     "Совета Безопасности ООН, а односторонние шаги только осложняют обстановку в регионе и вокруг него."),
    ("Лавров также отметил, что российская сторона поддерживает постоянные контакты с сербским руководством "
     "и внимательно следит за ситуацией на севере края, где в последние недели усилилась напряжённость."),
]


@dataclass
class Fixture:
    web: Web
    a: Site  # Balkan Wire
    b: Site  # Wire Mirror
    c: Site  # an origin whose robots.txt is unreachable
    settings: Settings
    sources: list[Source]
    first: CrawlReport
    second: CrawlReport
    first_requests: list[Request]
    second_requests: list[Request]


def build_balkan_wire(a: Site, c: Site, sitemap_lastmod: dict[str, str]) -> None:
    u = a.url
    a.routes.update({
        "/robots.txt": reply(200, b"User-agent: *\nDisallow: /private/\n", Content_Type="text/plain"),
        "/feed.rss": lambda: Reply(body=rss([
            (u("/news/lavrov?utm_source=rss&utm_medium=feed#top"), "Lavrov", "Fri, 21 Sep 2018 10:00:00 GMT"),
            (u("/news/cyrillic"), "Lavrov in Russian", None),
            (u("/private/secret"), "Secret", None),
            (u("/news/moved"), "Moved", None),
            (u("/news/missing"), "Missing", None),
            (u("/news/busy"), "Busy", None),
            (u("/news/flaky"), "Flaky", None),
            (u("/news/huge"), "Huge", None),
            (u("/news/stream"), "Stream", None),
            (u("/news/binary"), "Binary", None),
            (u("/news/loop"), "Loop", None),
            (u("/news/noindex"), "Noindex", None),
            (u("/news/noarchive"), "Noarchive", None),
            (u("/news/picture"), "Picture", None),
            (u("/news/offsite"), "Offsite", None),
            (u("/news/wire-story"), "Wire", None),
            (u("/video/clip"), "Denied by the source's pattern", None),
        ]), headers={"Content-Type": "application/rss+xml"}),
        "/atom.xml": lambda: Reply(body=atom([
            (u("/news/atom-story"), "Atom story", "2019-03-04T05:06:07Z"),
            (u("/news/lavrov?fbclid=abc123"), "Lavrov again", "2018-09-21T10:00:00Z"),
        ]), headers={"Content-Type": "application/atom+xml"}),
        "/sitemap-index.xml": lambda: Reply(body=(
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{u('/sitemap-news.xml.gz')}</loc></sitemap></sitemapindex>").encode(),
            headers={"Content-Type": "application/xml"}),
        "/sitemap-news.xml.gz": lambda: Reply(body=gzip.compress((
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"<url><loc>{u('/news/sitemap-story')}</loc><lastmod>{sitemap_lastmod['story']}</lastmod>"
            "<news:news><news:publication_date>2020-05-06T07:08:09+02:00</news:publication_date></news:news></url>"
            f"<url><loc>{u('/news/lavrov-alias')}</loc></url>"
            "</urlset>").encode(), mtime=0), headers={"Content-Type": "application/x-gzip"}),
        "/news/lavrov": page("Lavrov meets Vucic", "Lavrov", canonical=u("/news/lavrov")),
        "/news/lavrov-alias": page("Lavrov meets Vucic", "Lavrov", canonical=u("/news/lavrov?utm_campaign=x")),
        "/news/cyrillic": lambda: Reply(
            body=html("Лавров о Косово", "", charset="windows-1251", text=CYRILLIC_TEXT).encode("cp1251"),
            headers={"Content-Type": "text/html; charset=windows-1251"}),
        "/private/secret": page("Secret", "secret"),
        "/news/moved": reply(301, Location="/news/moved-here"),
        "/news/moved-here": page("Moved story", "relocation"),
        "/news/busy": sequence(Reply(429, b"slow down", {"Retry-After": "1"}), Reply(body=html("Busy", "patience").encode())),
        "/news/flaky": sequence(Reply(500, b"oops", {}), Reply(body=html("Flaky story", "resilience").encode())),
        "/news/huge": lambda: Reply(body=html("Huge", "size", text=["word " * 30_000]).encode()),
        "/news/stream": lambda: Reply(stream=lambda: (b"<p>" + b"x" * 65_533 for _ in range(LARGE_STREAM // 65_536))),
        "/news/binary": lambda: Reply(body=bytes(range(256)) * 64),
        "/news/loop": reply(302, Location="/news/loop2"),
        "/news/loop2": reply(302, Location="/news/loop"),
        "/news/noindex": page("Do not index me", "privacy", robots="noindex, nofollow"),
        "/news/noarchive": page("Index but do not archive", "archives", robots="noarchive"),
        "/news/picture": lambda: Reply(body=b"\x89PNG\r\n", headers={"Content-Type": "image/png"}),
        "/news/offsite": reply(301, Location=c.url("/elsewhere")),
        "/news/wire-story": page("Wire story on energy", "energy"),
        "/news/atom-story": page("Atom story on the dialogue", "dialogue"),
        "/news/sitemap-story": page("Sitemap story on diplomas", "diplomas"),
        "/video/clip": page("A clip", "video"),
    })


def build_wire_mirror(b: Site) -> None:
    b.routes.update({  # no robots.txt: 404 means everything is allowed
        "/": lambda: Reply(body=(
            b'<html><head><link rel="alternate" type="application/atom+xml" href="/feed.atom"></head>'
            b"<body>Front page</body></html>")),
        "/feed.atom": lambda: Reply(body=atom([(b.url("/story/wire-copy"), "Wire copy", "2021-01-02T03:04:05Z")]),
                                    headers={"Content-Type": "application/atom+xml"}),
        "/story/wire-copy": page("Wire story on energy", "energy"),
    })


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    web = Web()
    a, b, c = web.site("127.0.0.1"), web.site("127.0.0.2"), web.site("127.0.0.1")
    lastmod = {"story": "2020-05-06T07:08:09+02:00"}
    build_balkan_wire(a, c, lastmod)
    build_wire_mirror(b)
    c.routes.update({"/robots.txt": reply(503, b"down"), "/elsewhere": page("Elsewhere", "elsewhere")})
    settings = make_settings(
        tmp_path_factory.mktemp("crawl"), crawl_min_gap=GAP, crawl_max_bytes=MAX_BYTES, crawl_timeout=5.0,
        crawl_retries=2, user_agent_contact="mailto:test@example.org", batch_size=5,
    )
    sources = [
        Source("Balkan Wire", a.url("/"), feeds=(a.url("/feed.rss"), a.url("/atom.xml")),
               sitemaps=(a.url("/sitemap-index.xml"),), deny=(r"/video/",)),
        Source("Wire Mirror", b.url("/")),
    ]
    first = crawl(sources, settings, progress=False)
    middle = web.mark()
    lastmod["story"] = "2030-01-01T00:00:00+00:00"  # the sitemap now says this page changed
    second = crawl(sources, settings, progress=False)
    try:
        yield Fixture(web, a, b, c, settings, sources, first, second, web.requests(0, middle), web.requests(middle))
    finally:
        web.close()


def paths(requests: list[Request], site: Site | None = None) -> list[str]:
    return [r.path for r in requests if site is None or r.origin == site.origin]


def stored(settings: Settings) -> list[dict[str, object]]:
    with open_index(settings).searcher() as searcher:
        return [dict(fields) for fields in searcher.all_stored_fields()]


def by_title(settings: Settings, title: str) -> list[dict[str, object]]:
    return [doc for doc in stored(settings) if doc["title"] == title]


# --- manners ----------------------------------------------------------------------------


def test_no_disallowed_path_is_ever_requested(crawled: Fixture) -> None:
    everything = crawled.first_requests + crawled.second_requests
    assert not [r.path for r in everything if r.path.startswith("/private/")]
    assert crawled.first.robots == 1  # /private/secret


def test_robots_txt_comes_first_once_per_origin_per_crawl(crawled: Fixture) -> None:
    for requests in (crawled.first_requests, crawled.second_requests):
        for site in (crawled.a, crawled.b):
            seen = paths(requests, site)
            assert seen[0] == "/robots.txt" and seen.count("/robots.txt") == 1, (site.origin, seen)


def test_unreachable_robots_txt_disallows_the_origin(crawled: Fixture) -> None:
    # /news/offsite redirects to origin C, whose robots.txt answers 503: nothing else is asked there,
    # and the page counts as failed (the origin's fault, backed off), not as kept out by its owner.
    assert paths(crawled.first_requests, crawled.c) == ["/robots.txt"]
    reasons = dict(crawled.first.failures)
    assert reasons[crawled.a.url("/news/offsite")] == f"robots.txt of {crawled.c.origin} unreachable (HTTP 503)"
    assert _status(crawled, crawled.a.url("/news/offsite")) == "failed"


def test_requests_to_one_host_are_at_least_the_gap_apart(crawled: Fixture) -> None:
    for host in ("127.0.0.1", "127.0.0.2"):
        for requests in (crawled.first_requests, crawled.second_requests):
            times = [r.at for r in requests if urlsplit(r.origin).hostname == host]
            gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
            assert len(times) >= 2 and min(gaps) >= GAP - 0.01, (host, min(gaps))


def test_hosts_are_crawled_concurrently(crawled: Fixture) -> None:
    a_times = [r.at for r in crawled.first_requests if r.origin == crawled.a.origin]
    b_times = [r.at for r in crawled.first_requests if r.origin == crawled.b.origin]
    # Wire Mirror is asked while Balkan Wire is still being crawled, not after it.
    assert any(min(a_times) < t < max(a_times) for t in b_times)


def test_user_agent_names_newsdesk_and_a_contact(crawled: Fixture) -> None:
    agents = {r.headers.get("User-Agent") for r in crawled.first_requests}
    assert agents == {"Newsdesk/0.1.0 (+mailto:test@example.org)"}


def test_429_is_retried_after_retry_after(crawled: Fixture) -> None:
    busy = [r for r in crawled.first_requests if r.path == "/news/busy"]
    assert [r.status for r in busy] == [429, 200]
    assert busy[1].at - busy[0].at >= 1.0
    assert by_title(crawled.settings, "Busy")


def test_500_then_success_is_retried(crawled: Fixture) -> None:
    flaky = [r for r in crawled.first_requests if r.path == "/news/flaky"]
    assert [r.status for r in flaky] == [500, 200]
    assert by_title(crawled.settings, "Flaky story")


def test_failures_are_counted_and_reported(crawled: Fixture) -> None:
    reasons = {urlsplit(url).path: reason for url, reason in crawled.first.failures}
    assert reasons["/news/missing"] == "HTTP 404"
    assert reasons["/news/huge"].startswith("larger than 65536 bytes")
    assert reasons["/news/stream"] == "larger than 65536 bytes"
    assert reasons["/news/binary"].startswith("binary body")
    assert reasons["/news/loop"].startswith("redirect loop")
    assert reasons["/news/picture"] == "not an HTML page: image/png"
    assert reasons["/news/offsite"].startswith("robots.txt of")
    assert crawled.first.failed == len(reasons) == 7


def test_a_large_body_is_not_read_past_the_cap(crawled: Fixture) -> None:
    stream = next(r for r in crawled.first_requests if r.path == "/news/stream")
    assert stream.sent < LARGE_STREAM // 2  # the crawler hung up long before the end


def test_redirect_loop_is_cut(crawled: Fixture) -> None:
    loop = paths(crawled.first_requests, crawled.a)
    assert loop.count("/news/loop") == 1 and loop.count("/news/loop2") == 1


# --- what gets indexed ----------------------------------------------------------------


def test_tracking_parameters_and_fragments_are_dropped_and_duplicates_fetched_once(crawled: Fixture) -> None:
    asked = paths(crawled.first_requests, crawled.a)
    assert asked.count("/news/lavrov") == 1  # from RSS with utm_* and #top, and from Atom with fbclid
    assert not [p for p in asked if "utm_" in p or "fbclid" in p]


def test_one_article_reached_by_several_urls_is_stored_once(crawled: Fixture) -> None:
    copies = by_title(crawled.settings, "Lavrov meets Vucic")
    assert len(copies) == 1
    assert copies[0]["url"] == crawled.a.url("/news/lavrov")


def test_syndicated_copies_are_kept_under_each_outlet(crawled: Fixture) -> None:
    copies = by_title(crawled.settings, "Wire story on energy")
    assert sorted(str(doc["outlet"]) for doc in copies) == ["Balkan Wire", "Wire Mirror"]
    # ... and grouped: one cluster (search.index.duplicates), so the UI can say "also published by".
    clusters = {doc.get("cluster") or doc["id"] for doc in copies}
    assert len(clusters) == 1


def test_the_source_name_is_the_outlet_and_feed_dates_travel(crawled: Fixture) -> None:
    lavrov = by_title(crawled.settings, "Lavrov meets Vucic")[0]
    assert lavrov["outlet"] == "Balkan Wire"
    assert lavrov["published_iso"] == "2018-09-21T10:00:00+00:00" and lavrov["published_source"] == "feed"
    story = by_title(crawled.settings, "Sitemap story on diplomas")[0]
    assert story["published_iso"] == "2020-05-06T07:08:09+02:00" and story["published_source"] == "sitemap"


def test_windows_1251_page_reads_right(crawled: Fixture) -> None:
    doc = by_title(crawled.settings, "Лавров о Косово")[0]
    assert "Сергей Лавров" in str(doc["body"]) and doc["language"] == "ru"


def test_redirected_page_is_indexed_under_its_final_url(crawled: Fixture) -> None:
    assert by_title(crawled.settings, "Moved story")[0]["url"] == crawled.a.url("/news/moved-here")
    assert _status(crawled, crawled.a.url("/news/moved")) == "redirected"


def test_noindex_pages_are_not_indexed_and_noarchive_pages_not_archived(crawled: Fixture) -> None:
    assert not by_title(crawled.settings, "Do not index me")
    assert by_title(crawled.settings, "Index but do not archive")
    archive = crawled.settings.index / "archive"
    warcs = b"".join(gzip.decompress(path.read_bytes()) for path in archive.glob("*.warc.gz"))
    assert b"/news/noarchive" not in warcs and b"/news/noindex" not in warcs
    assert b"/news/atom-story" in warcs


def test_deny_patterns_keep_urls_out_of_the_frontier(crawled: Fixture) -> None:
    assert "/video/clip" not in paths(crawled.first_requests)
    assert _status(crawled, crawled.a.url("/video/clip")) is None


def test_exactly_the_allowed_unique_articles_are_indexed(crawled: Fixture) -> None:
    titles = sorted(str(doc["title"]) for doc in stored(crawled.settings))
    assert titles == sorted([
        "Atom story on the dialogue", "Busy", "Flaky story", "Index but do not archive", "Lavrov meets Vucic",
        "Moved story", "Sitemap story on diplomas", "Wire story on energy", "Wire story on energy", "Лавров о Косово",
    ])
    assert crawled.first.added == 10 and crawled.first.noindex == 1


# --- incremental ------------------------------------------------------------------------


def test_second_crawl_downloads_nothing_unchanged(crawled: Fixture) -> None:
    second = crawled.second_requests
    bodies = [r for r in second if r.status == 200]
    # Only the sitemap that changed is downloaded again.
    assert [r.path for r in bodies] == ["/sitemap-news.xml.gz"]
    assert {r.status for r in second if r.path != "/robots.txt"} <= {200, 304}
    assert crawled.second.added == 0 and crawled.second.failed == 0
    # Failed and redirected URLs wait out their back-off.
    for path in ("/news/missing", "/news/moved", "/news/loop", "/news/binary", "/news/offsite", "/private/secret"):
        assert path not in paths(second)


def test_conditional_get_for_feeds_sitemaps_robots_and_pages(crawled: Fixture) -> None:
    second = {r.path: r for r in crawled.second_requests if r.origin == crawled.a.origin}
    for path in ("/robots.txt", "/feed.rss", "/atom.xml", "/sitemap-index.xml"):
        assert second[path].status == 304 and second[path].headers.get("If-None-Match")
    # The sitemap's lastmod moved: the page is asked again, conditionally, and is unchanged.
    story = second["/news/sitemap-story"]
    assert story.status == 304 and story.headers.get("If-None-Match")
    assert crawled.second.not_modified >= 6


# --- state and health -------------------------------------------------------------------


def test_fetch_log_and_health_are_recorded(crawled: Fixture) -> None:
    sources, hosts = crawl_health(crawled.settings)
    wire = next(s for s in sources if s.name == "Balkan Wire")
    assert wire.articles == 9 and wire.failed == 7 and wire.robots == 1 and wire.pending == 0
    assert wire.last_new_article and wire.last_success and wire.last_error and wire.last_failure
    assert wire.undated == 6  # all but the three pages dated by a feed or sitemap
    assert {h.host for h in hosts} == {"127.0.0.1", "127.0.0.2"}
    with closing(open_state(crawled.settings, readonly=True)) as db:
        logged = db.execute("SELECT count(*) FROM crawl_fetch_log").fetchone()[0]
    assert logged == len(crawled.first_requests) + len(crawled.second_requests)


def test_sources_command_and_page_show_health(crawled: Fixture, capsys: pytest.CaptureFixture[str]) -> None:
    from web import create_app
    from web.cli import main

    assert main(["sources", "--index", str(crawled.settings.index)]) == 0
    out = capsys.readouterr().out
    assert "Balkan Wire\tcrawled\t9\t" in out and "127.0.0.2" in out
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": crawled.settings}).test_client()
    answer = client.get("/sources")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert 'data-source="Balkan Wire"' in text and 'data-source="Wire Mirror"' in text
    wire = next(s for s in crawl_health(crawled.settings)[0] if s.name == "Balkan Wire")
    assert wire.last_error and html_escape(wire.last_error) in text


def test_sources_page_before_any_crawl_is_friendly(fresh: Settings) -> None:
    from web import create_app

    answer = create_app({"TESTING": True, "NEWSDESK_SETTINGS": fresh}).test_client().get("/sources")
    assert answer.status_code == 200 and "No source has been crawled" in answer.get_data(as_text=True)
    # The page only reads: no index, no state database (the app's secret key aside).
    assert not fresh.index.exists() or {p.name for p in fresh.index.iterdir()} == {"secret_key"}


def test_archive_replays_into_an_identical_index(crawled: Fixture, tmp_path: Path) -> None:
    import shutil

    from search.ingest import reindex

    copy = make_settings(tmp_path / "copy")
    shutil.copytree(crawled.settings.index, copy.index)
    report = reindex(copy, progress=False)
    # Every archived page gives the very same document again; the noarchive
    # page, indexed but never archived, is the one a replay cannot give.
    assert report.added == 0 and report.updated == 0 and report.unchanged == 9 and report.removed == 1
    assert not by_title(copy, "Index but do not archive")


def _status(crawled: Fixture, url: str) -> str | None:
    with closing(open_state(crawled.settings, readonly=True)) as db:
        row = db.execute("SELECT status FROM crawl_frontier WHERE url = ?", (url,)).fetchone()
    return row[0] if row else None


# --- resumable ----------------------------------------------------------------------------


def _many_pages(web: Web, count: int) -> tuple[Site, list[Source]]:
    site = web.site("127.0.0.1")
    items = [(site.url(f"/p/{n}"), f"Page {n}", None) for n in range(count)]
    site.routes["/feed.rss"] = lambda: Reply(body=rss(items), headers={"Content-Type": "application/rss+xml"})
    for n in range(count):
        site.routes[f"/p/{n}"] = page(f"Story number {n}", f"round {n}")
    return site, [Source("Many", site.url("/"), feeds=(site.url("/feed.rss"),))]


def _crawl_in_a_process(settings: Settings, sources_file: Path, web: Web, stop_after: int, how: int) -> int:
    env = {**os.environ, "NEWSDESK_CRAWL_MIN_GAP": str(GAP), "NEWSDESK_BATCH_SIZE": "3"}
    process = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "crawl", "--sources", str(sources_file), "--index", str(settings.index)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while sum(1 for r in web.requests() if r.path.startswith("/p/")) < stop_after and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(how)
    process.wait(timeout=30)
    return process.returncode


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["interrupted", "killed"])
def test_a_stopped_crawl_resumes_without_losing_or_duplicating_work(tmp_path: Path, how: int) -> None:
    web = Web()
    try:
        site, sources = _many_pages(web, 10)
        sources_file = tmp_path / "sources.toml"
        sources_file.write_text(f'[[source]]\nname = "Many"\nurl = "{site.url("/")}"\nfeeds = ["{site.url("/feed.rss")}"]\n')
        settings = make_settings(tmp_path / "instance", crawl_min_gap=GAP, batch_size=3)
        code = _crawl_in_a_process(settings, sources_file, web, 4, how)
        assert code == (130 if how == signal.SIGINT else -signal.SIGKILL)
        report = crawl(sources, settings, progress=False)
        asked = [r.path for r in web.requests() if r.path.startswith("/p/")]
        assert sorted(set(asked)) == sorted(f"/p/{n}" for n in range(10))  # nothing lost
        if how == signal.SIGINT:  # a clean stop keeps every fetched page: nothing is fetched twice
            assert len(asked) == 10
        titles = [doc["title"] for doc in stored(settings)]
        assert sorted(titles) == sorted(f"Story number {n}" for n in range(10))  # nothing twice in the index
        assert report.failed == 0
    finally:
        web.close()


# --- the unit of work, parsers, helpers -------------------------------------------------------


def test_fetch_article_is_a_plain_picklable_unit_of_work(tmp_path: Path) -> None:
    import pickle

    web = Web()
    try:
        site = web.site()
        site.routes["/a"] = page("Unit of work", "picklable")
        source = Source("Solo", site.url("/"))
        context = FetchContext(make_settings(tmp_path, crawl_min_gap=0.0))
        arguments = pickle.loads(pickle.dumps((site.url("/a"), source, context)))
        result = fetch_article(*arguments)
        assert result.outcome is Outcome.ARTICLE and result.article is not None
        assert result.article.title == "Unit of work" and result.article.outlet == "Solo"
        assert pickle.loads(pickle.dumps(result)).article == result.article
        assert paths(web.requests()) == ["/robots.txt", "/a"]
    finally:
        web.close()


def test_crawl_without_sources_cannot_run(fresh: Settings) -> None:
    with pytest.raises(CrawlError):
        crawl([], fresh)


def test_crawl_command_prints_a_summary_and_exits_0_despite_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from web.cli import main

    web = Web()
    try:
        site = web.site()
        site.routes.update({
            "/feed.rss": lambda: Reply(body=rss([(site.url("/ok"), "OK", None), (site.url("/gone"), "Gone", None)])),
            "/ok": page("It works", "works"),
        })
        sources_file = tmp_path / "sources.toml"
        sources_file.write_text(f'[[source]]\nname = "Tiny"\nurl = "{site.url("/")}"\nfeeds = ["{site.url("/feed.rss")}"]\n')
        monkeypatch.setenv("NEWSDESK_CRAWL_MIN_GAP", "0")
        assert main(["crawl", "--sources", str(sources_file), "--index", str(tmp_path / "i")]) == 0
        out = capsys.readouterr().out
        assert f"failed {site.url('/gone')}: HTTP 404" in out
        assert "sources 1, discovered 2, fetched 2," in out and "failed 1," in out and "articles added 1," in out
        assert main(["crawl", "--sources", str(tmp_path / "none.toml"), "--index", str(tmp_path / "i")]) == 1
    finally:
        web.close()


def test_load_sources_reads_tables_and_names_mistakes(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        '[[source]]\nname = "A"\nurl = "https://a.example/"\nfeeds = ["https://a.example/rss"]\n'
        "deny = ['/video/']\nlanguage = \"sr\"\n"
    )
    [source] = load_sources(good)
    assert source == Source("A", "https://a.example/", feeds=("https://a.example/rss",), deny=("/video/",),
                            language="sr")
    assert not source.admits("https://a.example/video/1") and source.admits("https://a.example/news/1")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[source]]\nname = "B"\nurl = "https://b.example/"\nfeed = ["x"]\n')
    with pytest.raises(SettingsError, match="unknown key"):
        load_sources(bad)
    bad.write_text("[[source]]\nname = \"B\"\nurl = \"https://b.example/\"\nallow = ['(']\n")
    with pytest.raises(SettingsError, match="bad pattern"):
        load_sources(bad)


def test_shipped_sources_file_parses() -> None:
    assert load_sources() == []  # no entries until their feed addresses are checked (see the file)


def test_charset_from_header_meta_or_detection() -> None:
    text = "<p>" + " ".join(CYRILLIC_TEXT) + "</p>"
    raw = text.encode("cp1251")
    assert decode_html(raw, "text/html; charset=windows-1251") == text
    assert decode_html(b'<meta charset="windows-1251">' + raw, None).endswith(text)
    assert decode_html(raw, None) == text  # detected
    assert decode_html(raw, "text/html; charset=utf-8") == text  # a wrong label is not trusted
    assert decode_html("café".encode("latin-1"), "text/html; charset=iso-8859-1") == "café"


def test_robots_directives_from_meta_and_header() -> None:
    assert robots_directives('<meta name="robots" content="noindex, nofollow">', None) >= {"noindex"}
    assert robots_directives("<meta content='NOARCHIVE' name='Newsdesk'>", None) == {"noarchive"}
    assert robots_directives('<meta name="googlebot" content="noindex">', None) == set()
    assert "noindex" in robots_directives("", "noindex")
    assert robots_directives("", "otherbot: noindex") == set()


def test_feed_and_sitemap_parsers() -> None:
    json_feed = b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "url": "/a", ' \
                b'"date_published": "2020-01-02T03:04:05Z"}]}'
    [link] = parse_feed(json_feed, "https://x.example/feed.json").links
    assert link.url == "https://x.example/a" and link.published_source == "feed"
    index = b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://x.example/s.xml.gz' \
            b"</loc></sitemap></sitemapindex>"
    assert [(link.url, link.kind) for link in parse_sitemap(index, "https://x.example/").links] == [
        ("https://x.example/s.xml.gz", "sitemap")]
    assert parse_sitemap(b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><urlset><url><loc>&e;</loc></url>"
                         b"</urlset>", "https://x.example/").links == ()
    assert parse_feed(b"<html>not a feed</html>", "https://x.example/").problem


# Files in ../shared/data/feeds that are not feeds, or feeds whose entries have no link.
_NO_LINKS = {
    "AmazonWebServicesBlogFirstEntryContent.xml", "HREFConsideredHarmfulFirstEntry.xml",  # entry fragments
    "PaulDixExplainsNothingFirstEntryContent.xml", "TechCrunchFirstEntry.xml",
    "TechCrunchFirstEntryDescription.xml", "TenderLovemakingFirstEntry.xml",
    "AtomEscapedHTMLInPreTag.xml", "incomplete-fields.atom", "missing-fields.atom",  # entries without links
    "unrecognized.rss",  # an HTML "document moved" page
}


def _shared_feeds() -> list[Path]:
    shared = SHARED / "data" / "feeds"
    if not shared.is_dir():
        return []
    return sorted(p for p in shared.rglob("*") if p.is_file() and p.suffix in {".xml", ".rss", ".atom", ".json", ".gz"})


@pytest.mark.skipif(not _shared_feeds(), reason="the shared reference data (../shared or $NEWSDESK_SHARED) is absent")
def test_every_real_feed_and_sitemap_parses() -> None:
    for path in _shared_feeds():
        parse = parse_sitemap if "sitemap" in path.name else parse_feed
        listing = parse(path.read_bytes(), "https://example.org/")
        if path.name in _NO_LINKS:
            assert not listing.links, path
            continue
        assert listing.links and not listing.problem, path
        assert all(urlsplit(link.url).scheme in {"http", "https"} for link in listing.links), path


def test_crawl_delay_in_robots_txt_widens_the_gap(tmp_path: Path) -> None:
    from search.crawl.fetch import Fetcher

    web = Web()
    try:
        site = web.site("127.0.0.3")
        site.routes["/robots.txt"] = reply(200, b"User-agent: Newsdesk\nCrawl-delay: 0.4\n", Content_Type="text/plain")
        for n in range(3):
            site.routes[f"/{n}"] = page(f"Delay {n}", "delay")
        fetcher = Fetcher(make_settings(tmp_path, crawl_min_gap=0.0))
        try:
            for n in range(3):
                assert fetcher.get(site.url(f"/{n}"), []).status == 200
        finally:
            fetcher.close()
        times = [r.at for r in web.requests()]
        assert [r.path for r in web.requests()] == ["/robots.txt", "/0", "/1", "/2"]
        assert min(later - earlier for earlier, later in itertools.pairwise(times[1:])) >= 0.4 - 0.01
    finally:
        web.close()
