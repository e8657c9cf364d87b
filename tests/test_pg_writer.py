"""The PostgreSQL writer (search/index/pg_writer.py) held to the Whoosh writer: the same generated articles written
to a Whoosh index in tmp_path and to a real PostgreSQL database (tests/services.py) must give the same stored
articles, field by field, and the same report — copies across outlets clustered, same-outlet duplicates left out,
exact and near copies alike — and keep the PostgreSQL side's own bookkeeping (article_months, words_seen, the
month partitions, ingest numbers) equal to plain Python over the stored rows, with two writers at once too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from search.fingerprint import text_minhash
from search.index import open_index, write_articles
from search.index.document import from_stored
from search.index.pg_writer import ROW_COLUMNS, delete_articles_pg, stored_fields, write_articles_pg
from search.index.postgres import migrate
from search.index.store import IndexReport, delete_articles, prepare_article
from search.records import Article, StoredArticle
from search.settings import Settings

Connection = psycopg.Connection[tuple[object, ...]]
BATCH = 7  # small, so that copies meet across batches as well as within one
OUTLETS = ("Balkan Wire", "Daily Observer", "Танюг Digest", "Pristina Post", None)
WORDS = ["talks", "envoy", "treaty", "border", "vote", "budget", "energy", "bridge", "court", "harbour",
         "переговоры", "посол", "граница", "бюджет", "Москва", "Белград", "Приштина", "договор"]
ZONES = (dt.UTC, dt.timezone(dt.timedelta(hours=3)), dt.timezone(dt.timedelta(hours=-5)))


# --- generated articles -----------------------------------------------------------------------------------------


def story(rng: random.Random, words: int) -> str:
    """A text of ``words`` words and numbers, Latin and Cyrillic mixed: long ones get a MinHash sketch."""
    return " ".join(rng.choice(WORDS) if n % 4 else str(rng.randint(1, 999)) for n in range(words)) + "."


def near_copy(text: str, rng: random.Random) -> str:
    """The text with one word (never a number) changed: about 0.93 of its shingles shared."""
    words = text.split()
    at = rng.choice([n for n, word in enumerate(words[5:-5], start=5) if not word[0].isdigit()])
    words[at] = "edited" if words[at] != "edited" else "again"
    return " ".join(words)


def published(rng: random.Random) -> dt.date | dt.datetime | None:
    """Undated, a day, or a moment with an offset; in 2019's months, some at a month's edge (UTC decides)."""
    kind = rng.randrange(4)
    if kind == 0:
        return None
    if kind == 1:
        return dt.date(2019, rng.randint(1, 4), rng.randint(1, 28))
    if kind == 2:  # 23:30 at +03:00 on the 1st is still the previous month in UTC
        return dt.datetime(2019, rng.randint(2, 4), 1, 1, 30, tzinfo=ZONES[1])
    return dt.datetime(2019, rng.randint(1, 4), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
                       rng.randint(0, 59), tzinfo=rng.choice(ZONES))


def article(rng: random.Random, article_id: str, text: str, outlet: str | None) -> Article:
    return Article(
        id=article_id, title=f"{rng.choice(WORDS).capitalize()} {article_id}", text=text,
        origin=f"generated/{article_id}", outlet=outlet,
        url=f"https://example.org/{article_id}" if rng.random() < 0.8 else None,
        author=rng.choice([None, "Ana Petrović", "Иван Петров"]), published=published(rng),
        published_source=rng.choice([None, "manifest", "htmldate"]), language=rng.choice([None, "en", "ru"]),
        actors=rng.sample(["putin", "vucic", "kurti", "lavrov"], rng.randint(0, 2)), minhash=text_minhash(text))


def corpus(seed: int, stories: int = 24) -> list[Article]:
    """Stories published by one to three outlets each — the same text, a near copy, or (short texts) the same
    few words — and some published twice by one outlet under another id, exactly or nearly (same numbers)."""
    rng = random.Random(seed)
    found = []
    for number in range(stories):
        text = story(rng, rng.choice([20, 80, 120]))
        for outlet in rng.sample(OUTLETS, rng.randint(1, 3)):
            slug = (outlet or "none").split()[0].lower()
            copy = near_copy(text, rng) if rng.random() < 0.4 else text
            found.append(article(rng, f"s{number}-{slug}", copy, outlet))
            if rng.random() < 0.3:  # the outlet again, under another address
                again = near_copy(copy, rng) if rng.random() < 0.5 else copy
                found.append(article(rng, f"s{number}-{slug}-again", again, outlet))
    rng.shuffle(found)
    return found


# --- reading both back -----------------------------------------------------------------------------------------


@pytest.fixture
def database(fresh_database: str) -> Iterator[Connection]:
    with psycopg.connect(fresh_database, autocommit=True) as connection:
        migrate(connection)
        yield connection


def whoosh(tmp_path: Path) -> Settings:
    return Settings(index=tmp_path / "instance", batch_size=BATCH)


def in_whoosh(settings: Settings) -> dict[str, StoredArticle]:
    with open_index(settings).searcher() as searcher:
        return {fields["id"]: written(from_stored(fields)) for fields in searcher.all_stored_fields()}


def in_postgres(connection: Connection) -> dict[str, StoredArticle]:
    query = sql.SQL("SELECT {} FROM articles").format(sql.SQL(", ").join(map(sql.Identifier, ROW_COLUMNS)))
    with connection.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(query).fetchall()
    found = [written(from_stored(stored_fields(row))) for row in rows]
    assert len({stored.id for stored in found}) == len(found), "one id in two rows"
    return {stored.id: stored for stored in found}


def written(stored: StoredArticle) -> StoredArticle:
    """Without the moment it was written, which differs between two writes of the same article."""
    return dataclasses.replace(stored, indexed_at=None)


def counts(report: IndexReport) -> tuple[int, int, int, int, list[tuple[str, str]]]:
    return report.added, report.updated, report.unchanged, report.duplicate, sorted(report.duplicates)


def both(connection: Connection, settings: Settings, articles: list[Article]) -> tuple[IndexReport, IndexReport]:
    """Write the articles to both backends; their reports, Whoosh's first."""
    return write_articles(articles, settings), write_articles_pg(connection, articles, batch_size=BATCH)


