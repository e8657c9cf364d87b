"""The benchmark's scaled corpus: every replicated copy is an article of its own.

bench/ingest_search.py replicates the shared corpus (say 5× → ~120k) with a
marker in each copy's URL. A marker that URL normalisation drops gives the
copy its original's id, and the copy silently vanishes from the "120k" run.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from conftest import ROOT
from search.urls import normalize_url


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_ingest_search", ROOT / "bench" / "ingest_search.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


RECORDS = [
    {"id": "a", "outlet": "Wire", "date": "1987-03-02", "title": "A", "body": "one", "url": "https://w.example/a#top"},
    {"id": "b", "outlet": "Wire", "date": "2019-02-28", "title": "B", "body": "two", "url": "https://w.example/b?p=2#c"},
    {"id": "c", "outlet": "Alo", "date": None, "title": "C", "body": "three", "url": "https://alo.example/c"},
    {"id": "d", "outlet": "Alo", "date": "2016-02-29", "title": "D", "body": "four", "url": None},
]


def test_every_copy_gets_an_id_of_its_own_whatever_its_url() -> None:
    bench = _bench()
    replicated = bench.replicate(RECORDS, 3)
    ids = [bench.to_article(record).id for record in replicated]
    assert len(set(ids)) == len(RECORDS) * 3
    assert bench.distinct_copies(RECORDS, [bench.to_article(r) for r in replicated], 3) == 12
    # The marker survives normalisation, and the fragment is still the copy's own.
    copy = replicated[len(RECORDS) + 1]
    assert copy["url"] == "https://w.example/b?p=2&copy=1#c" and "copy=1" in normalize_url(copy["url"])


def test_the_benchmark_refuses_copies_that_share_ids() -> None:
    bench = _bench()
    articles = [bench.to_article(record) for record in RECORDS * 2]  # the same four twice
    with pytest.raises(SystemExit, match="copies share ids"):
        bench.distinct_copies(RECORDS, articles, 2)
