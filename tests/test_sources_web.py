"""``/sources``: every source's health for everyone (web/source_health.py), and administrators managing the sources.

The instance behind the page is made the real way: the five seed articles,
a crawl of two outlets served on loopback (tests/loopback.py) — "Balkan
Wire", kept by the instance, and "Wire Mirror", crawled from a list, whose
feed fails — articles of one of them ingested under its name in capitals,
and a kept source never crawled. Every count on the page is checked against
plain Python over the stored articles (the oracle); sources are added from a
loopback server too, so the private-address rule is tried against a real
server, which must see no request when an address is refused.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from lxml import etree
from markupsafe import escape
from werkzeug.test import TestResponse

from conftest import free_port
from loopback import Reply, Site, Web, html, page, reply, rss
from search.alerts import add_user
from search.clean import clean
from search.crawl.crawler import crawl
from search.crawl.discover import Link
from search.crawl.frontier import Frontier
from search.decode import received_page
from search.enrich import Gazetteer, enrich
from search.index import open_index, write_articles
from search.query.embedded import EmbeddedReader
from search.records import UNKNOWN, PageHints, Source
from search.settings import Settings
from search.sources import add_source, instance_sources, read_opml, registered_sources
from search.state import open_state
from web.source_health import SourceRow, duration_text, source_rows
from webforms import PASSWORD, csrf_token, log_in, make_app, submit

ADMIN = "boss@example.org"
READER = "ana@example.org"
NOW = dt.datetime.now(dt.UTC)

# --- the instance -------------------------------------------------------------------


def wire_site(site: Site, name: str = "Balkan Wire") -> None:
    """An outlet: a homepage announcing its feed (and a broken one), a sitemap in robots.txt, two articles."""
    u = site.url
    authored = html("Talks resume in Brussels", "talks").replace(
        "<title>", '<meta name="author" content="Ana Petrović"><title>').encode()
    site.routes.update({
        "/robots.txt": reply(200, f"User-agent: *\nAllow: /\nSitemap: {u('/sitemap.xml')}\n".encode(),
                             Content_Type="text/plain"),
        "/": lambda: Reply(body=(
            f'<html><head><title>{name} | Home</title><meta property="og:site_name" content="{name}">'
            '<link rel="alternate" type="application/rss+xml" href="/feed.rss">'
            '<link rel="alternate" type="application/rss+xml" href="/broken.rss"></head>'
            "<body>Front page</body></html>").encode()),
        "/feed.rss": lambda: Reply(body=rss([
            (u("/news/talks"), "Talks", "Fri, 21 Sep 2018 10:00:00 GMT"),
            (u("/news/energy"), "Energy", None),
            (u("/news/gone"), "Gone", None),  # 404: a failed URL, not a failed source
        ]), headers={"Content-Type": "application/rss+xml"}),
        "/sitemap.xml": lambda: Reply(body=(
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{u('/news/talks')}</loc></url></urlset>").encode(), headers={"Content-Type": "application/xml"}),
        "/news/talks": lambda: Reply(body=authored),
        "/news/energy": page("Energy deal signed", "energy"),
    })


@dataclass
class Instance:
    settings: Settings
    web: Web
    wire: Site
    mirror: Site


def _ingest_in_capitals(settings: Settings, gazetteer: Gazetteer) -> None:
    """An article filed under "BALKAN WIRE" from a file: the same outlet as the crawled "Balkan Wire"."""
    text = "".join(f"<p>{escape(p)}</p>" for p in [
        "Negotiators from Belgrade and Pristina met again on Thursday to discuss energy and licence plates.",
        "The European Union's envoy said the talks were constructive but that no agreement had been reached yet.",
        "Both delegations are expected to return to Brussels next month for another round of the dialogue."])
    data = f"<html lang=en><head><title>Ingested story</title></head><body><article><h1>Ingested story</h1>{text}" \
           f"</article></body></html>"
    raw = received_page(data=data.encode(), origin="https://balkanwire.example/ingested", content_type="text/html",
                        url="https://balkanwire.example/ingested", hints=PageHints(outlet="BALKAN WIRE"))
    assert write_articles([enrich(clean(raw), gazetteer)], settings).added == 1


@pytest.fixture(scope="module")
def crawled(seeded: Settings, gazetteer: Gazetteer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    web = Web()
    wire, mirror = web.site("127.0.0.1"), web.site("127.0.0.2")
    wire_site(wire)
    mirror.routes["/feed.rss"] = reply(503, b"down for maintenance")
    copy = tmp_path_factory.mktemp("sources-web") / "instance"
    shutil.copytree(seeded.index, copy)
    settings = replace(seeded, index=copy, crawl_min_gap=0.05, crawl_retries=0, crawl_timeout=5.0,
                       user_agent_contact="mailto:test@example.org")
    add_source(settings, Source("Balkan Wire", wire.url("/"), feeds=(wire.url("/feed.rss"),)))
    listed = Source("Wire Mirror", mirror.url("/"), feeds=(mirror.url("/feed.rss"),))  # a sources file's
    crawl([*instance_sources(settings), listed], settings, progress=False)
    add_source(settings, Source("Daily Observer", "https://observer.example/"), added_by=ADMIN)  # never crawled
    _ingest_in_capitals(settings, gazetteer)
    add_user(settings, ADMIN, PASSWORD, admin=True)
    add_user(settings, READER, PASSWORD)
    try:
        yield Instance(settings, web, wire, mirror)
    finally:
        web.close()


@pytest.fixture
def own(crawled: Instance, tmp_path: Path) -> Settings:
    """A copy of the crawled instance for a test that changes its sources."""
    shutil.copytree(crawled.settings.index, tmp_path / "instance")
    return replace(crawled.settings, index=tmp_path / "instance")


def words(answer: TestResponse) -> str:
    """The page's text with its line breaks and indentation as single spaces: sentences as a reader sees them."""
    return " ".join(answer.text.split())


