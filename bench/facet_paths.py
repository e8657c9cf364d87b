"""Benchmark: facet counts and the front page from per-segment arrays, against the Whoosh-collector path.

On one Newsdesk index of N corpus articles (built through Newsdesk's ingest
path, ``enrich`` + ``write_articles``, or reused with ``--index``), this
measures CPU time per query, in one process, interleaved query by query in
rotating order:

1. **before**: the search as it was before the arrays (a copy kept below:
   Whoosh collectors with ``groupedby=`` facets, one more collection per
   filtered facet, the newest-first order sorted from every document);
2. **after**: ``search.query.search`` as shipped (counts, totals and the
   newest-first order from search/query/columns.py's arrays);
3. **bare Whoosh** on the same index and parsed query: ``searcher.search(
   limit=10)``, the stored fields and ``hit.highlights("body", top=2)`` of
   each hit, no facets: the issue's baseline for a results page.

for the ~100 queries of bench/ingest_search.py (top 10 by relevance), the
same sorted by date, the same with an outlet filter, and the front page
(empty query, newest first) plain, filtered and on page 3. Facet counts are
never kept (``facet_cache_size=0``): each search counts afresh. Each
query's figure is its median over ``--rounds`` after a warm-up pass;
p50/p95 are over the queries.

Before timing it checks that *before* and *after* give identical pages
(total, hits with their snippets and copies, all four facets) for every
kind of query — words, phrases, AND/OR/NOT, fields, wildcards, date
ranges, filters in one and several facets, pages 2 and 3, both sorts, the
empty query — on the index as built and on a copy with 2% of its articles
deleted, and on an empty index. It also reports the arrays' size per
100,000 articles.

Run: ``python bench/facet_paths.py [--limit N] [--scale K] [--index DIR]
[--rounds R] [--out bench/RESULTS.md]``. ``--index DIR`` reuses the instance directory DIR
(or builds it there and keeps it); without it the index is built in a
temporary directory and removed. Prints a Markdown section and appends it to
RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import logging
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest_search import (
    DEFAULT_OUT,
    Latency,
    append_results,
    build_newsdesk,
    derive_queries,
    enrich_all,
    find_corpus,
    machine,
    md_table,
    read_records,
    replicate,
    to_article,
)
from whoosh import query as wq
from whoosh import sorting
from whoosh.collectors import TimeLimit, TimeLimitCollector
from whoosh.searching import Results, Searcher

from search.enrich import Gazetteer, load_gazetteer
from search.index import create_index, open_index
from search.query import columns, make_query, parse_query, search
from search.query.parse import Deadline
from search.query.run import _hit, _page, _with_copies, facet_values, highlighter
from search.query.selection import facet_filter as _filter
from search.query.selection import require as _require
from search.records import FACETS, SearchPage, SearchQuery
from search.settings import Settings

log = logging.getLogger("bench")

#: Share of the articles deleted in the copy that checks answers across deletions.
DELETED_SHARE = 50  # one in 50


# --- before: the search as it was, kept here to compare against --------------------------


def before_search(searcher: Searcher, request: SearchQuery, settings: Settings, gazetteer: Gazetteer,
                  every_match: bool = False) -> SearchPage:
    """The search before the arrays, counts never kept: Whoosh's collectors feed the facets.

    With all four facets filtered it collected the page with Whoosh's
    ``TopCollector``, which drops matching documents when it turns an OR
    into an AND to skip work; ``every_match`` collects with the collector that
    scores every match instead, as it did whenever a facet was unfiltered.
    """
    deadline = Deadline(settings)
    parsed = parse_query(request.q, searcher, settings, deadline)
    filters = {name: _filter(name, values) for name, values in request.filters().items() if values}
    unfiltered = [name for name in FACETS if name not in filters]
    results = _before_collect(
        searcher, _require(parsed, filters.values()), deadline,
        limit=None if every_match else request.page * request.per_page,
        sortedby=_before_sort(request, parsed),
        groupedby=_facet_types(unfiltered) if unfiltered else None,
        terms=bool(request.q),
        optimize=not filters,
    )
    results.highlighter = highlighter()
    counts = {name: results.groups(name) for name in unfiltered}
    for name in filters:  # each filtered facet under the other facets' filters
        others = _require(parsed, (f for other, f in filters.items() if other != name))
        grouped = _before_collect(searcher, others, deadline, limit=1, scored=False, groupedby=_facet_types([name]))
        counts[name] = grouped.groups(name)
    start = (request.page - 1) * request.per_page
    hits = tuple(_hit(hit, gazetteer, request.q, deadline) for hit in _page(results, start, request.per_page))
    hits = _with_copies(searcher, hits)
    values = {name: facet_values(name, counts[name], request, gazetteer) for name in FACETS}
    return SearchPage(query=request, total=len(results), hits=hits, facets=values)


def _before_collect(searcher: Searcher, q: wq.Query, deadline: Deadline, **kwargs: Any) -> Results:
    collector = searcher.collector(**kwargs)
    if isinstance(q, wq.Every):
        searcher.search_with_collector(q, collector)
        return collector.results()
    collector = TimeLimitCollector(collector, timelimit=max(deadline.remaining(), 0.0), use_alarm=False)
    try:
        searcher.search_with_collector(q, collector)
    except TimeLimit:
        raise deadline.error() from None
    return collector.results()


def _before_sort(request: SearchQuery, parsed: wq.Query) -> sorting.FacetType | None:
    if request.sort == "date" or isinstance(parsed, wq.Every):
        return sorting.FieldFacet("date_key", reverse=True)
    return None


def _facet_types(names: Iterable[str]) -> sorting.Facets:
    facets = sorting.Facets()
    for name in names:
        facet = _ActorFacet() if name == "actor" else _ColumnFacet(name, maptype=sorting.Count)
        facets.add_facet(name, facet)
    return facets


class _ColumnFacet(sorting.FieldFacet):  # type: ignore[misc]
    def categorizer(self, global_searcher: Searcher) -> sorting.Categorizer:
        if not global_searcher.reader().has_column(self.fieldname):
            return super().categorizer(global_searcher)
        return _KeptColumnCategorizer(global_searcher, self.fieldname)


class _KeptColumnCategorizer(sorting.ColumnCategorizer):  # type: ignore[misc]
    def set_searcher(self, segment_searcher: Searcher, docoffset: int) -> None:
        self._creader = _column_reader(segment_searcher.reader(), self._fieldname)


_COLUMN_READERS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_COLUMN_LOCK = threading.Lock()


def _column_reader(reader: Any, fieldname: str) -> Any:
    with _COLUMN_LOCK:
        kept = _COLUMN_READERS.setdefault(reader, {})
        column = kept.get(fieldname)
        if column is None:
            column = kept[fieldname] = reader.column_reader(fieldname, translate=False)
        return column


class _ActorFacet(sorting.FacetType):  # type: ignore[misc]
    maptype = sorting.Count

    def categorizer(self, global_searcher: Searcher) -> sorting.Categorizer:
        return _ActorCategorizer()


class _ActorCategorizer(sorting.Categorizer):  # type: ignore[misc]
    allow_overlap = True

    def __init__(self) -> None:
        self._lists: list[tuple[str, ...]] = []

    def set_searcher(self, segment_searcher: Searcher, docoffset: int) -> None:
        self._lists = _segment_actors(segment_searcher.reader())

    def keys_for(self, matcher: Any, docid: int) -> tuple[str, ...]:
        return self._lists[docid]


_SEGMENT_ACTORS: OrderedDict[Any, list[tuple[str, ...]]] = OrderedDict()


def _segment_actors(reader: Any) -> list[tuple[str, ...]]:
    # Kept by reader here (the engine kept them by segment id): the copy with deletions must not share them.
    if reader.segment() is None:
        return []
    cached = _SEGMENT_ACTORS.get(id(reader))
    if cached is None:
        lists: list[list[str]] = [[] for _ in range(reader.doc_count_all())]
        for btext in reader.lexicon("actor"):
            for docid in reader.postings("actor", btext).all_ids():
                lists[docid].append(btext.decode("utf-8"))
        cached = [tuple(actors) for actors in lists]
        _SEGMENT_ACTORS[id(reader)] = cached
        weakref.finalize(reader, _SEGMENT_ACTORS.pop, id(reader), None)
    return cached


# --- bare Whoosh: the baseline --------------------------------------------------


def bare_page(searcher: Searcher, settings: Settings, request: SearchQuery) -> int:
    """The same parsed query, top 10, stored fields and a highlighted snippet each; no facets."""
    results = searcher.search(parse_query(request.q, searcher, settings), limit=10)
    for hit in results:
        hit.fields()
        hit.highlights("body", top=2)
    return len(results.top_n)


# --- the query kinds ------------------------------------------------------------------------


def check_requests(queries: Sequence[str], front: SearchPage) -> list[SearchQuery]:
    """Every kind of query, both sorts, later pages and filters in one and several facets."""
    top = {name: [value.value for value in values[:3]] for name, values in front.facets.items()}
    words = [q for q in queries if " " not in q and '"' not in q][:12]
    w = words + ["talks"] * (12 - len(words))
    phrase = next((q for q in queries if q.startswith('"')), '"prime minister"')
    texts = [
        *queries,
        f"{w[0]} {w[1]}", f"{w[0]} OR {w[1]}", f"{w[0]} NOT {w[1]}", f"{w[2]} AND NOT {w[3]}", f"{w[4]} -{w[5]}",
        f"({w[0]} AND {w[1]}) OR {w[2]}", f"({w[3]} OR {w[4]}) AND NOT ({w[5]} AND {w[6]})",
        f"title:{w[0]}", f"body:{w[1]} OR title:{w[2]}", f"author:{w[7]}", f"{w[8][:3]}*", f"{w[9][:2]}*e*",
        f"{phrase} OR {w[10]}", f"{phrase} {w[11]}", f"title:{phrase}",
        "published:1987", "published:[1987-03 to 1987-04]", "published:>=2019", f"{w[0]} published:1987",
        f"{w[1]} published:[2010 to 2030]", "*", "",
    ]
    requests = [make_query(q) for q in texts]
    spaced = texts[::4]
    requests += [make_query(q, sort="date") for q in spaced]
    requests += [make_query(q, page=2) for q in spaced]
    requests += [make_query(q, page=3, per_page=7, sort="date") for q in texts[1::6]]
    for name in FACETS:
        for value in top[name][:2]:
            requests += [make_query(q, **{name: [value]}) for q in ("", w[0], texts[-6])]
            requests.append(make_query(w[1], sort="date", page=2, **{name: [value]}))
    requests += [
        make_query("", outlet=top["outlet"][:2]),
        make_query("", outlet=top["outlet"][:1], year=top["year"][:2], facet_limit=1000),
        make_query(w[0], actor=top["actor"][:2], language=top["language"][:1]),
        make_query(w[2], outlet=top["outlet"][:1], actor=top["actor"][:1], year=top["year"][:1],
                   language=top["language"][:1]),
        make_query("", actor=top["actor"][:1], sort="date", per_page=10, facet_limit=1000),
        make_query("", page=3), make_query("", page=2, per_page=25), make_query("", facet_limit=1000),
        make_query(w[0], facet_limit=1000), make_query("", outlet=["no such outlet"]),
    ]
    return list(dict.fromkeys(requests))


@dataclass(frozen=True)
class Check:
    where: str
    requests: int
    differing: list[str]
    top_collector: list[str]  # all four facets filtered: before's page and total, which Whoosh's TopCollector cut


def compare(searcher: Searcher, settings: Settings, gazetteer: Gazetteer, requests: Sequence[SearchQuery],
            where: str) -> Check:
    differing, top_collector = [], []
    for request in requests:
        after = search(searcher, request, settings, gazetteer)
        before = before_search(searcher, request, settings, gazetteer)
        if all(request.filters().values()):
            if before != after:
                top_collector.append(_difference(request, before, after))
            before = before_search(searcher, request, settings, gazetteer, every_match=True)
        if before != after:
            differing.append(_difference(request, before, after))
    return Check(where, len(requests), differing, top_collector)


def _difference(request: SearchQuery, before: SearchPage, after: SearchPage) -> str:
    parts = []
    if before.total != after.total:
        parts.append(f"total {before.total} → {after.total}")
    if [h.id for h in before.hits] != [h.id for h in after.hits]:
        parts.append("hits' order")
    elif before.hits != after.hits:
        parts.append("hits' contents (" + ", ".join(
            f"{b.id}: {b.snippet!r} → {a.snippet!r}" for b, a in zip(before.hits, after.hits, strict=True)
            if b != a)[:400] + ")")
    parts += [f"facet {name}" for name in FACETS if before.facets[name] != after.facets[name]]
    return f"q={request.q!r} sort={request.sort} page={request.page} filters={request.filters()}: " + "; ".join(parts)


# --- timing ------------------------------------------------------------------------------------

Run = Callable[[SearchQuery], object]


def time_paths(paths: dict[str, Run], requests: Sequence[SearchQuery], rounds: int) -> dict[str, list[float]]:
    """Each request's median CPU milliseconds per path over ``rounds``, after a warm-up pass,
    the paths interleaved request by request in an order rotated on every request and round."""
    for request in requests:
        for run in paths.values():
            run(request)
    names = list(paths)
    samples: dict[str, list[list[float]]] = {name: [[] for _ in requests] for name in names}
    for r in range(rounds):
        for i, request in enumerate(requests):
            k = (i + r) % len(names)
            for name in names[k:] + names[:k]:
                start = time.process_time()
                paths[name](request)
                samples[name][i].append((time.process_time() - start) * 1e3)
    return {name: [statistics.median(s) for s in per_request] for name, per_request in samples.items()}


@dataclass(frozen=True)
class Kind:
    name: str
    requests: list[SearchQuery]
    ms: dict[str, list[float]]


def measure(searcher: Searcher, settings: Settings, gazetteer: Gazetteer, queries: Sequence[str],
            front: SearchPage, rounds: int) -> list[Kind]:
    outlet = front.facets["outlet"][0].value
    actor = front.facets["actor"][0].value
    kinds = {
        "query, top 10 by relevance": [make_query(q) for q in queries],
        "query, newest first": [make_query(q, sort="date") for q in queries],
        "query + outlet filter": [make_query(q, outlet=[outlet]) for q in queries],
        "front page (empty query, newest first)": [make_query("")] * 5,
        "front page, actor filter": [make_query("", actor=[actor])] * 5,
        "front page, page 3": [make_query("", page=3)] * 5,
    }
    paths: dict[str, Run] = {
        "before": lambda request: before_search(searcher, request, settings, gazetteer),
        "after": lambda request: search(searcher, request, settings, gazetteer),
        "bare": lambda request: bare_page(searcher, settings, request),
    }
    measured = []
    for name, requests in kinds.items():
        log.info("timing: %s (%d requests × %d rounds)", name, len(requests), rounds)
        plain = requests[0].q and requests[0].sort != "date" and not any(requests[0].filters().values())
        chosen = paths if plain else {k: v for k, v in paths.items() if k != "bare"}
        measured.append(Kind(name, requests, time_paths(chosen, requests, rounds)))
    return measured


# --- memory ------------------------------------------------------------------------------------


def arrays_mb_per_100k(searcher: Searcher) -> tuple[float, float]:
    """The per-segment arrays' size (and with the live-document flags) per 100,000 articles."""
    index = columns.index_columns(searcher)
    docs = sum(leaf.columns.size for leaf in index.leaves)
    arrays = sum(leaf.columns.nbytes for leaf in index.leaves)
    live = sum(leaf.live.nbytes for leaf in index.leaves)
    return arrays / docs * 1e5 / 1e6, (arrays + live) / docs * 1e5 / 1e6


