"""Takedown: ``newsdesk delete URL|ID`` removes an article everywhere Newsdesk keeps it.

Takedown requests happen. The article leaves the index (found by its id or
by its ``url`` field) and its pages leave the archive (``search.archive``,
which rewrites the WARC files without them), so no later ``reindex`` brings
it back. Runs as a writer: it holds the archive lock, then the index's, in
the same order as ingest, so the two never wait on each other in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from search.archive import open_archive
from search.errors import IndexMissing, NotFound, SchemaMismatch
from search.index import delete_articles, open_index
from search.settings import Settings


@dataclass(frozen=True)
class Takedown:
    """What was removed: articles from the index as (id, title), pages from the archive."""

    articles: list[tuple[str, str]]
    archived: int


def take_down(settings: Settings, url_or_id: str) -> Takedown:
    """Remove the article named by an id or URL from the index and the archive.

    Raises ``NotFound`` when neither holds anything by that name.
    """
    key = url_or_id.strip()
    with open_archive(settings) as archive:
        found = _find(settings, key)
        if found:
            delete_articles(settings, [doc["id"] for doc in found])
        # The index knows the canonical URL and id the cleaner gave the page:
        # the archive is asked under every name, not only the one typed.
        names = {key} | {doc["id"] for doc in found} | {doc["url"] for doc in found if doc.get("url")}
        archived = sum(archive.delete(name) for name in sorted(names))
    if not found and not archived:
        raise NotFound(f"no article or archived page matches {key}", hint="give an article id or its URL")
    return Takedown([(doc["id"], doc.get("title", "")) for doc in found], archived)


def _find(settings: Settings, key: str) -> list[dict[str, Any]]:
    """Stored fields of the articles whose id or URL is ``key`` (none without a usable index)."""
    try:
        ix = open_index(settings)
    except (IndexMissing, SchemaMismatch):
        return []  # the archive is still cleaned; a reindex rebuilds the index without the page
    with ix.searcher() as searcher:
        by_id = searcher.document(id=key)
        found = [by_id] if by_id else []
        found += [doc for doc in searcher.documents(url=key) if doc["id"] != key]
    return found
