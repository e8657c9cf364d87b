"""Each source's health in one row: the instance's registry, the crawler's record, the schedule and the index.

On top of the whole backend, beside the web app: the ``/sources`` page
(web/sources.py) and the ``newsdesk sources`` command show these rows, so
nothing here reads a request, a session or the app — ``source_rows`` takes
the settings, a reader (None when the index cannot be opened) and the
moment, and reads the state database read-only.

A source is any outlet one of these knows, once:

* the registry (``search.sources.registry``): kept by the instance, crawled
  whenever due — ``status`` ``"kept"``;
* the crawler's record (``search.crawl.crawl_health``): crawled at least
  once, from a sources file too — ``"crawled"``;
* the index (``search.query.outlet_coverage``): outlets with articles,
  those ingested from files included — ``"ingested"`` when nothing else
  knows them (articles without an outlet are the row ``unknown``).

A source's name is the outlet of its articles, so the three are joined on
the name without regard to case (``str.casefold``: Cyrillic and Latin
alike), and the index's outlets differing only in case are counted as one.
The row is named as the registry spells it, else the crawler, else the
index's spelling with the most articles; ``outlets`` lists the index's
spellings, the values its outlet filter takes.

When it is crawled next follows the crawl loop's own rule (``search.crawl.loop``,
what ``newsdesk serve`` runs): the loop follows the instance's sources
(else the default sources file's), and one of them is due when its schedule
says so (``search.crawl.source_schedules``; never crawled to its end: due
now) or when URLs of it wait in the frontier (pages a stopped crawl left, a
failed page whose back-off is over). A source crawled once from another
sources file is followed only when that file is crawled; an ingested-only
outlet is not crawled at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from search.crawl import SourceSchedule, crawl_health, source_schedules
from search.crawl.frontier import SourceHealth, next_fetches
from search.crawl.loop import sources_to_crawl
from search.errors import NewsdeskError
from search.query import OutletCoverage, Reader
from search.records import Source
from search.settings import Settings
from search.sources import RegisteredSource, instance_sources, registered_sources

__all__ = ["QUIET_AFTER", "SourceRow", "Status", "duration_text", "source_rows"]

#: A crawled source with no new article for this long is flagged: worth a look before trusting an empty search.
QUIET_AFTER = dt.timedelta(days=3)

#: Where a source is known from: kept by the instance, crawled (a sources file), or only in the index.
Status = Literal["kept", "crawled", "ingested"]


@dataclass(frozen=True)
class SourceRow:
    """One source: what each part of the instance knows about it, and what a reader wants to know."""

    name: str  # the outlet of its articles
    status: Status
    url: str | None  # its homepage (registry, else the crawler's record); None for an ingested-only outlet
    kept: RegisteredSource | None  # in the registry: its feeds, sitemaps, who added it and when
    crawl: SourceHealth | None  # the crawler's record: successes, failures, its URLs' states
    schedule: SourceSchedule | None  # its place in the crawl schedule; None: not there (yet)
    coverage: OutletCoverage | None  # its articles in the index, every spelling of the name summed; None: none
    outlets: tuple[str, ...]  # the index's spellings of the name (its outlet facet's values), most articles first
    index_read: bool  # False: the index could not be opened, so article counts are unknown (not 0)
    now: dt.datetime  # the moment the row describes (UTC)
    followed: bool = False  # crawled by the crawl loop (``newsdesk serve``): one of the sources it reads
    waiting: dt.datetime | None = None  # when the first URL of it waiting in the frontier is due (None: none waits)

    # --- the articles -------------------------------------------------------

    @property
    def articles(self) -> int | None:
        """Its articles in the index; None when the index could not be read."""
        if self.coverage is not None:
            return self.coverage.articles
        return 0 if self.index_read else None

    @property
    def per_day(self) -> float | None:
        """Articles first indexed per day over the coverage window (7 days)."""
        if self.coverage is not None:
            return self.coverage.per_day
        return 0.0 if self.index_read else None

    @property
    def last_new_article(self) -> dt.datetime | None:
        """The latest moment a new article of it arrived: by the crawler, or into the index by any way."""
        moments = [moment for moment in (_moment(self.crawl.last_new_article if self.crawl else None),
                                         self.coverage.last_added if self.coverage else None) if moment is not None]
        return max(moments, default=None)

    @property
    def dated_share(self) -> float | None:
        """The share of its articles with a publication date; None without articles."""
        return self.coverage.dated_share if self.coverage and self.coverage.articles else None

    @property
    def authored_share(self) -> float | None:
        return self.coverage.authored_share if self.coverage and self.coverage.articles else None

    @property
    def languaged_share(self) -> float | None:
        """The share of its articles whose language is known."""
        return self.coverage.languaged_share if self.coverage and self.coverage.articles else None

    # --- crawling -----------------------------------------------------------

    @property
    def crawled(self) -> bool:
        """Whether the crawler reads it (kept, or crawled before): False for an outlet only ingested."""
        return self.status != "ingested"

    @property
    def failures(self) -> int:
        """Crawls in a row in which every listing of it failed (0 after one that reached it)."""
        return self.schedule.failures if self.schedule is not None else 0

    @property
    def last_error(self) -> str | None:
        """The latest failure's URL and reason, however long ago (``last_failure`` says when)."""
        return self.crawl.last_error if self.crawl is not None else None

    @property
    def last_failure(self) -> dt.datetime | None:
        return _moment(self.crawl.last_failure if self.crawl else None)

    @property
    def last_success(self) -> dt.datetime | None:
        return _moment(self.crawl.last_success if self.crawl else None)

    @property
    def next_crawl(self) -> dt.datetime | None:
        """When the crawl loop takes it next: the earlier of its schedule and its first waiting URL.

        None when it is due now, and when the loop does not follow it — ``due`` and ``followed`` tell which.
        """
        if not self.followed or self.schedule is None or self.schedule.next_crawl_at is None:
            return None
        moments = [moment for moment in (_moment(self.schedule.next_crawl_at), self.waiting) if moment is not None]
        first = min(moments, default=None)
        return first if first is not None and first > self.now else None

    @property
    def due(self) -> bool:
        """Taken at the crawl loop's next turn: never crawled to its end, its time has come, or URLs of it wait."""
        return self.followed and self.next_crawl is None

    @property
    def interval(self) -> dt.timedelta | None:
        """Its time from one crawl to the next (None before its first crawl ended)."""
        if self.schedule is None or self.schedule.interval is None:
            return None
        return dt.timedelta(seconds=self.schedule.interval)

    @property
    def next_crawl_text(self) -> str:
        """"not crawled", "with its sources file only", "due now" or "in 2 h 5 min"."""
        if not self.crawled:
            return "not crawled"
        if not self.followed:
            return "with its sources file only"
        if self.next_crawl is None:
            return "due now"
        return f"in {duration_text((self.next_crawl - self.now).total_seconds())}"

    @property
    def interval_text(self) -> str:
        """"every 35 min", or "" before its first crawl."""
        return f"every {duration_text(self.interval.total_seconds())}" if self.interval is not None else ""

    @property
    def quiet(self) -> bool:
        """Crawled before, yet no new article for ``QUIET_AFTER`` (or ever); a source not crawled yet is not."""
        latest = self.last_new_article
        return self.crawl is not None and (latest is None or self.now - latest > QUIET_AFTER)

    @property
    def warn(self) -> bool:
        """Worth a look before trusting an empty search: failing, or quiet."""
        return self.failures > 0 or self.quiet


