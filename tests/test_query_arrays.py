"""Searches answered from per-segment arrays, checked against Whoosh and plain Python.

The engine counts facets, totals and the newest-first order from numpy arrays
(search/query/columns.py, matches.py, facets.py) and picks the relevance page
from scores computed over whole posting lists. Each answer here is checked
against an oracle that shares none of that: the documents Whoosh's own
matchers find (``docs_for_query``), facet values read from the stored fields
and counted with a ``Counter``, the ``date_key`` column sorted in Python, the
order and scores of Whoosh's collector that scores every match, and snippets
from Whoosh's collection of matched terms. The index has several segments,
articles updated and taken down (deleted documents left in old segments),
undated articles, dates shared by several articles, and multi-valued actors.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from whoosh import query as wq
from whoosh import sorting
from whoosh.searching import Searcher

from conftest import make_settings
from search.enrich import Gazetteer
from search.errors import QueryError
from search.index import create_index, open_index, write_articles
from search.query import columns, make_query, matches, parse_query, postings, search
from search.query.parse import Deadline
from search.query.snippets import highlighter, lead, one_line
from search.records import FACETS, UNKNOWN, Article, SearchPage, SearchQuery
from search.settings import Settings

WORDS = ["talks", "envoy", "treaty", "border", "vote", "budget", "energy", "bridge", "court", "harbour", "railway",
         "summit", "grain", "tariff", "minister", "election", "strike", "pipeline", "mayor", "river"]
OUTLETS = ("Balkan Wire", "Daily Observer", "Tanjug Digest", "Pristina Post", "Žurnal Čačak")
ACTORS = ("Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7", "Q8")
LANGUAGES = ("en", "sr", "sq", None)


def _article(n: int, rng: random.Random, version: int = 0) -> Article:
    words = [rng.choice(WORDS) for _ in range(rng.randint(20, 80))]
    title = " ".join(rng.sample(WORDS, 3))
    # A quarter undated; many on the same few days, so ties in date are common.
    published = None if n % 4 == 0 else dt.datetime(2015 + n % 5, 1 + n % 3, 1 + n % 2, tzinfo=dt.UTC)
    return Article(
        id=f"a{n:04d}", title=f"{title} {version}" if version else title,
        text=" ".join(words) + ".\n\nMore on " + " ".join(rng.sample(WORDS, 5)) + ".",
        origin="generated", outlet=OUTLETS[n % len(OUTLETS)] if n % 11 else None,
        published=published, language=LANGUAGES[n % len(LANGUAGES)],
        actors=rng.sample(ACTORS, rng.randint(0, 3)),
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """220 articles in 40-article commits, 30 of them updated later and 12 taken down without a merge."""
    settings = make_settings(tmp_path_factory.mktemp("arrays"), batch_size=40, facet_cache_size=0)
    rng = random.Random(16)
    write_articles([_article(n, rng) for n in range(220)], settings)
    write_articles([_article(n, rng, version=1) for n in range(0, 220, 7)], settings)
    writer = open_index(settings).writer()
    for n in range(3, 220, 19):
        writer.delete_by_term("id", f"a{n:04d}")
    writer.commit()
    return settings


@pytest.fixture
def searcher(corpus: Settings) -> Iterator[Searcher]:
    with open_index(corpus).searcher() as s:
        yield s


def test_the_corpus_has_what_the_arrays_must_handle(searcher: Searcher) -> None:
    readers = [sub.reader() for sub, _ in searcher.leaf_searchers()]
    assert len(readers) >= 4 and any(r.has_deletions() for r in readers)
    dates = Counter(searcher.reader().column_reader("date_key"))
    assert dates[0] > 10 and max(dates.values()) > 5


# --- the oracle -----------------------------------------------------------------------


def _values(stored: dict[str, Any], name: str) -> list[str]:
    if name == "actor":
        return [a for a in stored.get("actor", "").split(",") if a]
    return [stored[name]]


def _oracle(searcher: Searcher, settings: Settings, request: SearchQuery) -> dict[str, Any]:
    """What the page must say, from Whoosh's own matchers and plain Python over the stored fields."""
    parsed = parse_query(request.q, searcher, settings)
    matched = set(searcher.docs_for_query(parsed))
    stored = {d: searcher.stored_fields(d) for d in matched}
    filters = {name: set(values) for name, values in request.filters().items() if values}

    def under(skip: str | None) -> set[int]:
        return {d for d in matched
                if all(set(_values(stored[d], n)) & v for n, v in filters.items() if n != skip)}

    everything = under(None)
    counts = {name: dict(Counter(v for d in under(name) for v in _values(stored[d], name))) for name in FACETS}
    required = wq.Require(parsed, wq.And([wq.Or([wq.Term(n, v) for v in sorted(vs)]) for n, vs in filters.items()])) \
        if filters else parsed
    if request.sort == "date" or isinstance(parsed, wq.Every):
        dates = searcher.reader().column_reader("date_key")
        # Newest first, ties by ingest number (an updated article keeps its number, not its place in the index).
        order = sorted(everything, key=lambda d: (-dates[d], stored[d]["seq"], d))
        results = searcher.search(required, limit=None, terms=True,
                                  sortedby=sorting.FieldFacet("date_key", reverse=True))
    else:
        results = searcher.search(required, limit=None, terms=True)  # scores every match
        order = [docnum for _, _, docnum in sorted((-score, stored[docnum]["seq"], docnum)
                                                    for score, docnum in results.top_n)]
    assert set(order) == everything
    start = (request.page - 1) * request.per_page
    shown = order[start:start + request.per_page]
    results.highlighter = highlighter()
    by_docnum = {hit.docnum: hit for hit in results}
    snippets = [
        one_line(by_docnum[d].highlights("body", top=2) if request.q else "") or lead(stored[d]["body"])
        for d in shown
    ]
    return {"total": len(everything), "ids": [stored[d]["id"] for d in shown], "counts": counts,
            "snippets": snippets}


