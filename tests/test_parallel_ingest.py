"""Ingest and reindex on every core: the same index whatever the number of worker processes.

With ``workers`` above 1, ``newsdesk ingest`` and ``newsdesk reindex`` clean
and enrich pages in worker processes (real ones: started by the fork server,
importing the code afresh) while the parent archives each page, links it to
its article and writes the one index. These tests ingest one folder of pages
— the seed articles, the cleaner's fixture pages, pages generated here (with
actors, dates, outlets, a duplicate, a syndicated copy, two captures of one
URL, files that are skipped, and one that makes our code fail) — with one
worker and with two, and hold the two instances side by side: every stored
field of every document, the ids, the ingest order (``seq``), the facet
counts, the report's lists, and the archive's catalogue.

A bug of ours, and a worker killed outright, are injected through the
pipeline's host → outlet map, which the cleaner consults for each page:
the map travels to the workers inside the pickled pipeline, so it acts there
exactly as in this process (a monkeypatched module would not: the workers
import their own).
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from whoosh.filedb.filestore import FileStorage

from conftest import FIXTURES, SEED_ARTICLES, make_settings
from search import ingest as ingest_module
from search import pipeline as pipeline_module
from search.enrich import Gazetteer
from search.errors import IndexBusy, NewsdeskError, SettingsError
from search.index import IndexReport, open_index
from search.ingest import ingest, reindex
from search.pipeline import Pipeline, load_pipeline
from search.processes import WRITER_NAME
from search.query import make_query, search
from search.records import PageHints
from search.settings import Settings, load_settings, usable_cores
from web.cli import main

OUTLETS = ("Daily Planet", "Balkan Wire", "Morning Ledger")
ACTORS = ("Sergey Lavrov", "Aleksandar Vučić", "Hashim Thaçi", "the European Union", "NATO", "Vladimir Putin")
WORDS = ("talks", "border", "agreement", "delegation", "minister", "ceasefire", "envoy", "summit", "trade",
         "sanctions", "election", "parliament", "protest", "mission", "statement", "treaty", "visit", "reform")
SAME_URL = "https://www.dailyplanet.example/news/the-same-url"


class FaultyOutlets(dict[str, str]):
    """The sources file's host → outlet map, with two hosts that misbehave when the cleaner looks them up:
    ``fail.example`` raises (a bug of ours: the page fails), ``kill.example`` kills the process asking."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.test_process = os.getpid()  # pickled along: the workers know which process is the tests'

    def get(self, host: str, default: Any = None) -> Any:
        if host == "fail.example":
            raise RuntimeError("a bug of ours, on the page from fail.example")
        if host == "kill.example":
            if os.getpid() == self.test_process:  # in-process by mistake: fail loudly, keep the test runner alive
                raise AssertionError("kill.example was cleaned in the test process, not in a worker")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().get(host, default)


@pytest.fixture(autouse=True)
def faulty_outlets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest and reindex load their pipeline with ``FaultyOutlets`` (one known outlet host, so the map is used)."""

    def load(settings: Settings, gazetteer: Gazetteer | None = None, sources: Any = None) -> Pipeline:
        loaded = load_pipeline(settings, gazetteer, sources=())
        return Pipeline(loaded.settings, loaded.gazetteer, FaultyOutlets({"morningledger.example": "Morning Ledger"}))

    monkeypatch.setattr(ingest_module, "load_pipeline", load)


@pytest.fixture
def always_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers for any number of pages (the parent decides, so patching this process is enough)."""
    monkeypatch.setattr(pipeline_module, "_POOL_MIN_PAGES", 0)


def _html(title: str, paragraphs: list[str], *, outlet: str, canonical: str | None, date: str | None) -> str:
    head = [f"<title>{title}</title>", f'<meta property="og:site_name" content="{outlet}">']
    if canonical:
        head.append(f'<link rel="canonical" href="{canonical}">')
    if date:
        head.append(f'<meta property="article:published_time" content="{date}">')
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!doctype html><html lang="en"><head>{"".join(head)}</head>'
            f"<body><nav>Home | World | Region</nav><article><h1>{title}</h1>{body}</article></body></html>")


def _paragraphs(rng: random.Random, n: int) -> list[str]:
    """Three paragraphs of sentences, distinct per page (numbers and words drawn from ``rng``)."""
    paragraphs = []
    for _ in range(3):
        sentences = []
        for _ in range(6):
            actor, words = rng.choice(ACTORS), rng.sample(WORDS, 4)
            sentences.append(f"{actor} spoke about the {words[0]} and the {words[1]} on day {rng.randint(1, 999)}, "
                             f"while the {words[2]} of page {n} waited for the {words[3]}.")
        paragraphs.append(" ".join(sentences))
    return paragraphs