def client_of(settings: Settings, email: str | None = None) -> FlaskClient:
    client = make_app(settings).test_client()
    if email is not None:
        assert log_in(client, email).status_code == 302
    return client


# --- the oracle: plain Python over the stored articles ---------------------------------


def stored_by_outlet(settings: Settings) -> dict[str, list[dict[str, object]]]:
    """The live stored articles, by outlet name case-folded."""
    with open_index(settings).searcher() as searcher:
        documents = [dict(fields) for fields in searcher.documents()]
    found: dict[str, list[dict[str, object]]] = {}
    for document in documents:
        found.setdefault(str(document.get("outlet") or UNKNOWN).casefold(), []).append(document)
    return found


def share(part: int, whole: int) -> float:
    return part / whole


def rows_now(settings: Settings) -> dict[str, SourceRow]:
    with open_index(settings).searcher() as searcher:
        reader = EmbeddedReader(searcher, settings)
        return {row.name: row for row in source_rows(settings, reader, dt.datetime.now(dt.UTC))}


# --- source_rows ------------------------------------------------------------------------


def test_every_source_is_one_row_kept_crawled_or_ingested(crawled: Instance) -> None:
    rows = rows_now(crawled.settings)
    outlets = stored_by_outlet(crawled.settings)
    assert {name.casefold() for name in rows} == set(outlets) | {"daily observer", "wire mirror"}
    assert {name: row.status for name, row in rows.items()} == {
        "Balkan Wire": "kept", "Daily Observer": "kept", "Wire Mirror": "crawled",
        **{row.name: "ingested" for row in rows.values() if row.name.casefold() in
           set(outlets) - {"balkan wire"}},
    }
    assert list(rows) == sorted(rows, key=str.casefold)


def test_a_sources_articles_are_counted_under_every_spelling_of_its_name(crawled: Instance) -> None:
    """The crawl files its articles under "Balkan Wire", an ingested file under "BALKAN WIRE": one source."""
    wire = rows_now(crawled.settings)["Balkan Wire"]
    articles = stored_by_outlet(crawled.settings)["balkan wire"]
    assert {str(a["outlet"]) for a in articles} == {"Balkan Wire", "BALKAN WIRE"}
    assert len(articles) == 3  # talks and energy crawled, one ingested
    assert wire.outlets == ("Balkan Wire", "BALKAN WIRE")  # most articles first
    assert wire.articles == len(articles)
    assert wire.dated_share == share(sum(a.get("published") is not None for a in articles), len(articles)) == 1 / 3
    assert wire.authored_share == share(sum(bool(a.get("author")) for a in articles), len(articles)) == 1 / 3
    assert wire.languaged_share == share(sum(a.get("language") not in (None, UNKNOWN) for a in articles),
                                         len(articles))
    # Every article of this instance arrived within the week.
    assert wire.per_day == pytest.approx(len(articles) / 7)