def _counts(page: SearchPage) -> dict[str, dict[str, int]]:
    return {name: {v.value: v.count for v in page.facets[name] if v.count} for name in FACETS}


def _check(searcher: Searcher, settings: Settings, gazetteer: Gazetteer, request: SearchQuery) -> None:
    page = search(searcher, request, settings, gazetteer)
    expected = _oracle(searcher, settings, request)
    assert page.total == expected["total"], request
    assert [hit.id for hit in page.hits] == expected["ids"], request
    assert _counts(page) == {name: {v: c for v, c in counts.items() if v}
                             for name, counts in expected["counts"].items()}, request
    assert [hit.snippet for hit in page.hits] == expected["snippets"], request


TEXTS = [
    "", "*", "talks", "envoy treaty", "talks OR summit", "border NOT vote", "budget AND NOT (energy AND bridge)",
    "(court AND harbour) OR railway", "grain -tariff", '"minister election"', '"strike pipeline" OR mayor',
    "title:river", "body:summit OR title:grain", "ra*", "*ain*", "bri?ge", "published:2016",
    "published:[2015-02 to 2017-01]", "published:>=2018 talks", "envoy^3 treaty", "more", "nothingatall",
    '"talks talks"',
]


@pytest.mark.parametrize("text", TEXTS)
def test_every_kind_of_query_answers_as_the_oracle(searcher: Searcher, corpus: Settings, gazetteer: Gazetteer,
                                                   text: str) -> None:
    for sort in ("relevance", "date"):
        for page in (1, 2):
            _check(searcher, corpus, gazetteer, make_query(text, sort=sort, page=page, per_page=7, facet_limit=1000))


