"""A news page's JSON-LD, read once.

A helper of the cleaner (stage 2 of the pipeline: sources → **clean** →
enrich → index). ``search/clean/cleaner.py`` parses a page, reads its linked data
here once with :func:`read_linked_data`, and hands that one reading to the
metadata reader (``read_metadata``: headline, authors, publisher, site
names) and to the date finder (``find_published``: ``datePublished`` and
``dateCreated``). Neither parses JSON-LD itself, so both see the same
scripts by the same rule.

The rule (:func:`is_linked_data`): a ``<script>`` whose media type is
``application/ld+json``, compared without regard to case and to parameters
(``type="application/ld+json; charset=utf-8"`` is linked data). Each script
is parsed once; broken JSON-LD is common and never fatal: HTML comment and
CDATA wrappers and trailing commas are forgiven, and from a script that
still does not parse only its ``datePublished`` is salvaged.

Two walks over the parsed scripts, as the two readers always had them:

* names (headlines, authors, publishers, sites) are read from every entity,
  top-level or under ``@graph``, ``mainEntity``, ``hasPart`` …, so that an
  ``@id`` reference finds the entity it names;
* dates are read from the top-level entities (and ``@graph``) only: dates of
  nested entities are those of videos, comments and other articles.

Exports :class:`LinkedData`, :class:`StatedDate`, :func:`read_linked_data`
and :func:`is_linked_data`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import lxml.html

from search.clean.page_strings import repair, squash

DateProperty = Literal["datePublished", "dateCreated"]


@dataclass(frozen=True)
class StatedDate:
    """A date the JSON-LD states for the page, as written there (the date finder reads it)."""

    prop: DateProperty
    text: str


@dataclass(frozen=True)
class LinkedData:
    """What a page's JSON-LD says about its article and its site; empty when it has none."""

    headlines: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    publishers: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    dates: tuple[StatedDate, ...] = ()  # in the page's order


def is_linked_data(script: lxml.html.HtmlElement) -> bool:
    """Whether a ``<script>`` holds JSON-LD: its media type, case and parameters ignored."""
    media_type = (script.get("type") or "").split(";", 1)[0]
    return media_type.strip().lower() == "application/ld+json"


def read_linked_data(tree: lxml.html.HtmlElement) -> LinkedData:
    """The JSON-LD of a parsed page, every script parsed once; ``tree`` is read, never modified."""
    nodes: list[dict[str, Any]] = []
    dates: list[StatedDate] = []
    for script in tree.iter("script"):
        if not is_linked_data(script):
            continue
        raw = script.text or ""
        data = _load_json(raw)
        if data is None:
            dates += _salvaged_date(raw)
            continue
        nodes += _walk(data)
        dates += _stated_dates(data)
    return _described(nodes, tuple(dates))


def _load_json(text: str) -> Any:
    """The parsed script, or ``None``: broken JSON-LD is common and never fatal."""
    text = text.strip().removeprefix("<!--").removesuffix("-->").strip()
    text = text.removeprefix("//<![CDATA[").removesuffix("//]]>")
    try:
        return json.loads(text, strict=False)
    except ValueError:
        pass
    try:  # the commonest breakage: a trailing comma before } or ]
        return json.loads(_TRAILING_COMMA.sub(r"\1", text), strict=False)
    except ValueError:
        return None


_TRAILING_COMMA = re.compile(r",\s*([}\]])")
# Hand-written JSON-LD is often broken; the property itself rarely is.
_PUBLISHED_IN_BROKEN = re.compile(r'"datePublished"\s*:\s*"([^"]{8,40})"')


def _salvaged_date(raw: str) -> Iterator[StatedDate]:
    m = _PUBLISHED_IN_BROKEN.search(raw)
    if m:
        yield StatedDate("datePublished", m.group(1))


# --- names ---------------------------------------------------------------------


