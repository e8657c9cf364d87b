"""Ingest end to end: counts, idempotence, bad files, one writer, killed runs."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, SEED_ARTICLES
from search.errors import IndexBusy, SchemaMismatch
from search.index import open_index
from search.ingest import ingest
from search.settings import Settings
from search.sources import load_manifest
from web.cli import main


def stored(settings: Settings) -> list[dict[str, object]]:
    with open_index(settings).searcher() as s:
        docs = [s.stored_fields(n) for n in s.reader().all_doc_ids()]
    return sorted(({k: v for k, v in d.items() if k != "indexed_at"} for d in docs), key=lambda d: str(d["id"]))


def test_the_command_ingests_the_seeds_and_reports_counts(fresh: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(SEED_ARTICLES), "--index", str(fresh.index)]) == 0
    assert "added 5, updated 0, unchanged 0, skipped 0" in capsys.readouterr().out
    assert len(stored(fresh)) == 5


def test_reingesting_updates_nothing_and_never_duplicates(fresh: Settings) -> None:
    ingest([SEED_ARTICLES], fresh, progress=False)
    again = ingest([SEED_ARTICLES, SEED_ARTICLES / "000_201a3ed35fd8cfdd.txt"], fresh, progress=False)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 5)
    assert len(stored(fresh)) == 5


def test_a_changed_article_is_updated_in_place(fresh: Settings, tmp_path: Path) -> None:
    seed = SEED_ARTICLES / "002_dca27ddd5f2f899a.txt"
    assert ingest([seed], fresh, progress=False).added == 1
    manifest = tmp_path / "manifest.toml"
    digest = hashlib.sha256(seed.read_bytes()).hexdigest()
    manifest.write_text(f'[[article]]\nsha256 = "{digest}"\noutlet = "Balkan Insight"\n')
    report = ingest([seed], fresh, manifest=load_manifest(manifest), progress=False)  # same bytes, new facts
    assert (report.added, report.updated, report.unchanged) == (0, 1, 0)
    [doc] = stored(fresh)
    assert doc["outlet"] == "Balkan Insight"


def test_unreadable_files_are_skipped_with_reasons_and_the_rest_indexed(fresh: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_bytes((SEED_ARTICLES / "003_c73c9fc6f3745f3a.txt").read_bytes())
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not an article")
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(b"\x00\x01" * 100)
    (folder / "broken.html.gz").write_bytes(b"not gzip at all")
    report = ingest([folder], fresh, progress=False)
    reasons = {Path(origin).name: reason for origin, reason in report.skipped}
    assert report.added == 1
    assert set(reasons) == {"photo.jpg", "empty.txt", "binary.txt", "broken.html.gz"}
    assert "not a .txt" in reasons["photo.jpg"] and "binary" in reasons["binary.txt"]
    assert "cannot read" in reasons["broken.html.gz"]


def test_the_same_input_gives_the_same_index(tmp_path: Path) -> None:
    first, second = Settings(index=tmp_path / "a"), Settings(index=tmp_path / "b")
    ingest([SEED_ARTICLES], first, progress=False)
    ingest([SEED_ARTICLES], second, progress=False)
    assert stored(first) == stored(second)


def test_every_seed_gets_language_actors_and_year(seeded: Settings) -> None:
    for doc in stored(seeded):
        assert doc["language"] == "en"
        assert doc["actor"]
        assert doc["year"] in {"2018", "unknown"}


def test_ingest_waits_for_the_write_lock_then_says_who_holds_it(fresh: Settings) -> None:
    ingest([SEED_ARTICLES / "000_201a3ed35fd8cfdd.txt"], fresh, progress=False)
    holder = open_index(fresh).writer()
    try:
        impatient = Settings(index=fresh.index, write_timeout=0.3)
        with pytest.raises(IndexBusy, match="another process is writing"):
            ingest([SEED_ARTICLES], impatient, progress=False)
    finally:
        holder.cancel()


def test_ingest_proceeds_once_the_lock_is_released(fresh: Settings) -> None:
    ingest([SEED_ARTICLES / "000_201a3ed35fd8cfdd.txt"], fresh, progress=False)
    holder = open_index(fresh).writer()
    threading.Timer(0.5, holder.cancel).start()
    started = time.monotonic()
    report = ingest([SEED_ARTICLES], Settings(index=fresh.index, write_timeout=10), progress=False)
    assert report.added == 4 and time.monotonic() - started >= 0.4


def test_an_index_from_another_schema_version_asks_for_a_rebuild(fresh: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    ingest([SEED_ARTICLES], fresh, progress=False)
    (fresh.index_dir / "newsdesk-schema.json").write_text(json.dumps({"schema_version": 0}))
    with pytest.raises(SchemaMismatch, match="rebuild"):
        open_index(fresh)
    assert main(["search", "kosovo", "--index", str(fresh.index)]) == 1
    assert "newsdesk reindex" in capsys.readouterr().err
    assert main(["reindex", "--index", str(fresh.index)]) == 0  # every archived page, in the new schema
    assert len(stored(fresh)) == 5
    (fresh.index_dir / "newsdesk-schema.json").write_text(json.dumps({"schema_version": 0}))
    assert main(["ingest", "--rebuild", str(SEED_ARTICLES), "--index", str(fresh.index)]) == 0  # or from files
    assert len(stored(fresh)) == 5


def _many_articles(folder: Path, count: int) -> None:
    folder.mkdir()
    words = (SEED_ARTICLES / "003_c73c9fc6f3745f3a.txt").read_text().split()
    for n in range(count):
        body = " ".join(words[(n * 7) % 200 : (n * 7) % 200 + 60])
        (folder / f"{n:05}.txt").write_text(f"Report number {n} on Balkan diplomacy today\n\n{body} (item {n}).\n")


@pytest.mark.slow
def test_a_killed_ingest_leaves_a_working_index_and_a_rerun_completes(tmp_path: Path) -> None:
    folder, instance = tmp_path / "many", tmp_path / "instance"
    _many_articles(folder, 1200)
    env = {**os.environ, "NEWSDESK_BATCH_SIZE": "50", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "web.cli", "ingest", str(folder), "--index", str(instance)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((instance / "whoosh").glob("_MAIN_[1-9]*.toc")):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)

    settings = Settings(index=instance)
    committed = len(stored(settings))
    assert 0 < committed < 1200 and committed % 50 == 0
    report = ingest([folder], settings, progress=False)
    assert (report.added, report.unchanged) == (1200 - committed, committed)
    assert len({d["id"] for d in stored(settings)}) == 1200


def test_progress_is_logged_when_not_on_a_terminal(fresh: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="search.ingest")
    ingest([SEED_ARTICLES], fresh, progress=False)
    assert "ingest: 5/5 files read" in caplog.text


def test_a_manifest_given_on_the_command_line_adds_facts(fresh: Settings, tmp_path: Path) -> None:
    seed = SEED_ARTICLES / "002_dca27ddd5f2f899a.txt"
    manifest = tmp_path / "extra.toml"
    digest = hashlib.sha256(seed.read_bytes()).hexdigest()
    manifest.write_text(f'[[article]]\nsha256 = "{digest}"\npublished = "2019-02-12"\n')
    assert main(["ingest", str(seed), "--manifest", str(manifest), "--index", str(fresh.index)]) == 0
    [doc] = stored(fresh)
    assert (doc["year"], doc["published_source"]) == ("2019", "manifest")


def test_a_broken_manifest_is_a_clear_error(fresh: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "broken.toml"
    manifest.write_text("[[article]]\noutlet = 'no sha256 here'\n")
    assert main(["ingest", str(SEED_ARTICLES), "--manifest", str(manifest), "--index", str(fresh.index)]) == 1
    assert "cannot read manifest" in capsys.readouterr().err
