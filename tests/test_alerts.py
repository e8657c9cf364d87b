"""Alerts end to end: real index, real SMTP server (aiosmtpd), real Atom parsed by feedparser.

The instance is a copy of the seeded one (five articles, several naming
Lavrov), so "never backfills" has something to not backfill.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import re
import shutil
import sqlite3
import subprocess
from dataclasses import replace
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest
from flask.testing import FlaskClient

from conftest import Inbox, free_port, make_settings
from search.alerts import add_user, after_commit, outbox, run_alerts, start_scheduler
from search.alerts import runner as alerts
from search.alerts.feed import AlertFeed, feed_page
from search.alerts.saved import feed_url, get_saved, revoke_feed, save_search, unsubscribe_url
from search.alerts.schedule import LOCK_FILE
from search.enrich import Gazetteer, enrich
from search.errors import MailError
from search.index import IndexReport, open_index, write_articles
from search.ingest import ingest
from search.query import search
from search.query.embedded import EmbeddedReader
from search.records import Article, SavedSearch, SearchQuery
from search.settings import Settings
from search.state import state_path
from search.urls import article_id

LAVROV = "Q58217"


@pytest.fixture
def instance(seeded: Settings, tmp_path: Path, inbox: tuple[Inbox, int]) -> Settings:
    """A copy of the seeded instance, mailing through the test's SMTP server."""
    shutil.copytree(seeded.index, tmp_path / "instance")
    return make_settings(tmp_path / "instance", smtp_host="127.0.0.1", smtp_port=inbox[1],
                         base_url="https://news.example", mail_from="Newsdesk <alerts@news.example>")


@pytest.fixture
def mail(inbox: tuple[Inbox, int]) -> Inbox:
    return inbox[0]


def client_for(settings: Settings) -> FlaskClient:
    from web import create_app

    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()


def alert(settings: Settings, q: str = "Lavrov", address: str = "ana@example.org", **options: Any) -> SavedSearch:
    filters = {name: options.pop(name) for name in ("outlet", "actor", "year", "language") if name in options}
    user = add_user(settings, address, "a long password", timezone=options.pop("timezone", "UTC"))
    return save_search(settings, user.id, f"alert on {q or 'everything'}", SearchQuery(q=q, **filters), **options)


def article(gazetteer: Gazetteer, n: int, title: str, text: str, outlet: str | None = None) -> Article:
    raw = Article(id=f"{n:020x}", title=title, text=text, origin=f"test:{n}", outlet=outlet)
    return enrich(raw, gazetteer, 0)


def add(settings: Settings, *articles: Article, hook: bool = False) -> IndexReport:
    """Index articles through the real index stage; ``hook`` runs instant alerts after the commit, as ingest does."""
    return write_articles(articles, settings, on_commit=partial(after_commit, settings) if hook else None)


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def feed(settings: Settings, saved: SavedSearch, gazetteer: Gazetteer) -> AlertFeed:
    with open_index(settings).searcher() as searcher:
        return feed_page(settings, saved, EmbeddedReader(searcher, settings, gazetteer))


LAVROV_TEXT = "Russian Foreign Minister Sergey Lavrov met his Serbian counterpart in Moscow on {day} to discuss Kosovo."


# --- the "done when" ------------------------------------------------------


def test_an_instant_alert_mails_a_new_article_once_and_feeds_it(instance: Settings, mail: Inbox, tmp_path: Path) -> None:
    saved = alert(instance, "Lavrov")
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "lavrov.txt").write_text(
        "From: Jovana Petrović\nLavrov to visit Belgrade next month\n\n"
        "Russian Foreign Minister Sergey Lavrov will visit Belgrade next month, the Serbian foreign ministry said "
        "on Tuesday, for talks on energy and on the Kosovo dialogue.\n",
        encoding="utf-8",
    )
    ingest([folder], instance, progress=False)  # the commit hook runs the instant alert
    assert len(mail.messages) == 1
    message = mail.messages[0]
    text, html = body(message, "plain"), body(message, "html")
    assert message["To"] == "ana@example.org" and "Lavrov" in message["Subject"]
    assert "Lavrov to visit Belgrade next month" in text and "Why: words: “Lavrov”" in text
    new_id = article_id(None, (folder / "lavrov.txt").read_bytes())  # no URL: the id comes from the bytes
    assert f"https://news.example/articles/{new_id}" in text and f'href="https://news.example/articles/{new_id}"' in html
    assert "Rama in Russia" not in text  # the seed articles naming Lavrov are old

    assert run_alerts(instance).sent == 0
    ingest([folder], instance, progress=False)  # the same file again: unchanged, not new
    assert len(mail.messages) == 1

    answer = client_for(instance).get(urlsplit(feed_url(instance, saved)).path)
    assert answer.status_code == 200 and answer.mimetype == "application/atom+xml"
    parsed = feedparser.parse(answer.data)
    assert parsed.bozo == 0
    assert [entry.link for entry in parsed.entries] == [f"https://news.example/articles/{new_id}"]
    assert parsed.entries[0].id == f"https://news.example/articles/{new_id}" and parsed.entries[0].updated
    assert "Lavrov" in parsed.entries[0].summary


