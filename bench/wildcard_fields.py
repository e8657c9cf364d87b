"""What the unstemmed wildcard fields (``title_words``, ``body_words``, ``author_words``) cost at ingest.

Not a test. Builds two indexes of the same enriched corpus articles in one
run, batch by batch in turn so machine noise falls on both alike: one with
the schema as shipped, one with the three twins left out (the index before
schema version 4). Prints and appends to bench/RESULTS.md the index size
and the indexing time of each, and their ratio.

    .venv/bin/python bench/wildcard_fields.py                  # 3,000 articles of the shared corpus
    .venv/bin/python bench/wildcard_fields.py --articles 500
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from ingest_search import directory_mb, find_corpus, machine, read_records, to_article

import search.index.document
import search.index.store
from search.enrich import enrich, load_gazetteer
from search.index import WORD_FIELDS, build_schema
from search.records import Article
from search.settings import Settings

BATCH = 200


@contextlib.contextmanager
def without_twins() -> Iterator[None]:
    """The index stage as before schema 4: no unstemmed twins in the schema or the documents."""
    def schema() -> Any:
        built = build_schema()
        for twin in WORD_FIELDS.values():
            built.remove(twin)
        return built

    saved = search.index.store.build_schema, search.index.document.word_fields
    search.index.store.build_schema, search.index.document.word_fields = schema, lambda document: {}
    try:
        yield
    finally:
        search.index.store.build_schema, search.index.document.word_fields = saved


def build(articles: list[Article], root: Path) -> dict[str, float]:
    shipped, before = Settings(index=root / "with"), Settings(index=root / "without")
    seconds = {"with": 0.0, "without": 0.0}
    for start in range(0, len(articles), BATCH):
        batch = articles[start:start + BATCH]
        t0 = time.perf_counter()
        search.index.store.write_articles(batch, shipped)
        seconds["with"] += time.perf_counter() - t0
        with without_twins():
            t0 = time.perf_counter()
            search.index.store.write_articles(batch, before)
            seconds["without"] += time.perf_counter() - t0
    return {"with_s": seconds["with"], "without_s": seconds["without"],
            "with_mb": directory_mb(shipped.index_dir), "without_mb": directory_mb(before.index_dir)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = parser.parse_args(argv)
    gazetteer = load_gazetteer()
    articles = [enrich(to_article(r), gazetteer, 0) for r in read_records(find_corpus(), args.articles)]
    with tempfile.TemporaryDirectory(prefix="wildcard-fields-") as tmp:
        f = build(articles, Path(tmp))
    info = machine()
    text = (
        f"\n## Wildcard fields (schema 4) — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}\n\n"
        f"Machine: {info['host']}, {info['CPU']}, {info['cores']} cores, {info['RAM']}, Python {info['Python']}, "
        f"load {info['load average at start']}. {len(articles):,} articles of the shared corpus, enriched once, "
        f"indexed batch by batch ({BATCH}) into both indexes in turn. `bench/wildcard_fields.py`.\n\n"
        "| index | size MB | indexing s |\n|---|---:|---:|\n"
        f"| without the unstemmed twins (schema 3) | {f['without_mb']:.1f} | {f['without_s']:.1f} |\n"
        f"| with title_words, body_words, author_words (schema 4) | {f['with_mb']:.1f} | {f['with_s']:.1f} |\n"
        f"| ratio | {f['with_mb'] / f['without_mb']:.2f} | {f['with_s'] / f['without_s']:.2f} |\n"
    )
    with args.out.open("a", encoding="utf-8") as out:
        out.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
