"""``newsdesk worker``: an RQ worker that takes a job only when its host is free.

Sits under ``search.workers``, the process side of its jobs (``jobs``).
The worker is RQ's ``SimpleWorker`` — jobs run in the worker's own process,
so its ``Fetcher`` (robots.txt cache, connections) and the gazetteer are
read once per process, not once per job — with two things added:

* **Host leases before a job runs.** A crawl job names its host
  (``job.meta["host"]``). Before running it the worker takes the host's
  lease (``leases``); when another worker holds it, or the host's gap has
  not passed, the job goes back to the end of its queue and the worker takes
  the next one: it does not sit idle on a busy host. Only when it has come
  round to a job it already put back (everything queued is waiting on a
  host) does it pause, until the first of those hosts is free.
* **Jobs of dead workers retried at once.** A job whose worker died (killed,
  out of memory) stays in RQ's ``StartedJobRegistry`` until its heartbeat
  runs out, and RQ's registry cleanup then retries it (``Retry``) or fails
  it. When the dead worker ran on this machine, its process is known to be
  gone: ``reclaim_abandoned`` marks its executions expired, and the same
  cleanup retries them now. Every worker does so when it starts, and every
  enqueuer while it waits.

``--burst`` stops a worker once the queues are empty and no enqueuer waits
for work (each announces itself in Redis while it runs, ``announced``): a
crawl enqueues in rounds, and the queues are empty between two of them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.worker import BaseWorker

from search.settings import Settings
from search.workers.jobs import serve_jobs
from search.workers.leases import HostLeases, SharedGate, process_alive

log = logging.getLogger(__name__)

#: The queues, by the name ``newsdesk worker --queues`` takes.
QUEUES = {"crawl": "newsdesk-crawl", "extract": "newsdesk-extract"}
#: Keys of the enqueuers running, and how long one outlives its process.
ENQUEUER_PREFIX = "newsdesk:enqueuer:"
_ANNOUNCE_TTL_MS = 15_000
#: Seconds between the worker's RQ maintenance (registry cleanup): RQ's default is ten minutes.
_MAINTENANCE_INTERVAL = 30
#: Seconds the listener of RQ's command channel waits for a message at a time.
_LISTEN = 0.5
#: Longest pause when every queued job waits on a busy host.
_MAX_PAUSE = 1.0
#: Pause when the host is busy for an unknown time (its lease is held).
_BUSY_PAUSE = 0.05


class LeasingWorker(SimpleWorker):
    """RQ's ``SimpleWorker``, taking a crawl job only with its host's lease (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.leases = HostLeases(self.connection)
        self.gate = SharedGate(self.leases)
        self._put_back: dict[str, float] = {}  # job id → seconds its host waits, since the last job run

    def subscribe(self) -> None:
        """RQ's command channel (``rq`` can stop a worker), its listener waking every ``_LISTEN`` seconds.

        RQ listens in waits of 60 s, and redis-py 8 waits for the listener when it is stopped: every worker
        would take up to a minute to exit.
        """
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # RQ declares it None only
            sleep_time=_LISTEN, daemon=True, exception_handler=self._pubsub_exception_handler)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None
                                     ) -> tuple[Job, Queue] | None:
        if timeout is not None:  # not a burst: RQ waits for jobs itself
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while True:
            found = super().dequeue_job_and_maintain_ttl(None, max_idle_time)
            if found is not None or not enqueuers_waiting(self.connection):
                return found
            # Empty, but a crawl or ingest is running: more work may come. Wait for it (blocking, a second at a time).
            found = super().dequeue_job_and_maintain_ttl(1, 1)
            if found is not None:
                return found

    def execute_job(self, job: Job, queue: Queue) -> None:
        host = job.meta.get("host")
        if not host:
            super().execute_job(job, queue)
            return
        waiting = self.gate.waiting(host)
        lease = self.leases.acquire(host) if waiting <= 0 else None
        if lease is None:
            self._requeue(job, queue, waiting)
            return
        self._put_back.clear()
        try:
            super().execute_job(job, queue)
        finally:
            self.leases.release(lease)

    def _requeue(self, job: Job, queue: Queue, waiting: float) -> None:
        """The job to the end of its queue, untouched (no retry spent); a pause once all have been put back."""
        if job.id in self._put_back:
            pause = min((wait or _BUSY_PAUSE for wait in self._put_back.values()), default=_BUSY_PAUSE)
            time.sleep(min(pause, _MAX_PAUSE))
            self._put_back.clear()
        self._put_back[job.id] = waiting
        with self.connection.pipeline() as pipe:
            # Dequeuing moved the id to RQ's intermediate list (one queue) or off the queue (several).
            pipe.lrem(queue.intermediate_queue_key, 1, job.id)
            queue.push_job_id(job.id, pipeline=pipe)
            pipe.execute()


