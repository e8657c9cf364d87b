"""Percolation's scratch space: an alert run writes nothing outside its own instance.

Alerts match new articles in a RAM index of just those articles
(search/query/percolate.py, for search/alerts/runner.py). Whoosh's ``RamStorage`` would put its writer's scratch
files in ``<system temp dir>/MAIN.tmp``: one path for every process on the
machine, so two instances' alert runs deleted each other's files, and a
symlink planted there by another local user was followed. These tests plant
that symlink and run two instances' alerts side by side.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, make_settings
from search.alerts import add_user, run_alerts, save_search
from search.enrich import Gazetteer, enrich
from search.index import write_articles
from search.records import Article, SearchQuery
from search.settings import Settings


def _instance_with_alert(seeded: Settings, path: Path) -> Settings:
    shutil.copytree(seeded.index, path)
    settings = make_settings(path)
    user = add_user(settings, "ana@example.org", "a long password")
    save_search(settings, user.id, "Lavrov", SearchQuery(q="Lavrov"), email=False, feed=True)
    return settings


def _lavrov_articles(gazetteer: Gazetteer, first: int, count: int) -> list[Article]:
    return [
        enrich(Article(id=f"{n:020x}", title=f"Lavrov in Belgrade, part {n}", origin=f"test:{n}",
                       text=f"Sergey Lavrov met Serbian officials on day {n} to discuss Kosovo and energy."),
               gazetteer, 0)
        for n in range(first, first + count)
    ]


def test_an_alert_run_follows_no_symlink_planted_in_the_system_temp_dir(
    seeded: Settings, tmp_path: Path, gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _instance_with_alert(seeded, tmp_path / "instance")
    system_temp, elsewhere = tmp_path / "tmp", tmp_path / "elsewhere"
    system_temp.mkdir()
    elsewhere.mkdir()
    (system_temp / "MAIN.tmp").symlink_to(elsewhere, target_is_directory=True)  # the old, predictable path
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))

    write_articles(_lavrov_articles(gazetteer, 1, 3), settings)
    report = run_alerts(settings, gazetteer=gazetteer)

    assert report.matched == 3
    assert list(elsewhere.iterdir()) == []
    assert [p.name for p in system_temp.iterdir()] == ["MAIN.tmp"]  # and nothing else left behind


# Each process percolates many batches into its own instance, sharing only
# the system temp dir with the other.
_PERCOLATE_LOOP = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_percolation import _lavrov_articles
    from pathlib import Path
    from conftest import make_settings
    from search.enrich.actors import load_gazetteer
    from search.alerts import run_alerts
    from search.index import write_articles

    settings, gazetteer, matched = make_settings(Path({instance!r})), load_gazetteer(), 0
    for batch in range({batches}):
        write_articles(_lavrov_articles(gazetteer, 1000 + batch * 20, 20), settings)
        matched += run_alerts(settings, gazetteer=gazetteer).matched
    print(matched)
""")


@pytest.mark.slow
def test_two_instances_percolate_at_the_same_time(seeded: Settings, tmp_path: Path) -> None:
    batches = 15
    system_temp = tmp_path / "tmp"
    system_temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(system_temp)}
    processes = []
    for name in ("one", "two"):
        instance = _instance_with_alert(seeded, tmp_path / name)
        script = _PERCOLATE_LOOP.format(tests=str(ROOT / "tests"), instance=str(instance.index), batches=batches)
        processes.append(subprocess.Popen([sys.executable, "-c", script], env=env, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert int(out) == batches * 20  # every new article matched, once
    assert list(system_temp.iterdir()) == []
