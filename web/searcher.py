"""The request's searcher: one per server thread, kept across requests until the index changes.

A server that opened a searcher per request spent most of its CPU opening
them. Each worker thread keeps its own searcher instead (Whoosh's file
readers keep seek state, so threads never share one), and at the start of
each request checks it is still the index's latest commit; after a commit
the thread opens a new one (a few milliseconds: the files are memory-mapped,
``search.index``). A request sees one snapshot from start to end.

Not Whoosh's ``Searcher.refresh()``: it reuses a segment's reader with the
deletions it had, so an article updated by a later commit came back twice,
and after a merge it kept the merged-away segments as well (counts too high;
tests/test_searcher_reuse.py).

``reindex`` and ``ingest --rebuild`` do not commit to the live index: they
swap in another directory, whose commit generation may well equal the old
one's. The searcher is therefore kept for one directory, known by its inode:
when that changes, the thread opens the index afresh.
"""

from __future__ import annotations

import os
import threading

from flask import Flask, current_app, g
from whoosh.index import FileIndex
from whoosh.searching import Searcher

from search.enrich import Gazetteer, load_gazetteer
from search.index import open_index
from search.settings import Settings

_KEPT = "newsdesk.searchers"


class _Kept(threading.local):
    """This thread's searcher and the directory it reads (device, inode)."""

    searcher: Searcher | None = None
    index: FileIndex | None = None
    directory: tuple[int, int] | None = None


def get_settings() -> Settings:
    settings: Settings = current_app.config["NEWSDESK_SETTINGS"]
    return settings


def get_searcher() -> Searcher:
    """This request's searcher: the thread's own, brought up to date once per request."""
    if "searcher" not in g:
        g.searcher = _current(current_app.extensions[_KEPT], get_settings())
    searcher: Searcher = g.searcher
    return searcher


def _current(kept: _Kept, settings: Settings) -> Searcher:
    directory = _identity(settings)
    if kept.searcher is not None and kept.directory == directory and kept.searcher.up_to_date():
        return kept.searcher
    index = kept.index if kept.directory == directory else None
    _close(kept)
    kept.index = index or open_index(settings)  # raises IndexMissing / SchemaMismatch (503)
    kept.searcher, kept.directory = kept.index.searcher(), directory
    return kept.searcher


def _identity(settings: Settings) -> tuple[int, int] | None:
    try:
        status = os.stat(settings.index_dir)
    except OSError:
        return None  # no index: open_index says why
    return status.st_dev, status.st_ino


def _close(kept: _Kept) -> None:
    if kept.searcher is not None:
        kept.searcher.close()
    kept.searcher = kept.index = kept.directory = None


def get_gazetteer() -> Gazetteer:
    return load_gazetteer()


def init_app(app: Flask) -> None:
    app.extensions[_KEPT] = _Kept()
