"""Workers on Redis: the crawl's unit of work and extraction batches as RQ jobs, politeness across workers.

Where it sits: a stage of its own above ``search.crawl`` and
``search.ingest``'s pipeline (``search.pipeline``), which it runs in other
processes: ``newsdesk worker`` (web/cli_worker.py) takes jobs from the
Redis of ``redis_url``; ``newsdesk queue crawl`` and ``newsdesk queue
ingest`` put the work there and wait for it.

Who writes: with the PostgreSQL backend every worker archives, commits
(``Pipeline.commit``) and marks the frontier for what it fetched or read —
no single writer; with the embedded (Whoosh) backend the results come back
to the process that enqueued them, the one writer, which records them with
the crawl's own ``Recorder`` (``search.crawl.crawler``).

Politeness holds across workers and machines: a host is leased to one
worker at a time and the gap since its last request is kept in Redis
(``leases``); a worker that cannot have a host puts the job back and takes
another. A worker killed mid-job has its job retried by RQ, and writing
twice indexes nothing twice (``jobs``).

Exports: ``queued_crawl``, ``queued_ingest`` (the enqueuing side),
``run_worker`` and ``QUEUES`` (the worker side), ``connect`` (the Redis of
the settings, or a clear error), ``HostLeases`` and ``SharedGate``.

Modules: ``enqueue`` (jobs out, replies in), ``jobs`` (the job functions),
``runner`` (the RQ worker with host leases, abandoned jobs reclaimed),
``leases`` (host leases and the shared gap).
"""

from __future__ import annotations

from search.workers.enqueue import connect, queued_crawl, queued_ingest
from search.workers.leases import HostLeases, SharedGate
from search.workers.runner import QUEUES, run_worker

__all__ = ["QUEUES", "HostLeases", "SharedGate", "connect", "queued_crawl", "queued_ingest", "run_worker"]