def build_ms(settings: Settings) -> tuple[float, float]:
    """CPU ms to read a new searcher's arrays: from the index files (nothing kept), and when a
    previous searcher's are kept (what a server thread pays after a commit)."""
    columns._SHARED.clear()
    figures = []
    for _ in range(2):
        gc.collect()
        with open_index(settings).searcher() as searcher:
            start = time.process_time()
            columns.index_columns(searcher)
            figures.append((time.process_time() - start) * 1e3)
    return figures[0], figures[1]


# --- the run ---------------------------------------------------------------------------------------


def build(instance: Path, limit: int | None, scale: int, gazetteer: Gazetteer) -> tuple[Settings, list[dict[str, Any]]]:
    """The index in ``instance`` (built there if absent), and the corpus records the queries come from."""
    records = read_records(find_corpus(), limit)
    settings = Settings(index=instance, facet_cache_size=0)
    if settings.index_dir.is_dir():
        log.info("reusing the index in %s", instance)
        return settings, records
    articles = [to_article(r) for r in replicate(records, scale)]
    log.info("building an index of %d articles in %s", len(articles), instance)
    enriched, _ = enrich_all(articles, gazetteer, Settings().langdetect_seed)
    return build_newsdesk(enriched, instance), records


def with_deletions(settings: Settings, root: Path) -> Settings:
    """A copy of the index with one article in ``DELETED_SHARE`` deleted (old segments keep them, marked)."""
    copy = Settings(index=root / "deleted", facet_cache_size=0)
    shutil.copytree(settings.index, copy.index, ignore=shutil.ignore_patterns("*.sqlite*", "archive"))
    ix = open_index(copy)
    with ix.searcher() as searcher:
        doomed = sorted(fields["id"] for fields in searcher.all_stored_fields())[::DELETED_SHARE]
    writer = ix.writer()
    for article_id in doomed:
        writer.delete_by_term("id", article_id)
    writer.commit()
    return copy