def test_the_oracle_agrees_for_every_outlet(crawled: Instance) -> None:
    rows = {name.casefold(): row for name, row in rows_now(crawled.settings).items()}
    for key, articles in stored_by_outlet(crawled.settings).items():
        row = rows[key]
        assert row.articles == len(articles), key
        assert row.dated_share == share(sum(a.get("published") is not None for a in articles), len(articles)), key
        assert row.authored_share == share(sum(bool(a.get("author")) for a in articles), len(articles)), key
    assert rows["daily observer"].articles == 0 and rows["daily observer"].dated_share is None


def test_when_each_source_is_crawled_next(crawled: Instance) -> None:
    rows = rows_now(crawled.settings)
    floor = crawled.settings.crawl_interval_min  # above the politeness gap here
    wire, mirror, observer = rows["Balkan Wire"], rows["Wire Mirror"], rows["Daily Observer"]

    # Reached: its first interval is the floor (the first crawl's pages are the backlog, not a rate).
    assert (wire.failures, wire.interval, wire.due) == (0, dt.timedelta(seconds=floor), False)
    assert wire.next_crawl is not None and wire.now < wire.next_crawl <= wire.now + dt.timedelta(seconds=floor)
    assert wire.next_crawl_text.startswith("in ") and wire.interval_text == "every 5 min"
    # Every listing failed: one failure in a row, the interval doubled. Crawled from a list, not kept by the
    # instance: the crawl loop of `newsdesk serve` does not follow it.
    assert (mirror.failures, mirror.interval) == (1, dt.timedelta(seconds=2 * floor))
    assert mirror.last_error is not None and "503" in mirror.last_error and mirror.warn
    assert (mirror.followed, mirror.due, mirror.next_crawl) == (False, False, None)
    assert mirror.next_crawl_text == "with its sources file only"
    assert wire.followed and observer.followed
    # Balkan Wire's failed page waits out its back-off: later than its schedule, so the schedule says when.
    assert wire.waiting is not None and wire.waiting > wire.next_crawl
    # Kept but never crawled: due now. Only ingested: not crawled at all.
    assert (observer.due, observer.next_crawl_text, observer.interval_text) == (True, "due now", "")
    ingested = rows["RksNews"]
    assert (ingested.crawled, ingested.due, ingested.next_crawl_text, ingested.failures) == \
        (False, False, "not crawled", 0)
    assert not ingested.warn  # not crawled: being quiet is no fault


def test_a_source_with_pages_waiting_in_the_frontier_is_due_now(own: Settings) -> None:
    """As the crawl loop judges it: pages a stopped crawl left are fetched at its next turn, whatever the schedule."""
    assert not rows_now(own)["Balkan Wire"].due
    with closing(open_state(own)) as db, db:
        Frontier(db).add_links([Link("https://balkanwire.example/news/left-over")], "Balkan Wire", time.time())
    wire = rows_now(own)["Balkan Wire"]
    assert wire.due and wire.next_crawl is None and wire.next_crawl_text == "due now"
    assert wire.schedule is not None and (wire.schedule.next_crawl_at or 0) > time.time()  # the schedule alone: later


def test_the_latest_new_article_is_the_crawlers_or_the_indexs_whichever_is_later(crawled: Instance) -> None:
    rows = rows_now(crawled.settings)
    wire = rows["Balkan Wire"]
    assert wire.crawl is not None and wire.coverage is not None and wire.coverage.last_added is not None
    crawler_saw = dt.datetime.fromtimestamp(wire.crawl.last_new_article or 0, dt.UTC)
    assert wire.last_new_article == max(crawler_saw, wire.coverage.last_added)
    assert rows["Wire Mirror"].last_new_article is None and rows["Wire Mirror"].quiet  # crawled, never a new article
    assert rows["Daily Observer"].last_new_article is None and not rows["Daily Observer"].quiet  # not crawled yet
    assert not rows["Balkan Wire"].quiet


def test_without_an_index_the_article_columns_are_unknown_not_zero(crawled: Instance) -> None:
    rows = {row.name: row for row in source_rows(crawled.settings, None, NOW)}
    assert set(rows) == {"Balkan Wire", "Daily Observer", "Wire Mirror"}  # the index's outlets are unknown too
    assert {row.articles for row in rows.values()} == {None}
    assert {row.per_day for row in rows.values()} == {None}
    assert rows["Wire Mirror"].failures == 1  # what the state knows is still there


