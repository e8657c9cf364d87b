"""The crawler: outlets → feeds, sitemaps, homepages → pages, into the pipeline.

Where it sits: a runner on top of the pipeline, like ``search.ingest`` for
files. Its fetching half (``fetch``, ``politeness``, ``discover``,
``frontier``) needs no other stage; its unit of work (``work``) hands each
page to ``search.pipeline``, and its single writer (``crawler``) archives
and commits.

Exports: ``crawl`` (one crawl of a list of ``Source``s) and its
``CrawlReport``, ``crawl_health`` (each source's and host's record);
``find_source`` (a homepage or feed address → a checked ``Source``);
``crawl_due``, ``crawl_loop`` and ``start_background_crawler`` (crawling
each source when it is due), ``source_schedules`` (when that is),
``stop_following`` (a kept source removed, with its place in the schedule).

Modules: ``crawler`` (rounds, the writer, progress), ``work`` (the
picklable unit of work ``fetch_article``), ``fetch`` (HTTP, robots.txt,
conditional GETs), ``politeness`` (robots rules, the per-host gap),
``addresses`` (public addresses only, for sources added on the web),
``discover`` (feeds, sitemaps, homepage links), ``frontier`` (the URLs
to fetch, in SQLite), ``finder`` (a source from its homepage),
``schedule`` (each source's interval), ``loop`` (crawling when due).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search.crawl.frontier import crawl_health
from search.crawl.schedule import SourceSchedule, source_schedules

if TYPE_CHECKING:
    from search.crawl.crawler import CrawlReport, crawl
    from search.crawl.finder import FoundSource, find_source
    from search.crawl.loop import (
        BackgroundCrawler,
        Turn,
        crawl_due,
        crawl_loop,
        start_background_crawler,
        stop_following,
    )

_LAZY = {
    "CrawlReport": "crawler", "crawl": "crawler", "FoundSource": "finder", "find_source": "finder",
    "BackgroundCrawler": "loop", "Turn": "loop", "crawl_due": "loop", "crawl_loop": "loop",
    "start_background_crawler": "loop", "stop_following": "loop",
}


def __getattr__(name: str) -> Any:
    # The crawler (and through the pipeline the cleaner, lxml and trafilatura)
    # loads on first use: the web server imports this package for
    # ``crawl_health`` only (tests/test_server_memory.py).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"search.crawl.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "BackgroundCrawler",
    "CrawlReport",
    "FoundSource",
    "SourceSchedule",
    "Turn",
    "crawl",
    "crawl_due",
    "crawl_health",
    "crawl_loop",
    "find_source",
    "source_schedules",
    "start_background_crawler",
    "stop_following",
]