def run(args: argparse.Namespace, root: Path, gazetteer: Gazetteer) -> dict[str, Any]:
    instance = args.index or root / "instance"
    settings, records = build(instance, args.limit, args.scale, gazetteer)
    queries = derive_queries(records)
    checks = []
    with open_index(settings).searcher() as searcher:
        front = search(searcher, make_query("", facet_limit=1000), settings, gazetteer)
        requests = check_requests(queries, front)
        log.info("comparing before and after on %d requests", len(requests))
        checks.append(compare(searcher, settings, gazetteer, requests, "index as built"))
        segments = len(searcher.leaf_searchers())
        docs = searcher.doc_count()
        gc.collect()
        kinds = measure(searcher, settings, gazetteer, queries, front, args.rounds)
        mb = arrays_mb_per_100k(searcher)
    cold, kept = build_ms(settings)
    deleted = with_deletions(settings, root)
    with open_index(deleted).searcher() as searcher:
        log.info("comparing before and after with %d deleted articles", docs - searcher.doc_count())
        checks.append(compare(searcher, deleted, gazetteer, requests[:: 3], "copy with 2% deleted"))
    empty = Settings(index=root / "empty", facet_cache_size=0)
    create_index(empty)
    with open_index(empty).searcher() as searcher:
        checks.append(compare(searcher, empty, gazetteer, requests[-12:], "empty index"))
    return {"docs": docs, "segments": segments, "queries": len(queries), "checks": checks, "kinds": kinds,
            "mb": mb, "build_ms": (cold, kept)}


