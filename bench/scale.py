#!/usr/bin/env python3
"""Benchmark: every target of issue 16 at real size, one run, with tantivy and SQLite FTS5 beside Newsdesk.

Sits beside ``bench/ingest_search.py`` (whose corpus, replication, queries and
report helpers it imports) and measures, for each size — the shared corpus
(24k articles, or ``--limit N`` of them) and the same replicated ``--scale K``
times (default 5: ~120k) — each target line of the issue as a row with its
threshold and whether it is met:

1. **Search through HTTP**: ``newsdesk serve`` on a free loopback port
   (waitress, the real WSGI server); ``/api/search`` (hits, snippets, four
   facet counts) less the server's fixed cost per request (a static file),
   against a bare Whoosh results page in this process on the same index and
   the same parsed query (top 10, stored fields, ``hit.highlights("body",
   top=2)``, no facets). CPU per request is the server's own, summed over its
   threads from ``/proc/<pid>/task/*/schedstat`` (nanoseconds; ``/proc/<pid>/stat``
   counts 10 ms ticks, too coarse for one request); wall latency beside it.
   The front page (no query) against 3× the bare page.
2. **Server memory**: VmRSS, RssAnon, RssFile from ``/proc/<pid>/status``
   after 300, 1,000 and 2,000 varied requests over every page kind (8
   clients), on the server as shipped (facet counts kept).
3. **Throughput**: 8 concurrent keep-alive clients for ``--seconds``;
   requests/s against 1,000 ÷ the server's CPU ms per request
   (``/proc/<pid>/stat``), p95 against p50.
4. **Ingest**: ``newsdesk ingest FILE.jsonl`` (the command's function) against
   raw Whoosh (title + body stored, ``StemmingAnalyzer``, ``procs=1``) on the
   same texts, run before and after it; wall seconds (Newsdesk uses every
   core, as shipped), index sizes on disk.
5. **Peers**: tantivy and SQLite FTS5 on the articles Newsdesk indexed and the
   same queries: index time and size, keyword top 10, faceted page (top 10 +
   snippets + the four facet counts), front page (all, newest first, facets).

The ingest path is the one a user runs: the size's records written as a JSON
Lines file with the corpus's own field names, read by the import, archived,
cleaned (the record's stated title, text, date and language kept), enriched
and prepared for the index in worker processes, written by the one writer
(a process of its own) with instant alerts after each commit.

The server runs with facet counts recomputed on every search for targets 1
and 3 (``NEWSDESK_FACET_CACHE_SIZE=0``: the timed rounds repeat each query and
kept counts would time the cache) and as shipped for target 2. In-process
figures are CPU time (``time.process_time``) of interleaved runs, each query's
median over ``--rounds`` after a warm-up pass; the machine is shared, so
compare ratios, not milliseconds.

    python bench/scale.py [--limit N] [--scale K] [--keep DIR] [--rounds R] [--seconds S] [--out FILE]

``--keep DIR`` keeps the built indexes (and reuses them on the next run with
the same articles): build once, measure many times. Appends a Markdown
section to bench/RESULTS.md (or ``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import logging
import os
import random
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from ingest_search import (  # the bench directory is not a package
    Build,
    Record,
    add_raw,
    append_results,
    corpus_summary,
    create_raw_index,
    derive_queries,
    directory_mb,
    distinct_copies,
    find_corpus,
    machine,
    md_table,
    percentile,
    read_records,
    replicate,
    spread,
    to_article,
    track,
)
from whoosh.searching import Searcher

from search.enrich import Gazetteer, load_gazetteer
from search.index import from_stored, open_index
from search.ingest import ingest
from search.query import MAX_FACET_LIMIT, make_query, parse_query, search
from search.records import FACETS, Article
from search.settings import Settings

log = logging.getLogger("bench.scale")

DEFAULT_OUT = REPO / "bench" / "RESULTS.md"
STATIC = "/static/newsdesk.css"
#: Memory: requests before each reading (300: the small-size target; 1,000: warm-up; 2,000: steady).
MEMORY_STEPS = (300, 1_000, 2_000)
#: The thresholds of the issue's targets.
SEARCH_RATIO = 1.5  # target 1: search ≤ 1.5× the bare Whoosh page, p50 and p95
FRONT_RATIO = 3.0  # target 1: the front page ≤ 3× the bare page
RSS_LIMIT_MB = 500.0  # target 2, at 120k (held at every size of 24k or more)
SMALL_RSS_LIMIT_MB = 250.0  # target 2 at ~3k articles, after 300 requests
SMALL_SIZE = 3_000
#: "Steady": VmRSS grows by at most this share (or STEADY_MB, if larger) over the second 1,000 requests.
STEADY_SHARE, STEADY_MB = 0.05, 10.0
THROUGHPUT_SHARE = 0.8  # target 3: requests/s ≥ 0.8 × 1,000 ÷ CPU ms per request
TAIL_RATIO = 4.0  # target 3: p95 ≤ 4 × p50
INGEST_RATIO = 0.7  # target 4: ingest ≥ 0.7× raw Whoosh
SIZE_RATIO = 1.3  # target 4: index ≤ 1.3× raw Whoosh's
#: Target 4's "fits comfortably in a CI-sized run": CI runs get 90 minutes; the build gets a third of that.
BUILD_LIMIT_S = 30 * 60.0
#: The tantivy analyzer's name: words folded to ASCII and lower case, no stemming (as SQLite's unicode61 below).
FOLDED = "folded"
SNIPPET_OPEN, SNIPPET_CLOSE = "<b>", "</b>"


# --- sizes and builds ------------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    """One size of the run: the records to index and what they are."""

    label: str  # "24k"
    records: list[Record]
    scale: int
    memory_only: bool = False  # the small size of target 2: built and measured for memory alone
    small: bool = False  # about SMALL_SIZE records: target 2's bound after 300 requests applies


@dataclass(frozen=True)
class Built:
    """A size's indexes on disk and how long each took to build (CPU seconds)."""

    root: Path
    settings: Settings  # the Newsdesk instance (root/newsdesk)
    builds: dict[str, Build]  # "newsdesk", "raw", "tantivy", "sqlite"
    built_at: str  # UTC, when the builds were measured (older than the run when reused)
    reused: bool

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def tantivy_dir(self) -> Path:
        return self.root / "tantivy"

    @property
    def sqlite_path(self) -> Path:
        return self.root / "fts5.sqlite"


