"""Alerts: saved searches run against the articles new since their last run, delivered by e-mail and Atom.

After the index stage, the runner of the alert stage: each ingest or crawl
commit calls ``after_commit`` (instant alerts), the scheduler inside
``newsdesk serve`` (``start_scheduler``) and ``newsdesk alerts run`` call
``run_alerts`` (everything due, digests included). Exports those three and
``AlertReport``. Its rooms: which alerts are due, the background schedule
and the one-run-at-a-time lock in search/alerts/schedule.py; the outbox
(matches recorded, messages pending, sent, refused) in search/alerts/outbox.py;
building and sending a message in search/alerts/mail.py; the feed page in
search/alerts/feed.py.

**What is new.** Every article carries its ingest number ``seq``
(search/index/sequence.py); a saved search's ``watermark`` is the number up to
which it has seen the index. The run reads, from one searcher snapshot, the
articles with ``seq`` above the lowest due watermark (a range on ``seq``:
the cost follows the new articles, not the corpus), and **percolates**: it
indexes just those articles in a RAM index with the live schema and runs
each due saved search on it with the results page's own parsing and facet
filters (``search.query.matching``), so an alert matches exactly what the
page would show. Alerts sharing a watermark share one RAM index. An updated
or re-ingested article keeps its number, so it is not new again.

**Each article once, never lost.** The matches, the new watermark and the
last run are committed to the outbox together (search/alerts/outbox.py); only then
are pending messages sent, each marked ``sent`` after the SMTP server
accepted it; a run first (re)sends whatever is still pending, with its
stored Message-ID and the same articles. So a crash before the commit loses
nothing (the watermark did not move), and one after it sends later; no SMTP
server (``smtp_host`` empty) or a failing one leaves messages pending. The
one duplicate possible is a crash after the server accepted a message and
before ``sent`` was recorded: the resend then carries the same Message-ID,
which lets mail software recognise it.

Instant alerts send one message per run listing their new articles; daily
and weekly alerts one digest when their delivery time has come
(search/alerts/schedule.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import groupby

from apscheduler.schedulers.background import BackgroundScheduler

from search.alerts.accounts import get_user
from search.alerts.mail import Letter, MailItem, Reason, article_link, build_message, send_message
from search.alerts.outbox import (
    Match,
    Outcome,
    PendingMessage,
    mark_sent,
    pending_messages,
    record_outcomes,
    record_refusal,
)
from search.alerts.saved import saved_by_id, unsubscribe_url
from search.alerts.schedule import aware, due_alerts, exclusive, schedule_runs
from search.enrich import Gazetteer, load_gazetteer
from search.errors import IndexMissing, MailError, MailRefused, NotFound, QueryError
from search.query import Reader, open_readers
from search.records import FREQUENCIES, SavedSearch, StoredArticle
from search.settings import Settings

log = logging.getLogger(__name__)

@dataclass
class AlertReport:
    """What one run did: alerts evaluated, articles matched, messages sent and still pending."""

    evaluated: int = 0
    matched: int = 0
    sent: int = 0
    pending: int = 0
    locked: bool = False  # another run held the lock: this one did nothing
    mail_error: str | None = None  # why the SMTP server could not be reached or failed for now (``MailError``)
    refused: int = 0  # messages the server refused for good (the others still went out)
    broken: int = 0  # saved searches that could not run (marked broken; the others ran)

    @property
    def mail_failed(self) -> bool:
        return self.mail_error is not None


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
    with exclusive(settings) as held:
        if not held:
            return AlertReport(locked=True)
        run = _Run(settings, aware(now or dt.datetime.now(dt.UTC)), gazetteer or load_gazetteer())
        try:
            _evaluate(run, due_alerts(settings, tuple(frequencies or FREQUENCIES), run.now))
        finally:
            if send:
                _send_pending(run)  # also after a failed evaluation: earlier messages still go out
            else:
                run.report.pending = len(pending_messages(settings, run.now))
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
    return schedule_runs(settings, run_alerts)


# --- what matched: percolation over the new articles --------------------------------


def _evaluate(run: _Run, due: list[SavedSearch]) -> None:
    if not due:
        return
    try:
        reader = open_readers(run.settings, fresh=True).snapshot()
    except IndexMissing:
        log.info("alerts: no index yet, nothing is new")
        return
    try:
        fresh = reader.new_articles(min(saved.watermark for saved in due))
        for watermark, group in groupby(sorted(due, key=lambda s: s.watermark), key=lambda s: s.watermark):
            articles = [article for article in fresh if article.seq > watermark]
            top = max((article.seq for article in articles), default=watermark)  # only what the snapshot holds
            _record(run, list(_percolate(run, reader, articles, list(group))), top)
    finally:
        reader.close()


def _percolate(run: _Run, reader: Reader, articles: list[StoredArticle], alerts: list[SavedSearch]) -> Iterator[Outcome]:
    """Each alert with its matches among ``articles``, all matched at once against one percolator of just those
    (a backend may match the whole group in one go: search/query/pg_percolate.py)."""
    percolator = reader.percolator(articles)
    try:
        by_id = {article.id: article for article in articles}
        # A date preset counts back from this run's moment: "past week" is the week before each run.
        found = percolator.match_all([replace(saved.query, now=run.now) for saved in alerts])
        for saved, matched in zip(alerts, found, strict=True):
            yield _matches(run, saved, matched, by_id)
    finally:
        percolator.close()


def _matches(run: _Run, saved: SavedSearch, found: dict[str, tuple[str, ...]] | Exception,
             by_id: dict[str, StoredArticle]) -> Outcome:
    """One alert's matches. One that cannot run is marked broken and matches nothing, and the others run:
    a query saved before a rule changed (``QueryError``, a warning), or a bug of ours (logged as an error)."""
    if isinstance(found, QueryError):
        log.warning("saved search %d cannot run: %s", saved.id, found)
        return Outcome(saved, [], broken=f"{found.message}{f' ({found.hint})' if found.hint else ''}")
    if isinstance(found, Exception):
        log.error("saved search %d failed on our side; the other alerts run", saved.id, exc_info=found)
        return Outcome(saved, [], broken=f"an error on our side ({type(found).__name__}); it is logged for the "
                                         "operator")
    ordered = sorted((by_id[article_id] for article_id in found), key=lambda article: article.seq)
    return Outcome(saved, [Match(article.id, article.seq, article.cluster,
                                 _why(saved, article, found[article.id], run.gazetteer)) for article in ordered])


def _why(saved: SavedSearch, article: StoredArticle, words: tuple[str, ...], gazetteer: Gazetteer) -> Reason:
    actors = tuple(gazetteer.label(actor) for actor in saved.query.actor if actor in article.actors)
    return Reason(words=words, actors=actors, outlets=(article.outlet,) if saved.query.outlet else ())


def _record(run: _Run, outcomes: list[Outcome], top: int) -> None:
    """Each alert's matches, watermark and last run into the outbox, in one transaction (search/alerts/outbox.py)."""
    run.report.matched += record_outcomes(run.settings, outcomes, top, run.now)
    run.report.evaluated += len(outcomes)
    run.report.broken += sum(outcome.broken is not None for outcome in outcomes)


