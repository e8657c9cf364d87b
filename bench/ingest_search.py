#!/usr/bin/env python3
"""Benchmark: Newsdesk ingest and search against plain Whoosh, in one run.

Corpus: the shared ``news-24k.jsonl.gz`` (24,097 real articles: Reuters-21578,
Alo, Lajmi.net), found in ``$NEWSDESK_SHARED`` or ``../shared`` beside the
checkout. What is measured, and why:

1. **Newsdesk ingest** through the real path: corpus record → ``Article`` →
   ``enrich`` (language + actors) → ``write_articles`` (update by id, commit
   every ``batch_size``). Enrich and index are timed separately, so a slow
   stage is visible.
2. **Raw Whoosh baseline** on the same texts: a three-field schema with Whoosh's
   stemming analyzer, one writer, ``procs=1``, the same commit batch size.
   The Newsdesk/raw ratio is the cost of Newsdesk's schema and bookkeeping.
   The two indexes are built batch by batch in turn, so a burst of load on
   the machine hits both.
3. **Search latency** for ~100 keyword queries derived deterministically from
   the corpus titles: (a) Newsdesk's ``search()`` with its four facet counts
   and snippets, (b) the same parsed Newsdesk query without facets, (c) the
   same text on the raw index. (b) and (c) include parsing and reading the
   stored fields of the 10 hits, as (a) does. Ratios (a)/(c) and (b)/(c) tell
   what faceting and the schema cost; the empty query (all articles, newest
   first, with facets) is the front page.

Machines here are shared and noisy, so every figure is paired with a baseline
measured in the same run, query by query, in rotating order: compare the
ratios across runs, not the absolute milliseconds. Each query's latency is the
median over ``--rounds`` after one warm-up pass (a long-running server keeps
its searcher warm); p50/p95 are over the queries.

Run: ``make bench`` or ``python bench/ingest_search.py [--quick | --limit N]
[--scale K] [--rounds R] [--out bench/RESULTS.md]``. Prints a Markdown section
and appends it to RESULTS.md.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import gzip
import hashlib
import itertools
import json
import logging
import os
import platform
import random
import re
import shlex
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import whoosh
from tqdm import tqdm
from whoosh import fields as whoosh_fields
from whoosh import index as whoosh_index
from whoosh.analysis import StemmingAnalyzer
from whoosh.index import FileIndex
from whoosh.qparser import MultifieldParser
from whoosh.searching import Searcher

from search.enrich import Gazetteer, enrich, load_gazetteer
from search.index import create_index, open_index, write_articles
from search.ingest import ingest
from search.query import make_query, parse_query, search
from search.records import Article
from search.settings import Settings
from search.timeparse import parse_iso
from search.urls import article_id

log = logging.getLogger("bench")
T = TypeVar("T")
Record = dict[str, Any]

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path("data/corpus/news-24k.jsonl.gz")  # inside the shared directory
DEFAULT_OUT = REPO / "bench" / "RESULTS.md"
#: ``--quick`` size.
QUICK_LIMIT = 2_000
#: Years added per copy with ``--scale``: more than the corpus spans (1987–2020),
#: so each copy's years are new facet values.
YEAR_SHIFT = 40
QUERY_COUNT = 100
SEED = 1987
#: The raw baseline's tokenizer, as the Whoosh notes advise (the fork keeps "*" in words).
WORD_PATTERN = r"\w+(\.?\w+)*"
#: Title words too common to make a useful query, in the corpus' three languages.
_STOP_WORDS_TEXT = """
    the and for with from that this its are was has have will not but over says said new after into
    more than year years first vs pct mln dlrs billion two three sets plans unit inc corp ltd
    je da na za se su od u i sa iz ne kao koji ali po ko sve kako što sta šta jer ili nije
    të në dhe për me nga së një që ka se i e u ta ky kjo pas
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


# --- the corpus ---------------------------------------------------------------


