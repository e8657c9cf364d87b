"""Search over the seed index, checked against plain Python over the stored records."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from whoosh.searching import Searcher

from conftest import SEED_ARTICLES
from search.enrich import Gazetteer
from search.errors import QueryError
from search.index import open_index
from search.ingest import ingest
from search.query import make_query, search
from search.records import FACETS, SearchPage
from search.settings import Settings

LAVROV = "Q58217"


def records(searcher: Searcher) -> list[dict[str, Any]]:
    """Every indexed article as stored: the oracle's input."""
    return [searcher.stored_fields(n) for n in searcher.reader().all_doc_ids()]


def values(record: dict[str, Any], facet: str) -> list[str]:
    if facet == "actor":
        return [a for a in record["actor"].split(",") if a]
    return [record[facet]]


def run(searcher: Searcher, seeded: Settings, gazetteer: Gazetteer, q: str = "", **kw: Any) -> SearchPage:
    return search(searcher, make_query(q, **kw), seeded, gazetteer)


def ids(page: SearchPage) -> set[str]:
    return {hit.id for hit in page.hits}


def test_kosovo_finds_all_five_seeds_and_lavrov_in_four(searcher, seeded, gazetteer) -> None:
    page = run(searcher, seeded, gazetteer, "Kosovo")
    assert page.total == 5
    actor_counts = {f.value: f.count for f in page.facets["actor"]}
    assert actor_counts[LAVROV] == 4
    assert gazetteer.label(LAVROV) == "Sergey Lavrov"


def test_facet_counts_match_a_counter_over_the_records(searcher, seeded, gazetteer) -> None:
    page = run(searcher, seeded, gazetteer, facet_limit=1000)
    for facet in FACETS:
        expected = Counter(v for r in records(searcher) for v in values(r, facet))
        assert {f.value: f.count for f in page.facets[facet]} == expected, facet


def test_facets_are_multi_select_counted_under_the_other_filters(searcher, seeded, gazetteer) -> None:
    page = run(searcher, seeded, gazetteer, actor=[LAVROV], outlet=["RksNews"], facet_limit=1000)
    docs = records(searcher)
    with_lavrov = [r for r in docs if LAVROV in values(r, "actor")]
    in_rks = [r for r in docs if r["outlet"] == "RksNews"]
    both = [r for r in with_lavrov if r["outlet"] == "RksNews"]
    assert page.total == len(both) == 1
    assert {f.value: f.count for f in page.facets["outlet"]} == Counter(r["outlet"] for r in with_lavrov)
    assert {f.value: f.count for f in page.facets["actor"]} == Counter(a for r in in_rks for a in values(r, "actor"))
    assert {f.value: f.count for f in page.facets["year"]} == Counter(r["year"] for r in both)
    assert [f.value for f in page.facets["outlet"] if f.selected] == ["RksNews"]


def test_several_values_of_one_facet_are_or(searcher, seeded, gazetteer) -> None:
    page = run(searcher, seeded, gazetteer, outlet=["RksNews", "Sputnik International"])
    assert page.total == sum(1 for r in records(searcher) if r["outlet"] in {"RksNews", "Sputnik International"}) == 2


def test_unknown_outlet_and_year_are_counted_not_dropped(searcher, seeded, gazetteer) -> None:
    page = run(searcher, seeded, gazetteer)
    assert {f.value: f.count for f in page.facets["year"]} == {"unknown": 4, "2018": 1}
    assert {f.value: f.count for f in page.facets["outlet"]}["unknown"] == 3
    assert run(searcher, seeded, gazetteer, year=["unknown"]).total == 4


def test_facet_limit_keeps_the_largest_counts_and_the_selected_values(searcher, seeded, gazetteer) -> None:
    page = run(searcher, seeded, gazetteer, facet_limit=2, actor=["Q7747"])  # Putin: a small bucket
    actors = page.facets["actor"]
    counts = Counter(a for r in records(searcher) for a in values(r, "actor"))
    top = sorted(counts.items(), key=lambda kv: (-kv[1], gazetteer.label(kv[0]).casefold()))[:2]
    assert len(actors) == 2
    assert (actors[0].value, actors[0].count) == top[0]
    assert (actors[1].value, actors[1].selected) == ("Q7747", True)  # the selected value stays visible


