"""The WARC archive, ``newsdesk reindex`` and ``newsdesk delete``, on real files."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import logging
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from conftest import FIXTURES, SEED_ARTICLES
from search.archive.store import ARCHIVE_DIR, open_archive
from search.decode import received_page
from search.errors import IndexBusy
from search.index import open_index
from search.ingest import ingest, reindex
from search.records import PageHints, RawPage
from search.settings import Settings
from search.sources import Manifest, load_manifest, read_files
from search.state import state_path
from search.urls import article_id
from web.cli import main

SEED = SEED_ARTICLES / "003_c73c9fc6f3745f3a.txt"
URL = "https://www.rksnews.example/lavrov-balkans"
HTML = b"<html><head><title>Balkan talks resume</title></head><body><article><h1>Balkan talks resume</h1>" + (
    b"<p>Envoys from Belgrade and Pristina met again in Brussels on Monday to resume the talks.</p>" * 5
) + b"</article></body></html>"


def stored(settings: Settings) -> list[dict[str, object]]:
    with open_index(settings).searcher() as s:
        docs = [s.stored_fields(n) for n in s.reader().all_doc_ids()]
    return sorted(({k: v for k, v in d.items() if k != "indexed_at"} for d in docs), key=lambda d: str(d["id"]))


def warc_files(settings: Settings) -> list[Path]:
    return sorted((settings.index / ARCHIVE_DIR).glob("*.warc.gz"))


def warc_bytes(settings: Settings) -> bytes:
    """Everything the archive holds, decompressed: what a takedown must clear."""
    return b"".join(gzip.decompress(path.read_bytes()) for path in warc_files(settings))


def replay(settings: Settings) -> list[RawPage]:
    with open_archive(settings) as archive:
        return list(archive.pages())


def manifest_for(tmp_path: Path, seed: Path, **entry: str) -> Manifest:
    digest = hashlib.sha256(seed.read_bytes()).hexdigest()
    lines = [f'sha256 = "{digest}"'] + [f'{key} = "{value}"' for key, value in entry.items()]
    path = tmp_path / "manifest.toml"
    path.write_text("[[article]]\n" + "\n".join(lines) + "\n")
    return load_manifest(path)


def a_phrase_of(path: Path) -> bytes:
    """A run of the file's own text, long enough to occur nowhere else."""
    data = path.read_bytes()
    return data[len(data) // 2 : len(data) // 2 + 80]


# --- ingest archives -------------------------------------------------------


def test_ingest_archives_every_file_it_reads_even_those_the_cleaner_rejects(fresh: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(SEED_ARTICLES, folder)
    (folder / "binary.txt").write_bytes(b"\x00\x01" * 50)
    report = ingest([folder], fresh, progress=False)
    assert report.added == 5 and len(report.skipped) == 1
    pages = replay(fresh)
    assert sorted(p.data for p in pages) == sorted(p.read_bytes() for p in folder.iterdir())
    assert {p.origin for p in pages} == {str(p) for p in folder.iterdir()}
    assert all(p.content_type == "text/plain" and p.url is None for p in pages)


def test_reingesting_the_same_files_does_not_grow_the_archive(fresh: Settings) -> None:
    ingest([SEED_ARTICLES], fresh, progress=False)
    before = {path.name: path.stat().st_size for path in warc_files(fresh)}
    ingest([SEED_ARTICLES], fresh, progress=False)
    assert {path.name: path.stat().st_size for path in warc_files(fresh)} == before
    with open_archive(fresh) as archive:
        [page] = read_files([SEED])
        assert isinstance(page, RawPage) and page.hints.outlet == "RksNews"
        assert not archive.add_file(page)
        assert len(archive) == 5


def test_the_same_bytes_with_new_hints_add_only_a_metadata_record(fresh: Settings, tmp_path: Path) -> None:
    ingest([SEED], fresh, progress=False)
    size = sum(path.stat().st_size for path in warc_files(fresh))
    manifest = manifest_for(tmp_path, SEED, outlet="Balkan Insight")
    assert ingest([SEED], fresh, manifest=manifest, progress=False).updated == 1
    assert 0 < sum(path.stat().st_size for path in warc_files(fresh)) - size < len(SEED.read_bytes()) // 2
    [page] = replay(fresh)
    assert page.hints.outlet == "Balkan Insight"
    assert warc_bytes(fresh).count(a_phrase_of(SEED)) == 1


def test_hints_survive_replay(fresh: Settings, tmp_path: Path) -> None:
    manifest = manifest_for(
        tmp_path, SEED, outlet="RksNews", author="Ana Petrović", published="2018-09-21T10:30:00+02:00", url=URL
    )
    ingest([SEED], fresh, manifest=manifest, progress=False)
    [page] = replay(fresh)
    assert page.hints == manifest[hashlib.sha256(SEED.read_bytes()).hexdigest()]
    assert page.url == URL and page.origin == str(SEED)
    assert page.hints.published == dt.datetime(2018, 9, 21, 8, 30, tzinfo=dt.UTC)

    shutil.rmtree(fresh.index_dir)
    reindex(fresh, progress=False)
    [doc] = stored(fresh)
    assert (doc["outlet"], doc["author"], doc["url"]) == ("RksNews", "Ana Petrović", URL)
    assert doc["published_iso"] == "2018-09-21T10:30:00+02:00" and doc["published_source"] == "manifest"


# --- reindex ---------------------------------------------------------------


def test_reindex_replays_into_an_identical_index(fresh: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    ingest([SEED_ARTICLES], fresh, progress=False)
    original = stored(fresh)
    with open_index(fresh).searcher() as s:
        first_indexed = {d["id"]: d["indexed_at"] for d in s.all_stored_fields()}

    assert main(["reindex", "--index", str(fresh.index)]) == 0
    assert "added 0, updated 0, unchanged 5, skipped 0, duplicate 0, removed 0" in capsys.readouterr().out
    assert stored(fresh) == original
    with open_index(fresh).searcher() as s:  # really rebuilt, not left alone
        assert all(d["indexed_at"] > first_indexed[d["id"]] for d in s.all_stored_fields())
    assert not (fresh.index / "whoosh.new").exists()

    shutil.rmtree(fresh.index_dir)  # from the archive alone
    assert main(["reindex", "--index", str(fresh.index)]) == 0
    assert "added 5, updated 0, unchanged 0" in capsys.readouterr().out
    assert stored(fresh) == original


def test_reindex_needs_neither_the_network_nor_the_source_files(
    fresh: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "gone"
    shutil.copytree(SEED_ARTICLES, folder)
    ingest([folder], fresh, progress=False)
    original = stored(fresh)
    shutil.rmtree(folder)
    shutil.rmtree(fresh.index_dir)

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("reindex opened a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert reindex(fresh, progress=False).added == 5
    assert stored(fresh) == original


def test_two_files_with_one_canonical_url_replay_as_the_latest_taken_in(fresh: Settings, tmp_path: Path) -> None:
    html = (FIXTURES / "balkan-wire.html").read_text(encoding="utf-8")
    first, second = tmp_path / "first.html", tmp_path / "second.html"
    first.write_text(html, encoding="utf-8")
    second.write_text(html.replace("</article>", "<p>Update: the talks were postponed to July.</p></article>"))
    ingest([first], fresh, progress=False)
    assert ingest([second], fresh, progress=False).updated == 1  # the same article, newer text
    original = stored(fresh)
    assert len(original) == 1 and "postponed" in str(original[0]["body"])

    shutil.rmtree(fresh.index_dir)
    reindex(fresh, progress=False)
    assert stored(fresh) == original


def test_an_index_already_open_sees_the_rebuilt_one_after_the_swap(fresh: Settings) -> None:
    ingest([SEED_ARTICLES], fresh, progress=False)
    served = open_index(fresh)  # as the web app keeps it between requests
    with open_archive(fresh) as archive:
        archive.add_file(received_page(HTML, "extra.html", "text/html"))
    reindex(fresh, progress=False)
    with served.searcher() as searcher:
        assert searcher.doc_count() == 6


def test_reindex_refuses_an_empty_archive_and_keeps_the_index(
    fresh: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest([SEED_ARTICLES], fresh, progress=False)
    shutil.rmtree(fresh.index / ARCHIVE_DIR)
    assert main(["reindex", "--index", str(fresh.index)]) == 1
    assert "nothing is archived" in capsys.readouterr().err
    assert len(stored(fresh)) == 5


# --- delete ----------------------------------------------------------------


@pytest.mark.parametrize("by", ["id", "url"])
def test_delete_removes_the_article_from_index_and_archive_for_good(
    fresh: Settings, tmp_path: Path, by: str, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = manifest_for(tmp_path, SEED, url=URL)
    ingest([SEED_ARTICLES], fresh, manifest=manifest, progress=False)
    target = article_id(URL, b"")
    assert target in {d["id"] for d in stored(fresh)} and a_phrase_of(SEED) in warc_bytes(fresh)

    assert main(["delete", target if by == "id" else URL, "--index", str(fresh.index)]) == 0
    out = capsys.readouterr().out
    assert f"removed from the index: {target}" in out and "removed from the archive: 1 page(s)" in out
    assert target not in {d["id"] for d in stored(fresh)} and len(stored(fresh)) == 4
    with open_index(fresh).searcher() as searcher:  # merged away, not only marked deleted
        assert searcher.doc_count_all() == searcher.doc_count() == 4
    assert a_phrase_of(SEED) not in warc_bytes(fresh) and URL.encode() not in warc_bytes(fresh)

    reindex(fresh, progress=False)
    assert target not in {d["id"] for d in stored(fresh)} and len(stored(fresh)) == 4


def test_delete_finds_a_page_by_the_canonical_url_the_cleaner_found(fresh: Settings, tmp_path: Path) -> None:
    page = tmp_path / "saved" / "balkan-wire.html"
    page.parent.mkdir()
    shutil.copy(FIXTURES / "balkan-wire.html", page)
    ingest([page.parent, SEED], fresh, progress=False)
    canonical = "https://balkanwire.example/news/2021/06/04/lavrov-vucic-kosovo"
    assert main(["delete", article_id(canonical, b""), "--index", str(fresh.index)]) == 0
    assert a_phrase_of(page) not in warc_bytes(fresh)
    assert [p.origin for p in replay(fresh)] == [str(SEED)]


def test_delete_of_an_unknown_article_exits_1_and_changes_nothing(
    fresh: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest([SEED_ARTICLES], fresh, progress=False)
    before = warc_bytes(fresh)
    assert main(["delete", "https://nowhere.example/x", "--index", str(fresh.index)]) == 1
    assert "no article or archived page matches https://nowhere.example/x" in capsys.readouterr().err
    assert warc_bytes(fresh) == before and len(stored(fresh)) == 5


# --- crash safety, catalogue, rotation, one writer ---------------------------


def test_a_cut_last_record_is_skipped_on_replay_and_appends_still_work(
    fresh: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    ingest([SEED_ARTICLES], fresh, progress=False)
    with open_archive(fresh) as archive:
        archive.add_response("https://e.example/cut", 200, [], HTML, dt.datetime.now(dt.UTC))
    [path] = warc_files(fresh)
    path.write_bytes(path.read_bytes()[:-25])  # killed mid-write

    caplog.set_level(logging.WARNING, logger="search.archive")
    pages = replay(fresh)
    assert sorted(p.data for p in pages) == sorted(p.read_bytes() for p in SEED_ARTICLES.iterdir())
    assert "bytes after the last complete record skipped" in caplog.text

    with open_archive(fresh) as archive:
        assert archive.add_response("https://e.example/cut", 200, [], HTML, dt.datetime.now(dt.UTC))
        assert archive.add_file(received_page(b"A later file.", "later.txt", "text/plain"))
    assert len(warc_files(fresh)) == 2  # a new file, the damaged one left as it was
    assert len(replay(fresh)) == 7


def test_a_lost_state_database_is_rebuilt_from_the_warc_files(fresh: Settings, tmp_path: Path) -> None:
    manifest = manifest_for(tmp_path, SEED, outlet="X")
    ingest([SEED_ARTICLES], fresh, progress=False, manifest=manifest)
    expected = replay(fresh)
    for path in fresh.index.glob(state_path(fresh).name + "*"):
        path.unlink()
    assert replay(fresh) == expected
    sizes = [path.stat().st_size for path in warc_files(fresh)]
    ingest([SEED_ARTICLES], fresh, progress=False, manifest=manifest)
    assert [path.stat().st_size for path in warc_files(fresh)] == sizes


def test_files_rotate_at_the_size_limit_and_replay_across_them(fresh: Settings) -> None:
    with open_archive(fresh, max_file_bytes=2000) as archive:
        for path in sorted(SEED_ARTICLES.iterdir()):
            archive.add_file(received_page(path.read_bytes(), str(path), "text/plain"))
    names = [path.name for path in warc_files(fresh)]
    assert len(names) == 5
    assert all(re.fullmatch(rf"newsdesk-\d{{8}}T\d{{6}}Z-{n:05}\.warc\.gz", name) for n, name in enumerate(names))
    assert len(replay(fresh)) == 5


def test_only_one_process_writes_to_the_archive(fresh: Settings) -> None:
    with open_archive(fresh), pytest.raises(IndexBusy, match="another process is writing to the archive"):
        open_archive(Settings(index=fresh.index, write_timeout=0.2))
    open_archive(fresh).close()  # released


# --- fetched pages ------------------------------------------------------------


def test_responses_replay_as_html_pages_with_their_url(fresh: Settings) -> None:
    url, fetched = "https://balkanwire.example/a", dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"), ("ETag", '"v1"')]
    with open_archive(fresh) as archive:
        assert archive.add_response(url, 200, headers, b"<html>old</html>", fetched)
        assert archive.add_response(url, 200, headers, HTML, fetched, PageHints(outlet="Balkan Wire"))
        assert not archive.add_response(url, 200, headers, HTML, fetched, PageHints(outlet="Balkan Wire"))
    [page] = replay(fresh)  # the latest capture of the URL wins
    assert (page.data, page.url, page.origin, page.content_type) == (HTML, url, url, "text/html")
    assert page.hints.outlet == "Balkan Wire"

    records = list(ArchiveIterator(io.BytesIO(warc_files(fresh)[0].read_bytes())))
    responses = [r for r in records if r.rec_type == "response"]
    assert len(responses) == 2 and responses[0].rec_headers.get_header("WARC-Date") == "2024-05-01T12:00:00.000000Z"
    http = responses[0].http_headers
    assert http.get_statuscode() == "200" and http.get_header("ETag") == '"v1"'
    assert http.get_header("Content-Encoding") is None  # the body is stored decoded


def test_a_fetched_page_in_another_charset_replays_its_bytes_and_the_text_its_header_gives(fresh: Settings) -> None:
    text = "<html><body><p>Лавров встретился с Вучичем в Белграде.</p></body></html>"
    body = text.encode("windows-1251")
    with open_archive(fresh) as archive:
        archive.add_response("https://ru.example/a", 200, [("Content-Type", "text/html; charset=windows-1251")],
                             body, dt.datetime.now(dt.UTC))
    [page] = replay(fresh)
    assert page.text == text  # decoded by its HTTP header, as the crawl decoded it
    assert page.data == body  # the bytes as received, not a re-encoding
    assert body in warc_bytes(fresh)


#: Archive three files with the catalogue's writes held, then die by SIGKILL before they are committed.
_KILLED_WHILE_HELD = """
import os, signal, sys
from pathlib import Path
from search.archive.store import open_archive
from search.decode import received_page
from search.settings import Settings
archive = open_archive(Settings(index=Path(sys.argv[1])))
with archive.holding():
    for n in range(3):
        archive.add_file(received_page(f"Page {n}, archived.".encode(), f"page-{n}.txt", "text/plain"))
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_process_killed_while_catalogue_writes_are_held_loses_no_page(fresh: Settings) -> None:
    """Ingest catalogues pages in groups; a kill before a group's commit leaves the pages in the WARC file,
    uncatalogued, and the next open finds them there (the file is longer than the catalogue says)."""
    open_archive(fresh).close()  # the instance and its (empty) catalogue
    done = subprocess.run([sys.executable, "-c", _KILLED_WHILE_HELD, str(fresh.index)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    with sqlite3.connect(state_path(fresh)) as db:
        assert db.execute("SELECT count(*) FROM archive_records WHERE kind = 'resource'").fetchone() == (0,)
    assert sorted(page.data for page in replay(fresh)) == [f"Page {n}, archived.".encode() for n in range(3)]