@pytest.mark.parametrize("filters", [
    {"outlet": ["Balkan Wire"]},
    {"outlet": ["Balkan Wire", "Žurnal Čačak"], "year": ["2016", UNKNOWN]},
    {"actor": ["Q3"]},
    {"actor": ["Q1", "Q7"], "language": ["sr"]},
    {"outlet": ["Daily Observer"], "actor": ["Q2"], "year": ["2017"], "language": ["en"]},
    {"outlet": ["no such outlet"]},
])
def test_filters_in_one_and_several_facets_count_as_the_oracle(searcher: Searcher, corpus: Settings,
                                                               gazetteer: Gazetteer, filters: dict[str, list[str]]) -> None:
    for text in ("", "talks OR summit", '"minister election"', "ra*"):
        for sort in ("relevance", "date"):
            _check(searcher, corpus, gazetteer, make_query(text, sort=sort, per_page=5, facet_limit=1000, **filters))


def _random_query(rng: random.Random, depth: int = 0) -> str:
    """A query text of words, phrases, fields, wildcards, boosts, AND/OR/NOT and brackets."""
    kind = rng.random()
    if depth > 2 or kind < 0.45:
        leaf = rng.random()
        if leaf < 0.5:
            return rng.choice(WORDS)
        if leaf < 0.65:
            return '"' + " ".join(rng.sample(WORDS, rng.choice((2, 2, 3)))) + '"'
        if leaf < 0.75:
            return rng.choice(WORDS)[: rng.choice((2, 3))] + "*"
        if leaf < 0.85:
            return f"{rng.choice(('title', 'body'))}:{rng.choice(WORDS)}"
        if leaf < 0.92:
            return f"{rng.choice(WORDS)}^{rng.choice((2, 3))}"
        return "published:" + rng.choice(("2016", "[2015 to 2016]", ">=2018"))
    parts = [_random_query(rng, depth + 1) for _ in range(rng.choice((2, 2, 3)))]
    joined = rng.choice((" ", " OR ", " AND ", " NOT ")).join(parts)
    return f"({joined})" if depth else joined


def test_random_queries_answer_as_the_oracle(searcher: Searcher, corpus: Settings, gazetteer: Gazetteer) -> None:
    rng = random.Random(1604)
    for _ in range(60):
        text = _random_query(rng)
        filters = rng.choice(({}, {}, {"outlet": [rng.choice(OUTLETS)]}, {"actor": rng.sample(ACTORS, 2)},
                              {"year": ["2016", UNKNOWN], "language": ["en"]}))
        request = make_query(text, sort=rng.choice(("relevance", "date")), page=rng.choice((1, 2)), per_page=6,
                             facet_limit=1000, **filters)
        _check(searcher, corpus, gazetteer, request)


def test_the_relevance_scores_are_whooshs_to_the_last_bit(searcher: Searcher, corpus: Settings) -> None:
    """Where each node adds at most two parts; the oracle tests above cover the other two ways
    (estimates rescored by Whoosh, and Whoosh scoring every match), which this counts."""
    index = columns.index_columns(searcher)
    kinds: Counter[str] = Counter()
    for text in TEXTS[2:]:
        parsed = parse_query(text, searcher, corpus)
        found = matches.matched(searcher, index, parsed, Deadline(corpus), scored=True)
        kinds["exact" if found.exact else "estimated" if found.scores is not None else "none"] += 1
        if not found.exact:
            continue
        assert found.scores is not None
        ours = {leaf.offset + int(d): score[d] for leaf, score, mask in zip(index.leaves, found.scores, found.masks)
                for d in np.flatnonzero(mask)}
        whooshs = {docnum: score for score, docnum in searcher.search(parsed, limit=None, terms=True).top_n}
        assert ours == whooshs, text  # equal floats, not close ones
    assert kinds["exact"] >= 8 and kinds["estimated"] >= 2 and kinds["none"] >= 2, kinds


def test_the_front_page_lists_every_live_article_newest_first(searcher: Searcher, corpus: Settings,
                                                              gazetteer: Gazetteer) -> None:
    live = searcher.doc_count()
    page = search(searcher, make_query("", per_page=100, page=2), corpus, gazetteer)
    assert page.total == live
    _check(searcher, corpus, gazetteer, make_query("", per_page=100, page=2, facet_limit=1000))


