"""The pipeline: the one place the stages are put in order.

    archive → clean → enrich → candidates → index → alerts

Three runners feed it pages and never wire the stages themselves:

* ``newsdesk ingest`` (``search.ingest``): files are archived, cleaned,
  enriched, and committed with instant alerts after each index commit;
* ``newsdesk reindex`` (``search.ingest``): the archive replays its pages
  into a new index, without alerts (nothing is new to the instance);
* the crawler (``search.crawl``): its workers run ``Pipeline.process`` on
  each fetched page (``fetch_article`` stays the picklable unit of work),
  and its single writer archives the response, links it to its article and
  calls ``Pipeline.commit``.

A page that holds no article is skipped with its reason counted; a page the
cleaner fails on (a bug of ours or a library's) is logged with its traceback
and counted as failed. Neither stops a run.

Ingest and reindex clean and enrich in ``workers`` processes (the setting,
by default every core this process may use), and then write the index in a
process of its own (search/processes.py). The parent keeps the archive (each
page added before it goes to a worker, linked once its article is back) and
hands the articles on, in the order their pages went out, to the one index
writer; a bounded number of pages is in flight, so a run gives the same
index, ids and counts with one worker or many and its memory stays flat
however many files it reads. A worker or the writer that dies (killed, out of
memory) stops the run with an error: the pages it held are never silently
lost.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import traceback
from collections import Counter, deque
from collections.abc import Generator, Iterable, Iterator, Mapping, Sized
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from functools import partial

from search.alerts import after_commit
from search.archive import Archive
from search.clean import clean
from search.enrich import Gazetteer, enrich, load_gazetteer, record_candidates
from search.errors import ExtractionError, ExtractorFailed, NewsdeskError
from search.index import ArticleStore, IndexReport, PreparedArticle, open_store, prepare_article
from search.processes import context, death, forwarded_logs, log_to, watch_parent, write_in_process
from search.records import Article, RawPage, Skipped, Source
from search.settings import Settings, seeds_dir
from search.sources import instance_sources, load_sources, outlets_by_host

log = logging.getLogger(__name__)

#: Crawler workers share one gazetteer automaton (pyahocorasick), which does
#: not document reading from several threads at once, so enrichment takes
#: turns; it is a small part of a page's cost. (Language detection, in the
#: cleaner, gives each call its own seeded detector and needs no lock.)
_ENRICH_LOCK = threading.Lock()

#: Below this many pages a run cleans in its own process: starting workers
#: costs about a second (bench/ingest_cores.py), what a few dozen pages take.
_POOL_MIN_PAGES = 64
#: Pages in flight per worker, and in bytes for them all: enough to keep the
#: workers busy while the parent commits a batch (seconds, at 500 articles),
#: bounded so that memory does not grow with the input.
_AHEAD_PER_WORKER = 32
_AHEAD_BYTES = 64 * 1024 * 1024
#: Articles handed on together, their pages catalogued in the archive in one
#: transaction (``Archive.holding``): archiving a record took 0.40 ms with a
#: commit for each, 0.28 ms held (2,688 records of the shared corpus). Few, so the
#: transaction is held briefly: the index writer writes to the same database
#: after each batch, and waits for it meanwhile.
_GROUP = 8
#: Cleaning workers yield the CPU to the parent and the index writer, which
#: set the pace: a worker's page can wait, the one writer's batch cannot.
_WORKER_NICENESS = 5


@dataclass(frozen=True)
class Pipeline:
    """The stages' shared inputs, read once per run: settings, the actor
    gazetteer and the sources file's host → outlet map."""

    settings: Settings
    gazetteer: Gazetteer = field(default_factory=load_gazetteer)
    outlets: Mapping[str, str] = field(default_factory=dict)

    def process(self, page: RawPage) -> Article:
        """Clean and enrich one page, or raise ``ExtractionError`` (``ExtractorFailed``
        for a failure of ours rather than of the page)."""
        article = clean(page, self.settings, self.outlets)
        with _ENRICH_LOCK:
            return enrich(article, self.gazetteer, self.settings.langdetect_seed)

    def run(
        self,
        pages: Iterable[RawPage | Skipped],
        report: IndexReport,
        archive: Archive,
        *,
        keep: bool = True,
        total: int | None = None,
        store: ArticleStore | None = None,
        given: set[str] | None = None,
        alerts: bool = True,
        replay: bool = False,
    ) -> IndexReport:
        """The whole pipeline over a run's pages: ``articles`` into ``commit`` (see both).

        A run large enough for worker processes (``settings.workers`` above
        one, ``total`` at least ``_POOL_MIN_PAGES``) also writes the index in
        a process of its own (search/processes.py), so the parent only reads,
        archives, and hands on; the index is the same.
        """
        parallel = self._parallel(pages, total)
        # Closed however the run ends, so its worker processes stop now (see ``_articles``).
        with closing(self._articles(pages, report, archive, keep, parallel)) as articles:
            if not parallel:
                return self.commit(articles, report, store=store, given=given, alerts=alerts, replay=replay)
            log.info("writing the index in a process of its own")
            recorded = self._with_candidates(articles, replay, given)
            return write_in_process(recorded, self.settings, report, store=store or open_store(self.settings),
                                    alerts=alerts)

    def articles(
        self,
        pages: Iterable[RawPage | Skipped],
        report: IndexReport,
        archive: Archive,
        *,
        keep: bool = True,
        total: int | None = None,
    ) -> Iterator[Article | PreparedArticle]:
        """archive → clean → enrich over a run's pages, skips and failures counted in ``report``.

        ``keep`` archives each page before it is cleaned, so a better cleaner
        can reindex even the rejected ones (off for a replay of the archive
        itself). Each article is then linked to its page in the archive, so a
        takedown by its id or canonical URL finds the page.

        Cleaning and enriching run in ``settings.workers`` processes when
        there is more than one and the run has at least ``_POOL_MIN_PAGES``
        pages (``total``, when ``pages`` cannot say its length); the
        articles, counts and archive come out the same either way. A worker
        also prepares its article for the index (``prepare_article``: the
        document and its analysed texts), sparing the one writer that work.
        """
        return self._articles(pages, report, archive, keep, self._parallel(pages, total))

    def _parallel(self, pages: Iterable[RawPage | Skipped], total: int | None) -> bool:
        if total is None and isinstance(pages, Sized):
            total = len(pages)
        return self.settings.workers > 1 and (total is None or total >= _POOL_MIN_PAGES)

    def _articles(
        self, pages: Iterable[RawPage | Skipped], report: IndexReport, archive: Archive, keep: bool, parallel: bool
    ) -> Generator[Article | PreparedArticle, None, None]:
        if parallel:
            workers = self.settings.workers
            log.info("cleaning in %d worker processes", workers)
            outcomes = self._in_workers(pages, archive, keep, workers)
        else:
            outcomes = self._here(pages, archive, keep)
        ready: list[Article | PreparedArticle] = []
        # Closed here, however this generator ends: left to the garbage collector, the worker pool inside
        # would be stopped at whatever moment it runs, in whatever thread, which can deadlock.
        with closing(outcomes), archive.holding():
            for page, outcome in outcomes:
                if isinstance(page, Skipped):
                    _skip(report, page.origin, page.reason)
                elif outcome.failed is not None:
                    if outcome.error is not None:
                        log.error("failed %s: %s", page.origin, outcome.failed, exc_info=outcome.error)
                    else:  # from a worker: its traceback came as text
                        log.error("failed %s: %s\n%s", page.origin, outcome.failed, outcome.trace.rstrip())
                    report.failed.append((page.origin, outcome.failed))
                elif outcome.skipped is not None:
                    _skip(report, page.origin, outcome.skipped)
                elif outcome.article is not None:
                    archive.link(page, outcome.article)
                    ready.append(outcome.prepared or outcome.article)
                if len(ready) >= _GROUP:
                    # Committed before the articles go on: the code they go to writes to the
                    # state database (candidates, ingest numbers, alerts), and must not wait for us.
                    archive.commit()
                    yield from ready
                    ready = []
            archive.commit()
            yield from ready

    def _here(
        self, pages: Iterable[RawPage | Skipped], archive: Archive, keep: bool
    ) -> Generator[tuple[RawPage | Skipped, _Outcome], None, None]:
        """Each page archived, then cleaned and enriched in this process, one at a time."""
        for page in pages:
            if isinstance(page, Skipped):
                yield page, _ACQUIRED_SKIP
                continue
            if keep:
                archive.add_file(page)
            yield page, _attempt(self, page, keep_error=True)

    def _in_workers(
        self, pages: Iterable[RawPage | Skipped], archive: Archive, keep: bool, workers: int
    ) -> Generator[tuple[RawPage | Skipped, _Outcome], None, None]:
        """Each page archived, then cleaned and enriched in a worker process; outcomes in input order.

        At most ``_AHEAD_PER_WORKER`` pages per worker, and about
        ``_AHEAD_BYTES``, are in flight (a page larger than that goes alone). A page
        whose URL is still in flight waits for it: the archive links an
        article to the latest capture of its URL, so two captures of one URL
        are added and linked in the one-process order.
        """
        ahead: deque[tuple[RawPage | Skipped, Future[_Outcome] | None]] = deque()
        urls: Counter[str] = Counter()
        size = 0  # bytes in flight: each page travels as its bytes and its text

        def settle() -> tuple[RawPage | Skipped, _Outcome]:
            nonlocal size
            page, future = ahead.popleft()
            if future is None or isinstance(page, Skipped):
                return page, _ACQUIRED_SKIP
            size -= len(page.data) + len(page.text)
            if page.url:
                urls[page.url] -= 1
            try:
                return page, future.result()
            except BrokenProcessPool as e:
                raise _died(pool, _held([(page, future), *ahead], workers)) from e

        with _worker_pool(self, workers) as pool:
            for page in pages:
                future = None
                if isinstance(page, RawPage):
                    while page.url and urls[page.url]:
                        yield settle()
                    if keep:
                        archive.add_file(page)
                    try:
                        future = pool.submit(_work, page)
                    except (BrokenProcessPool, BrokenPipeError) as e:  # a worker died starting or meanwhile
                        raise _died(pool, _held(ahead, workers)) from e
                    size += len(page.data) + len(page.text)
                    if page.url:
                        urls[page.url] += 1
                ahead.append((page, future))
                while len(ahead) > workers * _AHEAD_PER_WORKER or (size > _AHEAD_BYTES and len(ahead) > 1):
                    yield settle()
            while ahead:
                yield settle()

    def commit(
        self,
        articles: Iterable[Article | PreparedArticle],
        report: IndexReport | None = None,
        *,
        store: ArticleStore | None = None,
        given: set[str] | None = None,
        alerts: bool = True,
        replay: bool = False,
    ) -> IndexReport:
        """candidates → index → alerts: write the articles in batches to ``store`` (default: the instance's).

        Titled people the gazetteer does not know are recorded as candidate
        actors on the way (a ``replay`` gives them all again, so it replaces
        them). With ``alerts``, instant alerts run after each index commit;
        they never raise, so an SMTP outage cannot stop a run. The counts go
        to ``report`` (a new one when none is given), which is returned.
        Each article's id handed on is added to ``given`` (a rebuild's: it
        removes what the run no longer gives).
        """
        recorded = self._with_candidates(articles, replay, given)
        on_commit = partial(after_commit, self.settings) if alerts else None
        return (store or open_store(self.settings)).write(recorded, report, on_commit=on_commit)

    def _with_candidates(self, items: Iterable[Article | PreparedArticle], replay: bool,
                         given: set[str] | None = None) -> Iterator[Article | PreparedArticle]:
        """The items as they came, each article's candidate actors recorded before it is passed on."""
        pending: deque[Article | PreparedArticle] = deque()

        def articles() -> Iterator[Article]:
            for item in items:
                pending.append(item)
                article = item.article if isinstance(item, PreparedArticle) else item
                if given is not None:
                    given.add(article.id)
                yield article

        for _ in record_candidates(articles(), self.settings, self.gazetteer, replace=replay):
            yield pending.popleft()

    def alert(self) -> None:
        """Instant alerts on what is new to the instance, after a rebuilt index is swapped in."""
        after_commit(self.settings)


