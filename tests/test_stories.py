"""Stories: the copies of one text listed once (``collapse=story``) and counted once (``count=stories``).

The oracle is plain Python over the stored articles: a story is the set of
live articles sharing a stored ``cluster``. A collapsed search must list
each matching story once, by the first of its articles in the uncollapsed
order (the export's, itself held to the API's), and a story count must be
the number of distinct clusters among what an article count counts, facet
by facet under the same multi-select filters. Counting stories is opt-in:
without it, every number the API, the exports and the timeline give is the
articles' own.

The corpus is generated (written straight to the index): most stories
alone, some carried by two to four outlets, one wire story copied forty
times; shuffled over four commits, so a story's copies stand in different
segments, and every eleventh article deleted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import re
from collections.abc import Callable
from html import unescape

import pytest
from flask.testing import FlaskClient

from conftest import backend_settings, stored_articles
from search.index import open_index, open_store
from search.records import FACETS, Article, StoredArticle
from search.settings import Settings
from web import create_app

OUTLETS = ("Balkan Wire", "Daily Observer", "Телеграф", "Pristina Post", "Kosovo Online", "Sputnik Srbija")
ACTORS = ("Q58217", "Q403", "Q1246", "Q159")
#: Words that neither stem nor fold into one another: plain Python can tell which texts hold them.
WORDS = ("zebra", "quartz", "violin", "meadow", "copper", "lantern")
WIRE = "wire"  # the story copied forty times


def _corpus(seed: int = 26) -> list[Article]:
    rng = random.Random(seed)
    articles = []
    for story in range(220):
        copies = 40 if story == 0 else rng.choice((1, 1, 1, 1, 2, 3, 4))
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
        text = f"Story {story} {WIRE if story == 0 else ''}: {words}. " + f"Its own sentence number {story}. " * 3
        language = rng.choice(("en", "sr", "ru", None))
        actors = rng.sample(ACTORS, rng.randint(0, 2))
        # Copies by different outlets (one outlet's second copy is a duplicate, not stored), under one title
        # (a short text's copies are recognised by title and text).
        carriers = rng.sample(OUTLETS, copies) if copies <= len(OUTLETS) else \
            [*OUTLETS, *(f"Regional Paper {n}" for n in range(copies - len(OUTLETS)))]
        for copy, outlet in enumerate(carriers):
            # Copies of one story are published around one day, some a year apart, some undated.
            day = dt.date(2016 + (story + copy // 10) % 4, 1 + story % 12, 1 + (story + copy) % 28)
            published = None if rng.random() < 0.15 else dt.datetime(day.year, day.month, day.day, copy % 24,
                                                                       tzinfo=dt.UTC)
            if story == 0:  # the wire story is the newest: its copies are the first forty of a search by date
                published = dt.datetime(2020, 6, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=copy)
            articles.append(Article(
                id=f"s{story:03d}-{copy:02d}", title=f"Story {story}", text=text, origin="generated",
                outlet=outlet, published=published, published_source="manifest" if published else None,
                language=language, actors=actors,
            ))
    rng.shuffle(articles)
    return articles


@pytest.fixture(scope="module", params=["whoosh", "postgres"])
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The generated corpus on each backend in turn, written in four commits with a deletion after."""
    settings = backend_settings(request, request.param, tmp_path_factory.mktemp("stories"))
    articles = _corpus()
    batch = len(articles) // 4 + 1
    store = open_store(dataclasses.replace(settings, batch_size=batch))
    for start in range(0, len(articles), batch):  # four commits: copies of one story in several segments
        store.write(articles[start:start + batch])
    if settings.backend == "postgres":
        store.delete(article.id for article in articles[::11])
        # The command line reads the instance's own settings file, as a user's would.
        (settings.index / "newsdesk.toml").write_text(
            f'backend = "postgres"\ndatabase_url = "{settings.database_url}"\n')
        return settings
    writer = open_index(settings).writer()  # deleted, not merged: the deleted documents stay in their segments
    for article in articles[::11]:
        writer.delete_by_term("id", article.id)
    writer.commit()
    return settings


@pytest.fixture(scope="module")
def client(corpus: Settings) -> FlaskClient:
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": corpus}).test_client()


