"""Facet counts under the server's threads: the kept counts are shared, so they must be thread-safe.

The server answers requests on several threads (waitress) that share the
kept facet counts and the per-segment actor lists (search/query/facets.py). A
lookup that found an entry and then marked it as recently used raised
``KeyError`` when another thread evicted that entry in between: a 500
under load. The first test opens that window deterministically.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import Flask

from conftest import make_settings
from search.enrich import Gazetteer, enrich
from search.index import write_articles
from search.query.facets import _Lru
from search.records import Article


class _PausingItems(OrderedDict[str, int]):
    """The LRU's storage, pausing after each lookup so another thread may act in the window."""

    def __init__(self, in_window: threading.Event, window_closed: threading.Event) -> None:
        super().__init__()
        self.in_window, self.window_closed = in_window, window_closed

    def get(self, key: str, default: Any = None) -> Any:
        value = super().get(key, default)
        self.in_window.set()
        self.window_closed.wait(timeout=0.5)  # with a lock, the other thread cannot get in: the wait runs out
        return value


def test_a_lookup_and_an_eviction_on_two_threads_do_not_collide() -> None:
    in_window, window_closed = threading.Event(), threading.Event()
    lru: _Lru[str, int] = _Lru()
    lru._items = _PausingItems(in_window, window_closed)
    lru.put("old", 1, size=1)

    def evict() -> None:
        in_window.wait(timeout=5)
        lru.put("new", 2, size=1)  # evicts "old", the entry being looked up
        window_closed.set()

    evictor = threading.Thread(target=evict)
    evictor.start()
    assert lru.get("old") == 1
    evictor.join(timeout=5)
    assert not evictor.is_alive()
    assert list(lru._items) == ["new"]


def _articles(gazetteer: Gazetteer, first: int, count: int) -> list[Article]:
    outlets = ("Tanjug", "RT", "Koha")
    return [
        enrich(Article(id=f"{n:020x}", title=f"Talks {n}", origin=f"test:{n}", outlet=outlets[n % 3],
                       text=f"Sergey Lavrov and Aleksandar Vučić met on day {n} to discuss Kosovo."), gazetteer, 0)
        for n in range(first, first + count)
    ]


def test_many_threads_search_while_a_writer_commits(tmp_path: Path, gazetteer: Gazetteer) -> None:
    from web import create_app

    settings = make_settings(tmp_path / "instance", facet_cache_size=4)  # small: entries are evicted all the time
    write_articles(_articles(gazetteer, 0, 30), settings)
    app: Flask = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings})
    queries = [f"/api/search?q={q}&outlet={o}" for q in ("Lavrov", "Kosovo", "talks", "day") for o in ("RT", "Koha")]
    stop = threading.Event()

    def commit_meanwhile() -> int:
        batches = 0
        while not stop.is_set() and batches < 20:
            write_articles(_articles(gazetteer, 100 + batches * 5, 5), settings)
            batches += 1
        return batches

    def search_repeatedly(n: int) -> list[int]:
        client = app.test_client()
        return [client.get(queries[(n + i) % len(queries)]).status_code for i in range(40)]

    with ThreadPoolExecutor(max_workers=9) as pool:
        writer = pool.submit(commit_meanwhile)
        statuses = [status for answers in pool.map(search_repeatedly, range(8)) for status in answers]
        stop.set()
        assert writer.result() >= 1
    assert statuses.count(200) == len(statuses) == 8 * 40