def test_a_moment_without_a_zone_is_refused(crawled: Instance) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        source_rows(crawled.settings, None, dt.datetime(2024, 1, 1))


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (59.4, "59 s"), (60, "1 min"), (300, "5 min"), (3569, "59 min"), (3599, "1 h"), (3600, "1 h"), (3660, "1 h 1 min"),
    (21600, "6 h"), (47 * 3600, "47 h"), (48 * 3600, "2 d"), (3 * 86400 + 4 * 3600, "3 d 4 h"), (-5, "0 s"),
])
def test_durations_read_as_people_say_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


# --- the page, as everyone sees it ------------------------------------------------------


class _Rows(HTMLParser):
    """The rows of one table: {data-source: [each cell's text]}, plus each row's data-status."""

    def __init__(self, table: str) -> None:
        super().__init__()
        self.table, self.inside, self.key = table, False, ""
        self.cells: dict[str, list[str]] = {}
        self.status: dict[str, str] = {}
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.inside = a.get("id") == self.table
        elif self.inside and tag == "tr" and "data-source" in a:
            self.key = a["data-source"] or ""
            self.cells[self.key], self.status[self.key] = [], a.get("data-status") or ""
        elif self.inside and self.key and tag in ("th", "td"):
            self.cells[self.key].append("")
        elif self.inside and self.key and tag == "br" and self.cells[self.key]:
            self.cells[self.key][-1] += " "

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif tag == "tr":
            self.key = ""

    def handle_data(self, data: str) -> None:
        if self.inside and self.key and self.cells[self.key]:
            self.cells[self.key][-1] += data

    def rows(self) -> dict[str, list[str]]:
        return {key: [" ".join(cell.split()) for cell in cells] for key, cells in self.cells.items()}


def table(text: str, table_id: str = "source-health") -> dict[str, list[str]]:
    reader = _Rows(table_id)
    reader.feed(text)
    return reader.rows()


COLUMNS = ["source", "articles", "last", "per day", "failures", "next", "dated", "authored", "language"]


def cells(text: str, name: str) -> dict[str, str]:
    return dict(zip(COLUMNS, table(text)[name], strict=True))


def test_the_page_shows_each_source_with_its_numbers(crawled: Instance) -> None:
    answer = client_of(crawled.settings).get("/sources")
    assert answer.status_code == 200
    rows = rows_now(crawled.settings)
    assert set(table(answer.text)) == set(rows)

    wire = cells(answer.text, "Balkan Wire")
    assert wire["articles"] == "3" and wire["dated"] == "33 %" and wire["authored"] == "33 %"
    assert wire["per day"] == f"{3 / 7:.1f}"
    assert wire["failures"].startswith("0 in a row")
    assert re.fullmatch(r"in \d+ min every 5 min", wire["next"])
    assert "kept" in wire["source"] and ADMIN not in answer.text  # who added a source: for administrators only

    mirror = cells(answer.text, "Wire Mirror")
    assert mirror["failures"].startswith("1 in a row latest ") and "503" in mirror["failures"]
    assert mirror["next"] == "with its sources file only every 10 min" and "crawled from a sources file" in mirror["source"]
    assert cells(answer.text, "Daily Observer")["next"] == "due now"
    assert cells(answer.text, "Daily Observer")["failures"] == "—"  # never crawled: nothing to count yet
    assert 'data-source="Daily Observer" data-status="kept">' in answer.text  # and nothing to warn about
    assert cells(answer.text, "Daily Observer")["articles"] == "0"
    assert cells(answer.text, "RksNews")["next"] == "not crawled"
    assert 'data-source="Wire Mirror" data-status="crawled" class="warn"' in answer.text


def test_a_source_links_to_its_articles_under_every_spelling(crawled: Instance) -> None:
    text = client_of(crawled.settings).get("/sources").text
    assert 'href="/?outlet=Balkan+Wire&amp;outlet=BALKAN+WIRE"' in text
    assert "/?outlet=Daily" not in text  # no articles: nothing to link to
    found = client_of(crawled.settings).get("/api/search", query_string=[("outlet", "Balkan Wire"),
                                                                        ("outlet", "BALKAN WIRE")]).get_json()
    assert found["total"] == 3


def test_the_crawl_and_host_tables_stay(crawled: Instance) -> None:
    text = client_of(crawled.settings).get("/sources").text
    assert 'data-crawled="Balkan Wire"' in text and 'data-crawled="Wire Mirror"' in text
    assert 'data-crawled="Daily Observer"' not in text
    assert 'data-host="127.0.0.1"' in text and 'data-host="127.0.0.2"' in text


