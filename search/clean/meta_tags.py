"""A page's ``<meta>`` tags by key, read once for the cleaner's metadata readers.

A helper of the cleaner (stage 2 of the pipeline: sources → **clean** → enrich → index): the
metadata reader (``search/clean/metadata.py``) builds one :class:`MetaTags` per page and hands it to the
readers of the title (``search/clean/titles.py``) and the authors (``search/clean/authors.py``).

Exports :class:`MetaTags`.
"""

from __future__ import annotations

import lxml.html

from search.clean.page_strings import squash


class MetaTags:
    """The ``<meta>`` of a page by key (``property``, ``name`` or ``itemprop``, lower case)."""

    def __init__(self, tree: lxml.html.HtmlElement) -> None:
        self._values: dict[str, list[str]] = {}
        for element in tree.xpath("//meta[@content]"):
            content = squash(element.get("content") or "")
            for attribute in ("property", "name", "itemprop") if content else ():
                key = (element.get(attribute) or "").strip().lower()
                if key:
                    self._values.setdefault(key, []).append(content)

    def get(self, key: str) -> str | None:
        """The first value of ``key``."""
        values = self._values.get(key)
        return values[0] if values else None

    def all(self, key: str) -> list[str]:
        """Every value of ``key``: some are repeated, one per author."""
        return self._values.get(key, [])

    def labelled(self, labels: frozenset[str]) -> list[str]:
        """Values of ``twitter:dataN`` whose ``twitter:labelN`` is one of ``labels`` ("Written by")."""
        return [value for n in range(1, 5) if (self.get(f"twitter:label{n}") or "").lower() in labels
                for value in self.all(f"twitter:data{n}")]
