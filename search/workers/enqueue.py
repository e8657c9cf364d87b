"""The enqueuing side: a crawl or an ingest whose work goes to RQ workers, and whose replies come back.

Sits under ``search.workers``, on top of ``search.crawl`` and
``search.ingest``'s pieces. Who writes depends on the backend:

* **Embedded (Whoosh)**: one writer. ``queued_crawl`` is the crawl itself
  (``search.crawl.crawl``) with its rounds worked by the workers
  (``dispatch``): each ``FetchResult`` comes back and the crawl's own
  ``Recorder`` records it, exactly as for its host threads. ``queued_ingest``
  archives each page, sends batches out to be cleaned and enriched, and
  commits what comes back, in input order, through ``Pipeline.commit``.
* **PostgreSQL**: every worker writes what it fetched or read. The crawl
  here only keeps the rounds going — due URLs out, counts back, until
  nothing is due — and holds neither the archive nor the index.

Each job replies on a Redis list of this run's own; the enqueuer takes the
first reply of each job (a retried job replies twice), and turns a job RQ
gave up on (retries spent) into a failure of its URL or pages. While it
waits it also has the jobs of workers that died on this machine retried
(``runner.reclaim_abandoned``).
"""

from __future__ import annotations

import logging
import pickle
import time
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Generic, TypeVar, cast

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from search.archive import Archive
from search.crawl.crawler import CRAWL_LOCK, CrawlReport, Recorder, crawl
from search.crawl.frontier import Entry, Frontier
from search.crawl.schedule import Schedule
from search.crawl.work import FetchResult, Outcome
from search.errors import CrawlBusy, CrawlError, NotFound, SettingsError
from search.index import IndexReport, PreparedArticle
from search.locks import try_lock
from search.records import RawPage, Skipped, Source
from search.settings import Settings
from search.state import open_state
from search.workers.jobs import PageOutcome, crawl_job, extract_job
from search.workers.runner import QUEUES, announced, reclaim_abandoned

log = logging.getLogger(__name__)
About = TypeVar("About")

#: Times RQ runs a job again after its worker died in it.
RETRIES = 3
#: Seconds one job may run: a page's fetch is bounded by the crawl's timeouts, a batch by the cleaner's.
JOB_TIMEOUT = 900
#: Seconds between checks on jobs that will never reply (RQ gave up on them) while waiting for replies.
_CHECK_EVERY = 1
#: Pages per extraction batch, and the bytes they may hold together.
BATCH_PAGES = 32
_BATCH_BYTES = 16 * 1024 * 1024
#: Batches out at once during a queued ingest (memory stays bounded however many files are read).
_BATCHES_AHEAD = 16


def connect(settings: Settings) -> Redis:
    """The Redis of ``settings.redis_url``, or a ``SettingsError`` saying how to name one."""
    if not settings.redis_url:
        raise SettingsError("no Redis server to take work from: redis_url is not set",
                            hint="set NEWSDESK_REDIS_URL (or redis_url in newsdesk.toml), e.g. redis://localhost:6379/0")
    return Redis.from_url(settings.redis_url)


def writes_in_workers(settings: Settings) -> bool:
    """Whether workers write their own results (PostgreSQL) or send them back to the one writer."""
    return settings.backend == "postgres"


# --- the crawl ------------------------------------------------------------------------------------


def queued_crawl(sources: Sequence[Source], settings: Settings, connection: Redis | None = None, *,
                 workers_write: bool | None = None) -> CrawlReport:
    """Crawl ``sources`` until nothing is due, the URLs fetched by ``newsdesk worker``s.

    ``workers_write`` (default: with the PostgreSQL backend) has each
    worker record what it fetched; else this process records it all. On
    the embedded backend it takes workers sharing this machine's instance
    directory, whose index takes one writer at a time.
    """
    connection = connection or connect(settings)
    with announced(connection):
        return _queued_crawl(sources, settings, connection,
                             writes_in_workers(settings) if workers_write is None else workers_write)


def _queued_crawl(sources: Sequence[Source], settings: Settings, connection: Redis,
                  workers_write: bool) -> CrawlReport:
    if workers_write:
        return _crawl_written_by_workers(sources, settings, connection)

    def dispatch(entries: list[Entry], recorder: Recorder) -> Generator[tuple[Entry, FetchResult], None, None]:
        replies = _Replies[Entry](connection, QUEUES["crawl"])
        for entry in entries:
            replies.enqueue(crawl_job, entry, recorder.sources[entry.source], recorder.context(entry),
                            replies.key, False, meta={"host": entry.host}, about=entry)
        for entry, result in replies.collect():
            yield entry, result if isinstance(result, FetchResult) else _failed(entry, str(result))

    return crawl(sources, settings, progress=False, dispatch=dispatch)


