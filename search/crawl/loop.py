"""Crawling without end: the due sources, again and again, beside the web server or on its own.

The top of ``search.crawl``: each turn crawls the sources whose time has
come (``search.crawl.schedule``) in one ``crawl`` — one crawl at a time per
instance, and the index's one writer lock shared with ``newsdesk ingest``,
so a turn that finds either taken waits for the next. Instant alerts
follow each commit of the crawl (``search.pipeline``), so new articles
reach saved searches with no cron job.

* ``crawl_due`` — one turn (``newsdesk crawl --due``);
* ``crawl_loop`` — turns until stopped, in this process (``newsdesk crawl --loop``);
* ``BackgroundCrawler`` — turns in a thread of ``newsdesk serve``, each
  crawl in a child process (``search.processes``): the cleaner's CPU and
  memory stay out of the server, and a crawl killed or crashed costs the
  server nothing (the next turn resumes from the frontier).

Which sources: those of a sources file when one is given, else the
instance's own (``newsdesk sources add``), else the default sources file
(``seeds/sources.toml``), read afresh each turn so a source added while the
loop runs is crawled at once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.crawl.schedule import Schedule, source_schedules
from search.errors import CrawlBusy, IndexBusy, NewsdeskError
from search.records import Source
from search.settings import Settings, seeds_dir
from search.sources import instance_sources, load_sources
from search.state import open_state

if TYPE_CHECKING:
    from search.crawl.crawler import CrawlReport

log = logging.getLogger(__name__)

#: Seconds between looks at the schedule while nothing is due (a new source waits at most this long),
#: never more than ``crawl_interval_min``.
CHECK_EVERY = 15.0
#: Seconds a stopping server gives its crawl to commit what it fetched before killing it.
_STOP_WAIT = 30.0


@dataclass(frozen=True)
class Turn:
    """What one turn did: the sources crawled (none: nothing was due) and the crawl's report."""

    crawled: tuple[str, ...]
    report: CrawlReport | None


def sources_to_crawl(settings: Settings, sources_file: Path | None = None) -> list[Source]:
    """The file's sources when given, else the instance's, else the default sources file's."""
    if sources_file is not None:
        return load_sources(sources_file)
    kept = instance_sources(settings)
    if kept:
        return kept
    default = seeds_dir() / "sources.toml"
    return load_sources(default) if default.is_file() else []


def crawl_due(settings: Settings, sources_file: Path | None = None, progress: bool | None = False,
              now: float | None = None) -> Turn:
    """Crawl the sources that are due now; ``CrawlBusy`` / ``IndexBusy`` when another crawl or writer runs."""
    from search.crawl.crawler import crawl

    sources = sources_to_crawl(settings, sources_file)
    if not sources:
        return Turn((), None)
    connection = open_state(settings)
    try:
        due = set(Schedule(connection).due_names([source.name for source in sources], now or time.time()))
    finally:
        connection.close()
    chosen = [source for source in sources if source.name in due]
    if not chosen:
        return Turn((), None)
    return Turn(tuple(source.name for source in chosen), crawl(chosen, settings, progress))


def seconds_to_next(settings: Settings, sources_file: Path | None = None) -> float:
    """How long until a source is due (0: one is now), at most ``check_every`` (new sources may come)."""
    names = [source.name for source in sources_to_crawl(settings, sources_file)]
    check = check_every(settings)
    if not names:
        return check
    schedules = source_schedules(settings, names)
    first = min((schedules[name].next_crawl_at or 0.0) if name in schedules else 0.0 for name in names)
    return max(0.0, min(first - time.time(), check))


def check_every(settings: Settings) -> float:
    return max(0.05, min(CHECK_EVERY, settings.crawl_interval_min))


def crawl_loop(
    settings: Settings, sources_file: Path | None = None, stop: threading.Event | None = None,
    progress: bool | None = None, on_turn: Callable[[Turn], object] | None = None,
) -> None:
    """Crawl due sources until ``stop`` is set (or Ctrl-C): ``newsdesk crawl --loop``."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            turn = crawl_due(settings, sources_file, progress)
        except (CrawlBusy, IndexBusy) as e:
            log.warning("crawl waits: %s", e)
            stop.wait(check_every(settings))
            continue
        if on_turn is not None and turn.crawled:
            on_turn(turn)
        stop.wait(seconds_to_next(settings, sources_file))


class BackgroundCrawler:
    """``newsdesk serve``'s crawler: a thread that starts a crawl process whenever a source is due."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.child: Any = None
        self.thread = threading.Thread(target=self._run, name="newsdesk-crawler", daemon=True)

    def start(self) -> BackgroundCrawler:
        self.thread.start()
        return self

    def shutdown(self, wait: float = _STOP_WAIT) -> None:
        """Stop: a crawl under way commits what it fetched (SIGINT), or is killed after ``wait`` seconds."""
        self.stop.set()
        child = self.child
        if child is not None and child.is_alive():
            os.kill(child.pid, signal.SIGINT)
            child.join(wait)
            if child.is_alive():
                child.kill()
                child.join()
        self.thread.join(wait)

    def _run(self) -> None:
        from search.processes import context, death, forwarded_logs

        ctx = context()
        with forwarded_logs(ctx) as logs:
            while not self.stop.is_set():
                try:
                    waiting = seconds_to_next(self.settings)
                except NewsdeskError as e:  # an unusable sources file, say: said once a check, not fatal
                    log.warning("background crawl: %s", e)
                    waiting = check_every(self.settings)
                if waiting > 0:
                    self.stop.wait(waiting)
                    continue
                child = ctx.Process(target=_crawl_process, args=(self.settings, logs, logging.getLogger().level),
                                    name="newsdesk-crawler")
                child.start()
                self.child = child
                child.join()
                self.child = None
                if child.exitcode != 0:  # busy, or a fault: the same sources are due again, so not at once
                    if child.exitcode != _BUSY:
                        log.warning("background crawl process ended (%s); next try in %.0f s",
                                    death(child.exitcode), check_every(self.settings))
                    self.stop.wait(check_every(self.settings))


#: The crawl process's exit status when another crawl or writer held the instance.
_BUSY = 3


def _crawl_process(settings: Settings, logs: Any, level: int) -> None:
    """In the child: one turn, its summary logged; exit status ``_BUSY`` when it could not run."""
    from search.processes import log_to, watch_parent

    watch_parent()  # the crawl catches SIGINT itself, to commit what it fetched before it stops
    log_to(logs, level)
    try:
        turn = crawl_due(settings)
    except (CrawlBusy, IndexBusy) as e:
        log.info("background crawl waits: %s", e)
        raise SystemExit(_BUSY) from None
    except KeyboardInterrupt:
        return  # asked to stop: what was fetched is committed
    if turn.report is not None:
        report = turn.report
        log.info("background crawl of %s: fetched %d, failed %d; articles added %d, updated %d",
                 ", ".join(turn.crawled), report.fetched, report.failed, report.added, report.updated)


def start_background_crawler(settings: Settings) -> BackgroundCrawler | None:
    """The background crawler of ``newsdesk serve`` (None when ``crawl_in_background`` is off)."""
    return BackgroundCrawler(settings).start() if settings.crawl_in_background else None
