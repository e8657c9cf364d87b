"""Outlet coverage (search/query/coverage.py): each outlet's articles, how many are dated, authored and in a
known language, and when they arrived, as plain Python over the stored articles and the state table says.

The corpora are built through the real paths: collections ingested (search/ingest.py), articles updated by
ingesting changed records (the old documents stay in their segments, deleted), and taken down
(search/takedown.py). Every test compares against the oracle below, which reads each live stored article and
every row of ``article_numbers``: nothing of the module under test.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sqlite3
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from whoosh.searching import Searcher

from conftest import make_settings
from search.index import create_index, open_index
from search.ingest import ingest
from search.query import OutletCoverage, outlet_coverage
from search.query import coverage as coverage_module
from search.records import UNKNOWN
from search.settings import Settings
from search.state import state_path
from search.takedown import take_down

WEEK = dt.timedelta(days=7)
NOW = dt.datetime.now(dt.UTC)  # later than every real ingest of the session

# --- the oracle ----------------------------------------------------------------------


def expected(searcher: Searcher, settings: Settings, now: dt.datetime,
             window: dt.timedelta = WEEK) -> list[dict[str, Any]]:
    """Each outlet's row, from the live stored articles and the state's numbers."""
    documents = list(searcher.documents())  # the live documents only
    assert len(documents) == searcher.doc_count()
    moments = given_moments(settings)
    in_window = [seq for seq, moment in moments.items() if moment is not None and moment >= now - window]
    since = min(in_window) if in_window else None
    by_outlet: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for document in documents:
        by_outlet[document.get("outlet") or UNKNOWN].append(document)
    rows = []
    for outlet, articles in by_outlet.items():
        newest = max(article["seq"] for article in articles)
        row: dict[str, Any] = {
            "outlet": outlet,
            "articles": len(articles),
            "dated": sum(article.get("published") is not None for article in articles),
            # An author is one with a word in it: "—" names no one and nothing can find it (the module's docstring).
            "authored": sum(re.search(r"\w", article.get("author") or "") is not None for article in articles),
            "languaged": sum(article.get("language", UNKNOWN) not in (UNKNOWN, "") for article in articles),
            "last_added": moments.get(newest),
            "added_recently": 0 if since is None else sum(article["seq"] >= since for article in articles),
            "window_days": window / dt.timedelta(days=1),
        }
        row |= {
            "per_day": row["added_recently"] / row["window_days"],
            "dated_share": row["dated"] / row["articles"],
            "authored_share": row["authored"] / row["articles"],
            "languaged_share": row["languaged"] / row["articles"],
        }
        rows.append(row)
    return sorted(rows, key=lambda row: (row["outlet"].casefold(), row["outlet"]))


def given_moments(settings: Settings) -> dict[int, dt.datetime | None]:
    """Every number in the state and when it was given (None: not recorded)."""
    if not state_path(settings).is_file():
        return {}
    with sqlite3.connect(f"file:{state_path(settings)}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT seq, indexed FROM article_numbers").fetchall()
    return {seq: dt.datetime.fromisoformat(indexed) if indexed else None for seq, indexed in rows}


def computed(searcher: Searcher, settings: Settings, now: dt.datetime,
             window: dt.timedelta = WEEK) -> list[dict[str, Any]]:
    """``outlet_coverage``'s rows as the oracle writes them, properties included."""
    return [
        asdict(row) | {"per_day": row.per_day, "dated_share": row.dated_share,
                       "authored_share": row.authored_share, "languaged_share": row.languaged_share}
        for row in outlet_coverage(searcher, settings, now, window)
    ]


def coverage(settings: Settings, now: dt.datetime = NOW, window: dt.timedelta = WEEK) -> dict[str, OutletCoverage]:
    with open_index(settings).searcher() as searcher:
        return {row.outlet: row for row in outlet_coverage(searcher, settings, now, window)}


# --- corpora -------------------------------------------------------------------------

OUTLETS = ("Balkan Wire", "balkan wire", "Daily Observer", "Ćirilica Vesti", "Zeta", None)
AUTHORS = (None, None, "Jane Doe", "Марко Петровић", "Ana Kovač, John Smith", "—")
ENGLISH_TEXT = ("envoys met in brussels to discuss the normalisation of relations between belgrade and pristina "
                "officials said talks would resume after the elections the minister told reporters that the "
                "agreement on energy and licence plates was a step forward")