@pytest.fixture(scope="module")
def stored(corpus: Settings) -> list[StoredArticle]:
    return stored_articles(corpus)


# --- the oracle ---------------------------------------------------------------------------------------------

Oracle = Callable[[StoredArticle], bool]


def words_of(article: StoredArticle) -> set[str]:
    return set(re.findall(r"\w+", article.text.casefold()))


def _in_2017(article: StoredArticle) -> bool:
    return article.published_utc is not None and article.published_utc.year == 2017


#: A search's query and date filter (what every facet is counted under) in plain Python, by its parameters.
QUERIES: dict[str, Oracle] = {
    "": lambda a: True,
    "q=zebra": lambda a: "zebra" in words_of(a),
    "q=zebra+OR+violin": lambda a: bool({"zebra", "violin"} & words_of(a)),
    "q=quartz&sort=date": lambda a: "quartz" in words_of(a),
    "from=2017-01-01&to=2017-12-31": _in_2017,
    f"q={WIRE}": lambda a: WIRE in words_of(a),
}
#: Facet filters added to a query: (parameters, facet → the values picked).
FILTERS: dict[str, dict[str, tuple[str, ...]]] = {
    "": {},
    "&outlet=Balkan+Wire&outlet=Pristina+Post": {"outlet": ("Balkan Wire", "Pristina Post")},
    "&actor=Q58217&language=en": {"actor": ("Q58217",), "language": ("en",)},
}
SEARCHES = [(query, filters) for query in QUERIES for filters in FILTERS]


def facet_values(article: StoredArticle, name: str) -> tuple[str, ...]:
    return article.actors if name == "actor" else (getattr(article, name),)


def selected(stored: list[StoredArticle], query: str, filters: str, leave_out: str = "") -> list[StoredArticle]:
    """The articles a search selects, with every facet filter but ``leave_out``'s."""
    picked = {name: values for name, values in FILTERS[filters].items() if name != leave_out}
    return [a for a in stored if QUERIES[query](a)
            and all(set(facet_values(a, name)) & set(values) for name, values in picked.items())]


def stories_of(articles: list[StoredArticle]) -> int:
    return len({a.cluster for a in articles})