def test_a_term_read_in_one_go_is_what_whooshs_matcher_yields(searcher: Searcher) -> None:
    """Document numbers and weights of every term of several fields, deleted documents aside."""
    checked = 0
    for sub, _ in searcher.leaf_searchers():
        reader = sub.reader()
        for fieldname in ("title", "body", "actor", "outlet", "body_words"):
            for text in reader.lexicon(fieldname):
                read = postings.read_term(reader, fieldname, text)
                assert read is not None
                ids, weights = read
                live = np.array([not reader.is_deleted(d) for d in ids], dtype=bool)
                matcher = reader.postings(fieldname, text)
                expected = []
                while matcher.is_active():
                    expected.append((matcher.id(), matcher.weight()))
                    matcher.next()
                assert list(zip(ids[live].tolist(), weights[live].tolist())) == expected, (fieldname, text)
                checked += 1
        assert postings.read_term(reader, "body", b"nothingatall") is None
    assert checked > 500


def test_a_word_whooshs_matcher_stands_on_without_matching_is_highlighted_as_whoosh_does(
        tmp_path: Path, gazetteer: Gazetteer) -> None:
    """The body's phrase runs out of its first word while its second stands on a document the
    title's phrase matches: Whoosh records that word as matched there, and marks it in the snippet."""
    settings = make_settings(tmp_path / "instance", facet_cache_size=0)
    write_articles([
        Article(id="b0", title="Opening", text="Alpha came first, then nothing.", origin="generated"),
        Article(id="b1", title="Alpha beta", text="Only beta is here, and gamma.", origin="generated"),
        Article(id="b2", title="Alpha beta again", text="Gamma without the other word.", origin="generated"),
    ], settings)
    with open_index(settings).searcher() as s:
        request = make_query('"alpha beta"', per_page=5)
        _check(s, settings, gazetteer, request)
        page = search(s, request, settings, gazetteer)
    assert "<mark>beta</mark>" in next(hit.snippet for hit in page.hits if hit.id == "b1")


def test_a_wildcard_of_more_words_than_whoosh_scores_one_by_one_answers_as_the_oracle(
        tmp_path: Path, gazetteer: Gazetteer) -> None:
    """From 1,024 words on Whoosh preloads a wildcard's postings in chunks: every match scores 1,
    ties go by ingest number, and no word counts as matched for the highlighter."""
    settings = make_settings(tmp_path / "instance", facet_cache_size=0, batch_size=25)
    rng = random.Random(3)
    # Articles holding more or fewer of the words: scored one by one, they would rank apart.
    articles = [Article(id=f"w{n}", title=f"Report {n} {rng.choice(WORDS)}", origin="generated",
                        text=" ".join(f"zq{n * 30 + k:04d} {rng.choice(WORDS)}" for k in range(10 + n % 17)),
                        outlet=OUTLETS[n % 2], published=dt.datetime(2020, 1, 1 + n % 3, tzinfo=dt.UTC))
                for n in range(70)]
    write_articles(articles, settings)
    with open_index(settings).searcher() as s:
        assert len(list(s.reader().expand_prefix("body_words", "zq"))) >= wq.Or.TOO_MANY_CLAUSES
        for request in (make_query("zq*", per_page=8, facet_limit=1000), make_query("zq* OR talks", per_page=8),
                        make_query("zq* talks", sort="date", per_page=8), make_query("zq0*", page=2, per_page=8)):
            _check(s, settings, gazetteer, request)


# --- keeping the arrays ---------------------------------------------------------------


def _search_and_close(settings: Settings, gazetteer: Gazetteer) -> int:
    with open_index(settings).searcher() as s:
        search(s, make_query("talks"), settings, gazetteer)
        return len(columns._BY_READER)


