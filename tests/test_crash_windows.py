"""Crash windows of ingest, opened deterministically: the kill replaces the step it interrupts.

An article must become visible to alerts exactly when it becomes visible to
search. Ingest numbers (search/index/sequence.py) are saved before the index
commit; a process killed between the two left numbers for articles that
never reached the index. When another ingest then committed and alerts ran,
the killed batch, ingested again, came back with its old, lower numbers,
below every alert's watermark, and was never alerted.

The kill is injected: a subprocess whose Whoosh commit is replaced by
SIGKILL to itself, so the window is hit every time, not by luck.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, make_settings
from search.alerts import add_user, delivery_summaries, save_search
from search.index import open_index
from search.ingest import ingest
from search.records import SearchQuery
from search.settings import Settings

#: Ingest ``folder`` into ``instance``, dying by SIGKILL where the index commit would be.
_KILLED_AT_COMMIT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from whoosh.writing import SegmentWriter

    def killed(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    SegmentWriter.commit = killed
    from search.ingest import ingest
    from search.settings import Settings
    ingest([Path(sys.argv[1])], Settings(index=Path(sys.argv[2])), progress=False)
""")


def _story(folder: Path, name: str, title: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.txt").write_text(
        f"{title}\n\nRussian Foreign Minister Sergey Lavrov spoke about {title.lower()} in Moscow on Tuesday, "
        "the ministry said, after talks on Kosovo and the Belgrade-Pristina dialogue.\n",
        encoding="utf-8")
    return folder


def _ingest_killed_at_commit(folder: Path, settings: Settings) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _KILLED_AT_COMMIT, str(folder), str(settings.index)],
                          check=False, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr


def _searchable(settings: Settings) -> set[str]:
    with open_index(settings).searcher() as searcher:
        return {fields["title"] for fields in searcher.documents()}


@pytest.mark.slow
def test_a_batch_killed_before_its_commit_is_alerted_when_it_comes_again(seeded: Settings, tmp_path: Path) -> None:
    shutil.copytree(seeded.index, tmp_path / "instance")
    settings = make_settings(tmp_path / "instance")
    user = add_user(settings, "ana@example.org", "a long password")
    saved = save_search(settings, user.id, "Lavrov", SearchQuery(q="Lavrov"), email=False, feed=True)

    killed = _story(tmp_path / "killed", "a", "Lavrov on energy")
    _story(killed, "b", "Lavrov on sanctions")
    _ingest_killed_at_commit(killed, settings)
    assert "Lavrov on energy" not in _searchable(settings)  # nothing committed

    ingest([_story(tmp_path / "other", "c", "Lavrov on Kosovo")], settings, progress=False)  # alerts run after
    assert delivery_summaries(settings, [saved.id])[saved.id].articles == 1

    ingest([killed], settings, progress=False)  # the killed batch, again
    assert {"Lavrov on energy", "Lavrov on sanctions"} <= _searchable(settings)
    assert delivery_summaries(settings, [saved.id])[saved.id].articles == 3  # each new article alerted, once


@pytest.mark.slow
def test_numbers_stay_for_good_once_committed(seeded: Settings, tmp_path: Path) -> None:
    """The rule that keeps numbers: an update, a re-ingest, a takedown or a rebuilt index keeps them."""
    from search.ingest import reindex
    from search.takedown import take_down

    shutil.copytree(seeded.index, tmp_path / "instance")
    settings = make_settings(tmp_path / "instance")
    ingest([_story(tmp_path / "new", "a", "Lavrov on energy")], settings, progress=False)

    def numbers() -> dict[str, int]:
        with open_index(settings).searcher() as searcher:
            return {fields["id"]: int(fields["seq"]) for fields in searcher.documents()}

    before = numbers()
    reindex(settings, progress=False)
    assert numbers() == before
    [new_id] = [article_id for article_id, seq in before.items() if seq == max(before.values())]
    take_down(settings, new_id)
    ingest([tmp_path / "new"], settings, progress=False)
    assert numbers()[new_id] == before[new_id]


# --- losses: a typo, an interrupted creation ----------------------------------------


def test_a_rebuild_from_a_path_that_does_not_exist_changes_nothing(seeded: Settings, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from web.cli import main

    shutil.copytree(seeded.index, tmp_path / "instance")
    settings = make_settings(tmp_path / "instance")
    before = _searchable(settings)
    assert main(["ingest", str(tmp_path / "seeds" / "artcles"), "--rebuild", "--index", str(settings.index)]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    assert _searchable(settings) == before and len(before) == 5


def test_a_rebuild_that_finds_no_article_keeps_the_live_index(seeded: Settings, tmp_path: Path) -> None:
    from search.errors import NewsdeskError

    shutil.copytree(seeded.index, tmp_path / "instance")
    settings = make_settings(tmp_path / "instance")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(NewsdeskError, match="found no article"):
        ingest([tmp_path / "junk"], settings, rebuild=True, progress=False)
    assert len(_searchable(settings)) == 5 and not (settings.index / "whoosh.new").exists()


def test_a_rebuild_is_built_beside_the_live_index_and_swapped_in(seeded: Settings, tmp_path: Path) -> None:
    shutil.copytree(seeded.index, tmp_path / "instance")
    settings = make_settings(tmp_path / "instance")
    with open_index(settings).searcher() as reading:  # a server's searcher, open through the rebuild
        report = ingest([_story(tmp_path / "one", "a", "Lavrov on energy")], settings, rebuild=True, progress=False)
        assert reading.doc_count() == 5  # it still reads the old index, whole
    assert report.added == 1 and _searchable(settings) == {"Lavrov on energy"}


def test_a_rebuild_waits_for_the_writer_of_the_live_index(seeded: Settings, tmp_path: Path) -> None:
    from search.errors import IndexBusy

    shutil.copytree(seeded.index, tmp_path / "instance")
    settings = make_settings(tmp_path / "instance", write_timeout=0.3)
    writer = open_index(settings).writer()  # another ingest, mid-batch
    try:
        with pytest.raises(IndexBusy):
            ingest([_story(tmp_path / "one", "a", "Lavrov on energy")], settings, rebuild=True, progress=False)
    finally:
        writer.cancel()
    assert len(_searchable(settings)) == 5  # untouched


#: Create the index, dying by SIGKILL right after Whoosh's create_in.
_KILLED_AFTER_CREATE = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from whoosh import index

    real = index.create_in

    def killed(*args, **kwargs):
        real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    index.create_in = killed
    from search.ingest import ingest
    from search.settings import Settings
    ingest([Path(sys.argv[1])], Settings(index=Path(sys.argv[2])), progress=False)
""")


@pytest.mark.slow
def test_a_kill_right_after_the_index_is_created_leaves_an_instance_that_ingest_completes(tmp_path: Path) -> None:
    from conftest import SEED_ARTICLES

    settings = make_settings(tmp_path / "instance")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _KILLED_AFTER_CREATE, str(SEED_ARTICLES), str(settings.index)],
                          check=False, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr

    report = ingest([SEED_ARTICLES], settings, progress=False)  # the command the README gives, as it is
    assert report.added == 5 and len(_searchable(settings)) == 5