SERBIAN_TEXT = ("predstavnici dve vlade sastali su se u briselu kako bi razgovarali o normalizaciji odnosa "
                "zvaničnici su saopštili da će se pregovori nastaviti posle izbora ministar je rekao")


def record(rng: random.Random, n: int) -> dict[str, str]:
    """A collection's record of article ``n`` (its id comes from its URL): outlet, author, date, language at random."""
    fields = {"url": f"https://news.example/{n}", "title": f"Report {n}"}
    kind = rng.choice(("en", "sr", "detected", "digits"))
    if kind == "digits":  # no words to tell a language by: detected as unknown
        fields["body"] = " ".join(str(rng.randrange(1000, 99999)) for _ in range(12))
    else:
        words = (SERBIAN_TEXT if kind == "sr" else ENGLISH_TEXT).split()
        fields["body"] = " ".join(rng.choice(words) for _ in range(40)) + f" report {n}."
        if kind != "detected":
            fields["language"] = kind
    outlet, author = rng.choice(OUTLETS), rng.choice(AUTHORS)
    if outlet:
        fields["outlet"] = outlet
    if author:
        fields["author"] = author
    if rng.random() < 0.6:
        fields["published"] = f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T08:00:00Z"
    return fields


def ingest_records(settings: Settings, folder: Path, name: str, records: list[dict[str, str]]) -> None:
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(fields) + "\n" for fields in records), encoding="utf-8")
    report = ingest([path], settings, progress=False)
    assert not report.failed and not report.skipped and not report.duplicate


def set_moments(settings: Settings, moments: dict[int, dt.datetime | None]) -> None:
    """Rewrite when numbers were given (in the test's own state): a test's ingests all happen within seconds."""
    with sqlite3.connect(state_path(settings)) as connection:
        connection.executemany(
            "UPDATE article_numbers SET indexed = ? WHERE seq = ?",
            [(moment.isoformat(timespec="seconds") if moment else None, seq) for seq, moment in moments.items()],
        )
    connection.close()


def build_corpus(settings: Settings, folder: Path, seed: int) -> None:
    """Articles ingested in several commits, some taken down, more added, then some changed (the taken-down ones
    come back as new): several segments, some deleted documents in them."""
    rng = random.Random(seed)
    ingest_records(settings, folder, "first", [record(rng, n) for n in range(30)])
    take_down(settings, "https://news.example/3")
    take_down(settings, "https://news.example/4")
    # Numbers 1-8 predate the moments (NULL: older than any window), 9-16 were given a month ago.
    month_ago = NOW - dt.timedelta(days=30)
    set_moments(settings, {seq: None for seq in range(1, 9)} | {seq: month_ago for seq in range(9, 17)})
    ingest_records(settings, folder, "second", [record(rng, n) for n in range(30, 45)])
    # Changed last: the segments they leave deleted documents in are not merged again.
    ingest_records(settings, folder, "third", [record(rng, n) for n in rng.sample(range(30), 12)])


@pytest.fixture(params=[1, 2, 3])
def corpus(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path / "instance", batch_size=5)
    build_corpus(settings, tmp_path, request.param)
    return settings


# --- tests ---------------------------------------------------------------------------


def test_a_generated_corpus_is_counted_as_plain_python_counts_it(corpus: Settings) -> None:
    with open_index(corpus).searcher() as searcher:
        # The corpus holds what the counts must get right, deletions and several segments among it.
        assert searcher.doc_count_all() > searcher.doc_count() and len(searcher.leaf_searchers()) > 1
        stored = list(searcher.documents())
        assert any(d["outlet"] == UNKNOWN for d in stored) and any(d.get("published") is None for d in stored)
        assert any(d.get("author") is None for d in stored) and any(d.get("author") == "—" for d in stored)
        assert any(d["language"] == UNKNOWN for d in stored)
        for now, window in [(NOW, WEEK), (NOW + dt.timedelta(days=8), WEEK), (NOW + dt.timedelta(days=40), WEEK),
                            (NOW, dt.timedelta(days=31)), (NOW, dt.timedelta(hours=1))]:
            rows = computed(searcher, corpus, now, window)
            assert rows == expected(searcher, corpus, now, window)
        # Between the old numbers and the new ones: some recent, some not.
        recent = computed(searcher, corpus, NOW)
        assert 0 < sum(row["added_recently"] for row in recent) < searcher.doc_count()