def test_readers_see_no_forms_and_no_remove_links(crawled: Instance) -> None:
    for client in (client_of(crawled.settings), client_of(crawled.settings, READER)):
        text = client.get("/sources").text
        assert 'action="/sources/add"' not in text and 'action="/sources/import"' not in text
        assert "/sources/remove" not in text
        assert 'href="/sources.opml"' in text  # the export is for everyone


def test_an_administrator_sees_the_forms_and_who_added_each_source(crawled: Instance) -> None:
    text = client_of(crawled.settings, ADMIN).get("/sources").text
    assert 'action="/sources/add"' in text and 'action="/sources/import"' in text
    assert 'href="/sources/remove?name=Daily+Observer"' in text
    assert f"({ADMIN})" in text and "(command line)" in text
    assert "/sources/remove?name=Wire+Mirror" not in text  # not kept: nothing to remove


def test_the_page_works_without_an_index(tmp_path: Path) -> None:
    settings = Settings(index=tmp_path / "instance")
    add_source(settings, Source("Balkan Wire", "https://balkanwire.example/"))
    answer = client_of(settings).get("/sources")
    assert answer.status_code == 200
    assert "The index cannot be read (no index in" in answer.text
    assert cells(answer.text, "Balkan Wire")["articles"] == "—"
    assert cells(answer.text, "Balkan Wire")["next"] == "due now"
    assert not (tmp_path / "instance" / "index").exists()


# --- who may change the sources ---------------------------------------------------------


def _post(client: FlaskClient, path: str, token: str | None, **fields: object) -> TestResponse:
    data: dict[str, object] = {key: (io.BytesIO(value), "x.opml") if isinstance(value, bytes) else value
                                for key, value in fields.items()}
    if token is not None:
        data["csrf_token"] = token
    return client.post(path, data=data, content_type="multipart/form-data")


OPML_FILE = b'<opml version="2.0"><body><outline text="X" xmlUrl="https://x.example/rss"/></body></opml>'
REQUESTS = [
    ("/sources/add", {"url": "https://observer.example/", "name": "Observer"}),
    ("/sources/import", {"opml": OPML_FILE}),
    ("/sources/remove", {"name": "Balkan Wire"}),
]


@pytest.mark.parametrize("who", [None, READER])
@pytest.mark.parametrize("with_token", [True, False])
@pytest.mark.parametrize(("path", "fields"), REQUESTS, ids=[path for path, _ in REQUESTS])
def test_only_an_administrator_may_change_the_sources(crawled: Instance, who: str | None, with_token: bool,
                                                      path: str, fields: dict[str, object]) -> None:
    client = client_of(crawled.settings, who)
    token = csrf_token(client.get("/login").text) if with_token else None
    before, mark = registered_sources(crawled.settings), crawled.web.mark()

    answer = _post(client, path, token, **fields)
    assert answer.status_code == 403, answer.text[:300]
    assert "only an administrator may change" in answer.text
    assert registered_sources(crawled.settings) == before
    assert client.get("/sources/remove?name=Balkan+Wire").status_code == 403
    assert crawled.web.requests(mark) == []


def test_an_administrators_post_without_a_token_changes_nothing(own: Settings, crawled: Instance) -> None:
    client, mark = client_of(own, ADMIN), crawled.web.mark()
    answer = _post(client, "/sources/add", None, url=crawled.wire.url("/"), name="Tokenless")
    assert answer.status_code == 400
    assert "The form had expired or did not come from this page" in answer.text
    assert [s.name for s in instance_sources(own)] == ["Balkan Wire", "Daily Observer"]
    assert crawled.web.requests(mark) == []


# --- adding a source ---------------------------------------------------------------------


@pytest.fixture
def outlet() -> Iterator[Site]:
    """An outlet of the test's own on loopback: what an administrator types the address of."""
    web = Web()
    site = web.site("127.0.0.1")
    wire_site(site, "Loopback Gazette")
    try:
        yield site
    finally:
        web.close()


def _requests_seen(site: Site) -> list[str]:
    return [r.path for r in site.log if r.origin == site.origin]