def load_pipeline(
    settings: Settings, gazetteer: Gazetteer | None = None, sources: Iterable[Source] | None = None
) -> Pipeline:
    """The pipeline for one run.

    ``sources`` name the outlets of their hosts (the crawl's, or by default
    the instance's own sources and then the sources file's,
    ``seeds/sources.toml``: a page of a kept source's site is that outlet's,
    ingested or crawled). Ingest needs no sources file, so a missing default
    one maps no host; a broken one is an error.
    """
    if sources is None:
        default = seeds_dir() / "sources.toml"
        sources = [*instance_sources(settings), *(load_sources(default) if default.exists() else ())]
    return Pipeline(settings, gazetteer or load_gazetteer(), outlets_by_host(sources))


# --- the outcome of one page, and the worker processes ------------------------


@dataclass(frozen=True)
class _Outcome:
    """What cleaning and enriching one page gave: its article, a skip's reason,
    or a failure's message, with its traceback as text (a traceback does not
    pickle) or, in this process, the exception itself."""

    article: Article | None = None
    prepared: PreparedArticle | None = None  # the article prepared for the index, by a worker
    skipped: str | None = None
    failed: str | None = None
    trace: str = ""
    error: ExtractorFailed | None = None


#: A page that could not be acquired: the runner's ``Skipped`` carries the reason.
_ACQUIRED_SKIP = _Outcome()


