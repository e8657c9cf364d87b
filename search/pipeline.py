"""The pipeline: the one place the stages are put in order.

    archive → clean → enrich → candidates → index → alerts

Three runners feed it pages and never wire the stages themselves:

* ``newsdesk ingest`` (``search.ingest``): files are archived, cleaned,
  enriched, and committed with instant alerts after each index commit;
* ``newsdesk reindex`` (``search.ingest``): the archive replays its pages
  into a new index, without alerts (nothing is new to the instance);
* the crawler (``search.crawl``): its workers run ``Pipeline.process`` on
  each fetched page (``fetch_article`` stays the picklable unit of work),
  and its single writer archives the response, links it to its article and
  calls ``Pipeline.commit``.

A page that holds no article is skipped with its reason counted; a page the
cleaner fails on (a bug of ours or a library's) is logged with its traceback
and counted as failed. Neither stops a run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from search.alerts import after_commit
from search.archive import Archive
from search.clean import clean
from search.enrich import Gazetteer, enrich, load_gazetteer, record_candidates
from search.errors import ExtractionError, ExtractorFailed
from search.index import IndexReport, write_articles
from search.records import Article, RawPage, Skipped, Source
from search.settings import Settings, seeds_dir
from search.sources import load_sources, outlets_by_host

log = logging.getLogger(__name__)

#: Crawler workers share one gazetteer automaton (pyahocorasick), which does
#: not document reading from several threads at once, so enrichment takes
#: turns; it is a small part of a page's cost. (Language detection, in the
#: cleaner, gives each call its own seeded detector and needs no lock.)
_ENRICH_LOCK = threading.Lock()


@dataclass(frozen=True)
class Pipeline:
    """The stages' shared inputs, read once per run: settings, the actor
    gazetteer and the sources file's host → outlet map."""

    settings: Settings
    gazetteer: Gazetteer = field(default_factory=load_gazetteer)
    outlets: Mapping[str, str] = field(default_factory=dict)

    def process(self, page: RawPage) -> Article:
        """Clean and enrich one page, or raise ``ExtractionError`` (``ExtractorFailed``
        for a failure of ours rather than of the page)."""
        article = clean(page, self.settings, self.outlets)
        with _ENRICH_LOCK:
            return enrich(article, self.gazetteer, self.settings.langdetect_seed)

    def articles(
        self,
        pages: Iterable[RawPage | Skipped],
        report: IndexReport,
        archive: Archive,
        *,
        keep: bool = True,
    ) -> Iterator[Article]:
        """archive → clean → enrich over a run's pages, skips and failures counted in ``report``.

        ``keep`` archives each page before it is cleaned, so a better cleaner
        can reindex even the rejected ones (off for a replay of the archive
        itself). Each article is then linked to its page in the archive, so a
        takedown by its id or canonical URL finds the page.
        """
        for page in pages:
            if isinstance(page, Skipped):
                _skip(report, page.origin, page.reason)
                continue
            if keep:
                archive.add_file(page)
            try:
                article = self.process(page)
            except ExtractorFailed as e:
                log.error("failed %s: %s", page.origin, e.message, exc_info=e)
                report.failed.append((page.origin, e.message))
                continue
            except ExtractionError as e:
                _skip(report, page.origin, e.message)
                continue
            archive.link(page, article)
            yield article

    def commit(
        self,
        articles: Iterable[Article],
        report: IndexReport | None = None,
        *,
        directory: Path | None = None,
        alerts: bool = True,
        replay: bool = False,
    ) -> IndexReport:
        """candidates → index → alerts: write the articles in batches.

        Titled people the gazetteer does not know are recorded as candidate
        actors on the way (a ``replay`` gives them all again, so it replaces
        them). With ``alerts``, instant alerts run after each index commit;
        they never raise, so an SMTP outage cannot stop a run. The counts go
        to ``report`` (a new one when none is given), which is returned.
        """
        articles = record_candidates(articles, self.settings, self.gazetteer, replace=replay)
        on_commit = partial(after_commit, self.settings) if alerts else None
        return write_articles(articles, self.settings, report, directory=directory, on_commit=on_commit)

    def alert(self) -> None:
        """Instant alerts on what is new to the instance, after a rebuilt index is swapped in."""
        after_commit(self.settings)


def load_pipeline(
    settings: Settings, gazetteer: Gazetteer | None = None, sources: Iterable[Source] | None = None
) -> Pipeline:
    """The pipeline for one run.

    ``sources`` name the outlets of their hosts (the crawl's, or by default
    the sources file's, ``seeds/sources.toml``). Ingest needs no sources file,
    so a missing default one maps no host; a broken one is an error.
    """
    if sources is None:
        default = seeds_dir() / "sources.toml"
        sources = load_sources(default) if default.exists() else ()
    return Pipeline(settings, gazetteer or load_gazetteer(), outlets_by_host(sources))


def _skip(report: IndexReport, origin: str, reason: str) -> None:
    log.warning("skipped %s: %s", origin, reason)
    report.skipped.append((origin, reason))