def source_rows(
    settings: Settings, reader: Reader | None, now: dt.datetime, *,
    crawled: Sequence[SourceHealth] | None = None,
) -> list[SourceRow]:
    """Every source the instance knows, by name (case-folded), each joined across registry, crawl, schedule, index.

    ``reader``: the index's reader; None when there is no usable index
    (the article columns are then unknown, the rest is shown). ``now``
    (timezone-aware) is the moment the rows describe: the coverage window
    ends there, and "due now" is judged against it. ``crawled``: the
    crawler's source records when the caller has read them already
    (``crawl_health``, whose hosts the page shows too), else read here.
    Reads only; creates nothing.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(dt.UTC)
    kept = {item.source.name.casefold(): item for item in registered_sources(settings)}
    health = {record.name.casefold(): record for record in (crawl_health(settings)[0] if crawled is None else crawled)}
    coverage = _by_name(reader.coverage(now) if reader is not None else [])
    names = {item.source.name for item in kept.values()} | {record.name for record in health.values()}
    schedules = {name.casefold(): entry for name, entry in source_schedules(settings, sorted(names)).items()}
    followed = {source.name.casefold(): source.name for source in _followed(settings)}
    first_due = next_fetches(settings, list(followed.values()))
    waiting = {key: _moment(first_due.get(name)) for key, name in followed.items()}

    rows = []
    for key in kept.keys() | health.keys() | coverage.keys():
        item, record = kept.get(key), health.get(key)
        counted, outlets = coverage.get(key, (None, ()))
        name = item.source.name if item else record.name if record else outlets[0]
        rows.append(SourceRow(
            name=name,
            status="kept" if item else "crawled" if record else "ingested",
            url=item.source.url if item else record.url if record else None,
            kept=item, crawl=record, schedule=schedules.get(key),
            coverage=counted, outlets=outlets,
            index_read=reader is not None, now=now, followed=key in followed, waiting=waiting.get(key),
        ))
    return sorted(rows, key=lambda row: (row.name.casefold(), row.name))


def duration_text(seconds: float) -> str:
    """A span as people say it, two units at most: "40 s", "12 min", "2 h 5 min", "3 d 4 h"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


# --- joining ------------------------------------------------------------------------


def _followed(settings: Settings) -> list[Source]:
    """The sources the crawl loop reads; a default sources file it cannot read leaves it the instance's own."""
    try:
        return sources_to_crawl(settings)
    except NewsdeskError:  # the loop stops on it too: the page still shows everything else
        return instance_sources(settings)


def _by_name(found: Iterable[OutletCoverage]) -> dict[str, tuple[OutletCoverage, tuple[str, ...]]]:
    """The index's outlets by case-folded name: spellings differing only in case counted as one outlet."""
    groups: dict[str, list[OutletCoverage]] = {}
    for row in found:
        groups.setdefault(row.outlet.casefold(), []).append(row)
    merged = {}
    for key, group in groups.items():
        group.sort(key=lambda row: (-row.articles, row.outlet))
        merged[key] = (_sum(group), tuple(row.outlet for row in group))
    return merged


def _sum(group: list[OutletCoverage]) -> OutletCoverage:
    first = group[0]
    if len(group) == 1:
        return first
    moments = [row.last_added for row in group if row.last_added is not None]
    return replace(
        first,
        articles=sum(row.articles for row in group),
        dated=sum(row.dated for row in group),
        authored=sum(row.authored for row in group),
        languaged=sum(row.languaged for row in group),
        last_added=max(moments, default=None),
        added_recently=sum(row.added_recently for row in group),
    )


def _moment(unix: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(unix, dt.UTC) if unix else None