def test_empty_query_lists_everything_newest_first_undated_last(searcher, seeded, gazetteer) -> None:
    page = run(searcher, seeded, gazetteer)
    stored = sorted(records(searcher), key=lambda r: r["seq"])
    dated = sorted((r for r in stored if r.get("published_iso")), key=lambda r: r["published_iso"], reverse=True)
    undated = [r for r in stored if not r.get("published_iso")]  # ties by ingest number
    assert [h.id for h in page.hits] == [r["id"] for r in dated + undated]
    assert page.hits[0].published is not None and all(h.published is None for h in page.hits[1:])


def test_sort_by_date_orders_a_keyword_search_too(searcher, seeded, gazetteer) -> None:
    page = run(searcher, seeded, gazetteer, "Lavrov", sort="date")
    assert page.hits[0].published is not None  # the one dated seed naming Lavrov
    assert [h.published for h in page.hits[1:]] == [None] * (page.total - 1)
    index_order = [r["id"] for r in records(searcher)]
    assert [h.id for h in page.hits[1:]] == sorted((h.id for h in page.hits[1:]), key=index_order.index)


def test_pages_partition_the_results(searcher, seeded, gazetteer) -> None:
    pages = [run(searcher, seeded, gazetteer, page=n, per_page=2) for n in (1, 2, 3)]
    seen = [h.id for p in pages for h in p.hits]
    assert len(seen) == len(set(seen)) == 5
    assert pages[0].pages == 3 and len(pages[2].hits) == 1


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Kosovo Putin", 2),  # bare words: AND
        ("Putin OR Jeremic", 3),
        ("Lavrov NOT Putin", 3),
        ('"Council of Europe"', 1),
        ("title:Lavrov", 2),
        ("Title:lavrov", 2),  # field names in any case
        ("Thaçi", 2),  # accent folding: the seeds spell it Thaci
        ("THACI", 2),
        ("Kamyn*", 1),
        ("negotiation", 3),  # stemming: negotiations
        ("outlet:RksNews", 1),
        ("published:[2018 to 2019]", 1),
        ("published:2018-09", 1),
        ("published:>2017", 1),
        ("published:<2017", 0),
    ],
)
def test_query_syntax(searcher, seeded, gazetteer, q: str, expected: int) -> None:
    assert run(searcher, seeded, gazetteer, q).total == expected


def test_title_matches_rank_above_body_matches(searcher, seeded, gazetteer) -> None:
    page = run(searcher, seeded, gazetteer, "Putin")
    assert page.hits[0].title.startswith("Kosovo leader reveals dialogue with Putin")


def test_snippets_escape_text_and_mark_matches(searcher, seeded, gazetteer) -> None:
    page = run(searcher, seeded, gazetteer, "Kamynin")
    snippet = page.hits[0].snippet
    assert "<mark>Kamynin</mark>" in snippet
    assert "&#39;" in snippet or "'" not in snippet.replace("<mark>", "").replace("</mark>", "")


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ('"unclosed phrase', "phrase is not closed"),
        ("(kosovo OR serbia", "not closed"),
        ("kosovo)", "unexpected"),
        ("color:red", "unknown field"),
        ("title:", "nothing after"),
        ("kosovo AND", "operator"),
        ("OR serbia", "operator"),
        ("x" * 2000, "characters long"),
        ("!!! ...", "nothing to search for"),
    ],
)
def test_unusable_queries_raise_query_error_with_a_hint(searcher, seeded, gazetteer, q: str, message: str) -> None:
    with pytest.raises(QueryError, match=message) as caught:
        run(searcher, seeded, gazetteer, q)
    assert caught.value.hint
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "kwargs",
    [{"page": "0"}, {"page": "x"}, {"per_page": "101"}, {"facet_limit": "1001"}, {"sort": "random"}],
)
def test_bad_paging_and_sorting_are_query_errors(kwargs: dict[str, str]) -> None:
    with pytest.raises(QueryError):
        make_query("kosovo", **kwargs)  # type: ignore[arg-type]


def test_a_wildcard_that_expands_too_far_is_refused(searcher, seeded, gazetteer) -> None:
    tight = Settings(index=seeded.index, max_wildcard_terms=20)
    with pytest.raises(QueryError, match="over 20 words"):
        search(searcher, make_query("s*"), tight, gazetteer)


def test_many_small_wildcards_count_together(searcher, seeded, gazetteer) -> None:
    tight = Settings(index=seeded.index, max_wildcard_terms=20)
    assert search(searcher, make_query("kos*"), tight, gazetteer).total == 5
    with pytest.raises(QueryError, match="over 20 words"):
        search(searcher, make_query("a* OR b* OR c* OR d* OR e* OR f*"), tight, gazetteer)


