"""Crawling without end: the due sources, again and again, beside the web server or on its own.

The top of ``search.crawl``: each turn crawls the sources whose time has
come (``search.crawl.schedule``) in one ``crawl`` — one crawl at a time per
instance, and the index's one writer lock shared with ``newsdesk ingest``,
so a turn that finds either taken waits for the next. Instant alerts
follow each commit of the crawl (``search.pipeline``), so new articles
reach saved searches with no cron job.

* ``crawl_due`` — one turn (``newsdesk crawl --due``);
* ``crawl_loop`` — turns until stopped, in this process (``newsdesk crawl --loop``);
* ``BackgroundCrawler`` — ``crawl_loop`` beside ``newsdesk serve``, in a
  process of its own (``search.processes``): the cleaner's CPU and memory
  stay out of the server, and a crawl killed or crashed costs the server
  nothing (the process starts again and resumes from the frontier).

A source is due when its schedule says so, or when URLs of it wait in the
frontier (a crawl that stopped early to let an ingest write, a failed page
whose back-off is over).

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
from typing import TYPE_CHECKING, Any, Protocol

from search.crawl.frontier import Frontier, next_fetches
from search.crawl.schedule import Schedule, source_schedules
from search.errors import CrawlBusy, IndexBusy, NewsdeskError
from search.records import Source
from search.settings import Settings, seeds_dir
from search.sources import instance_sources, load_sources, remove_source
from search.state import open_state

if TYPE_CHECKING:
    from search.crawl.crawler import CrawlReport

log = logging.getLogger(__name__)

#: Seconds between looks at the schedule while nothing is due (a new source waits at most this long),
#: never more than ``crawl_interval_min``.
CHECK_EVERY = 15.0
#: Seconds a stopping server gives its crawl to commit what it fetched before killing it.
_STOP_WAIT = 30.0


class _Stop(Protocol):
    """A threading or multiprocessing ``Event``: what ends the loop."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


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
    names, now = [source.name for source in sources], now or time.time()
    connection = open_state(settings)
    try:
        # Due by its schedule, or with pages left over (a crawl that stopped early, a failed page's back-off over).
        due = set(Schedule(connection).due_names(names, now)) | Frontier(connection).due_sources(names, now)
    finally:
        connection.close()
    chosen = [source for source in sources if source.name in due]
    if not chosen:
        return Turn((), None)
    return Turn(tuple(source.name for source in chosen), crawl(chosen, settings, progress))


def stop_following(settings: Settings, key: str) -> Source:
    """Remove the kept source named ``key`` (any case) or with ``key`` as its homepage, and its place in the
    schedule, so that one added again later is new again (due at once); its articles stay in the index."""
    source = remove_source(settings, key)
    connection = open_state(settings)
    try:
        Schedule(connection).forget(source.name)
    finally:
        connection.close()
    return source


def seconds_to_next(settings: Settings, sources_file: Path | None = None) -> float:
    """How long until a source is due (0: one is now), at most ``check_every`` (new sources may come)."""
    names = [source.name for source in sources_to_crawl(settings, sources_file)]
    check = check_every(settings)
    if not names:
        return check
    schedules = source_schedules(settings, names)
    first = min((schedules[name].next_crawl_at or 0.0) if name in schedules else 0.0 for name in names)
    first = min([first, *next_fetches(settings, names).values()])
    return max(0.0, min(first - time.time(), check))


def check_every(settings: Settings) -> float:
    return max(0.05, min(CHECK_EVERY, settings.crawl_interval_min))


