"""The ``newsdesk worker`` and ``newsdesk queue`` commands: work on RQ workers over Redis (``search.workers``).

Part of the command line (``web/cli.py`` builds the parser and runs a
command); the stages are imported lazily, so start-up stays quick. Both
need ``redis_url`` (``NEWSDESK_REDIS_URL``).

    newsdesk worker [--queues crawl,extract] [--burst]   take jobs until stopped (or, --burst, until none is left)
    newsdesk queue crawl [--sources FILE]                a crawl whose URLs the workers fetch
    newsdesk queue ingest PATH...                        an ingest whose pages the workers clean and enrich

The queued commands are ``crawl`` and ``ingest`` with the work done by the
workers: they wait for it, and print what ``crawl`` and ``ingest`` print.
With the embedded backend they are the one writer (the workers send their
results back); with PostgreSQL the workers write, and they keep count.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from search.errors import SettingsError
from search.settings import Settings

if TYPE_CHECKING:
    from search.crawl import CrawlReport
    from search.index import IndexReport


def worker_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    worker = commands.add_parser("worker", parents=[common],
                                 help="take crawl and extraction jobs from Redis (redis_url) until stopped")
    worker.add_argument("--queues", default="crawl,extract", metavar="NAMES",
                        help="the queues to take jobs from, comma-separated: crawl, extract (default: both)")
    worker.add_argument("--burst", action="store_true", help="stop once the queues are empty")
    worker.set_defaults(command=_worker)

    queued = commands.add_parser("queue", help="crawl or ingest with the work done by `newsdesk worker`s")
    actions = queued.add_subparsers(required=True, metavar="ACTION")
    crawl = actions.add_parser("crawl", parents=[common], help="crawl the sources, the URLs fetched by the workers")
    crawl.add_argument("--sources", metavar="FILE", help="crawl the outlets of this sources file instead")
    crawl.set_defaults(command=_queue_crawl)
    ingest = actions.add_parser("ingest", parents=[common],
                                help="ingest files and collections, the pages cleaned and enriched by the workers")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="as for `newsdesk ingest`")
    ingest.set_defaults(command=_queue_ingest)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from search.workers import QUEUES, connect, run_worker

    names = [name.strip() for name in args.queues.split(",") if name.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if unknown or not names:
        raise SettingsError(f"no such queue: {', '.join(unknown) or '(none given)'}",
                            hint=f"--queues takes {', '.join(QUEUES)}, comma-separated")
    connection = connect(settings)
    print(f"worker on {', '.join(names)} — index: {settings.index}, backend: {settings.backend}", flush=True)
    worked = run_worker(settings, connection, names, burst=args.burst)
    if args.burst:
        print("queues empty: done" if worked else "queues empty: nothing to do")
    return 0


def _queue_crawl(args: argparse.Namespace, settings: Settings) -> int:
    from search.crawl.loop import sources_to_crawl
    from search.errors import CrawlError
    from search.workers import connect, queued_crawl

    connection = connect(settings)  # before anything else: no Redis, no crawl
    sources = sources_to_crawl(settings, Path(args.sources) if args.sources else None)
    if not sources:
        raise CrawlError(f"no sources to crawl in {settings.index}",
                         hint=f"add one with `newsdesk sources add URL --index {settings.index}`")
    _print_crawl(queued_crawl(sources, settings, connection), settings)
    return 0


def _queue_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from search.workers import connect, queued_ingest

    report = queued_ingest(args.paths, settings, connect(settings))
    return _print_ingest(report, settings)


def _print_crawl(report: CrawlReport, settings: Settings) -> None:
    for url, reason in report.failures:
        print(f"failed {url}: {reason}")
    print(f"sources {report.sources}, discovered {report.discovered}, fetched {report.fetched}, "
          f"not modified {report.not_modified}, skipped by robots.txt {report.robots}, failed {report.failed}, "
          f"noindex {report.noindex}, no article found {report.unextractable}; "
          f"articles added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
          f"duplicate {report.duplicate} — index: {settings.index}")


def _print_ingest(report: IndexReport, settings: Settings) -> int:
    for origin, reason in report.failed:
        print(f"failed {origin}: {reason}", file=sys.stderr)
    print(f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
          f"skipped {len(report.skipped)}, duplicate {report.duplicate}"
          f"{f', failed {len(report.failed)}' if report.failed else ''} — index: {settings.index}")
    return 1 if report.failed else 0