def test_the_outlets_newest_numbers_are_looked_up_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path / "instance", batch_size=5)
    build_corpus(settings, tmp_path, 4)
    monkeypatch.setattr(coverage_module, "_CHUNK", 2)  # as past 500 outlets: several lookups, one answer
    with open_index(settings).searcher() as searcher:
        rows = computed(searcher, settings, NOW)
        assert len(rows) > 2 and rows == expected(searcher, settings, NOW)


def test_the_seed_corpus_is_counted_as_plain_python_counts_it(searcher: Searcher, seeded: Settings) -> None:
    rows = computed(searcher, seeded, NOW + dt.timedelta(minutes=5))
    assert rows == expected(searcher, seeded, NOW + dt.timedelta(minutes=5))
    assert sum(row["articles"] for row in rows) == 5
    assert all(row["last_added"] is not None for row in rows)


def test_outlets_are_sorted_by_name_case_folded_then_as_written(fresh: Settings, tmp_path: Path) -> None:
    outlets = ["Zeta", "balkan wire", "Ćirilica Vesti", "Balkan Wire", None, "Daily Observer"]
    ingest_records(fresh, tmp_path, "outlets", [
        {"url": f"https://news.example/{n}", "title": "Talks", "body": f"Envoys met for round {n} of talks.",
         **({"outlet": outlet} if outlet else {})} for n, outlet in enumerate(outlets)
    ])
    assert list(coverage(fresh)) == ["Balkan Wire", "balkan wire", "Daily Observer", "unknown", "Zeta",
                                     "Ćirilica Vesti"]  # "ć" folds to itself, after "z"


def test_an_updated_article_is_counted_once_under_its_new_outlet(fresh: Settings, tmp_path: Path) -> None:
    first = {"url": "https://news.example/1", "title": "Talks", "body": "Envoys met in Brussels on Tuesday.",
             "outlet": "Balkan Wire", "published": "2024-03-01"}
    second = {"url": "https://news.example/2", "title": "Energy", "body": "The energy agreement was signed.",
              "outlet": "Balkan Wire", "author": "Jane Doe"}
    ingest_records(fresh, tmp_path, "before", [first, second])
    before = coverage(fresh)["Balkan Wire"]
    ingest_records(fresh, tmp_path, "after", [first | {"outlet": "Daily Observer", "author": "Ana Kovač"}])
    with open_index(fresh).searcher() as searcher:
        assert searcher.doc_count_all() == 3 and searcher.doc_count() == 2  # the old version is still there, deleted
        assert computed(searcher, fresh, NOW) == expected(searcher, fresh, NOW)
    after = coverage(fresh)
    assert (before.articles, before.dated, before.authored) == (2, 1, 1)
    assert (after["Balkan Wire"].articles, after["Balkan Wire"].dated, after["Balkan Wire"].authored) == (1, 0, 1)
    moved = after["Daily Observer"]
    assert (moved.articles, moved.dated, moved.authored) == (1, 1, 1)
    # The update kept the article's number: it arrived when it first came, before the other one.
    moments = given_moments(fresh)
    assert moved.last_added == moments[1] and after["Balkan Wire"].last_added == moments[2]


def test_a_taken_down_article_is_not_counted(fresh: Settings, tmp_path: Path) -> None:
    ingest_records(fresh, tmp_path, "three", [
        {"url": f"https://news.example/{n}", "title": "Talks", "body": f"Envoys met for round {n} of talks.",
         "outlet": outlet, "author": "Jane Doe"} for n, outlet in enumerate(["Zeta", "Zeta", "Alo"])
    ])
    assert {o: r.articles for o, r in coverage(fresh).items()} == {"Alo": 1, "Zeta": 2}
    take_down(fresh, "https://news.example/1")
    take_down(fresh, "https://news.example/2")
    rows = coverage(fresh)
    assert list(rows) == ["Zeta"] and (rows["Zeta"].articles, rows["Zeta"].authored) == (1, 1)
    assert rows["Zeta"].last_added == given_moments(fresh)[1]  # its newest article now is number 1


