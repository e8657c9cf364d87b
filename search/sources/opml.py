"""OPML: the list of feeds every feed reader imports and exports, as ``Source`` records.

Part of the sources stage (``search.sources``). ``read_opml`` turns an OPML
file (OPML 1.0 or 2.0, as FreshRSS, Miniflux, Feedly, Inoreader and
NetNewsWire write it) into sources; ``write_opml`` writes the instance's
sources back as OPML 2.0 (``/sources.opml``), so a list can travel both ways.

What maps to what:

* an outline with ``xmlUrl`` is a feed; its ``text`` (else ``title``) is
  the source's name, its ``htmlUrl`` the homepage (else the feed's site
  root), its ``language`` the source's language. Outlines of one name are
  one source with several feeds (a reader lists an outlet's sections so).
* an outline of ``type="link"`` with a ``url`` and no feed is a source
  known by its homepage alone: the crawler reads it for feeds.
* category outlines (no ``xmlUrl``) only group; their children count.

Written back, each feed is one ``type="rss"`` outline, and a source without
feeds one ``type="link"`` outline. Sitemaps and URL patterns have no place
in OPML and are not written.

The file is untrusted input: one that declares entities is refused before
it is parsed, and nothing is fetched while parsing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from search.records import Source

#: An entity declaration, or a document type with an internal subset (where entities are declared).
_DECLARES = re.compile(rb"<!ENTITY|<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
#: An OPML file larger than this is refused (a reader's export of thousands of feeds is a few MB).
MAX_OPML_BYTES = 20 * 1024 * 1024


@dataclass
class OpmlSources:
    """The sources an OPML file lists, and the outlines that could not become one (where, why)."""

    sources: list[Source] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


class OpmlUnreadable(ValueError):
    """Not an OPML file at all (not XML, no ``<opml>`` root)."""


def read_opml(data: bytes) -> OpmlSources:
    """The sources of an OPML document; ``OpmlUnreadable`` when it is not one."""
    from lxml import etree

    if len(data) > MAX_OPML_BYTES:
        raise OpmlUnreadable(f"larger than {MAX_OPML_BYTES // (1024 * 1024)} MB")
    if _DECLARES.search(data):
        # libxml2 substitutes internal entities in attribute values whatever resolve_entities says, so a
        # document that declares any is refused before it is parsed: no OPML writer declares entities.
        raise OpmlUnreadable("it declares entities or a document type (<!DOCTYPE … [ ]>), which OPML has no use for")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as e:
        raise OpmlUnreadable(f"not XML: {e}") from e
    if root is not None and root.getroottree().docinfo.internalDTD is not None:  # declared in an encoding the
        raise OpmlUnreadable("it declares a document type, which OPML has no use for")  # byte search missed
    if root is None or _local(root.tag) != "opml":
        raise OpmlUnreadable("no <opml> document element")
    body = next((child for child in root if _local(child.tag) == "body"), None)
    found = OpmlSources()
    merged: dict[str, Source] = {}
    for number, outline in enumerate(_outlines(body), start=1):
        source, problem = _source(outline)
        if source is None:
            if problem:
                found.skipped.append((f"outline {number} ({_label(outline)})", problem))
            continue
        key = source.name.casefold()
        kept = merged.get(key)
        merged[key] = source if kept is None else _merge(kept, source)
    found.sources = list(merged.values())
    return found


def write_opml(sources: Iterable[Source], title: str, created: dt.datetime) -> bytes:
    """The sources as an OPML 2.0 document (UTF-8)."""
    from lxml import etree

    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(created.astimezone(dt.UTC), usegmt=True)
    etree.SubElement(head, "docs").text = "https://opml.org/spec2.opml"
    body = etree.SubElement(opml, "body")
    for source in sources:
        language = {"language": source.language} if source.language else {}
        if not source.feeds:
            etree.SubElement(body, "outline", type="link", text=source.name, url=source.url)
        for feed in source.feeds:
            etree.SubElement(body, "outline", type="rss", text=source.name, title=source.name, xmlUrl=feed,
                             htmlUrl=source.url, **language)
    data: bytes = etree.tostring(opml, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def _outlines(parent: Any) -> Iterator[Any]:
    """Every outline under ``parent``, depth first, in document order."""
    if parent is None:
        return
    for child in parent:
        if _local(child.tag) == "outline":
            yield child
            yield from _outlines(child)


def _source(outline: Any) -> tuple[Source | None, str | None]:
    """The source one outline stands for, or why it stands for none (None: a category, no reason to give)."""
    attributes = {str(key).casefold(): str(value).strip() for key, value in outline.attrib.items()}
    feed = attributes.get("xmlurl", "")
    homepage = attributes.get("htmlurl", "") or (attributes.get("url", "") if attributes.get("type") == "link" else "")
    if not feed and not homepage:
        return None, None if len(outline) else "no xmlUrl (feed) or url (homepage)"
    for url in filter(None, (feed, homepage)):
        if not _web(url):
            return None, f"not a web address: {url[:200]!r}"
    name = " ".join((attributes.get("text") or attributes.get("title") or "").split()) \
        or urlsplit(homepage or feed).hostname or ""
    site = homepage or _site_root(feed)
    return Source(name=name, url=site, feeds=(feed,) if feed else (),
                  language=attributes.get("language") or None), None


def _merge(kept: Source, other: Source) -> Source:
    feeds = tuple(dict.fromkeys(kept.feeds + other.feeds))
    return Source(name=kept.name, url=kept.url, feeds=feeds, language=kept.language or other.language)


def _site_root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def _web(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def _label(outline: Any) -> str:
    text = outline.get("text") or outline.get("title") or ""
    return " ".join(str(text).split())[:80] or "untitled"


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