def _described(nodes: list[dict[str, Any]], dates: tuple[StatedDate, ...]) -> LinkedData:
    by_id = {node["@id"]: node for node in nodes if isinstance(node.get("@id"), str)}
    articles = [node for node in nodes if _is_article(node)]
    # A page typed only as a WebPage still names its author and publisher there.
    described = articles or [node for node in nodes if _is_page(node)]
    headlines = [_text(node.get("headline")) or _text(node.get("name")) for node in articles]
    authors = [name for node in described for name in _names(node.get("author"), by_id)]
    publishers = [name for node in described for name in _names(node.get("publisher"), by_id)]
    sites = [_text(node.get("name")) for node in nodes if _types(node) & {"WebSite", "Organization"}]
    return LinkedData(
        headlines=tuple(h for h in headlines if h),
        authors=tuple(authors),
        publishers=tuple(dict.fromkeys(publishers)),
        sites=tuple(dict.fromkeys(s for s in sites if s)),
        dates=dates,
    )


def _walk(value: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every object in a JSON-LD document: top-level lists, ``@graph`` and nested ones."""
    if depth > 6:
        return
    if isinstance(value, list):
        for item in value:
            yield from _walk(item, depth + 1)
    elif isinstance(value, dict):
        yield value
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement", "hasPart"):
            if key in value:
                yield from _walk(value[key], depth + 1)


def _types(node: Mapping[str, Any]) -> set[str]:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.rsplit("/", 1)[-1] for k in kinds if isinstance(k, str)}


def _is_article(node: Mapping[str, Any]) -> bool:
    return any(k.endswith(("Article", "Posting")) or k in _ARTICLE_TYPES for k in _types(node))


def _is_page(node: Mapping[str, Any]) -> bool:
    return any(k.endswith("Page") for k in _types(node))


_ARTICLE_TYPES = frozenset({"ReportageNews", "Report", "Review", "Blog", "CreativeWork", "Recipe"})


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    return squash(repair(value)) or None if isinstance(value, str) else None


def _names(value: Any, by_id: Mapping[str, Mapping[str, Any]]) -> Iterator[str]:
    """Names in an ``author``/``publisher`` value: text, objects, lists, ``@id`` references."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            ref = item.get("@id")
            node = by_id.get(ref, item) if isinstance(ref, str) and "name" not in item else item
            name = _text(node.get("name"))
            if not name and (node.get("givenName") or node.get("familyName")):
                name = f"{_text(node.get('givenName')) or ''} {_text(node.get('familyName')) or ''}".strip()
            if name:
                yield name


# --- dates ---------------------------------------------------------------------

#: Entities whose dates are the page's (lower case: the date finder always compared them so).
_DATED_TYPES = frozenset({
    "article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "askpublicnewsarticle",
    "liveblogposting", "scholarlyarticle", "techarticle", "report", "socialmediaposting", "posting",
    "discussionforumposting", "satiricalarticle", "advertisercontentarticle", "medicalscholarlyarticle",
    "webpage", "itempage", "collectionpage", "faqpage", "qapage", "aboutpage", "profilepage",
})


_DATE_PROPERTIES: tuple[DateProperty, ...] = ("datePublished", "dateCreated")


def _stated_dates(node: object) -> Iterator[StatedDate]:
    """Dates of the top-level entities only: nested ones are videos, comments, other articles."""
    if isinstance(node, list):
        for item in node:
            yield from _stated_dates(item)
        return
    if not isinstance(node, dict):
        return
    if _dated_types(node) & _DATED_TYPES:
        for prop in _DATE_PROPERTIES:
            value = node.get(prop)
            if isinstance(value, str):
                yield StatedDate(prop, value)
    if "@graph" in node:
        yield from _stated_dates(node["@graph"])


def _dated_types(node: dict[str, object]) -> set[str]:
    types = node.get("@type")
    names = [types] if isinstance(types, str) else types if isinstance(types, list) else []
    return {str(name).lower() for name in names}
