"""The state on both engines (search/state): every stage's tables answer alike in SQLite and in PostgreSQL.

Each test runs twice through ``any_state``: an instance whose state is the
SQLite file of its directory, then one whose state is a PostgreSQL database
of its own (the ``postgres`` backend, against a real server: tests/services.py).
What is only PostgreSQL's — the schema made by the migrations, ingest numbers
read from the PostgreSQL writer's table, the archive catalogue staying local —
has tests of its own below.
"""

from __future__ import annotations

import datetime as dt
import threading
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from search.alerts.accounts import (
    add_user,
    authenticate,
    close_session,
    find_user,
    list_users,
    open_session,
    remove_user,
    session_user,
    set_admin,
    set_password,
)
from search.alerts.mail import Reason
from search.alerts.outbox import (
    MAX_REFUSALS,
    Match,
    Outcome,
    claimed,
    deliveries,
    delivery_summaries,
    mark_sent,
    pending_messages,
    record_outcomes,
    record_refusal,
)
from search.alerts.saved import delete_saved, get_saved, list_saved, save_search, saved_by_id, update_saved
from search.crawl.discover import Link
from search.crawl.fetch import Exchange, RobotsFile, Validators
from search.crawl.frontier import NEVER, Frontier, crawl_health, next_fetches
from search.crawl.schedule import Schedule, source_schedules
from search.enrich import Gazetteer
from search.enrich.candidates import list_candidates, record_candidates
from search.errors import AccountError, AccountExists, IndexUnavailable, NotFound, SourceExists, TooManyLogins
from search.index import first_indexed, last_number
from search.index.sequence import open_sequence
from search.records import Article, SearchQuery, Source
from search.settings import Settings
from search.state import open_state, read_state, state_path
from search.state.postgres import placeholders

PASSWORD = "a long password"
NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def engine(settings: Settings) -> str:
    return "postgres" if settings.backend == "postgres" else "sqlite"


# --- accounts ------------------------------------------------------------------------------------------------


def test_accounts_log_in_by_address_in_any_case_and_one_account_per_address(any_state: Settings) -> None:
    ana = add_user(any_state, "Ana@Example.org", PASSWORD, timezone="Europe/Belgrade")
    assert authenticate(any_state, "ana@example.ORG", PASSWORD) == ana
    assert find_user(any_state, "ANA@example.org").id == ana.id
    with pytest.raises(AccountExists):
        add_user(any_state, "ana@EXAMPLE.org", PASSWORD)
    with pytest.raises(AccountError, match="wrong e-mail address or password"):
        authenticate(any_state, "ana@example.org", "not the password")
    boris = add_user(any_state, "boris@example.org", PASSWORD, admin=True)
    assert [user.email for user in list_users(any_state)] == ["Ana@Example.org", "boris@example.org"]
    assert boris.admin and not set_admin(any_state, "boris@example.org", admin=False).admin


def test_a_password_is_stored_only_as_a_scrypt_hash(any_state: Settings) -> None:
    add_user(any_state, "ana@example.org", PASSWORD)
    if engine(any_state) == "postgres":
        with psycopg.connect(any_state.database_url) as connection:
            stored = connection.execute("SELECT password_hash FROM users").fetchall()
    else:
        with closing(open_state(any_state)) as connection:
            stored = [tuple(row) for row in connection.execute("SELECT password_hash FROM users")]
    assert len(stored) == 1
    assert stored[0][0].startswith("scrypt:") and PASSWORD not in stored[0][0]


def test_sessions_end_at_log_out_and_at_a_password_change(any_state: Settings) -> None:
    ana = add_user(any_state, "ana@example.org", PASSWORD)
    first, second = open_session(any_state, ana.id), open_session(any_state, ana.id)
    assert session_user(any_state, first) == ana == session_user(any_state, second)
    close_session(any_state, first)
    with pytest.raises(NotFound):
        session_user(any_state, first)
    assert session_user(any_state, second) == ana
    set_password(any_state, ana.id, "another long password")
    with pytest.raises(NotFound):
        session_user(any_state, second)
    assert authenticate(any_state, "ana@example.org", "another long password").id == ana.id


def test_failed_log_ins_are_counted_across_connections(any_state: Settings) -> None:
    add_user(any_state, "ana@example.org", PASSWORD)
    for _ in range(5):
        with pytest.raises(AccountError):
            authenticate(any_state, "ana@example.org", "wrong guess", client="192.0.2.1", now=NOW)
    with pytest.raises(TooManyLogins, match="this account"):
        authenticate(any_state, "ana@example.org", PASSWORD, client="192.0.2.1", now=NOW)
    later = NOW + dt.timedelta(minutes=16)
    assert authenticate(any_state, "ana@example.org", PASSWORD, client="192.0.2.1", now=later).email