def test_a_new_alert_never_backfills(instance: Settings, mail: Inbox, gazetteer: Gazetteer) -> None:
    saved = alert(instance, "Lavrov")
    report = run_alerts(instance)
    assert (report.evaluated, report.matched, report.sent) == (1, 0, 0)
    assert mail.messages == [] and feed(instance, saved, gazetteer).entries == ()


def test_an_updated_article_is_not_new(instance: Settings, mail: Inbox, gazetteer: Gazetteer) -> None:
    add(instance, article(gazetteer, 1, "Lavrov in Moscow", LAVROV_TEXT.format(day="Monday")))
    alert(instance, "Lavrov")
    report = add(instance, article(gazetteer, 1, "Lavrov in Moscow (updated)", LAVROV_TEXT.format(day="Tuesday")),
                 hook=True)
    assert report.updated == 1
    assert run_alerts(instance).matched == 0 and mail.messages == []


# --- digests and schedules ------------------------------------------------------------


def set_last_run(settings: Settings, saved: SavedSearch, moment: dt.datetime) -> None:
    with sqlite3.connect(state_path(settings)) as db:
        db.execute("UPDATE saved_searches SET last_run = ? WHERE id = ?", (moment.isoformat(), saved.id))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def test_a_daily_digest_groups_new_articles_at_the_local_hour_across_dst(
    instance: Settings, mail: Inbox, gazetteer: Gazetteer
) -> None:
    saved = alert(instance, "Lavrov", frequency="daily", hour=8, timezone="Europe/Belgrade")
    set_last_run(instance, saved, utc(2030, 3, 30, 7))  # 08:00 CET; the clocks go forward that night
    add(instance, *(article(gazetteer, n, f"Lavrov story {n}", LAVROV_TEXT.format(day=f"day {n}")) for n in (1, 2, 3)),
        hook=True)  # instant alerts only: the digest waits
    assert mail.messages == []
    # 08:00 CEST is 06:00 UTC: 24 hours after the last run would be an hour late.
    assert run_alerts(instance, now=utc(2030, 3, 31, 5, 59)).evaluated == 0
    report = run_alerts(instance, now=utc(2030, 3, 31, 6, 0))
    assert (report.evaluated, report.matched, report.sent) == (1, 3, 1)
    assert len(mail.messages) == 1 and "daily digest, 3 new articles" in mail.messages[0]["Subject"]
    assert all(f"Lavrov story {n}" in body(mail.messages[0], "plain") for n in (1, 2, 3))
    assert run_alerts(instance, now=utc(2030, 3, 31, 12)).evaluated == 0
    add(instance, article(gazetteer, 4, "Lavrov story 4", LAVROV_TEXT.format(day="day 4")))
    assert run_alerts(instance, now=utc(2030, 4, 1, 6)).sent == 1
    assert len(mail.messages) == 2 and "Lavrov story 4" in body(mail.messages[1], "plain")
    assert "Lavrov story 1" not in body(mail.messages[1], "plain")


def test_a_weekly_digest_waits_for_its_weekday(instance: Settings, mail: Inbox, gazetteer: Gazetteer) -> None:
    saved = alert(instance, "Lavrov", frequency="weekly", hour=9, weekday=2, timezone="America/New_York")
    set_last_run(instance, saved, utc(2030, 10, 30, 13))  # Wednesday 09:00 EDT
    add(instance, article(gazetteer, 1, "Lavrov weekly", LAVROV_TEXT.format(day="Friday")))
    assert run_alerts(instance, now=utc(2030, 11, 6, 13, 59)).evaluated == 0  # EST from Nov 3: 09:00 is 14:00 UTC
    assert run_alerts(instance, now=utc(2030, 11, 6, 14)).sent == 1


