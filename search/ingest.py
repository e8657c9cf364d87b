"""Ingest: runs the pipeline over files — sources → clean → enrich → index.

The one place the stages are wired together for ``newsdesk ingest``. A page
that cannot be cleaned is skipped with its reason logged and counted; it
never stops the run. Progress is a bar on a terminal and counts in the log
otherwise.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from search.actors import Gazetteer, load_gazetteer
from search.clean import clean
from search.enrich import enrich
from search.errors import ExtractionError
from search.index import IndexReport, create_index, write_articles
from search.records import Article, RawPage
from search.settings import Settings
from search.sources import Manifest, Skipped, count_files, read_files

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Without a terminal, log a progress line every this many files.
_LOG_EVERY = 100


def ingest(
    paths: Iterable[str | Path],
    settings: Settings,
    *,
    rebuild: bool = False,
    manifest: Manifest | None = None,
    gazetteer: Gazetteer | None = None,
    progress: bool | None = None,
) -> IndexReport:
    """Ingest every file under ``paths``; ``rebuild`` starts from an empty index."""
    paths = list(paths)
    if rebuild:
        create_index(settings)
    report = IndexReport()
    gazetteer = gazetteer or load_gazetteer()
    pages = _track(read_files(paths, manifest), count_files(paths), progress)
    articles = _articles(pages, gazetteer, settings, report)
    return write_articles(articles, settings, report)


def _articles(
    pages: Iterable[RawPage | Skipped], gazetteer: Gazetteer, settings: Settings, report: IndexReport
) -> Iterator[Article]:
    for page in pages:
        if isinstance(page, Skipped):
            _skip(report, page.origin, page.reason)
            continue
        try:
            article = clean(page)
        except ExtractionError as e:
            _skip(report, page.origin, e.message)
            continue
        yield enrich(article, gazetteer, settings.langdetect_seed)


def _skip(report: IndexReport, origin: str, reason: str) -> None:
    log.warning("skipped %s: %s", origin, reason)
    report.skipped.append((origin, reason))


def _track(pages: Iterable[T], total: int, progress: bool | None) -> Iterator[T]:
    """A progress bar on a terminal; otherwise a log line every ``_LOG_EVERY`` files."""
    if progress is None:
        progress = sys.stderr.isatty()
    if progress:
        yield from tqdm(pages, total=total, unit="file", desc="ingest")
        return
    for done, page in enumerate(pages, start=1):
        if done % _LOG_EVERY == 0 or done == total:
            log.info("ingest: %d/%d files read", done, total)
        yield page