def render(figures: dict[str, Any], context: dict[str, Any]) -> str:
    lines = [(f"## Facet counts and the front page from arrays — {context['started']:%Y-%m-%d %H:%M} UTC — "
              f"`{context['command']}`"), ""]
    lines += [f"- {key}: {value}" for key, value in context["machine"].items()]
    lines += [
        (f"- index: {figures['docs']:,} articles, {figures['segments']} segments; {figures['queries']} queries "
         f"(bench/ingest_search.py's); {context['rounds']} rounds, CPU time (`time.process_time`), medians per "
         f"query, all paths interleaved in one process; facet counts never kept; wall time {context['wall_s']:.0f} s"),
        ("- before: the Whoosh-collector search (a copy in this script); after: `search()` as shipped; bare: "
         "`searcher.search(limit=10)` + stored fields + `highlights(\"body\", top=2)`, same index and parsed query"),
        "",
    ]
    rows = []
    for kind in figures["kinds"]:
        lat = {name: Latency.of(ms) for name, ms in kind.ms.items()}
        bare = lat.get("bare")
        rows.append((
            kind.name, len(kind.requests),
            f"{lat['before'].p50:.1f} / {lat['before'].p95:.1f}", f"{lat['after'].p50:.1f} / {lat['after'].p95:.1f}",
            f"{bare.p50:.1f} / {bare.p95:.1f}" if bare else "",
            f"{lat['after'].p50 / lat['before'].p50:.2f} / {lat['after'].p95 / lat['before'].p95:.2f}",
            f"**{lat['after'].p50 / bare.p50:.2f} / {lat['after'].p95 / bare.p95:.2f}**" if bare else "",
        ))
    lines.append(md_table(("request kind", "requests", "before p50 / p95 ms", "after p50 / p95 ms",
                           "bare p50 / p95 ms", "after / before", "after / bare"), rows))
    relevance = {name: Latency.of(ms) for name, ms in figures["kinds"][0].ms.items()}
    front = {name: Latency.of(ms) for name, ms in figures["kinds"][3].ms.items()}
    cold, kept = figures["build_ms"]
    per_100k = 1e5 / figures["docs"]
    lines += [
        "",
        (f"- front page after / query after (p50): **{front['after'].p50 / relevance['after'].p50:.2f}**; "
         f"front page after / bare query (p50): {front['after'].p50 / relevance['bare'].p50:.2f}"),
        (f"- arrays per 100,000 articles: {figures['mb'][0]:.1f} MB ({figures['mb'][1]:.1f} MB with each "
         "searcher's live-document flags)"),
        (f"- reading a new searcher's arrays: {cold:.0f} ms CPU from the files ({cold * per_100k:.0f} ms per 100,000 "
         f"articles), {kept:.0f} ms when a previous searcher's are kept (after a commit)"),
    ]
    for check in figures["checks"]:
        verdict = "**identical**" if not check.differing else f"**{len(check.differing)} differ**"
        lines.append(f"- answers before and after, {check.where}: {check.requests} requests, {verdict}")
        lines += [f"  - {d}" for d in check.differing[:5]]
        if check.top_collector:
            lines.append(f"  - with all four facets filtered, before (Whoosh's `TopCollector`) differed on "
                         f"{len(check.top_collector)}; compared there with before scoring every match, as it did "
                         "with any facet unfiltered:")
            lines += [f"    - {d}" for d in check.top_collector[:3]]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, metavar="N", help="N articles spread evenly over the corpus (default: all)")
    parser.add_argument("--index", type=Path, metavar="DIR", help="instance directory to reuse (built there if absent)")
    parser.add_argument("--scale", type=int, default=1, metavar="K",
                        help="the articles K times (bench/ingest_search.py's copies: new ids, years +40·k)")
    parser.add_argument("--rounds", type=int, default=3, metavar="R", help="timed rounds per query (default 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file to append to")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still remove the temporary directory
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    context: dict[str, Any] = {
        "started": started,
        "command": "python " + shlex.join(["bench/facet_paths.py", *(a if not a.startswith("/") else "DIR"
                                                                       for a in argv)]),
        "machine": machine(),
        "rounds": args.rounds,
    }
    with tempfile.TemporaryDirectory(prefix="newsdesk-facets-") as tmp:
        figures = run(args, Path(tmp), load_gazetteer())
    context["wall_s"] = time.perf_counter() - clock
    section = render(figures, context)
    print(section)
    append_results(args.out, section)
    log.info("appended to %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
