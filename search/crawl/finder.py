"""Finding a source from one address: a homepage or a feed → a ``Source`` with feeds and sitemaps.

Sits under ``search.crawl``, beside the crawl itself: ``newsdesk sources add
URL`` and the ``/sources`` page call ``find_source`` before keeping a source
(``search.sources.add_source``). It fetches with the crawler's manners
(robots.txt, the politeness gap, the User-Agent) and reads with the
crawler's parsers (``search.crawl.discover``), so what it finds is what a
crawl will read:

1. the address itself: a feed (RSS, Atom, JSON Feed) is taken as the
   source's feed, its ``<link>`` as the homepage; an HTML page is the
   homepage, and the feeds it announces (``<link rel="alternate">``) are
   the source's, else the well-known feed paths feed readers also try
   (``/feed``, ``/rss.xml``, …);
2. the sitemaps its robots.txt names (``Sitemap:`` lines);
3. each feed and sitemap is fetched once and must list pages; those that
   fail are dropped with the reason (``FoundSource.notes``).

A source with neither a working feed nor a sitemap is refused: the crawler
would find nothing in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from search.crawl.discover import discover_feeds, parse_feed, parse_sitemap
from search.crawl.fetch import Exchange, Fetcher, Response, accept_any
from search.decode import decode_html
from search.errors import FetchError, SourceError
from search.records import Source
from search.settings import Settings
from search.urls import normalize_url

#: Paths feed readers try when a homepage announces no feed (WordPress, Ghost, Hugo, Jekyll, Drupal).
WELL_KNOWN_FEEDS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml", "/feed/atom")
_FEED_TYPES = ("xml", "rss", "atom", "json")
_GENERIC_TITLES = {"home", "homepage", "home page", "start", "news", "index", "welcome"}


@dataclass(frozen=True)
class Check:
    """One listing fetched while finding a source: its URL, kind and how many pages it lists."""

    url: str
    kind: str  # "feed" or "sitemap"
    pages: int


@dataclass(frozen=True)
class FoundSource:
    source: Source
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = field(default=())  # listings dropped, and why


def find_source(
    url: str, settings: Settings, name: str | None = None, *, public_only: bool = False,
    fetcher: Fetcher | None = None,
) -> FoundSource:
    """The source at ``url`` (a homepage or a feed), its listings checked once.

    ``public_only`` refuses private and local addresses (a URL entered on the
    web). Raises ``SourceError`` when the address cannot be read or lists
    nothing a crawl could follow.
    """
    if urlsplit(url.strip()).scheme not in {"http", "https"} or not urlsplit(url.strip()).hostname:
        raise SourceError(f"not a web address: {url!r}", hint="give the outlet's homepage, as https://…")
    own = fetcher is None
    fetcher = fetcher or Fetcher(settings)
    try:
        return _Finder(fetcher, public_only).find(normalize_url(url.strip()), name)
    finally:
        if own:
            fetcher.close()


class _Finder:
    def __init__(self, fetcher: Fetcher, public_only: bool) -> None:
        self.fetcher = fetcher
        self.public_only = public_only
        self.notes: list[str] = []

    def find(self, url: str, name: str | None) -> FoundSource:
        try:
            first = self._get(url)
        except FetchError as e:
            raise SourceError(f"cannot read {url}: {e.message}") from None
        feed = parse_feed(first.body, first.final_url) if _looks_like_feed(first) else None
        if feed is not None and feed.problem is None:
            homepage, title = _feed_site(first)
            feeds = [Check(normalize_url(first.final_url), "feed", len(feed.links))]
        else:
            html = decode_html(first.body, first.header("content-type"))
            homepage, title = normalize_url(first.final_url), _site_name(html)
            feeds = self._feeds(html, homepage)
        sitemaps = self._sitemaps(homepage)
        if not feeds and not sitemaps:
            raise SourceError(
                f"no feed or sitemap found at {url}" + (f" ({'; '.join(self.notes)})" if self.notes else ""),
                hint="give the address of the outlet's RSS or Atom feed itself",
            )
        source = Source(
            name=(name or title or urlsplit(homepage).hostname or homepage).strip(), url=homepage,
            feeds=tuple(check.url for check in feeds), sitemaps=tuple(check.url for check in sitemaps),
            public_only=self.public_only,
        )
        return FoundSource(source, tuple(feeds + sitemaps), tuple(self.notes))

    def _feeds(self, html: str, homepage: str) -> list[Check]:
        announced = discover_feeds(html, homepage)
        candidates = [link.url for link in announced.links]
        found = [check for url in candidates if (check := self._check(url, "feed")) is not None]
        if found or candidates:
            return found
        for path in WELL_KNOWN_FEEDS:  # quietly: most of them are not there
            check = self._check(urljoin(homepage, path), "feed", quiet=True)
            if check is not None:
                return [check]
        return []

    def _sitemaps(self, homepage: str) -> list[Check]:
        trace: list[Exchange] = []
        try:
            rules = self.fetcher.robots(homepage, trace)
        except FetchError:
            return []
        listed = list(rules.parser.sitemaps) if rules.parser is not None else []
        return [check for url in dict.fromkeys(listed) if (check := self._check(url, "sitemap")) is not None]

    def _check(self, url: str, kind: str, quiet: bool = False) -> Check | None:
        """The listing at ``url`` if it lists pages, else None (with a note unless ``quiet``)."""
        try:
            response = self._get(url)
        except FetchError as e:
            if not quiet:
                self.notes.append(f"{kind} {url}: {e.message}")
            return None
        listing = parse_feed(response.body, response.final_url) if kind == "feed" \
            else parse_sitemap(response.body, response.final_url)
        if listing.problem is not None and not listing.links:
            if not quiet:
                self.notes.append(f"{kind} {url}: {listing.problem}")
            return None
        return Check(normalize_url(response.final_url), kind, len(listing.links))

    def _get(self, url: str) -> Response:
        response = self.fetcher.get(url, [], accept=accept_any, public_only=self.public_only)
        if response.status != 200:
            raise FetchError(f"HTTP {response.status}")
        return response


def _looks_like_feed(response: Response) -> bool:
    """A feed by its type (XML, RSS, Atom, JSON, not HTML), or by its first bytes when untyped."""
    kind = response.content_type
    if "html" in kind:
        return False
    if any(word in kind for word in _FEED_TYPES):
        return True
    head = response.body.lstrip(b"\xef\xbb\xbf \t\r\n")[:100].lower()
    return head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf", b"{"))


def _feed_site(response: Response) -> tuple[str, str | None]:
    """A feed's homepage (its ``<link>``, else its site's root) and title."""
    import feedparser  # only the crawler needs it

    parsed = feedparser.parse(response.body)
    link = parsed.feed.get("link") if parsed.get("feed") else None
    title = parsed.feed.get("title") if parsed.get("feed") else None
    if isinstance(link, str) and urlsplit(urljoin(response.final_url, link)).scheme in {"http", "https"}:
        homepage = urljoin(response.final_url, link)
    else:
        parts = urlsplit(response.final_url)
        homepage = f"{parts.scheme}://{parts.netloc}/"
    return normalize_url(homepage), " ".join(title.split()) if isinstance(title, str) and title.strip() else None


def _site_name(html: str) -> str | None:
    """The site's own name: ``og:site_name``, ``application-name``, else the title's telling part."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html[:500_000], "lxml")
    for attribute, value in (("property", "og:site_name"), ("name", "application-name")):
        tag = soup.find("meta", attrs={attribute: value})
        content = tag.get("content") if tag is not None else None
        if isinstance(content, str) and content.strip():
            return " ".join(content.split())
    title = soup.title.get_text(" ", strip=True) if soup.title is not None else ""
    for separator in (" | ", " – ", " — ", " - ", " · ", " :: "):
        if separator in title:
            parts = [part.strip() for part in title.split(separator) if part.strip()]
            telling = [part for part in parts if part.casefold() not in _GENERIC_TITLES]
            return telling[0] if telling else None
    return " ".join(title.split()) or None