# --- saved searches ---------------------------------------------------------------------------------------------


def test_a_user_reaches_only_their_own_saved_searches(any_state: Settings) -> None:
    ana, boris = add_user(any_state, "ana@example.org", PASSWORD), add_user(any_state, "boris@example.org", PASSWORD)
    mine = save_search(any_state, ana.id, "Lavrov", SearchQuery(q="Lavrov", outlet=("RksNews",)), frequency="daily",
                       hour=7)
    theirs = save_search(any_state, boris.id, "Kosovo", SearchQuery(q="Kosovo"))
    assert mine.id != theirs.id and mine.watermark == 0
    assert get_saved(any_state, ana.id, mine.id) == mine
    assert [s.id for s in list_saved(any_state, ana.id)] == [mine.id]
    assert [s.id for s in list_saved(any_state)] == [mine.id, theirs.id]
    for action in (lambda: get_saved(any_state, ana.id, theirs.id),
                   lambda: update_saved(any_state, ana.id, theirs.id, name="mine now"),
                   lambda: delete_saved(any_state, ana.id, theirs.id)):
        with pytest.raises(NotFound):
            action()
    assert saved_by_id(any_state, theirs.id) == theirs

    renamed = update_saved(any_state, ana.id, mine.id, name="Lavrov daily")
    assert get_saved(any_state, ana.id, mine.id) == renamed and renamed.query.outlet == ("RksNews",)
    remove_user(any_state, "ana@example.org")  # her saved searches go with her
    assert [s.id for s in list_saved(any_state)] == [theirs.id]


# --- the outbox ----------------------------------------------------------------------------------------------------


def _match(n: int, cluster: str | None = None) -> Match:
    return Match(f"article-{n}", n, cluster or f"cluster-{n}", Reason(words=("lavrov",)))


def test_the_outbox_records_each_article_once_sends_refuses_and_summarises(any_state: Settings) -> None:
    ana = add_user(any_state, "ana@example.org", PASSWORD)
    mailed = save_search(any_state, ana.id, "mailed", SearchQuery(q="Lavrov"))
    fed = save_search(any_state, ana.id, "feed only", SearchQuery(q="Kosovo"), email=False)
    firsts = save_search(any_state, ana.id, "first of cluster", SearchQuery(q="Serbia"), first_of_cluster=True)

    outcomes = [Outcome(mailed, [_match(1), _match(2)]), Outcome(fed, [_match(1)]),
                Outcome(firsts, [_match(1, "story"), _match(2, "story"), _match(3)])]
    assert record_outcomes(any_state, outcomes, top=3, now=NOW) == 5
    assert record_outcomes(any_state, outcomes, top=2, now=NOW) == 0  # the same run again: nothing new
    assert {s.id: s.watermark for s in list_saved(any_state)} == {mailed.id: 3, fed.id: 3, firsts.id: 3}

    pending = pending_messages(any_state, NOW)
    assert [(p.saved_id, [a for a, _ in p.articles]) for p in pending] == [
        (mailed.id, ["article-1", "article-2"]), (firsts.id, ["article-1", "article-3"])]
    assert record_refusal(any_state, pending[0], "550 no such user", NOW) is False
    assert record_refusal(any_state, pending[0], "550 no such user", NOW) is False
    assert [p.saved_id for p in pending_messages(any_state, NOW)] == [firsts.id]  # the refused one waits
    later = NOW + dt.timedelta(hours=3)
    assert [p.saved_id for p in pending_messages(any_state, later)] == [mailed.id, firsts.id]
    summaries = delivery_summaries(any_state, [mailed.id, fed.id, firsts.id])
    assert summaries[mailed.id].refused == "550 no such user"
    assert summaries[mailed.id].retry_at == NOW + dt.timedelta(hours=2)  # the second refusal waits twice as long

    mark_sent(any_state, pending[0], "sent", later)
    assert [p.saved_id for p in pending_messages(any_state, later)] == [firsts.id]
    summaries = delivery_summaries(any_state, [mailed.id, fed.id, firsts.id])
    assert [summaries[i].articles for i in (mailed.id, fed.id, firsts.id)] == [2, 1, 2]
    assert summaries[mailed.id].refused is None and summaries[fed.id].last == NOW
    assert [d.article_id for d in deliveries(any_state, firsts.id, 10)] == ["article-3", "article-1"]


