"""The server keeps one searcher per thread across requests, and never serves a stale index.

Opening a searcher is the expensive part of a request at scale, so a
thread's searcher lives on between requests and is refreshed at the start
of each. What it must never do: miss a commit, serve the old directory
after ``reindex`` or ``ingest --rebuild`` swapped in another (whose commit
generation may equal the old one's), or share a searcher between threads.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from flask import Flask
from whoosh.searching import Searcher

from search.index import delete_articles, open_index
from search.ingest import ingest
from search.query.embedded import EmbeddedReader
from search.settings import Settings
from tests.conftest import SEED_ARTICLES, make_settings
from web import create_app
from web.readers import get_reader


def _app(settings: Settings) -> Flask:
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings})


def _searcher_of_a_request(app: Flask) -> Searcher:
    with app.test_request_context("/"):
        reader = get_reader()
        assert isinstance(reader, EmbeddedReader)  # the default backend, which keeps a searcher per thread
        return reader.searcher


def _ids(app: Flask) -> set[str]:
    response = app.test_client().get("/api/search?per_page=100")
    assert response.status_code == 200
    return {hit["id"] for hit in response.get_json()["hits"]}


def _folder(tmp_path: Path, name: str, files: list[Path]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file in files:
        shutil.copy(file, folder / file.name)
    return folder


def test_requests_in_one_thread_share_its_searcher_until_the_index_changes(tmp_path: Path) -> None:
    seeds = sorted(SEED_ARTICLES.iterdir())
    settings = make_settings(tmp_path / "instance")
    ingest([_folder(tmp_path, "first", seeds[:3])], settings, progress=False)
    app = _app(settings)
    first = _searcher_of_a_request(app)
    assert _searcher_of_a_request(app) is first  # nothing committed: not opened again

    ingest([_folder(tmp_path, "more", seeds[3:])], settings, progress=False)
    assert _searcher_of_a_request(app) is not first  # a commit: a new searcher
    assert len(_ids(app)) == len(seeds)


def test_a_swapped_in_index_is_served_even_when_its_generation_equals_the_old_one(tmp_path: Path) -> None:
    seeds = sorted(SEED_ARTICLES.iterdir())
    settings = make_settings(tmp_path / "instance")
    ingest([_folder(tmp_path, "old", seeds[:2])], settings, progress=False)
    app = _app(settings)
    old = _ids(app)
    generation = open_index(settings).latest_generation()

    ingest([_folder(tmp_path, "new", seeds[2:])], settings, rebuild=True, progress=False)
    assert open_index(settings).latest_generation() == generation  # what a refresh alone would trust
    new = _ids(app)
    assert new and not new & old
    assert new == {fields["id"] for fields in open_index(settings).searcher().all_stored_fields()}


def test_each_thread_has_a_searcher_of_its_own(seeded: Settings) -> None:
    app = _app(seeded)
    found: dict[str, Searcher] = {}

    def work(name: str) -> None:
        found[name] = _searcher_of_a_request(app)
        assert _ids(app)  # and a whole request through the views

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found["a"] is not found["b"]
    assert not found["a"].is_closed and not found["b"].is_closed  # neither closed the other's


def _totals(app: Flask, q: str = "") -> int:
    response = app.test_client().get(f"/api/search?q={q}")
    assert response.status_code == 200
    return int(response.get_json()["total"])


def _page(title: str, paragraph: str) -> str:
    body = " ".join(f"{paragraph} {title}: round {n} of the talks, day {n * 7 % 11}." for n in range(15))
    return (f'<!doctype html><html lang="en"><head><title>{title}</title>'
            f'<link rel="canonical" href="https://wire.example/{title.lower().replace(" ", "-")}"></head>'
            f"<body><article><h1>{title}</h1><p>{body}</p></article></body></html>")


def test_an_updated_article_is_counted_once_by_the_next_request(tmp_path: Path) -> None:
    # Whoosh's Searcher.refresh() reuses a segment's reader with its old
    # deletions, so an article updated by a later commit came back twice.
    settings = make_settings(tmp_path / "instance")
    folder = tmp_path / "pages"
    folder.mkdir()
    for title in ("Talks resume", "Envoys meet", "Deal signed"):
        (folder / f"{title}.html").write_text(_page(title, "Delegations met in Brussels."), encoding="utf-8")
    ingest([folder], settings, progress=False)
    app = _app(settings)
    assert _totals(app) == 3
    (folder / "Talks resume.html").write_text(_page("Talks resume", "Negotiators met in Belgrade."), encoding="utf-8")
    assert ingest([folder], settings, progress=False).updated == 1
    assert _totals(app) == 3
    assert _totals(app, "belgrade") == 1


def test_after_a_merge_the_next_request_counts_only_what_is_left(tmp_path: Path) -> None:
    # A deletion merges every segment; a refreshed reader kept the merged-away segments too.
    seeds = sorted(SEED_ARTICLES.iterdir())
    settings = make_settings(tmp_path / "instance")
    for number, seed in enumerate(seeds):  # one commit, so one segment, per article
        ingest([_folder(tmp_path, f"part{number}", [seed])], settings, progress=False)
    app = _app(settings)
    ids = _ids(app)
    assert len(ids) == len(seeds)
    assert delete_articles(settings, [min(ids)]) == 1
    assert _totals(app) == len(seeds) - 1
    assert _ids(app) == ids - {min(ids)}
