"""The crawler: outlets → feeds, sitemaps, homepages → pages, into the pipeline.

Where it sits: a runner on top of the pipeline, like ``search.ingest`` for
files. Its fetching half (``fetch``, ``politeness``, ``discover``,
``frontier``) needs no other stage; its unit of work (``work``) hands each
page to ``search.pipeline``, and its single writer (``crawler``) archives
and commits.

Exports: ``crawl`` (one crawl of a list of ``Source``s) and its
``CrawlReport``, ``crawl_health`` (each source's and host's record).

Modules: ``crawler`` (rounds, the writer, progress), ``work`` (the
picklable unit of work ``fetch_article``), ``fetch`` (HTTP, robots.txt,
conditional GETs), ``politeness`` (robots rules, the per-host gap),
``discover`` (feeds, sitemaps, homepage links), ``frontier`` (the URLs
to fetch, in SQLite).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search.crawl.frontier import crawl_health

if TYPE_CHECKING:
    from search.crawl.crawler import CrawlReport, crawl


def __getattr__(name: str) -> Any:
    # The crawler (and through the pipeline the cleaner, lxml and trafilatura)
    # loads on first use: the web server imports this package for
    # ``crawl_health`` only (tests/test_server_memory.py).
    if name in ("CrawlReport", "crawl"):
        from search.crawl import crawler

        return getattr(crawler, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CrawlReport",
    "crawl",
    "crawl_health",
]
