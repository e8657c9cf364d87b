"""Importing web archives: WARC files, one page per HTML capture, everything else counted.

The WARCs here are real captures: ``warcio.capture_http`` records what
urllib fetches from an HTTP server on 127.0.0.1 (an article, an image, a
404), with a revisit and a stray metadata record added as crawlers write
them. Newsdesk's own archive is a WARC too, and imports into a fresh instance.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.capture_http import capture_http
from warcio.warcwriter import WARCWriter

from conftest import SEED_ARTICLES
from search.index import open_index
from search.ingest import ingest, reindex
from search.settings import Settings
from search.sources import ReadCounts, load_manifest
from search.urls import article_id

PARAGRAPH = (
    "Russian Foreign Minister Sergey Lavrov met his Serbian counterpart in Belgrade on Friday, "
    "and the two ministers discussed the dialogue between Belgrade and Pristina at length. "
)
ARTICLE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Lavrov in Belgrade | Herald</title>"
    "<meta property='og:site_name' content='Herald'>"
    "<meta property='article:published_time' content='2018-09-21T10:30:00+02:00'></head>"
    "<body><nav>Home · World</nav><article><h1>Lavrov in Belgrade</h1>"
    + "".join(f"<p>{PARAGRAPH}Paragraph {n}: Dačić said the talks went well.</p>" for n in range(4))
    + "</article></body></html>"
).encode()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        pages = {"/article.html": ("text/html; charset=utf-8", ARTICLE), "/logo.png": ("image/png", PNG)}
        if self.path not in pages:
            self.send_error(404)
            return
        content_type, body = pages[self.path]
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def capture(site: str, path: Path) -> Path:
    """A WARC of fetching an article, an image and a missing page; then a revisit and a stray metadata record."""
    with capture_http(str(path)):
        for page in ("/article.html", "/logo.png", "/missing"):
            try:
                urllib.request.urlopen(site + page, timeout=10).read()
            except urllib.error.HTTPError:
                pass
    with path.open("ab") as out:
        writer = WARCWriter(out, gzip=path.suffix == ".gz")
        writer.write_record(writer.create_revisit_record(
            site + "/article.html", digest="sha1:AAAA", refers_to_uri=site + "/article.html",
            refers_to_date="2018-09-21T10:00:00Z",
        ))
        metadata = json.dumps({"crawler": "someone else's"}).encode()
        writer.write_record(writer.create_warc_record(
            site + "/article.html", "metadata", payload=io.BytesIO(metadata), length=len(metadata),
            warc_content_type="application/json",
        ))
    return path


def warc_records(path: Path) -> list[Any]:
    with path.open("rb") as f:
        return [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header("WARC-Date"),
                 r.http_headers.get_statuscode() if r.http_headers else None) for r in ArchiveIterator(f)]


def when(warc_date: str) -> dt.datetime:
    return dt.datetime.fromisoformat(warc_date)


def stored(settings: Settings) -> dict[str, dict[str, Any]]:
    with open_index(settings).searcher() as s:
        docs = [dict(s.stored_fields(n)) for n in s.reader().all_doc_ids()]
    return {str(d["id"]): d for d in docs}


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc"])
def test_an_html_capture_becomes_an_article_and_every_other_record_is_counted(
    fresh: Settings, tmp_path: Path, site: str, name: str
) -> None:
    path = capture(site, tmp_path / name)
    kinds = [kind for kind, *_ in warc_records(path)]
    assert kinds.count("response") == 3 and kinds.count("request") == 3 and "revisit" in kinds

    counts = ReadCounts()
    report = ingest([path], fresh, progress=False, counts=counts)
    assert report.added == 1 and not report.failed
    assert counts.records == len(kinds) and len(report.skipped) == len(kinds) - 1  # each record accounted for
    reasons = sorted(reason.split(" (")[0] for _, reason in report.skipped)
    assert reasons == sorted(
        ["HTTP 404 answer, not 200", "image/png answer, not HTML", "a metadata record not written with the page before it",
         "a revisit record"] + ["a request record, not a page"] * 3 + ["a warcinfo record"] * kinds.count("warcinfo")
    )
    assert all(origin.startswith(f"{path}#") for origin, _ in report.skipped)

    [doc] = stored(fresh).values()
    url = f"{site}/article.html"
    assert (doc["url"], doc["id"], doc["title"], doc["outlet"]) == (url, article_id(url, b""), "Lavrov in Belgrade",
                                                                     "Herald")
    assert doc["published_iso"] == "2018-09-21T10:30:00+02:00" and "Dačić said" in doc["body"]


def test_the_archive_keeps_an_imported_capture_as_the_response_it_was(
    fresh: Settings, tmp_path: Path, site: str
) -> None:
    path = capture(site, tmp_path / "crawl.warc.gz")
    [captured] = [r for r in warc_records(path) if r[0] == "response" and r[1].endswith("/article.html")]
    ingest([path], fresh, progress=False)
    archived = [r for archive in sorted((fresh.index / "archive").glob("*.warc.gz")) for r in warc_records(archive)]
    [response] = [r for r in archived if r[0] == "response"]
    assert (response[1], response[3]) == (captured[1], captured[3])  # same URI, same status
    assert when(response[2]) == when(captured[2])  # same capture date (WARC-Date), written to the microsecond
    assert not [r for r in archived if r[0] == "resource"]

    before = stored(fresh)
    shutil.rmtree(fresh.index_dir)
    assert reindex(fresh, progress=False).added == 1
    after = stored(fresh)
    assert after.keys() == before.keys()
    for doc_id, doc in after.items():
        assert {k: v for k, v in doc.items() if k != "indexed_at"} == {
            k: v for k, v in before[doc_id].items() if k != "indexed_at"}

    again = ingest([path], fresh, progress=False)  # the same WARC again: the same article, unchanged
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)


def test_newsdesks_own_archive_imports_into_a_fresh_instance(tmp_path: Path, site: str) -> None:
    first, second = Settings(index=tmp_path / "first"), Settings(index=tmp_path / "second")
    seed = SEED_ARTICLES / "002_dca27ddd5f2f899a.txt"
    manifest_file = tmp_path / "manifest.toml"
    digest = hashlib.sha256(seed.read_bytes()).hexdigest()
    manifest_file.write_text(
        f'[[article]]\nsha256 = "{digest}"\noutlet = "Balkan Insight"\npublished = "2018-09-20"\n', encoding="utf-8"
    )
    collection = tmp_path / "news.jsonl.gz"
    collection.write_bytes(gzip.compress((json.dumps({
        "title": "Лавров в Белграде", "body": "Министр иностранных дел России Сергей Лавров встретился с коллегой. "
        * 5, "outlet": "Известия", "date": "2018-09-22", "author": "Иван Петров",
    }, ensure_ascii=False) + "\n").encode()))
    ingest([SEED_ARTICLES], first, progress=False)
    ingest([seed], first, manifest=load_manifest(manifest_file), progress=False)  # hints in a later metadata record
    ingest([collection, capture(site, tmp_path / "crawl.warc.gz")], first, progress=False)
    original = stored(first)
    assert len(original) == 5 + 1 + 1

    archives = sorted((first.index / "archive").glob("*.warc.gz"))
    report = ingest(archives, second, manifest={}, progress=False)
    assert report.added == 7 and not report.failed
    imported = stored(second)
    assert imported.keys() == original.keys()
    for doc_id, doc in imported.items():
        for name in ("title", "outlet", "author", "published_iso", "published_source", "language", "url", "body"):
            assert doc.get(name) == original[doc_id].get(name), (doc_id, name)
    # The seed's manifest came in a metadata record written long after its page ("WARC-Refers-To"):
    # the page takes those hints, and the record is counted as skipped, saying where its hints went.
    assert imported[article_id(None, seed.read_bytes())]["outlet"] == "Balkan Insight"
    assert [reason for _, reason in report.skipped if "warcinfo" not in reason] == [
        "a metadata record (its hints went with the page it refers to)"]


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc"])
def test_a_cut_warc_keeps_what_came_before_the_damage_and_says_where(
    fresh: Settings, tmp_path: Path, site: str, name: str
) -> None:
    path = capture(site, tmp_path / name)
    with path.open("rb") as f:
        records = ArchiveIterator(f)
        offsets = [records.offset for _ in records]
    data = path.read_bytes()
    cut = tmp_path / f"cut-{name}"
    cut.write_bytes(data[: (offsets[1] + offsets[2]) // 2])  # the article's response whole, its request cut
    report = ingest([cut], fresh, progress=False)
    assert report.added == 1
    [(origin, reason)] = report.skipped
    assert origin == str(cut) and f"from offset {offsets[1]}" in reason and "cut or damaged" in reason

    cut.write_bytes(data[: offsets[1] - 200])  # the article's response itself cut: no article, never half of one
    report = ingest([cut], fresh, progress=False)
    assert (report.added, report.updated) == (0, 0) and len(report.skipped) >= 1


def test_a_capture_date_is_kept_but_is_not_taken_for_the_publication_date(
    fresh: Settings, tmp_path: Path, site: str
) -> None:
    path = capture(site, tmp_path / "crawl.warc.gz")
    [(_, _, warc_date, _)] = [r for r in warc_records(path) if r[0] == "response" and r[1].endswith("/article.html")]
    assert when(warc_date).year >= 2024  # when this test ran
    ingest([path], fresh, progress=False)
    [doc] = stored(fresh).values()
    assert doc["published_iso"].startswith("2018-09-21")  # the page's own date, not the capture's