# --- what matches ----------------------------------------------------------------------


def test_facet_filters_are_or_within_and_across_facets(instance: Settings, gazetteer: Gazetteer) -> None:
    either = alert(instance, "Lavrov", address="a@example.org", outlet=("Alpha", "Beta"))
    both = alert(instance, "", address="b@example.org", actor=(LAVROV,), outlet=("Alpha",))
    add(instance,
        article(gazetteer, 1, "Moscow talks", LAVROV_TEXT.format(day="Monday"), outlet="Alpha"),
        article(gazetteer, 2, "More Moscow talks", LAVROV_TEXT.format(day="Tuesday") + " Again.", outlet="Beta"),
        article(gazetteer, 3, "Yet more talks", LAVROV_TEXT.format(day="Friday") + " Once more.", outlet="Gamma"),
        article(gazetteer, 4, "Energy in Belgrade", "Serbia signed a gas contract on Wednesday.", outlet="Alpha"))
    run_alerts(instance)
    assert [entry.hit.title for entry in feed(instance, either, gazetteer).entries] == ["More Moscow talks",
                                                                                        "Moscow talks"]
    entries = feed(instance, both, gazetteer).entries
    assert [entry.hit.title for entry in entries] == ["Moscow talks"]
    why = entries[0].why
    assert why.actors == ("Sergey Lavrov",) and why.outlets == ("Alpha",) and why.words == ()
    assert feed(instance, either, gazetteer).entries[0].why.words == ("Lavrov",)


def test_first_of_cluster_delivers_one_copy_per_story(instance: Settings, gazetteer: Gazetteer) -> None:
    first = alert(instance, "Lavrov", address="a@example.org", first_of_cluster=True)
    every = alert(instance, "Lavrov", address="b@example.org")
    wire = LAVROV_TEXT.format(day="Thursday")
    add(instance, article(gazetteer, 1, "Wire copy", wire, outlet="Alpha"),
        article(gazetteer, 2, "Wire copy", wire, outlet="Beta"))
    run_alerts(instance)
    add(instance, article(gazetteer, 3, "Wire copy", wire, outlet="Gamma"))
    run_alerts(instance)
    assert [entry.hit.outlet for entry in feed(instance, first, gazetteer).entries] == ["Alpha"]
    assert sorted(entry.hit.outlet for entry in feed(instance, every, gazetteer).entries) == ["Alpha", "Beta", "Gamma"]


# --- delivery: once, and never lost ---------------------------------------------------


