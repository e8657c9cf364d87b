"""When each source is crawled again: an interval per source that follows how often it publishes.

Sits under ``search.crawl``, above the crawl itself: the crawler records
each source's outcome here when a crawl ends (``record_outcomes``), and the
loops that keep crawling — the background crawler of ``newsdesk serve``
and ``newsdesk crawl --loop`` (``search.crawl.loop``) — ask which sources
are due (``due_names``) and when the next one will be (``next_due``).

**The interval.** A busy outlet is read every few minutes, a quiet one every
few hours. After a crawl that reached the source, its interval is the time
watched divided by the pages that appeared in it::

    interval = watched / max(new pages, 1),  bounded by [floor, crawl_interval_max]

where *watched* is the time since the end of the source's first successful
crawl, at most the last ``WINDOW`` (7 days), and *new pages* are the page
URLs its listings named for the first time in that time (the first crawl's
pages are the backlog, not the rate). A feed gaining an item every ten
minutes settles at ten minutes; one that gains nothing is read at growing
intervals — each quiet crawl lengthens what was watched — up to the maximum.
This is the estimate feed readers use (Miniflux's entry-frequency
scheduler), counted from what the crawler itself saw rather than from
dates the feed claims.

**Failures.** A crawl in which every listing of the source failed doubles
its interval, up to the maximum, until one succeeds again. A source added
just now has no row: it is due at once.

**Manners.** The floor is ``crawl_interval_min``, and never less than the
politeness gap (``crawl_min_gap``) or any ``Crawl-delay`` the robots.txt of
the source's hosts asks for.

Times are Unix seconds. The table is ``crawl_schedule`` in the instance's
state (SQLite, or PostgreSQL: 0004_state.sql), beside the frontier's tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from protego import Protego

from search.crawl.politeness import ROBOTS_TOKEN, origin_of
from search.records import Source
from search.settings import Settings
from search.state import StateConnection, ensure_tables, read_state

_DDL = """
CREATE TABLE IF NOT EXISTS crawl_schedule (
    name TEXT PRIMARY KEY,           -- a source
    interval REAL NOT NULL,          -- seconds from one crawl to the next
    next_crawl_at REAL NOT NULL,     -- due when <= now
    failures INTEGER NOT NULL DEFAULT 0,  -- crawls in a row in which every listing failed
    watched_since REAL,              -- end of the first successful crawl: what came before is backlog
    last_crawl REAL                  -- end of the last crawl that reached it (or failed)
);
"""

#: How far back new pages are counted for a source's rate.
WINDOW = 7 * 86400.0


@dataclass(frozen=True)
class SourceSchedule:
    """A source's place in the schedule (``next_crawl_at`` None: never crawled, due now)."""

    name: str
    interval: float | None
    next_crawl_at: float | None
    failures: int


def next_interval(
    previous: float | None, failed: bool, watched: float, new_pages: int, floor: float, ceiling: float
) -> float:
    """The source's next interval (see the module docstring): bounded by ``floor`` and ``ceiling``."""
    ceiling = max(ceiling, floor)
    if failed:
        return min(max(previous or floor, floor) * 2, ceiling)
    return min(max(watched / max(new_pages, 1), floor), ceiling)


def floor_for(source: Source, settings: Settings, robots: dict[str, Protego]) -> float:
    """The shortest interval ``source`` may have: the setting, the politeness gap, its hosts' Crawl-delay."""
    delays = [
        float(parser.crawl_delay(ROBOTS_TOKEN) or 0.0)
        for url in (source.url, *source.feeds, *source.sitemaps)
        if (parser := robots.get(origin_of(url))) is not None
    ]
    return max([settings.crawl_interval_min, settings.crawl_min_gap, *delays])


