"""``newsdesk migrate --to postgres``: an embedded instance copied into PostgreSQL, nothing decided again.

The embedded instance is built as a user builds one (``ingest``, a
takedown), then copied into a database of the test's own. Every stored
article must come out field for field as the Whoosh index stored it — its
ingest number, cluster, fingerprint and time written included — because an
alert's watermark is an ingest number: a renumbered article would be new
again (a duplicate alert) or hidden below a watermark (a missed one).
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import replace
from email import message_from_bytes, policy
from pathlib import Path

import psycopg
import pytest

from conftest import SEED_ARTICLES, Inbox, make_settings
from search.alerts import add_user, run_alerts
from search.alerts.saved import save_search
from search.enrich import Gazetteer, enrich
from search.errors import NewsdeskError
from search.index import from_stored, open_index, open_store
from search.index.pg_writer import ROW_COLUMNS, stored_fields
from search.ingest import ingest
from search.migrate import STATE_TABLES, migrate_to_postgres
from search.query import make_query, open_readers
from search.records import Article, SearchQuery, StoredArticle
from search.settings import Settings
from search.takedown import take_down
from web.cli import main


@pytest.fixture
def embedded(tmp_path: Path) -> Settings:
    """The seed articles ingested, and one of them taken down again."""
    settings = make_settings(tmp_path / "instance", workers=1)
    ingest([SEED_ARTICLES], settings, progress=False)
    with open_index(settings).searcher() as searcher:
        first = min(from_stored(fields).id for fields in searcher.all_stored_fields())
    take_down(settings, first)
    return settings


def _whoosh_articles(settings: Settings) -> dict[str, StoredArticle]:
    with open_index(settings).searcher() as searcher:
        return {article.id: article for article in map(from_stored, searcher.all_stored_fields())}


def _postgres_articles(url: str) -> dict[str, StoredArticle]:
    with psycopg.connect(url) as connection:
        cursor = connection.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM articles")
        names = [column.name for column in cursor.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cursor]
    return {article.id: article for article in (from_stored(stored_fields(row)) for row in rows)}


def test_every_article_is_copied_as_the_index_stored_it(embedded: Settings, fresh_database: str) -> None:
    report = migrate_to_postgres(embedded, fresh_database, progress=False)
    expected = _whoosh_articles(embedded)
    copied = _postgres_articles(fresh_database)
    assert report.articles == len(expected) == len(copied) == len(list(SEED_ARTICLES.iterdir())) - 1
    for article_id, article in expected.items():
        # The index keeps times naive, to the microsecond; the column to the microsecond as well.
        assert copied[article_id] == article, article_id


def test_the_numbers_go_on_where_the_embedded_instance_left_them(embedded: Settings, fresh_database: str,
                                                                  tmp_path: Path) -> None:
    report = migrate_to_postgres(embedded, fresh_database, progress=False)
    assert report.numbers == 1  # the article taken down keeps its number, should it come back
    assert report.last_number == len(list(SEED_ARTICLES.iterdir()))
    postgres = replace(embedded, backend="postgres", database_url=fresh_database)
    # The taken-down page comes back with its old number (not new to the alerts); a page never seen before
    # gets the next number after the embedded instance's last.
    new = tmp_path / "new"
    shutil.copytree(SEED_ARTICLES, new)
    (new / "never_seen.txt").write_text(
        "From: A. Reporter\nA page never seen before\n\nThe Danube ferry keeps its winter timetable this year, "
        "the port authority said on Monday, with two crossings a day until the ice melts.\n", encoding="utf-8")
    ingest([new], postgres, progress=False)
    numbers = sorted(article.seq for article in _postgres_articles(fresh_database).values())
    assert numbers == [*range(1, report.last_number + 1), report.last_number + 1]


def test_the_copy_searches_as_the_embedded_instance(embedded: Settings, fresh_database: str) -> None:
    migrate_to_postgres(embedded, fresh_database, progress=False)
    postgres = replace(embedded, backend="postgres", database_url=fresh_database)
    for q in ("", "Kosovo", "Lavrov OR Vučić", '"foreign minister"'):
        pages = []
        for settings in (embedded, postgres):
            readers = open_readers(settings)
            try:
                page = readers.current().search(make_query(q, sort="date", per_page=100))
            finally:
                readers.close()
            pages.append(([hit.id for hit in page.hits], page.total, page.facets))
        assert pages[0] == pages[1], q


def test_a_database_that_holds_articles_is_refused(embedded: Settings, fresh_database: str) -> None:
    migrate_to_postgres(embedded, fresh_database, progress=False)
    with pytest.raises(NewsdeskError, match="already holds 4 articles"):
        migrate_to_postgres(embedded, fresh_database, progress=False)


def test_the_command_copies_and_says_what_to_set(embedded: Settings, fresh_database: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["migrate", "--to", "postgres", "--database-url", fresh_database, "--index", str(embedded.index)])
    out = capsys.readouterr().out
    assert code == 0 and "copied 4 articles" in out and 'backend = "postgres"' in out
    assert main(["migrate", "--to", "postgres", "--index", str(embedded.index)]) == 1
    assert "needs the database to copy into" in capsys.readouterr().err


def test_an_instance_without_an_index_says_so(tmp_path: Path, fresh_database: str) -> None:
    with pytest.raises(NewsdeskError, match="index"):
        migrate_to_postgres(make_settings(tmp_path / "empty"), fresh_database, progress=False)


LINK = re.compile(r"https://news\.example/articles/([0-9a-f]+)")


def _stories(gazetteer: Gazetteer, first: int, count: int) -> list[Article]:
    """``count`` new articles naming Lavrov, and one that does not."""
    found = [Article(id=f"{n:020x}", title=f"Lavrov story number {n}", origin=f"test:{n}", outlet="Wire",
                     text=f"Russian Foreign Minister Sergey Lavrov said on day {n} that talks would go on {n}.")
             for n in range(first, first + count)]
    found.append(Article(id=f"{first + count:020x}", title=f"Weather {first}", origin="test:weather",
                         outlet="Wire", text=f"Rain is expected in Belgrade on day {first}, and wind."))
    return [enrich(article, gazetteer, 0) for article in found]


def _delivered(inbox: Inbox) -> Counter[str]:
    """How many times each article reached the subscriber, read from the raw messages."""
    found: Counter[str] = Counter()
    for raw in inbox.raw:
        text = message_from_bytes(raw, policy=policy.default).get_body(("plain",))
        assert text is not None
        found.update(set(LINK.findall(str(text.get_content()))))
    return found


def test_alerts_go_on_after_the_move_without_a_gap_or_a_duplicate(
        tmp_path: Path, fresh_database: str, inbox: tuple[Inbox, int], gazetteer: Gazetteer) -> None:
    handler, port = inbox
    embedded = make_settings(tmp_path / "instance", smtp_host="127.0.0.1", smtp_port=port, workers=1,
                             base_url="https://news.example", alerts_interval=0)
    user = add_user(embedded, "ana@example.org", "a long password")
    save_search(embedded, user.id, "Lavrov", SearchQuery(q="Lavrov"))
    before, waiting, after = _stories(gazetteer, 1, 3), _stories(gazetteer, 10, 2), _stories(gazetteer, 20, 4)
    # Before the move: one batch mailed, the next matched but its message still pending (no SMTP for now).
    open_store(embedded).write(before)
    assert run_alerts(embedded).sent == 1
    open_store(embedded).write(waiting)
    assert run_alerts(embedded, send=False).pending == 1

    report = migrate_to_postgres(embedded, fresh_database, progress=False)
    assert report.state["users"] == 1 and report.state["saved_searches"] == 1 and report.state["deliveries"] == 5

    # After it: the pending message goes out once, then the new articles; nothing mailed before comes again.
    postgres = replace(embedded, backend="postgres", database_url=fresh_database)
    open_store(postgres).write(after)
    outcome = run_alerts(postgres)
    assert (outcome.sent, outcome.pending) == (2, 0)
    matching = {article.id for article in [*before, *waiting, *after] if "Lavrov" in article.title}
    assert _delivered(handler) == Counter(dict.fromkeys(matching, 1))
    assert run_alerts(postgres).sent == 0  # and a later run finds nothing left to send


def test_every_state_table_is_copied(tmp_path: Path) -> None:
    """A new state table must be added to the copy: it would otherwise be left behind without a word."""
    made = (Path(__file__).resolve().parent.parent / "search" / "index" / "migrations" / "0004_state.sql").read_text()
    assert set(re.findall(r"CREATE TABLE (\w+)", made)) == set(STATE_TABLES)
