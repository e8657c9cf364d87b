"""The request's searcher: opened on first use, kept on ``g``, closed on teardown.

The index object is cached on the app; ``FileIndex.searcher()`` reads the
latest commit each time, so a running server sees new ingests at the next
request without locking anything.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from whoosh.searching import Searcher

from search.enrich import Gazetteer, load_gazetteer
from search.index import open_index
from search.settings import Settings


def get_settings() -> Settings:
    settings: Settings = current_app.config["NEWSDESK_SETTINGS"]
    return settings


def get_searcher() -> Searcher:
    if "searcher" not in g:
        index = current_app.extensions.get("newsdesk.index")
        if index is None:
            index = open_index(get_settings())  # raises IndexMissing / SchemaMismatch (503)
            current_app.extensions["newsdesk.index"] = index
        g.searcher = index.searcher()
    searcher: Searcher = g.searcher
    return searcher


def get_gazetteer() -> Gazetteer:
    return load_gazetteer()


def close_searcher(_error: BaseException | None = None) -> None:
    searcher: Any = g.pop("searcher", None)
    if searcher is not None:
        searcher.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_searcher)