def test_closed_searchers_leave_no_arrays_behind(corpus: Settings, gazetteer: Gazetteer) -> None:
    gc.collect()
    readers, searchers = len(columns._BY_READER), len(columns._BY_SEARCHER_READER)
    for _ in range(3):
        assert _search_and_close(corpus, gazetteer) > readers
    gc.collect()
    assert (len(columns._BY_READER), len(columns._BY_SEARCHER_READER)) == (readers, searchers)


def test_the_shared_arrays_stay_within_their_size() -> None:
    shared = columns._Shared(max_bytes=10_000)
    for n in range(50):
        size = 1000
        item = columns.SegmentColumns(size, {}, np.zeros(0, dtype=np.int32),
                                      columns.Coded(np.zeros(0, dtype=np.int32), ()), np.zeros(size, dtype=np.uint64),
                                      np.zeros(0, dtype=np.uint64))
        shared.put((f"segment{n}", size, b""), item)
    assert len(shared) == 1  # 8,000 bytes each: only the newest fits


def test_segments_with_the_same_id_and_other_contents_are_told_apart(tmp_path: Path, gazetteer: Gazetteer) -> None:
    """Whoosh names segments from the global ``random``: seeded alike, two indexes share segment ids."""
    pages = []
    for outlet in ("First Outlet", "Second Outlet"):
        settings = make_settings(tmp_path / outlet.replace(" ", "-"), facet_cache_size=0)
        random.seed(5)
        create_index(settings)
        articles = [Article(id=f"s{n}", title="Story", text=f"Envoys met for round {n}.", origin="generated",
                            outlet=outlet, published=dt.datetime(2020, 1, 1 + n, tzinfo=dt.UTC)) for n in range(6)]
        random.seed(5)
        write_articles(articles, settings)
        with open_index(settings).searcher() as s:
            segment_ids = [sub.reader().segment().segment_id() for sub, _ in s.leaf_searchers()]
            pages.append((segment_ids, search(s, make_query(""), settings, gazetteer)))
    (first_ids, first), (second_ids, second) = pages
    assert first_ids == second_ids  # the trap is set
    assert [v.value for v in first.facets["outlet"]] == ["First Outlet"]
    assert [v.value for v in second.facets["outlet"]] == ["Second Outlet"]


def test_a_costly_wildcard_past_the_time_limit_is_refused(searcher: Searcher, corpus: Settings,
                                                          gazetteer: Gazetteer) -> None:
    hurried = Settings(index=corpus.index, search_time_limit=1e-9, facet_cache_size=0)
    with pytest.raises(QueryError, match="took longer"):
        search(searcher, make_query("*a* OR *e*"), hurried, gazetteer)


def test_an_empty_index_has_no_arrays_to_read(fresh: Settings, gazetteer: Gazetteer) -> None:
    create_index(fresh)
    with open_index(fresh).searcher() as s:
        for request in (make_query(""), make_query("talks"), make_query("talks", sort="date", outlet=["x"])):
            page = search(s, request, fresh, gazetteer)
            assert page.total == 0 and page.hits == ()
            # A picked value stays shown, to be removed.
            assert {name: [(v.value, v.count) for v in values] for name, values in page.facets.items()} == {
                "outlet": [(v, 0) for v in request.outlet], "actor": [], "year": [], "language": []}


def test_every_kind_of_query_is_answered_from_the_index_newsdesk_writes_without_whooshs_matchers(
        searcher: Searcher, corpus: Settings, gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The arrays decode the postings and positions of the index Newsdesk's own writer lays out
    (search/index/writer.py): a format they could not read would still answer right, through
    Whoosh's matchers, and only slower, so nothing else here would notice."""
    def refuse(segment: Any, q: wq.Query, positive: bool) -> Any:
        raise AssertionError(f"{q!r} went to Whoosh's matcher")

    monkeypatch.setattr(matches._Segment, "other", refuse)
    for text in TEXTS:
        _check(searcher, corpus, gazetteer, make_query(text, per_page=7, facet_limit=1000))
