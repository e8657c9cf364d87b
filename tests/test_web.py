"""Every page and API route through the real Flask test client on the seed index."""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
import pytest
from flask.testing import FlaskClient

from search.ingest import ingest
from search.settings import Settings
from web import create_app

LAVROV = "Q58217"
HIT_KEYS = {"id", "url", "title", "outlet", "author", "published", "year", "language", "actors", "snippet",
            "cluster", "copies", "also", "published_source", "date_uncertain"}
FACET_KEYS = {"value", "label", "count", "selected"}


def test_home_lists_every_article_with_facets(client: FlaskClient) -> None:
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<strong>5</strong> articles" in html
    for facet in ("facet-outlet", "facet-actor", "facet-year", "facet-language"):
        assert f'id="{facet}"' in html


def test_search_page_shows_results_facets_and_highlights(client: FlaskClient) -> None:
    html = client.get("/?q=Kosovo").get_data(as_text=True)
    assert "<strong>5</strong> articles" in html
    assert re.search(r'data-value="Q58217"\s*>\s*<span class="label">Sergey Lavrov</span> <span class="count">4</span>', html)
    assert "<mark>Kosovo</mark>" in html


def test_a_facet_link_adds_the_filter_and_the_chip_removes_it(client: FlaskClient) -> None:
    html = client.get("/?q=Kosovo").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" data-facet="actor" data-value="Q58217"', html).group(1)
    filtered = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert "<strong>4</strong> articles" in filtered
    chip = re.search(r'<a class="chip" href="([^"]+)"', filtered).group(1)
    assert "actor=" not in chip
    assert "<strong>5</strong> articles" in client.get(chip.replace("&amp;", "&")).get_data(as_text=True)


def test_api_search_follows_the_contract(client: FlaskClient) -> None:
    data = client.get(f"/api/search?q=Kosovo&actor={LAVROV}&per_page=2&facet_limit=3").get_json()
    assert set(data) == {"query", "total", "counted", "articles", "stories", "undated", "dates", "page", "per_page",
                         "next", "hits", "facets"}
    assert (data["query"], data["total"], data["page"], data["per_page"]) == ("Kosovo", 4, 1, 2)
    # Articles unless asked otherwise (collapse=story, count=stories): the stories are then not counted.
    assert (data["counted"], data["articles"], data["stories"]) == ("articles", 4, None)
    assert (data["undated"], data["dates"]) == (0, None)  # no date filter: nothing left out
    assert len(data["hits"]) == 2
    for hit in data["hits"]:
        assert set(hit) == HIT_KEYS
        assert re.fullmatch(r"[A-Za-z0-9_-]+", hit["id"])
        assert all(set(a) == {"id", "name"} for a in hit["actors"])
    assert set(data["facets"]) == {"outlet", "actor", "year", "language"}
    assert all(set(f) == FACET_KEYS for values in data["facets"].values() for f in values)
    assert any(f["value"] == LAVROV and f["selected"] and f["label"] == "Sergey Lavrov" for f in data["facets"]["actor"])
    assert all(len(values) <= 3 for values in data["facets"].values())


def test_api_dates_are_iso_8601_or_null(client: FlaskClient) -> None:
    hits = client.get("/api/search?per_page=100").get_json()["hits"]
    assert sorted(h["published"] for h in hits if h["published"]) == ["2018-09-21"]
    assert sum(h["published"] is None for h in hits) == 4


def test_api_article_adds_text_and_date_provenance(client: FlaskClient) -> None:
    hit = client.get("/api/search?q=Dacic").get_json()["hits"][0]
    article = client.get(f"/api/articles/{hit['id']}").get_json()
    assert set(article) == HIT_KEYS | {"text", "related"}
    assert article["text"].endswith("a Serbia-Russia church and cultural centre.")
    assert article["published_source"].startswith("text:")


def test_article_page_shows_text_metadata_and_actor_links(client: FlaskClient) -> None:
    hit = client.get("/api/search?q=Jeremic").get_json()["hits"][0]
    html = client.get(f"/articles/{hit['id']}").get_data(as_text=True)
    assert "Russia says Kosovo&#39;s independence will cause instability" in html
    assert "Sputnik International" in html
    assert f'href="/?actor={LAVROV}">Sergey Lavrov</a>' in html


@pytest.mark.parametrize("url", ["/?q=%22unclosed", "/?q=color:red", "/?page=0", "/?sort=random", "/?per_page=500"])
def test_unusable_requests_are_400_pages_with_a_hint(client: FlaskClient, url: str) -> None:
    page = client.get(url)
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "Hint:" in html and "Error 400" in html and "Traceback" not in html


def test_error_messages_keep_the_case_of_what_the_user_typed(client: FlaskClient) -> None:
    html = client.get("/articles/ABCdef").get_data(as_text=True)
    assert "No article with id &#39;ABCdef&#39;" in html


@pytest.mark.parametrize("url", ["/api/search?q=%22unclosed", "/api/search?q=(a", "/api/search?per_page=101"])
def test_unusable_api_requests_are_400_json(client: FlaskClient, url: str) -> None:
    answer = client.get(url)
    assert answer.status_code == 400
    assert set(answer.get_json()) == {"error", "hint"}


def test_missing_things_are_404(client: FlaskClient) -> None:
    assert client.get("/articles/nope").status_code == 404
    missing = client.get("/api/articles/nope")
    assert missing.status_code == 404 and "error" in missing.get_json()
    assert client.get("/api/nothing-here").get_json() == {"error": "not found"}


def test_an_echoed_query_is_escaped(client: FlaskClient) -> None:
    html = client.get("/?q=%3Cscript%3Ealert(1)%3C/script%3E").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_hostile_article_text_is_escaped_everywhere(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.txt"
    hostile.write_text(
        'Kosovo talks <script>alert("title")</script> resume in Brussels\n\n'
        'Negotiators from Belgrade and Pristina met again on Monday <img src=x onerror=alert(1)> to discuss '
        'the <b>energy</b> agreement and "Kosovo" & Serbia relations, officials said.\n'
    )
    settings = Settings(index=tmp_path / "instance")
    ingest([hostile], settings, progress=False)
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()
    article_id = client.get("/api/search").get_json()["hits"][0]["id"]
    for url in ("/?q=Kosovo", "/?q=energy", "/", f"/articles/{article_id}", "/search.atom?q=Kosovo"):
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in body and "<img src=x" not in body and "<b>energy" not in body, url
    snippet = client.get("/api/search?q=energy").get_json()["hits"][0]["snippet"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in snippet and "<mark>energy</mark>" in snippet


def test_atom_twin_of_a_results_page_is_valid_for_feedparser(client: FlaskClient) -> None:
    answer = client.get("/search.atom?q=Kosovo")
    assert answer.mimetype == "application/atom+xml"
    feed = feedparser.parse(answer.get_data())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert len(feed.entries) == 5
    assert all(e.link.startswith("http://127.0.0.1:8000/articles/") for e in feed.entries)  # base_url, not the Host


def test_pages_carry_a_content_security_policy(client: FlaskClient) -> None:
    assert "default-src 'self'" in client.get("/").headers["Content-Security-Policy"]


def test_without_an_index_the_site_says_how_to_build_one(tmp_path: Path) -> None:
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": Settings(index=tmp_path / "empty")}).test_client()
    answer = client.get("/")
    assert answer.status_code == 503
    assert "newsdesk ingest" in answer.get_data(as_text=True)
