"""Candidate actors: titled people the gazetteer does not know, recorded, listed, promoted."""

from __future__ import annotations

import shutil
import sqlite3
import tomllib
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from conftest import ROOT, make_settings
from search.enrich import Gazetteer
from search.enrich.candidates import Candidate, find_candidates, list_candidates
from search.ingest import ingest, reindex
from search.settings import Settings
from search.state import state_path
from web.cli import main

ARTICLE = """\
Montenegro and Serbia sign a border deal

Montenegrin Foreign Minister Ervin Ibrahimović met Foreign Minister Marko Petrović in Belgrade on Tuesday.

Foreign Minister Ivica Dačić said the deal was overdue. Kosovo's Acting Prime Minister Albin Kurti did not comment.
"""
SECOND = """\
Petrović in Moscow

Serbian Foreign Minister Marko Petrović met Sergey Lavrov; the President said nothing.
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Foreign Minister Marko Petrović visited Moscow.", [Candidate("Marko Petrović", "Foreign Minister")]),
        ("Montenegrin Foreign Minister Ervin Ibrahimović said",
         [Candidate("Ervin Ibrahimović", "Montenegrin Foreign Minister")]),
        ("Serbia’s Acting Defence Minister Jovan Jovanović's visit",
         [Candidate("Jovan Jovanović", "Serbia’s Acting Defence Minister")]),
        ("President Marko Petrović and Prime Minister Jovan Jovanović met",
         [Candidate("Marko Petrović", "President"), Candidate("Jovan Jovanović", "Prime Minister")]),
        ("said Foreign Minister Marko\n    Petrović.", [Candidate("Marko Petrović", "Foreign Minister")]),
        ("Predsednik Crne Gore Petar Petrović je rekao", [Candidate("Petar Petrović", "Predsednik")]),
        ("министр иностранных дел Иван Петров заявил", [Candidate("Иван Петров", "министр иностранных дел")]),
    ],
)
def test_titled_unknown_people_are_candidates(text: str, expected: list[Candidate], gazetteer: Gazetteer) -> None:
    assert find_candidates(text, gazetteer) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Foreign Minister Ivica Dačić said",  # known
        "Kosovo's Acting Prime Minister Albin Kurti met",  # known
        "predsednik Srbije Aleksandar Vučić",  # known, after a place
        "the President said",
        "He met the Prime Minister.",
        "He met the Prime Minister\n\nMarko Petrović",  # a name never runs across paragraphs
        "President Of The Republic",
        "Foreign Minister Lavrov said",  # one word is no name
        "President Petrović On Monday",
        "predsednik Crne Gore je rekao",  # a place, not a name
    ],
)
def test_known_or_untitled_names_are_not_candidates(text: str, gazetteer: Gazetteer) -> None:
    assert find_candidates(text, gazetteer) == []


def _corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "border.txt").write_text(ARTICLE, encoding="utf-8")
    (folder / "moscow.txt").write_text(SECOND, encoding="utf-8")
    return folder


def _mentions(settings: Settings) -> int:
    with sqlite3.connect(state_path(settings)) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM candidate_mention").fetchone()[0])


def test_ingest_records_candidates_once_per_article(fresh: Settings, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    ingest([corpus], fresh, progress=False)
    mentions = _mentions(fresh)
    ingest([corpus], fresh, progress=False)
    reindex(fresh, progress=False)
    assert _mentions(fresh) == mentions == 3
    found = {c.name: c for c in list_candidates(fresh)}
    assert set(found) == {"Marko Petrović", "Ervin Ibrahimović"}
    assert found["Marko Petrović"].articles == 2
    assert found["Marko Petrović"].titles == ("Foreign Minister", "Serbian Foreign Minister")
    assert list_candidates(fresh, min_articles=2) == [found["Marko Petrović"]]


def test_an_instance_without_state_has_no_candidates(fresh: Settings) -> None:
    assert list_candidates(fresh) == []


@pytest.fixture
def seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the gazetteer files, so promotion writes there."""
    folder = tmp_path / "seeds"
    folder.mkdir()
    for name in ("actors.toml", "actors_additions.toml", "manifest.toml"):
        shutil.copy(ROOT / "seeds" / name, folder / name)
    monkeypatch.setenv("NEWSDESK_SEEDS", str(folder))
    return folder


def test_the_command_lists_and_promotes(
    seeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = str(tmp_path / "instance")
    assert main(["ingest", str(_corpus(tmp_path)), "--index", index]) == 0
    assert main(["actors", "candidates", "--index", index]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == ["name\ttitles\tarticles\tlast seen",
                          "Marko Petrović\tForeign Minister; Serbian Foreign Minister\t2\tundated"]
    command = ["actors", "promote", "marko petrovic", "--id", "marko-petrovic", "--alias", "Марко Петровић",
               "--role", "Foreign Minister of Serbia 2030–", "--index", index]
    assert main(command) == 0
    assert "seeds/build_actors.py" in capsys.readouterr().out
    with (seeds / "actors_additions.toml").open("rb") as handle:
        added = tomllib.load(handle)["actor"][-1]
    assert added == {
        "id": "marko-petrovic", "name": "Marko Petrović", "type": "person",
        "aliases": ["Marko Petrović", "Марко Петровић"], "roles": ["Foreign Minister of Serbia 2030–"],
        "source": "candidate promoted from 2 articles; titles: Foreign Minister, Serbian Foreign Minister",
    }


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["Marko Petrović", "--id", "Q57843"], "actor id 'Q57843' already exists"),
        (["Marko Petrović", "--id", "new-id", "--alias", "Ivica Dacic"], "alias 'Ivica Dacic' already names"),
        (["Nobody Known", "--id", "new-id"], "no candidate named 'Nobody Known'"),
    ],
)
def test_promotion_refuses_what_exists(
    seeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], error: str
) -> None:
    index = str(tmp_path / "instance")
    main(["ingest", str(_corpus(tmp_path)), "--index", index])
    before = (seeds / "actors_additions.toml").read_bytes()
    assert main(["actors", "promote", *arguments, "--index", index]) == 1
    assert capsys.readouterr().err.startswith(f"newsdesk: {error}")
    assert (seeds / "actors_additions.toml").read_bytes() == before


def test_the_page_and_the_api_list_candidates(tmp_path: Path) -> None:
    from web import create_app

    settings = make_settings(tmp_path / "instance")
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "odd.txt").write_text(
        "Odd names\n\nForeign Minister Marko <b>Petrović</b> and Special Envoy Ana O'Neill-Brnabić met.\n",
        encoding="utf-8",
    )
    ingest([tmp_path / "corpus"], settings, progress=False)
    client: FlaskClient = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()
    page = client.get("/actors/candidates")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ana O&#39;Neill-Brnabić" in html and "Special Envoy" in html and "<b>" not in html
    data = client.get("/api/actors/candidates").get_json()
    assert data["total"] == 1 and data["candidates"][0]["name"] == "Ana O'Neill-Brnabić"


def test_the_actor_page_still_answers_beside_the_candidates(client: FlaskClient) -> None:
    assert client.get("/actors/Q58217").status_code == 200
    assert client.get("/actors/candidates").status_code == 200
