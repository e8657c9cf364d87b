"""Ingest: runs the pipeline over files — sources → clean → enrich → index.

The one place the stages are wired together for ``newsdesk ingest``. A page
that holds no article (or is too big, or binary) is skipped with its reason
logged and counted; a page the cleaner fails on is logged as an error with
its file and counted as failed, and the command then exits 1. Neither stops
the run. Progress is a bar on a terminal and counts in the log
otherwise.

Every file read is kept in the archive (``search.archive``) before it is
cleaned. Titled people the gazetteer does not know are recorded as
candidate actors on the way to the index (``search.candidates``).
``reindex`` is the second runner: archive → clean → enrich → a new
index swapped in whole, without the network.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from search.actors import Gazetteer, load_gazetteer
from search.alerts import after_commit
from search.archive import Archive, open_archive
from search.candidates import record_candidates
from search.clean import clean
from search.enrich import enrich
from search.errors import ExtractionError, ExtractorFailed, IndexUnavailable, NewsdeskError, NotFound
from search.index import IndexReport, create_index, open_index, replace_index, write_articles
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
    """Ingest every file under ``paths``.

    ``rebuild`` makes an index of just these files: built beside the live
    one (``whoosh.new/``, as ``reindex`` does) and swapped in whole, so the
    live index serves until then and is kept if the rebuild finds nothing.
    A path that does not exist is an error before anything is touched.
    """
    paths = list(paths)
    missing = [str(path) for path in paths if not Path(path).exists()]
    if missing:
        raise NotFound(f"no such file or folder: {', '.join(missing)}", hint="nothing was changed; check the path")
    report = IndexReport()
    gazetteer = gazetteer or load_gazetteer()
    with open_archive(settings) as archive:  # held throughout: one ingest, crawl or reindex at a time
        pages = _track(_archived(read_files(paths, manifest), archive), count_files(paths), progress)
        articles = record_candidates(_articles(pages, gazetteer, settings, report, archive), settings, gazetteer)
        if not rebuild:
            # Instant alerts after each commit: the articles are new to the instance (not so in reindex).
            return write_articles(articles, settings, report, on_commit=partial(after_commit, settings))
        staging = settings.index / "whoosh.new"
        shutil.rmtree(staging, ignore_errors=True)  # left by a rebuild or reindex that was killed
        create_index(settings, directory=staging)
        write_articles(articles, settings, report, directory=staging)
        if not report.added:
            shutil.rmtree(staging)
            raise NewsdeskError(f"the rebuild found no article in {', '.join(map(str, paths))}",
                                hint="the index is unchanged; see the skipped files above")
        replace_index(settings, staging)
    after_commit(settings)  # the new index is live: instant alerts on what is new to the instance
    return report


def _archived(pages: Iterable[RawPage | Skipped], archive: Archive) -> Iterator[RawPage | Skipped]:
    """Archive each page before it is cleaned, so a better cleaner can reindex even the rejected ones."""
    for page in pages:
        if isinstance(page, RawPage):
            archive.add_file(page)
        yield page


def _articles(
    pages: Iterable[RawPage | Skipped],
    gazetteer: Gazetteer,
    settings: Settings,
    report: IndexReport,
    archive: Archive | None = None,
) -> Iterator[Article]:
    for page in pages:
        if isinstance(page, Skipped):
            _skip(report, page.origin, page.reason)
            continue
        try:
            article = clean(page, settings)
        except ExtractorFailed as e:
            log.error("failed %s: %s", page.origin, e.message, exc_info=e)
            report.failed.append((page.origin, e.message))
            continue
        except ExtractionError as e:
            _skip(report, page.origin, e.message)
            continue
        if archive is not None:
            archive.link(page, article)  # a takedown by the article's id or URL then finds the page
        yield enrich(article, gazetteer, settings.langdetect_seed)


def _skip(report: IndexReport, origin: str, reason: str) -> None:
    log.warning("skipped %s: %s", origin, reason)
    report.skipped.append((origin, reason))


def _track(pages: Iterable[T], total: int, progress: bool | None, label: str = "ingest") -> Iterator[T]:
    """A progress bar on a terminal; otherwise a log line every ``_LOG_EVERY`` files."""
    if progress is None:
        progress = sys.stderr.isatty()
    if progress:
        yield from tqdm(pages, total=total, unit="file", desc=label)
        return
    for done, page in enumerate(pages, start=1):
        if done % _LOG_EVERY == 0 or done == total:
            log.info("%s: %d/%d files read", label, done, total)
        yield page


def reindex(
    settings: Settings, *, gazetteer: Gazetteer | None = None, progress: bool | None = None
) -> IndexReport:
    """Rebuild the whole index from the archive alone (never the network), then swap it in.

    The new index is built in ``whoosh.new/`` beside the live one, which
    serves until the swap. The counts compare the two: ``unchanged`` means
    the replay gave the very same document; ``removed`` counts articles of
    the old index that no archived page gives any more.
    """
    staging = settings.index / "whoosh.new"
    report = IndexReport()
    gazetteer = gazetteer or load_gazetteer()
    with open_archive(settings) as archive:  # held throughout: no ingest or crawl meanwhile
        if not len(archive):
            raise NewsdeskError(
                f"nothing is archived in {settings.index}, so there is nothing to rebuild from",
                hint=f"build the index from files instead: newsdesk ingest PATH --rebuild --index {settings.index}",
            )
        shutil.rmtree(staging, ignore_errors=True)  # left by a reindex that was killed
        create_index(settings, directory=staging)
        pages = _track(archive.pages(), len(archive), progress, "reindex")
        articles = _articles(pages, gazetteer, settings, report, archive)
        articles = record_candidates(articles, settings, gazetteer, replace=True)  # the replay gives them all again
        write_articles(articles, settings, report, directory=staging)
        _compare(settings, staging, report)
        replace_index(settings, staging)
    return report


def _compare(settings: Settings, staging: Path, report: IndexReport) -> None:
    new, old = _fingerprints(settings, staging), _fingerprints(settings, settings.index_dir)
    report.added = len(new.keys() - old.keys())
    report.unchanged = sum(1 for article_id, print_ in new.items() if old.get(article_id) == print_)
    report.updated = len(new) - report.added - report.unchanged
    report.removed = len(old.keys() - new.keys())


def _fingerprints(settings: Settings, directory: Path) -> dict[str, str]:
    """Article id → fingerprint; empty when there is no usable index there."""
    try:
        ix = open_index(settings, directory)
    except IndexUnavailable:
        return {}
    with ix.searcher() as searcher:
        return {fields["id"]: fields.get("fingerprint", "") for fields in searcher.all_stored_fields()}