def build_size(size: Size, root: Path, gazetteer: Gazetteer) -> Built:
    """The size's indexes in ``root``: reused when a finished build of the same records is there."""
    reused = _reuse(root, len(size.records), peers=not size.memory_only)
    if reused is not None:
        log.info("%s: reusing the indexes built %s in %s", size.label, reused.built_at, root)
        return reused
    shutil.rmtree(root, ignore_errors=True)  # an unfinished or outdated build
    root.mkdir(parents=True)
    settings = Settings(index=root / "newsdesk")
    builds = ingest_and_raw(size.records, settings, root, gazetteer, size.label)
    if not size.memory_only:
        docs = peer_docs(settings)
        builds["tantivy"] = TantivyPeer.build(docs, root / "tantivy", settings.batch_size)
        builds["sqlite"] = SqlitePeer.build(docs, root / "fts5.sqlite", settings.batch_size)
    built = Built(root, settings, builds, f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC", reused=False)
    manifest = {"records": len(size.records), "built_at": built.built_at,
                "builds": {name: asdict(build) for name, build in builds.items()}}
    (root / "build.json").write_text(json.dumps(manifest, indent=1))  # last: marks the build finished
    return built


def _reuse(root: Path, records: int, peers: bool) -> Built | None:
    try:
        manifest = json.loads((root / "build.json").read_text())
    except (OSError, ValueError):
        return None
    settings = Settings(index=root / "newsdesk")
    try:
        with open_index(settings).searcher():
            pass
    except Exception as e:  # noqa: BLE001 — e.g. a schema version bumped since: rebuilt, and said so
        log.warning("%s cannot be reused (%s): rebuilding", root, e)
        return None
    if manifest.get("records") != records:
        return None
    builds = {name: Build(**values) for name, values in manifest["builds"].items()}
    if not {"newsdesk", "raw", "newsdesk_cpu", "raw_cpu"} <= builds.keys():  # measured before the CLI path was
        return None
    if peers and not {"tantivy", "sqlite"} <= builds.keys():  # built for memory alone
        return None
    return Built(root, settings, builds, manifest["built_at"], reused=True)


def ingest_and_raw(
    records: list[Record], settings: Settings, root: Path, gazetteer: Gazetteer, label: str
) -> dict[str, Build]:
    """``newsdesk ingest FILE.jsonl`` and raw Whoosh on the same records' texts, wall and CPU seconds.

    The records are written as JSON Lines first (untimed), with the corpus's
    own field names, which the import reads as they are. Newsdesk runs the
    command's own function (``ingest``) into a fresh instance, with its
    default settings: clean, enrich and index preparation in as many worker
    processes as there are cores, one writer, instant alerts after each
    commit, the records archived. Raw Whoosh reads the same file and indexes
    title, body and outlet in one process, once before Newsdesk's run and once
    after; its rate is the mean of the two, so a change of load during the
    run falls on both sides. CPU: this process's (the workers' and the writer's are not counted).
    """
    path = root / "records.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    runs: dict[str, list[tuple[float, float]]] = {"raw": [], "newsdesk": []}
    for n, name in enumerate(("raw", "newsdesk", "raw")):
        log.info("%s: %s (%d/3)", label, "raw Whoosh" if name == "raw" else "newsdesk ingest", n + 1)
        wall, cpu = time.perf_counter(), time.process_time()
        if name == "raw":
            shutil.rmtree(root / "raw", ignore_errors=True)
            _raw_from_jsonl(path, root / "raw", settings.batch_size)
        else:
            report = ingest([path], settings, gazetteer=gazetteer, progress=False)
            if report.failed:
                raise RuntimeError(f"{len(report.failed)} records failed: {report.failed[:3]}")
        runs[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    path.unlink()
    sizes = {"newsdesk": directory_mb(settings.index_dir), "raw": directory_mb(root / "raw")}
    builds = {}
    for name, timed in runs.items():
        builds[name] = Build(len(records), statistics.mean(w for w, _ in timed), sizes[name])
        builds[f"{name}_cpu"] = Build(len(records), statistics.mean(c for _, c in timed))
    return builds


def _raw_from_jsonl(path: Path, raw_dir: Path, batch_size: int) -> None:
    raw = create_raw_index(raw_dir)
    with path.open(encoding="utf-8") as lines:
        batches = _chunks((json.loads(line) for line in lines), batch_size)
        for batch in batches:
            add_raw(raw, [_raw_article(record) for record in batch])


def _raw_article(record: Record) -> Article:
    return Article(id=str(record.get("id")), title=record.get("title") or "", text=record.get("body") or "",
                   origin="raw", outlet=record.get("outlet"))


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- the peers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerDoc:
    """One article as the peers index it: what Newsdesk stored for it."""

    id: str
    title: str
    body: str
    outlet: str
    year: str
    language: str
    actors: tuple[str, ...]
    date_key: int  # YYYYMMDDhhmmss UTC, 0 when undated (sorts last, newest first)


def peer_docs(settings: Settings) -> list[PeerDoc]:
    """Every article in the Newsdesk index, read back from its stored fields."""
    with open_index(settings).searcher() as searcher:
        return [to_peer_doc(stored) for stored in searcher.all_stored_fields()]


def to_peer_doc(stored: Mapping[str, Any]) -> PeerDoc:
    article = from_stored(stored)
    moment = article.published_utc
    if moment is None and article.published is not None:
        moment = dt.datetime(article.published.year, article.published.month, article.published.day)
    return PeerDoc(
        id=article.id, title=article.title, body=article.text, outlet=article.outlet, year=article.year,
        language=article.language, actors=tuple(dict.fromkeys(article.actors)),
        date_key=int(moment.strftime("%Y%m%d%H%M%S")) if moment else 0,
    )


FacetCounts = dict[str, dict[str, int]]


@dataclass(frozen=True)
class PeerPage:
    """A faceted results page: total, the top hits' ids and snippets, all four facets' counts."""

    total: int
    ids: tuple[str, ...]
    snippets: tuple[str, ...]
    facets: FacetCounts


class Peer(Protocol):
    name: str

    def keyword(self, q: str) -> list[str]: ...
    def page(self, q: str) -> PeerPage: ...
    def close(self) -> None: ...


class TantivyPeer:
    """tantivy: title and body text (folded, no stemming), the facets as raw-tokenized fast fields, date_key fast."""

    name = "tantivy"

    def __init__(self, path: Path) -> None:
        import tantivy

        self._tantivy = tantivy
        self.index = tantivy.Index.open(str(path))
        self.index.register_tokenizer(FOLDED, _folded_analyzer())
        self.searcher = self.index.searcher()
        self.schema = self.index.schema

    @staticmethod
    def build(docs: Sequence[PeerDoc], path: Path, batch_size: int) -> Build:
        import tantivy

        path.mkdir(parents=True)
        index = tantivy.Index(_tantivy_schema(), path=str(path))
        index.register_tokenizer(FOLDED, _folded_analyzer())
        start = time.process_time()
        writer = index.writer(num_threads=1)  # one indexing thread, as raw Whoosh's procs=1
        for batch in _chunks(track(docs, len(docs), "tantivy"), batch_size):
            for doc in batch:
                writer.add_document(_tantivy_document(doc))
            writer.commit()
        writer.wait_merging_threads()
        return Build(len(docs), time.process_time() - start, directory_mb(path))

    def _parse(self, q: str) -> Any:
        return self.index.parse_query(q, ["title", "body"], field_boosts={"title": 2.0}, conjunction_by_default=True)

    def keyword(self, q: str) -> list[str]:
        """Top 10 by relevance with their stored title and id."""
        hits = self.searcher.search(self._parse(q), 10).hits
        return [self.searcher.doc(address)["title"][0] for _, address in hits]

    def page(self, q: str) -> PeerPage:
        if not q:
            return self._front()
        query = self._parse(q)
        result = self.searcher.search(query, 10)
        snippets = self._tantivy.SnippetGenerator.create(self.searcher, query, self.schema, "body")
        docs = [self.searcher.doc(address) for _, address in result.hits]
        return PeerPage(result.count,  # type: ignore[attr-defined]  # in the bindings, not their stub
                        tuple(d["id"][0] for d in docs),
                        tuple(snippets.snippet_from_doc(d).to_html() for d in docs), self._facets(query))

    def _front(self) -> PeerPage:
        query = self._tantivy.Query.all_query()
        result = self.searcher.search(query, 10, order_by_field="date_key", order=self._tantivy.Order.Desc)
        ids = tuple(self.searcher.doc(address)["id"][0] for _, address in result.hits)
        total: int = result.count  # type: ignore[attr-defined]  # in the bindings, not their stub
        return PeerPage(total, ids, ("",) * len(ids), self._facets(query))

    def _facets(self, query: Any) -> FacetCounts:
        spec = {name: {"terms": {"field": name, "size": 1_000_000}} for name in FACETS}
        found = self.searcher.aggregate(query, spec)
        return {name: {b["key"]: b["doc_count"] for b in found[name]["buckets"]} for name in FACETS}

    def close(self) -> None:
        pass


def _folded_analyzer() -> Any:
    import tantivy

    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold()).build())


