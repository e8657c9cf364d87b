"""Keyset paging on both backends: each page's ``next`` cursor leads to the results after its last one.

A generated corpus of 1,100 articles — whole groups published in the same
second, some undated, copies of one story in several outlets, some articles
updated after later ones were written (so an article's ingest number and its
place in a Whoosh index differ) and some deleted — is written to a Whoosh
index and to a PostgreSQL database. Following ``next`` from the first page
must list every result once, in the order the numbered pages list them; by
date, that order is plain Python's over the stored articles (newest first,
undated last, ties by ingest number). Articles written between two pages
neither repeat a result nor hide one, paging goes on past the numbered pages'
limit, and a cursor used elsewhere is a 400 with a hint.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from conftest import backend_settings, stored_articles
from search.index import open_store
from search.query.cursor import Cursor, date_key
from search.query.parse import MAX_PAGE
from search.records import Article, StoredArticle
from search.settings import Settings
from web import create_app

WORDS = ("zebra", "quokka", "lemur", "tapir", "okapi", "dingo")
OUTLETS = ("Balkan Wire", "RksNews", "Sputnik", "Tanjug")


def _article(n: int, rng: random.Random, version: int = 0) -> Article:
    # Groups of seven share a second; every eleventh is undated.
    published = None if n % 11 == 0 else dt.datetime(2015 + n % 5, 1 + n % 12, 1 + n % 28, tzinfo=dt.UTC) \
        + dt.timedelta(seconds=n // 7 % 3)
    story = n // 3 if n % 4 == 0 else n  # every fourth article is one of a few copies of a story
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
    return Article(id=f"p{n:04d}", title=f"Story {story}", origin="generated", outlet=OUTLETS[n % 4],
                   text=f"Story {story} says {words}. Its own sentence {story}. " * 2 + ("Updated." if version else ""),
                   published=published, published_source="manifest" if published else None, language="en")


def _corpus() -> list[Article]:
    rng = random.Random(29)
    return [_article(n, rng) for n in range(1100)]


def _write(settings: Settings, articles: list[Article]) -> None:
    open_store(settings).write(articles)


@pytest.fixture(scope="module", params=["whoosh", "postgres"])
def instance(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = backend_settings(request, request.param, tmp_path_factory.mktemp("cursor"), batch_size=300)
    articles = _corpus()
    _write(settings, articles)
    rng = random.Random(30)
    _write(settings, [_article(n, rng, version=1) for n in range(0, 1100, 13)])  # updated: same number, new text
    store = open_store(settings)
    store.delete(article.id for article in articles[5::17])
    return settings


@pytest.fixture(scope="module")
def client(instance: Settings) -> FlaskClient:
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": instance}).test_client()


@pytest.fixture(scope="module")
def stored(instance: Settings) -> list[StoredArticle]:
    return stored_articles(instance)


def by_cursor(client: FlaskClient, params: str, per_page: int) -> Iterator[dict[str, object]]:
    """Every page of a search, following ``next`` from the first."""
    url = f"/api/search?{params}&per_page={per_page}"
    while url:
        answer = client.get(url)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        page = answer.get_json()
        yield page
        url = f"/api/search?{params}&per_page={per_page}&after={page['next']}" if page["next"] else ""


def by_number(client: FlaskClient, params: str, per_page: int) -> list[str]:
    first = client.get(f"/api/search?{params}&per_page={per_page}").get_json()
    ids = [hit["id"] for hit in first["hits"]]
    listed = first["stories"] if "collapse=story" in params else first["articles"]
    for page in range(2, -(-listed // per_page) + 1):
        ids += [hit["id"] for hit in client.get(f"/api/search?{params}&per_page={per_page}&page={page}")
                .get_json()["hits"]]
    return ids


def newest_first(articles: list[StoredArticle]) -> list[str]:
    """Newest first to the second, undated last, ties by ingest number: the order of every page by date."""
    return [a.id for a in sorted(articles, key=lambda a: (-date_key(a.published_utc), a.seq))]


SEARCHES = ("", "sort=date", "q=zebra", "q=zebra&sort=date", "q=zebra+OR+okapi", "q=okapi&outlet=RksNews&sort=date",
            "q=zebra&collapse=story", "collapse=story&sort=date", "q=tapir+OR+dingo&collapse=story&sort=date")


@pytest.mark.parametrize("params", SEARCHES)
def test_following_next_lists_every_result_once_in_the_numbered_pages_order(client: FlaskClient, params: str,
                                                                             stored: list[StoredArticle]) -> None:
    pages = list(by_cursor(client, params, per_page=37))
    ids = [hit["id"] for page in pages for hit in page["hits"]]  # type: ignore[attr-defined]
    listed = pages[0]["stories"] if "collapse=story" in params else pages[0]["articles"]
    assert len(ids) == len(set(ids)) == listed
    assert [page["page"] for page in pages] == list(range(1, len(pages) + 1))
    assert pages[-1]["next"] is None and all(page["next"] for page in pages[:-1])
    assert ids == by_number(client, params, per_page=37)
    if params in ("", "sort=date"):  # every article: plain Python's order, whatever the sort asked
        assert ids == newest_first(stored)


def test_the_page_size_may_change_between_pages(client: FlaskClient, stored: list[StoredArticle]) -> None:
    first = client.get("/api/search?sort=date&per_page=10").get_json()
    second = client.get(f"/api/search?sort=date&per_page=25&after={first['next']}").get_json()
    assert second["page"] == 2
    assert [hit["id"] for hit in first["hits"] + second["hits"]] == newest_first(stored)[:35]


def test_paging_goes_on_past_the_numbered_pages(client: FlaskClient, stored: list[StoredArticle]) -> None:
    assert len(stored) > MAX_PAGE + 1
    last_numbered = client.get(f"/api/search?sort=date&per_page=1&page={MAX_PAGE}").get_json()
    beyond = client.get(f"/api/search?sort=date&per_page=1&after={last_numbered['next']}").get_json()
    assert (beyond["page"], [hit["id"] for hit in beyond["hits"]]) == (MAX_PAGE + 1,
                                                                       newest_first(stored)[MAX_PAGE:MAX_PAGE + 1])
    refused = client.get(f"/api/search?sort=date&per_page=1&page={MAX_PAGE + 1}")
    assert refused.status_code == 400 and "after=" in refused.get_json()["hint"]


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_articles_written_between_two_pages_neither_repeat_a_result_nor_hide_one(
        request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> None:
    settings = backend_settings(request, backend, tmp_path)
    rng = random.Random(31)
    _write(settings, [_article(n, rng) for n in range(60)])
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()
    before = newest_first(stored_articles(settings))
    first = client.get("/api/search?sort=date&per_page=10").get_json()
    # Five articles newer than any: a numbered page 2 would now start five results earlier.
    _write(settings, [Article(id=f"late{n}", title=f"Late {n}", text=f"A later story {n}. " * 3, origin="generated",
                              outlet="Tanjug", published=dt.datetime(2030, 1, 1, n, tzinfo=dt.UTC),
                              published_source="manifest", language="en") for n in range(5)])
    following = client.get(f"/api/search?sort=date&per_page=10&after={first['next']}").get_json()
    numbered = client.get("/api/search?sort=date&per_page=10&page=2").get_json()
    assert [hit["id"] for hit in following["hits"]] == before[10:20]
    assert [hit["id"] for hit in numbered["hits"]] == before[5:15]  # what the cursor spares the reader


# --- a cursor used elsewhere --------------------------------------------------------------------------------


def _cursor(token: str) -> Cursor:
    import base64
    fields = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return Cursor(*fields[1:])


@pytest.mark.parametrize("after, search", [
    ("not-a-cursor", "q=zebra"), ("eyJ", "q=zebra"), ("W10", "q=zebra"), ("%E2%9C%93", "q=zebra"),
    ("", "q=okapi"), ("", "q=zebra&outlet=Sputnik"), ("", "q=zebra&sort=date"), ("", "q=zebra&from=2016"),
    ("", "q=zebra&collapse=story"),
])
def test_a_cursor_from_elsewhere_is_refused_with_a_hint(client: FlaskClient, after: str, search: str) -> None:
    """Garbage, and a cursor of ``q=zebra`` used with another search: never read as a place in its order."""
    token = after or client.get("/api/search?q=zebra&per_page=5").get_json()["next"]
    answer = client.get(f"/api/search?{search}&per_page=5&after={token}")
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert "after=" in answer.get_json()["hint"] and "Traceback" not in answer.get_data(as_text=True)


def test_a_relevance_cursor_is_refused_by_the_other_backend(client: FlaskClient, instance: Settings) -> None:
    token = client.get("/api/search?q=zebra&per_page=5").get_json()["next"]
    made = _cursor(token)
    assert made.engine == instance.backend
    other = Cursor(made.page, made.sort, made.key, made.seq, made.id, made.search,
                   "postgres" if made.engine == "whoosh" else "whoosh").encode()
    answer = client.get(f"/api/search?q=zebra&per_page=5&after={other}")
    assert answer.status_code == 400 and "backend" in answer.get_json()["error"]
    # A date cursor holds no score: either backend reads it.
    dated = client.get("/api/search?q=zebra&sort=date&per_page=5").get_json()["next"]
    assert _cursor(dated).engine == ""


# --- the results page ---------------------------------------------------------------------------------------


def test_the_results_page_next_link_follows_the_cursor(client: FlaskClient) -> None:
    html = client.get("/?q=zebra&sort=date&per_page=5&collapse=none").get_data(as_text=True)
    assert 'rel="prev"' not in html
    following = re.search(r'<a rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "after=" in following and "&page=" not in following
    second = client.get(following).get_data(as_text=True)
    numbered = client.get("/?q=zebra&sort=date&per_page=5&collapse=none&page=2").get_data(as_text=True)
    titles = re.compile(r'<h3><a href="/articles/([^"]+)"')
    assert titles.findall(second) == titles.findall(numbered) and titles.findall(second)
    assert "Page 2 of" in second
    previous = re.search(r'<a rel="prev" href="([^"]+)"', second).group(1).replace("&amp;", "&")
    assert "after=" not in previous and "&page=1" in previous
    assert quote("zebra") in previous
