"""Percolation for the embedded backend: saved searches run against a batch of new articles only.

Part of the query stage, behind the read side's seam (search/query/backend.py's
``Reader.percolator``): the alert stage (search/alerts/runner.py) hands
over the articles new since a watermark and asks, saved search by saved
search, which of them each matches. Here the batch is indexed on its own, in
RAM, with the live schema — the cost follows the new articles, not the
corpus — and each saved search runs on it with the results page's own
parsing and filters (``matching``), so an alert matches exactly what the
page would show.
"""

from __future__ import annotations

from collections.abc import Sequence

from whoosh.filedb.filestore import RamStorage
from whoosh.searching import Searcher

from search.index import build_schema, search_fields
from search.query.run import matching
from search.records import SearchQuery, StoredArticle
from search.settings import Settings


class RamPercolator:
    """One batch of articles in a RAM index of their own, to match saved searches against."""

    def __init__(self, articles: Sequence[StoredArticle], settings: Settings) -> None:
        self.settings = settings
        self._searcher: Searcher | None = None
        if articles:
            ix = _ScratchInRam().create_index(build_schema())
            writer = ix.writer()
            for article in articles:
                # The wildcard twins included; and where the date came from, which a certainty filter reads
                # (``matching``) and ``search_fields`` leaves out (it is no field a query names).
                writer.add_document(**search_fields(article), published_source=article.published_source)
            writer.commit()
            self._searcher = ix.searcher()

    def match_all(self, requests: Sequence[SearchQuery]) -> list[dict[str, tuple[str, ...]] | Exception]:
        """Each request matched on its own, in order: its matches, or what stopped it (``QueryError`` for a
        query that cannot run; any other exception, a fault of ours, for that request only)."""
        found: list[dict[str, tuple[str, ...]] | Exception] = []
        for request in requests:
            try:
                found.append(self.match(request))
            except Exception as e:  # noqa: BLE001  # one saved search's failure is its own: the others run
                found.append(e)
        return found

    def match(self, request: SearchQuery) -> dict[str, tuple[str, ...]]:
        """The batch's articles ``request`` matches, by id, with the query words each matched (``QueryError``
        for a query that cannot run)."""
        return {} if self._searcher is None else matching(self._searcher, request, self.settings)

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()


class _ScratchInRam(RamStorage):  # type: ignore[misc]  # whoosh ships no type hints
    """A RAM storage whose writer's scratch files stay in RAM too.

    Whoosh's ``RamStorage.temp_storage`` puts them in ``<system temp
    dir>/MAIN.tmp``: one path for every process on the machine, so two
    instances' alert runs deleted each other's files, and a symlink planted
    there by another local user was followed. The batch is in RAM already.
    """

    def temp_storage(self, name: str | None = None) -> RamStorage:
        return RamStorage()
