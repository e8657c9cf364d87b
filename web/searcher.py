"""The request's searcher: one per server thread, kept across requests and refreshed.

Opening a Whoosh searcher reads every segment's files (hundreds of
milliseconds at 100k articles), so a server that opened one per request
spent most of its time opening. Each worker thread keeps its own searcher
instead (Whoosh's file readers keep seek state, so threads never share
one) and, at the start of each request, ``refresh()`` returns the same
searcher when nothing was committed, or a new one that reuses the readers
of unchanged segments. A request sees one snapshot from start to end.

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
    if kept.searcher is not None and kept.directory == directory:
        kept.searcher = kept.searcher.refresh()
        return kept.searcher
    _close(kept)
    kept.index = open_index(settings)  # raises IndexMissing / SchemaMismatch (503)
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