def assert_bookkeeping(connection: Connection) -> None:
    """article_months names each article's month, once; words_seen counts each word's articles, as plain
    Python counts them over the stored ``words`` vectors; each article sits in its month's partition."""
    rows = connection.execute("""SELECT id, NULLIF(month, 'infinity'), tableoid::regclass::text,
                                 tsvector_to_array(words) FROM articles""").fetchall()
    months = dict(connection.execute("SELECT id, NULLIF(month, 'infinity') FROM article_months").fetchall())
    assert months == {article_id: month for article_id, month, _, _ in rows}
    for article_id, month, partition, _ in rows:
        assert month is None or isinstance(month, dt.date)
        expected = "articles_undated" if month is None else f"articles_{month.year:04d}_{month.month:02d}"
        assert partition == expected, article_id
    words: Counter[str] = Counter()
    for *_, distinct in rows:
        assert isinstance(distinct, list)
        words.update(set(distinct))
    assert dict(connection.execute("SELECT word, articles FROM words_seen").fetchall()) == dict(words)
    assert words, "no words: nothing was checked"


# --- the tests -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_the_same_articles_give_the_same_stored_articles_and_report(
        database: Connection, tmp_path: Path, seed: int) -> None:
    articles = corpus(seed)
    settings = whoosh(tmp_path)
    expected, report = both(database, settings, articles)

    assert counts(report) == counts(expected)
    stored = in_whoosh(settings)
    assert in_postgres(database) == stored
    # The corpus holds what the comparison is about: same-outlet duplicates left out, exact and near copies
    # clustered across outlets, undated and Cyrillic articles.
    assert expected.duplicate >= 3
    clusters = Counter(article.cluster for article in stored.values())
    assert sum(1 for size in clusters.values() if size > 1) >= 3
    by_id = {article.id: article for article in articles}
    assert any(by_id[a.id].text != by_id[a.cluster].text for a in stored.values() if a.cluster != a.id)
    assert any(a.published_utc is None for a in stored.values())
    assert any("посол" in a.text for a in stored.values())
    assert_bookkeeping(database)


def test_prepared_articles_are_written_as_the_articles_themselves(database: Connection, tmp_path: Path) -> None:
    articles = corpus(3, stories=8)
    settings = whoosh(tmp_path)
    expected = write_articles(articles, settings)
    report = write_articles_pg(database, [prepare_article(a) if n % 2 else a for n, a in enumerate(articles)])
    assert counts(report) == counts(expected)
    assert in_postgres(database) == in_whoosh(settings)


def test_writing_the_same_articles_again_rewrites_nothing(database: Connection, tmp_path: Path) -> None:
    articles = corpus(4)
    settings = whoosh(tmp_path)
    both(database, settings, articles)
    versions = dict(database.execute("SELECT id, xmin::text FROM articles").fetchall())
    words = database.execute("SELECT word, articles, xmin::text FROM words_seen ORDER BY word").fetchall()

    expected, report = both(database, settings, articles)

    assert counts(report) == counts(expected)
    assert report.added == report.updated == 0 and report.unchanged == len(versions)
    assert dict(database.execute("SELECT id, xmin::text FROM articles").fetchall()) == versions
    assert database.execute("SELECT word, articles, xmin::text FROM words_seen ORDER BY word").fetchall() == words
    assert in_postgres(database) == in_whoosh(settings)