def crawl_loop(
    settings: Settings, sources_file: Path | None = None, stop: _Stop | None = None,
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
        except NewsdeskError as e:  # an unusable sources file, say: said, and looked at again later
            log.error("crawl: %s", e)
            stop.wait(check_every(settings))
            continue
        except Exception:  # the state database locked too long, a fault of ours: logged in full
            # and tried again later, as the alert scheduler does: a loop left running must outlive one bad turn.
            log.exception("crawl turn failed; next try in %.0f s", check_every(settings))
            stop.wait(check_every(settings))
            continue
        if on_turn is not None and turn.crawled:
            on_turn(turn)
        stop.wait(seconds_to_next(settings, sources_file))


class BackgroundCrawler:
    """``newsdesk serve``'s crawler: ``crawl_loop`` in a process of its own, started again if it dies."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.wait = _STOP_WAIT
        self.thread = threading.Thread(target=self._run, name="newsdesk-crawler", daemon=True)

    def start(self) -> BackgroundCrawler:
        self.thread.start()
        return self

    def shutdown(self, wait: float = _STOP_WAIT) -> None:
        """Stop: a crawl under way commits what it fetched, or is killed after ``wait`` seconds."""
        self.wait = wait
        self.stop.set()
        self.thread.join(wait + 5.0)

    def _run(self) -> None:
        from search.processes import context, death, forwarded_logs

        while not self._has_sources():  # no process, and no memory for the cleaner, until there is work
            if self.stop.wait(check_every(self.settings)):
                return
        ctx = context()
        with forwarded_logs(ctx) as logs:
            while not self.stop.is_set():
                stop = ctx.Event()
                child = ctx.Process(target=_crawl_process, args=(self.settings, stop, logs, logging.getLogger().level),
                                    name="newsdesk-crawler", daemon=True)
                child.start()
                self._watch(child, stop)
                if self.stop.is_set():
                    return
                # Killed, out of memory, a fault of ours: the frontier keeps its place, so start again, not at once.
                log.warning("background crawl process ended (%s); starting again in %.0f s",
                            death(child.exitcode), check_every(self.settings))
                self.stop.wait(check_every(self.settings))

    def _has_sources(self) -> bool:
        try:
            return bool(sources_to_crawl(self.settings))
        except NewsdeskError as e:  # an unusable default sources file: said, and looked at again later
            log.warning("background crawl: %s", e)
        except Exception:  # the state database locked too long, say: this thread must not die of it
            log.exception("background crawl: cannot read the sources; looking again in %.0f s",
                          check_every(self.settings))
        return False

    def _watch(self, child: Any, stop: Any) -> None:
        """Wait for the child; once asked to stop, tell it (the event between crawls, SIGINT during one),
        and kill it if it has not ended ``wait`` seconds later."""
        while child.is_alive() and not self.stop.wait(0.2):
            pass
        if not child.is_alive():
            return
        stop.set()
        os.kill(child.pid, signal.SIGINT)
        child.join(self.wait)
        if child.is_alive():
            child.kill()
            child.join()


def _crawl_process(settings: Settings, stop: Any, logs: Any, level: int) -> None:
    """In the child: ``crawl_loop`` until the server sets ``stop`` or goes away.

    SIGINT comes with ``stop``: during a crawl, the crawl's own handler lets the
    requests in flight finish and commits them (search/crawl/crawler.py);
    between crawls it is ignored (``watch_parent``) and ``stop`` ends the loop.
    """
    from search.processes import log_to, watch_parent

    watch_parent()
    log_to(logs, level)
    try:
        crawl_loop(settings, stop=stop, progress=False, on_turn=_log_turn)
    except KeyboardInterrupt:
        pass  # stopped during a crawl, after keeping what it fetched


def _log_turn(turn: Turn) -> None:
    if turn.report is not None:
        report = turn.report
        log.info("background crawl of %s: fetched %d, failed %d; articles added %d, updated %d",
                 ", ".join(turn.crawled), report.fetched, report.failed, report.added, report.updated)


def start_background_crawler(settings: Settings) -> BackgroundCrawler | None:
    """The background crawler of ``newsdesk serve`` (None when ``crawl_in_background`` is off)."""
    return BackgroundCrawler(settings).start() if settings.crawl_in_background else None