def _attempt(pipeline: Pipeline, page: RawPage, *, keep_error: bool = False) -> _Outcome:
    try:
        return _Outcome(article=pipeline.process(page))
    except ExtractorFailed as e:
        return _Outcome(failed=e.message, trace=traceback.format_exc(), error=e if keep_error else None)
    except ExtractionError as e:
        return _Outcome(skipped=e.message)


#: The pipeline of a worker process, unpickled once by ``_start_worker``.
_worker_pipeline: Pipeline | None = None


def _start_worker(pipeline: Pipeline, logs: multiprocessing.Queue[logging.LogRecord], level: int) -> None:
    """A worker's set-up: the run's pipeline, its log records sent to the parent, Ctrl-C left to the parent."""
    global _worker_pipeline
    _worker_pipeline = pipeline
    os.nice(_WORKER_NICENESS)
    watch_parent()
    log_to(logs, level)


def _work(page: RawPage) -> _Outcome:
    """One page in a worker process (the pipeline came with ``_start_worker``), its article prepared for the index."""
    assert _worker_pipeline is not None, "a worker runs pages only after _start_worker"
    outcome = _attempt(_worker_pipeline, page)
    if outcome.article is None:
        return outcome
    return replace(outcome, prepared=prepare_article(outcome.article))


@contextmanager
def _worker_pool(pipeline: Pipeline, workers: int) -> Iterator[ProcessPoolExecutor]:
    """``workers`` processes holding the pipeline (started as search/processes.py starts every process),
    their log records handled here; stopped on the way out."""
    ctx = context()
    with forwarded_logs(ctx) as logs:
        pool = ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_start_worker,
            initargs=(pipeline, logs, logging.getLogger().getEffectiveLevel()),
        )
        try:
            yield pool
        except BaseException:
            # An error, Ctrl-C, or the consumer gone: the pages still in flight
            # are abandoned, and a worker must not finish a long page first.
            for process in list((pool._processes or {}).values()):  # no public way before Python 3.14
                process.terminate()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _held(ahead: Iterable[tuple[RawPage | Skipped, Future[_Outcome] | None]], workers: int) -> list[RawPage]:
    """The pages the workers may have held when the pool broke.

    The pool hands pages out in order, to the workers and one more to their
    queue, so the pages a worker was cleaning are among the oldest
    unfinished ones: those that never got an outcome.
    """
    unfinished = [page for page, future in ahead if isinstance(page, RawPage) and future is not None
                  and (not future.done() or future.exception() is not None)]
    return unfinished[: workers + 1]


def _died(pool: ProcessPoolExecutor, held: list[RawPage]) -> NewsdeskError:
    """The error that stops a run whose worker process died, naming how and the pages it may have held."""
    exits = {death(p.exitcode) for p in (pool._processes or {}).values() if p.exitcode is not None}
    deaths = sorted(exits - {"SIGTERM"})  # SIGTERM: the pool stopping the others
    return NewsdeskError(
        f"a worker process died ({', '.join(deaths) or 'cause unknown'}) "
        f"while cleaning one of: {', '.join(page.origin for page in held) or 'no page'}",
        hint="the batches committed before are kept, and a run again completes the rest; "
             "a process killed by SIGKILL is often the out-of-memory killer's doing (see the system log)",
    )


def _skip(report: IndexReport, origin: str, reason: str) -> None:
    log.warning("skipped %s: %s", origin, reason)
    report.skipped.append((origin, reason))