@pytest.mark.parametrize("address", [
    "http://127.0.0.1:{port}/", "http://localhost:{port}/", "http://[::1]:{port}/feed.rss", "http://10.1.2.3/",
    "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]:{port}/",
])
def test_a_private_or_loopback_address_is_refused_before_anything_is_fetched(own: Settings, outlet: Site,
                                                                          address: str) -> None:
    url = address.format(port=outlet.origin.rsplit(":", 1)[1])
    answer = submit(client_of(own, ADMIN), "/sources", "/sources/add", url=url)
    assert answer.status_code == 400
    assert "is a private or local address" in answer.text and "refused for a source added on the web" in answer.text
    assert "allow_private_sources" in answer.text
    assert [s.name for s in instance_sources(own)] == ["Balkan Wire", "Daily Observer"]
    assert _requests_seen(outlet) == []


def test_with_private_sources_allowed_the_source_is_found_checked_and_kept(own: Settings, outlet: Site) -> None:
    settings = replace(own, allow_private_sources=True)
    answer = submit(client_of(settings, ADMIN), "/sources", "/sources/add", url=outlet.url("/"))
    assert answer.status_code == 200, answer.text[:500]

    [found] = [item for item in registered_sources(settings) if item.source.name == "Loopback Gazette"]
    assert found.added_by == ADMIN
    assert found.source.url == outlet.url("/")
    assert found.source.feeds == (outlet.url("/feed.rss"),) and found.source.sitemaps == (outlet.url("/sitemap.xml"),)
    assert found.source.public_only is False
    assert "/feed.rss" in _requests_seen(outlet) and "/robots.txt" in _requests_seen(outlet)
    # What was found, on the page: each listing checked, the broken one left out with why.
    assert "Added Loopback Gazette" in answer.text
    assert f"Feed {outlet.url('/feed.rss')}: 3 pages listed." in answer.text
    assert f"Sitemap {outlet.url('/sitemap.xml')}: 1 page listed." in answer.text
    assert f"feed {outlet.url('/broken.rss')}: HTTP 404" in answer.text
    assert cells(answer.text, "Loopback Gazette")["next"] == "due now"


def test_a_name_given_is_the_sources_and_a_homepage_given_twice_is_refused(own: Settings, outlet: Site) -> None:
    settings = replace(own, allow_private_sources=True)
    client = client_of(settings, ADMIN)
    assert submit(client, "/sources", "/sources/add", url=outlet.url("/feed.rss"), name="  The  Gazette ").status_code == 200
    assert instance_sources(settings)[-1].name == "The Gazette"

    again = submit(client, "/sources", "/sources/add", url=outlet.url("/"))
    assert again.status_code == 409
    assert "A source with the homepage" in again.text and "is already kept" in again.text


def test_a_name_already_kept_is_refused_before_anything_is_fetched(own: Settings, outlet: Site) -> None:
    settings = replace(own, allow_private_sources=True)
    answer = submit(client_of(settings, ADMIN), "/sources", "/sources/add", url=outlet.url("/"), name="balkan WIRE")
    assert answer.status_code == 409
    assert "A source named &#39;Balkan Wire&#39; is already kept" in answer.text
    assert _requests_seen(outlet) == []


@pytest.mark.parametrize(("address", "status", "message"), [
    ("ftp://outlet.example/", 400, "Not a web address"),
    ("http://127.0.0.1:{closed}/", 400, "Cannot read http://127.0.0.1:{closed}/"),
    ("{origin}/news/energy", 400, "No feed or sitemap found"),  # an article page: nothing to follow
])
def test_what_the_finder_cannot_use_is_a_message_on_the_page_never_a_500(
    own: Settings, outlet: Site, address: str, status: int, message: str
) -> None:
    settings = replace(own, allow_private_sources=True)
    outlet.routes["/robots.txt"] = reply(404)  # no sitemap to fall back on
    outlet.routes["/news/energy"] = page("Energy deal signed", "energy")
    closed = free_port()  # nothing listens there
    answer = submit(client_of(settings, ADMIN), "/sources", "/sources/add",
                    url=address.format(origin=outlet.origin, closed=closed))
    assert answer.status_code == status, answer.text[:400]
    assert message.format(closed=closed) in answer.text
    assert 'class="form-errors"' in answer.text
    assert [s.name for s in instance_sources(settings)] == ["Balkan Wire", "Daily Observer"]


# --- removing a source -------------------------------------------------------------------


