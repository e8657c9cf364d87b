"""Discovery for the crawler: feeds, sitemaps and homepages → article URLs.

Sits between fetching and the frontier in ``search.crawl``: each function
takes the bytes of one fetched listing and returns a ``Listing`` of
``Link`` records (absolute URLs with what the listing says about them).
Pure functions, no network, so every real-world feed can be tested offline.

* feeds: RSS and Atom through feedparser; JSON Feed (which feedparser 6 does
  not read) through ``json``. An entry's ``published`` date becomes a hint
  (``published_source="feed"``); ``updated`` only marks a change.
* sitemaps: ``urlset`` and ``sitemapindex``, gzipped or not, and plain-text
  sitemaps (one URL a line). ``news:publication_date`` becomes a hint
  (``published_source="sitemap"``); ``lastmod`` is a modification date, so
  it only decides whether a known page is fetched again.
* homepages: ``<link rel="alternate">`` to RSS, Atom or JSON feeds.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from search.records import Published
from search.sources import gunzip
from search.timeparse import parse_iso

#: The sitemap protocol caps a sitemap at 50 MB uncompressed.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
_FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json", "application/json"})


@dataclass(frozen=True)
class Link:
    """One URL a listing names, with what the listing says about it."""

    url: str
    kind: str = "page"  # "page", or "feed" / "sitemap" for listings to read next
    published: Published | None = None
    published_source: str | None = None  # "feed" or "sitemap" when published is set
    lastmod: float | None = None  # Unix time the listing says the URL last changed


@dataclass(frozen=True)
class Listing:
    links: tuple[Link, ...] = ()
    problem: str | None = None  # why nothing could be read, when nothing was


# --- feeds ----------------------------------------------------------------------


def parse_feed(data: bytes, base_url: str) -> Listing:
    """Entries of an RSS, Atom or JSON feed as page links."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return _parse_json_feed(data, base_url)
    import feedparser  # imported here: only the crawler needs it

    parsed = feedparser.parse(data)
    links = tuple(link for entry in parsed.entries if (link := _feed_entry(entry, base_url)) is not None)
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "no RSS, Atom or JSON Feed structure"
        return Listing(problem=f"not a feed: {reason}")
    return Listing(links)


def _feed_entry(entry: Any, base_url: str) -> Link | None:
    href = entry.get("link") or next(
        (item.get("href") for item in entry.get("links", []) if item.get("rel", "alternate") == "alternate"), None
    )
    url = _absolute(href, base_url)
    if url is None:
        return None
    published = _struct_time(entry.get("published_parsed"))
    # dict.get: feedparser's own get maps a missing updated to published, with a warning.
    changed = _struct_time(dict.get(entry, "updated_parsed")) or published
    return Link(
        url,
        published=published,
        published_source="feed" if published else None,
        lastmod=changed.timestamp() if changed else None,
    )


def _struct_time(value: time.struct_time | None) -> dt.datetime | None:
    """feedparser's dates are UTC ``struct_time``s."""
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(value), dt.UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _parse_json_feed(data: bytes, base_url: str) -> Listing:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return Listing(problem=f"not a JSON feed: {e}")
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list):
        return Listing(problem="not a JSON feed: no items list")
    return Listing(tuple(link for item in items if (link := _json_item(item, base_url)) is not None))


def _json_item(item: object, base_url: str) -> Link | None:
    if not isinstance(item, dict):
        return None
    url = _absolute(item.get("url") or item.get("external_url"), base_url)
    if url is None:
        return None
    published = _date(item.get("date_published"))
    changed = _date(item.get("date_modified")) or published
    return Link(url, published=published, published_source="feed" if published else None, lastmod=_stamp(changed))


# --- sitemaps -------------------------------------------------------------------


def parse_sitemap(data: bytes, base_url: str) -> Listing:
    """Pages of a ``urlset`` or child sitemaps of a ``sitemapindex``."""
    try:
        data = gunzip(data, MAX_SITEMAP_BYTES) if data[:2] == b"\x1f\x8b" else data
    except (OSError, EOFError, zlib.error) as e:
        return Listing(problem=f"cannot decompress sitemap: {e}")
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _text_sitemap(data, base_url)
    from lxml import etree

    # No entity expansion and no network: a sitemap is untrusted input.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as e:
        return Listing(problem=f"not a sitemap: {e}")
    if root is None:
        return Listing(problem="not a sitemap: empty document")
    kind = "sitemap" if _local(root.tag) == "sitemapindex" else "page"
    entries = (child for child in root if _local(child.tag) in {"url", "sitemap"})
    return Listing(tuple(link for entry in entries if (link := _sitemap_entry(entry, kind, base_url)) is not None))


def _sitemap_entry(entry: Any, kind: str, base_url: str) -> Link | None:
    # Direct children only: an image sitemap's <image:loc> is not the page.
    fields = {_local(child.tag): child for child in entry}
    url = _absolute(_text(fields.get("loc")), base_url)
    if url is None:
        return None
    news = next((child for child in entry.iter() if _local(child.tag) == "publication_date"), None)
    published = _date(_text(news))  # news:publication_date
    return Link(
        url,
        kind=kind,
        published=published,
        published_source="sitemap" if published else None,
        lastmod=_stamp(_date(_text(fields.get("lastmod"))) or published),
    )


def _text_sitemap(data: bytes, base_url: str) -> Listing:
    lines = data.decode("utf-8", errors="replace").splitlines()
    urls = [url for line in lines if (url := _absolute(line.strip(), base_url)) and line.strip().startswith("http")]
    return Listing(tuple(Link(url) for url in urls)) if urls else Listing(problem="not a sitemap")


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(element: Any) -> str | None:
    return element.text.strip() if element is not None and element.text else None


# --- homepages ------------------------------------------------------------------


def discover_feeds(html: str, base_url: str) -> Listing:
    """Feeds a page announces with ``<link rel="alternate" type="…rss+xml|atom+xml|feed+json">``."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    base_tag = soup.find("base", href=True)
    base = urljoin(base_url, str(base_tag["href"])) if base_tag is not None else base_url
    links = []
    for tag in soup.find_all("link", href=True):
        rel = {word.lower() for word in tag.get_attribute_list("rel") if word}
        kind = str(tag.get("type", "")).split(";")[0].strip().lower()
        url = _absolute(str(tag["href"]), base)
        if "alternate" in rel and kind in _FEED_TYPES and url:
            links.append(Link(url, kind="feed"))
    return Listing(tuple(_unique(links))) if links else Listing(problem="no feed announced on the page")


def _unique(links: list[Link]) -> Iterator[Link]:
    seen: set[str] = set()
    for link in links:
        if link.url not in seen:
            seen.add(link.url)
            yield link


# --- shared ---------------------------------------------------------------------


def _absolute(href: object, base_url: str) -> str | None:
    """An absolute http(s) URL, or None for anything else (mailto:, javascript:, junk)."""
    if not isinstance(href, str) or not href.strip():
        return None
    url = urljoin(base_url, href.strip())
    parts = urlsplit(url)
    return url if parts.scheme in {"http", "https"} and parts.hostname else None


def _date(value: object) -> Published | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return parse_iso(value[:-1] + "+00:00" if value.endswith("Z") else value)


def _stamp(value: Published | None) -> float | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return value.timestamp() if value.tzinfo else value.replace(tzinfo=dt.UTC).timestamp()
