"""Every page against the checkers browsers and assistive technology are built to: Nu HTML checker and axe-core.

The pages come from the real app (CSRF on) over a copy of the seeded instance
that also holds a wire story in two outlets (copies, "Also published by"), a
person the gazetteer does not know (candidates), a crawl's health records
(sources), a kept source, a user and a saved search; the flows are the reader's
own (log in, a refused log-in, save a search, unsubscribe) and an administrator's
(add a source from a loopback server, a refused address, an OPML import, removing). Each page's bytes, as served,
are checked twice:

- by the Nu HTML checker (``vnu.jar`` from npm's ``vnu-jar``, run with the
  machine's Java): all pages in one run, one JVM; zero errors wanted;
- by axe-core (npm's ``axe-core``) inside headless Chromium, the page served
  over HTTP beside the site's real stylesheet, so contrast and link styles
  are judged as a reader sees them; every rule axe runs by default
  (WCAG A/AA and best practices), zero violations wanted.

``make test`` installs both tools (its ``checkers`` target); without them
these tests skip and say what is missing.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from markupsafe import escape
from selenium.webdriver.remote.webdriver import WebDriver
from werkzeug.test import TestResponse

from chromium import MISSING, served, start_chromium
from loopback import Reply, Web, rss
from search.alerts import add_user, find_user
from search.alerts.saved import list_saved, unsubscribe_url
from search.clean import clean
from search.crawl.fetch import Exchange
from search.crawl.frontier import Frontier
from search.crawl.schedule import Schedule
from search.decode import received_page
from search.enrich import Gazetteer, enrich, record_candidates
from search.index import create_index, write_articles
from search.records import PageHints, RawPage, Source
from search.settings import Settings
from search.sources import add_source
from search.state import open_state
from web import create_app
from webforms import csrf_token, log_in, make_app, make_user, own_instance, submit

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO / ".venv" / "npm" / "node_modules"  # where `make checkers` puts the npm packages
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = NODE_MODULES / "axe-core" / "axe.min.js"
JAVA = shutil.which("java")

LAVROV = "Q58217"

# --- the instance behind the pages ------------------------------------------------

WIRE = [
    "Serbia and Kosovo will resume EU-mediated talks in Brussels next week, the European Union said on Friday.",
    "Foreign Minister Marko Petrović told reporters in Belgrade that his delegation would attend.",
    "The talks stalled in the spring over the status of municipalities in the north of Kosovo.",
    "Diplomats said the sides were pressed to agree on energy and licence plates before the summer.",
]
EDITED = [WIRE[0].replace("on Friday", "on Friday in a statement"), *WIRE[1:]]


def _page(url: str, outlet: str, title: str, paragraphs: Iterable[str]) -> RawPage:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    data = f"<html lang=en><head><title>{escape(title)}</title></head><body><article><h1>{escape(title)}</h1>" \
           f"{body}</article></body></html>"
    return received_page(data=data.encode(), origin=url, content_type="text/html", url=url, hints=PageHints(outlet=outlet))


def _add_wire_story(settings: Settings, gazetteer: Gazetteer) -> None:
    """One story from two outlets: copies in one cluster, and a titled person the gazetteer lacks."""
    pages = [
        _page("https://balkanwire.example/2021/06/04/talks", "Balkan Wire", "Serbia and Kosovo to resume talks", WIRE),
        _page("https://observer.example/world/talks", "Daily Observer", "Belgrade and Pristina back at table", EDITED),
    ]
    articles = record_candidates((enrich(clean(page), gazetteer) for page in pages), settings, gazetteer)
    report = write_articles(articles, settings)
    assert report.added == 2, report


def _add_crawl_health(settings: Settings) -> None:
    """What a crawl leaves for /sources: a source, its success and failure, its hosts, its next crawl."""
    now = dt.datetime.now(dt.UTC).timestamp()
    wire = Source(name="Balkan Wire", url="https://balkanwire.example/")
    with closing(open_state(settings)) as db:
        frontier = Frontier(db)
        frontier.start([wire], now)
        with db:
            frontier.source_event("Balkan Wire", now, new_article=True)
            frontier.source_event("Balkan Wire", now, error="feed https://balkanwire.example/rss answered 503")
            frontier.log([Exchange("https://balkanwire.example/rss", 503, 0, 0.2, now),
                          Exchange("https://balkanwire.example/2021/06/04/talks", 200, 20_000, 0.3, now)])
        Schedule(db).record_outcomes([wire], now - 1, now, settings)
    add_source(settings, Source(name="Daily Observer", url="https://observer.example/",
                                feeds=("https://observer.example/rss",)))  # kept, never crawled


#: An OPML file as a feed reader exports it: one new source, one already kept, one refused, one unusable.
OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Reader</title></head><body><outline text="News">
  <outline type="rss" text="Agence &amp; Co" xmlUrl="https://agence.example/rss" htmlUrl="https://agence.example/"/>
  <outline type="rss" text="Daily Observer" xmlUrl="https://observer.example/rss"/>
  <outline type="rss" text="Intranet" xmlUrl="http://127.0.0.1/rss"/>
  <outline type="rss" text="Broken" xmlUrl="rss.xml"/>
</outline></body></opml>
"""