def _tantivy_schema() -> Any:
    import tantivy

    schema = tantivy.SchemaBuilder()
    schema.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    schema.add_text_field("title", stored=True, tokenizer_name=FOLDED)
    schema.add_text_field("body", stored=True, tokenizer_name=FOLDED)
    for name in FACETS:
        schema.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
    schema.add_unsigned_field("date_key", fast=True)
    return schema.build()


def _tantivy_document(doc: PeerDoc) -> Any:
    import tantivy

    document = tantivy.Document()
    for name, value in (("id", doc.id), ("title", doc.title), ("body", doc.body), ("outlet", doc.outlet),
                        ("year", doc.year), ("language", doc.language)):
        document.add_text(name, value)
    for actor in doc.actors:
        document.add_text("actor", actor)
    document.add_unsigned("date_key", doc.date_key)
    return document


class SqlitePeer:
    """SQLite FTS5 (bm25, title weighted 2) over a documents table; facets by GROUP BY, actors in a joined table."""

    name = "SQLite FTS5"

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.db.execute("CREATE TEMP TABLE matched(doc INTEGER PRIMARY KEY)")

    @staticmethod
    def build(docs: Sequence[PeerDoc], path: Path, batch_size: int) -> Build:
        start = time.process_time()
        db = sqlite3.connect(path)
        db.executescript(_SQLITE_SCHEMA)
        rowid = 0
        for batch in _chunks(track(docs, len(docs), "SQLite FTS5"), batch_size):
            with db:
                for doc in batch:
                    rowid += 1
                    db.execute("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (
                        rowid, doc.id, doc.title, doc.body, doc.outlet, doc.year, doc.language, doc.date_key))
                    db.executemany("INSERT INTO actors VALUES (?, ?)", [(rowid, actor) for actor in doc.actors])
                    db.execute("INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)", (rowid, doc.title, doc.body))
        with db:
            db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        db.close()
        return Build(len(docs), time.process_time() - start, path.stat().st_size / 1e6)

    def keyword(self, q: str) -> list[str]:
        rows = self.db.execute(
            "SELECT d.title FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH ? "
            "ORDER BY bm25(fts, 2.0, 1.0) LIMIT 10", (fts_match(q),))
        return [title for (title,) in rows]

    def page(self, q: str) -> PeerPage:
        if not q:
            return self._front()
        match = fts_match(q)
        with self.db:
            self.db.execute("DELETE FROM matched")
            self.db.execute("INSERT INTO matched SELECT rowid FROM fts WHERE fts MATCH ?", (match,))
        top = self.db.execute(
            f"SELECT d.id, snippet(fts, 1, '{SNIPPET_OPEN}', '{SNIPPET_CLOSE}', '…', 24) FROM fts "
            "JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH ? ORDER BY bm25(fts, 2.0, 1.0) LIMIT 10",
            (match,)).fetchall()
        (total,) = self.db.execute("SELECT count(*) FROM matched").fetchone()
        facets = {name: dict(self.db.execute(
            f"SELECT d.{name}, count(*) FROM matched m JOIN docs d ON d.rowid = m.doc GROUP BY d.{name}"))
            for name in FACETS if name != "actor"}
        facets["actor"] = dict(self.db.execute(
            "SELECT a.actor, count(*) FROM matched m JOIN actors a ON a.doc = m.doc GROUP BY a.actor"))
        return PeerPage(total, tuple(i for i, _ in top), tuple(s for _, s in top), _ordered(facets))

    def _front(self) -> PeerPage:
        ids = tuple(i for (i,) in self.db.execute("SELECT id FROM docs ORDER BY date_key DESC LIMIT 10"))
        (total,) = self.db.execute("SELECT count(*) FROM docs").fetchone()
        facets = {name: dict(self.db.execute(f"SELECT {name}, count(*) FROM docs GROUP BY {name}"))
                  for name in FACETS if name != "actor"}
        facets["actor"] = dict(self.db.execute("SELECT actor, count(*) FROM actors GROUP BY actor"))
        return PeerPage(total, ids, ("",) * len(ids), _ordered(facets))

    def close(self) -> None:
        self.db.close()


_SQLITE_SCHEMA = """
CREATE TABLE docs(rowid INTEGER PRIMARY KEY, id TEXT, title TEXT, body TEXT,
                  outlet TEXT, year TEXT, language TEXT, date_key INTEGER);
CREATE TABLE actors(doc INTEGER, actor TEXT);
CREATE VIRTUAL TABLE fts USING fts5(title, body, content='docs', content_rowid='rowid',
                                    tokenize='unicode61 remove_diacritics 2');
CREATE INDEX docs_date ON docs(date_key DESC);
CREATE INDEX docs_outlet ON docs(outlet);
CREATE INDEX docs_year ON docs(year);
CREATE INDEX docs_language ON docs(language);
CREATE INDEX actors_doc ON actors(doc, actor);
CREATE INDEX actors_actor ON actors(actor);
"""


def _ordered(facets: FacetCounts) -> FacetCounts:
    return {name: facets[name] for name in FACETS}


def fts_match(q: str) -> str:
    """The benchmark's query text as an FTS5 expression: every word and "phrase" quoted, all required."""
    parts = re.findall(r'"[^"]*"|[^\s"]+', q)
    quoted = ['"' + part.strip('"').replace('"', '""') + '"' for part in parts if part.strip('"').strip()]
    return " ".join(quoted)


def open_peers(built: Built) -> list[Peer]:
    return [TantivyPeer(built.tantivy_dir), SqlitePeer(built.sqlite_path)]


def peers_agree(peers: Sequence[Peer], queries: Sequence[str]) -> tuple[int, int, list[str]]:
    """(queries on which every peer gives the same total and facet counts, queries checked, those that differ),
    the empty one included.

    The peers analyse alike (lower case, diacritics folded, no stemming), so
    they should answer alike; tests/test_bench_scale.py checks both against
    plain Python over the articles.
    """
    differ = []
    for q in ["", *queries]:
        pages = [peer.page(q) for peer in peers]
        if any((p.total, p.facets) != (pages[0].total, pages[0].facets) for p in pages):
            differ.append(f"`{q}` (totals " + " / ".join(f"{p.total:,}" for p in pages) + ")")
    return len(queries) + 1 - len(differ), len(queries) + 1, differ


