"""Alerts: saved searches run against the articles new since their last run, delivered by e-mail and Atom.

After the index stage: each ingest or crawl commit calls ``after_commit``
(instant alerts), the scheduler inside ``newsdesk serve`` (``start_scheduler``)
and ``newsdesk alerts run`` call ``run_alerts`` (everything due, digests
included). One run at a time per instance: a run holds ``alerts.lock``
(``flock``, non-blocking); a second one returns at once with ``locked=True``,
and the next run catches up, since nothing depends on *which* run does the work.

**What is new.** Every article carries its ingest number ``seq``
(search/sequence.py); a saved search's ``watermark`` is the number up to
which it has seen the index. The run reads, from one searcher snapshot, the
articles with ``seq`` above the lowest due watermark (a range on ``seq``:
the cost follows the new articles, not the corpus), and **percolates**: it
indexes just those articles in a RAM index with the live schema and runs
each due saved search on it with the results page's own parsing and facet
filters (``search.query.matching``), so an alert matches exactly what the
page would show. Alerts sharing a watermark share one RAM index. An updated
or re-ingested article keeps its number, so it is not new again.

**Each article once: a transactional outbox.** Per alert, in one SQLite
transaction, the run inserts its matches into ``deliveries`` (primary key
saved search + article, ``INSERT OR IGNORE``; status ``pending`` with the
message's Message-ID, or ``feed`` for a feed-only alert), advances the
watermark to the highest number in the snapshot and sets ``last_run``
(alerts sharing a RAM index share the transaction: same guarantee, one
disk sync instead of thousands).
Only then are pending messages sent, each marked ``sent`` after the SMTP
server accepted it; a run first (re)sends whatever is still pending, with
its stored Message-ID and the same articles. So a crash before the commit
loses nothing (the watermark did not move), and one after it sends later;
no SMTP server (``smtp_host`` empty) or a failing one leaves messages
pending. The one duplicate possible is a crash after the server accepted a
message and before ``sent`` was recorded: the resend then carries the same
Message-ID, which lets mail software recognise it.

Instant alerts send one message per run listing their new articles; daily
and weekly alerts one digest when their delivery time (the user's time
zone, at ``hour``, weekly on ``weekday``) after their last run has passed.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.background import BackgroundScheduler
from whoosh import query as wq
from whoosh.filedb.filestore import RamStorage
from whoosh.searching import Searcher

from search.accounts import get_user, list_users
from search.actors import Gazetteer, load_gazetteer
from search.errors import AlertError, IndexMissing, MailRefused, NotFound, QueryError
from search.index import open_index, word_fields
from search.mail import Letter, MailItem, Reason, article_link, build_message, message_id, send_message
from search.query import hits_by_id, matching
from search.records import FREQUENCIES, Hit, SavedSearch
from search.saved import list_saved, saved_by_id, saved_db, unsubscribe_url
from search.schema import build_schema
from search.settings import Settings
from search.state import ensure_tables

log = logging.getLogger(__name__)

LOCK_FILE = "alerts.lock"

#: The stored fields a saved search can select on: what the RAM index holds.
_QUERY_FIELDS = ("id", "url", "title", "body", "author", "outlet", "year", "language", "actor", "published", "cluster",
                 "seq")

_DDL = """
CREATE TABLE IF NOT EXISTS deliveries (
    saved_id INTEGER NOT NULL REFERENCES saved_searches(id) ON DELETE CASCADE,
    article_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    cluster TEXT NOT NULL,
    matched TEXT NOT NULL,       -- JSON: why it matched (search.mail.Reason)
    message_id TEXT,             -- the e-mail that carries it; NULL for a feed-only alert
    status TEXT NOT NULL,        -- pending | sent | feed
    created TEXT NOT NULL,
    sent_at TEXT,
    PRIMARY KEY (saved_id, article_id)
);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (status, saved_id, message_id);
CREATE INDEX IF NOT EXISTS deliveries_feed ON deliveries (saved_id, created);
CREATE TABLE IF NOT EXISTS mail_refusals (
    saved_id INTEGER NOT NULL REFERENCES saved_searches(id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,         -- the server's answer, for the owner's list
    refused_at TEXT NOT NULL,
    retry_at TEXT,               -- NULL: given up after MAX_REFUSALS
    PRIMARY KEY (saved_id, message_id)
);
CREATE TABLE IF NOT EXISTS broken_alerts (
    saved_id INTEGER PRIMARY KEY REFERENCES saved_searches(id) ON DELETE CASCADE,
    reason TEXT NOT NULL,        -- why its last run could not run it, for the owner's list
    since TEXT NOT NULL
);
"""

#: A message the SMTP server refused for good is tried again after an hour,
#: then after twice as long each time (a day at most), and given up after
#: this many refusals; meanwhile every other message goes out.
MAX_REFUSALS = 6
_FIRST_RETRY = dt.timedelta(hours=1)
_LONGEST_RETRY = dt.timedelta(days=1)


@dataclass
class AlertReport:
    """What one run did: alerts evaluated, articles matched, messages sent and still pending."""

    evaluated: int = 0
    matched: int = 0
    sent: int = 0
    pending: int = 0
    locked: bool = False  # another run held the lock: this one did nothing
    mail_failed: bool = False  # the SMTP server could not be reached or failed for now
    refused: int = 0  # messages the server refused for good (the others still went out)
    broken: int = 0  # saved searches that could not run (marked broken; the others ran)


@dataclass(frozen=True)
class FeedEntry:
    hit: Hit
    delivered: dt.datetime
    why: Reason


@dataclass(frozen=True)
class AlertFeed:
    """A saved search's delivered articles, newest delivery first: what its Atom feed shows."""

    saved: SavedSearch
    entries: tuple[FeedEntry, ...]

    @property
    def updated(self) -> dt.datetime:
        moments = [entry.delivered for entry in self.entries]
        return max(moments, default=self.saved.created or dt.datetime(2000, 1, 1, tzinfo=dt.UTC))


@dataclass(frozen=True)
class _NewArticle:
    id: str
    seq: int
    cluster: str
    outlet: str
    actors: frozenset[str]
    document: dict[str, Any]  # its stored fields, for the RAM index


@dataclass(frozen=True)
class _Match:
    article: _NewArticle
    why: Reason


@dataclass(frozen=True)
class _Outcome:
    """One alert's run: its matches, or why it could not run (then it matched nothing)."""

    saved: SavedSearch
    matches: list[_Match]
    broken: str | None = None


@dataclass(frozen=True)
class _Pending:
    """One message waiting: its saved search, Message-ID and articles (in ingest order)."""

    saved_id: int
    message_id: str
    articles: tuple[tuple[str, Reason], ...]


@dataclass
class _Run:
    settings: Settings
    now: dt.datetime
    gazetteer: Gazetteer
    report: AlertReport = field(default_factory=AlertReport)


def run_alerts(
    settings: Settings,
    *,
    frequencies: Iterable[str] | None = None,
    now: dt.datetime | None = None,
    gazetteer: Gazetteer | None = None,
    send: bool = True,
) -> AlertReport:
    """Evaluate the due alerts of ``frequencies`` (default all), record their matches, send what is pending
    (unless ``send`` is false: then it waits, pending, for the next run)."""
    with _exclusive(settings) as held:
        if not held:
            return AlertReport(locked=True)
        run = _Run(settings, _aware(now or dt.datetime.now(dt.UTC)), gazetteer or load_gazetteer())
        try:
            _evaluate(run, _due(settings, tuple(frequencies or FREQUENCIES), run.now))
        finally:
            if send:
                _send_pending(run)  # also after a failed evaluation: earlier messages still go out
            else:
                run.report.pending = len(_pending(settings, run.now))
        return run.report


#: Seconds an ingest leaves e-mail to the scheduler after a send failed: an
#: unreachable SMTP server costs its connection time-out at every commit
#: otherwise. Matches are still recorded; the messages wait, pending.
MAIL_PAUSE = 300.0
#: This process's last failed send per SMTP server (monotonic clock).
_mail_failed_at: dict[tuple[str, int], float] = {}


def after_commit(settings: Settings) -> None:
    """Ingest's hook after each commit: instant alerts. Never raises: alerts must not fail an ingest."""
    server = (settings.smtp_host, settings.smtp_port)
    send = time.monotonic() - _mail_failed_at.get(server, -MAIL_PAUSE) >= MAIL_PAUSE
    try:
        report = run_alerts(settings, frequencies=("instant",), send=send)
    except Exception:
        log.exception("instant alerts failed; the next run catches up")
        return
    if report.mail_failed:
        _mail_failed_at[server] = time.monotonic()
    if report.locked:
        log.info("alerts: another run is under way; it or the next one takes these articles")


def start_scheduler(settings: Settings) -> BackgroundScheduler | None:
    """Run every due alert every ``alerts_interval`` seconds in a background thread (None when 0)."""
    if settings.alerts_interval <= 0:
        return None
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(_scheduled, "interval", seconds=settings.alerts_interval, args=[settings], id="alerts",
                      max_instances=1, coalesce=True, next_run_time=dt.datetime.now(dt.UTC))
    scheduler.start()
    return scheduler


def feed_page(
    settings: Settings, saved: SavedSearch, searcher: Searcher, gazetteer: Gazetteer, limit: int = 50
) -> AlertFeed:
    """The saved search's delivered articles (sent, pending or feed-only), newest delivery first."""
    with _deliveries_db(settings) as db:
        rows = db.execute(
            "SELECT article_id, matched, created FROM deliveries WHERE saved_id = ? "
            "ORDER BY created DESC, seq DESC LIMIT ?", (saved.id, limit),
        ).fetchall()
    # An article taken down since is left out of the feed.
    hits = {hit.id: hit for hit in hits_by_id(searcher, [row["article_id"] for row in rows], gazetteer)}
    entries = (FeedEntry(hits[row["article_id"]], _aware(dt.datetime.fromisoformat(row["created"])),
                         _reason(row["matched"])) for row in rows if row["article_id"] in hits)
    return AlertFeed(saved, tuple(entries))


@dataclass(frozen=True)
class DeliverySummary:
    """What a saved search's alert has delivered so far: for its owner's list."""

    articles: int = 0
    last: dt.datetime | None = None
    refused: str | None = None  # the server's answer to its latest refused message
    broken: str | None = None  # why its last run could not run it (it matched nothing then)
    retry_at: dt.datetime | None = None  # when that message is tried again (None with ``refused``: given up)


def delivery_summaries(settings: Settings, saved_ids: Iterable[int]) -> dict[int, DeliverySummary]:
    """Per saved search: articles delivered (any channel, pending mail included), the latest delivery,
    and what went wrong lately (a refused message, a query its last run could not run)."""
    ids = list(saved_ids)
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    with _deliveries_db(settings) as db:
        rows = db.execute(f"SELECT saved_id, count(*) AS articles, max(created) AS last FROM deliveries "
                          f"WHERE saved_id IN ({marks}) GROUP BY saved_id", ids).fetchall()
        refusals = db.execute(f"SELECT saved_id, error, retry_at FROM mail_refusals WHERE saved_id IN ({marks}) "
                              f"ORDER BY refused_at", ids).fetchall()
        broken = {row["saved_id"]: row["reason"] for row in
                  db.execute(f"SELECT saved_id, reason FROM broken_alerts WHERE saved_id IN ({marks})", ids)}
    found = {row["saved_id"]: DeliverySummary(row["articles"], _aware(dt.datetime.fromisoformat(row["last"])))
             for row in rows}
    for row in refusals:  # the latest wins
        retry = _aware(dt.datetime.fromisoformat(row["retry_at"])) if row["retry_at"] else None
        found[row["saved_id"]] = replace(found.get(row["saved_id"], DeliverySummary()), refused=row["error"],
                                         retry_at=retry)
    for saved_id, reason in broken.items():
        found[saved_id] = replace(found.get(saved_id, DeliverySummary()), broken=reason)
    return {saved_id: found.get(saved_id, DeliverySummary()) for saved_id in ids}


# --- which alerts are due ----------------------------------------------------


def _due(settings: Settings, frequencies: tuple[str, ...], now: dt.datetime) -> list[SavedSearch]:
    zones = {user.id: user.timezone for user in list_users(settings)}
    return [saved for saved in list_saved(settings) if saved.alerting and saved.frequency in frequencies
            and now >= _next_delivery(saved, zones.get(saved.user_id, "UTC"))]


def _next_delivery(saved: SavedSearch, zone_name: str) -> dt.datetime:
    """When the alert is next due: at once if instant, else the first delivery hour after its last run."""
    since = _aware(saved.last_run or saved.created or dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    if saved.frequency == "instant":
        return since
    zone = _zone(zone_name)
    day = since.astimezone(zone).date()
    while True:  # at most eight days ahead
        # Built from the local date and hour, not by adding 24 hours, so the
        # hour stays put across daylight-saving changes.
        moment = dt.datetime.combine(day, dt.time(saved.hour), tzinfo=zone).astimezone(dt.UTC)
        if moment > since and (saved.frequency == "daily" or day.weekday() == saved.weekday):
            return moment
        day += dt.timedelta(days=1)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _aware(moment: dt.datetime) -> dt.datetime:
    """A moment in UTC; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


# --- what matched: percolation over the new articles --------------------------------


def _evaluate(run: _Run, due: list[SavedSearch]) -> None:
    if not due:
        return
    try:
        with open_index(run.settings).searcher() as searcher:
            fresh = _new_articles(searcher, min(saved.watermark for saved in due))
    except IndexMissing:
        log.info("alerts: no index yet, nothing is new")
        return
    for watermark, group in groupby(sorted(due, key=lambda s: s.watermark), key=lambda s: s.watermark):
        articles = [article for article in fresh if article.seq > watermark]
        top = max((article.seq for article in articles), default=watermark)  # only what the snapshot holds
        _record(run, list(_percolate(run, articles, list(group))), top)


def _new_articles(searcher: Searcher, watermark: int) -> list[_NewArticle]:
    """The articles numbered above ``watermark`` in this snapshot, in ingest order."""
    results = searcher.search(wq.NumericRange("seq", watermark + 1, None), limit=None, scored=False)
    articles = []
    for hit in results:
        stored = hit.fields()
        articles.append(_NewArticle(
            id=stored["id"], seq=int(stored["seq"]), cluster=stored.get("cluster") or stored["id"],
            outlet=stored.get("outlet", "unknown"), actors=frozenset(a for a in stored.get("actor", "").split(",") if a),
            document={name: stored[name] for name in _QUERY_FIELDS if stored.get(name) is not None},
        ))
    return sorted(articles, key=lambda article: article.seq)


def _percolate(run: _Run, articles: list[_NewArticle], alerts: list[SavedSearch]) -> Iterator[_Outcome]:
    """Each alert with its matches among ``articles``, found in one RAM index of just those articles."""
    if not articles:
        yield from (_Outcome(saved, []) for saved in alerts)
        return
    ix = _ScratchInRam().create_index(build_schema())
    writer = ix.writer()
    for article in articles:
        writer.add_document(**article.document, **word_fields(article.document))  # wildcards read the twins
    writer.commit()
    by_id = {article.id: article for article in articles}
    with ix.searcher() as searcher:
        for saved in alerts:
            yield _matches(run, searcher, saved, by_id)


class _ScratchInRam(RamStorage):  # type: ignore[misc]  # whoosh ships no type hints
    """A RAM storage whose writer's scratch files stay in RAM too.

    Whoosh's ``RamStorage.temp_storage`` puts them in ``<system temp
    dir>/MAIN.tmp``: one path for every process on the machine, so two
    instances' alert runs deleted each other's files, and a symlink planted
    there by another local user was followed. The batch is in RAM already.
    """

    def temp_storage(self, name: str | None = None) -> RamStorage:
        return RamStorage()


def _matches(run: _Run, searcher: Searcher, saved: SavedSearch, by_id: dict[str, _NewArticle]) -> _Outcome:
    """One alert's matches. One that cannot run is marked broken and matches nothing, and the others run:
    a query saved before a rule changed (``QueryError``, a warning), or a bug of ours (logged as an error)."""
    try:
        found = matching(searcher, saved.query, run.settings)
    except QueryError as e:
        log.warning("saved search %d cannot run: %s", saved.id, e)
        return _Outcome(saved, [], broken=f"{e.message}{f' ({e.hint})' if e.hint else ''}")
    except Exception as e:
        log.exception("saved search %d failed on our side; the other alerts run", saved.id)
        return _Outcome(saved, [], broken=f"an error on our side ({type(e).__name__}); it is logged for the operator")
    ordered = sorted((by_id[article_id] for article_id in found), key=lambda article: article.seq)
    return _Outcome(saved, [_Match(article, _why(saved, article, found[article.id], run.gazetteer))
                            for article in ordered])


def _why(saved: SavedSearch, article: _NewArticle, words: tuple[str, ...], gazetteer: Gazetteer) -> Reason:
    actors = tuple(gazetteer.label(actor) for actor in saved.query.actor if actor in article.actors)
    return Reason(words=words, actors=actors, outlets=(article.outlet,) if saved.query.outlet else ())


# --- recording: the outbox -------------------------------------------------------


def _record(run: _Run, outcomes: list[_Outcome], top: int) -> None:
    """Each alert's deliveries, watermark and last run, committed together.

    One transaction for the group rather than one per alert: the guarantee
    is the same (an alert's three changes commit together or not at all) and
    thousands of alerts do not pay a disk sync each.
    """
    with _deliveries_db(run.settings) as db, db:
        for outcome in outcomes:
            saved = outcome.saved
            run.report.evaluated += 1
            run.report.broken += outcome.broken is not None
            run.report.matched += _insert(db, run, saved, outcome.matches)
            db.execute("UPDATE saved_searches SET watermark = max(watermark, ?), last_run = ? WHERE id = ?",
                       (top, run.now.isoformat(), saved.id))
            if outcome.broken is None:
                db.execute("DELETE FROM broken_alerts WHERE saved_id = ?", (saved.id,))
            else:
                db.execute("INSERT INTO broken_alerts (saved_id, reason, since) SELECT ?, ?, ? "
                           "WHERE EXISTS (SELECT 1 FROM saved_searches WHERE id = ?) "
                           "ON CONFLICT (saved_id) DO UPDATE SET reason = excluded.reason",
                           (saved.id, outcome.broken, run.now.isoformat(), saved.id))


def _insert(db: sqlite3.Connection, run: _Run, saved: SavedSearch, matches: list[_Match]) -> int:
    """Record an alert's matches (each article once per alert); how many were new."""
    chosen = _first_of_clusters(db, saved.id, matches) if saved.first_of_cluster else matches
    if not chosen:
        return 0
    mid = message_id(run.settings, saved.id, chosen[0].article.seq, chosen[-1].article.seq) if saved.email else None
    status = "pending" if saved.email else "feed"
    rows = [(saved.id, m.article.id, m.article.seq, m.article.cluster, json.dumps(asdict(m.why)), mid, status,
             run.now.isoformat(), saved.id) for m in chosen]
    # A saved search deleted since the run read it gets nothing (rather than failing the others' transaction).
    cursor = db.executemany(
        "INSERT OR IGNORE INTO deliveries (saved_id, article_id, seq, cluster, matched, message_id, status, created) "
        "SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM saved_searches WHERE id = ?)", rows,
    )
    return max(0, cursor.rowcount)


def _first_of_clusters(db: sqlite3.Connection, saved_id: int, matches: list[_Match]) -> list[_Match]:
    """The first match (lowest number) of each cluster this alert has not delivered yet."""
    delivered = {row["cluster"] for row in db.execute("SELECT cluster FROM deliveries WHERE saved_id = ?", (saved_id,))}
    chosen = []
    for match in matches:  # in ingest order
        if match.article.cluster not in delivered:
            delivered.add(match.article.cluster)
            chosen.append(match)
    return chosen


# --- sending -------------------------------------------------------------------------


def _send_pending(run: _Run) -> None:
    """Send every pending message, oldest alert first.

    A message the server refuses for good (``MailRefused``: its recipient)
    is recorded and tried again later, and the others go on; any other
    failure means the server is unreachable or failing for now, so the run
    stops there and everything left stays pending for the next run.
    """
    pending = _pending(run.settings, run.now)
    if pending and not run.settings.smtp_host:
        log.warning("alerts: %d e-mail(s) wait unsent: no SMTP server is set (smtp_host)", len(pending))
    if not pending or not run.settings.smtp_host:
        run.report.pending = len(pending)
        return
    with open_index(run.settings).searcher() as searcher:
        for done, message in enumerate(pending):
            try:
                run.report.sent += _send_one(run, searcher, message)
            except MailRefused as e:
                given_up = _record_refusal(run, message, str(e))
                log.warning("alerts: %s; %s", e, "given up" if given_up else "tried again later")
                run.report.refused += 1
            except AlertError as e:
                log.warning("alerts: %s; %d e-mail(s) stay pending", e, len(pending) - done)
                run.report.pending = len(pending) - done
                run.report.mail_failed = True
                return


def _pending(settings: Settings, now: dt.datetime) -> list[_Pending]:
    """The messages waiting to be sent, but for refused ones not yet due again."""
    with _deliveries_db(settings) as db:
        rows = db.execute(
            "SELECT d.saved_id, d.message_id, d.article_id, d.matched FROM deliveries d "
            "LEFT JOIN mail_refusals r ON r.saved_id = d.saved_id AND r.message_id = d.message_id "
            "WHERE d.status = 'pending' AND (r.saved_id IS NULL OR r.retry_at <= ?) "
            "ORDER BY d.saved_id, d.message_id, d.seq", (now.isoformat(),),
        ).fetchall()
    return [_Pending(saved_id, mid, tuple((row["article_id"], _reason(row["matched"])) for row in group))
            for (saved_id, mid), group in groupby(rows, key=lambda row: (row["saved_id"], row["message_id"]))]


def _send_one(run: _Run, searcher: Searcher, pending: _Pending) -> int:
    """Send one message (1) or settle it without sending (0): e-mail turned off, articles taken down."""
    try:
        saved = saved_by_id(run.settings, pending.saved_id)
    except NotFound:
        return 0  # deleted: its deliveries went with it
    why = dict(pending.articles)
    hits = hits_by_id(searcher, why, run.gazetteer)  # a taken-down article is not mailed
    if not saved.email or not hits:
        _mark_sent(run.settings, pending, "feed" if not saved.email else "sent", run.now)
        return 0
    items = tuple(MailItem(hit, article_link(run.settings, hit.id), why[hit.id]) for hit in hits)
    letter = Letter(saved, get_user(run.settings, saved.user_id), items, pending.message_id,
                    unsubscribe_url(run.settings, saved))
    send_message(run.settings, build_message(run.settings, letter))
    _mark_sent(run.settings, pending, "sent", run.now)
    return 1


def _mark_sent(settings: Settings, pending: _Pending, status: str, now: dt.datetime) -> None:
    with _deliveries_db(settings) as db, db:
        db.execute("UPDATE deliveries SET status = ?, sent_at = ? WHERE saved_id = ? AND message_id = ?",
                   (status, now.isoformat(), pending.saved_id, pending.message_id))
        db.execute("DELETE FROM mail_refusals WHERE saved_id = ? AND message_id = ?",
                   (pending.saved_id, pending.message_id))


def _record_refusal(run: _Run, pending: _Pending, error: str) -> bool:
    """Count one more refusal of ``pending`` and set when it is tried again; whether it is given up."""
    with _deliveries_db(run.settings) as db, db:
        row = db.execute("SELECT attempts FROM mail_refusals WHERE saved_id = ? AND message_id = ?",
                         (pending.saved_id, pending.message_id)).fetchone()
        attempts = (row["attempts"] if row else 0) + 1
        wait = min(_FIRST_RETRY * 2 ** (attempts - 1), _LONGEST_RETRY)
        retry_at = None if attempts >= MAX_REFUSALS else (run.now + wait).isoformat()
        db.execute("INSERT OR REPLACE INTO mail_refusals VALUES (?, ?, ?, ?, ?, ?)",
                   (pending.saved_id, pending.message_id, attempts, error, run.now.isoformat(), retry_at))
    return retry_at is None


# --- plumbing ----------------------------------------------------------------------------


@contextmanager
def _deliveries_db(settings: Settings) -> Iterator[sqlite3.Connection]:
    with saved_db(settings) as db:
        ensure_tables(db, _DDL)
        yield db


@contextmanager
def _exclusive(settings: Settings) -> Iterator[bool]:
    """Whether this process got the instance's alert lock (held until the block ends; never waits)."""
    settings.index.mkdir(parents=True, exist_ok=True)
    with (settings.index / LOCK_FILE).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _reason(text: str) -> Reason:
    values: dict[str, Sequence[str]] = json.loads(text)
    return Reason(**{name: tuple(value) for name, value in values.items()})


def _scheduled(settings: Settings) -> None:
    try:
        report = run_alerts(settings)
    except Exception:
        log.exception("scheduled alert run failed; the next one retries")
        return
    log.info("alerts: %s", report)
