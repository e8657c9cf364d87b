"""When alerts run: which saved searches are due, the background schedule, one run at a time.

The clock of the alert stage. The runner (search/alerts/runner.py) asks
``due_alerts`` which saved searches to evaluate and holds ``exclusive`` while
it runs; ``schedule_runs`` starts the background job ``newsdesk serve`` runs
alerts from (search/alerts/runner.py ``start_scheduler``). Exports ``due_alerts``,
``exclusive`` (``LOCK_FILE``), ``schedule_runs`` and ``aware``.

Instant alerts are due at every run; daily and weekly alerts when their
delivery time (the user's time zone, at ``hour``, weekly on ``weekday``)
after their last run has passed. One run at a time per instance: a run holds
``alerts.lock`` (``flock``, non-blocking); a second one gets ``False`` at
once, and the next run catches up, since nothing depends on *which* run does
the work.

With the ``postgres`` backend the runs of every machine sharing the database
take turns: the lock is PostgreSQL's session advisory lock ``alerts`` (non-
blocking, ``pg_try_advisory_lock``), on a connection of the run's own held
to its end. A run killed with its machine loses its connection, and the
server lets the lock go with it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.background import BackgroundScheduler

from search.alerts.accounts import list_users
from search.alerts.saved import list_saved
from search.locks import try_lock
from search.records import SavedSearch
from search.settings import Settings
from search.state import in_postgres, lock_key

log = logging.getLogger(__name__)

LOCK_FILE = "alerts.lock"


def due_alerts(settings: Settings, frequencies: tuple[str, ...], now: dt.datetime) -> list[SavedSearch]:
    """The saved searches of ``frequencies`` that deliver somewhere and are due at ``now``."""
    zones = {user.id: user.timezone for user in list_users(settings)}
    return [saved for saved in list_saved(settings) if saved.alerting and saved.frequency in frequencies
            and now >= _next_delivery(saved, zones.get(saved.user_id, "UTC"))]


def _next_delivery(saved: SavedSearch, zone_name: str) -> dt.datetime:
    """When the alert is next due: at once if instant, else the first delivery hour after its last run."""
    since = aware(saved.last_run or saved.created or dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
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


def aware(moment: dt.datetime) -> dt.datetime:
    """A moment in UTC; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


@contextmanager
def exclusive(settings: Settings) -> Iterator[bool]:
    """Whether this process got the instance's alert lock (held until the block ends; never waits)."""
    if in_postgres(settings):
        with _advisory_lock(settings.database_url, lock_key("alerts")) as got:
            yield got
        return
    with try_lock(settings, LOCK_FILE) as got:
        yield got


@contextmanager
def _advisory_lock(url: str, key: int) -> Iterator[bool]:
    """PostgreSQL's session advisory lock ``key``, on a connection of its own: whether it was free."""
    from search.database import connect  # psycopg: the postgres extra's

    connection = connect(url)
    try:
        got = bool(connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])  # type: ignore[index]
        yield got
        if got:
            connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
    finally:
        connection.close()  # lets the lock go in any case


def schedule_runs(settings: Settings, run: Callable[[Settings], object]) -> BackgroundScheduler | None:
    """Call ``run(settings)`` every ``alerts_interval`` seconds in a background thread (None when 0)."""
    if settings.alerts_interval <= 0:
        return None
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(_scheduled, "interval", seconds=settings.alerts_interval, args=[settings, run], id="alerts",
                      max_instances=1, coalesce=True, next_run_time=dt.datetime.now(dt.UTC))
    scheduler.start()
    return scheduler


def _scheduled(settings: Settings, run: Callable[[Settings], object]) -> None:
    try:
        report = run(settings)
    except Exception:
        log.exception("scheduled alert run failed; the next one retries")
        return
    log.info("alerts: %s", report)