def _write_pages(folder: Path) -> dict[str, PageHints]:
    """The test corpus; returns its manifest (two files share one URL)."""
    folder.mkdir()
    for seed in sorted(SEED_ARTICLES.iterdir()):
        shutil.copy(seed, folder / f"seed-{seed.name}")
    for fixture in sorted((FIXTURES / "pages").glob("*.html")):  # navigation-only and video-stub are skipped
        shutil.copy(fixture, folder / f"fixture-{fixture.name}")
    rng = random.Random(17)
    for n in range(40):
        outlet = OUTLETS[n % 3]
        host = outlet.lower().replace(" ", "") + ".example"
        date = f"2018-{1 + n % 12:02d}-{1 + n % 27:02d}T{n % 24:02d}:30:00Z" if n % 5 else None  # some undated
        canonical = f"https://www.{host}/news/{n}" if n % 4 else None  # some known by their bytes only
        html = _html(f"Talks, part {n}", _paragraphs(rng, n), outlet=outlet, canonical=canonical, date=date)
        (folder / f"gen-{n:02d}.html").write_text(html, encoding="utf-8")
    copied = (folder / "gen-01.html").read_text(encoding="utf-8")
    # The same text from the same outlet under another URL: a duplicate; from another outlet: a syndicated copy.
    (folder / "gen-90-duplicate.html").write_text(copied.replace("/news/1", "/news/1-again"), encoding="utf-8")
    (folder / "gen-91-syndicated.html").write_text(
        copied.replace("balkanwire", "morningledger").replace("Balkan Wire", "Morning Ledger"), encoding="utf-8")
    # Two captures of one URL with different bytes (the manifest names it): the later one is the article.
    first = _html("Same URL, first", _paragraphs(rng, 92), outlet="Daily Planet", canonical=None, date=None)
    second = _html("Same URL, second", _paragraphs(rng, 93), outlet="Daily Planet", canonical=None, date=None)
    (folder / "gen-92-same-url.html").write_text(first, encoding="utf-8")
    (folder / "gen-93-same-url.html").write_text(second, encoding="utf-8")
    # Skipped: not a page, empty, binary, navigation only; failed: our own bug.
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    (folder / "gen-94-empty.html").write_bytes(b"")
    (folder / "gen-95-binary.html").write_bytes(bytes(range(256)) * 8)
    (folder / "gen-96-fails.html").write_text(
        _html("Fails", _paragraphs(rng, 96), outlet="X", canonical="https://fail.example/news/1", date=None),
        encoding="utf-8")
    manifest_url = PageHints(url=SAME_URL)
    return {hashlib.sha256(text.encode()).hexdigest(): manifest_url for text in (first, second)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, PageHints]]:
    folder = tmp_path_factory.mktemp("corpus") / "pages"
    return folder, _write_pages(folder)


def _ingest(corpus: tuple[Path, dict[str, PageHints]], instance: Path, workers: int) -> IndexReport:
    folder, manifest = corpus
    return ingest([folder], make_settings(instance, workers=workers), manifest=manifest, progress=False)


def _state(settings: Settings, gazetteer: Gazetteer) -> dict[str, Any]:
    """Everything a reader can see of an instance: documents in ingest order, facets, the archive's catalogue."""
    with open_index(settings).searcher() as searcher:
        documents = sorted(searcher.all_stored_fields(), key=lambda fields: fields["seq"])
        assert all(fields.pop("indexed_at") for fields in documents)  # the moment each was written differs
        facets = {}
        for q in ("", "kosovo", "talks"):
            page = search(searcher, make_query(q, facet_limit=1000), settings, gazetteer)
            facets[q] = {name: [(f.value, f.count) for f in values] for name, values in page.facets.items()}
    with sqlite3.connect(settings.index / "state.sqlite") as db:
        archive = db.execute(
            "SELECT r.kind, r.target_uri, r.digest,"
            " (SELECT group_concat(key, ' ') FROM (SELECT key FROM archive_keys k"
            "   WHERE k.record_id = r.record_id ORDER BY key)),"
            " (SELECT group_concat(article_id, ' ') FROM archive_articles a WHERE a.record_id = r.record_id)"
            " FROM archive_records r JOIN archive_files f ON f.name = r.file"
            " WHERE r.kind IN ('resource', 'response') ORDER BY f.seq, r.offset"
        ).fetchall()
    return {"documents": documents, "facets": facets, "archive": archive}


