"""The jobs RQ workers run: the crawler's unit of work, and a batch of pages to clean and enrich.

Sits under ``search.workers``, on top of ``search.crawl`` and
``search.pipeline``: a job is a plain top-level function whose arguments
pickle (RQ's serializer), run by ``newsdesk worker``.

* ``crawl_job(entry, source, context, reply_to, record)``: ``work_entry`` on
  one frontier entry (``fetch_article`` or ``fetch_listing``), with this
  process's ``Fetcher`` whose politeness is kept in Redis (``leases``).
  With ``record`` (the PostgreSQL backend) the worker records the result
  itself with the crawl's own ``Recorder`` — archive, ``Pipeline.commit``,
  frontier marks — and sends back what it counted; without it (the
  embedded backend, one writer) it sends the ``FetchResult`` back to the
  crawl that enqueued it, which records it.
* ``extract_job(pages, reply_to, write)``: clean and enrich a batch of
  pages, sending back each page's outcome; with ``write`` (PostgreSQL) it
  runs the whole pipeline over the batch instead, archive to index.

Every job ends by pushing ``(job id, payload)`` (pickled) onto the Redis
list ``reply_to``, which the enqueuing process reads (``enqueue``). A job
run twice — its worker killed, RQ retrying it — does its work again and
replies again; the enqueuer takes the first reply of each job, and writing
twice changes nothing (article ids are stable, the index skips an
unchanged fingerprint, the archive an identical capture, the frontier's
marks are the same). Jobs never raise for anything a page or a server does.

``NEWSDESK_WORKER_CRASH_AT`` (``fetched`` or ``written``, optionally
``:`` and part of a URL) kills the worker with SIGKILL at that point of a
job (of a job whose URL holds that part): fault injection for the tests of
retries (tests/test_workers_retry.py), never set otherwise.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import signal
import traceback
from dataclasses import dataclass, field

from redis import Redis
from rq import get_current_job

from search.crawl.crawler import CrawlReport, Recorder, work_entry
from search.crawl.fetch import Fetcher
from search.crawl.frontier import Entry, Frontier
from search.crawl.work import FetchContext
from search.enrich import load_gazetteer
from search.errors import ExtractionError, ExtractorFailed
from search.index import ArticleStore, IndexReport, PreparedArticle, open_store, prepare_article
from search.pipeline import Pipeline
from search.records import RawPage, Skipped, Source
from search.settings import Settings
from search.state import open_state
from search.workers.leases import HostLeases, SharedGate

log = logging.getLogger(__name__)

#: Replies wait this long for their reader (an enqueuer gone away leaves nothing behind for good).
REPLY_TTL = 86_400
CRASH_AT = "NEWSDESK_WORKER_CRASH_AT"


@dataclass
class _Process:
    """What one worker process keeps between jobs: its own settings (where it writes), Redis, and the leases it
    holds (the job's host is leased by the worker before the job runs: its requests find it held)."""

    settings: Settings | None = None
    connection: Redis | None = None
    leases: HostLeases | None = None
    fetchers: dict[Settings, Fetcher] = field(default_factory=dict)
    # Its store, kept between jobs: with a PostgreSQL connection per batch the server spent 290 s of CPU on 48k
    # records, with one kept 110 s (bench/pg_scale.py's rq1).
    stores: dict[Settings, ArticleStore] = field(default_factory=dict)


_process = _Process()


def serve_jobs(settings: Settings, connection: Redis, leases: HostLeases) -> None:
    """Make this process a worker: it writes with ``settings`` (its own instance directory and database)."""
    _process.settings, _process.connection, _process.leases = settings, connection, leases


# --- the crawler's unit of work ------------------------------------------------------------------


@dataclass(frozen=True)
class PageOutcome:
    """What cleaning one page of a batch gave (as ``search.pipeline`` counts it)."""

    article: PreparedArticle | None = None
    skipped: str | None = None
    failed: str | None = None


def crawl_job(entry: Entry, source: Source, context: FetchContext, reply_to: str, record: bool) -> None:
    """One frontier entry fetched; recorded here (``record``) or sent back to the crawl's writer."""
    result = work_entry(entry, source, context, _fetcher(context.settings))
    _crash_point("fetched", entry.url)
    payload: object = result
    if record:
        payload = _record(entry, source, context, result)
    _crash_point("written", entry.url)
    _reply(reply_to, payload)


def _record(entry: Entry, source: Source, context: FetchContext, result: object) -> CrawlReport:
    """The crawl's writer, in this worker, for this one result: archive, index, frontier."""
    from search.archive import open_archive

    settings = _process.settings or context.settings
    frontier = Frontier(open_state(settings))
    try:
        # Held for this job only: the workers of one machine share its instance directory and archive.
        with open_archive(settings) as archive:
            pipeline = Pipeline(settings, load_gazetteer(), context.outlets)
            recorder = Recorder([source], settings, frontier, archive, pipeline)
            recorder.handle(entry, result)  # type: ignore[arg-type]
            recorder.flush()
            return recorder.report
    finally:
        frontier.db.close()


# --- a batch of pages to clean and enrich --------------------------------------------------------


def extract_job(pages: list[RawPage | Skipped], settings: Settings, reply_to: str, write: bool) -> None:
    """Clean and enrich ``pages``: each one's outcome sent back, or (``write``) the pipeline run over them here."""
    payload: object
    if write:
        payload = _ingest(pages, _process.settings or settings)
    else:
        pipeline = Pipeline(settings, load_gazetteer())
        payload = [_outcome(pipeline, page) for page in pages]
    _crash_point("written", " ".join(page.origin for page in pages))
    _reply(reply_to, payload)


def _outcome(pipeline: Pipeline, page: RawPage | Skipped) -> PageOutcome:
    if isinstance(page, Skipped):
        return PageOutcome(skipped=page.reason)
    try:
        return PageOutcome(article=prepare_article(pipeline.process(page)))
    except ExtractorFailed as e:
        log.error("failed %s: %s\n%s", page.origin, e.message, traceback.format_exc())
        return PageOutcome(failed=e.message)
    except ExtractionError as e:
        return PageOutcome(skipped=e.message)


def _ingest(pages: list[RawPage | Skipped], settings: Settings) -> IndexReport:
    from search.archive import open_archive
    from search.pipeline import load_pipeline

    report = IndexReport()
    with open_archive(settings) as archive:
        return load_pipeline(settings).run(pages, report, archive, total=len(pages), store=_store(settings))


# --- helpers ---------------------------------------------------------------------------------------


def _store(settings: Settings) -> ArticleStore:
    """This process's store for ``settings`` (its connection kept between jobs)."""
    found = _process.stores.get(settings)
    if found is None:
        found = _process.stores[settings] = open_store(settings)
    return found


def _fetcher(settings: Settings) -> Fetcher:
    """This process's ``Fetcher`` for the crawl's settings, its politeness shared with every worker."""
    found = _process.fetchers.get(settings)
    if found is None:
        found = Fetcher(settings)
        if _process.leases is None:
            _process.leases = HostLeases(_connection())
        found.gate = SharedGate(_process.leases)
        _process.fetchers[settings] = found
    return found


def _connection() -> Redis:
    if _process.connection is None:
        job = get_current_job()
        assert job is not None, "a job's helpers run inside a job"
        _process.connection = job.connection
    return _process.connection


def _reply(reply_to: str, payload: object) -> None:
    job = get_current_job()
    job_id = job.id if job is not None else ""
    connection = _connection()
    with connection.pipeline() as pipe:
        pipe.rpush(reply_to, pickle.dumps((job_id, payload)))
        pipe.expire(reply_to, REPLY_TTL)
        pipe.execute()


@functools.cache
def _crash_at() -> tuple[str, str]:
    point, _, part = os.environ.get(CRASH_AT, "").partition(":")
    return point, part


def _crash_point(name: str, about: str) -> None:
    point, part = _crash_at()
    if point == name and part in about:
        log.warning("crash point %s at %s: killing this worker (%s)", name, about, CRASH_AT)
        os.kill(os.getpid(), signal.SIGKILL)