def _collect_admin(settings: Settings, pages: dict[str, Page]) -> None:
    """An administrator's pages: the forms, a refused address, a source added from a real server, an import."""
    add_user(settings, "boss@example.org", "correct horse battery", admin=True)
    web = Web()
    outlet = web.site("127.0.0.1")
    outlet.routes.update({
        "/": lambda: Reply(body=b'<html><head><title>Loopback Gazette</title><link rel="alternate" '
                                b'type="application/rss+xml" href="/feed.rss"><link rel="alternate" '
                                b'type="application/rss+xml" href="/gone.rss"></head><body>Front</body></html>'),
        "/feed.rss": lambda: Reply(body=rss([(outlet.url("/news/1"), "One", None)]),
                                   headers={"Content-Type": "application/rss+xml"}),
    })
    try:
        for allowed in (False, True):
            admin = make_app(replace(settings, allow_private_sources=allowed, crawl_min_gap=0.05)).test_client()
            assert log_in(admin, "boss@example.org").status_code == 302
            if allowed:
                _take(pages, "sources-added", submit(admin, "/sources", "/sources/add", url=outlet.url("/")), 200)
                continue
            _take(pages, "sources-admin", admin.get("/sources"), 200)
            _take(pages, "sources-add-refused", submit(admin, "/sources", "/sources/add", url=outlet.url("/")), 400)
            token = csrf_token(admin.get("/sources").text)
            imported = admin.post("/sources/import", content_type="multipart/form-data",
                                  data={"csrf_token": token, "opml": (io.BytesIO(OPML), "reader.opml")})
            _take(pages, "sources-imported", imported, 200)
            _take(pages, "sources-remove", admin.get("/sources/remove?name=Daily+Observer"), 200)
    finally:
        web.close()


# --- the pages --------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    name: str
    status: int
    body: bytes


def _take(pages: dict[str, Page], name: str, answer: TestResponse, status: int) -> None:
    assert answer.status_code == status, (name, answer.status_code, answer.text[:500])
    assert answer.mimetype == "text/html", (name, answer.mimetype)
    pages[name] = Page(name, status, answer.get_data())


