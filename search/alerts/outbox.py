"""The alert outbox: what each saved search matched, what is still to be mailed, what went wrong.

Storage of the alert stage, in the instance's state database beside the
saved searches (search/alerts/saved.py). The runner (search/alerts/runner.py) records one
run's matches here, then sends what is pending through search/alerts/mail.py and
marks it here; the Atom feed (search/alerts/feed.py) and the saved-searches
page read what was delivered. Exports ``record_outcomes`` (with ``Match``
and ``Outcome``), ``pending_messages``, ``mark_sent``, ``record_refusal``
(``MAX_REFUSALS``), ``deliveries`` (``Delivery``) and
``delivery_summaries`` (``DeliverySummary``), and ``claimed`` (``Claim``).

**Each article once: a transactional outbox.** Per alert, in one
transaction, its matches go into ``deliveries`` (primary key saved search +
article, ``ON CONFLICT DO NOTHING``; status ``pending`` with the message's
Message-ID, or ``feed`` for a feed-only alert), its watermark advances to the
highest number in the run's snapshot and ``last_run`` is set (alerts sharing
a watermark share the transaction: same guarantee, one disk sync instead of
thousands). Only then are pending messages sent, each marked ``sent`` after
the SMTP server accepted it.

**Two runners sending at once** (the ``postgres`` backend: several machines
share the state) each take a message with ``claimed``: in one transaction,
its pending rows are locked with ``SELECT ... FOR UPDATE SKIP LOCKED`` — a
message another runner holds is skipped, not waited for — the message is
sent, and it is marked sent before the locks go with the commit. A runner
that dies mid-send loses its connection and with it the locks: the message
is still pending for the next runner, sent again with the same Message-ID
(the one duplicate the runner's docstring allows). With SQLite, runners are
one at a time already (search/alerts/schedule.py's lock), and the claim only
checks the message is still pending.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from itertools import groupby

from search.alerts.mail import Reason, message_id
from search.alerts.saved import saved_db
from search.alerts.schedule import aware
from search.records import SavedSearch
from search.settings import Settings
from search.state import StateConnection, ensure_tables, is_sqlite

_DDL = """
CREATE TABLE IF NOT EXISTS deliveries (
    saved_id INTEGER NOT NULL REFERENCES saved_searches(id) ON DELETE CASCADE,
    article_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    cluster TEXT NOT NULL,
    matched TEXT NOT NULL,       -- JSON: why it matched (search.alerts.mail.Reason)
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


@dataclass(frozen=True)
class Match:
    """One new article an alert matched: what the outbox records of it."""

    article_id: str
    seq: int
    cluster: str
    why: Reason


@dataclass(frozen=True)
class Outcome:
    """One alert's run: its matches in ingest order, or why it could not run (then it matched nothing)."""

    saved: SavedSearch
    matches: list[Match]
    broken: str | None = None


@dataclass(frozen=True)
class PendingMessage:
    """One message waiting: its saved search, Message-ID and articles (in ingest order)."""

    saved_id: int
    message_id: str
    articles: tuple[tuple[str, Reason], ...]


@dataclass(frozen=True)
class Delivery:
    """One article delivered to a saved search (sent, pending or feed-only): when, and why it matched."""

    article_id: str
    created: dt.datetime
    why: Reason


@dataclass(frozen=True)
class DeliverySummary:
    """What a saved search's alert has delivered so far: for its owner's list."""

    articles: int = 0
    last: dt.datetime | None = None
    refused: str | None = None  # the server's answer to its latest refused message
    broken: str | None = None  # why its last run could not run it (it matched nothing then)
    retry_at: dt.datetime | None = None  # when that message is tried again (None with ``refused``: given up)


# --- recording one run -----------------------------------------------------------


def record_outcomes(settings: Settings, outcomes: Sequence[Outcome], top: int, now: dt.datetime) -> int:
    """Each alert's deliveries, watermark (``top``) and last run, committed together; how many deliveries are new.

    One transaction for the group rather than one per alert: the guarantee
    is the same (an alert's three changes commit together or not at all) and
    thousands of alerts do not pay a disk sync each.
    """
    new = 0
    with _outbox_db(settings) as db, db:
        for outcome in outcomes:
            saved = outcome.saved
            new += _insert(db, settings, saved, outcome.matches, now)
            db.execute("UPDATE saved_searches SET watermark = CASE WHEN watermark > ? THEN watermark ELSE ? END, "
                       "last_run = ? WHERE id = ?", (top, top, now.isoformat(), saved.id))
            if outcome.broken is None:
                db.execute("DELETE FROM broken_alerts WHERE saved_id = ?", (saved.id,))
            else:
                db.execute("INSERT INTO broken_alerts (saved_id, reason, since) SELECT ?, ?, ? "
                           "WHERE EXISTS (SELECT 1 FROM saved_searches WHERE id = ?) "
                           "ON CONFLICT (saved_id) DO UPDATE SET reason = excluded.reason",
                           (saved.id, outcome.broken, now.isoformat(), saved.id))
    return new


def _insert(db: StateConnection, settings: Settings, saved: SavedSearch, matches: list[Match],
            now: dt.datetime) -> int:
    """Record an alert's matches (each article once per alert); how many were new."""
    chosen = _first_of_clusters(db, saved.id, matches) if saved.first_of_cluster else matches
    if not chosen:
        return 0
    mid = message_id(settings, saved.id, chosen[0].seq, chosen[-1].seq) if saved.email else None
    status = "pending" if saved.email else "feed"
    rows = [(saved.id, m.article_id, m.seq, m.cluster, json.dumps(asdict(m.why)), mid, status,
             now.isoformat(), saved.id) for m in chosen]
    # A saved search deleted since the run read it gets nothing (rather than failing the others' transaction).
    cursor = db.executemany(
        "INSERT INTO deliveries (saved_id, article_id, seq, cluster, matched, message_id, status, created) "
        "SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM saved_searches WHERE id = ?) "
        "ON CONFLICT (saved_id, article_id) DO NOTHING", rows,
    )
    return max(0, cursor.rowcount)


def _first_of_clusters(db: StateConnection, saved_id: int, matches: list[Match]) -> list[Match]:
    """The first match (lowest number) of each cluster this alert has not delivered yet."""
    delivered = {row["cluster"] for row in db.execute("SELECT cluster FROM deliveries WHERE saved_id = ?", (saved_id,))}
    chosen = []
    for match in matches:  # in ingest order
        if match.cluster not in delivered:
            delivered.add(match.cluster)
            chosen.append(match)
    return chosen


# --- sending: what waits, what went out, what was refused ----------------------------


def pending_messages(settings: Settings, now: dt.datetime) -> list[PendingMessage]:
    """The messages waiting to be sent, oldest alert first, but for refused ones not yet due again."""
    with _outbox_db(settings) as db:
        rows = db.execute(
            "SELECT d.saved_id, d.message_id, d.article_id, d.matched FROM deliveries d "
            "LEFT JOIN mail_refusals r ON r.saved_id = d.saved_id AND r.message_id = d.message_id "
            "WHERE d.status = 'pending' AND (r.saved_id IS NULL OR r.retry_at <= ?) "
            "ORDER BY d.saved_id, d.message_id, d.seq", (now.isoformat(),),
        ).fetchall()
    return [PendingMessage(saved_id, mid, tuple((row["article_id"], _reason(row["matched"])) for row in group))
            for (saved_id, mid), group in groupby(rows, key=lambda row: (row["saved_id"], row["message_id"]))]


def mark_sent(settings: Settings, pending: PendingMessage, status: str, now: dt.datetime) -> None:
    """Settle a message: ``sent`` (the server took it, or nothing was left to send) or ``feed`` (e-mail off)."""
    with _outbox_db(settings) as db, db:
        db.execute("UPDATE deliveries SET status = ?, sent_at = ? WHERE saved_id = ? AND message_id = ?",
                   (status, now.isoformat(), pending.saved_id, pending.message_id))
        db.execute("DELETE FROM mail_refusals WHERE saved_id = ? AND message_id = ?",
                   (pending.saved_id, pending.message_id))


def record_refusal(settings: Settings, pending: PendingMessage, error: str, now: dt.datetime) -> bool:
    """Count one more refusal of ``pending`` and set when it is tried again; whether it is given up."""
    with _outbox_db(settings) as db, db:
        row = db.execute("SELECT attempts FROM mail_refusals WHERE saved_id = ? AND message_id = ?",
                         (pending.saved_id, pending.message_id)).fetchone()
        attempts = (row["attempts"] if row else 0) + 1
        wait = min(_FIRST_RETRY * 2 ** (attempts - 1), _LONGEST_RETRY)
        retry_at = None if attempts >= MAX_REFUSALS else (now + wait).isoformat()
        db.execute("INSERT INTO mail_refusals (saved_id, message_id, attempts, error, refused_at, retry_at) "
                   "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (saved_id, message_id) DO UPDATE SET "
                   "attempts = excluded.attempts, error = excluded.error, refused_at = excluded.refused_at, "
                   "retry_at = excluded.retry_at",
                   (pending.saved_id, pending.message_id, attempts, error, now.isoformat(), retry_at))
    return retry_at is None


class Claim:
    """A runner's hold on one pending message while it sends it (``claimed``)."""

    def __init__(self, db: StateConnection, pending: PendingMessage, now: dt.datetime) -> None:
        self._db, self._pending, self._now = db, pending, now

    def settle(self, status: str) -> None:
        """Mark the message ``sent`` (or ``feed``) in the claim's transaction: committed when the claim ends."""
        self._db.execute("UPDATE deliveries SET status = ?, sent_at = ? WHERE saved_id = ? AND message_id = ?",
                         (status, self._now.isoformat(), self._pending.saved_id, self._pending.message_id))
        self._db.execute("DELETE FROM mail_refusals WHERE saved_id = ? AND message_id = ?",
                         (self._pending.saved_id, self._pending.message_id))


#: A message's pending rows, locked for this runner; rows another runner has locked are skipped, not waited
#: for. The engines differ here: SQLite has no row locks (its runners take turns: search/alerts/schedule.py).
_CLAIM = ("SELECT article_id FROM deliveries WHERE saved_id = ? AND message_id = ? AND status = 'pending'")
_CLAIM_LOCKED = _CLAIM + " FOR UPDATE SKIP LOCKED"


@contextmanager
def claimed(settings: Settings, pending: PendingMessage, now: dt.datetime) -> Iterator[Claim | None]:
    """Hold ``pending`` while it is sent: a ``Claim`` to ``settle`` once the server took it, or None when
    another runner holds it or it is no longer pending (sent meanwhile, or its saved search deleted).

    The hold is a transaction: it commits when the block ends normally (with the claim settled) and rolls
    back on an exception, so a message whose sending failed stays pending.
    """
    with _outbox_db(settings) as db, db:
        rows = db.execute(_CLAIM if is_sqlite(db) else _CLAIM_LOCKED,
                          (pending.saved_id, pending.message_id)).fetchall()
        yield Claim(db, pending, now) if rows else None


# --- reading what was delivered ----------------------------------------------------


def deliveries(settings: Settings, saved_id: int, limit: int) -> list[Delivery]:
    """The saved search's latest ``limit`` deliveries (sent, pending or feed-only), newest first."""
    with _outbox_db(settings) as db:
        rows = db.execute(
            "SELECT article_id, matched, created FROM deliveries WHERE saved_id = ? "
            "ORDER BY created DESC, seq DESC LIMIT ?", (saved_id, limit),
        ).fetchall()
    return [Delivery(row["article_id"], aware(dt.datetime.fromisoformat(row["created"])), _reason(row["matched"]))
            for row in rows]


def delivery_summaries(settings: Settings, saved_ids: Iterable[int]) -> dict[int, DeliverySummary]:
    """Per saved search: articles delivered (any channel, pending mail included), the latest delivery,
    and what went wrong lately (a refused message, a query its last run could not run)."""
    ids = list(saved_ids)
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    with _outbox_db(settings) as db:
        rows = db.execute(f"SELECT saved_id, count(*) AS articles, max(created) AS last FROM deliveries "
                          f"WHERE saved_id IN ({marks}) GROUP BY saved_id", ids).fetchall()
        refusals = db.execute(f"SELECT saved_id, error, retry_at FROM mail_refusals WHERE saved_id IN ({marks}) "
                              f"ORDER BY refused_at", ids).fetchall()
        broken = {row["saved_id"]: row["reason"] for row in
                  db.execute(f"SELECT saved_id, reason FROM broken_alerts WHERE saved_id IN ({marks})", ids)}
    found = {row["saved_id"]: DeliverySummary(row["articles"], aware(dt.datetime.fromisoformat(row["last"])))
             for row in rows}
    for row in refusals:  # the latest wins
        retry = aware(dt.datetime.fromisoformat(row["retry_at"])) if row["retry_at"] else None
        found[row["saved_id"]] = replace(found.get(row["saved_id"], DeliverySummary()), refused=row["error"],
                                         retry_at=retry)
    for saved_id, reason in broken.items():
        found[saved_id] = replace(found.get(saved_id, DeliverySummary()), broken=reason)
    return {saved_id: found.get(saved_id, DeliverySummary()) for saved_id in ids}


# --- plumbing ----------------------------------------------------------------------------


@contextmanager
def _outbox_db(settings: Settings) -> Iterator[StateConnection]:
    with saved_db(settings) as db:
        ensure_tables(db, _DDL)
        yield db


def _reason(text: str) -> Reason:
    values: dict[str, Sequence[str]] = json.loads(text)
    return Reason(**{name: tuple(value) for name, value in values.items()})