def test_removing_asks_first_then_stops_crawling_and_keeps_the_articles(own: Settings) -> None:
    client = client_of(own, ADMIN)
    asked = client.get("/sources/remove", query_string={"name": "balkan wire"})
    assert asked.status_code == 200
    assert "Remove Balkan Wire?" in asked.text and "stay in the index" in words(asked)
    assert [s.name for s in instance_sources(own)] == ["Balkan Wire", "Daily Observer"]  # asking changes nothing

    done = submit(client, "/sources/remove?name=balkan+wire", "/sources/remove")
    assert done.status_code == 302 and done.headers["Location"] == "/sources"
    assert [s.name for s in instance_sources(own)] == ["Daily Observer"]
    page_after = client.get("/sources").text
    assert "Removed Balkan Wire: it is no longer crawled." in page_after
    # Still crawled before (its record stays), its articles still in the index.
    assert table(page_after)["Balkan Wire"][1] == "3"
    assert 'data-source="Balkan Wire" data-status="crawled"' in page_after


def test_removing_a_source_that_is_not_kept_is_a_message_not_an_error_page(own: Settings) -> None:
    client = client_of(own, ADMIN)
    assert client.get("/sources/remove", query_string={"name": "Wire Mirror"}).status_code == 404
    token = csrf_token(client.get("/sources").text)
    answer = client.post("/sources/remove", data={"csrf_token": token, "name": "Nobody Wire"})
    assert answer.status_code == 404
    assert "No source named &#39;Nobody Wire&#39; or with that homepage" in answer.text
    assert 'id="source-health"' in answer.text  # the sources page, with the message


# --- importing an OPML file -----------------------------------------------------------------

#: Shaped as FreshRSS and Miniflux export: categories, type="rss", xmlUrl, htmlUrl, title and text.
SUBSCRIPTIONS = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Miniflux</title><dateCreated>Mon, 03 Jun 2024 10:00:00 GMT</dateCreated></head>
  <body>
    <outline text="Balkans" title="Balkans">
      <outline title="Balkan Wire" text="Balkan Wire" xmlUrl="https://balkanwire.example/rss" htmlUrl="https://balkanwire.example/" type="rss"/>
      <outline title="&#x412;&#x435;&#x441;&#x442;&#x438;" text="&#x412;&#x435;&#x441;&#x442;&#x438;" xmlUrl="https://vesti.example/feed/" htmlUrl="https://vesti.example/" type="rss"/>
      <outline title="Tom &amp; Jerry &lt;Daily&gt;" text="Tom &amp; Jerry &lt;Daily&gt;" xmlUrl="https://tj.example/rss" htmlUrl="https://tj.example/" type="rss"/>
    </outline>
    <outline text="Local" title="Local">
      <outline title="Intranet" text="Intranet" xmlUrl="http://127.0.0.1:8080/feed" htmlUrl="http://127.0.0.1:8080/" type="rss"/>
      <outline title="Printer" text="Printer" xmlUrl="http://localhost/status.rss" type="rss"/>
      <outline title="Broken" text="Broken" xmlUrl="feed.xml" type="rss"/>
    </outline>
  </body>
