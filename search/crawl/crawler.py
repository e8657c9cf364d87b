"""The crawler: outlets → feeds, sitemaps, homepages → pages, into the pipeline.

The network-facing runner of the pipeline, beside file ingest: where
``search.ingest`` reads ``RawPage``s from files, ``crawl`` fetches them from
the outlets of a sources file (``search.sources.load_sources``) and hands
them to the same stages (``search.pipeline``): its workers clean and enrich,
its writer archives and commits. The crawler itself keeps fetching, the
frontier and scheduling.

One crawl, in rounds until nothing is due:

1. the frontier (``search.crawl.frontier``, SQLite) makes every listing of the
   sources due — feeds, sitemaps, and homepages of sources without feeds;
2. due URLs are grouped by host; ``crawl_concurrency`` hosts are worked at
   once, one worker per host, so each host sees one request at a time with
   the politeness gap between them (``search.crawl.fetch``);
3. the main thread, the only writer, takes each result as it comes: listed
   URLs go into the frontier, page responses into the WARC archive, articles
   into an index batch; a batch is committed to the index before the
   frontier records those pages as done, so a crawl killed at any point
   re-fetches at most the uncommitted batch and never indexes anything twice
   (article ids are stable).

**The unit of work** is ``fetch_article(url, source, context)`` (``search.crawl.work``):
one URL in, one ``FetchResult`` out, picklable and writing nothing;
``work_entry`` runs it for a frontier entry. **The writer** is a
``Recorder``: the RQ workers (``search.workers``) record with it too, and
``crawl(..., dispatch=...)`` has a round's URLs worked by them.

A crawl that runs to the end returns its ``CrawlReport`` even when URLs
failed (they are counted, logged and backed off); only a crawl that cannot
run raises (``CrawlError``, ``IndexBusy``, ``SettingsError``).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from tqdm import tqdm

from search.archive import Archive, open_archive
from search.crawl.discover import Link
from search.crawl.fetch import Fetcher, host_of
from search.crawl.frontier import Entry, Frontier
from search.crawl.schedule import Schedule
from search.crawl.work import FetchContext, FetchResult, Outcome, fetch_article, fetch_listing
from search.errors import CrawlBusy, CrawlError
from search.locks import try_lock
from search.pipeline import Pipeline, load_pipeline
from search.records import PageHints, Source
from search.settings import Settings
from search.state import open_state
from search.timeparse import parse_iso
from search.urls import normalize_url

log = logging.getLogger(__name__)

#: The lock file one crawl at a time holds in the instance directory.
CRAWL_LOCK = "crawl.lock"
#: Without a terminal, log a progress line every this many URLs.
_LOG_EVERY = 100
#: Commit the index batch at least this often (seconds), so a killed crawl
#: re-fetches little even when ``batch_size`` is large and fetching slow.
_FLUSH_EVERY = 15.0


@dataclass
class CrawlReport:
    """What one crawl did; ``failures`` lists (URL, reason)."""

    sources: int = 0
    discovered: int = 0  # URLs new to the frontier
    fetched: int = 0  # responses with a body (200)
    not_modified: int = 0
    robots: int = 0  # URLs robots.txt kept us from
    failed: int = 0
    noindex: int = 0
    unextractable: int = 0
    added: int = 0  # articles new to the index
    updated: int = 0
    unchanged: int = 0
    duplicate: int = 0  # same text as an article of the same outlet: not stored again
    failures: list[tuple[str, str]] = field(default_factory=list)


# --- the crawl ---------------------------------------------------------------------


#: How a round's entries are worked, when not by this process's host threads: given the entries and the
#: ``Recorder`` (for each entry's source and context), yields each entry with its result as they come; closed
#: early when the crawl stops. The workers on Redis give one (``search.workers``).
Dispatch = Callable[[list[Entry], "Recorder"], Generator[tuple[Entry, FetchResult], None, None]]


def crawl(sources: Sequence[Source], settings: Settings, progress: bool | None = None,
          dispatch: Dispatch | None = None) -> CrawlReport:
    """Crawl ``sources`` until nothing is due; ``progress`` shows a bar (default: on a terminal).

    One crawl at a time per instance (``CrawlBusy`` at once for a second
    one); when it ends, each source it reached is given its next crawl time
    (``search.crawl.schedule``). ``dispatch`` works the URLs elsewhere; this
    process still records every result.
    """
    if not sources:
        raise CrawlError("no sources to crawl", hint="add one with `newsdesk sources add URL`")
    names = [source.name for source in sources]
    if len({name.casefold() for name in names}) != len(names):
        raise CrawlError("two sources share a name", hint="each source's name must be unique: it is its outlet")
    with _one_crawl(settings):
        run = _Crawl(sources, settings, progress, dispatch)
        previous = _catch_interrupt(run.stop)
        try:
            run.run()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            run.close()
    return run.report


@contextmanager
def _one_crawl(settings: Settings) -> Iterator[None]:
    """Hold the instance's crawl lock (``crawl.lock``, never waited for): two crawls would share the frontier."""
    with try_lock(settings, CRAWL_LOCK) as got:
        if not got:
            raise CrawlBusy("another crawl of this instance is running",
                            hint="the background crawler of `newsdesk serve` or a `newsdesk crawl`; try later")
        yield