def enqueuers_waiting(connection: Redis) -> bool:
    """Whether a queued crawl or ingest is running (and may enqueue more)."""
    return next(iter(connection.scan_iter(f"{ENQUEUER_PREFIX}*", count=1000)), None) is not None


@contextmanager
def announced(connection: Redis) -> Iterator[None]:
    """This process announced as an enqueuer for the block (its key renewed by a thread, gone at the end or
    soon after the process dies)."""
    key, stop = f"{ENQUEUER_PREFIX}{uuid.uuid4().hex}", threading.Event()
    connection.set(key, os.getpid(), px=_ANNOUNCE_TTL_MS)

    def renew() -> None:
        while not stop.wait(_ANNOUNCE_TTL_MS / 3000):
            connection.pexpire(key, _ANNOUNCE_TTL_MS)

    renewer = threading.Thread(target=renew, name="announce", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        connection.delete(key)


def run_worker(settings: Settings, connection: Redis, queues: list[str], burst: bool = False) -> bool:
    """Work ``queues`` (names as in ``QUEUES``) until stopped, or (``burst``) until they are empty.

    Returns whether any job was taken.
    """
    rq_queues = [Queue(QUEUES[name], connection=connection) for name in queues]
    reclaim_abandoned(connection, rq_queues)
    worker = LeasingWorker(rq_queues, connection=connection, maintenance_interval=_MAINTENANCE_INTERVAL)
    serve_jobs(settings, connection, worker.leases)
    return bool(worker.work(burst=burst, logging_level=logging.getLevelName(logging.getLogger().level)))


def reclaim_abandoned(connection: Redis, queues: list[Queue]) -> int:
    """Retry now the started jobs whose worker ran on this machine and is gone; returns how many.

    Their executions are marked expired in the ``StartedJobRegistry`` and
    RQ's own cleanup handles them as it would after their heartbeat ran out:
    retried while the job has retries left, else failed.
    """
    reclaimed = 0
    for queue in queues:
        registry = StartedJobRegistry(queue=queue)
        dead = [(job_id, execution_id)
                for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False)
                if _worker_gone(connection, Execution.fetch(execution_id, job_id, connection).worker_name)]
        if not dead:
            continue
        for job_id, execution_id in dead:
            log.warning("job %s: its worker on this machine is gone; retrying it", job_id)
            # The registry's entry is "job id:execution id", scored by when its heartbeat runs out.
            connection.zadd(registry.key, {f"{job_id}:{execution_id}": 0})
        registry.cleanup()
        reclaimed += len(dead)
    return reclaimed


def _worker_gone(connection: Redis, name: str) -> bool:
    if not name:
        return False
    worker = BaseWorker.find_by_key(BaseWorker.redis_worker_namespace_prefix + name, connection=connection)
    if worker is None:
        return True  # its registration ran out: no heartbeat for minutes
    return worker.hostname == socket.gethostname() and worker.pid is not None and not process_alive(worker.pid)
