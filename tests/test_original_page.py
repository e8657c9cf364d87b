"""Every article's original page: the archived bytes, replayed in a sandbox, to check the cleaner against.

One instance holds an article of every kind Newsdesk takes in. Crawled from
a loopback outlet: a UTF-8 page that carries a script, an image, a style
sheet, a preconnect hint, a ``srcdoc`` frame and a refresh, all aimed at a
second loopback server ("elsewhere") and a bare TCP listener; a
windows-1251 page (the charset in the HTTP header); a ``noarchive`` page.
Ingested: an ``.html`` file in windows-1251 (the charset in ``<meta>``), a
JSON Lines collection (a record with text only, a record with a page) and
a WARC file captured from the outlet by warcio, its page in KOI8-R.

The oracles are the bytes each page was served or saved as, decoded with
the codec we wrote them in; the servers' own logs say what a browser asked
of them. Takedowns and damaged catalogues get instances of their own.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from warcio.archiveiterator import ArchiveIterator
from warcio.capture_http import capture_http

from chromium import MISSING, WAIT, served, start_chromium
from conftest import make_settings
from loopback import Reply, Site, Web, paragraphs, rss
from search.archive import locate_original, open_archive, read_original
from search.crawl.crawler import crawl
from search.index import open_index
from search.ingest import ingest
from search.records import Source, StatedRecord
from search.settings import Settings
from search.state import state_path
from search.takedown import take_down
from web import create_app

#: The capture's policy, spelt out here rather than imported: a change to it must change this test.
SANDBOX = ("sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'none'; "
           "frame-ancestors 'self'")
#: Every header the capture is served with: nothing of the original's (Set-Cookie, Link, Refresh…) among them.
CAPTURE_HEADERS = {"Content-Type", "Content-Length", "Content-Security-Policy", "X-Frame-Options",
                   "X-Content-Type-Options", "Referrer-Policy", "X-DNS-Prefetch-Control", "Cache-Control", "Vary"}

CYRILLIC = [
    ("Министр иностранных дел России Сергей Лавров заявил в четверг, что Москва готова поддержать любое "
     "решение по Косово, которое устроит Белград, и призвал Европейский союз к сбалансированному подходу."),
    ("По словам министра, переговоры между Белградом и Приштиной должны продолжаться на основе резолюции "
     "Совета Безопасности ООН, а односторонние шаги только осложняют обстановку в регионе и вокруг него."),
    ("Лавров также отметил, что российская сторона поддерживает постоянные контакты с сербским руководством "
     "и внимательно следит за ситуацией на севере края, где в последние недели усилилась напряжённость."),
]


def document(title: str, paragraphs_: list[str], head: str = "", body: str = "", charset: str = "utf-8") -> str:
    text = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs_)
    return (f'<!doctype html><html><head><meta charset="{charset}"><title>{html.escape(title)}</title>{head}</head>'
            f"<body><article><h1>{html.escape(title)}</h1>{text}{body}</article></body></html>")


class Listener:
    """A bare TCP server that counts connections: what a preconnect hint opens without sending a request."""

    def __init__(self, host: str) -> None:
        self.socket = socket.create_server((host, 0))
        self.origin = f"http://{host}:{self.socket.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.socket.close()


def scripted_page(elsewhere: Site, listener: Listener) -> bytes:
    """A page that, left to itself, runs a script and reaches two other servers in every way it can."""
    away = elsewhere.url
    head = (
        f'<meta http-equiv="refresh" content="1; url={away("/refreshed")}">'
        f'<link rel="stylesheet" href="{away("/style.css")}">'
        f'<LINK rel="preconnect" href="{listener.origin}">'
        f'<style>@import url({away("/imported.css")}); body {{ background: url({away("/background.png")}) }}</style>'
        f'<script>document.title = "The script ran"; new Image().src = "{away("/beacon")}";</script>'
        f'<script src="{away("/script.js")}"></script>'
    )
    body = (
        f'<img src="{away("/pixel.png")}" alt="pixel"><iframe src="{away("/framed")}" title="framed"></iframe>'
        f'<iframe title="inline" srcdoc="&lt;link rel=preconnect href={listener.origin}/framed-hint&gt;"></iframe>'
        f'<video src="{away("/video.mp4")}" autoplay></video><object data="{away("/object")}"></object>'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="inline pixel">'
    )
    return document("Herald on the energy talks", paragraphs("energy"), head, body).encode()


@dataclass
class Instance:
    settings: Settings
    client: FlaskClient
    web: Web
    outlet: Site
    elsewhere: Site
    listener: Listener
    served: dict[str, bytes]  # what the outlet served or the files held, by name
    ids: dict[str, str]  # article id by name
    warc_date: str  # the WARC-Date warcio wrote for the imported capture


def _articles(settings: Settings) -> list[dict[str, object]]:
    with open_index(settings).searcher() as searcher:
        return [dict(fields) for fields in searcher.all_stored_fields()]


def _id_of(settings: Settings, **fields: str) -> str:
    [found] = [a for a in _articles(settings) if all(a.get(k) == v for k, v in fields.items())]
    return str(found["id"])


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    web = Web()
    outlet, elsewhere, listener = web.site("127.0.0.1"), web.site("127.0.0.2"), Listener("127.0.0.3")
    served = {
        "scripted": scripted_page(elsewhere, listener),
        "cyrillic": document("Лавров о Косово", CYRILLIC, charset="windows-1251").encode("cp1251"),
        "noarchive": document("Index me but keep no copy", paragraphs("archives"),
                              head='<meta name="robots" content="noarchive">').encode(),
        "warc": document("Лавров в Белграде", [p.replace("Косово", "Сербии") for p in CYRILLIC],
                         charset="koi8-r").encode("koi8_r"),
    }
    outlet.routes.update({
        "/feed.rss": lambda: Reply(body=rss([(outlet.url(f"/news/{name}"), name, None)
                                             for name in ("scripted", "cyrillic", "noarchive")]),
                                   headers={"Content-Type": "application/rss+xml"}),
        "/news/scripted": lambda: Reply(body=served["scripted"], headers={
            "Content-Type": "text/html; charset=utf-8", "Set-Cookie": "tracker=1; Path=/",
            "Link": f'<{elsewhere.url("/hinted.css")}>; rel=preload; as=style', "Refresh": "5"}),
        "/news/cyrillic": lambda: Reply(body=served["cyrillic"],
                                        headers={"Content-Type": "text/html; charset=windows-1251"}),
        "/news/noarchive": lambda: Reply(body=served["noarchive"]),
        "/archived/belgrade": lambda: Reply(body=served["warc"], headers={"Content-Type": "text/html; charset=koi8-r"}),
    })
    root = tmp_path_factory.mktemp("original")
    settings = make_settings(root / "instance", crawl_min_gap=0.0, write_timeout=1.0)
    report = crawl([Source("Loopback Herald", outlet.url("/"), feeds=(outlet.url("/feed.rss"),))], settings,
                   progress=False)
    assert report.added == 3, report

    files = root / "files"
    files.mkdir()
    served["file"] = document("Лавров и Вучич", [p.replace("Косово", "Вучич") for p in CYRILLIC],
                              charset="windows-1251").encode("cp1251")
    (files / "vucic.html").write_bytes(served["file"])
    text_only = StatedRecord(title="Grid operators agree on a timetable", outlet="Wire Records",
                             text="\n\n".join(paragraphs("the grid")))
    with_page = StatedRecord(outlet="Wire Records", html=document("Plates dispute eases", paragraphs("plates")))
    (files / "records.jsonl").write_text(
        "".join(json.dumps({k: v for k, v in vars(r).items() if v is not None}) + "\n" for r in (text_only, with_page)))
    served["text-record"], served["page-record"] = text_only.as_bytes(), with_page.as_bytes()
    with capture_http(str(files / "capture.warc.gz")):
        urllib.request.urlopen(outlet.url("/archived/belgrade"), timeout=WAIT).read()
    with gzip.open(files / "capture.warc.gz") as warc:
        [warc_date] = [r.rec_headers.get_header("WARC-Date") for r in ArchiveIterator(warc) if r.rec_type == "response"]
    report = ingest([files], settings, progress=False)
    assert report.added == 4 and not report.failed, report
    assert [reason for _, reason in report.skipped] == ["a request record, not a page"]  # warcio keeps the request

    ids = {
        "scripted": _id_of(settings, url=outlet.url("/news/scripted")),
        "cyrillic": _id_of(settings, url=outlet.url("/news/cyrillic")),
        "noarchive": _id_of(settings, url=outlet.url("/news/noarchive")),
        "warc": _id_of(settings, url=outlet.url("/archived/belgrade")),
        "file": _id_of(settings, title="Лавров и Вучич"),
        "text-record": _id_of(settings, title="Grid operators agree on a timetable"),
        "page-record": _id_of(settings, title="Plates dispute eases"),
    }
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()
    try:
        yield Instance(settings, client, web, outlet, elsewhere, listener, served, ids, warc_date)
    finally:
        web.close()
        listener.close()


ARCHIVED = ["scripted", "cyrillic", "warc", "file", "text-record", "page-record"]


# --- the link ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ARCHIVED)
def test_every_article_page_links_its_original_page(instance: Instance, name: str) -> None:
    article_id = instance.ids[name]
    page = instance.client.get(f"/articles/{article_id}").text
    assert f'<a href="/articles/{article_id}/original">original page</a>' in page
    assert instance.client.get(f"/articles/{article_id}/original").status_code == 200


def test_a_noarchive_pages_original_page_is_a_404_that_says_why(instance: Instance) -> None:
    """The article page links it all the same: to tell, every article page would need the archive reader."""
    article_id = instance.ids["noarchive"]
    assert f'<a href="/articles/{article_id}/original">' in instance.client.get(f"/articles/{article_id}").text
    for path in _paths(article_id):
        answer = instance.client.get(path)
        assert answer.status_code == 404
        assert f"No archived page of article {article_id}" in answer.text
        assert "noarchive" in answer.text  # the hint names why


# --- the capture: the archived page's text, decoded as the cleaner decoded it ---------------


@pytest.mark.parametrize(("name", "codec"), [("cyrillic", "cp1251"), ("warc", "koi8_r"), ("file", "cp1251")])
def test_the_capture_is_the_archived_page_decoded_in_its_own_charset(instance: Instance, name: str, codec: str) -> None:
    answer = instance.client.get(f"/articles/{instance.ids[name]}/original/capture")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.get_data() == instance.served[name].decode(codec).encode("utf-8")
    assert "Министр иностранных дел России" in answer.text


def test_the_capture_is_served_in_the_sandbox_and_without_the_originals_headers(instance: Instance) -> None:
    answer = instance.client.get(f"/articles/{instance.ids['scripted']}/original/capture")
    assert answer.headers["Content-Security-Policy"] == SANDBOX
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert answer.headers["Cache-Control"] == "no-store"
    assert set(answer.headers.keys()) == CAPTURE_HEADERS  # no Set-Cookie, Link or Refresh of the outlet's
    with open_archive(instance.settings) as archive:  # which the archive did keep, as received
        [kept] = [page for page in archive.pages() if page.url == instance.outlet.url("/news/scripted")]
    assert kept.data == instance.served["scripted"]


def test_a_script_in_the_original_is_text_the_policy_forbids_to_run(instance: Instance) -> None:
    answer = instance.client.get(f"/articles/{instance.ids['scripted']}/original/capture")
    assert '<script>document.title = "The script ran";' in answer.text
    policy = [part.strip() for part in answer.headers["Content-Security-Policy"].split(";")]
    assert policy[0] == "sandbox" and "default-src 'none'" in policy and not any("script-src" in p for p in policy)


def test_link_tags_and_srcdoc_frames_are_made_inert_and_nothing_else_changes(instance: Instance) -> None:
    """The one edit to a capture: what browsers act on outside any policy (a preconnect opens a connection)."""
    served = instance.served["scripted"].decode()
    text = instance.client.get(f"/articles/{instance.ids['scripted']}/original/capture").text
    assert "<link" not in text.lower() and not re.search("(?<!archived-)srcdoc", text)
    assert text.count("<meta data-archived-link ") == 2 and 'data-archived-srcdoc="&lt;link' in text
    undone = re.sub("<meta data-archived-link", "<link", text, count=1)
    undone = undone.replace("<meta data-archived-link", "<LINK").replace("data-archived-srcdoc", "srcdoc")
    assert undone == served


# --- the download: the bytes as archived --------------------------------------------------


@pytest.mark.parametrize(("name", "extension"), [
    ("scripted", "html"), ("cyrillic", "html"), ("warc", "html"), ("file", "html"), ("text-record", "json"),
    ("page-record", "json"),
])
def test_the_download_is_the_bytes_as_archived(instance: Instance, name: str, extension: str) -> None:
    article_id = instance.ids[name]
    answer = instance.client.get(f"/articles/{article_id}/original.raw")
    assert answer.get_data() == instance.served[name]
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{article_id}.{extension}"'
    assert answer.headers["Content-Security-Policy"] == SANDBOX
    digest = hashlib.sha256(instance.served[name]).hexdigest()
    assert f"SHA-256 <code>{digest}</code>" in instance.client.get(f"/articles/{article_id}/original").text


# --- the original page: where and when, and the sandboxed frame -------------------------------


def test_a_crawled_pages_original_says_where_and_when_it_was_captured(instance: Instance) -> None:
    page = instance.client.get(f"/articles/{instance.ids['cyrillic']}/original").text
    url = instance.outlet.url("/news/cyrillic")
    assert f'<dt>Captured from</dt><dd><a href="{url}" rel="noopener noreferrer nofollow">{url}</a></dd>' in page
    assert "HTTP 200, <code>Content-Type: text/html; charset=windows-1251</code>" in page
    frame = f'<iframe sandbox src="/articles/{instance.ids["cyrillic"]}/original/capture" referrerpolicy="no-referrer"'
    assert frame in page


def test_an_imported_warcs_page_shows_its_capture_date(instance: Instance) -> None:
    """The date the WARC says it was captured, not the day it was imported."""
    page = instance.client.get(f"/articles/{instance.ids['warc']}/original").text
    captured = re.search(r'<dt>Captured</dt><dd><time datetime="([^"]+)">', page).group(1)
    assert captured[:19] == instance.warc_date[:19]
    assert "koi8-r" in page


def test_an_ingested_files_original_names_the_file_but_not_the_servers_folders(instance: Instance) -> None:
    page = instance.client.get(f"/articles/{instance.ids['file']}/original").text
    assert "<dt>Ingested</dt><dd>file <code>vucic.html</code>, on <time datetime=" in page
    assert str(instance.settings.index.parent) not in page


def test_a_record_with_text_only_shows_what_it_states_and_says_so(instance: Instance) -> None:
    article_id = instance.ids["text-record"]
    page = instance.client.get(f"/articles/{article_id}/original").text
    assert "This article came from a record of a collection, not from a web page" in page
    assert "<dt>title</dt><dd>Grid operators agree on a timetable</dd>" in page
    assert '<dt>text</dt><dd class="stated-text">' + html.escape(paragraphs("the grid")[0]) in page
    assert "<iframe" not in page  # no page to frame
    assert "record <code>records.jsonl:1</code> of a collection" in page
    capture = instance.client.get(f"/articles/{article_id}/original/capture")  # the record, as archived
    assert capture.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert capture.get_data() == instance.served["text-record"]


def test_a_record_with_a_page_frames_that_page(instance: Instance) -> None:
    article_id = instance.ids["page-record"]
    page = instance.client.get(f"/articles/{article_id}/original").text
    assert "The page it states is shown below" in page and "<dt>html</dt>" not in page
    assert f'src="/articles/{article_id}/original/capture"' in page
    capture = instance.client.get(f"/articles/{article_id}/original/capture")
    assert capture.headers["Content-Type"] == "text/html; charset=utf-8"
    assert capture.text == document("Plates dispute eases", paragraphs("plates"))


def test_the_original_page_allows_its_own_style_by_hash_and_no_other(instance: Instance) -> None:
    answer = instance.client.get(f"/articles/{instance.ids['scripted']}/original")
    style = re.search(r"<style>(.*?)</style>", answer.text, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert answer.headers["Content-Security-Policy"] == (
        f"default-src 'self'; style-src 'self' 'sha256-{digest}'; frame-ancestors 'none'")
    assert answer.headers["X-Frame-Options"] == "DENY"  # the page itself is framed by nobody


# --- takedowns, and what the reader will not do --------------------------------------------------


@pytest.fixture
def small(tmp_path: Path) -> tuple[Settings, str]:
    """An instance of its own holding one ingested page."""
    settings = make_settings(tmp_path / "instance", write_timeout=0.5)
    (tmp_path / "talks.html").write_text(document("Talks resume in Brussels", paragraphs("Monday")))
    assert ingest([tmp_path / "talks.html"], settings, progress=False).added == 1
    return settings, _id_of(settings, title="Talks resume in Brussels")


def _paths(article_id: str) -> list[str]:
    return [f"/articles/{article_id}/original", f"/articles/{article_id}/original/capture",
            f"/articles/{article_id}/original.raw"]


def test_a_taken_down_articles_capture_is_never_served(small: tuple[Settings, str]) -> None:
    settings, article_id = small
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()
    assert [client.get(path).status_code for path in _paths(article_id)] == [200, 200, 200]
    take_down(settings, article_id)
    assert [client.get(path).status_code for path in _paths(article_id)] == [404, 404, 404]
    assert read_original(settings, article_id) is None and locate_original(settings, article_id) is None


def test_a_capture_gone_from_the_archive_is_not_served_though_the_index_keeps_the_article(
    small: tuple[Settings, str],
) -> None:
    settings, article_id = small
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()
    with open_archive(settings) as archive:
        assert archive.delete(article_id) == 1
    answers = [client.get(path) for path in _paths(article_id)]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert all(f"No archived page of article {article_id}" in a.text for a in answers)


def test_the_web_app_reads_the_archive_while_a_writer_holds_it(small: tuple[Settings, str]) -> None:
    """No writer lock taken: with one held (an ingest, a crawl), the original page still answers at once."""
    settings, article_id = small
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()
    with open_archive(settings):
        assert [client.get(path).status_code for path in _paths(article_id)] == [200, 200, 200]


def test_without_a_catalogue_there_is_no_original_and_none_is_created(small: tuple[Settings, str]) -> None:
    settings, article_id = small
    for path in state_path(settings).parent.glob(state_path(settings).name + "*"):
        path.unlink()
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()
    assert client.get(f"/articles/{article_id}/original").status_code == 404
    assert not state_path(settings).exists()


def test_a_record_moved_under_the_catalogue_is_refused_never_answered_with_another_pages_bytes(
    tmp_path: Path,
) -> None:
    """The moment a takedown has rewritten a WARC file and its catalogue not yet followed: offsets now name
    other records. Made here by cutting the first page's record out of the file as a takedown does."""
    settings = make_settings(tmp_path / "instance")
    for name in ("first", "second"):
        (tmp_path / f"{name}.html").write_text(document(f"The {name} story", paragraphs(name)))
    assert ingest([tmp_path / "first.html", tmp_path / "second.html"], settings, progress=False).added == 2
    first, second = _id_of(settings, title="The first story"), _id_of(settings, title="The second story")
    cut = locate_original(settings, first)
    path = settings.index / "archive" / cut.file
    data = path.read_bytes()
    path.write_bytes(data[: cut.offset] + data[cut.offset + cut.length :])  # the second's record moves up
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()
    for article_id in (first, second):
        answer = client.get(f"/articles/{article_id}/original/capture")
        assert answer.status_code == 503 and "try again in a moment" in answer.text
        assert "story" not in answer.text  # neither page's text
    with open_archive(settings):  # the writer's next open catalogues the file again
        pass
    assert client.get(f"/articles/{first}/original/capture").status_code == 404
    assert "The second story" in client.get(f"/articles/{second}/original/capture").text


