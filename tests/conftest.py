"""Shared fixtures: a real Whoosh index built from seeds/ in a temp directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from whoosh.searching import Searcher

from search.actors import Gazetteer, load_gazetteer
from search.index import open_index
from search.ingest import ingest
from search.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SEED_ARTICLES = ROOT / "seeds" / "articles"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: The shared reference data (real pages, feeds, corpus): never shipped, so
#: the tests that use it skip when it is absent.
SHARED = Path(os.environ.get("NEWSDESK_SHARED", ROOT.parent / "shared"))


def make_settings(path: Path, **overrides: object) -> Settings:
    return Settings(index=path, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """An instance directory holding the five seed articles (built once, read-only)."""
    settings = make_settings(tmp_path_factory.mktemp("seeded"))
    ingest([SEED_ARTICLES], settings, progress=False)
    return settings


@pytest.fixture
def searcher(seeded: Settings) -> Iterator[Searcher]:
    with open_index(seeded).searcher() as s:
        yield s


@pytest.fixture(scope="session")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


@pytest.fixture
def app(seeded: Settings) -> Flask:
    from web import create_app

    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": seeded})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    """An empty instance directory of the test's own."""
    return make_settings(tmp_path / "instance")
