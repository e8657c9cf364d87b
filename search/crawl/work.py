"""The crawler's unit of work: one URL in, one ``FetchResult`` out.

The unit of work is ``fetch_article(url, source, context)``: one URL in,
one ``FetchResult`` (the response, the cleaned and enriched ``Article`` or
why there is none) out. It is a plain top-level function whose arguments are
picklable records (a ``str``, a ``Source``, a ``FetchContext`` holding the
``Settings``), and it writes nothing: so it can later be enqueued as an RQ
job (``queue.enqueue(fetch_article, url, source, context)``) with the
results consumed by the same writer. In-process the crawl passes a shared
``Fetcher`` as a fourth argument; a job process gets its own per-process
``Fetcher``. Politeness is per process then, so a queue setup must keep
each host on one worker (one queue per host group).

A page's response is decoded once here (``search.decode.received_page``) and
cleaned and enriched through the pipeline (``search.pipeline``); a feed,
sitemap or homepage is read for links (``search.crawl.discover``). Nothing here
writes: the crawl's single writer (``search.crawl``) records every result.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from search.crawl.discover import MAX_SITEMAP_BYTES, Link, Listing, discover_feeds, parse_feed, parse_sitemap
from search.crawl.fetch import Exchange, Fetcher, Response, Validators, accept_any, accept_html, robots_directives
from search.decode import decode_html, looks_binary, received_page
from search.errors import ExtractionError, ExtractorFailed, FetchError, RobotsDenied
from search.pipeline import Pipeline
from search.records import Article, PageHints, RawPage, Source
from search.settings import Settings
from search.urls import normalize_url


class Outcome(StrEnum):
    ARTICLE = "article"  # fetched, cleaned, enriched
    LISTING = "listing"  # a feed, sitemap or homepage read for links
    NOT_MODIFIED = "not-modified"  # 304 to a conditional GET
    NOINDEX = "noindex"  # the page asks not to be indexed
    UNEXTRACTABLE = "unextractable"  # fetched, but the cleaner found no article
    ROBOTS = "robots"  # robots.txt keeps us out
    FAILED = "failed"  # network, status, size, type, redirects


@dataclass(frozen=True)
class FetchContext:
    """What a unit of work needs besides URL and source (picklable)."""

    settings: Settings
    hints: PageHints = field(default_factory=PageHints)  # dates stated by a feed or sitemap
    validators: Validators = field(default_factory=Validators)  # for a conditional GET
    outlets: Mapping[str, str] = field(default_factory=dict)  # host → outlet, from the crawl's sources (a dict: picklable)


@dataclass(frozen=True)
class FetchResult:
    """What one unit of work produced; the writer records it."""

    url: str
    outcome: Outcome
    response: Response | None = None
    page: RawPage | None = None  # what went to the cleaner: decoded text, URL, hints
    article: Article | None = None
    links: tuple[Link, ...] = ()
    error: str | None = None
    noarchive: bool = False
    exchanges: tuple[Exchange, ...] = ()

    @property
    def redirected(self) -> bool:
        return self.response is not None and bool(self.response.redirects)


def fetch_article(url: str, source: Source, context: FetchContext, fetcher: Fetcher | None = None) -> FetchResult:
    """Fetch one page and turn it into an enriched ``Article``.

    Never raises for anything the page or its server does: the result says
    what happened. ``fetcher`` shares robots.txt, politeness and connections
    between calls; without it the process's own is used.
    """
    fetcher = fetcher or shared_fetcher(context.settings)
    trace: list[Exchange] = []
    try:
        response = fetcher.get(url, trace, context.validators, accept=accept_html,
                               public_only=public_only(source, context.settings))
    except RobotsDenied as e:
        return FetchResult(url, Outcome.ROBOTS, error=e.message, exchanges=tuple(trace))
    except FetchError as e:
        return FetchResult(url, Outcome.FAILED, error=e.message, exchanges=tuple(trace))
    return replace(_page(url, source, context, response), exchanges=tuple(trace))


def _page(url: str, source: Source, context: FetchContext, response: Response) -> FetchResult:
    if response.status == 304:
        return FetchResult(url, Outcome.NOT_MODIFIED, response)
    if response.status != 200:
        return FetchResult(url, Outcome.FAILED, response, error=f"HTTP {response.status}")
    if looks_binary(response.body):
        return FetchResult(url, Outcome.FAILED, response, error=f"binary body labelled {response.content_type}")
    page = _received(response, replace(context.hints, outlet=source.name))
    directives = robots_directives(page.text, response.header("x-robots-tag"))
    noarchive = "noarchive" in directives
    if "noindex" in directives:
        return FetchResult(url, Outcome.NOINDEX, response, noarchive=True)
    try:
        article = Pipeline(context.settings, outlets=context.outlets).process(page)  # the gazetteer read once per process
    except ExtractorFailed:
        raise  # a fault of ours, not of the page: the crawler logs it and counts the URL failed
    except ExtractionError as e:
        return FetchResult(url, Outcome.UNEXTRACTABLE, response, page, error=e.message, noarchive=noarchive)
    return FetchResult(url, Outcome.ARTICLE, response, page, article, noarchive=noarchive)


def _received(response: Response, hints: PageHints) -> RawPage:
    """The response as the pipeline takes it: its body as received (what the
    archive keeps) and decoded once, here, by header, ``<meta>`` and
    detection, under the URL the archive keeps it by, so a reindex decodes
    and replays the very same page."""
    page_url = normalize_url(response.final_url)
    return received_page(response.body, page_url, "text/html", page_url, hints,
                         http_content_type=response.header("content-type") or "")


def fetch_listing(
    url: str, kind: str, source: Source, context: FetchContext, fetcher: Fetcher | None = None
) -> FetchResult:
    """Fetch a feed, sitemap or homepage (``kind``) and list the URLs it names."""
    fetcher = fetcher or shared_fetcher(context.settings)
    trace: list[Exchange] = []
    limit = MAX_SITEMAP_BYTES if kind == "sitemap" else context.settings.crawl_max_bytes
    try:
        response = fetcher.get(url, trace, context.validators, accept=accept_any, max_bytes=limit,
                               public_only=public_only(source, context.settings))
    except RobotsDenied as e:
        return FetchResult(url, Outcome.ROBOTS, error=e.message, exchanges=tuple(trace))
    except FetchError as e:
        return FetchResult(url, Outcome.FAILED, error=e.message, exchanges=tuple(trace))
    if response.status == 304:
        return FetchResult(url, Outcome.NOT_MODIFIED, response, exchanges=tuple(trace))
    if response.status != 200:
        return FetchResult(url, Outcome.FAILED, response, error=f"HTTP {response.status}", exchanges=tuple(trace))
    listing = _read_listing(kind, response)
    if listing.problem and not listing.links:
        return FetchResult(url, Outcome.FAILED, response, error=listing.problem, exchanges=tuple(trace))
    return FetchResult(url, Outcome.LISTING, response, links=listing.links, exchanges=tuple(trace))


def _read_listing(kind: str, response: Response) -> Listing:
    if kind == "home":
        return discover_feeds(decode_html(response.body, response.header("content-type")), response.final_url)
    if kind == "feed":
        return parse_feed(response.body, response.final_url)
    return parse_sitemap(response.body, response.final_url)


def public_only(source: Source, settings: Settings) -> bool:
    """Whether requests for ``source`` may reach public addresses only (it was added on the web)."""
    return source.public_only and not settings.allow_private_sources


@functools.lru_cache(maxsize=4)
def shared_fetcher(settings: Settings) -> Fetcher:
    """The process's own ``Fetcher`` (for units of work run outside a crawl)."""
    return Fetcher(settings)