# --- in a browser: nothing runs, nothing leaves ------------------------------------------------------


@pytest.mark.browser
def test_in_chromium_no_script_runs_and_no_request_leaves(instance: Instance) -> None:
    """The wrapper, and the capture opened on its own, stay quiet; the live page, as a control, does not.

    The control is loaded last, in a third tab, and awaited until its refresh
    (one second after load) reaches the other server: the two sandboxed tabs,
    open all the while with the same page and the same refresh, have had at
    least as long to misbehave.
    """
    if MISSING:
        pytest.skip(MISSING)
    article_id = instance.ids["scripted"]
    elsewhere = instance.elsewhere.origin

    def asked(since: int) -> list[str]:
        return [r.path for r in instance.web.requests(since) if r.origin == elsewhere]

    driver, profile = start_chromium()
    try:
        with served(create_app({"NEWSDESK_SETTINGS": instance.settings})) as base:
            mark, connections = instance.web.mark(), instance.listener.connections
            driver.get(f"{base}/articles/{article_id}/original")
            frame = driver.find_element(By.TAG_NAME, "iframe")
            assert frame.size["width"] > 1000  # the page's own style applied: its hash is allowed
            wrapper = driver.current_window_handle
            driver.switch_to.new_window("tab")
            driver.get(f"{base}/articles/{article_id}/original/capture")
            assert driver.find_element(By.TAG_NAME, "h1").text == "Herald on the energy talks"
            capture = driver.current_window_handle
            quiet = instance.web.mark()
            driver.switch_to.new_window("tab")
            driver.get(instance.outlet.url("/news/scripted"))  # the control: the page as its site serves it
            WebDriverWait(driver, WAIT).until(lambda _: "/refreshed" in asked(quiet))
            assert {"/beacon", "/pixel.png", "/style.css", "/script.js", "/framed"} <= set(asked(quiet))
            assert instance.listener.connections > connections  # its preconnect hints were followed

            # Nothing from the sandboxed tabs, before the control or since: each request came once, the control's.
            assert asked(mark)[: len(asked(mark)) - len(asked(quiet))] == []
            assert [asked(mark).count(path) for path in ("/refreshed", "/beacon", "/pixel.png")] == [1, 1, 1]
            driver.switch_to.window(capture)
            assert driver.title == "Herald on the energy talks"  # the script did not retitle it
            assert driver.current_url == f"{base}/articles/{article_id}/original/capture"  # nor the refresh move it
            driver.switch_to.window(wrapper)
            driver.switch_to.frame(driver.find_element(By.TAG_NAME, "iframe"))
            assert driver.find_element(By.TAG_NAME, "h1").text == "Herald on the energy talks"
            assert driver.execute_script("return document.title") == "Herald on the energy talks"
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.browser
def test_in_chromium_no_hint_connects_from_the_sandbox(instance: Instance) -> None:
    """The preconnect hints of the page and of its srcdoc frame: counted at the listener, none from the capture."""
    if MISSING:
        pytest.skip(MISSING)
    driver, profile = start_chromium()
    try:
        with served(create_app({"NEWSDESK_SETTINGS": instance.settings})) as base:
            before = instance.listener.connections
            driver.get(f"{base}/articles/{instance.ids['scripted']}/original")
            driver.switch_to.frame(driver.find_element(By.TAG_NAME, "iframe"))
            driver.find_element(By.TAG_NAME, "h1")
            driver.switch_to.default_content()
            driver.get(instance.outlet.url("/news/noarchive"))  # a quiet page of the outlet: the tab's last load
            after_capture = instance.listener.connections
            driver.get(instance.outlet.url("/news/scripted"))
            WebDriverWait(driver, WAIT).until(lambda _: instance.listener.connections > after_capture)
            assert after_capture == before
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# --- the Nu HTML checker over each kind of original page --------------------------------------------------


