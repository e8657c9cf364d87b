"""Query text the parser used to fail on: a meaning or a 400 with a hint, never a 500 — on the web,
in ``newsdesk search`` and when saving a search; and no search outlives the time limit."""

from __future__ import annotations

import random
import re
import string
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from whoosh.searching import Searcher

from conftest import make_settings
from search.enrich import Gazetteer
from search.errors import QueryError
from search.index import open_index, write_articles
from search.query import make_query, matching, search
from search.records import Article
from search.settings import Settings
from web.cli import main
from webforms import log_in, make_app, make_user, own_instance, submit

#: The three causes of the issue's 500s, and their neighbours.
REFUSED = [
    ("NOT NOT a", "operator"),
    ("a NOT OR b", "operator"),
    ("a AND OR b", "operator"),  # Whoosh read it as AND
    ("a OR OR b", "operator"),
    ("a ANDNOT ANDNOT b", "operator"),
    ("(a NOT)", "operator"),
    ("(OR a)", "operator"),
    ("published:[a to b]", "not a date"),
    ("published:>x", "not a date"),
    ('published:"a b"', "not a date"),
    ("published:>", "nothing after"),
    ("title:<kosovo", "cannot compare"),
    ("market lavrov * to", "lone \\*"),
    ("body:*", "lone \\*"),
    ("kosovo title:*", "lone \\*"),
    ("(" * 30 + "a" + ")" * 30, "brackets"),
    ("body_words:kosovo", "unknown field"),
]


@pytest.mark.parametrize(("q", "message"), REFUSED)
def test_the_api_refuses_with_400_and_a_hint(client: FlaskClient, q: str, message: str) -> None:
    answer = client.get("/api/search", query_string={"q": q})
    assert answer.status_code == 400, answer.text
    body = answer.get_json()
    assert set(body) == {"error", "hint"} and body["hint"]
    assert re.search(message, body["error"]), body


@pytest.mark.parametrize(
    ("q", "total"),
    [
        ("<script>alert(1)</script>", 0),  # < and > outside a date comparison separate words
        ("(>kosovo)", 5),
        ("kosovo >lavrov", 4),
        ("<kosovo", 5),
        ("*", 5),  # alone: every article, like the empty query
        ("kosovo AND NOT putin", 3),  # the operator pairs that mean something stay
        ("putin OR NOT kosovo", 2),
    ],
)
def test_comparison_signs_outside_a_date_are_punctuation(
    searcher: Searcher, seeded: Settings, gazetteer: Gazetteer, q: str, total: int
) -> None:
    assert search(searcher, make_query(q), seeded, gazetteer).total == total


def test_star_alone_lists_everything_newest_first(searcher: Searcher, seeded: Settings, gazetteer: Gazetteer) -> None:
    assert [h.id for h in search(searcher, make_query("*"), seeded, gazetteer).hits] == \
        [h.id for h in search(searcher, make_query(""), seeded, gazetteer).hits]


@pytest.mark.parametrize(("q", "_message"), REFUSED[:9])
def test_newsdesk_search_says_so_in_one_line(
    seeded: Settings, capsys: pytest.CaptureFixture[str], q: str, _message: str
) -> None:
    assert main(["search", q, "--index", str(seeded.index)]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("newsdesk: ") and captured.err.count("\n") == 1
    assert "Traceback" not in captured.err and "(" in captured.err  # the hint, in brackets


@pytest.fixture
def ana(seeded: Settings, tmp_path: Path) -> FlaskClient:
    instance = own_instance(seeded, tmp_path)
    make_user(instance, "ana@example.org")
    client = make_app(instance).test_client()
    assert log_in(client, "ana@example.org").status_code == 302
    return client


@pytest.mark.parametrize(("q", "message"), [("NOT NOT a", "operator"), ("a NOT OR b", "operator"),
                                            ("published:[a to b]", "not a date"), ("body:*", "lone *")])
def test_saving_a_query_that_cannot_run_is_a_form_error(ana: FlaskClient, q: str, message: str) -> None:
    answer = submit(ana, "/?q=Kosovo", "/saved", q=q)
    assert answer.status_code == 400
    assert message in answer.text and "something went wrong" not in answer.text


def test_saving_comparison_signs_outside_a_date_saves_the_words(ana: FlaskClient) -> None:
    assert submit(ana, "/?q=Kosovo", "/saved", q="<script>").status_code == 302


# --- the time limit covers the whole search ----------------------------------------


@pytest.fixture(scope="module")
def many_words(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """150 articles of 120 random 8-letter words each: a lexicon of ~18,000 words."""
    settings = make_settings(Path(tmp_path_factory.mktemp("many-words")))
    rng = random.Random(4)

    def text(n: int) -> str:
        return " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(8)) for _ in range(n))

    write_articles([Article(id=f"m{n:04d}", title=text(5), text=text(120), origin=f"test:{n}", language="en")
                    for n in range(150)], settings)
    return settings


@pytest.mark.parametrize("q", ["*q*", "a* OR e* OR i*", "*a?b*", "title:[a to z]"])
def test_a_costly_search_past_the_time_limit_is_refused_by_the_server(many_words: Settings, q: str) -> None:
    """Expanding, collecting, counting and highlighting share one limit: past it, a 400 that says so."""
    hurried = make_settings(many_words.index, search_time_limit=0.001, max_wildcard_terms=1_000_000)
    client = make_app(hurried).test_client()
    answer = client.get("/api/search", query_string={"q": q})
    assert answer.status_code == 400
    assert "took longer" in answer.get_json()["error"] and answer.get_json()["hint"]
    with open_index(hurried).searcher() as s, pytest.raises(QueryError, match="took longer"):
        matching(s, make_query(q), hurried)  # alerts stop at the limit too


def test_the_same_searches_answer_within_a_usual_limit(many_words: Settings, gazetteer: Gazetteer) -> None:
    usual = make_settings(many_words.index, max_wildcard_terms=1_000_000)
    with open_index(usual).searcher() as s:
        assert search(s, make_query("ab*"), usual, gazetteer).total > 0