</opml>
"""


def _upload(client: FlaskClient, data: bytes, filename: str = "subscriptions.opml") -> TestResponse:
    token = csrf_token(client.get("/sources").text)
    return client.post("/sources/import", data={"csrf_token": token, "opml": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def test_an_opml_import_adds_each_source_once_and_says_what_it_did(own: Settings) -> None:
    client = client_of(own, ADMIN)
    mark = dt.datetime.now(dt.UTC)
    answer = _upload(client, SUBSCRIPTIONS, "../../home/ana/subscriptions.opml")
    assert answer.status_code == 200, answer.text[:400]
    assert "<strong>subscriptions.opml</strong>: added 2, already kept 1, skipped 3." in words(answer)

    imported = {item.source.name: item for item in registered_sources(own) if item.added_at >= mark}
    assert set(imported) == {"Вести", "Tom & Jerry <Daily>"}
    assert {item.added_by for item in imported.values()} == {"OPML file subscriptions.opml"}
    assert all(item.source.public_only for item in imported.values())  # checked again at every connection
    assert imported["Вести"].source.feeds == ("https://vesti.example/feed/",)
    assert "Tom &amp; Jerry &lt;Daily&gt;" in answer.text and "<Daily>" not in answer.text
    # Refused without fetching anything, each with why.
    assert "Intranet: 127.0.0.1 is a private or local address (127.0.0.1): refused" in words(answer)
    assert "Printer: localhost is a private or local address" in words(answer)
    assert "outline 8 (Broken): not a web address: &#39;feed.xml&#39;" in words(answer)
    assert "Balkan Wire: a source with the name &#39;Balkan Wire&#39; is already kept" in words(answer)

    again = _upload(client, SUBSCRIPTIONS)
    assert "added 0, already kept 3, skipped 3." in words(again)


def test_with_private_sources_allowed_an_import_keeps_local_feeds_too(own: Settings) -> None:
    settings = replace(own, allow_private_sources=True)
    answer = _upload(client_of(settings, ADMIN), SUBSCRIPTIONS)
    assert "added 4, already kept 1, skipped 1." in words(answer)
    local = {s.name: s for s in instance_sources(settings)}
    assert local["Intranet"].public_only is False and local["Printer"].url == "http://localhost/"


@pytest.mark.parametrize(("data", "message"), [
    (b"name,url\nBalkan Wire,https://balkanwire.example/rss\n", "is not an OPML file (not XML"),
    (b"<html><body>feeds</body></html>", "is not an OPML file (no &lt;opml&gt; document element)"),
])
def test_a_file_that_is_not_opml_is_refused_with_the_reason(own: Settings, data: bytes, message: str) -> None:
    answer = _upload(client_of(own, ADMIN), data, "feeds.csv")
    assert answer.status_code == 400
    assert f"feeds.csv {message}" in words(answer)
    assert len(instance_sources(own)) == 2


def test_an_import_without_a_file_asks_for_one(own: Settings) -> None:
    client = client_of(own, ADMIN)
    token = csrf_token(client.get("/sources").text)
    answer = client.post("/sources/import", data={"csrf_token": token}, content_type="multipart/form-data")
    assert answer.status_code == 400 and "Choose an OPML file." in answer.text


def test_an_upload_over_the_limit_is_refused_unread(own: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("web.sources.MAX_UPLOAD", 4096)
    answer = _upload(client_of(own, ADMIN), SUBSCRIPTIONS + b"<!--" + b"x" * 8192 + b"-->")
    assert answer.status_code == 413
    assert len(instance_sources(own)) == 2


# --- /sources.opml -----------------------------------------------------------------------------


def _outlines(data: bytes) -> list[dict[str, str]]:
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    assert (root.tag, root.get("version"), root.findtext("head/title")) == ("opml", "2.0", "Newsdesk sources")
    return [dict(outline.attrib) for outline in root.iterfind("body/outline")]


def test_the_kept_sources_download_as_opml_and_read_back_the_same(crawled: Instance) -> None:
    answer = client_of(crawled.settings).get("/sources.opml")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/x-opml; charset=utf-8"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="newsdesk-sources.opml"'
    wire = crawled.wire.url
    assert _outlines(answer.data) == [
        {"type": "rss", "text": "Balkan Wire", "title": "Balkan Wire", "xmlUrl": wire("/feed.rss"),
         "htmlUrl": wire("/")},
        {"type": "link", "text": "Daily Observer", "url": "https://observer.example/"},
    ]
    assert read_opml(answer.data).sources == instance_sources(crawled.settings)


def test_a_reader_export_imported_comes_back_out_the_same(own: Settings) -> None:
    client = client_of(own, ADMIN)
    _upload(client, SUBSCRIPTIONS)
    exported = read_opml(client.get("/sources.opml").data).sources
    listed = {s.name: s for s in read_opml(SUBSCRIPTIONS).sources}
    for source in exported:
        if source.name in ("Вести", "Tom & Jerry <Daily>"):
            assert source == listed[source.name]
    assert {s.name for s in exported} == {"Balkan Wire", "Daily Observer", "Вести", "Tom & Jerry <Daily>"}


def test_the_opml_follows_the_login_rule_of_the_other_pages(crawled: Instance) -> None:
    closed = replace(crawled.settings, search_requires_login=True)
    anonymous = client_of(closed).get("/sources.opml")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login?next=/sources.opml")
    assert client_of(closed).get("/sources").status_code == 302
    assert client_of(closed, READER).get("/sources.opml").status_code == 200


def test_a_default_sources_file_that_cannot_be_read_does_not_take_the_page_down(
    seeded: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without kept sources the crawl loop reads the default sources file; a broken one is the loop's problem."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "sources.toml").write_text("[[source]\nname = ", encoding="utf-8")
    monkeypatch.setenv("NEWSDESK_SEEDS", str(seeds))
    answer = client_of(replace(seeded, index=shutil.copytree(seeded.index, tmp_path / "instance"))).get("/sources")
    assert answer.status_code == 200
    assert cells(answer.text, "RksNews")["next"] == "not crawled"