def test_every_kind_of_original_page_is_valid_html(instance: Instance, tmp_path: Path) -> None:
    from test_html_standards import JAVA, VNU_JAR

    if JAVA is None or not VNU_JAR.is_file():
        pytest.skip("the Nu HTML checker is not installed (`make checkers`)")
    for name in ("scripted", "text-record", "page-record", "file"):
        (tmp_path / f"{name}.html").write_bytes(instance.client.get(f"/articles/{instance.ids[name]}/original").data)
    run = subprocess.run([JAVA, "-jar", str(VNU_JAR), "--format", "json", "--stdout", "--exit-zero-always",
                          *sorted(str(p) for p in tmp_path.iterdir())], capture_output=True, timeout=300, check=True)
    errors = [f"{m.get('url', '').rsplit('/', 1)[-1]}: {m['message']}"
              for m in json.loads(run.stdout)["messages"] if m["type"] != "info"]
    assert errors == []


_IMPORTS_PROBE = """
import json, sys
from pathlib import Path
from web import create_app
from search.settings import Settings

client = create_app({{"TESTING": True, "NEWSDESK_SETTINGS": Settings(index=Path({index!r}))}}).test_client()
found = {{"article": client.get("/articles/{article_id}").status_code}}
found["archive before"] = "search.archive" in sys.modules
found["original"] = client.get("/articles/{article_id}/original").status_code
found["archive after"] = "search.archive" in sys.modules
found["write side"] = sorted(m for m in {write_side!r} if m in sys.modules)
print(json.dumps(found))
"""