def test_a_search_over_its_time_limit_is_refused(searcher, seeded, gazetteer) -> None:
    hurried = Settings(index=seeded.index, search_time_limit=0.0)
    with pytest.raises(QueryError, match="took longer"):
        search(searcher, make_query("kosovo OR serbia OR russia"), hurried, gazetteer)


def test_highlighted_snippets_show_where_they_cut_into_the_text(searcher, seeded, gazetteer) -> None:
    snippet = run(searcher, seeded, gazetteer, "Kamynin").hits[0].snippet
    assert snippet.startswith("…") and snippet.endswith("…")


def test_actor_counts_stay_right_across_segments_updates_and_deletions(fresh: Settings, gazetteer) -> None:
    seeds = sorted(SEED_ARTICLES.glob("*.txt"))
    ingest(seeds[:2], fresh, progress=False)  # one segment...
    ingest(seeds[2:], fresh, progress=False)  # ...and another
    ix = open_index(fresh)
    with ix.searcher() as s:
        run(s, fresh, gazetteer)  # fills the per-segment cache
    writer = ix.writer()
    writer.delete_by_term("id", records_of(ix)[0]["id"])
    writer.commit(merge=False)  # the deletion lands in an already cached segment
    with ix.searcher() as s:
        page = run(s, fresh, gazetteer, facet_limit=1000)
        expected = Counter(a for r in records(s) for a in values(r, "actor"))
        assert page.total == 4
        assert {f.value: f.count for f in page.facets["actor"]} == expected


def records_of(ix: Any) -> list[dict[str, Any]]:
    with ix.searcher() as s:
        return sorted(records(s), key=lambda r: r["id"])


def test_an_empty_index_answers_with_no_hits_and_empty_facets(fresh: Settings, gazetteer) -> None:
    from search.index import create_index

    with create_index(fresh).searcher() as s:
        page = run(s, fresh, gazetteer, "kosovo")
        assert (page.total, page.hits) == (0, ())
        assert all(values == () for values in page.facets.values())
        assert run(s, fresh, gazetteer).total == 0


def test_kept_facet_counts_are_reused_until_the_index_changes(fresh: Settings, gazetteer) -> None:
    seeds = sorted(SEED_ARTICLES.glob("*.txt"))
    ingest(seeds[:3], fresh, progress=False)
    with open_index(fresh).searcher() as s:
        first = run(s, fresh, gazetteer, "Kosovo", actor=[LAVROV])
        again = run(s, fresh, gazetteer, "Kosovo", actor=[LAVROV], page=2, per_page=1)  # served from the cache
        assert again.facets == first.facets and again.total == first.total
    ingest(seeds[3:], fresh, progress=False)
    with open_index(fresh).searcher() as s:
        after = run(s, fresh, gazetteer, "Kosovo", actor=[LAVROV], facet_limit=1000)
        # The actor facet is counted without its own filter: over every "Kosovo" article.
        expected = Counter(a for r in records(s) for a in values(r, "actor"))
    assert after.total == 4
    assert {f.value: f.count for f in after.facets["actor"]} == expected


@pytest.mark.parametrize(("latin", "other"), [("Lavrov", "Лавров"), ("Dacic", "Дачић"), ("Dacic", "Dačić"),
                                              ("Thaci", "Thaçi")])
def test_a_name_finds_the_same_articles_in_either_script_and_spelling(
    searcher, seeded, gazetteer, latin: str, other: str
) -> None:
    """The text analyzer folds case, diacritics and Cyrillic to Latin, so the
    English seeds answer a query typed in Serbian or Russian Cyrillic."""
    found = ids(run(searcher, seeded, gazetteer, latin))
    assert found and ids(run(searcher, seeded, gazetteer, other)) == found


def test_the_query_stage_is_entered_through_search_query() -> None:
    """Parsing and snippets live beside it (search/query/parse.py, search/query/snippets.py); what the
    web app, the command line, saved searches and alerts call stays in the stage's entry module."""
    import search.query.run
    from search.query import parse as query_parse

    entry = ("search", "matching", "hits_by_id", "get_article", "get_copies", "actor_page", "facet_label",
             "make_query", "parse_query", "MAX_FACET_LIMIT")
    assert set(entry) <= set(search.query.__all__)
    assert all(callable(getattr(search.query, name)) for name in entry if name != "MAX_FACET_LIMIT")
    assert search.query.make_query is query_parse.make_query