def _crawl_written_by_workers(sources: Sequence[Source], settings: Settings, connection: Redis) -> CrawlReport:
    """Rounds of due URLs out to the workers, which record them; their counts summed."""
    if not sources:
        raise CrawlError("no sources to crawl", hint="add one with `newsdesk sources add URL`")
    with try_lock(settings, CRAWL_LOCK) as got:
        if not got:
            raise CrawlBusy("another crawl of this instance is running", hint="try later")
        frontier = Frontier(open_state(settings))
        try:
            return _rounds(sources, settings, connection, frontier)
        finally:
            frontier.db.close()


def _rounds(sources: Sequence[Source], settings: Settings, connection: Redis, frontier: Frontier) -> CrawlReport:
    from search.crawl.work import FetchContext
    from search.pipeline import load_pipeline
    from search.records import PageHints
    from search.timeparse import parse_iso

    by_name = {source.name: source for source in sources}
    outlets = load_pipeline(settings, sources=sources).outlets
    report = CrawlReport(sources=len(sources))
    started, handled, complete = time.time(), set[str](), False
    frontier.start(list(sources), started)
    try:
        while True:
            entries = [e for e in frontier.due(list(by_name), time.time()) if e.url not in handled]
            if not entries:
                complete = True
                return report
            replies = _Replies[Entry](connection, QUEUES["crawl"])
            for entry in entries:
                handled.add(entry.url)
                hints = PageHints(published=parse_iso(entry.published), published_source=entry.published_source)
                context = FetchContext(settings, hints, entry.validators, outlets)
                replies.enqueue(crawl_job, entry, by_name[entry.source], context, replies.key, True,
                                meta={"host": entry.host}, about=entry)
            for entry, counted in replies.collect():
                _add(report, counted if isinstance(counted, CrawlReport)
                     else CrawlReport(failed=1, failures=[(entry.url, str(counted))]))
    finally:
        Schedule(frontier.db).record_outcomes(list(sources), started, time.time(), settings, complete=complete)


def _add(total: CrawlReport, part: CrawlReport) -> None:
    for item in fields(CrawlReport):
        if item.name == "sources":
            continue
        if item.name == "failures":
            total.failures.extend(part.failures)
        else:
            setattr(total, item.name, getattr(total, item.name) + getattr(part, item.name))


def _failed(entry: Entry, reason: str) -> FetchResult:
    return FetchResult(entry.url, Outcome.FAILED, error=reason)


# --- an ingest ---------------------------------------------------------------------------------------


def queued_ingest(paths: Iterable[str | Path], settings: Settings, connection: Redis | None = None) -> IndexReport:
    """Ingest ``paths`` with the cleaning and enriching done by ``newsdesk worker``s (``newsdesk ingest``'s
    files, manifest by default, no ``--rebuild``)."""
    paths = list(paths)
    missing = [str(path) for path in paths if not Path(path).exists()]
    if missing:
        raise NotFound(f"no such file or folder: {', '.join(missing)}", hint="nothing was changed; check the path")
    connection = connection or connect(settings)
    with announced(connection):
        return _queued_ingest(paths, settings, connection)


def _queued_ingest(paths: list[str | Path], settings: Settings, connection: Redis) -> IndexReport:
    from search.archive import open_archive
    from search.pipeline import load_pipeline
    from search.sources import load_manifest, open_inputs

    report = IndexReport()
    inputs = open_inputs(paths, load_manifest())
    if writes_in_workers(settings):
        replies = _Replies[list[RawPage | Skipped]](connection, QUEUES["extract"])
        collecting = replies.collect()

        def settled(batch: list[RawPage | Skipped], counted: object) -> None:
            _add_ingest(report, counted if isinstance(counted, IndexReport) else _lost(batch, str(counted)))

        for batch in _batches(inputs):
            replies.enqueue(extract_job, batch, settings, replies.key, True, about=batch)
            # A window of batches in Redis, not the whole input: 240,000 records queued at once held them all
            # in Redis's memory (and the enqueuing's) before the first was written.
            if len(replies.waiting) > _BATCHES_AHEAD:
                settled(*next(collecting))
        for batch, counted in collecting:
            settled(batch, counted)
        return report
    pipeline = load_pipeline(settings)
    with open_archive(settings) as archive:  # one writer: archive and index, here
        articles = _extracted(connection, settings, _batches(inputs), archive, report)
        return pipeline.commit(articles, report)


@dataclass
class _Batch:
    pages: list[RawPage | Skipped]
    job_id: str = ""


