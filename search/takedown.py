"""Takedown: ``newsdesk delete URL|ID`` removes an article everywhere Newsdesk keeps it.

Takedown requests happen. The article leaves the index (found by its id or
by its ``url`` field) and its pages leave the archive (``search.archive``,
which rewrites the WARC files without them), so no later ``reindex`` brings
it back. Runs as a writer: it holds the archive lock, then the index's, in
the same order as ingest, so the two never wait on each other in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass

from search.archive import open_archive
from search.errors import NotFound
from search.index import open_store
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
    store = open_store(settings)
    with open_archive(settings) as archive:
        found = store.named(key)
        if found:
            store.delete(named.id for named in found)
        # The index knows the canonical URL and id the cleaner gave the page:
        # the archive is asked under every name, not only the one typed.
        names = {key} | {named.id for named in found} | {named.url for named in found if named.url}
        archived = sum(archive.delete(name) for name in sorted(names))
    if not found and not archived:
        raise NotFound(f"no article or archived page matches {key}", hint="give an article id or its URL")
    return Takedown([(named.id, named.title) for named in found], archived)