def test_a_crash_between_sending_and_recording_resends_the_same_message(
    instance: Settings, mail: Inbox, gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert(instance, "Lavrov")
    add(instance, *(article(gazetteer, n, f"Lavrov story {n}", LAVROV_TEXT.format(day=f"day {n}")) for n in (1, 2)))

    def killed(*args: object) -> None:
        raise KeyboardInterrupt("killed after the SMTP server accepted")

    with monkeypatch.context() as patch:
        patch.setattr(outbox.Claim, "settle", killed)
        with pytest.raises(KeyboardInterrupt):
            run_alerts(instance)
    assert len(mail.messages) == 1
    assert run_alerts(instance).sent == 1  # the message is still pending: sent again, as the same message
    assert run_alerts(instance).sent == 0
    assert len(mail.messages) == 2 and len(mail.ids()) == 1
    assert all(f"Lavrov story {n}" in body(m, "plain") for m in mail.messages for n in (1, 2))


def test_mail_waits_while_smtp_is_down_and_goes_out_later(
    instance: Settings, mail: Inbox, gazetteer: Gazetteer
) -> None:
    alert(instance, "Lavrov")
    down = replace(instance, smtp_port=free_port())  # nothing listens there
    report = add(down, article(gazetteer, 1, "Lavrov story", LAVROV_TEXT.format(day="Monday")), hook=True)
    assert report.added == 1  # the ingest itself succeeded
    assert run_alerts(down).pending == 1
    assert run_alerts(replace(instance, smtp_host="")).pending == 1  # no server set: waits too
    assert mail.messages == []
    report_after = run_alerts(instance)
    assert (report_after.sent, report_after.pending) == (1, 0)
    assert "Lavrov story" in body(mail.messages[0], "plain")


def test_after_a_failed_send_an_ingest_leaves_mail_to_the_scheduler_for_a_while(
    instance: Settings, mail: Inbox, gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unreachable SMTP server must not cost its time-out at every commit of a long ingest."""
    monkeypatch.setattr(alerts, "_mail_failed_at", {})
    attempts: list[str] = []
    outage = [True]

    def send(settings: Settings, message: EmailMessage) -> None:
        attempts.append(str(message["Message-ID"]))
        if outage[0]:
            raise MailError("cannot send mail: connection timed out")
        real_send(settings, message)

    real_send = alerts.send_message
    monkeypatch.setattr(alerts, "send_message", send)
    alert(instance, "Lavrov")
    add(instance, article(gazetteer, 1, "Lavrov story", LAVROV_TEXT.format(day="Monday")), hook=True)
    add(instance, article(gazetteer, 2, "Lavrov again", LAVROV_TEXT.format(day="Tuesday")), hook=True)
    assert len(attempts) == 1  # the second commit recorded its match without trying the server again
    assert run_alerts(instance, send=False).pending == 2
    outage[0] = False
    monkeypatch.setattr(alerts, "MAIL_PAUSE", 0.0)  # the pause is over
    add(instance, article(gazetteer, 3, "Lavrov third", LAVROV_TEXT.format(day="Wednesday")), hook=True)
    assert len(mail.messages) == 3 and len(mail.ids()) == 3  # nothing lost, nothing twice


def test_a_concurrent_run_is_locked_out(instance: Settings, mail: Inbox, gazetteer: Gazetteer) -> None:
    alert(instance, "Lavrov")
    add(instance, article(gazetteer, 1, "Lavrov story", LAVROV_TEXT.format(day="Monday")))
    with (instance.index / LOCK_FILE).open("a") as other:  # another runner holds the lock
        fcntl.flock(other, fcntl.LOCK_EX)
        report = run_alerts(instance)
        assert report.locked and report.evaluated == 0 and mail.messages == []
        fcntl.flock(other, fcntl.LOCK_UN)
    assert run_alerts(instance).sent == 1


def test_feed_only_alerts_record_without_mail(instance: Settings, mail: Inbox, gazetteer: Gazetteer) -> None:
    saved = alert(instance, "Lavrov", email=False)
    add(instance, article(gazetteer, 1, "Lavrov story", LAVROV_TEXT.format(day="Monday")), hook=True)
    assert mail.messages == [] and run_alerts(instance).pending == 0
    assert [entry.hit.title for entry in feed(instance, saved, gazetteer).entries] == ["Lavrov story"]


# --- the web side: unsubscribe, feeds, escaping ------------------------------------------


def test_one_click_unsubscribe_turns_email_off(instance: Settings, mail: Inbox, gazetteer: Gazetteer) -> None:
    saved = alert(instance, "Lavrov")
    add(instance, article(gazetteer, 1, "Lavrov story", LAVROV_TEXT.format(day="Monday")), hook=True)
    message = mail.messages[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(message["List-Unsubscribe"]).strip("<>")
    assert link.startswith("https://news.example/unsubscribe/") and link in body(message, "plain")
    assert "https://news.example/saved" in body(message, "html")  # where to change the alert instead
    client = client_for(instance)
    page = client.get(urlsplit(link).path)
    assert page.status_code == 200 and 'method="post"' in page.get_data(as_text=True)
    assert get_saved(instance, saved.user_id, saved.id).email  # looking is not unsubscribing
    answer = client.post(urlsplit(link).path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert not get_saved(instance, saved.user_id, saved.id).email
    add(instance, article(gazetteer, 2, "Lavrov again", LAVROV_TEXT.format(day="Tuesday")), hook=True)
    assert len(mail.messages) == 1
    assert client.post("/unsubscribe/forged-token").status_code == 404


def test_a_revoked_feed_is_gone(instance: Settings) -> None:
    saved = alert(instance, "Lavrov")
    client = client_for(instance)
    old = urlsplit(feed_url(instance, saved)).path
    empty = client.get(old)
    assert empty.status_code == 200 and feedparser.parse(empty.data).bozo == 0
    renewed = revoke_feed(instance, saved.user_id, saved.id)
    assert client.get(old).status_code == 404
    assert client.get(urlsplit(feed_url(instance, renewed)).path).status_code == 200
    assert client.get("/feeds/not-a-token.atom").status_code == 404


def test_article_text_is_escaped_in_mail_and_feed(instance: Settings, mail: Inbox, gazetteer: Gazetteer) -> None:
    saved = alert(instance, "Lavrov")
    title = "Lavrov <script>alert('x')</script> & Co"
    add(instance, article(gazetteer, 1, title, LAVROV_TEXT.format(day="Monday") + " <b>bold</b>"), hook=True)
    html = body(mail.messages[0], "html")
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;bold" in html
    assert title in body(mail.messages[0], "plain")  # plain text stays as written
    answer = client_for(instance).get(urlsplit(feed_url(instance, saved)).path)
    assert b"<script>" not in answer.data
    parsed = feedparser.parse(answer.data)
    assert parsed.bozo == 0 and parsed.entries[0].title == title  # a text construct: the reader shows it as text
    assert "&lt;b&gt;bold" in parsed.entries[0].summary


def test_the_scheduler_runs_alerts_in_the_background(instance: Settings) -> None:
    assert start_scheduler(replace(instance, alerts_interval=0)) is None
    scheduler = start_scheduler(replace(instance, alerts_interval=3600))
    assert scheduler is not None
    try:
        job = scheduler.get_job("alerts")
        assert job.max_instances == 1 and job.coalesce and job.trigger.interval == dt.timedelta(hours=1)
    finally:
        scheduler.shutdown(wait=True)


# --- the oracle: an alert matches what the results page shows ----------------------


NEW_ARTICLES = [
    ("Lavrov in Belgrade", "Sergey Lavrov arrived in Belgrade for talks on Kosovo and sanctions.", "Sputnik"),
    ("Kosovo talks stall", "Talks between Kosovo and the EU stalled on Monday.", "RksNews"),
    ("Serbia and Kosovo", "Serbia said Kosovo must respect the Brussels agreement.", "Tanjug"),
    ("Переговоры Лаврова", "Министр Сергей Лавров обсудил с коллегами санкции и Косово.", "RIA"),
    ("Markets", "Share prices rose in Frankfurt as the euro weakened.", "Reuters"),
]
ORACLE_QUERIES = [
    SearchQuery(q="Lavrov"),
    SearchQuery(q='"Sergey Lavrov"'),
    SearchQuery(q="Kosovo NOT Serbia"),
    SearchQuery(q="title:Belgrade"),
    SearchQuery(q="Лавров"),
    SearchQuery(q="sanction*"),
    SearchQuery(outlet=("RksNews", "Tanjug")),
    SearchQuery(q="Kosovo", actor=(LAVROV,), language=("en",)),
]


@pytest.mark.parametrize("saved_query", ORACLE_QUERIES, ids=lambda q: f"{q.q}|{q.outlet}|{q.actor}|{q.language}")
def test_an_alert_delivers_exactly_the_new_articles_the_results_page_finds(
    instance: Settings, gazetteer: Gazetteer, saved_query: SearchQuery
) -> None:
    user = add_user(instance, "ana@example.org", "a long password")
    saved = save_search(instance, user.id, "oracle", saved_query, email=False, feed=True)
    new = [article(gazetteer, n, title, text, outlet) for n, (title, text, outlet) in enumerate(NEW_ARTICLES, 1)]
    add(instance, *new)
    run_alerts(instance)
    with open_index(instance).searcher() as searcher:
        page = search(searcher, replace(saved_query, per_page=100), instance, gazetteer)
        expected = {hit.id for hit in page.hits} & {a.id for a in new}  # the seeds were there before
        delivered = {entry.hit.id for entry in feed_page(instance, saved, EmbeddedReader(searcher, instance, gazetteer), limit=100).entries}
    assert delivered == expected


# --- the message on the wire: what a mail client reads ------------------------------------


def raw_headers(raw: bytes) -> dict[str, str]:
    """The header section as sent, unfolded (RFC 5322 §2.2.3: a line break before white space goes), not decoded."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii(), "header bytes must be ASCII (RFC 5322); non-ASCII goes in RFC 2047 encoded words"
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))  # RFC 5322 §2.1.1
    unfolded = re.sub(rb"\r\n(?=[ \t])", b"", head).decode("ascii")
    fields = (line.split(":", 1) for line in unfolded.split("\r\n"))
    return {name: value.strip() for name, value in fields}