# --- sending -------------------------------------------------------------------------


def _send_pending(run: _Run) -> None:
    """Send every pending message, oldest alert first.

    A message the server refuses for good (``MailRefused``: its recipient)
    is recorded and tried again later, and the others go on; any other
    ``MailError`` means the server is unreachable or failing for now, so the
    run stops there and everything left stays pending for the next run.
    """
    pending = pending_messages(run.settings, run.now)
    if pending and not run.settings.smtp_host:
        log.warning("alerts: %d e-mail(s) wait unsent: no SMTP server is set (smtp_host)", len(pending))
    if not pending or not run.settings.smtp_host:
        run.report.pending = len(pending)
        return
    reader = open_readers(run.settings, fresh=True).snapshot()
    try:
        for done, message in enumerate(pending):
            try:
                run.report.sent += _send_one(run, reader, message)
            except MailRefused as e:
                given_up = record_refusal(run.settings, message, str(e), run.now)
                log.warning("alerts: %s; %s", e, "given up" if given_up else "tried again later")
                run.report.refused += 1
            except MailError as e:  # MailRefused is caught above
                log.warning("alerts: %s; %d e-mail(s) stay pending", e, len(pending) - done)
                run.report.pending = len(pending) - done
                run.report.mail_error = str(e)
                return
    finally:
        reader.close()


def _send_one(run: _Run, reader: Reader, pending: PendingMessage) -> int:
    """Send one message (1) or settle it without sending (0): e-mail turned off, articles taken down."""
    try:
        saved = saved_by_id(run.settings, pending.saved_id)
    except NotFound:
        return 0  # deleted: its deliveries went with it
    why = dict(pending.articles)
    hits = reader.hits(why)  # a taken-down article is not mailed
    if not saved.email or not hits:
        mark_sent(run.settings, pending, "feed" if not saved.email else "sent", run.now)
        return 0
    items = tuple(MailItem(hit, article_link(run.settings, hit.id), why[hit.id]) for hit in hits)
    letter = Letter(saved, get_user(run.settings, saved.user_id), items, pending.message_id,
                    unsubscribe_url(run.settings, saved))
    send_message(run.settings, build_message(run.settings, letter))
    mark_sent(run.settings, pending, "sent", run.now)
    return 1