def _catch_interrupt(stop: threading.Event) -> Any:
    """Ctrl-C asks the crawl to stop after the requests in flight (a second one stops at once).

    Only the main thread may set signal handlers; elsewhere Ctrl-C is not ours to catch.
    """
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(number: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    return signal.signal(signal.SIGINT, interrupt)


class Recorder:
    """The crawl's writer: each ``FetchResult`` into frontier, archive and index, and counted in ``report``.

    ``handle`` takes one result (its URL's change of state in one
    transaction), ``flush`` commits the pending articles to the index and
    then marks their pages done. One crawl's main thread uses it for what
    its host threads fetch; the workers on Redis (``search.workers``) use it
    too: on the PostgreSQL backend each worker for what it fetched, on the
    embedded one the queued crawl for what the workers send back.
    """

    def __init__(self, sources: Sequence[Source], settings: Settings, frontier: Frontier, archive: Archive,
                 pipeline: Pipeline | None = None, progress: bool | None = False) -> None:
        self.sources = {source.name: source for source in sources}
        self.settings = settings
        self.pipeline = pipeline or load_pipeline(settings, sources=sources)
        self.report = CrawlReport(sources=len(sources))
        self.frontier = frontier
        self.archive = archive
        self.progress = _Progress(progress)
        self.pending: list[tuple[Entry, FetchResult]] = []
        self.handled: set[str] = set()
        self.flushed_at = time.monotonic()

    def context(self, entry: Entry) -> FetchContext:
        """What the unit of work for ``entry`` is given besides its URL and source."""
        hints = PageHints(published=parse_iso(entry.published), published_source=entry.published_source)
        return FetchContext(self.settings, hints, entry.validators, self.pipeline.outlets)

    def handle(self, entry: Entry, result: FetchResult) -> None:
        self.handled.add(entry.url)
        now = time.time()
        if entry.kind == "page":
            result = self._adopt_canonical_date(entry, result)
            # Before this URL's transaction: the archive commits to the same database itself.
            self._archive(result)
        with self.frontier.db:  # this URL's change of state, with its fetch log, in one transaction
            self.frontier.log(result.exchanges)
            if entry.kind == "page":
                self._handle_page(entry, result, now)
            else:
                self._handle_listing(entry, result, now)
        self._count(result)
        self.progress.advance(self.report)
        if len(self.pending) >= self.settings.batch_size or time.monotonic() - self.flushed_at > _FLUSH_EVERY:
            self.flush()

    def _handle_listing(self, entry: Entry, result: FetchResult, now: float) -> None:
        response = result.response
        if result.outcome is Outcome.LISTING and response is not None:
            links = self._admitted(result.links, self.sources[entry.source])
            added = self.frontier.add_links(links, entry.source, now)
            self.report.discovered += added
            self.progress.grow(added)
            self.frontier.finish(entry, "done", now, response.validators)
            self.frontier.source_event(entry.source, now)
        elif result.outcome is Outcome.NOT_MODIFIED:
            self.frontier.finish(entry, "done", now)
            self.frontier.source_event(entry.source, now)
        else:
            self._finish_failed(entry, result, now)

    def _handle_page(self, entry: Entry, result: FetchResult, now: float) -> None:
        response = result.response
        if result.outcome in {Outcome.ARTICLE, Outcome.UNEXTRACTABLE} and response is not None:
            for url in {normalize_url(response.final_url), *self._canonical(result)} - {entry.url}:
                self.frontier.mark_seen(url, entry.source, now)
        if result.outcome is Outcome.ARTICLE and response is not None:
            # Recorded when its batch is in the index; the bytes are archived, so not kept meanwhile.
            self.pending.append((entry, replace(result, response=replace(response, body=b""), page=None)))
            return
        if result.outcome in {Outcome.UNEXTRACTABLE, Outcome.NOINDEX} and response is not None:
            status = "redirected" if result.redirected else str(result.outcome)
            self.frontier.finish(entry, status, now, response.validators, result.error,
                                 backoff=self.settings.crawl_backoff)
        elif result.outcome is Outcome.NOT_MODIFIED:
            kept = entry.status if entry.status in {"done", "noindex", "unextractable"} else "done"
            self.frontier.finish(entry, kept, now)
        else:
            self._finish_failed(entry, result, now)

    def _finish_failed(self, entry: Entry, result: FetchResult, now: float) -> None:
        status = "robots" if result.outcome is Outcome.ROBOTS else "failed"
        self.frontier.finish(entry, status, now, error=result.error, backoff=self.settings.crawl_backoff)
        if status == "failed":
            self.frontier.source_event(entry.source, now, error=f"{entry.url}: {result.error}")

    def _adopt_canonical_date(self, entry: Entry, result: FetchResult) -> FetchResult:
        """A page reached by another URL takes the date a listing gave its canonical URL.

        Without this, an undated alias (say, from a sitemap) fetched after the
        dated original (from a feed) would overwrite the article without its
        date. The hints are changed before archiving, so a reindex agrees.
        """
        article, page = result.article, result.page
        if article is None or page is None or page.hints.published is not None or not article.url:
            return result
        published, published_source = self.frontier.listed_date(normalize_url(article.url))
        date = parse_iso(published)
        if date is None or article.url == entry.url:
            return result
        hints = replace(page.hints, published=date, published_source=published_source)
        return replace(result, page=replace(page, hints=hints),
                       article=replace(article, published=date, published_source=published_source))

    def _admitted(self, links: Iterable[Link], source: Source) -> list[Link]:
        """Normalised, deduplicated, and pages only where the source's patterns allow."""
        kept: dict[str, Link] = {}
        for link in links:
            url = normalize_url(link.url)
            if link.kind != "page" or source.admits(url):
                kept.setdefault(url, replace(link, url=url))
        return list(kept.values())

    def _canonical(self, result: FetchResult) -> set[str]:
        """The page's canonical URL, when on the same host (a page cannot speak for another site)."""
        url = result.article.url if result.article is not None else None
        if not url or result.response is None or host_of(url) != host_of(result.response.final_url):
            return set()
        return {normalize_url(url)}

    def _archive(self, result: FetchResult) -> None:
        """The bytes as received, under the URL and hints the cleaner was given,
        so ``newsdesk reindex`` replays the page as this crawl saw it.

        Pages the cleaner saw are kept, also those it found no article in (a
        better cleaner may); ``noarchive`` and ``noindex`` pages are not.
        """
        page, response = result.page, result.response
        if page is None or response is None or result.noarchive:
            return
        fetched_at = dt.datetime.fromtimestamp(response.fetched_at, dt.UTC)
        self.archive.add_response(
            page.url or response.final_url, response.status, list(response.headers), response.body, fetched_at,
            page.hints,
        )
        if result.article is not None:  # so a takedown by article id or canonical URL finds it
            self.archive.link(page, result.article)

    def flush(self) -> None:
        """Commit pending articles to the index, then record their pages as done."""
        self.flushed_at = time.monotonic()
        while self.pending:  # one source at a time, each dropped from pending once recorded
            name = self.pending[0][0].source
            self._write(name, [item for item in self.pending if item[0].source == name])
            self.pending = [item for item in self.pending if item[0].source != name]

    def _write(self, name: str, items: list[tuple[Entry, FetchResult]]) -> None:
        articles = [result.article for _, result in items if result.article is not None]
        written = self.pipeline.commit(articles)
        self.report.added += written.added
        self.report.updated += written.updated
        self.report.unchanged += written.unchanged
        self.report.duplicate += written.duplicate
        kept = dict(written.duplicates)  # origin → the id the index kept for that text
        now = time.time()
        with self.frontier.db:
            for entry, result in items:
                assert result.article is not None and result.response is not None
                status = "redirected" if result.redirected else "done"
                article_id = kept.get(result.article.origin, result.article.id)
                self.frontier.finish(entry, status, now, result.response.validators, article_id=article_id,
                                     dated=result.article.published is not None, backoff=self.settings.crawl_backoff)
            self.frontier.source_event(name, now, new_article=written.added > 0)

    def _count(self, result: FetchResult) -> None:
        report = self.report
        if result.response is not None and result.response.status == 200:
            report.fetched += 1
        if result.outcome is Outcome.NOT_MODIFIED:
            report.not_modified += 1
        elif result.outcome is Outcome.ROBOTS:
            report.robots += 1
        elif result.outcome is Outcome.NOINDEX:
            report.noindex += 1
        elif result.outcome is Outcome.UNEXTRACTABLE:
            report.unextractable += 1
        elif result.outcome is Outcome.FAILED:
            report.failed += 1
            report.failures.append((result.url, result.error or "failed"))
            log.info("failed %s: %s", result.url, result.error)  # all are listed in the summary


class _Crawl(Recorder):
    """One crawl's state: the single writer of frontier, archive and index."""

    def __init__(self, sources: Sequence[Source], settings: Settings, progress: bool | None,
                 dispatch: Dispatch | None = None) -> None:
        pipeline = load_pipeline(settings, sources=sources)
        frontier = Frontier(open_state(settings))
        try:
            archive = open_archive(settings)  # waits for another writer, then raises IndexBusy
        except BaseException:
            frontier.db.close()
            raise
        super().__init__(sources, settings, frontier, archive, pipeline, progress)
        self.dispatch = dispatch
        self.fetcher = Fetcher(settings, self.frontier.robots_files())
        self.stop = threading.Event()
        self.yielding = threading.Event()  # another writer waits: stop after the requests in flight
        self.asked_at = time.monotonic()
        self.started = time.time()
        self.completed = False  # every due URL worked: a source with no success was not read

    def run(self) -> None:
        self.progress.grow(self.frontier.start(list(self.sources.values()), time.time()))
        while True:
            due = self.frontier.due(list(self.sources), time.time())
            # A URL is worked once per crawl, even if a zero back-off makes it due again.
            entries = [entry for entry in due if entry.url not in self.handled]
            if not entries:
                self.completed = True
                return
            self._round(entries)
            self.flush()
            if self.stop.is_set():
                raise KeyboardInterrupt  # after keeping everything fetched: the caller says so
            if self.yielding.is_set():
                log.info("crawl: another writer is waiting for the index; stopping here, the rest stays due")
                return

    def close(self) -> None:
        try:
            self.flush()
            self.frontier.save_robots(self.fetcher.robots_files())
            Schedule(self.frontier.db).record_outcomes(list(self.sources.values()), self.started, time.time(),
                                                       self.settings, complete=self.completed)
        finally:
            self.fetcher.close()
            self.archive.close()
            self.progress.close()
            self.frontier.db.close()

    def _round(self, entries: list[Entry]) -> None:
        """Work the entries, one worker per host, taking results as they come."""
        if self.dispatch is not None:
            self._dispatched(self.dispatch, entries)
            return
        results: queue.Queue[tuple[Entry, FetchResult]] = queue.Queue()
        by_host: dict[str, list[Entry]] = defaultdict(list)
        for entry in entries:
            by_host[entry.host].append(entry)
        pool = ThreadPoolExecutor(max_workers=max(1, self.settings.crawl_concurrency), thread_name_prefix="crawl")
        try:
            for group in by_host.values():
                pool.submit(self._host_worker, group, results)
            handled = 0
            while handled < len(entries) and not self.stop.is_set() and not self._writer_waiting():
                try:
                    entry, result = results.get(timeout=0.2)
                except queue.Empty:
                    continue
                self.handle(entry, result)
                handled += 1
        except BaseException:
            self.stop.set()
            raise
        finally:
            # Stopping: workers take no new URL, requests in flight finish, and their results are kept.
            pool.shutdown(wait=True, cancel_futures=True)
            self._drain(results)

    def _dispatched(self, dispatch: Dispatch, entries: list[Entry]) -> None:
        """The round worked elsewhere: each result recorded here as it comes."""
        with closing(dispatch(entries, self)) as results:
            for entry, result in results:
                self.handle(entry, result)
                if self.stop.is_set() or self._writer_waiting():
                    return

    def _writer_waiting(self) -> bool:
        """Whether an ingest (or another writer) waits for the index: then this crawl yields to it, after
        the requests in flight, rather than make it give up. Asked at most once a second."""
        if not self.yielding.is_set() and time.monotonic() - self.asked_at >= 1.0:
            self.asked_at = time.monotonic()
            if self.archive.writer_waiting():
                self.yielding.set()
        return self.yielding.is_set()

    def _host_worker(self, entries: list[Entry], results: queue.Queue[tuple[Entry, FetchResult]]) -> None:
        for entry in entries:
            if self.stop.is_set() or self.yielding.is_set():
                return
            results.put((entry, self._work(entry)))

    def _work(self, entry: Entry) -> FetchResult:
        return work_entry(entry, self.sources[entry.source], self.context(entry), self.fetcher)

    def _drain(self, results: queue.Queue[tuple[Entry, FetchResult]]) -> None:
        while True:
            try:
                entry, result = results.get_nowait()
            except queue.Empty:
                return
            try:
                self.handle(entry, result)
            except Exception:
                log.exception("could not record %s", entry.url)

def work_entry(entry: Entry, source: Source, context: FetchContext, fetcher: Fetcher | None = None) -> FetchResult:
    """The unit of work for one frontier entry (a page or a listing); never raises: a bug costs one URL."""
    try:
        if entry.kind == "page":
            return fetch_article(entry.url, source, context, fetcher)
        return fetch_listing(entry.url, entry.kind, source, context, fetcher)
    except Exception as e:  # a bug must cost one URL, not the crawl
        log.exception("crawling %s failed unexpectedly", entry.url)
        return FetchResult(entry.url, Outcome.FAILED, error=f"internal error: {e!r}")


class _Progress:
    """A bar on a terminal (its total grows as URLs are found); log lines otherwise."""

    def __init__(self, show: bool | None) -> None:
        self.bar = tqdm(total=0, unit="url", desc="crawl") if (sys.stderr.isatty() if show is None else show) else None
        self.done = 0

    def grow(self, count: int) -> None:
        if self.bar is not None and count:
            self.bar.total += count
            self.bar.refresh()

    def advance(self, report: CrawlReport) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.done % _LOG_EVERY == 0:
            log.info("crawl: %d URLs, %d articles added, %d failed", self.done, report.added, report.failed)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