def _collect(settings: Settings) -> dict[str, Page]:
    """Every kind of page the site serves, as each reader reaches it."""
    pages: dict[str, Page] = {}
    reader = make_app(settings).test_client()

    def get(name: str, path: str, status: int = 200, client: FlaskClient = reader) -> None:
        _take(pages, name, client.get(path), status)

    get("results-all", "/")
    get("results-query", "/?q=Kosovo")
    get("results-filtered", f"/?q=Kosovo&actor={LAVROV}&language=en&sort=date")
    get("results-second-page", "/?q=Kosovo&per_page=2&page=2")
    get("results-copies", "/?q=talks")  # "Also published by" and undated hits
    get("results-empty", "/?q=nothingmatchesthis")
    get("results-dated", "/?q=Kosovo&from=2018-01-01&to=2021-12&certainty=uncertain")  # the date filter at work
    get("results-undated", "/?dated=no&sort=date")
    get("results-preset", "/?range=year")  # nothing this year: the undated left out, a preset's start
    get("results-by-outlet", "/?q=Kosovo&split=outlet&measure=share&interval=year")  # the chart, one panel each
    get("compare", "/compare?q=Kosovo&q=Lavrov&q=Brussels")
    get("error-bad-query", '/?q="unclosed', status=400)
    get("error-not-found", "/articles/no-such-article", status=404)
    dated = reader.get("/api/search", query_string={"q": "published:2018"}).get_json()["hits"][0]["id"]
    get("article", f"/articles/{dated}")
    get("article-original", f"/articles/{dated}/original")
    copy = reader.get("/api/search", query_string={"q": "talks"}).get_json()["hits"][0]["id"]
    get("article-with-copies", f"/articles/{copy}")
    alike = reader.get("/api/search", query_string={"q": "Thaci"}).get_json()["hits"][0]["id"]
    get("article-with-related", f"/articles/{alike}")
    get("actor", f"/actors/{LAVROV}")
    get("candidates", "/actors/candidates")
    get("sources", "/sources")
    get("register", "/register")
    page = reader.get("/register")
    refused = reader.post("/register", data={"csrf_token": csrf_token(page.text), "email": "new@example.org",
                                             "password": "short", "confirm": "shorter"})
    _take(pages, "register-refused", refused, 400)
    get("login", "/login")
    _take(pages, "login-failed", log_in(reader, "nobody@example.org", "wrong password"), 400)

    make_user(settings, "ana@example.org")
    ana = make_app(settings).test_client()
    assert log_in(ana, "ana@example.org").status_code == 302
    get("saved-none", "/saved", client=ana)
    get("account", "/account", client=ana)
    results = f"/?q=Kosovo&actor={LAVROV}"
    get("results-logged-in", results, client=ana)  # with the "Save this search" form
    saved = submit(ana, results, "/saved", name="Lavrov on Kosovo", frequency="daily")
    assert saved.status_code == 302, saved.text
    get("saved", "/saved", client=ana)  # with the "Saved …" message
    [search] = list_saved(settings, find_user(settings, "ana@example.org").id)
    get("saved-form", f"/saved/{search.id}/edit", client=ana)
    _take(pages, "saved-form-refused", submit(ana, results, "/saved", q='"unclosed'), 400)
    unsubscribe = urlsplit(unsubscribe_url(settings, search)).path
    get("unsubscribe", unsubscribe)
    _take(pages, "unsubscribe-done", reader.post(unsubscribe), 200)
    _collect_admin(settings, pages)
    return pages


def _collect_front_pages(pages: dict[str, Page], settings: Settings, empty: Settings) -> None:
    """The front page as it speaks of the instance: small (``results-all``), past the threshold, and empty."""
    large = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings, "NEWSDESK_FEW_ARTICLES": 2})
    _take(pages, "results-all-large", large.test_client().get("/"), 200)  # "Add more articles" closed
    create_index(empty)
    _take(pages, "results-empty-index", make_app(empty).test_client().get("/"), 200)


@pytest.fixture(scope="module")
def pages(seeded: Settings, gazetteer: Gazetteer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Page]:
    settings = own_instance(seeded, tmp_path_factory.mktemp("standards"), registration_open=True)
    _add_wire_story(settings, gazetteer)
    _add_crawl_health(settings)
    pages = _collect(settings)
    _collect_front_pages(pages, settings, Settings(index=tmp_path_factory.mktemp("standards-empty") / "instance"))
    return pages


