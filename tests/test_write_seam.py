"""The write side's seam (search/index/backend.py): the runners write through an ``ArticleStore``.

Ingest, reindex, the crawler, takedowns and the pipeline's writer process
write, delete and rebuild an instance's articles without knowing whether
Whoosh or PostgreSQL keeps them: the settings choose, in ``open_store``.
These tests hold that line, and check that a store travels to the writer's
process as the small record it is.
"""

from __future__ import annotations

import ast
import inspect
import pickle
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import SEED_ARTICLES, make_settings
from search.index import ArticleStore, PostgresStore, WhooshStore, open_store
from search.ingest import ingest
from search.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
#: The runners above the write seam, and everything above them.
ABOVE = sorted([*(ROOT / "search").glob("*.py"), *(ROOT / "search" / "crawl").glob("*.py"),
                *(ROOT / "search" / "alerts").glob("*.py"), *(ROOT / "web").glob("*.py")])
#: The one runner that knows both backends by its nature (it copies from one into the other), and the ground
#: floor's connection to PostgreSQL, which the state and the index stand on.
BOTH = {ROOT / "search" / "migrate.py", ROOT / "search" / "database.py"}
ENGINES = ("whoosh", "psycopg", "search.index.store", "search.index.pg_writer", "search.index.postgres",
           "search.index.writer")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", [path for path in ABOVE if path not in BOTH], ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_above_the_write_seam_knows_how_articles_are_kept(path: Path) -> None:
    reached = {name for name in imported_modules(path)
               if any(name == engine or name.startswith(engine + ".") for engine in ENGINES)}
    assert not reached, f"{path.relative_to(ROOT)} reaches past the write seam: {sorted(reached)}"


@pytest.mark.parametrize("store", [WhooshStore, PostgresStore])
def test_both_stores_answer_the_seam_as_asked(store: type) -> None:
    for name, member in vars(ArticleStore).items():
        if callable(member) and not name.startswith("_"):
            answered = getattr(store, name, None)
            assert answered is not None, f"{store.__name__} has no {name}"
            assert inspect.signature(answered).parameters.keys() == inspect.signature(member).parameters.keys(), name


def test_the_settings_choose_the_store(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert isinstance(open_store(settings), WhooshStore)
    assert isinstance(open_store(replace(settings, backend="postgres", database_url="postgresql://db/x")),
                      PostgresStore)


def test_a_postgresql_store_travels_without_its_connection(tmp_path: Path, fresh_database: str) -> None:
    settings = make_settings(tmp_path, backend="postgres", database_url=fresh_database, workers=1)
    ingest([SEED_ARTICLES], settings, progress=False)
    store = open_store(settings)
    assert isinstance(store, PostgresStore)
    before = store.fingerprints()  # opens its connection
    travelled = pickle.loads(pickle.dumps(store))
    assert travelled.settings == settings and travelled._connection == []
    assert travelled.fingerprints() == before  # and opens its own where it arrives
    store.close()
    travelled.close()


def test_an_ingest_large_enough_for_a_writer_process_writes_postgresql_from_it(
        tmp_path: Path, fresh_database: str) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    seed = sorted(SEED_ARTICLES.iterdir())
    for n in range(70):  # above the pipeline's _POOL_MIN_PAGES: worker processes and the writer's own process
        text = seed[n % len(seed)].read_text(encoding="utf-8")
        (pages / f"{n:03d}.txt").write_text(text.replace("\n\n", f"\n\nDispatch {n} of the series.\n\n", 1),
                                            encoding="utf-8")
    settings: Settings = make_settings(tmp_path / "instance", backend="postgres", database_url=fresh_database,
                                       workers=2)
    report = ingest([pages], settings, progress=False)
    assert report.added == 70 and len(open_store(settings).fingerprints()) == 70