def _same_report(one: IndexReport, two: IndexReport) -> None:
    assert vars(one) == vars(two)
    assert one.added >= 40 and one.duplicate == 1
    assert [Path(origin).name for origin, _ in one.failed] == ["gen-96-fails.html"]
    assert "RuntimeError: a bug of ours" in one.failed[0][1]
    skipped = {Path(origin).name for origin, _ in one.skipped}
    assert {"notes.pdf", "gen-94-empty.html", "gen-95-binary.html", "fixture-navigation-only.html"} <= skipped


def test_one_worker_and_two_give_the_same_index_report_and_archive(
    tmp_path: Path, corpus: tuple[Path, dict[str, PageHints]], gazetteer: Gazetteer,
    always_pool: None, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="search.pipeline")
    one = _ingest(corpus, tmp_path / "one", workers=1)
    assert "worker processes" not in caplog.text
    two = _ingest(corpus, tmp_path / "two", workers=2)
    assert "cleaning in 2 worker processes" in caplog.text

    _same_report(one, two)
    first, second = _state(make_settings(tmp_path / "one"), gazetteer), _state(make_settings(tmp_path / "two"), gazetteer)
    assert first["documents"] == second["documents"]  # every stored field, ids and seq order included
    assert [d["seq"] for d in first["documents"]] == list(range(1, len(first["documents"]) + 1))
    assert first["facets"] == second["facets"]
    assert len(first["facets"][""]["actor"]) >= len(ACTORS) and len(first["facets"][""]["outlet"]) > len(OUTLETS)
    assert first["archive"] == second["archive"]
    # The failure is logged with the page's file: in one process with the exception, from a worker
    # with the traceback the worker formatted (a traceback does not pickle).
    here, worker = [r for r in caplog.records if r.levelno == logging.ERROR and "gen-96-fails.html" in r.getMessage()]
    assert here.exc_info is not None
    assert "Traceback (most recent call last)" in worker.getMessage() and "RuntimeError" in worker.getMessage()


def test_two_captures_of_one_url_are_linked_each_to_its_own_article(
    tmp_path: Path, corpus: tuple[Path, dict[str, PageHints]], gazetteer: Gazetteer, always_pool: None
) -> None:
    _ingest(corpus, tmp_path / "two", workers=2)
    archive = _state(make_settings(tmp_path / "two"), gazetteer)["archive"]
    captures = [row for row in archive if row[1] == SAME_URL]
    assert len(captures) == 2 and all(row[4] for row in captures)  # each linked, as one worker links them


def test_reindex_with_two_workers_rebuilds_the_same_index(
    tmp_path: Path, corpus: tuple[Path, dict[str, PageHints]], gazetteer: Gazetteer, always_pool: None
) -> None:
    for name in ("one", "two"):
        _ingest(corpus, tmp_path / name, workers=1)
    before = _state(make_settings(tmp_path / "one"), gazetteer)
    by_one = reindex(make_settings(tmp_path / "one", workers=1), progress=False)
    by_two = reindex(make_settings(tmp_path / "two", workers=2), progress=False)
    assert vars(by_one) == vars(by_two)
    assert by_two.added == 0 and by_two.removed == 0 and by_two.unchanged > 40
    assert [Path(origin).name for origin, _ in by_two.failed] == ["gen-96-fails.html"]
    after = _state(make_settings(tmp_path / "two"), gazetteer)
    assert after == _state(make_settings(tmp_path / "one"), gazetteer)
    assert [d["id"] for d in after["documents"]] == [d["id"] for d in before["documents"]]


def test_below_the_threshold_no_pool_starts_and_the_index_is_the_same(
    tmp_path: Path, corpus: tuple[Path, dict[str, PageHints]], gazetteer: Gazetteer,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="search.pipeline")
    monkeypatch.setattr(pipeline_module, "_POOL_MIN_PAGES", 10_000)
    small = _ingest(corpus, tmp_path / "small", workers=2)
    assert "worker processes" not in caplog.text
    monkeypatch.setattr(pipeline_module, "_POOL_MIN_PAGES", 0)
    pooled = _ingest(corpus, tmp_path / "pooled", workers=2)
    assert "cleaning in 2 worker processes" in caplog.text
    assert vars(small) == vars(pooled)
    assert _state(make_settings(tmp_path / "small"), gazetteer) == _state(make_settings(tmp_path / "pooled"), gazetteer)