PAGE_NAMES = [
    "results-all", "results-query", "results-filtered", "results-second-page", "results-copies", "results-empty",
    "results-dated", "results-undated", "results-preset", "results-by-outlet", "compare",
    "error-bad-query", "error-not-found", "article", "article-original", "article-with-copies", "article-with-related",
    "actor", "candidates", "sources",
    "register", "register-refused", "login", "login-failed", "saved-none", "account", "results-logged-in", "saved",
    "saved-form", "saved-form-refused", "unsubscribe", "unsubscribe-done", "results-all-large", "results-empty-index",
    "sources-admin", "sources-add-refused", "sources-added", "sources-imported", "sources-remove",
]


#: What each page is in the catalogue for, so that a page that quietly stopped showing it fails here.
SHOWS = {
    "results-all": '<details class="add-more" open>',
    "results-all-large": '<details class="add-more">',
    "results-empty-index": "Nothing here yet",
    "results-filtered": 'class="chips"',
    "results-second-page": 'class="pager"',
    "results-copies": "Also published by",
    "results-empty": "No articles match",
    "results-dated": "(date uncertain)",
    "results-undated": "Articles: undated only",
    "results-preset": 'class="undated"',
    "results-by-outlet": '<section class="timeline" id="timeline"',
    "compare": '<table class="compared-totals">',
    "error-bad-query": 'class="hint"',
    "article": "<time datetime=",
    "article-original": "<iframe sandbox",
    "article-with-copies": "Other copies",
    "article-with-related": '<h2 id="related-heading">Related articles</h2>',
    "candidates": "Marko Petrović",
    "sources": 'data-source="Daily Observer" data-status="kept"',
    "sources-admin": 'action="/sources/import"',
    "sources-add-refused": "is a private or local address",
    "sources-added": 'id="source-added"',
    "sources-imported": 'class="imported-skipped"',
    "sources-remove": "Remove Daily Observer?",
    "register-refused": 'class="field-error"',
    "login-failed": 'class="form-errors"',
    "saved-none": "None yet",
    "account": "<select",
    "results-logged-in": 'action="/saved"',
    "saved": 'class="flashes"',
    "saved-form": "Lavrov on Kosovo",
    "saved-form-refused": 'class="form-errors"',
    "unsubscribe": "Stop these e-mails",
    "unsubscribe-done": "E-mails stopped",
}


def test_the_catalogue_holds_every_page_showing_what_it_is_there_for(pages: dict[str, Page]) -> None:
    assert sorted(pages) == sorted(PAGE_NAMES)
    missing = {name: shows for name, shows in SHOWS.items() if shows not in pages[name].body.decode()}
    assert missing == {}


# --- the Nu HTML checker ----------------------------------------------------------


PLANTED = "planted-error"
PLANTED_BODY = b"<!doctype html><html lang=en><title>Planted</title><p><time>undated</time>"


@dataclass(frozen=True)
class NuMessage:
    type: str  # "error", "info" (a warning when subType says so), "non-document-error"
    line: int | None
    message: str
    extract: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message} [{self.extract.strip()}]"


@pytest.fixture(scope="module")
def nu_messages(pages: dict[str, Page], tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[NuMessage]]:
    """The checker's messages for every page: one run of vnu.jar over all of them."""
    if JAVA is None:
        pytest.skip("the Nu HTML checker needs Java (apt-get install default-jre-headless, or `make checkers`)")
    if not VNU_JAR.is_file():
        pytest.skip(f"the Nu HTML checker is not installed at {VNU_JAR} (`make checkers`)")
    folder = tmp_path_factory.mktemp("nu")
    bodies = {name: page.body for name, page in pages.items()} | {PLANTED: PLANTED_BODY}
    for name, body in bodies.items():
        (folder / f"{name}.html").write_bytes(body)
    run = subprocess.run([JAVA, "-jar", str(VNU_JAR), "--format", "json", "--stdout", "--exit-zero-always",
                          *sorted(str(path) for path in folder.iterdir())], capture_output=True, timeout=300, check=True)
    by_file: dict[str, list[NuMessage]] = {name: [] for name in bodies}
    for m in json.loads(run.stdout)["messages"]:
        name = Path(urlsplit(m.get("url", "")).path).stem  # file:/tmp/…/<name>.html
        assert name in by_file, f"a message about no page of ours: {m}"
        by_file[name].append(NuMessage(m["type"], m.get("lastLine"), m["message"], m.get("extract", "")))
    return by_file