def find_corpus() -> Path:
    """The corpus in $NEWSDESK_SHARED, else in ../shared beside the checkout; exit if absent."""
    shared = os.environ.get("NEWSDESK_SHARED")
    base = Path(shared) if shared else REPO.parent / "shared"
    path = base / CORPUS
    if not path.is_file():
        sys.exit(
            f"bench: corpus not found at {path}\n"
            f"  set NEWSDESK_SHARED to the shared/ directory that holds {CORPUS}"
        )
    return path


def read_records(path: Path, limit: int | None) -> list[Record]:
    """All records, or ``limit`` of them spread evenly over the file.

    Spread rather than the first N: the file is sorted by outlet, and a
    subset should keep every outlet and language in proportion.
    """
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    return records if limit is None else spread(records, limit)


def ingest_replicated(settings: Settings, tmp: Path, limit: int | None, scale: int) -> float:
    """``newsdesk ingest`` of the corpus records (``limit`` of them, replicated ``scale``×) into ``settings``'
    instance, through a JSON Lines file in ``tmp``: the instance the query benchmarks measure. Its wall seconds."""
    records = replicate(read_records(find_corpus(), limit), scale)
    path = tmp / "records.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    log.info("ingesting %d records", len(records))
    start = time.perf_counter()
    report = ingest([path], settings, progress=False)
    log.info("ingest: added %d, skipped %d, duplicate %d", report.added, len(report.skipped), report.duplicate)
    return time.perf_counter() - start