#: RFC 2047 §2: an encoded word, at most 75 characters, no white space inside.
ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")


def test_the_headers_on_the_wire_are_usable_by_mail_clients(instance: Settings, mail: Inbox,
                                                            gazetteer: Gazetteer) -> None:
    name = "Лавров и Вучич: sastanak u Beogradu, sankcije i energetika — a long name that needs folding"
    user = add_user(instance, "ana@example.org", "a long password")
    saved = save_search(instance, user.id, name, SearchQuery(q="Lavrov"))
    add(instance, article(gazetteer, 1, "Lavrov story", LAVROV_TEXT.format(day="Monday")), hook=True)
    headers = raw_headers(mail.raw[0])

    # RFC 2369 / RFC 8058: the URL verbatim in angle brackets, never an encoded word.
    assert headers["List-Unsubscribe"] == f"<{unsubscribe_url(instance, saved)}>"
    assert re.fullmatch(r"<https://news\.example/unsubscribe/[A-Za-z0-9._~:-]+>", headers["List-Unsubscribe"])
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    subject = headers["Subject"]
    words = ENCODED_WORD.findall(subject)
    assert words and all(len(f"=?{c}?{e}?{t}?=") <= 75 for c, e, t in words)
    assert re.fullmatch(rf"(?:{ENCODED_WORD.pattern}|[\x21-\x7e]+)(?: (?:{ENCODED_WORD.pattern}|[\x21-\x7e]+))*",
                        subject)
    assert str(make_header(decode_header(subject))) == f"{name}: 1 new article"

    assert re.fullmatch(r"<alert\.\d+\.\d+-\d+@news\.example>", headers["Message-ID"])
    date = headers["Date"]  # RFC 5322 §3.3
    assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                        r"\d{4} \d\d:\d\d:\d\d [+-]\d{4}", date)
    assert abs(parsedate_to_datetime(date) - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


#: SpamAssassin's ``__END_FUTURE_EMAILS`` body rule (72_active.cf, 4.0), which
#: ``END_FUTURE_EMAILS`` ("Spammy unsubscribe") scores.
END_FUTURE_EMAILS = re.compile(
    r"\b(?:end|stop(?! receiving these (?:alerts|emails))|cease|discontinue|removed?|(?:do(?! not wish to receive "
    r"[\w\s]{0,20}emails)|would|you(?:'d)?) (?:not (?:wish|want|like|desire)|(?:prefer|wish|want|like|desire) not) "
    r"to|exclude yourself|fore?go)[- ](?:get |receiv(?:ing|e) |or |(?:a-z{1,30} ){0,4}from )?(?:these|our|(?:any )?"
    r"(?:future|further)) (?:(?:e|ad)?-?m(?:ail(?:ing)?|es+[age]{3})|alert|PSA|marketing|notice)[- ]?(?:ad|update)?"
    r"s?\b", re.IGNORECASE)


def test_the_footer_does_not_read_like_spam(instance: Settings, mail: Inbox, gazetteer: Gazetteer) -> None:
    alert(instance, "Lavrov")
    add(instance, article(gazetteer, 1, "Lavrov story", LAVROV_TEXT.format(day="Monday")), hook=True)
    message = mail.messages[0]
    for kind in ("plain", "html"):
        text = re.sub(r"<[^>]+>", " ", body(message, kind))
        assert not END_FUTURE_EMAILS.search(" ".join(text.split())), kind
    assert "Unsubscribe" in body(message, "plain")  # the way out is still said plainly


SPAMASSASSIN = shutil.which("spamassassin")


@pytest.mark.skipif(SPAMASSASSIN is None, reason="SpamAssassin is not installed (Debian: apt-get install spamassassin)")
def test_spamassassin_finds_no_spammy_unsubscribe_wording(instance: Settings, mail: Inbox,
                                                          gazetteer: Gazetteer) -> None:
    alert(instance, "Lavrov")
    add(instance, article(gazetteer, 1, "Lavrov story", LAVROV_TEXT.format(day="Monday")), hook=True)
    # -L: local tests only (no DNS or network); -t: the report lists every rule that fired.
    checked = subprocess.run([str(SPAMASSASSIN), "-L", "-t"], input=mail.raw[0], capture_output=True,
                             timeout=300, check=False)
    report = checked.stdout.decode("utf-8", "replace")
    assert "Content analysis details" in report, checked.stderr.decode("utf-8", "replace")
    assert "END_FUTURE_EMAILS" not in report