def _ingest_within(seconds: float, *args: Any) -> BaseException | IndexReport:
    """``_ingest`` in a thread, so that a hang fails the test instead of stopping the suite."""
    outcome: list[BaseException | IndexReport] = []

    def run() -> None:
        try:
            outcome.append(_ingest(*args))
        except BaseException as e:  # noqa: BLE001 - handed to the test
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"ingest still running after {seconds} s: a dead worker hung the run"
    return outcome[0]


def test_a_killed_worker_stops_the_run_with_a_clear_error(
    tmp_path: Path, corpus: tuple[Path, dict[str, PageHints]], always_pool: None
) -> None:
    folder = tmp_path / "pages"
    shutil.copytree(corpus[0], folder)
    (folder / "gen-50-kills.html").write_text(
        _html("Kills", ["Nothing to read here but a crash."] * 3, outlet="X",
              canonical="https://kill.example/news/1", date=None), encoding="utf-8")
    error = _ingest_within(120, (folder, corpus[1]), tmp_path / "instance", 2)
    assert isinstance(error, NewsdeskError), error
    # SIGKILL, as the fork server reports it; now and then its report is lost (multiprocessing then
    # makes the exit code 255), and the error says so rather than name a status the worker never had.
    assert re.search(r"a worker process died \((SIGKILL|how is unknown: the fork server did not report it)\)",
                     error.message), error.message
    assert "gen-50-kills.html" in error.message  # among the few pages the workers held, which the error names
    assert not list(_workers())  # and none is left running


def _workers() -> Iterator[int]:
    """The worker processes alive: children of the fork server, itself a child of this process."""
    for server in _children(os.getpid()):
        if b"forkserver" in Path(f"/proc/{server}/cmdline").read_bytes():
            yield from _children(server)


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (or none, if it has gone)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        if not all((task / "children").exists() for task in tasks):
            pytest.skip("this kernel does not list a process's children (CONFIG_PROC_CHILDREN)")
        return [int(child) for task in tasks for child in (task / "children").read_text().split()]
    except FileNotFoundError:
        return []


