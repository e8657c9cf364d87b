"""Title, authors, outlet, canonical URL and declared language of a news page.

A helper of the cleaner (``search/clean/cleaner.py``, stage 2 of the pipeline: sources
→ **clean** → enrich → index). The cleaner parses a page once with
``lxml.html`` and hands the same tree to trafilatura and to ``read_metadata``
here, so nothing in this module changes the tree: it only runs XPath over it.
The page's JSON-LD comes read already (``search/clean/linked_data.py``, once per
page, the same reading the date finder gets).

Every field is read from several places that pages fill unevenly, and each
place has its own habit of noise:

* title — the ``<h1>`` that agrees with a declared title (``og:title``,
  the JSON-LD headline, ``<title>`` …), else the declared titles without
  the site's name (``search/clean/titles.py``);
* authors — JSON-LD ``author``, then ``<meta>``, then byline elements, all
  normalised to person names (``search/clean/authors.py``);
* outlet — the project's sources file (host → name) first, then what the page
  says (``og:site_name``, JSON-LD publisher, ``application-name``), then the
  host. The site's names gathered here let the title lose its " | Site"
  and the authors the outlet's own name.

The ``<meta>`` are read once here (``search/clean/meta_tags.py``) for all of them.

Exports :class:`PageMetadata` and :func:`read_metadata`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.html

from search.clean.authors import choose_authors
from search.clean.linked_data import LinkedData
from search.clean.meta_tags import MetaTags
from search.clean.titles import choose_title


@dataclass(frozen=True)
class PageMetadata:
    """What a page says about itself; ``None`` (or ``()``) when it does not say."""

    title: str | None
    authors: tuple[str, ...]
    outlet: str | None
    canonical: str | None
    html_lang: str | None


def read_metadata(tree: lxml.html.HtmlElement, url: str | None, *, linked: LinkedData,
                  outlets_by_host: Mapping[str, str] | None = None) -> PageMetadata:
    """Title, authors, outlet, canonical URL and ``<html lang>`` of a parsed page.

    ``linked`` is the page's JSON-LD as ``read_linked_data`` read it (once
    per page: the date finder takes the same reading). ``outlets_by_host``
    maps a host without "www." to the outlet's display name (from the
    sources file); it outranks whatever the page claims.
    """
    meta = MetaTags(tree)
    canonical = _canonical(tree, meta, url)
    host = _host(url) or _host(canonical)
    declared = _first(meta.get("og:site_name"), *linked.publishers, meta.get("application-name"))
    mapped = _mapped_outlet(host, outlets_by_host or {})
    outlet = mapped or declared or host
    site_names = [name for name in (mapped, declared, *linked.publishers, *linked.sites,
                                     meta.get("application-name"), meta.get("twitter:site")) if name]
    site_names += _host_labels(host)
    return PageMetadata(
        title=choose_title(tree, meta, linked, site_names),
        authors=choose_authors(tree, meta, linked, [n for n in (mapped, declared, *linked.publishers) if n]),
        outlet=outlet,
        canonical=canonical,
        html_lang=_html_lang(tree),
    )


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


# --- <meta>, <link>, <html lang> -------------------------------------------


def _canonical(tree: lxml.html.HtmlElement, meta: MetaTags, url: str | None) -> str | None:
    """The declared canonical URL (``link rel=canonical``, else ``og:url``), made absolute."""
    links = tree.xpath("//link[contains(concat(' ', translate(@rel, 'CANONICAL', 'canonical'), ' '),"
                       " ' canonical ')]/@href")
    for href in [*links, meta.get("og:url")]:
        href = (href or "").strip()
        try:
            absolute = urljoin(url, href) if url and href else href
            parts = urlsplit(absolute)
        except ValueError:  # "http://[broken": a bad link is no canonical URL, not a bad page (bench/fuzz_pages.py)
            continue
        if parts.scheme in ("http", "https") and parts.netloc:
            return absolute
    return None


def _html_lang(tree: lxml.html.HtmlElement) -> str | None:
    root = tree.getroottree().getroot()
    lang = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang") or ""
    return lang.strip().replace("_", "-") or None


def _host(url: str | None) -> str | None:
    if not url:
        return None
    host = (urlsplit(url.strip()).hostname or "").lower().rstrip(".")
    return host.removeprefix("www.") or None


def _mapped_outlet(host: str | None, outlets_by_host: Mapping[str, str]) -> str | None:
    """The sources file's name for ``host`` or for the nearest parent domain listed."""
    labels = (host or "").split(".")
    for start in range(len(labels) - 1):
        name = outlets_by_host.get(".".join(labels[start:]))
        if name:
            return name
    return None


def _host_labels(host: str | None) -> list[str]:
    """Names a host suggests for its site: "edition.theguardian.co.uk" → "edition", "theguardian"."""
    if not host:
        return []
    labels = host.split(".")[:-1]  # no top-level domain
    return [host, *(label for label in labels if label not in _HOST_NOISE)]


_HOST_NOISE = frozenset({"www", "m", "amp", "mobile", "blog", "blogs", "news", "co", "com", "org", "net", "ac",
                         "gov", "edu"})
