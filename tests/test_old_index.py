"""An index of an older schema version asks for a rebuild, and ``reindex`` rebuilds it from the archive.

Whoosh pickles the schema into the index's TOC file, naming the module of
every analyzer class as it was when the index was written; an older
Newsdesk's modules may be gone (schema 4's indexes from before the stage
packages named ``search.analysis``). Newsdesk reads the index's schema
version before Whoosh unpickles anything, so such an index is answered with
the rebuild hint, never a ``ModuleNotFoundError``; ``make run`` then runs
``newsdesk reindex`` (see the Makefile), as the last test does.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from whoosh import fields
from whoosh import index as whoosh_index

from conftest import SEED_ARTICLES
from search.enrich import load_gazetteer
from search.errors import SchemaMismatch
from search.index import open_index
from search.ingest import ingest
from search.query import search
from search.records import SearchQuery
from search.settings import Settings
from web.cli import main

_RETIRED = "retired_newsdesk_analysis"


@pytest.fixture
def old_instance(fresh: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The seeds ingested (so archived), their index then replaced by a schema-4 one whose analyzer's module is gone."""
    ingest([SEED_ARTICLES], fresh, progress=False)
    shutil.rmtree(fresh.index_dir)
    fresh.index_dir.mkdir()
    module = tmp_path / f"{_RETIRED}.py"
    module.write_text("from whoosh.analysis import Filter\n\n\nclass FoldingFilter(Filter):\n"
                      "    def __call__(self, tokens):\n        return tokens\n")
    sys.path.insert(0, str(tmp_path))
    try:
        from retired_newsdesk_analysis import FoldingFilter  # type: ignore[import-not-found]
        from whoosh.analysis import RegexTokenizer

        schema = fields.Schema(id=fields.ID(stored=True, unique=True),
                               body=fields.TEXT(stored=True, analyzer=RegexTokenizer() | FoldingFilter()),
                               minhash_bands=fields.KEYWORD(scorable=False))
        writer = whoosh_index.create_in(str(fresh.index_dir), schema).writer()
        writer.add_document(id="old", body="an article of the old index", minhash_bands="0abc 1def")
        writer.commit()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(_RETIRED, None)
    (fresh.index_dir / "newsdesk-schema.json").write_text(json.dumps({"schema_version": 4}) + "\n")
    yield fresh


def test_the_old_index_really_names_a_module_that_is_gone(old_instance: Settings) -> None:
    (toc,) = old_instance.index_dir.glob("*.toc")
    assert _RETIRED.encode() in toc.read_bytes()
    with pytest.raises(ModuleNotFoundError):
        whoosh_index.open_dir(str(old_instance.index_dir))  # what opening it unchecked would do


def test_an_old_index_asks_for_a_rebuild_instead_of_failing(old_instance: Settings,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SchemaMismatch, match="schema version 4.*rebuild"):
        open_index(old_instance)
    assert main(["search", "kosovo", "--index", str(old_instance.index)]) == 1
    error = capsys.readouterr().err
    assert "newsdesk reindex" in error and "Traceback" not in error


def test_reindex_rebuilds_an_old_index_from_the_archive(old_instance: Settings) -> None:
    assert main(["reindex", "--index", str(old_instance.index)]) == 0
    with open_index(old_instance).searcher() as searcher:
        everything = search(searcher, SearchQuery(), old_instance, load_gazetteer())
        lavrov = search(searcher, SearchQuery(q="Lavrov"), old_instance, load_gazetteer())
    assert everything.total == 5 and "old" not in {hit.id for hit in everything.hits}
    assert 0 < lavrov.total <= 5 and all("<mark>" in hit.snippet for hit in lavrov.hits)
    assert main(["search", "kosovo", "--index", str(old_instance.index)]) == 0  # make run now serves it