def test_the_window_begins_at_the_first_number_given_within_it(fresh: Settings, tmp_path: Path) -> None:
    ingest_records(fresh, tmp_path, "four", [
        {"url": f"https://news.example/{n}", "title": "Talks", "body": f"Envoys met for round {n} of talks.",
         "outlet": "Zeta"} for n in range(4)
    ])
    now = dt.datetime(2025, 6, 10, 12, 0, 0, 500_000, tzinfo=dt.UTC)  # half a second past
    start = now - WEEK
    set_moments(fresh, {
        1: None,  # given before the moments were kept: old
        2: start - dt.timedelta(seconds=1),
        3: start.replace(microsecond=0),  # the second the window begins in, but before its half: outside
        4: start.replace(microsecond=0) + dt.timedelta(seconds=1),
    })
    row = coverage(fresh, now)["Zeta"]
    assert row.added_recently == 1 and row.per_day == 1 / 7
    assert row.last_added == start.replace(microsecond=0) + dt.timedelta(seconds=1)
    assert coverage(fresh, now - dt.timedelta(seconds=1))["Zeta"].added_recently == 2
    # In another time zone, the same moment.
    assert coverage(fresh, now.astimezone(dt.timezone(dt.timedelta(hours=-5))))["Zeta"].added_recently == 1
    with open_index(fresh).searcher() as searcher:
        assert computed(searcher, fresh, now) == expected(searcher, fresh, now)


def test_an_empty_index_has_no_outlets(fresh: Settings) -> None:
    create_index(fresh)
    with open_index(fresh).searcher() as searcher:
        assert outlet_coverage(searcher, fresh, NOW) == []


def test_without_state_the_arrivals_are_unknown_and_nothing_is_created(fresh: Settings, tmp_path: Path) -> None:
    ingest_records(fresh, tmp_path, "two", [
        {"url": f"https://news.example/{n}", "title": "Talks", "body": f"Envoys met for round {n} of talks.",
         "outlet": "Zeta", "published": "2024-03-01"} for n in range(2)
    ])
    for path in fresh.index.glob("state.sqlite*"):
        path.unlink()
    before = sorted(fresh.index.rglob("*"))
    row = coverage(fresh)["Zeta"]
    assert (row.articles, row.dated, row.last_added, row.added_recently, row.per_day) == (2, 2, None, 0, 0.0)
    assert sorted(fresh.index.rglob("*")) == before


def test_reading_the_state_changes_nothing_in_the_instance(fresh: Settings, tmp_path: Path) -> None:
    ingest_records(fresh, tmp_path, "one", [{"url": "https://news.example/1", "title": "Talks",
                                             "body": "Envoys met in Brussels.", "outlet": "Zeta"}])
    before = {path: path.read_bytes() for path in fresh.index.rglob("*") if path.is_file()}
    assert coverage(fresh)["Zeta"].added_recently == 1
    after = {path: path.read_bytes() for path in fresh.index.rglob("*") if path.is_file()}
    # Any reader of a WAL database makes SQLite's two companion files (the next writer removes them); nothing else.
    companions = {path for path in after.keys() - before.keys() if path.name.endswith(("-wal", "-shm"))}
    assert after.keys() - before.keys() == companions and all(path.parent == fresh.index for path in companions)
    assert {path: after[path] for path in before} == before


def test_state_from_before_the_moments_were_kept_tells_no_arrivals(fresh: Settings, tmp_path: Path) -> None:
    ingest_records(fresh, tmp_path, "one", [{"url": "https://news.example/1", "title": "Talks",
                                             "body": "Envoys met in Brussels.", "outlet": "Zeta"}])
    with sqlite3.connect(state_path(fresh)) as connection:  # the table as instances made before the column have it
        connection.execute("DROP INDEX article_numbers_indexed")
        connection.execute("ALTER TABLE article_numbers DROP COLUMN indexed")
    connection.close()
    row = coverage(fresh)["Zeta"]
    assert (row.articles, row.last_added, row.added_recently) == (1, None, 0)


def test_shares_of_no_articles_are_zero() -> None:
    row = OutletCoverage(outlet="Zeta", articles=0, dated=0, authored=0, languaged=0, last_added=None,
                         added_recently=0, window_days=7.0)
    assert (row.dated_share, row.authored_share, row.languaged_share, row.per_day) == (0.0, 0.0, 0.0, 0.0)


def test_a_naive_now_or_an_empty_window_is_refused(searcher: Searcher, seeded: Settings) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        outlet_coverage(searcher, seeded, dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="window must be positive"):
        outlet_coverage(searcher, seeded, NOW, dt.timedelta(0))
