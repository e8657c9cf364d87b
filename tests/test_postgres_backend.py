"""``backend = "postgres"``: the same commands and pages as the embedded default, with the articles in PostgreSQL.

The settings choose the backend and nothing above the seams knows which
runs (search/index/backend.py for writing, search/query/backend.py for
reading). Each test builds the same instance twice — the seed articles
ingested into Whoosh, and into a database of the test's own — and holds
the PostgreSQL one to the embedded one's answers: what ``ingest``,
``delete``, ``reindex`` and ``ingest --rebuild`` leave, and what the
results page and the JSON API say. Searches go to a real streaming replica
when ``database_read_url`` names one.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient

import services
from conftest import SEED_ARTICLES, make_settings
from search.database import migrations
from search.errors import DatabaseUnavailable
from search.index import open_store
from search.ingest import ingest, reindex
from search.query import make_query, open_readers
from search.settings import Settings
from search.takedown import take_down
from web import create_app


def _on_postgres(path: Path, database: str, **overrides: object) -> Settings:
    return make_settings(path, backend="postgres", database_url=database, workers=1, **overrides)


@pytest.fixture
def twins(tmp_path: Path, fresh_database: str) -> tuple[Settings, Settings]:
    """The seed articles ingested twice: into the embedded backend, and into PostgreSQL."""
    embedded = make_settings(tmp_path / "whoosh", workers=1)
    postgres = _on_postgres(tmp_path / "postgres", fresh_database)
    for settings in (embedded, postgres):
        ingest([SEED_ARTICLES], settings, progress=False)
    return embedded, postgres


def _ids(settings: Settings, q: str = "") -> list[str]:
    readers = open_readers(settings)
    try:
        page = readers.current().search(make_query(q, sort="date", per_page=100))
    finally:
        readers.close()
    return [hit.id for hit in page.hits]


def _stored_ids(database: str) -> set[str]:
    with psycopg.connect(database) as connection:
        return {str(row[0]) for row in connection.execute("SELECT id FROM articles")}


def test_the_first_command_against_an_empty_database_creates_its_tables(tmp_path: Path, fresh_database: str) -> None:
    settings = _on_postgres(tmp_path, fresh_database)
    assert _ids(settings) == []  # a reader finds an empty instance, not a missing table
    with psycopg.connect(fresh_database) as connection:
        versions = [row[0] for row in connection.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [migration.version for migration in migrations()]


def test_ingest_writes_to_postgresql_what_it_writes_to_whoosh(twins: tuple[Settings, Settings]) -> None:
    embedded, postgres = twins
    assert _ids(postgres) == _ids(embedded) and len(_ids(postgres)) == len(list(SEED_ARTICLES.iterdir()))
    for q in ("Lavrov", "Kosovo OR Serbia", '"foreign minister"', "Vu*", "outlet:TASS"):
        assert sorted(_ids(postgres, q)) == sorted(_ids(embedded, q)), q
    assert not (postgres.index / "whoosh").exists()  # the instance directory keeps the archive, not an index


def test_ingesting_again_changes_nothing(twins: tuple[Settings, Settings]) -> None:
    _, postgres = twins
    before = _ids(postgres)
    report = ingest([SEED_ARTICLES], postgres, progress=False)
    assert (report.added, report.updated, report.unchanged) == (0, 0, len(before))
    assert _ids(postgres) == before


def _client(settings: Settings) -> FlaskClient:
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()


def test_the_api_answers_from_postgresql_as_from_whoosh(twins: tuple[Settings, Settings]) -> None:
    embedded, postgres = twins
    for path in ("/api/search?q=Kosovo&sort=date", "/api/search?q=&sort=date&outlet=TASS",
                 "/api/search?q=Lavrov&sort=date&per_page=2&page=2"):
        ours, theirs = _client(postgres).get(path), _client(embedded).get(path)
        assert ours.status_code == theirs.status_code == 200, path
        mine, expected = ours.get_json(), theirs.get_json()
        assert mine["total"] == expected["total"], path
        assert [hit["id"] for hit in mine["hits"]] == [hit["id"] for hit in expected["hits"]], path
        assert mine["facets"] == expected["facets"], path


def test_a_takedown_removes_the_article_from_postgresql_and_the_archive(twins: tuple[Settings, Settings]) -> None:
    _, postgres = twins
    victim = _ids(postgres)[0]
    done = take_down(postgres, victim)
    assert [article_id for article_id, _ in done.articles] == [victim] and done.archived >= 1
    assert victim not in _ids(postgres) and victim not in _stored_ids(postgres.database_url)
    assert open_store(postgres).named(victim) == []


def test_reindex_rewrites_in_place_and_removes_what_the_archive_no_longer_gives(
        twins: tuple[Settings, Settings]) -> None:
    _, postgres = twins
    everything = set(_ids(postgres))
    report = reindex(postgres, progress=False)
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 0, len(everything), 0)
    # An article whose page left the archive (not through a takedown, which deletes it too) goes at reindex.
    stray = min(everything)
    with psycopg.connect(postgres.database_url) as connection:
        before = connection.execute("SELECT seq FROM articles WHERE id <> %s ORDER BY id", (stray,)).fetchall()
    from search.archive import open_archive

    with open_archive(postgres) as archive:
        assert archive.delete(stray) >= 1
    report = reindex(postgres, progress=False)
    assert report.removed == 1 and set(_ids(postgres)) == everything - {stray}
    with psycopg.connect(postgres.database_url) as connection:  # ingest numbers stay each article's own
        assert connection.execute("SELECT seq FROM articles ORDER BY id").fetchall() == before


def test_a_rebuild_from_files_keeps_only_those_files_articles(twins: tuple[Settings, Settings], tmp_path: Path) -> None:
    embedded, postgres = twins
    some = tmp_path / "some"
    some.mkdir()
    for page in sorted(SEED_ARTICLES.iterdir())[:2]:
        shutil.copy(page, some / page.name)
    for settings in (embedded, postgres):
        ingest([some], settings, rebuild=True, progress=False)
    assert _ids(postgres) == _ids(embedded) and len(_ids(postgres)) == 2
    assert _stored_ids(postgres.database_url) == set(_ids(embedded))


def test_a_rebuild_that_finds_nothing_leaves_the_articles_as_they_were(twins: tuple[Settings, Settings],
                                                                     tmp_path: Path) -> None:
    _, postgres = twins
    before = _ids(postgres)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no article here")
    with pytest.raises(Exception, match="found no article"):
        ingest([empty], postgres, rebuild=True, progress=False)
    assert _ids(postgres) == before


def test_searches_go_to_the_replica_and_writes_to_the_primary(tmp_path: Path, postgres_url: str,
                                                              postgres_replica_url: str) -> None:
    # The session's replica streams the whole primary, so the test's database is the primary's `newsdesk`
    # database itself, emptied of articles first.
    settings = _on_postgres(tmp_path, postgres_url, database_read_url=postgres_replica_url)
    store = open_store(settings)
    store.delete(store.fingerprints())
    ingest([SEED_ARTICLES], settings, progress=False)
    services.wait_for_replay(postgres_url, postgres_replica_url)
    readers = open_readers(settings)
    try:
        reader = readers.current()
        assert reader.connection.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        assert len(reader.search(make_query("", per_page=100)).hits) == len(list(SEED_ARTICLES.iterdir()))
    finally:
        readers.close()
    fresh = open_readers(settings, fresh=True).snapshot()
    try:  # what must see a write just made (the alert runner) reads the primary
        assert fresh.connection.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    finally:
        fresh.close()
    store.delete(store.fingerprints())


def test_an_unreachable_database_is_a_503_with_a_hint(tmp_path: Path) -> None:
    settings = _on_postgres(tmp_path, f"postgresql://newsdesk@127.0.0.1:{_closed_port()}/newsdesk")
    with pytest.raises(DatabaseUnavailable, match="cannot reach the database") as raised:
        _ids(settings)
    assert raised.value.status == 503 and "database_url" in (raised.value.hint or "")
    answer = _client(settings).get("/api/search?q=Kosovo")
    assert answer.status_code == 503 and "cannot reach the database" in answer.get_json()["error"]


def _closed_port() -> int:
    from conftest import free_port

    return free_port()


def test_the_backend_is_the_settings_choice_alone(tmp_path: Path, fresh_database: str) -> None:
    settings = _on_postgres(tmp_path, fresh_database)
    assert type(open_store(settings)).__name__ == "PostgresStore"
    assert type(open_store(replace(settings, backend="whoosh"))).__name__ == "WhooshStore"
    assert type(open_readers(settings)).__name__ == "PostgresReaders"
    assert type(open_readers(replace(settings, backend="whoosh"))).__name__ == "EmbeddedReaders"