def test_the_nu_html_checker_reports_a_planted_error(nu_messages: dict[str, list[NuMessage]]) -> None:
    """The oracle's own check: a page with a known error is reported, so an empty report means something."""
    [error] = nu_messages[PLANTED]
    assert error.type == "error" and "time" in error.message


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_the_nu_html_checker_finds_no_error(nu_messages: dict[str, list[NuMessage]], name: str) -> None:
    errors = [str(m) for m in nu_messages[name] if m.type != "info"]
    assert errors == [], f"{name}: " + "\n".join(errors)


# --- axe-core in Chromium -----------------------------------------------------------


class _Pages:
    """WSGI: the collected pages at ``/checked/<name>``, everything else (the stylesheet) from the app."""

    def __init__(self, app: Callable[..., Any], pages: dict[str, Page]) -> None:
        self.app, self.pages = app, pages

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/checked/") and path.removeprefix("/checked/") in self.pages:
            page = self.pages[path.removeprefix("/checked/")]
            start_response(f"{page.status} {HTTPStatus(page.status).phrase}", [("Content-Type", "text/html; charset=utf-8")])
            return [page.body]
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


@pytest.fixture(scope="module")
def checked_base_url(pages: dict[str, Page], seeded: Settings) -> Iterator[str]:
    with served(_Pages(make_app(seeded), pages), threads=2) as base_url:
        yield f"{base_url}/checked/"


@pytest.fixture(scope="module")
def axe_browser(checked_base_url: str) -> Iterator[WebDriver]:
    if MISSING:
        pytest.skip(MISSING)
    if not AXE_JS.is_file():
        pytest.skip(f"axe-core is not installed at {AXE_JS} (`make checkers`)")
    driver, profile = start_chromium()
    driver.set_script_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@functools.cache
def axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(driver: WebDriver, url: str, before: str | None = None) -> list[dict[str, Any]]:
    """axe-core's violations on the page at ``url`` (loaded with its stylesheet), after running ``before``."""
    driver.get(url)
    if before:
        driver.execute_script(before)
    driver.execute_script(axe_source())
    violations: list[dict[str, Any]] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        "  .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        "     nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}))))"
        "  .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));"
    )
    return violations


@pytest.mark.browser
@pytest.mark.parametrize("name", PAGE_NAMES)
def test_axe_core_finds_no_violation(axe_browser: WebDriver, checked_base_url: str, name: str) -> None:
    violations = axe_violations(axe_browser, checked_base_url + name)
    report = [f"{v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"][:5]) for v in violations]
    assert report == [], f"{name}:\n" + "\n".join(report)


@pytest.mark.browser
def test_axe_core_reports_a_planted_violation(axe_browser: WebDriver, checked_base_url: str) -> None:
    """The oracle's own check: an image without a text alternative is reported."""
    plant = "document.querySelector('main').append(document.createElement('img'))"
    violations = axe_violations(axe_browser, checked_base_url + "results-all", before=plant)
    assert "image-alt" in [v["id"] for v in violations]


# --- on a phone ---------------------------------------------------------------------


@pytest.mark.browser
def test_no_page_is_wider_than_a_phone(axe_browser: WebDriver, checked_base_url: str) -> None:
    """At 390 px nothing makes the page scroll sideways: a wide table scrolls in its own box, a long URL wraps."""
    axe_browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    try:
        widths = {}
        for name in PAGE_NAMES:
            axe_browser.get(checked_base_url + name)
            widths[name] = axe_browser.execute_script("return document.documentElement.scrollWidth")
    finally:
        axe_browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert {name: width for name, width in widths.items() if width > 390} == {}
