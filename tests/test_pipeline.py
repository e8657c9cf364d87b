"""The pipeline: one order of stages for ingest, reindex and the crawler.

The outlet map is read once per run by the pipeline and handed to the
cleaner (the cleaner never reads the sources file); a run archives each page
before cleaning it, counts what it skips, and links articles to their pages.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from search.archive import open_archive
from search.clean import clean
from search.index import IndexReport, open_index
from search.ingest import ingest
from search.pipeline import load_pipeline
from search.records import RawPage, Source
from search.settings import Settings
from tests.conftest import make_settings

BODY = " ".join(f"The delegations met again on day {n} to discuss the agreement in detail." for n in range(12))
PAGE = f"""<!doctype html><html lang="en"><head><title>Talks resume in Brussels</title>
<meta property="og:site_name" content="What the page calls itself">
<link rel="canonical" href="https://www.dailyplanet.example/news/talks"></head>
<body><article><h1>Talks resume in Brussels</h1><p>{BODY}</p><p>{BODY}</p></article></body></html>"""


def _page(data: str = PAGE, origin: str = "talks.html") -> RawPage:
    return RawPage(data=data.encode(), origin=origin, content_type="text/html")


def test_the_sources_outlet_outranks_what_the_page_says(tmp_path: Path) -> None:
    planet = Source(name="Daily Planet", url="https://dailyplanet.example/")
    pipeline = load_pipeline(make_settings(tmp_path), sources=[planet])
    assert pipeline.outlets == {"dailyplanet.example": "Daily Planet"}
    assert pipeline.process(_page()).outlet == "Daily Planet"
    # Without the map the page's own name stands: the cleaner reads no sources file by itself.
    assert clean(_page()).outlet == "What the page calls itself"


def test_the_cleaner_never_reads_the_sources_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "sources.toml").write_text("this is [not TOML", encoding="utf-8")
    monkeypatch.setenv("NEWSDESK_SEEDS", str(seeds))
    assert clean(_page()).title == "Talks resume in Brussels"


def test_ingest_reads_the_default_sources_file_once_for_its_outlets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "actors.toml").write_text((Path(__file__).parents[1] / "seeds" / "actors.toml").read_text("utf-8"))
    (seeds / "sources.toml").write_text(
        '[[source]]\nname = "Daily Planet"\nurl = "https://dailyplanet.example/"\n', encoding="utf-8"
    )
    monkeypatch.setenv("NEWSDESK_SEEDS", str(seeds))
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "talks.html").write_text(PAGE, encoding="utf-8")
    settings = make_settings(tmp_path / "instance")
    assert ingest([folder], settings, progress=False).added == 1
    with open_index(settings).searcher() as searcher:
        assert [fields["outlet"] for fields in searcher.all_stored_fields()] == ["Daily Planet"]


def test_a_run_archives_every_page_before_cleaning_and_counts_the_skips(tmp_path: Path) -> None:
    settings: Settings = make_settings(tmp_path)
    pipeline = load_pipeline(settings, sources=())
    empty = _page("<html><body><nav>Home | World | Sport</nav></body></html>", origin="menu.html")
    report = IndexReport()
    with open_archive(settings) as archive:
        articles = list(pipeline.articles([_page(), empty], report, archive))
        assert len(archive) == 2  # the rejected page too: a better cleaner may find its article
    assert [article.title for article in articles] == ["Talks resume in Brussels"]
    assert [origin for origin, _ in report.skipped] == ["menu.html"]
    assert pipeline.commit(articles, report, alerts=False).added == 1