@contextmanager
def corpus_instance(args: argparse.Namespace, name: str) -> Iterator[tuple[Settings, bool]]:
    """The instance a query benchmark measures (``instance_parser``'s options): ``--index`` when given, else one
    in a temporary directory; built from the corpus when it is not there yet. Yields it with whether it was
    built here; the facet cache is off, so every search counts afresh. Logging is set up for the run."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    with tempfile.TemporaryDirectory(prefix=f"newsdesk-bench-{name}-") as tmp:
        settings = Settings(index=args.index or Path(tmp) / "instance", facet_cache_size=0)
        built = not settings.index_dir.exists()
        if built:
            ingest_replicated(settings, Path(tmp), args.limit, args.scale)
        yield settings, built


def instance_parser(description: str, rounds: int) -> argparse.ArgumentParser:
    """The options of a benchmark over one instance of the corpus: how much of it, how many times, where kept."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--limit", type=int, metavar="N", help="N records spread evenly over the corpus (default all)")
    parser.add_argument("--scale", type=int, default=1, metavar="K", help="the corpus K× (new ids, outlets)")
    parser.add_argument("--index", type=Path, metavar="DIR", help="reuse (or build and keep) this instance")
    parser.add_argument("--rounds", type=int, default=rounds, metavar="R", help=f"interleaved rounds (default {rounds})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="append the results here")
    return parser


def spread(items: Sequence[T], n: int) -> list[T]:
    """``n`` items evenly spaced over ``items`` (all of them if there are fewer)."""
    if n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def replicate(records: list[Record], scale: int) -> list[Record]:
    """The records, then ``scale - 1`` copies with new ids, URLs and shifted years."""
    copies = list(records)
    for k in range(1, scale):
        copies.extend(_copy(record, k) for record in records)
    return copies


def _copy(record: Record, k: int) -> Record:
    # A copy under the same outlet would be dropped as a duplicate (same text,
    # same outlet); under an outlet of its own it is kept, like a wire story
    # republished elsewhere, and joins the original's syndication cluster.
    copy = dict(record, id=f"{record['id']}~{k}", outlet=f"{record['outlet']} (copy {k})")
    if record.get("url"):
        copy["url"] = _marked(record["url"], k)
    if record.get("date"):
        copy["date"] = _shift_years(record["date"], k * YEAR_SHIFT)
    return copy


def _marked(url: str, k: int) -> str:
    """``url`` with ``copy=k`` in its query: before any #fragment, which URL
    normalisation drops (a marker after it gave the copy its original's id)."""
    parts = urlsplit(url)
    query = f"{parts.query}&copy={k}" if parts.query else f"copy={k}"
    return urlunsplit(parts._replace(query=query))


def distinct_copies(originals: list[Record], articles: list[Article], scale: int) -> int:
    """The number of distinct articles, checked to be ``scale`` × the originals':
    a copy that shared an id with another would silently vanish from the index."""
    distinct = len({article.id for article in articles})
    originals_distinct = len({to_article(record).id for record in originals})
    if distinct != scale * originals_distinct:
        sys.exit(f"bench: {scale}× {originals_distinct:,} distinct originals gave {distinct:,} distinct ids, "
                 f"not {scale * originals_distinct:,}: copies share ids")
    return distinct


def _shift_years(iso: str, years: int) -> str:
    year = int(iso[:4]) + years
    month_day = iso[5:10]
    if month_day == "02-29" and not calendar.isleap(year):
        month_day = "02-28"
    return f"{year:04d}-{month_day}{iso[10:]}"


def to_article(record: Record) -> Article:
    """The ``Article`` the cleaner would hand on for this record."""
    data = json.dumps(record, ensure_ascii=False).encode()
    return Article(
        id=article_id(record.get("url"), data),
        title=record.get("title") or "",
        text=record.get("body") or "",
        origin=f"news-24k:{record['id']}",
        url=record.get("url"),
        outlet=record.get("outlet"),
        author=record.get("author"),
        published=parse_iso(record.get("date")),
        published_source="corpus" if record.get("date") else None,
    )


# --- queries --------------------------------------------------------------------


def derive_queries(records: Sequence[Record], count: int = QUERY_COUNT, seed: int = SEED) -> list[str]:
    """Title words and word pairs, per language in proportion (min. 10% each).

    Per language: half single words (half of them the most frequent, half
    drawn with a seeded RNG from the next 1,000), a quarter two-word AND
    queries and a quarter phrases, both from frequent adjacent title words.
    """
    by_lang: dict[str, list[str]] = {}
    for record in records:
        by_lang.setdefault(record.get("lang") or "unknown", []).append(record.get("title") or "")
    shares = _language_shares({lang: len(titles) for lang, titles in by_lang.items()}, count)
    rng = random.Random(seed)
    queries: list[str] = []
    for lang in sorted(shares):
        queries += _queries_for(by_lang[lang], shares[lang], rng)
    return list(dict.fromkeys(queries))


def _language_shares(sizes: dict[str, int], count: int) -> dict[str, int]:
    floor = max(1, count // 10)
    shares = {lang: max(floor, round(count * n / sum(sizes.values()))) for lang, n in sizes.items()}
    largest = max(shares, key=lambda lang: sizes[lang])
    shares[largest] -= sum(shares.values()) - count
    return shares


def _queries_for(titles: list[str], count: int, rng: random.Random) -> list[str]:
    words, pairs = Counter[str](), Counter[str]()
    for title in titles:
        tokens = [t for t in re.findall(r"[^\W\d_]+", title.casefold())]
        words.update(t for t in tokens if _useful(t))
        pairs.update(f"{a} {b}" for a, b in itertools.pairwise(tokens) if _useful(a) and _useful(b))
    ranked_words = [w for w, _ in sorted(words.items(), key=lambda item: (-item[1], item[0]))]
    ranked_pairs = [p for p, _ in sorted(pairs.items(), key=lambda item: (-item[1], item[0]))]
    n_words, n_pairs = count // 2, count // 4
    top, rest = ranked_words[: n_words // 2], ranked_words[n_words // 2 : n_words // 2 + 1000]
    sampled = rng.sample(rest, min(len(rest), n_words - len(top)))
    and_pairs = ranked_pairs[0 : 2 * n_pairs : 2]
    phrases = [f'"{p}"' for p in ranked_pairs[1 : 2 * (count - n_words - n_pairs) : 2]]
    return top + sampled + and_pairs + phrases


def _useful(token: str) -> bool:
    return len(token) >= 3 and token not in STOP_WORDS


# --- progress -----------------------------------------------------------------------


def track(items: Iterable[T], total: int, desc: str) -> Iterator[T]:
    """A tqdm bar on a terminal; otherwise a log line every 10%."""
    if sys.stderr.isatty():
        yield from tqdm(items, total=total, desc=desc, unit="it", leave=False)
        return
    step = max(1, total // 10)
    for done, item in enumerate(items, start=1):
        yield item
        if done % step == 0 or done == total:
            log.info("%s: %d/%d", desc, done, total)


# --- building indexes --------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """One timed stage over ``docs`` articles; ``megabytes`` is the index on disk."""

    docs: int
    seconds: float
    megabytes: float = 0.0

    @property
    def rate(self) -> float:
        return self.docs / self.seconds if self.seconds else float("nan")


@dataclass(frozen=True)
class Indexes:
    """The two indexes of the run and how long each took to build."""

    newsdesk: Settings
    raw: FileIndex  # the plain Whoosh baseline
    builds: dict[str, Build]  # by "newsdesk", "raw"


def enrich_all(articles: list[Article], gazetteer: Gazetteer, seed: int) -> tuple[list[Article], Build]:
    start = time.perf_counter()
    enriched = [enrich(article, gazetteer, seed) for article in track(articles, len(articles), "enrich")]
    return enriched, Build(len(enriched), time.perf_counter() - start)


def build_indexes(articles: list[Article], root: Path) -> Indexes:
    """Build both indexes one commit batch at a time, in rotating order.

    Each Newsdesk batch goes through ``write_articles`` (one commit per
    call, as in one long ingest); interleaving puts machine noise on both.
    """
    newsdesk = _uncached(root / "newsdesk")
    create_index(newsdesk)
    raw = create_raw_index(root / "raw")
    writers: dict[str, Callable[[list[Article]], int]] = {
        "newsdesk": lambda batch: write_articles(batch, newsdesk).added,
        "raw": lambda batch: add_raw(raw, batch),
    }
    docs, seconds = dict.fromkeys(writers, 0), dict.fromkeys(writers, 0.0)
    names = list(writers)
    batches = _chunks(track(articles, len(articles), "index (2 indexes)"), newsdesk.batch_size)
    for i, batch in enumerate(batches):
        for name in names[i % 2 :] + names[: i % 2]:
            start = time.perf_counter()
            docs[name] += writers[name](batch)
            seconds[name] += time.perf_counter() - start
    dirs = {"newsdesk": newsdesk.index_dir, "raw": root / "raw"}
    builds = {name: Build(docs[name], seconds[name], directory_mb(dirs[name])) for name in names}
    return Indexes(newsdesk, raw, builds)


def _uncached(root: Path) -> Settings:
    """Settings that count facets on every search: the rounds repeat each
    query, and kept counts would time the cache, not the search."""
    return Settings(index=root, facet_cache_size=0)


def build_newsdesk(articles: list[Article], root: Path) -> Settings:
    """A Newsdesk index of ``articles`` in a fresh instance directory (untimed)."""
    settings = _uncached(root)
    create_index(settings)
    write_articles(articles, settings)
    return settings


def raw_schema() -> whoosh_fields.Schema:
    analyzer = StemmingAnalyzer(expression=WORD_PATTERN)
    return whoosh_fields.Schema(
        title=whoosh_fields.TEXT(stored=True, analyzer=analyzer),
        body=whoosh_fields.TEXT(stored=True, analyzer=analyzer),
        outlet=whoosh_fields.ID(stored=True, sortable=True),
    )


def create_raw_index(path: Path) -> FileIndex:
    path.mkdir(parents=True)
    return whoosh_index.create_in(str(path), raw_schema())


def add_raw(ix: FileIndex, batch: list[Article]) -> int:
    """Plain Whoosh: one writer, ``procs=1``, ``add_document``, one commit."""
    writer = ix.writer(procs=1)
    for article in batch:
        writer.add_document(title=article.title, body=article.text, outlet=article.outlet or "unknown")
    writer.commit()
    return len(batch)


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def directory_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


# --- search latency ------------------------------------------------------------------

Run = Callable[[str], object]


def facet_page(searcher: Searcher, settings: Settings, gazetteer: Gazetteer) -> Callable[[str], int]:
    """(a) Newsdesk's ``search()``: 10 hits with snippets and the four facet counts."""

    def run(q: str) -> int:
        return search(searcher, make_query(q, per_page=10), settings, gazetteer).total

    return run


def keyword_only(searcher: Searcher, settings: Settings) -> Run:
    """(b) The same Newsdesk query, top 10 by relevance, no facets, no snippets."""

    def run(q: str) -> list[dict[str, Any]]:
        results = searcher.search(parse_query(q, searcher, settings), limit=10)
        return [hit.fields() for hit in results]

    return run


def raw_keyword(searcher: Searcher) -> Run:
    """(c) The same text on the raw index: Whoosh's parser over title and body."""
    parser = MultifieldParser(["title", "body"], searcher.schema)

    def run(q: str) -> list[dict[str, Any]]:
        return [hit.fields() for hit in searcher.search(parser.parse(q), limit=10)]

    return run


def raw_total(searcher: Searcher) -> Callable[[str], int]:
    parser = MultifieldParser(["title", "body"], searcher.schema)
    return lambda q: len(searcher.search(parser.parse(q), limit=1))


@dataclass(frozen=True)
class Latency:
    """Milliseconds over queries (each query: its median over the rounds)."""

    p50: float
    p95: float

    @classmethod
    def of(cls, ms: Sequence[float]) -> Latency:
        return cls(statistics.median(ms), percentile(ms, 95))


def percentile(values: Sequence[float], pct: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def time_paths(paths: Mapping[str, Run], queries: Sequence[str], rounds: int, desc: str) -> dict[str, list[float]]:
    """Each query's median milliseconds per path over ``rounds``, after a warm-up pass.

    The paths run interleaved query by query, in an order rotated on every
    query and round, so machine noise and cache effects fall on all alike.
    """
    for q in queries:
        for run in paths.values():
            run(q)
    names = list(paths)
    samples: dict[str, list[list[float]]] = {name: [[] for _ in queries] for name in names}
    for r in range(rounds):
        for i, q in enumerate(track(queries, len(queries), f"{desc} {r + 1}/{rounds}")):
            k = (i + r) % len(names)
            for name in names[k:] + names[:k]:
                samples[name][i].append(_time_ms(paths[name], q))
    return {name: [statistics.median(s) for s in per_query] for name, per_query in samples.items()}


def _time_ms(run: Run, q: str) -> float:
    start = time.perf_counter()
    run(q)
    return (time.perf_counter() - start) * 1000


def memory_mb() -> tuple[float, float]:
    """This process's resident memory: (anonymous, file-backed) MB; NaN off Linux."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return float("nan"), float("nan")
    values = [re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE) for key in ("RssAnon", "RssFile")]
    anon, mapped = (int(m.group(1)) / 1e3 if m else float("nan") for m in values)
    return anon, mapped


# --- the whole run ---------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    enrich: Build
    newsdesk: Build
    raw: Build
    latency: dict[str, Latency]  # "a", "b", "c"
    empty_ms: float  # (a) for the empty query
    empty_kept_ms: float  # (a) for the empty query again, facet counts kept (a reload of the front page)
    mean_hits: dict[str, float]  # "newsdesk", "raw"


def run_benchmark(articles: list[Article], queries: list[str], gazetteer: Gazetteer, tmp: Path, rounds: int) -> Figures:
    seed = Settings().langdetect_seed
    log.info("enriching %d articles (language + actors)", len(articles))
    enriched, enrich_build = enrich_all(articles, gazetteer, seed)
    ix = build_indexes(enriched, tmp)
    if ix.builds["newsdesk"].docs != len(enriched):
        log.warning("%d articles enriched, %d indexed", len(enriched), ix.builds["newsdesk"].docs)
    latency, (empty_ms, empty_kept_ms), hits = measure_search(ix.newsdesk, ix.raw, queries, gazetteer, rounds)
    return Figures(enrich_build, ix.builds["newsdesk"], ix.builds["raw"], latency, empty_ms, empty_kept_ms, hits)


def measure_search(
    settings: Settings, raw_ix: FileIndex, queries: list[str], gazetteer: Gazetteer, rounds: int
) -> tuple[dict[str, Latency], tuple[float, float], dict[str, float]]:
    """(a), (b), (c) interleaved; the empty query counted and with counts kept;
    mean hits per query on both indexes."""
    with open_index(settings).searcher() as searcher, raw_ix.searcher() as raw:
        paths = {
            "a": facet_page(searcher, settings, gazetteer),
            "b": keyword_only(searcher, settings),
            "c": raw_keyword(raw),
        }
        ms = time_paths(paths, queries, rounds, "queries a/b/c")
        kept = facet_page(searcher, replace(settings, facet_cache_size=Settings().facet_cache_size), gazetteer)
        empty = time_paths({"a": paths["a"], "kept": kept}, [""], max(5, rounds), "empty query")
        count_newsdesk, count_raw = facet_page(searcher, settings, gazetteer), raw_total(raw)
        hits = {
            "newsdesk": statistics.mean(count_newsdesk(q) for q in queries),
            "raw": statistics.mean(count_raw(q) for q in queries),
        }
    latency = {name: Latency.of(values) for name, values in ms.items()}
    return latency, (empty["a"][0], empty["kept"][0]), hits


# --- the report ----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    return {
        "host": platform.node(),
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "RAM": f"{_ram_gb():.1f} GB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "Whoosh": whoosh.versionstring(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _cpu_model() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def _ram_gb() -> float:
    try:
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:
        return float("nan")
    match = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)
    return int(match.group(1)) / 1024**2 if match else float("nan")


def md_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table; every column after the first right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render(figures: Figures, context: dict[str, Any]) -> str:
    parts = [
        f"## {context['started']:%Y-%m-%d %H:%M} UTC — `{context['command']}`",
        _render_setup(context),
        "### Ingest\n\n" + _render_ingest(figures),
        "### Search latency\n\n" + _render_search(figures, context),
    ]
    return "\n\n".join(parts) + "\n"


def _render_setup(context: dict[str, Any]) -> str:
    lines = [f"- {key}: {value}" for key, value in context["machine"].items()]
    lines += [
        f"- corpus: {context['corpus']}",
        (
            f"- commit batch size: {context['batch_size']}; query rounds: {context['rounds']}; "
            f"wall time: {context['wall_s'] / 60:.1f} min"
        ),
    ]
    return "\n".join(lines)


def _render_ingest(f: Figures) -> str:
    total = Build(f.newsdesk.docs, f.enrich.seconds + f.newsdesk.seconds, f.newsdesk.megabytes)
    rows = [
        ("Newsdesk enrich (language + actors)", f.enrich),
        ("Newsdesk index", f.newsdesk),
        ("Newsdesk ingest = enrich + index", total),
        ("raw Whoosh index (baseline)", f.raw),
    ]
    table = md_table(
        ("stage", "articles", "seconds", "articles/s", "index MB"),
        [(name, f"{b.docs:,}", f"{b.seconds:.1f}", f"{b.rate:.1f}", f"{b.megabytes:.1f}" if b.megabytes else "")
         for name, b in rows],
    )
    ratios = [
        f"- Newsdesk index / raw, articles/s: **{f.newsdesk.rate / f.raw.rate:.2f}**",
        f"- Newsdesk ingest (enrich + index) / raw, articles/s: **{total.rate / f.raw.rate:.2f}**",
        f"- share of ingest time spent enriching: {f.enrich.seconds / total.seconds:.0%}",
        f"- index size Newsdesk / raw: {f.newsdesk.megabytes / f.raw.megabytes:.2f}",
    ]
    return table + "\n\n" + "\n".join(ratios)


def _render_search(f: Figures, context: dict[str, Any]) -> str:
    queries: list[str] = context["queries"]
    lat = f.latency
    table = md_table(
        ("path", "p50 ms", "p95 ms"),
        [
            ("(a) Newsdesk `search()`: hits + snippets + 4 facet counts", f"{lat['a'].p50:.1f}", f"{lat['a'].p95:.1f}"),
            ("(b) Newsdesk parsed query, top 10, no facets", f"{lat['b'].p50:.1f}", f"{lat['b'].p95:.1f}"),
            ("(c) raw Whoosh keyword query, top 10", f"{lat['c'].p50:.1f}", f"{lat['c'].p95:.1f}"),
            ("empty query (all articles, newest first) with facets", f"{f.empty_ms:.1f}", ""),
            ("empty query again, facet counts kept (front page reload)", f"{f.empty_kept_ms:.1f}", ""),
        ],
    )
    digest = hashlib.sha256("\n".join(queries).encode()).hexdigest()[:12]
    notes = [
        f"- ratio (a)/(c): p50 **{lat['a'].p50 / lat['c'].p50:.2f}**, p95 **{lat['a'].p95 / lat['c'].p95:.2f}**",
        f"- ratio (b)/(c): p50 **{lat['b'].p50 / lat['c'].p50:.2f}**, p95 **{lat['b'].p95 / lat['c'].p95:.2f}**",
        (
            f"- mean matches per query: Newsdesk {f.mean_hits['newsdesk']:,.0f}, raw {f.mean_hits['raw']:,.0f} "
            "(raw drops English stop words; Newsdesk folds diacritics)"
        ),
        f"- {len(queries)} queries (sha256 {digest}), e.g. " + ", ".join(f"`{q}`" for q in queries[::10]),
    ]
    return table + "\n\n" + "\n".join(notes)


def corpus_summary(originals: list[Record], scale: int, path: Path, distinct: int) -> str:
    outlets = Counter(r.get("outlet") or "unknown" for r in originals)
    years = sorted({r["date"][:4] for r in originals if r.get("date")})
    span = f"; years {years[0]}–{years[-1]}" if years else ""
    by_outlet = ", ".join(f"{name} {n:,}" for name, n in outlets.most_common())
    text = f"`{path.name}`, {len(originals):,} articles ({by_outlet}{span})"
    if scale > 1:
        text += (
            f", **replicated {scale}×** → {len(originals) * scale:,} records "
            f"(copy k: new id and URL, years +{YEAR_SHIFT}·k)"
        )
    return text + f"; **{distinct:,} distinct articles** indexed (records with one URL are one article)"


def append_results(path: Path, section: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", encoding="utf-8") as out:
        if new:
            out.write(RESULTS_HEADER)
        out.write("\n" + section)


RESULTS_HEADER = """# Benchmark results

Sections appended by `bench/ingest_search.py`, newest last; how to read them: bench/README.md.
Compare ratios across runs, not absolute figures: every run measures its own baseline.
"""


# --- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--limit", type=_positive, metavar="N", help="N articles spread evenly over the corpus (default: all)"
    )
    size.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_LIMIT:,} articles")
    parser.add_argument("--scale", type=_positive, default=1, metavar="K",
                        help=f"replicate the articles K times (new ids, years +{YEAR_SHIFT}·k)")
    parser.add_argument("--rounds", type=_positive, default=3, metavar="R", help="timed rounds per query (default 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file to append to")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still remove the temporary indexes
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    corpus = find_corpus()
    originals = read_records(corpus, QUICK_LIMIT if args.quick else args.limit)
    articles = [to_article(record) for record in replicate(originals, args.scale)]
    distinct = distinct_copies(originals, articles, args.scale)
    queries = derive_queries(originals)
    context: dict[str, Any] = {
        "started": started,
        "command": "python " + shlex.join(["bench/ingest_search.py", *argv]),
        "machine": machine(),
        "corpus": corpus_summary(originals, args.scale, corpus, distinct),
        "batch_size": Settings().batch_size,
        "rounds": args.rounds,
        "queries": queries,
    }
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
        figures = run_benchmark(articles, queries, load_gazetteer(), Path(tmp), args.rounds)
    context["wall_s"] = time.perf_counter() - clock
    section = render(figures, context)
    print(section)
    append_results(args.out, section)
    log.info("appended to %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
