"""The actor pages, ``/actors/<id>`` and ``/api/actors/<id>``, on the seed index."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from whoosh.searching import Searcher

from search.enrich import Gazetteer, load_gazetteer
from search.errors import NotFound
from search.ingest import ingest
from search.query import actor_page
from search.settings import Settings
from web import create_app

LAVROV = "Q58217"
CYRILLIC_ALIAS = "Лавров"


def lavrov_articles(client: FlaskClient) -> list[dict[str, object]]:
    """The oracle: every article whose stored actors include Lavrov, read from an unfiltered search."""
    hits = client.get("/api/search?per_page=100").get_json()["hits"]
    return [hit for hit in hits if any(a["id"] == LAVROV for a in hit["actors"])]


def test_the_seeds_name_lavrov_in_four_articles_and_list_the_cyrillic_alias(
    client: FlaskClient, gazetteer: Gazetteer
) -> None:
    # Guards the premises of the tests below against edits to seeds/.
    assert len(lavrov_articles(client)) == 4
    actor = gazetteer.get(LAVROV)
    assert actor is not None and CYRILLIC_ALIAS in actor.aliases + actor.short


def test_actor_page_shows_name_aliases_count_and_years(client: FlaskClient) -> None:
    page = client.get(f"/actors/{LAVROV}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h1>Sergey Lavrov</h1>" in html
    assert f"<li>{CYRILLIC_ALIAS}</li>" in html
    assert f'href="/?actor={LAVROV}">4 articles</a>' in html
    assert "Minister of Foreign Affairs of Russia 2004-03-09–" in html  # a dated role
    years = re.findall(r'<tr data-year="([^"]+)">', html)
    assert years[-1] == "unknown" and years == sorted(years[:-1], reverse=True) + ["unknown"]


def test_actor_page_lists_the_latest_articles_newest_first(client: FlaskClient) -> None:
    html = client.get(f"/actors/{LAVROV}").get_data(as_text=True)
    listed = re.findall(r'<h3><a href="/articles/([^"]+)">', html)
    oracle = lavrov_articles(client)
    assert sorted(listed) == sorted(str(hit["id"]) for hit in oracle)
    dated = next(hit for hit in oracle if hit["published"])
    assert listed[0] == dated["id"], "the one dated article comes before the undated ones"


def test_api_actor_follows_the_contract(client: FlaskClient) -> None:
    data = client.get(f"/api/actors/{LAVROV}").get_json()
    assert set(data) == {"id", "name", "type", "aliases", "roles", "total", "years", "latest"}
    assert (data["id"], data["name"], data["type"]) == (LAVROV, "Sergey Lavrov", "person")
    assert CYRILLIC_ALIAS in data["aliases"] and "Sergey Lavrov" not in data["aliases"]
    assert len(data["aliases"]) == len(set(data["aliases"]))
    assert isinstance(data["roles"], list)
    oracle = lavrov_articles(client)
    assert data["total"] == len(oracle) == 4
    by_year = Counter(str(hit["year"]) for hit in oracle)
    newest_first = [*sorted(set(by_year) - {"unknown"}, reverse=True), "unknown"]
    assert data["years"] == [{"year": year, "count": by_year[year]} for year in newest_first]
    searched = client.get(f"/api/search?actor={LAVROV}&sort=date").get_json()["hits"]
    assert [hit["id"] for hit in data["latest"]] == [hit["id"] for hit in searched]
    assert all(any(a["id"] == LAVROV for a in hit["actors"]) for hit in data["latest"])


def test_unknown_actor_is_a_404_page(client: FlaskClient) -> None:
    page = client.get("/actors/Q0-nobody")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "Error 404" in html and "Hint:" in html and "Traceback" not in html


def test_unknown_actor_is_a_404_json_with_a_hint(client: FlaskClient) -> None:
    answer = client.get("/api/actors/Q0-nobody")
    assert answer.status_code == 404
    assert set(answer.get_json()) == {"error", "hint"}


def test_article_page_links_each_actor_to_its_page_and_its_articles(client: FlaskClient) -> None:
    hit = client.get("/api/search?q=Jeremic").get_json()["hits"][0]
    html = client.get(f"/articles/{hit['id']}").get_data(as_text=True)
    assert hit["actors"]
    for actor in hit["actors"]:
        assert f'href="/actors/{actor["id"]}"' in html
        assert f'href="/?actor={actor["id"]}"' in html
    for actor in hit["actors"]:
        assert client.get(f"/actors/{actor['id']}").status_code == 200


def test_an_actor_filter_chip_links_to_the_actor_page(client: FlaskClient) -> None:
    html = client.get(f"/?actor={LAVROV}").get_data(as_text=True)
    chips = html.split('<ul class="chips"', 1)[1].split("</ul>", 1)[0]
    assert f'href="/actors/{LAVROV}"' in chips


def test_hostile_actor_names_are_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "actors.toml").write_text(
        '[[actor]]\nid = "evil"\nname = "<script>alert(1)</script> Evil"\ntype = "person"\n'
        'aliases = ["Evil Corp", "<img src=x onerror=alert(2)>Evil"]\n'
    )
    monkeypatch.setenv("NEWSDESK_SEEDS", str(seeds))
    text = tmp_path / "evil.txt"
    text.write_text("Evil Corp meets the press\n\nEvil Corp said on Monday that it would meet the press again.\n")
    settings = Settings(index=tmp_path / "instance")
    ingest([text], settings, progress=False, gazetteer=load_gazetteer())
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()
    [hit] = client.get("/api/search").get_json()["hits"]
    assert [a["id"] for a in hit["actors"]] == ["evil"]
    article_id = hit["id"]
    for url in ("/actors/evil", f"/articles/{article_id}", "/?actor=evil"):
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in body and "<img src=x" not in body, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Evil" in client.get("/actors/evil").get_data(as_text=True)


def test_an_actor_dropped_from_the_gazetteer_keeps_its_page_until_a_reindex(
    searcher: Searcher, seeded: Settings
) -> None:
    # Its articles still carry the id, and the facet still links to it.
    page = actor_page(searcher, LAVROV, seeded, Gazetteer([]))
    assert (page.name, page.type, page.aliases, page.total) == (LAVROV, "unknown", (), 4)
    with pytest.raises(NotFound):
        actor_page(searcher, "Q0-nobody", seeded, Gazetteer([]))
