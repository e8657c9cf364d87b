#!/usr/bin/env python3
"""Benchmark: the cost of per-language text analysis (search/index/analysis.py).

Newsdesk's analyzer folds every word, stems it for English, and adds a
Russian stem beside Cyrillic words that are not distinctly Serbian. The
baseline, in the same run on the same texts, is the analyzer it replaced
(fold + English stem, schema version 2). Reported per language: words/s
of each, their ratio, and the extra terms a word carries (index growth).

Texts: English, Serbian (Cyrillic and Latin, split by script) and Albanian
articles from the shared ``news-24k.jsonl.gz``; Russian from the project's
labelled fixtures (``tests/fixtures/actors/ru.toml``), the only Russian text
here. Each round starts with empty word caches, as a fresh ingest does.

    .venv/bin/python bench/analysis.py [--limit N] [--rounds R] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from ingest_search import append_results, find_corpus, machine, md_table, read_records
from whoosh.analysis import Analyzer, Filter, LowercaseFilter, RegexTokenizer, StemFilter

from search.folding import fold
from search.index import analysis

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


class _Fold(Filter):  # type: ignore[misc]
    def __call__(self, tokens):  # type: ignore[no-untyped-def]
        for token in tokens:
            token.text = _fold(token.text)
            yield token


@lru_cache(maxsize=200_000)
def _fold(text: str) -> str:
    return fold(text)


def baseline_analyzer() -> Analyzer:
    """Schema version 2's analyzer: fold, then English stem."""
    return RegexTokenizer(expression=r"\w+(\.?\w+)*") | LowercaseFilter() | _Fold() | StemFilter(lang="en")


def texts_by_language(limit: int) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {"en": [], "sr-Latn": [], "sr-Cyrl": [], "sq": []}
    for record in read_records(find_corpus(), None):
        lang = record["lang"]
        if lang == "sr":
            lang = "sr-Cyrl" if len(_CYRILLIC.findall(record["body"])) > len(record["body"]) / 4 else "sr-Latn"
        if len(texts[lang]) < limit:
            texts[lang].append(f"{record['title']}\n{record['body']}")
    fixtures = tomllib.loads((REPO / "tests/fixtures/actors/ru.toml").read_text(encoding="utf-8"))
    texts["ru"] = [article["text"] for article in fixtures["article"]]
    return {lang: found for lang, found in texts.items() if found}


def _run(analyzer: Analyzer, texts: Sequence[str], clear: Callable[[], None]) -> tuple[float, int, int]:
    """Seconds, words and terms for one pass over ``texts``, caches cold."""
    clear()
    words = terms = 0
    start = time.perf_counter()
    for text in texts:
        positions = [token.pos for token in analyzer(text, positions=True)]
        terms += len(positions)
        words += len(set(positions))
    return time.perf_counter() - start, words, terms


def measure(texts: Sequence[str], rounds: int) -> tuple[float, float, float]:
    """Median words/s of Newsdesk and the baseline (interleaved), and terms per word."""
    ours, base = analysis.text_analyzer(), baseline_analyzer()
    ours_s, base_s = [], []
    for _ in range(rounds):
        seconds, words, terms = _run(ours, texts, analysis.index_terms.cache_clear)
        ours_s.append(seconds)
        base_s.append(_run(base, texts, _fold.cache_clear)[0])
    return words / sorted(ours_s)[rounds // 2], words / sorted(base_s)[rounds // 2], terms / words


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=500, help="articles per language from the corpus")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = parser.parse_args(argv)
    rows = []
    for lang, texts in texts_by_language(args.limit).items():
        ours, base, growth = measure(texts, args.rounds)
        rows.append((lang, len(texts), f"{ours:,.0f}", f"{base:,.0f}", f"{ours / base:.2f}", f"{growth:.3f}"))
    table = md_table(("language", "articles", "Newsdesk words/s", "baseline words/s", "ratio", "terms per word"),
                     rows)
    print(table)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    facts = ", ".join(f"{k} {v}" for k, v in machine().items())
    append_results(args.out, f"## Text analysis — {stamp}\n\nMachine: {facts}. Rounds: {args.rounds}, median; "
                             "caches cold each round. Baseline: schema version 2's analyzer (fold + English stem), "
                             f"same run, same texts.\n\n{table}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