# --- in-process latency (the peers table) --------------------------------------------------


Run = Callable[[str], object]


def time_cpu(paths: Mapping[str, Run], queries: Sequence[str], rounds: int, desc: str) -> dict[str, list[float]]:
    """Each query's median CPU milliseconds per path over ``rounds``, after a warm-up pass, in rotating order."""
    for q in queries:
        for run in paths.values():
            run(q)
    names = list(paths)
    samples: dict[str, list[list[float]]] = {name: [[] for _ in queries] for name in names}
    for r in range(rounds):
        for i, q in enumerate(track(queries, len(queries), f"{desc} {r + 1}/{rounds}")):
            k = (i + r) % len(names)
            for name in names[k:] + names[:k]:
                start = time.process_time()
                paths[name](q)
                samples[name][i].append((time.process_time() - start) * 1000)
    return {name: [statistics.median(s) for s in per_query] for name, per_query in samples.items()}


@dataclass(frozen=True)
class Spread:
    """p50 and p95 of a list of milliseconds."""

    p50: float
    p95: float

    @classmethod
    def of(cls, ms: Sequence[float]) -> Spread:
        return cls(statistics.median(ms), percentile(ms, 95))


@dataclass(frozen=True)
class EngineRow:
    """One engine in the peers table (in-process CPU ms)."""

    engine: str
    build: Build | None
    keyword: Spread
    faceted: Spread | None
    front_ms: float | None


def measure_engines(built: Built, queries: list[str], rounds: int, gazetteer: Gazetteer,
                    label: str) -> tuple[list[EngineRow], tuple[int, int, list[str]]]:
    """Newsdesk, raw Whoosh, tantivy and SQLite on the same queries, interleaved."""
    from whoosh import index as whoosh_index
    from whoosh.qparser import MultifieldParser

    uncached = Settings(index=built.settings.index, facet_cache_size=0)
    peers = open_peers(built)
    with contextlib.ExitStack() as stack:
        searcher = stack.enter_context(open_index(uncached).searcher())
        raw = stack.enter_context(whoosh_index.open_dir(str(built.raw_dir)).searcher())
        raw_parser = MultifieldParser(["title", "body"], raw.schema)

        def newsdesk_keyword(q: str) -> object:
            return [hit.fields() for hit in searcher.search(parse_query(q, searcher, uncached), limit=10)]

        def newsdesk_page(q: str) -> object:
            return search(searcher, make_query(q, per_page=10), uncached, gazetteer)

        keyword: dict[str, Run] = {
            "Newsdesk": newsdesk_keyword,
            "raw Whoosh": lambda q: [hit.fields() for hit in raw.search(raw_parser.parse(q), limit=10)],
            **{peer.name: peer.keyword for peer in peers},
        }
        pages: dict[str, Run] = {"Newsdesk": newsdesk_page, **{peer.name: peer.page for peer in peers}}
        kw = time_cpu(keyword, queries, rounds, f"{label}: keyword top 10")
        faceted = time_cpu(pages, queries, rounds, f"{label}: faceted page")
        front = time_cpu(pages, [""], max(5, rounds), f"{label}: front page")
        agreement = peers_agree(peers, queries)
    for peer in peers:
        peer.close()
    rows = []
    for name in keyword:
        build = built.builds.get({"Newsdesk": "newsdesk", "raw Whoosh": "raw"}.get(name, name.split()[0].lower()))
        rows.append(EngineRow(name, build, Spread.of(kw[name]),
                              Spread.of(faceted[name]) if name in faceted else None,
                              front[name][0] if name in front else None))
    return rows, agreement


# --- the server ------------------------------------------------------------------------------


_TICKS = os.sysconf("SC_CLK_TCK")


class Server:
    """``newsdesk serve`` on a free loopback port, in its own process, with its CPU and memory read from /proc."""

    def __init__(self, index: Path, log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.index = index
        self.port = _free_port()
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--index", str(index), "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=REPO,
        )
        self.pid = self.process.pid
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        for _ in range(1200):
            if self.process.poll() is not None:
                self.log.flush()
                tail = Path(self.log.name).read_text(errors="replace").splitlines()[-20:]
                raise SystemExit(f"bench: the server exited with {self.process.returncode}:\n" + "\n".join(tail))
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise SystemExit("bench: the server did not start within 2 minutes")

    def cpu_ns(self) -> int:
        """CPU nanoseconds of all the server's threads (scheduler statistics: precise to the nanosecond)."""
        total = 0
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            with contextlib.suppress(OSError):  # a thread that just ended
                total += int((task / "schedstat").read_text().split()[0])
        return total

    def cpu_seconds(self) -> float:
        """utime + stime from /proc/<pid>/stat (clock ticks)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS

    def memory(self) -> dict[str, float]:
        """MB from the server's own /proc/<pid>: VmRSS, RssAnon, RssFile, VmHWM (status); Pss, Pss_File
        (smaps_rollup: a page mapped N times counts 1/N each time); RssIndex, the index files' resident pages
        summed over every mapping of them, and IndexMaps, how many times the most mapped index file is mapped."""
        memory = _kb_fields(Path(f"/proc/{self.pid}/status").read_text(), ("VmRSS", "RssAnon", "RssFile", "VmHWM"))
        with contextlib.suppress(OSError):
            memory |= _kb_fields(Path(f"/proc/{self.pid}/smaps_rollup").read_text(), ("Pss", "Pss_File"))
        with contextlib.suppress(OSError):
            memory |= self._index_mappings(Path(f"/proc/{self.pid}/smaps").read_text())
        return memory

    def _index_mappings(self, smaps: str) -> dict[str, float]:
        prefix = str(self.index.resolve() / "whoosh") + os.sep
        rss_kb, maps = 0, Counter[str]()
        current: str | None = None
        for line in smaps.splitlines():
            head = line.split(maxsplit=5)
            if len(head) >= 5 and "-" in head[0] and not head[0].endswith(":"):  # a mapping's first line
                current = head[5] if len(head) == 6 and head[5].startswith(prefix) else None
                if current:
                    maps[current] += 1
            elif current and line.startswith("Rss:"):
                rss_kb += int(line.split()[1])
        return {"RssIndex": rss_kb / 1024, "IndexMaps": float(max(maps.values(), default=0))}

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _kb_fields(text: str, keys: Sequence[str]) -> dict[str, float]:
    found = {key: re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE) for key in keys}
    return {key: int(m.group(1)) / 1024 for key, m in found.items() if m}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Client:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def get(self, path: str) -> tuple[int, float]:
        """(status, wall seconds) of one request, its body read whole."""
        start = time.perf_counter()
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - start

    def close(self) -> None:
        self.connection.close()


def run_clients(port: int, paths: Sequence[str], clients: int, *, seconds: float = 0.0,
                shuffle: bool = True) -> tuple[list[float], Counter[int]]:
    """``clients`` keep-alive clients: for ``seconds`` (each walking ``paths`` in its own seeded order), or
    through ``paths`` once between them in order (``seconds`` 0). Wall latencies and statuses."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    shared = iter(paths)

    def client(number: int) -> None:
        order = list(paths)
        if shuffle:
            random.Random(number).shuffle(order)
        connection = Client(port)
        i = 0
        while True:
            if seconds:
                if time.perf_counter() >= deadline:
                    break
                path = order[i % len(order)]
                i += 1
            else:
                with lock:
                    path = next(shared, "")
                if not path:
                    break
            status, wall = connection.get(path)
            with lock:
                latencies.append(wall)
                statuses[status] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses


def api_path(q: str) -> str:
    return "/api/search" + (f"?q={urllib.parse.quote(q)}" if q else "")


# --- target 1: search through HTTP against a bare Whoosh page -------------------------------


@dataclass(frozen=True)
class PageFigures:
    """Target 1: per-request CPU and wall milliseconds (each query's median over the rounds)."""

    static_cpu: float  # p50 of the static file: the server's fixed cost per request
    static_wall: float
    search_cpu: Spread  # /api/search less the fixed cost
    search_wall: Spread
    front_cpu: float  # p50 of the front page less the fixed cost
    front_wall: float
    bare_cpu: Spread  # the bare Whoosh page in this process
    bare_wall: Spread
    statuses: dict[int, int]


def bare_whoosh_page(searcher: Searcher, settings: Settings) -> Callable[[str], list[str]]:
    """The same parsed query on the same index: top 10, stored fields, a highlighted snippet each, no facets."""

    def run(q: str) -> list[str]:
        results = searcher.search(parse_query(q, searcher, settings), limit=10)
        return [str(hit.fields().get("title")) + hit.highlights("body", top=2) for hit in results]

    return run


def measure_pages(server: Server, settings: Settings, queries: list[str], rounds: int, label: str) -> PageFigures:
    """The static file, ``/api/search`` and the bare page, query by query in rotating order; the front page
    on every tenth query. One client, so each request's server CPU is its own."""
    client = Client(server.port)
    statuses: Counter[int] = Counter()

    def over_http(path: str) -> tuple[float, float]:
        before = server.cpu_ns()
        status, wall = client.get(path)
        cpu = server.cpu_ns() - before
        statuses[status] += 1
        return cpu / 1e6, wall * 1000

    with open_index(settings).searcher() as searcher:
        bare = bare_whoosh_page(searcher, settings)

        def in_process(q: str) -> tuple[float, float]:
            wall, cpu = time.perf_counter(), time.process_time()
            bare(q)
            return (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000

        kinds: dict[str, Callable[[str], tuple[float, float]]] = {
            "static": lambda q: over_http(STATIC),
            "search": lambda q: over_http(api_path(q)),
            "bare": in_process,
        }
        for q in queries:  # warm-up: the searcher opened, caches filled
            for run in kinds.values():
                run(q)
        over_http(api_path(""))
        samples: dict[str, list[list[tuple[float, float]]]] = {k: [[] for _ in queries] for k in kinds}
        front: list[tuple[float, float]] = []
        names = list(kinds)
        for r in range(rounds):
            for i, q in enumerate(track(queries, len(queries), f"{label}: HTTP vs bare {r + 1}/{rounds}")):
                k = (i + r) % len(names)
                for name in names[k:] + names[:k]:
                    samples[name][i].append(kinds[name](q))
                if i % 10 == r % 10:
                    front.append(over_http(api_path("")))
    client.close()
    per_query = {name: [(statistics.median(c for c, _ in s), statistics.median(w for _, w in s)) for s in lists]
                 for name, lists in samples.items()}
    static_cpu = statistics.median(c for c, _ in per_query["static"])
    static_wall = statistics.median(w for _, w in per_query["static"])
    return PageFigures(
        static_cpu=static_cpu, static_wall=static_wall,
        search_cpu=Spread.of([c - static_cpu for c, _ in per_query["search"]]),
        search_wall=Spread.of([w - static_wall for _, w in per_query["search"]]),
        front_cpu=statistics.median(c for c, _ in front) - static_cpu,
        front_wall=statistics.median(w for _, w in front) - static_wall,
        bare_cpu=Spread.of([c for c, _ in per_query["bare"]]),
        bare_wall=Spread.of([w for _, w in per_query["bare"]]),
        statuses=dict(statuses),
    )


# --- target 3: throughput ---------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    clients: int
    requests: int
    per_second: float
    p50_ms: float
    p95_ms: float
    cpu_ms: float  # server CPU per request, /proc/<pid>/stat
    cpu_ms_precise: float  # the same from the threads' scheduler statistics
    statuses: dict[int, int]


def measure_throughput(server: Server, queries: list[str], clients: int, seconds: float) -> Throughput:
    paths = [api_path(q) for q in queries]
    before, before_ns = server.cpu_seconds(), server.cpu_ns()
    start = time.perf_counter()
    latencies, statuses = run_clients(server.port, paths, clients, seconds=seconds)
    wall = time.perf_counter() - start
    cpu, cpu_ns = server.cpu_seconds() - before, server.cpu_ns() - before_ns
    n = max(1, len(latencies))
    ms = sorted(1000 * x for x in latencies)
    return Throughput(clients, len(latencies), len(latencies) / wall, statistics.median(ms), percentile(ms, 95),
                      1000 * cpu / n, cpu_ns / 1e6 / n, dict(statuses))


# --- target 2: memory ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    readings: dict[int, dict[str, float]]  # requests so far → VmRSS, RssAnon, RssFile, VmHWM (MB)
    kinds: tuple[str, ...]  # the page kinds requested
    statuses: dict[int, int]


def varied_paths(settings: Settings, records: Sequence[Record], count: int, seed: int = 16) -> tuple[list[str], ...]:
    """``count`` requests over every page kind, with queries, ids, actors, outlets and years from the index.

    Returns (paths, kinds): results pages (HTML, JSON, Atom; filtered, paged,
    by date), the front page, articles and actors (HTML and JSON), sources.
    """
    rng = random.Random(seed)
    queries = derive_queries(records, count=300, seed=seed)
    with open_index(settings).searcher() as searcher:
        ids = [stored["id"] for stored in searcher.all_stored_fields()]
        ids = rng.sample(ids, min(300, len(ids)))
        counts = search(searcher, make_query("", facet_limit=MAX_FACET_LIMIT), settings, load_gazetteer()).facets
    values = {name: [f.value for f in counts[name]] or ["unknown"] for name in FACETS}

    def q() -> str:
        return urllib.parse.quote(rng.choice(queries))

    makers: dict[str, Callable[[], str]] = {
        "results page": lambda: f"/?q={q()}",
        "results JSON": lambda: f"/api/search?q={q()}",
        "results Atom": lambda: f"/search.atom?q={q()}",
        "results, outlet filter": lambda: f"/?q={q()}&outlet={urllib.parse.quote(rng.choice(values['outlet']))}",
        "results, page 2": lambda: f"/?q={q()}&page=2",
        "results by date": lambda: f"/?q={q()}&sort=date",
        "front page": lambda: "/",
        "front page JSON": lambda: "/api/search",
        "actor filter": lambda: f"/?actor={urllib.parse.quote(rng.choice(values['actor']))}",
        "year filter": lambda: f"/?year={rng.choice(values['year'])}",
        "article": lambda: f"/articles/{rng.choice(ids)}",
        "article JSON": lambda: f"/api/articles/{rng.choice(ids)}",
        "actor page": lambda: f"/actors/{urllib.parse.quote(rng.choice(values['actor']))}",
        "actor JSON": lambda: f"/api/actors/{urllib.parse.quote(rng.choice(values['actor']))}",
        "sources": lambda: "/sources",
    }
    kinds = list(makers)
    return [makers[kinds[i % len(kinds)]]() for i in range(count)], kinds


def measure_memory(server: Server, paths: list[str], kinds: Sequence[str], clients: int, label: str) -> Memory:
    readings: dict[int, dict[str, float]] = {0: server.memory()}
    statuses: Counter[int] = Counter()
    done = 0
    for step in MEMORY_STEPS:
        if step > len(paths):
            break
        _, got = run_clients(server.port, paths[done:step], clients, shuffle=False)
        statuses.update(got)
        done = step
        readings[step] = server.memory()
        log.info("%s: memory after %d varied requests (MB): %s", label, step,
                 ", ".join(f"{k} {v:.0f}" for k, v in readings[step].items()))
    return Memory(readings, tuple(kinds), dict(statuses))


# --- one size ---------------------------------------------------------------------------------


@dataclass
class SizeFigures:
    size: Size
    built: Built
    articles: int  # in the Newsdesk index
    engines: list[EngineRow] = field(default_factory=list)
    agreement: tuple[int, int, list[str]] = (0, 0, [])
    pages: PageFigures | None = None
    throughput: Throughput | None = None
    memory: Memory | None = None


def measure_size(size: Size, built: Built, queries: list[str], args: argparse.Namespace,
                 gazetteer: Gazetteer, logs: Path) -> SizeFigures:
    with open_index(built.settings).searcher() as searcher:
        figures = SizeFigures(size, built, searcher.doc_count())
    if not size.memory_only:
        figures.engines, figures.agreement = measure_engines(built, queries, args.rounds, gazetteer, size.label)
        log.info("%s: target 1 and 3 (server with facet counts recomputed on every search)", size.label)
        server = Server(built.settings.index, logs / f"serve-{size.label}-uncached.log",
                        {"NEWSDESK_FACET_CACHE_SIZE": "0"})
        try:
            figures.pages = measure_pages(server, built.settings, queries, args.rounds, size.label)
            figures.throughput = measure_throughput(server, queries, args.clients, args.seconds)
        finally:
            server.close()
    log.info("%s: target 2 (server as shipped)", size.label)
    paths, kinds = varied_paths(built.settings, size.records, MEMORY_STEPS[-1])
    server = Server(built.settings.index, logs / f"serve-{size.label}.log")
    try:
        figures.memory = measure_memory(server, paths, kinds, args.clients, size.label)
    finally:
        server.close()
    return figures


# --- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    size: str
    target: str
    threshold: str
    measured: str
    met: bool | None  # None: not judged (informational)


def targets(f: SizeFigures) -> list[Target]:
    rows: list[Target] = []
    label = f.size.label
    if f.pages is not None:
        p = f.pages
        r50, r95 = p.search_cpu.p50 / p.bare_cpu.p50, p.search_cpu.p95 / p.bare_cpu.p95
        rows += [
            Target(label, "1. search (hits + snippets + 4 facets) over HTTP less fixed cost ÷ bare Whoosh page, "
                   "CPU p50", f"≤ {SEARCH_RATIO}×", f"{r50:.2f}× ({p.search_cpu.p50:.1f} / {p.bare_cpu.p50:.1f} ms)",
                   r50 <= SEARCH_RATIO),
            Target(label, "1. the same, CPU p95", f"≤ {SEARCH_RATIO}×",
                   f"{r95:.2f}× ({p.search_cpu.p95:.1f} / {p.bare_cpu.p95:.1f} ms)", r95 <= SEARCH_RATIO),
            Target(label, "1. front page over HTTP less fixed cost ÷ bare Whoosh page p50, CPU", f"≤ {FRONT_RATIO}×",
                   f"{p.front_cpu / p.bare_cpu.p50:.2f}× ({p.front_cpu:.1f} / {p.bare_cpu.p50:.1f} ms)",
                   p.front_cpu / p.bare_cpu.p50 <= FRONT_RATIO),
        ]
    if f.memory is not None:
        rows += _memory_targets(label, f)
    if f.throughput is not None:
        t = f.throughput
        bound = THROUGHPUT_SHARE * 1000 / t.cpu_ms
        rows += [
            Target(label, f"3. requests/s, {t.clients} clients, against {THROUGHPUT_SHARE} × 1,000 ÷ server CPU ms",
                   f"≥ {bound:.1f}/s", f"{t.per_second:.1f}/s ({t.cpu_ms:.1f} ms CPU per request)",
                   t.per_second >= bound),
            Target(label, "3. p95 ÷ p50 under load", f"≤ {TAIL_RATIO}×",
                   f"{t.p95_ms / t.p50_ms:.2f}× ({t.p95_ms:.0f} / {t.p50_ms:.0f} ms)",
                   t.p95_ms / t.p50_ms <= TAIL_RATIO),
        ]
    if not f.size.memory_only:
        nd, raw = f.built.builds["newsdesk"], f.built.builds["raw"]
        rows += [
            Target(label, "4. `newsdesk ingest FILE.jsonl` ÷ raw Whoosh on the same texts, articles per wall s",
                   f"≥ {INGEST_RATIO}×", f"{nd.rate / raw.rate:.2f}× ({nd.rate:.1f} / {raw.rate:.1f})",
                   nd.rate / raw.rate >= INGEST_RATIO),
            Target(label, "4. index size ÷ raw Whoosh's", f"≤ {SIZE_RATIO}×",
                   f"{nd.megabytes / raw.megabytes:.2f}× ({nd.megabytes:.0f} / {raw.megabytes:.0f} MB)",
                   nd.megabytes / raw.megabytes <= SIZE_RATIO),
            Target(label, "4. Newsdesk build, wall s (fits a CI-sized run)", f"≤ {BUILD_LIMIT_S:,.0f} s",
                   f"{nd.seconds:,.0f} s", nd.seconds <= BUILD_LIMIT_S),
            Target(label, "5. peers measured in the same run (tantivy, SQLite FTS5)", "recorded",
                   ", ".join(e.engine for e in f.engines if e.engine in ("tantivy", "SQLite FTS5")) or "none",
                   {e.engine for e in f.engines} >= {"tantivy", "SQLite FTS5"}),
        ]
    return rows


def _memory_targets(label: str, f: SizeFigures) -> list[Target]:
    assert f.memory is not None
    r = f.memory.readings
    rows = []
    if f.size.small and 300 in r:
        rows.append(Target(label, f"2. server RSS after 300 varied requests (~{SMALL_SIZE:,} articles)",
                           f"≤ {SMALL_RSS_LIMIT_MB:.0f} MB",
                           f"{r[300]['VmRSS']:.0f} MB (anonymous {r[300]['RssAnon']:.0f})",
                           r[300]["VmRSS"] <= SMALL_RSS_LIMIT_MB))
    if 1_000 in r and not f.size.memory_only:
        rows.append(Target(label, "2. server RSS after a warm-up of 1,000 varied requests", f"≤ {RSS_LIMIT_MB:.0f} MB",
                           f"{r[1000]['VmRSS']:.0f} MB (anonymous {r[1000]['RssAnon']:.0f}, "
                           f"file {r[1000]['RssFile']:.0f})", r[1000]["VmRSS"] <= RSS_LIMIT_MB))
    if 1_000 in r and 2_000 in r:
        growth = r[2000]["VmRSS"] - r[1000]["VmRSS"]
        tolerance = max(STEADY_MB, STEADY_SHARE * r[1000]["VmRSS"])
        rows.append(Target(label, "2. steady: RSS growth over a further 1,000", f"≤ {tolerance:.0f} MB",
                           f"{growth:+.0f} MB (anonymous {r[2000]['RssAnon'] - r[1000]['RssAnon']:+.0f})",
                           growth <= tolerance))
    return rows


def render(sizes: list[SizeFigures], context: dict[str, Any]) -> str:
    parts = [f"## Issue 16 at scale — {context['started']:%Y-%m-%d %H:%M} UTC — `{context['command']}`",
             _render_setup(sizes, context)]
    for f in sizes:
        if not f.size.memory_only:
            parts.append(f"### {f.size.label}: {f.articles:,} articles\n\n" + _render_size(f))
    all_targets = [t for f in sizes for t in targets(f)]
    met = sum(1 for t in all_targets if t.met)
    parts.append(f"### Targets ({met} of {len(all_targets)} met)\n\n" + md_table(
        ("size", "target", "threshold", "measured", "met?"),
        [(t.size, t.target, t.threshold, t.measured, "yes" if t.met else "**no**") for t in all_targets]))
    parts.append("### Server memory (MB, from the server's /proc/<pid>)\n\n" + _render_memory(sizes))
    parts.append("### Peers (in-process CPU ms, same articles and queries)\n\n" + _render_peers(sizes))
    measured = [f for f in sizes if not f.size.memory_only]
    if len(measured) > 1:
        parts.append(f"### Growth {measured[0].size.label} → {measured[-1].size.label}\n\n"
                     + _render_growth(measured[0], measured[-1]))
    return "\n\n".join(parts) + "\n"


def _render_setup(sizes: list[SizeFigures], context: dict[str, Any]) -> str:
    lines = [f"- {key}: {value}" for key, value in context["machine"].items()]
    lines += [
        f"- corpus: {context['corpus']}",
        f"- {len(context['queries'])} queries from the corpus titles (`derive_queries`), e.g. "
        + ", ".join(f"`{q}`" for q in context["queries"][::20]),
        (f"- query rounds: {context['rounds']}; load: {context['clients']} clients × {context['seconds']:g} s; "
         f"wall time: {context['wall_s'] / 60:.1f} min"),
    ]
    for f in sizes:
        b = f.built
        lines.append(f"- {f.size.label}{' (memory only)' if f.size.memory_only else ''}: "
                     f"{f.articles:,} articles, indexes {'reused, ' if b.reused else ''}built {b.built_at}")
    lines.append(
        "- method: server CPU per request from its threads' `/proc/<pid>/task/*/schedstat` (one client, "
        "so each request's CPU is its own); under load from `/proc/<pid>/stat`; memory from "
        "`/proc/<pid>/status`. Targets 1 and 3 on a server recomputing facet counts on every search, "
        "target 2 on the server as shipped. In-process figures: CPU time, interleaved, each query's median over "
        "the rounds. Ingest: the records as a JSON Lines file through `ingest()` (the command's path, workers "
        "on every core) between two raw Whoosh runs on the same texts (wall s).")
    return "\n".join(lines)


def _ms(s: Spread | None) -> tuple[str, str]:
    return (f"{s.p50:.1f}", f"{s.p95:.1f}") if s else ("—", "—")


def _render_size(f: SizeFigures) -> str:
    rows: list[tuple[str, ...]] = []
    builds = f.built.builds
    nd, raw = builds["newsdesk"], builds["raw"]
    rows.append(("`newsdesk ingest FILE.jsonl`: wall s / articles per s / index MB",
                 f"{nd.seconds:,.0f} s", f"{nd.rate:.1f}/s", f"{nd.megabytes:.0f} MB"))
    rows.append(("raw Whoosh index (baseline, mean of 2 runs): wall s / articles per s / index MB",
                 f"{raw.seconds:,.0f} s", f"{raw.rate:.1f}/s", f"{raw.megabytes:.0f} MB"))
    rows.append(("CPU s of the process: Newsdesk's parent (workers and index writer not counted) / raw Whoosh",
                 f"{builds['newsdesk_cpu'].seconds:,.0f} s", f"{builds['raw_cpu'].seconds:,.0f} s", ""))
    if f.pages is not None:
        p = f.pages
        rows += [
            ("static file (fixed cost): server CPU ms / wall ms", f"{p.static_cpu:.2f}", f"{p.static_wall:.2f}", ""),
            ("`/api/search` less fixed cost: CPU p50 / p95 ms", *_ms(p.search_cpu), ""),
            ("`/api/search` less fixed cost: wall p50 / p95 ms", *_ms(p.search_wall), ""),
            ("bare Whoosh page in-process: CPU p50 / p95 ms", *_ms(p.bare_cpu), ""),
            ("bare Whoosh page in-process: wall p50 / p95 ms", *_ms(p.bare_wall), ""),
            ("front page `/api/search` less fixed cost: CPU / wall ms",
             f"{p.front_cpu:.1f}", f"{p.front_wall:.1f}", ""),
            ("wall ratios search ÷ bare p50 / p95; front ÷ bare p50",
             f"{p.search_wall.p50 / p.bare_wall.p50:.2f}", f"{p.search_wall.p95 / p.bare_wall.p95:.2f}",
             f"{p.front_wall / p.bare_wall.p50:.2f}"),
        ]
    if f.throughput is not None:
        t = f.throughput
        rows += [
            (f"load, {t.clients} clients: requests / requests per s / p50 ms / p95 ms",
             f"{t.requests:,}", f"{t.per_second:.1f}", f"{t.p50_ms:.0f} / {t.p95_ms:.0f}"),
            ("load: server CPU ms per request, /proc stat / schedstat",
             f"{t.cpu_ms:.1f}", f"{t.cpu_ms_precise:.1f}", ""),
        ]
    statuses = Counter[int]()
    for part in (f.pages, f.throughput, f.memory):
        if part is not None:
            statuses.update(part.statuses)
    table = md_table(("measurement", "", "", ""), rows)
    notes = [
        (f"- Newsdesk's index holds {f.articles:,} of the {len(f.size.records):,} records (records with one URL "
         "are one article; an exact copy from the same outlet is dropped; a record without text is skipped); both "
         "ingest rates count the records given"),
        f"- HTTP statuses: {', '.join(f'{k}: {v:,}' for k, v in sorted(statuses.items()))}",
    ]
    if f.agreement[1]:
        differ = f"; they differ on {', '.join(f.agreement[2])}" if f.agreement[2] else ""
        notes.append(f"- tantivy and SQLite FTS5 agree on total and facet counts for {f.agreement[0]} of "
                     f"{f.agreement[1]} queries (both fold case and diacritics, no stemming){differ}")
    return table + "\n\n" + "\n".join(notes)


_MEMORY_COLUMNS = ("VmRSS", "RssAnon", "RssFile", "Pss", "Pss_File", "RssIndex", "IndexMaps")


def _render_memory(sizes: list[SizeFigures]) -> str:
    rows = []
    for f in sizes:
        if f.memory is None:
            continue
        for step, m in f.memory.readings.items():
            rows.append((f.size.label, f"{f.articles:,}", f"{step:,}" if step else "at start",
                         *(f"{m[key]:.0f}" if key in m else "—" for key in _MEMORY_COLUMNS)))
    kinds = next((f.memory.kinds for f in sizes if f.memory is not None), ())
    return md_table(("size", "articles", "requests", *_MEMORY_COLUMNS), rows) + (
        f"\n\n- 8 clients; the requests cycle over: {', '.join(kinds)}\n"
        "- VmRSS = RssAnon + RssFile (+ shared memory), as the target reads it. Pss counts a page mapped N times "
        "1/N each time. RssIndex: the index files' resident pages summed over every mapping of them (IndexMaps: "
        "how many times the most mapped index file is mapped, e.g. once per thread's searcher); each mapping "
        "counts again in RssFile and VmRSS, not in physical memory.")


def _render_peers(sizes: list[SizeFigures]) -> str:
    rows = []
    for f in sizes:
        for e in f.engines:
            b = e.build
            rows.append((f.size.label, e.engine, f"{b.seconds:,.0f}" if b else "—", f"{b.rate:,.0f}" if b else "—",
                         f"{b.megabytes:.0f}" if b else "—", *_ms(e.keyword), *_ms(e.faceted),
                         f"{e.front_ms:.1f}" if e.front_ms is not None else "—"))
    table = md_table(("size", "engine", "build s", "articles/s", "index MB", "keyword p50", "keyword p95",
                      "faceted p50", "faceted p95", "front page"), rows)
    return table + (
        "\n\n- keyword: parse, top 10 by relevance, stored fields. Faceted: the same with a snippet per hit, the total "
        "and the four facet counts (Newsdesk: `search()` counting facets every time). Front page: all articles "
        "newest first with the four facet counts. Build: Newsdesk's and raw Whoosh's in wall seconds from the "
        "JSON Lines file (Newsdesk's the whole `newsdesk ingest`, on every core), the peers' in CPU seconds of "
        "indexing what Newsdesk stored, one thread. tantivy: one indexing thread, facets as raw fast fields, counted by terms "
        "aggregation; SQLite: FTS5 external-content table, bm25, facets by GROUP BY (actors in a joined "
        "table), `snippet()`. Analysis differs (Newsdesk stems per language, raw Whoosh stems English, the "
        "peers fold case and diacritics only), so match counts differ too.")


def _render_growth(small: SizeFigures, large: SizeFigures) -> str:
    def grow(a: float, b: float) -> str:
        return f"{b / a:.2f}×" if a else "—"

    rows = [("articles", f"{small.articles:,}", f"{large.articles:,}", grow(small.articles, large.articles))]
    if small.pages and large.pages:
        measures: list[tuple[str, Callable[[PageFigures], float]]] = [
            ("`/api/search` less fixed cost, CPU p50", lambda p: p.search_cpu.p50),
            ("`/api/search` less fixed cost, CPU p95", lambda p: p.search_cpu.p95),
            ("bare Whoosh page, CPU p50", lambda p: p.bare_cpu.p50),
            ("bare Whoosh page, CPU p95", lambda p: p.bare_cpu.p95),
            ("front page less fixed cost, CPU", lambda p: p.front_cpu),
        ]
        for name, get in measures:
            a, b = get(small.pages), get(large.pages)
            rows.append((name + " ms", f"{a:.1f}", f"{b:.1f}", grow(a, b)))
    if small.memory and large.memory and 1000 in small.memory.readings and 1000 in large.memory.readings:
        a, b = small.memory.readings[1000]["VmRSS"], large.memory.readings[1000]["VmRSS"]
        rows.append(("server RSS after 1,000 requests MB", f"{a:.0f}", f"{b:.0f}", grow(a, b)))
    nd_a, nd_b = small.built.builds["newsdesk"], large.built.builds["newsdesk"]
    rows.append(("index MB", f"{nd_a.megabytes:.0f}", f"{nd_b.megabytes:.0f}", grow(nd_a.megabytes, nd_b.megabytes)))
    return md_table(("measure", small.size.label, large.size.label, "growth"), rows) + (
        "\n\nFacets that cost O(hits) Python work grow with the articles; compare the search's growth with the bare "
        "page's, which also grows with the matches it scores.")


# --- command line -----------------------------------------------------------------------------


def _label(n: int) -> str:
    return f"{n / 1000:.0f}k" if n >= 1000 else str(n)


def plan_sizes(originals: list[Record], scale: int, small: int) -> list[Size]:
    """The corpus (or its ``--limit``), then ×``scale``; a small memory-only size when none is that small."""
    def near(n: int) -> bool:
        return 0.9 * small <= n <= 1.1 * small

    sizes = [Size(_label(len(originals)), originals, 1, small=near(len(originals)))]
    if scale > 1:
        n = len(originals) * scale
        sizes.append(Size(_label(n), replicate(originals, scale), scale, small=near(n)))
    if small and not any(s.small for s in sizes):
        sizes.insert(0, Size(_label(small), spread(originals, small), 1, memory_only=True, small=True))
    return sizes


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--limit", type=_positive, metavar="N", help="N articles spread evenly over the corpus")
    parser.add_argument("--scale", type=_positive, default=5, metavar="K",
                        help="the second size: the articles K times (default 5, ~120k; 1: one size only)")
    parser.add_argument("--small", type=int, default=SMALL_SIZE, metavar="N",
                        help=f"memory-only size for the ~3k target when no size is that small (default {SMALL_SIZE}; "
                             "0: none)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="build the indexes in DIR, keep and reuse them")
    parser.add_argument("--rounds", type=_positive, default=3, metavar="R", help="timed rounds per query (default 3)")
    parser.add_argument("--clients", type=_positive, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--seconds", type=float, default=20.0, help="timed load per size (default 20)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file to append to")
    return parser.parse_args(argv)


def _public(argv: Sequence[str]) -> list[str]:
    """The arguments as the results may show them: a path of this machine as DIR or FILE."""
    return [("DIR" if Path(arg).is_dir() or not Path(arg).suffix else "FILE") if arg.startswith("/") else arg
            for arg in argv]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the server and remove temporary indexes
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    corpus = find_corpus()
    originals = read_records(corpus, args.limit)
    sizes = plan_sizes(originals, args.scale, args.small)
    largest = sizes[-1]
    distinct = distinct_copies(originals, [to_article(r) for r in largest.records], largest.scale)
    queries = derive_queries(originals)
    gazetteer = load_gazetteer()
    context: dict[str, Any] = {
        "started": started, "command": "python " + shlex.join(["bench/scale.py", *_public(argv)]), "machine": machine(),
        "corpus": corpus_summary(originals, largest.scale, corpus, distinct), "queries": queries,
        "rounds": args.rounds, "clients": args.clients, "seconds": args.seconds,
    }
    with contextlib.ExitStack() as stack:
        root = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newsdesk-scale-")))
        root.mkdir(parents=True, exist_ok=True)
        results = []
        for size in sizes:
            built = build_size(size, root / f"{len(size.records)}-records", gazetteer)
            results.append(measure_size(size, built, queries, args, gazetteer, root))
    context["wall_s"] = time.perf_counter() - clock
    section = render(results, context)
    print(section)
    append_results(args.out, section)
    log.info("appended to %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
