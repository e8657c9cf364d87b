"""An index built before ``search/`` became stage packages still opens, answers and takes new articles.

Whoosh pickles the schema into the index's TOC file, and that pickle names
the module of Newsdesk's analysis filters as it was when the index was
written. ``fixtures/index-before-packages.tar.gz`` is the seed articles'
index as the flat layout built it (``search.analysis``, schema version 4):
moving a module must leave it readable, or ask for ``reindex``, never crash.
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from search.enrich import load_gazetteer
from search.index import open_index, write_articles
from search.query import search
from search.records import Article, SearchQuery
from search.settings import Settings
from tests.conftest import FIXTURES, make_settings


def _old_instance(tmp_path: Path) -> Settings:
    with tarfile.open(FIXTURES / "index-before-packages.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    return make_settings(tmp_path)


def test_the_fixture_pickles_the_old_module_path(tmp_path: Path) -> None:
    settings = _old_instance(tmp_path)
    (toc,) = settings.index_dir.glob("*.toc")
    assert set(re.findall(rb"search\.[a-z_.]+", toc.read_bytes())) == {b"search.analysis"}


def test_an_index_built_before_the_packages_opens_and_answers(tmp_path: Path) -> None:
    settings = _old_instance(tmp_path)
    with open_index(settings).searcher() as searcher:
        page = search(searcher, SearchQuery(q="Lavrov"), settings, load_gazetteer())
        everything = search(searcher, SearchQuery(), settings, load_gazetteer())
    assert everything.total == 5
    assert 0 < page.total <= 5
    assert all("<mark>" in hit.snippet for hit in page.hits)


def test_an_index_built_before_the_packages_takes_new_articles(tmp_path: Path) -> None:
    settings = _old_instance(tmp_path)
    text = " ".join(f"Blorvak negotiators met for round {n} of the dialogue." for n in range(10))
    article = Article(id="new-article-id", title="Dialogue resumes", text=text, origin="test", outlet="Test Wire")
    assert write_articles([article], settings).added == 1
    with open_index(settings).searcher() as searcher:
        assert search(searcher, SearchQuery(q="blorvak"), settings, load_gazetteer()).total == 1
        assert searcher.doc_count() == 6
