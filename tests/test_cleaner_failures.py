"""A fault of the cleaner is a failure, not a skipped page.

Pages that hold no article, or are too big or binary, are skipped with
their reason: that is the input's doing. An exception from the cleaner's own
code (or a library it drives) on one page used to be reported the same way,
logged at DEBUG, and ingest exited 0: a bug looked like a bad page. Now that
page is counted as failed, logged as an error with its file and traceback,
the other pages are still ingested, and ``newsdesk ingest`` exits 1.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, SEED_ARTICLES
from search.clean import cleaner as clean_module
from search.errors import ExtractionError
from search.ingest import ingest
from search.settings import Settings
from web.cli import main


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    folder = tmp_path / "pages"
    folder.mkdir()
    for name in ("wire-jsonld.html", "undated.html", "navigation-only.html"):
        shutil.copy(FIXTURES / "pages" / name, folder / name)
    shutil.copy(SEED_ARTICLES / "003_c73c9fc6f3745f3a.txt", folder / "dump.txt")
    return folder


@pytest.fixture
def buggy_on_undated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug of ours that one page trips: the metadata reader raises on it."""
    read_metadata = clean_module.read_metadata

    def buggy(tree: Any, url: str | None, **kwargs: Any) -> Any:
        if "Brussels agreement" in (tree.findtext(".//title") or ""):  # undated.html
            raise KeyError("a bug of ours")
        return read_metadata(tree, url, **kwargs)

    monkeypatch.setattr(clean_module, "read_metadata", buggy)


def test_a_fault_of_the_cleaner_fails_that_page_and_the_rest_go_in(
    fresh: Settings, pages: Path, buggy_on_undated: None, caplog: pytest.LogCaptureFixture
) -> None:
    report = ingest([pages], fresh, progress=False)
    assert [Path(origin).name for origin, _ in report.failed] == ["undated.html"]
    assert "KeyError" in report.failed[0][1]
    assert [Path(origin).name for origin, _ in report.skipped] == ["navigation-only.html"]  # a rejection stays one
    assert report.added == 2
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "undated.html" in error.getMessage() and error.exc_info is not None


def test_newsdesk_ingest_exits_1_when_a_page_failed(
    fresh: Settings, pages: Path, buggy_on_undated: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(pages), "--index", str(fresh.index)]) == 1
    out, err = capsys.readouterr()
    assert "failed" in err and "undated.html" in err
    assert "failed 1 (a fault of the cleaner" in out and "added 2" in out


def test_without_a_fault_ingest_exits_0(fresh: Settings, pages: Path) -> None:
    assert main(["ingest", str(pages), "--index", str(fresh.index)]) == 0


def test_a_page_nested_past_any_sense_is_an_article_or_a_rejection_never_a_failure(fresh: Settings) -> None:
    html = "<html><body>" + "<div>" * 100_000 + "deep" + "</div>" * 100_000 + "</body></html>"
    try:
        clean_module.extract(html, "https://news.example/deep", settings=fresh)
    except ExtractionError as rejected:
        assert type(rejected) is ExtractionError  # a skip, not a failure
