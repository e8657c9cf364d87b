"""Ingest and reindex: the two runners of the pipeline (``search.pipeline``) over stored pages.

``ingest`` reads files; ``reindex`` replays the archive into a new index
(swapped in whole, on Whoosh), without the network. The stages and their order belong to
the pipeline; here are what only these runners decide: which pages, the
rebuild beside the live index and its swap, and progress — a bar on a
terminal, counts in the log otherwise. A page the cleaner fails on is
counted as failed, and the command then exits 1.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from search.archive import open_archive
from search.enrich import Gazetteer
from search.errors import NewsdeskError, NotFound
from search.index import IndexReport, rebuilding
from search.pipeline import load_pipeline
from search.settings import Settings
from search.sources import FieldMap, Manifest, ReadCounts, open_inputs

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
    fields: FieldMap | None = None,
    counts: ReadCounts | None = None,
) -> IndexReport:
    """Ingest every file under ``paths``: page files, and collections record by record (``search.sources``).

    ``fields`` maps a collection's columns to an article's fields (default:
    the common names); ``counts`` is filled with what was read.

    ``rebuild`` makes an index of just these files (search/index/backend.py's
    ``rebuilding``: Whoosh builds it beside the live one, ``whoosh.new/``,
    and swaps it in whole; PostgreSQL writes in place and then deletes what
    the files no longer give), kept as it was if the rebuild finds nothing.
    A path that does not exist is an error before anything is touched.
    """
    paths = list(paths)
    missing = [str(path) for path in paths if not Path(path).exists()]
    if missing:
        raise NotFound(f"no such file or folder: {', '.join(missing)}", hint="nothing was changed; check the path")
    report = IndexReport()
    pipeline = load_pipeline(settings, gazetteer)
    with open_archive(settings) as archive:  # held throughout: one ingest, crawl or reindex at a time
        inputs = open_inputs(paths, manifest, fields, counts)
        pages = _track(inputs, inputs.total, progress, unit=inputs.unit, done=lambda: inputs.done)
        # A count of pages, for whether to start worker processes (bytes say nothing of it: unknown).
        pending = None if inputs.unit == "B" else inputs.total
        if not rebuild:
            # Instant alerts after each commit: the articles are new to the instance (not so in reindex).
            return pipeline.run(pages, report, archive, total=pending)
        with rebuilding(settings) as rebuilt:
            pipeline.run(pages, report, archive, total=pending, store=rebuilt.store, given=rebuilt.given,
                         alerts=False)
            if not rebuilt.given:
                raise NewsdeskError(f"the rebuild found no article in {', '.join(map(str, paths))}",
                                    hint="the index is unchanged; see the skipped files above")
            rebuilt.finish(report)
    pipeline.alert()  # the new index is live
    return report


def _track(
    pages: Iterable[T],
    total: int,
    progress: bool | None,
    label: str = "ingest",
    *,
    unit: str = "file",
    done: Callable[[], int] | None = None,
) -> Iterator[T]:
    """A progress bar on a terminal; otherwise a log line every ``_LOG_EVERY`` items.

    ``done`` says how far the run is, in ``unit``s (bytes read of a
    compressed collection, say), when that is not one per item. Log lines
    (a skipped page's) are written above the bar, never through it.
    """
    if progress is None:
        progress = sys.stderr.isatty()
    if progress:
        with logging_redirect_tqdm(), tqdm(total=total, unit=unit, unit_scale=unit == "B", desc=label) as bar:
            for page in pages:
                bar.update((done() if done else bar.n + 1) - bar.n)
                yield page
            if done:
                bar.update(done() - bar.n)  # what was read after the last page (a collection's tail)
        return
    for count, page in enumerate(pages, start=1):
        position = done() if done else count
        if count % _LOG_EVERY == 0 or position == total:
            log.info("%s: %d/%d %ss read", label, position, total, unit if unit != "B" else "byte")
        yield page


def reindex(
    settings: Settings, *, gazetteer: Gazetteer | None = None, progress: bool | None = None
) -> IndexReport:
    """Rebuild the whole index from the archive alone (never the network), then swap it in.

    Whoosh builds the new index in ``whoosh.new/`` beside the live one,
    which serves until the swap; PostgreSQL rewrites in place (see
    search/index/backend.py). The counts compare old and new: ``unchanged`` means
    the replay gave the very same document; ``removed`` counts articles of
    the old index that no archived page gives any more.
    """
    report = IndexReport()
    pipeline = load_pipeline(settings, gazetteer)
    with open_archive(settings) as archive:  # held throughout: no ingest or crawl meanwhile
        if not len(archive):
            raise NewsdeskError(
                f"nothing is archived in {settings.index}, so there is nothing to rebuild from",
                hint=f"build the index from files instead: newsdesk ingest PATH --rebuild --index {settings.index}",
            )
        with rebuilding(settings) as rebuild:
            pages = _track(archive.pages(), len(archive), progress, "reindex")
            pipeline.run(pages, report, archive, keep=False, total=len(archive),  # the archive's own pages
                         store=rebuild.store, given=rebuild.given, alerts=False, replay=True)
            rebuild.finish(report, compare=True)
    return report