def test_the_server_loads_the_archive_reader_only_for_an_original_page_and_nothing_else_of_writing(
    instance: Instance,
) -> None:
    from test_server_memory import WRITE_SIDE

    probe = _IMPORTS_PROBE.format(index=str(instance.settings.index), article_id=instance.ids["scripted"],
                                  write_side=[m for m in WRITE_SIDE if m != "search.archive"])
    done = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"article": 200, "archive before": False, "original": 200, "archive after": True,
                     "write side": []}


@pytest.mark.browser
def test_axe_core_finds_no_violation_on_any_kind_of_original_page(instance: Instance) -> None:
    from test_html_standards import AXE_JS, axe_violations

    if MISSING or not AXE_JS.is_file():
        pytest.skip(MISSING or "axe-core is not installed (`make checkers`)")
    driver, profile = start_chromium()
    driver.set_script_timeout(60)
    try:
        with served(create_app({"NEWSDESK_SETTINGS": instance.settings})) as base:
            found = {name: axe_violations(driver, f"{base}/articles/{instance.ids[name]}/original")
                     for name in ("scripted", "text-record", "page-record", "file")}
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert {name: [v["id"] for v in violations] for name, violations in found.items() if violations} == {}


def test_the_instance_is_what_the_tests_say(instance: Instance) -> None:
    """Each archived article's capture is of the kind its test claims."""
    kinds = {name: read_original(instance.settings, instance.ids[name]) for name in ARCHIVED}
    assert {name: (o.kind, o.page_type) for name, o in kinds.items() if o} == {
        "scripted": ("response", "text/html"), "cyrillic": ("response", "text/html"),
        "warc": ("response", "text/html"), "file": ("resource", "text/html"),
        "text-record": ("resource", "application/vnd.newsdesk.record+json"),
        "page-record": ("resource", "application/vnd.newsdesk.record+json"),
    }