class Schedule:
    """The schedule's table on one connection."""

    def __init__(self, connection: StateConnection, readonly: bool = False) -> None:
        self.db = connection
        if not readonly:
            ensure_tables(connection, _DDL)

    def due_names(self, names: Iterable[str], now: float) -> list[str]:
        """The sources among ``names`` due at ``now`` (never crawled included), in the order given."""
        wanted = list(names)
        kept = self._rows(wanted)
        return [name for name in wanted if name not in kept or (kept[name].next_crawl_at or 0.0) <= now]

    def next_due(self, names: Iterable[str]) -> float | None:
        """When the first of ``names`` is due (0.0 when one was never crawled; None for no names)."""
        wanted = list(names)
        kept = self._rows(wanted)
        return min(((kept[name].next_crawl_at or 0.0) if name in kept else 0.0 for name in wanted), default=None)

    def entries(self, names: Iterable[str]) -> dict[str, SourceSchedule]:
        return self._rows(names)

    def record_outcomes(
        self, sources: Sequence[Source], started: float, now: float, settings: Settings, complete: bool = True
    ) -> None:
        """After a crawl that began at ``started``: each source it reached gets its next interval.

        A source succeeded when a listing of it was read since ``started``.
        In a ``complete`` crawl every other source failed (its listings
        failed, or robots.txt keeps us from them); in a stopped one, a source
        with neither a success nor a failure was not reached and keeps its place.
        """
        robots = self._robots()
        with self.db:
            for source in sources:
                health = self.db.execute(
                    "SELECT last_success, last_failure FROM crawl_sources WHERE name = ?", (source.name,)
                ).fetchone()
                succeeded = health is not None and (health["last_success"] or 0) >= started
                failed = not succeeded and (complete or (health is not None and (health["last_failure"] or 0) >= started))
                if succeeded or failed:
                    self._record(source, failed, now, floor_for(source, settings, robots), settings)

    def forget(self, name: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM crawl_schedule WHERE name = ?", (name,))

    def _record(self, source: Source, failed: bool, now: float, floor: float, settings: Settings) -> None:
        row = self.db.execute("SELECT * FROM crawl_schedule WHERE name = ?", (source.name,)).fetchone()
        previous = row["interval"] if row is not None else None
        watched_since = row["watched_since"] if row is not None else None
        if not failed and watched_since is None:
            watched_since = now  # the first crawl that reached it: its pages are the backlog
        new_pages, watched = 0, 0.0
        if watched_since is not None:
            since = max(watched_since, now - WINDOW)
            watched = now - since
            new_pages = int(self.db.execute(
                "SELECT count(*) FROM crawl_frontier WHERE source = ? AND kind = 'page' AND discovered_at > ?",
                (source.name, since),
            ).fetchone()[0])
        interval = next_interval(previous, failed, watched, new_pages, floor, settings.crawl_interval_max)
        failures = (row["failures"] if row is not None else 0) + 1 if failed else 0
        self.db.execute(
            "INSERT INTO crawl_schedule (name, interval, next_crawl_at, failures, watched_since, last_crawl) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET interval = excluded.interval, "
            "next_crawl_at = excluded.next_crawl_at, failures = excluded.failures, "
            "watched_since = excluded.watched_since, last_crawl = excluded.last_crawl",
            (source.name, interval, now + interval, failures, watched_since, now),
        )

    def _rows(self, names: Iterable[str]) -> dict[str, SourceSchedule]:
        wanted = list(names)
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        rows = self.db.execute(f"SELECT * FROM crawl_schedule WHERE name IN ({marks})", wanted).fetchall()
        return {row["name"]: SourceSchedule(row["name"], row["interval"], row["next_crawl_at"], row["failures"])
                for row in rows}

    def _robots(self) -> dict[str, Protego]:
        try:
            rows = self.db.execute("SELECT origin, body FROM crawl_robots WHERE status BETWEEN 200 AND 299").fetchall()
        except sqlite3.OperationalError:  # no crawl has saved robots.txt yet (PostgreSQL's: a subclass)
            return {}
        return {row["origin"]: Protego.parse(bytes(row["body"]).decode("utf-8", errors="replace")) for row in rows}


def source_schedules(settings: Settings, names: Iterable[str]) -> dict[str, SourceSchedule]:
    """Read-only: each named source's place in the schedule (missing: never crawled)."""
    return read_state(settings, lambda db: Schedule(db, readonly=True).entries(names), {})