def _extracted(connection: Redis, settings: Settings, batches: Iterator[list[RawPage | Skipped]],
               archive: Archive, report: IndexReport) -> Iterator[PreparedArticle]:
    """Each batch archived and sent out; the articles back in input order, each linked to its page."""
    replies = _Replies[_Batch](connection, QUEUES["extract"])
    ahead: deque[_Batch] = deque()
    answers: dict[str, object] = {}
    collecting = replies.collect()

    def settle() -> Iterator[PreparedArticle]:
        batch = ahead.popleft()
        while batch.job_id not in answers:
            done, answer = next(collecting)
            answers[done.job_id] = answer
        answer = answers.pop(batch.job_id)
        outcomes = answer if isinstance(answer, list) else [PageOutcome(failed=str(answer))] * len(batch.pages)
        for page, outcome in zip(batch.pages, outcomes, strict=True):
            if isinstance(page, Skipped) or outcome.skipped is not None:
                reason = page.reason if isinstance(page, Skipped) else str(outcome.skipped)
                log.warning("skipped %s: %s", page.origin, reason)
                report.skipped.append((page.origin, reason))
            elif outcome.failed is not None:
                report.failed.append((page.origin, outcome.failed))
            elif outcome.article is not None:
                archive.link(page, outcome.article.article)
                yield outcome.article
        archive.commit()

    for pages in batches:
        with archive.holding():
            for page in pages:
                if isinstance(page, RawPage):
                    archive.add_file(page)
        batch = _Batch(pages)
        batch.job_id = replies.enqueue(extract_job, pages, settings, replies.key, False, about=batch)
        ahead.append(batch)
        while len(ahead) > _BATCHES_AHEAD:
            yield from settle()
    while ahead:
        yield from settle()


def _batches(pages: Iterable[RawPage | Skipped]) -> Iterator[list[RawPage | Skipped]]:
    batch: list[RawPage | Skipped] = []
    size = 0
    for page in pages:
        batch.append(page)
        size += len(page.data) + len(page.text) if isinstance(page, RawPage) else 0
        if len(batch) >= BATCH_PAGES or size >= _BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _add_ingest(total: IndexReport, part: IndexReport) -> None:
    total.added += part.added
    total.updated += part.updated
    total.unchanged += part.unchanged
    total.duplicate += part.duplicate
    total.skipped.extend(part.skipped)
    total.failed.extend(part.failed)
    total.duplicates.extend(part.duplicates)


def _lost(pages: list[RawPage | Skipped], reason: str) -> IndexReport:
    return IndexReport(failed=[(page.origin, reason) for page in pages])


# --- jobs out, replies in --------------------------------------------------------------------------


class _Replies(Generic[About]):
    """Jobs of one round on one queue, and their replies on a list of the round's own."""

    def __init__(self, connection: Redis, queue: str) -> None:
        self.connection = connection
        self.queue = Queue(queue, connection=connection)
        self.key = f"newsdesk:replies:{uuid.uuid4().hex}"
        self.waiting: dict[str, About] = {}  # job id → what it is about (an entry, a batch)

    def enqueue(self, function: Callable[..., None], *args: object, meta: dict[str, str] | None = None,
                about: About) -> str:
        job = self.queue.enqueue(function, *args, retry=Retry(max=RETRIES), job_timeout=JOB_TIMEOUT,
                                 result_ttl=600, meta=meta or {})
        self.waiting[job.id] = about
        return str(job.id)

    def collect(self) -> Generator[tuple[About, object], None, None]:
        """``(about, payload)`` for each job as it replies; a job RQ gave up on gives the reason as payload.

        Closed early (the crawl stopped), the jobs not yet started are cancelled.
        """
        try:
            while self.waiting:
                popped = self.connection.blpop([self.key], timeout=_CHECK_EVERY)
                if popped is not None:
                    job_id, payload = pickle.loads(cast(bytes, popped[1]))
                    if job_id in self.waiting:  # a retried job replies again: the first reply counts
                        yield self.waiting.pop(job_id), payload
                    continue
                yield from self._given_up()
        finally:
            self._cancel()
            self.connection.delete(self.key)

    def _given_up(self) -> Iterator[tuple[About, object]]:
        reclaim_abandoned(self.connection, [self.queue])
        ids = list(self.waiting)
        for job_id, job in zip(ids, Job.fetch_many(ids, connection=self.connection), strict=True):
            status = job.get_status(refresh=False) if job is not None else None
            if job is not None and status not in {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}:
                continue
            if self.connection.llen(self.key):
                return  # replies came meanwhile: read them first (a job may have replied, then failed)
            yield self.waiting.pop(job_id), _why(job)

    def _cancel(self) -> None:
        for job_id in list(self.waiting):
            try:
                Job.fetch(job_id, connection=self.connection).cancel()
            except (NoSuchJobError, InvalidJobOperation):  # finished or gone meanwhile: nothing to cancel
                continue


def _why(job: Job | None) -> str:
    """A job RQ gave up on, in a line: its last error's last line."""
    if job is None:
        return "the workers lost this job"
    result = job.latest_result()
    lines = (result.exc_string or "").strip().splitlines() if result is not None else []
    return f"the workers gave up on it: {lines[-1] if lines else job.get_status(refresh=False)}"