def test_a_message_refused_too_often_is_given_up_and_a_broken_alert_says_why(any_state: Settings) -> None:
    ana = add_user(any_state, "ana@example.org", PASSWORD)
    saved = save_search(any_state, ana.id, "mailed", SearchQuery(q="Lavrov"))
    record_outcomes(any_state, [Outcome(saved, [_match(1)])], top=1, now=NOW)
    message = pending_messages(any_state, NOW)[0]
    given_up = [record_refusal(any_state, message, "550 gone", NOW) for _ in range(MAX_REFUSALS)]
    assert given_up == [False] * (MAX_REFUSALS - 1) + [True]
    assert pending_messages(any_state, NOW + dt.timedelta(days=30)) == []

    record_outcomes(any_state, [Outcome(saved, [], broken="the query cannot run")], top=1, now=NOW)
    assert delivery_summaries(any_state, [saved.id])[saved.id].broken == "the query cannot run"
    record_outcomes(any_state, [Outcome(saved, [])], top=1, now=NOW)
    assert delivery_summaries(any_state, [saved.id])[saved.id].broken is None


def test_a_claimed_message_is_settled_once_and_one_whose_sending_failed_stays_pending(any_state: Settings) -> None:
    ana = add_user(any_state, "ana@example.org", PASSWORD)
    saved = save_search(any_state, ana.id, "mailed", SearchQuery(q="Lavrov"))
    record_outcomes(any_state, [Outcome(saved, [_match(1)])], top=1, now=NOW)
    message = pending_messages(any_state, NOW)[0]
    with pytest.raises(RuntimeError), claimed(any_state, message, NOW) as claim:
        assert claim is not None
        claim.settle("sent")
        raise RuntimeError("the SMTP server went away")  # before the claim ended: nothing settled
    assert pending_messages(any_state, NOW) == [message]
    with claimed(any_state, message, NOW) as claim:
        assert claim is not None
        claim.settle("sent")
    assert pending_messages(any_state, NOW) == []
    with claimed(any_state, message, NOW) as claim:
        assert claim is None  # sent already