def test_changed_articles_are_replaced_keeping_their_number_and_move_with_their_month(
        database: Connection, tmp_path: Path) -> None:
    rng = random.Random(5)
    articles = corpus(5)
    settings = whoosh(tmp_path)
    both(database, settings, articles)
    numbers = {a.id: a.seq for a in in_postgres(database).values()}
    stored_ids = sorted(numbers)
    changed = []
    for n, article_id in enumerate(stored_ids[:12]):
        original = next(a for a in articles if a.id == article_id)
        if n % 3 == 0:  # to another month (or undated to dated)
            edit = dataclasses.replace(original, published=dt.datetime(2018, 11 + n % 2, 15, 12, tzinfo=dt.UTC))
        elif n % 3 == 1:  # dated to undated, undated to June
            edit = dataclasses.replace(original, published=None if original.published else dt.date(2019, 6, 3))
        else:  # a new text: it may leave its cluster
            text = story(rng, 80)
            edit = dataclasses.replace(original, text=text, minhash=text_minhash(text))
        changed.append(edit)

    expected, report = both(database, settings, changed)

    assert counts(report) == counts(expected)
    assert report.updated == len(changed)
    after = in_postgres(database)
    assert after == in_whoosh(settings)
    assert {a.id: a.seq for a in after.values()} == numbers
    where = dict(database.execute("SELECT id, tableoid::regclass::text FROM articles").fetchall())
    assert where[changed[0].id] == "articles_2018_11" and where[changed[3].id] == "articles_2018_12"
    assert where[changed[1].id] == ("articles_2019_06" if changed[1].published else "articles_undated")
    assert_bookkeeping(database)


def test_deleted_articles_leave_every_table_and_come_back_with_their_number(
        database: Connection, tmp_path: Path) -> None:
    articles = corpus(6)
    settings = whoosh(tmp_path)
    both(database, settings, articles)
    before = in_postgres(database)
    doomed = sorted(before)[::3]

    assert delete_articles_pg(database, [*doomed, "never-written", doomed[0]]) == len(doomed)
    assert delete_articles(settings, doomed) == len(doomed)

    assert in_postgres(database) == in_whoosh(settings)
    assert not set(doomed) & set(in_postgres(database))
    assert database.execute("SELECT count(*) FROM article_bands WHERE id = ANY(%s)", (doomed,)).fetchone() == (0,)
    assert_bookkeeping(database)
    assert delete_articles_pg(database, doomed) == 0

    # Written again (a takedown undone): the number first given, in both.
    returning = [a for a in articles if a.id in doomed]
    expected, report = both(database, settings, returning)
    assert counts(report) == counts(expected)
    assert in_postgres(database) == in_whoosh(settings)
    assert {i: before[i].seq for i in doomed} == {i: a.seq for i, a in in_postgres(database).items() if i in doomed}
    assert_bookkeeping(database)


def test_two_writers_at_once_store_each_article_once_and_count_its_words_once(fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as connection:
        migrate(connection)
    articles = corpus(7, stories=40)
    # Overlapping batches: both writers get every article, in opposite orders; and each of a same-outlet pair
    # to a different writer, so that only the lock between them keeps the second copy out.
    rng = random.Random(7)
    pairs = []
    for n in range(10):
        text = story(rng, 80)
        first, second = article(rng, f"pair{n}-a", text, "Daily Observer"), article(rng, f"pair{n}-b", text,
                                                                                   "Daily Observer")
        pairs.append((first, second))
    orders = [articles + [a for a, _ in pairs], list(reversed(articles)) + [b for _, b in pairs]]
    reports: list[IndexReport] = []
    failed: list[BaseException] = []
    start = threading.Barrier(2)

    def write(order: list[Article]) -> None:
        try:
            with psycopg.connect(fresh_database, autocommit=True) as connection:
                start.wait()
                reports.append(write_articles_pg(connection, order, batch_size=5))
        except BaseException as e:  # noqa: BLE001  # reported below, whatever it is
            failed.append(e)

    threads = [threading.Thread(target=write, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed, failed

    with psycopg.connect(fresh_database, autocommit=True) as connection:
        stored = in_postgres(connection)
        assert_bookkeeping(connection)
        numbers = connection.execute("SELECT id, seq FROM article_numbers").fetchall()
    for first, second in pairs:
        assert (first.id in stored) != (second.id in stored), first.id
    assert sum(report.added for report in reports) == len(stored)
    assert all(report.updated == 0 for report in reports)
    for report, order in zip(reports, orders, strict=True):
        assert report.added + report.unchanged + report.duplicate == len(order)
    # One number per stored article, none given twice.
    assert sorted(stored.values(), key=lambda a: a.id) and len({a.seq for a in stored.values()}) == len(stored)
    assert {str(i): s for i, s in numbers} == {a.id: a.seq for a in stored.values()}


def test_a_connection_outside_autocommit_is_refused_with_a_reason(fresh_database: str) -> None:
    with psycopg.connect(fresh_database) as connection, pytest.raises(ValueError, match="autocommit"):
        write_articles_pg(connection, corpus(8, stories=1))
