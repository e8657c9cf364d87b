"""The ingest sequence: an article's number says when it first entered the instance.

Alerts rely on it (search/alerts/runner.py): "new" is a number above the alert's
watermark, so an updated, re-ingested or rebuilt article must keep its number
and a number must never be given twice.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FIXTURES, SEED_ARTICLES
from search.index import delete_articles, open_index
from search.index.sequence import last_number, open_sequence
from search.ingest import ingest, reindex
from search.settings import Settings


def numbers(settings: Settings) -> dict[str, int]:
    with open_index(settings).searcher() as searcher:
        return {fields["id"]: fields["seq"] for fields in searcher.all_stored_fields()}


def test_articles_are_numbered_in_the_order_they_arrive(fresh: Settings) -> None:
    seeds = sorted(SEED_ARTICLES.glob("*.txt"))
    ingest(seeds[:2], fresh, progress=False)
    first = numbers(fresh)
    ingest(seeds[2:], fresh, progress=False)
    later = {k: v for k, v in numbers(fresh).items() if k not in first}
    assert sorted(first.values()) == [1, 2] and sorted(later.values()) == [3, 4, 5]
    assert last_number(fresh) == 5


def test_re_ingesting_or_updating_keeps_the_number(fresh: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    shutil.copytree(SEED_ARTICLES, folder)
    page = folder / "wire.html"  # an article with a URL: its id survives an edit
    page.write_text((FIXTURES / "pages" / "wire-jsonld.html").read_text(encoding="utf-8"), encoding="utf-8")
    ingest([folder], fresh, progress=False)
    before = numbers(fresh)
    ingest([folder], fresh, progress=False)  # unchanged
    html = page.read_text(encoding="utf-8")
    page.write_text(html.replace("formally.</p>", "formally. A correction was added later.</p>"), encoding="utf-8")
    report = ingest([folder], fresh, progress=False)
    assert report.updated == 1
    assert numbers(fresh) == before and last_number(fresh) == 6


def test_a_rebuilt_index_keeps_every_number(fresh: Settings) -> None:
    ingest([SEED_ARTICLES], fresh, progress=False)
    before = numbers(fresh)
    shutil.rmtree(fresh.index_dir)  # even from the archive alone
    reindex(fresh, progress=False)
    assert numbers(fresh) == before and last_number(fresh) == 5


def test_a_number_is_never_given_twice(fresh: Settings, tmp_path: Path) -> None:
    seeds = sorted(SEED_ARTICLES.glob("*.txt"))
    ingest(seeds[:3], fresh, progress=False)
    newest = max(numbers(fresh).items(), key=lambda item: item[1])[0]
    delete_articles(fresh, [newest])  # the highest number leaves the index...
    ingest(seeds[3:], fresh, progress=False)
    assert sorted(numbers(fresh).values()) == [1, 2, 4, 5]  # ...and is not reused


def test_numbers_taken_by_a_run_that_died_are_skipped_not_reused(fresh: Settings) -> None:
    seeds = sorted(SEED_ARTICLES.glob("*.txt"))
    ingest(seeds[:1], fresh, progress=False)
    with open_sequence(fresh) as sequence:  # a run that numbered two articles, saved, then died
        sequence.number("lost-1"), sequence.number("lost-2")
        sequence.save()
    ingest(seeds[1:2], fresh, progress=False)
    assert sorted(numbers(fresh).values()) == [1, 4]


def test_when_numbers_were_given_is_looked_up_by_index_not_by_reading_every_row(fresh: Settings) -> None:
    """The sources page asks when numbers were given, and the first number since a moment (search/query/coverage.py)."""
    import sqlite3

    from search.query.coverage import LOWEST_SINCE_SQL, MOMENTS_SQL
    from search.state import state_path

    ingest([SEED_ARTICLES], fresh, progress=False)
    with sqlite3.connect(state_path(fresh)) as connection:
        by_number = connection.execute("EXPLAIN QUERY PLAN " + MOMENTS_SQL.format("?, ?"), (1, 2)).fetchall()
        since = connection.execute("EXPLAIN QUERY PLAN " + LOWEST_SINCE_SQL, ("2026-01-01",)).fetchall()
    connection.close()
    assert any("USING INDEX article_numbers_seq" in str(row) for row in by_number), by_number
    assert any("USING INDEX article_numbers_indexed" in str(row) for row in since), since