def test_two_runners_claiming_at_once_skip_each_others_messages(fresh_database: str, tmp_path: Path) -> None:
    """PostgreSQL only: SQLite's runners never send at once (search/alerts/schedule.py's lock)."""
    settings = Settings(index=tmp_path / "instance", backend="postgres", database_url=fresh_database)
    ana = add_user(settings, "ana@example.org", PASSWORD)
    alerts = [save_search(settings, ana.id, f"alert {n}", SearchQuery(q="Lavrov")) for n in range(12)]
    record_outcomes(settings, [Outcome(saved, [_match(n)]) for n, saved in enumerate(alerts)], top=12, now=NOW)
    messages = pending_messages(settings, NOW)
    assert len(messages) == 12
    sent: list[tuple[str, int]] = []
    holding = threading.Barrier(2)

    def runner(name: str) -> None:
        for number, message in enumerate(messages):
            with claimed(settings, message, NOW) as claim:
                if number == 0:  # both hold a claim at once (or found the message taken) before going on
                    holding.wait(timeout=10)
                if claim is not None:
                    sent.append((name, message.saved_id))
                    claim.settle("sent")

    threads = [threading.Thread(target=runner, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(saved_id for _, saved_id in sent) == sorted(saved.id for saved in alerts)  # each exactly once
    assert pending_messages(settings, NOW) == []


# --- the crawler's tables --------------------------------------------------------------------------------------


WIRE = Source(name="Wire", url="https://wire.example/", feeds=("https://wire.example/feed",))
QUIET = Source(name="Quiet", url="https://quiet.example/")


def test_the_frontier_keeps_urls_results_hosts_and_robots(any_state: Settings) -> None:
    frontier = Frontier(open_state(any_state))
    try:
        assert frontier.start([WIRE, QUIET], now=100.0) == 2  # the feed, the homepage of the one without feeds
        due = frontier.due(["Wire", "Quiet"], now=100.0)
        assert [(e.kind, e.url) for e in due] == [("home", "https://quiet.example/"), ("feed", "https://wire.example/feed")]
        with frontier.db:
            links = [Link("https://wire.example/b", lastmod=50.0), Link("https://wire.example/a")]
            assert frontier.add_links(links, "Wire", now=101.0) == 2
            assert frontier.add_links(links, "Wire", now=102.0) == 0
            frontier.finish(due[1], "done", now=101.0, validators=Validators('"v1"', None))
            page = frontier.due(["Wire"], now=200.0)[0]
            frontier.finish(page, "done", now=103.0, article_id="a1", dated=True)
            frontier.log([Exchange("https://wire.example/feed", 200, 10, 0.1, 101.0),
                          Exchange("https://wire.example/a", 503, 0, 0.1, 103.0)])
            frontier.source_event("Wire", 104.0, new_article=True)
            frontier.mark_seen("https://wire.example/c", "Wire", now=105.0)
        assert [e.url for e in frontier.due(["Wire"], now=200.0)] == ["https://wire.example/b"]
        # A listing saying a fetched page changed after it was fetched makes it due again, at once.
        with frontier.db:
            frontier.add_links([Link("https://wire.example/a", lastmod=150.0)], "Wire", now=160.0)
        assert [e.url for e in frontier.due(["Wire"], now=200.0)] == ["https://wire.example/a", "https://wire.example/b"]
        assert frontier.due_sources(["Wire", "Quiet"], now=200.0) == {"Wire", "Quiet"}
        frontier.save_robots([RobotsFile("https://wire.example", 200, b"User-agent: *\nDisallow: /x\n\xff", Validators(), 99.0)])
        frontier.save_robots([RobotsFile("https://wire.example", 200, b"User-agent: *\n", Validators("e", None), 100.0)])
        assert frontier.robots_files()["https://wire.example"].body == b"User-agent: *\n"
    finally:
        frontier.db.close()

    sources, hosts = crawl_health(any_state)
    wire = next(s for s in sources if s.name == "Wire")
    assert (wire.articles, wire.pending, wire.last_new_article) == (1, 1, 104.0)  # b waits
    assert [(h.host, h.requests, h.failures) for h in hosts] == [("wire.example", 2, 1)]
    assert next_fetches(any_state, ["Wire", "Quiet"]) == {"Quiet": 100.0, "Wire": 101.0}  # b, since found
    assert NEVER > 1e12


def test_the_crawl_schedule_keeps_each_sources_interval(any_state: Settings) -> None:
    settings = replace(any_state, crawl_interval_min=60.0, crawl_min_gap=1.0, crawl_interval_max=3600.0)
    with closing(open_state(settings)) as connection:
        frontier, schedule = Frontier(connection), Schedule(connection)
        frontier.start([WIRE, QUIET], now=1000.0)
        with connection:
            frontier.source_event("Wire", 1001.0)
        schedule.record_outcomes([WIRE, QUIET], started=1000.0, now=1002.0, settings=settings)
        assert schedule.due_names(["Wire", "Quiet", "New"], now=1002.0) == ["New"]
        entries = schedule.entries(["Wire", "Quiet"])
        assert entries["Wire"].failures == 0 and entries["Quiet"].failures == 1
        assert entries["Wire"].interval == 60.0 and entries["Quiet"].interval == 120.0  # failed: doubled
        schedule.forget("Quiet")
    assert set(source_schedules(settings, ["Wire", "Quiet"])) == {"Wire"}


# --- the kept sources ----------------------------------------------------------------------------------------------


def test_kept_sources_are_unique_by_name_in_any_case_and_by_homepage(any_state: Settings) -> None:
    from search.sources.registry import add_source, registered_sources, remove_source

    assert registered_sources(any_state) == []
    add_source(any_state, WIRE)
    add_source(any_state, Source(name="Ärzte Zeitung", url="https://aerzte.example/"), added_by="ana@example.org")
    for clash in (Source(name="WIRE", url="https://other.example/"), Source(name="Other", url="https://wire.example")):
        with pytest.raises(SourceExists):
            add_source(any_state, clash)
    with pytest.raises(SourceExists):
        add_source(any_state, Source(name="ärzte zeitung", url="https://third.example/"))
    listed = registered_sources(any_state)
    assert [(r.source.name, r.added_by) for r in listed] == [("Wire", "command line"), ("Ärzte Zeitung", "ana@example.org")]
    assert remove_source(any_state, "https://wire.example/").name == "Wire"
    with pytest.raises(NotFound):
        remove_source(any_state, "wire")


def test_two_adds_of_one_source_at_once_keep_it_once(any_state: Settings) -> None:
    from search.sources.registry import add_source, registered_sources

    outcomes: list[str] = []
    start = threading.Barrier(4)

    def adding(n: int) -> None:
        start.wait(timeout=10)
        try:
            add_source(any_state, Source(name=f"Wire {n}" if n % 2 else "Wire", url="https://wire.example/"))
            outcomes.append("added")
        except SourceExists:
            outcomes.append("exists")

    any_state.index.mkdir(parents=True)
    threads = [threading.Thread(target=adding, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added", "exists", "exists", "exists"]
    assert len(registered_sources(any_state)) == 1


# --- candidate actors ------------------------------------------------------------------------------------------


def test_candidates_are_counted_once_per_article_with_their_latest_spelling(any_state: Settings,
                                                                             gazetteer: Gazetteer) -> None:
    def story(n: int, text: str, day: int | None) -> Article:
        return Article(id=f"a{n}", title="t", text=text, origin="test",
                       published=dt.datetime(2024, 5, day, tzinfo=dt.UTC) if day else None)

    articles = [story(1, "Foreign Minister Marko Petrović arrived.", 3),
                story(2, "Ambassador Marko Petrovic spoke. Minister Jana Kovač left.", 9),
                story(3, "Foreign Minister Marko PETROVIĆ again.", None)]
    for replace_all in (False, True):  # a second pass (reindex) records the same
        assert list(record_candidates(articles, any_state, gazetteer, replace=replace_all)) == articles
    found = {c.key: c for c in list_candidates(any_state)}
    marko = found["marko petrovic"]
    assert (marko.articles, marko.first_seen, marko.last_seen, marko.example) == (2, "2024-05-03", "2024-05-09", "a2")
    assert marko.name == "Marko Petrovic" and marko.titles == ("Ambassador", "Foreign Minister")
    assert [c.key for c in list_candidates(any_state)] == ["marko petrovic", "jana kovac"]
    assert [c.key for c in list_candidates(any_state, min_articles=2)] == ["marko petrovic"]


# --- ingest numbers ------------------------------------------------------------------------------------------------


def test_postgres_ingest_numbers_are_the_postgres_writers(fresh_database: str, tmp_path: Path) -> None:
    from search.database import connect
    from search.index.pg_writer import write_articles_pg

    settings = Settings(index=tmp_path / "instance", backend="postgres", database_url=fresh_database)
    assert last_number(settings) == 0 and first_indexed(settings, ["a1"]) == {}
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with connect(fresh_database) as connection:
        write_articles_pg(connection, [Article(id=f"a{n}", title=f"Story {n}", text=f"Text number {n} here.",
                                               origin="test", outlet="Wire") for n in range(3)])
        numbers = dict(connection.execute("SELECT id, seq FROM article_numbers").fetchall())
    assert last_number(settings) == max(numbers.values()) == 3  # type: ignore[type-var]
    moments = first_indexed(settings, ["a0", "a2", "unknown"])
    assert set(moments) == {"a0", "a2"}
    assert all(before <= moment <= dt.datetime.now(dt.UTC) and moment.tzinfo == dt.UTC for moment in moments.values())
    with pytest.raises(IndexUnavailable, match="numbers articles as it writes them"), open_sequence(settings):
        pass


# --- the state layer itself ------------------------------------------------------------------------------------


def test_reading_the_state_of_a_database_nothing_was_written_to_creates_nothing(fresh_database: str,
                                                                                 tmp_path: Path) -> None:
    settings = Settings(index=tmp_path / "instance", backend="postgres", database_url=fresh_database)
    assert crawl_health(settings) == ([], [])
    assert list_candidates(settings) == []
    assert read_state(settings, lambda db: db.execute("SELECT count(*) FROM users").fetchone()[0], -1) == -1
    with psycopg.connect(fresh_database) as connection:
        assert connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
    assert not state_path(settings).exists()


def test_with_postgres_nothing_but_the_archive_catalogue_is_kept_in_the_instance_directory(
    fresh_database: str, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    from search.archive.store import open_archive

    settings = Settings(index=tmp_path / "instance", backend="postgres", database_url=fresh_database)
    add_user(settings, "ana@example.org", PASSWORD)
    list(record_candidates([Article(id="a1", title="t", text="Minister Jana Kovač left.", origin="x")], settings,
                           gazetteer))
    assert not state_path(settings).exists()
    with open_archive(settings):
        pass
    with closing(open_state(replace(settings, backend="whoosh"))) as local:
        tables = {row[0] for row in local.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables and all(name.startswith("archive_") for name in tables)


@pytest.mark.parametrize(("written", "sent"), [
    ("SELECT * FROM t WHERE a = ? AND b IN (?, ?)", "SELECT * FROM t WHERE a = %s AND b IN (%s, %s)"),
    ("SELECT '?', \"odd?name\", ? -- what?\n, '50%' LIKE ?", "SELECT '?', \"odd?name\", %s -- what?\n, '50%%' LIKE %s"),
    ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', %s"),
    ("SELECT 100 % 7", "SELECT 100 %% 7"),
])
def test_placeholders_are_translated_outside_quotes_and_comments_only(written: str, sent: str) -> None:
    assert placeholders(written) == sent