def test_ctrl_c_stops_the_run_and_its_workers(tmp_path: Path, corpus: tuple[Path, dict[str, PageHints]]) -> None:
    folder = tmp_path / "pages"
    for copy in range(3):  # enough pages for the run to outlast starting its workers
        shutil.copytree(corpus[0], folder / str(copy))
    run = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "ingest", str(folder), "--index", str(tmp_path / "instance"), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        workers = _wait_for_workers(run.pid, 3, seconds=60)  # two cleaning, one writing the index
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C on a terminal does: the whole process group
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130 and "interrupted" in err
    assert "Traceback" not in err  # no worker dies with one
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def _wait_for_workers(pid: int, count: int, seconds: float) -> list[int]:
    """``count`` processes of ``pid`` that are running: set up, so they ignore Ctrl-C as their set-up makes them.

    A worker only just forked has not run its set-up yet; a Ctrl-C then ends it with a traceback of its
    own, an outcome this test is not about (and the run itself still stops cleanly).
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        workers = [worker for server in _children(pid) for worker in _children(server)]  # the fork server's
        ready = [worker for worker in workers if _ignores_ctrl_c(worker)]
        if len(ready) >= count:
            return workers
        time.sleep(0.05)
    raise AssertionError(f"no {count} processes set up after {seconds} s")


def _ignores_ctrl_c(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    ignored = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")), 16)
    return bool(ignored & 1 << (signal.SIGINT - 1))


def test_the_workers_setting_defaults_to_the_usable_cores_and_reads_the_environment(tmp_path: Path) -> None:
    assert Settings().workers == usable_cores() == len(os.sched_getaffinity(0))
    assert load_settings(tmp_path, environ={"NEWSDESK_WORKERS": "3"}).workers == 3
    (tmp_path / "newsdesk.toml").write_text("workers = 1\n", encoding="utf-8")
    assert load_settings(tmp_path, environ={}).workers == 1
    with pytest.raises(SettingsError, match="workers"):
        load_settings(tmp_path, environ={"NEWSDESK_WORKERS": "0"})


def test_newsdesk_ingest_and_reindex_take_workers(
    tmp_path: Path, corpus: tuple[Path, dict[str, PageHints]], always_pool: None,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO, logger="search.pipeline")
    index = str(tmp_path / "instance")
    assert main(["ingest", str(SEED_ARTICLES), "--index", index, "--workers", "2"]) == 0
    assert "cleaning in 2 worker processes" in caplog.text
    assert "added 5" in capsys.readouterr().out
    caplog.clear()
    assert main(["reindex", "--index", index, "--workers", "2"]) == 0
    assert "cleaning in 2 worker processes" in caplog.text
    assert "unchanged 5" in capsys.readouterr().out
    caplog.clear()
    assert main(["reindex", "--index", index, "--workers", "1"]) == 0
    assert "worker processes" not in caplog.text
    assert main(["ingest", str(SEED_ARTICLES), "--index", index, "--workers", "0"]) == 1
    assert "workers=0" in capsys.readouterr().err


# --- the index written in a process of its own ----------------------------------------------------


def test_the_index_is_written_in_a_process_of_its_own_when_workers_clean(
    tmp_path: Path, corpus: tuple[Path, dict[str, PageHints]], always_pool: None, caplog: pytest.LogCaptureFixture,
) -> None:
    """The report counts what the writer process wrote, and no process is left once the run is done."""
    caplog.set_level(logging.INFO)
    report = _ingest(corpus, tmp_path / "instance", workers=2)
    assert "writing the index in a process of its own" in caplog.text
    with open_index(make_settings(tmp_path / "instance")).searcher() as searcher:
        assert report.added == searcher.doc_count() >= 40
    assert not list(_workers())


def test_an_error_of_the_index_writer_is_raised_here_as_itself(
    tmp_path: Path, corpus: tuple[Path, dict[str, PageHints]], always_pool: None,
) -> None:
    """Another process writing: the writer process gives up as one process would, with the same error."""
    instance = tmp_path / "instance"
    _ingest(corpus, instance, workers=1)
    busy = FileStorage(str(make_settings(instance).index_dir)).lock("MAIN_WRITELOCK")
    assert busy.acquire(blocking=False)
    try:
        settings = make_settings(instance, workers=2, write_timeout=0.2)
        with pytest.raises(IndexBusy, match="another process is writing") as raised:
            ingest([corpus[0]], settings, manifest=corpus[1], progress=False, rebuild=False)
        assert raised.value.hint and "NEWSDESK_WRITE_TIMEOUT" in raised.value.hint
    finally:
        busy.release()
    assert not list(_workers())


def test_a_killed_index_writer_stops_the_run_with_a_clear_error_and_a_run_again_completes(
    tmp_path: Path, corpus: tuple[Path, dict[str, PageHints]], gazetteer: Gazetteer, always_pool: None,
) -> None:
    killed: list[int] = []

    def kill_the_writer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for child in multiprocessing.active_children():
                if child.name == WRITER_NAME and child.pid:
                    os.kill(child.pid, signal.SIGKILL)
                    killed.append(child.pid)
            time.sleep(0.001)

    killer = threading.Thread(target=kill_the_writer, daemon=True)
    killer.start()
    error = _ingest_within(120, corpus, tmp_path / "instance", 2)
    killer.join()
    assert killed
    assert isinstance(error, NewsdeskError), error
    # As for a worker: SIGKILL, or, when the fork server's report of it is lost, a death said to be unknown.
    assert re.fullmatch(r"the index writer process died \((SIGKILL|how is unknown: the fork server did not report it)\)",
                        error.message), error.message
    assert error.hint and "committed before are kept" in error.hint
    assert not list(_workers())
    _ingest(corpus, tmp_path / "instance", workers=2)  # what the killed run did not commit, this one does
    _ingest(corpus, tmp_path / "one", workers=1)
    again = _state(make_settings(tmp_path / "instance"), gazetteer)["documents"]
    assert [d["id"] for d in again] == [d["id"] for d in _state(make_settings(tmp_path / "one"), gazetteer)["documents"]]


def test_a_run_stopped_here_leaves_whole_batches_and_no_process(
    tmp_path: Path, corpus: tuple[Path, dict[str, PageHints]], always_pool: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C (or any error) in the parent: the writer drops the batch it was filling, keeps those committed."""
    tracked = ingest_module._track

    def interrupted(pages: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for n, page in enumerate(tracked(pages, *args, **kwargs)):
            if n == 35:
                raise KeyboardInterrupt
            yield page

    monkeypatch.setattr(ingest_module, "_track", interrupted)
    folder, manifest = corpus
    settings = make_settings(tmp_path / "instance", workers=2, batch_size=10)
    with pytest.raises(KeyboardInterrupt):
        ingest([folder], settings, manifest=manifest, progress=False)
    assert not list(_workers())
    with open_index(settings).searcher() as searcher:
        assert searcher.doc_count() % 10 == 0 and searcher.doc_count() < 35