def api(client: FlaskClient, params: str) -> dict[str, object]:
    answer = client.get(f"/api/search?{params}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    data: dict[str, object] = answer.get_json()
    return data


def every_page(client: FlaskClient, params: str, per_page: int = 7) -> list[dict[str, object]]:
    hits: list[dict[str, object]] = []
    for page in range(1, 1000):
        found = api(client, f"{params}&per_page={per_page}&page={page}")["hits"]
        assert isinstance(found, list)
        hits += found
        if len(found) < per_page:
            return hits
    raise AssertionError("no last page")


def exported(client: FlaskClient, params: str) -> list[dict[str, object]]:
    """Every match in the page's order (search/query/export.py, held to the API's order in test_exports.py)."""
    text = client.get(f"/search.jsonl?{params}").get_data(as_text=True)
    return [json.loads(line) for line in text.splitlines()]


# --- listing --------------------------------------------------------------------------------------------------


def test_the_corpus_has_stories_with_copies_in_several_segments(corpus: Settings,
                                                                 stored: list[StoredArticle]) -> None:
    sizes = [sum(a.cluster == cluster for a in stored) for cluster in {a.cluster for a in stored}]
    assert max(sizes) >= 30 and sum(size > 1 for size in sizes) > 40 and sizes.count(1) > 100
    if corpus.backend == "whoosh":  # PostgreSQL has no segments: its rows are one table, whatever the commits
        with open_index(corpus).searcher() as searcher:
            assert len(searcher.leaf_searchers()) >= 4


@pytest.mark.parametrize(("query", "filters"), SEARCHES)
def test_a_collapsed_search_lists_each_story_once_by_its_first_article(client: FlaskClient, query: str,
                                                                        filters: str) -> None:
    params = query + filters
    order = exported(client, params)
    firsts: dict[object, object] = {}
    for row in order:
        firsts.setdefault(row["cluster"], row["id"])

    listed = every_page(client, f"{params}&collapse=story")

    assert [hit["id"] for hit in listed] == list(firsts.values())
    page = api(client, f"{params}&collapse=story")
    assert (page["total"], page["stories"], page["articles"], page["counted"]) == \
        (len(firsts), len(firsts), len(order), "stories")


@pytest.mark.parametrize(("query", "filters"), SEARCHES)
def test_story_counts_are_what_plain_python_counts(client: FlaskClient, stored: list[StoredArticle], query: str,
                                                  filters: str) -> None:
    page = api(client, f"{query}{filters}&count=stories&facet_limit=100")

    chosen = selected(stored, query, filters)
    assert (page["total"], page["articles"], page["counted"]) == (stories_of(chosen), len(chosen), "stories")
    facets = page["facets"]
    assert isinstance(facets, dict)
    for name in FACETS:
        under = selected(stored, query, filters, leave_out=name)
        expected = {value: stories_of([a for a in under if value in facet_values(a, name)])
                    for value in {v for a in under for v in facet_values(a, name)}}
        assert {f["value"]: f["count"] for f in facets[name] if f["count"]} == expected, name


def test_a_date_filter_counts_the_undated_stories_it_leaves_out(client: FlaskClient,
                                                                stored: list[StoredArticle]) -> None:
    page = api(client, "q=zebra&from=2017&count=stories")
    undated = [a for a in stored if "zebra" in words_of(a) and a.published_utc is None]
    assert page["undated"] == stories_of(undated) > 0
    assert api(client, "q=zebra&from=2017")["undated"] == len(undated) > stories_of(undated)


def test_a_story_copied_forty_times_does_not_leave_a_page_short(client: FlaskClient,
                                                                stored: list[StoredArticle]) -> None:
    """The wire story's copies take the first places of its search by date; each page still holds five stories."""
    wire = [a for a in stored if WIRE in words_of(a)]
    assert len(wire) >= 30 and stories_of(wire) == 1
    dated_first = exported(client, "sort=date")
    assert {row["cluster"] for row in dated_first[:len(wire)]} == {wire[0].cluster}  # the newest, every one
    for page in (1, 2, 3):
        hits = api(client, f"sort=date&collapse=story&per_page=5&page={page}")["hits"]
        assert isinstance(hits, list) and len(hits) == 5
        assert len({hit["cluster"] for hit in hits}) == 5


# --- opt-in: what stays counted in articles ------------------------------------------------------------------


@pytest.mark.parametrize(("query", "filters"), SEARCHES[::2])
def test_without_count_stories_the_api_counts_articles_whatever_it_lists(client: FlaskClient, query: str,
                                                                         filters: str) -> None:
    plain = api(client, f"{query}{filters}&facet_limit=100")
    listed = api(client, f"{query}{filters}&facet_limit=100&collapse=story&count=articles")
    assert (plain["counted"], plain["stories"]) == ("articles", None)
    assert (listed["total"], listed["articles"], listed["facets"], listed["undated"]) == \
        (plain["total"], plain["articles"], plain["facets"], plain["undated"])
    assert listed["counted"] == "articles" and isinstance(listed["stories"], int)


def test_exports_and_the_timeline_list_every_article_whatever_the_page_collapses(client: FlaskClient,
                                                                               stored: list[StoredArticle]) -> None:
    grouped = "q=zebra&collapse=story&count=stories"
    assert [row["id"] for row in exported(client, grouped)] == [row["id"] for row in exported(client, "q=zebra")]
    assert len(exported(client, grouped)) == sum("zebra" in words_of(a) for a in stored)
    table = client.get(f"/search.csv?{grouped}&facet=outlet").get_data(as_text=True)
    assert table == client.get("/search.csv?q=zebra&facet=outlet").get_data(as_text=True)
    timeline = client.get(f"/api/timeline?{grouped}&interval=year").get_json()
    assert timeline == client.get("/api/timeline?q=zebra&interval=year").get_json()
    assert sum(bucket["count"] for bucket in timeline["buckets"]) + timeline["undated"] == \
        sum("zebra" in words_of(a) for a in stored)


def test_unknown_collapse_or_count_is_a_400_with_a_hint(client: FlaskClient) -> None:
    for params, hint in (("collapse=cluster", "collapse=story"), ("count=copies", "count=stories")):
        answer = client.get(f"/api/search?{params}")
        assert answer.status_code == 400
        assert hint in answer.get_json()["hint"]


# --- the results page ----------------------------------------------------------------------------------------


def cards(html: str) -> list[str]:
    """The article ids of the page's result cards, in order."""
    return re.findall(r'<li class="hit">\s*<h3><a href="/articles/([^"]+)"', html)


def heading(html: str) -> str:
    """The page's total line as a reader sees it: tags dropped, white space collapsed."""
    found = re.search(r'<h1 class="total">(.*?)</h1>', html, re.DOTALL)
    assert found is not None
    return " ".join(unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def facet_counts(html: str, name: str) -> dict[str, int]:
    section = html[html.index(f'id="facet-{name}"'):]
    section = section[:section.index("</section>")]
    found = re.findall(r'data-value="([^"]*)"[^>]*>\s*<span class="label">[^<]*</span> <span class="count">(\d+)',
                       section)
    return {unescape(value): int(count) for value, count in found}


def test_the_results_page_lists_stories_and_counts_articles_unless_told(client: FlaskClient,
                                                                        stored: list[StoredArticle]) -> None:
    chosen = [a for a in stored if "zebra" in words_of(a)]
    page = client.get("/?q=zebra").get_data(as_text=True)
    api_stories = api(client, "q=zebra&collapse=story&per_page=10")

    # One card per story, the API's collapsed page; counted in articles, with the stories beside them.
    assert cards(page) == [hit["id"] for hit in api_stories["hits"]]  # type: ignore[union-attr,index]
    assert heading(page) == f"{len(chosen):,} articles in {stories_of(chosen):,} stories for zebra"
    assert "Counts are articles" in page and "Page 1 of " + str(-(-stories_of(chosen) // 10)) in page
    assert facet_counts(page, "outlet") == {f["value"]: f["count"]  # type: ignore[index]
                                            for f in api(client, "q=zebra")["facets"]["outlet"]}  # type: ignore[index]

    # Every copy, on asking: the API's default page.
    every = re.search(r'href="([^"]+)" data-collapse="none"', page)
    assert every is not None
    listed = client.get(unescape(every.group(1))).get_data(as_text=True)
    assert cards(listed) == [hit["id"] for hit in api(client, "q=zebra")["hits"]]  # type: ignore[union-attr]
    assert heading(listed) == f"{len(chosen):,} articles for zebra" and "Every copy listed" in listed

    # Counted in stories, on asking: the facets' counts are the API's story counts.
    by_story = re.search(r'href="([^"]+)" data-count="stories"', page)
    assert by_story is not None
    counted = client.get(unescape(by_story.group(1))).get_data(as_text=True)
    assert heading(counted) == f"{stories_of(chosen):,} stories ({len(chosen):,} articles) for zebra"
    assert "Counts are stories" in counted
    stories_api = api(client, "q=zebra&count=stories")["facets"]["outlet"]  # type: ignore[index]
    assert facet_counts(counted, "outlet") == {f["value"]: f["count"] for f in stories_api}  # type: ignore[union-attr]


# --- the command line ------------------------------------------------------------------------------------------


def test_newsdesk_search_lists_and_counts_stories_on_asking(corpus: Settings, client: FlaskClient,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from web.cli import main

    index = ["--index", str(corpus.index)]
    assert main(["search", "zebra", *index]) == 0
    plain = api(client, "q=zebra")
    assert capsys.readouterr().out.startswith(f"{plain['total']} articles\n")

    assert main(["search", "zebra", "--collapse", "story", "--count", "articles", "--per-page", "20", *index]) == 0
    listed, grouped = capsys.readouterr().out, api(client, "q=zebra&collapse=story&count=articles&per_page=20")
    assert listed.startswith(f"{grouped['articles']} articles in {grouped['stories']} stories\n")
    hits = grouped["hits"]
    assert isinstance(hits, list) and [line.split(" · ")[-1] for line in listed.splitlines() if " · " in line] == \
        [hit["id"] for hit in hits]
    assert any(hit["also"] for hit in hits) and "also published by" in listed

    assert main(["search", "zebra", "--collapse", "story", *index]) == 0
    stories = api(client, "q=zebra&collapse=story")
    assert capsys.readouterr().out.startswith(f"{stories['total']} stories ({stories['articles']} articles)\n")
