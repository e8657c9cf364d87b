"""The request's reader, settings and gazetteer: what every view reads the instance through.

Each request reads one snapshot of the instance through the query stage's
seam (search/query/backend.py's ``Reader``): this thread's reader, brought
up to date once, at the request's first question. The backend keeps it
between requests while nothing changes (search/query/embedded.py says how
the embedded Whoosh backend does: a searcher per thread, reopened after a
commit or a swapped-in index).
"""

from __future__ import annotations

from flask import Flask, current_app, g

from search.enrich import Gazetteer, load_gazetteer
from search.query import Reader, Readers, open_readers
from search.settings import Settings

_READERS = "newsdesk.readers"


def get_settings() -> Settings:
    settings: Settings = current_app.config["NEWSDESK_SETTINGS"]
    return settings


def get_reader() -> Reader:
    """This request's reader: the thread's own, brought up to date once per request."""
    if "reader" not in g:
        readers: Readers = current_app.extensions[_READERS]
        g.reader = readers.current()
    reader: Reader = g.reader
    return reader


def open_snapshot() -> Reader:
    """A reader of the request's own, for a response read after the view returns (an export); its caller
    closes it."""
    readers: Readers = current_app.extensions[_READERS]
    return readers.snapshot()


def get_gazetteer() -> Gazetteer:
    return load_gazetteer()


def init_app(app: Flask) -> None:
    app.extensions[_READERS] = open_readers(app.config["NEWSDESK_SETTINGS"])
