"""Atom feeds as feed readers and validators see them: both /search.atom and an alert's /feeds/<token>.atom.

Every variant is checked three ways: against a RELAX NG grammar of RFC 4287
written from its Appendix B (tests/fixtures/atom.rnc, with URIs, absolute ids
and RFC 3339 dates as the RFC's prose requires; the W3C Feed Validator is not
on PyPI), against the appendix's Schematron rules (here in Python, since lxml
runs RELAX NG only), and by feedparser, a feed reader.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest
import rnc2rng
from flask.testing import FlaskClient
from lxml import etree

from conftest import FIXTURES, SEED_ARTICLES, make_settings
from search.alerts import add_user, feed_url, run_alerts, save_search
from search.enrich import Gazetteer, enrich
from search.index import write_articles
from search.ingest import ingest, reindex
from search.records import Article, SavedSearch, SearchQuery
from search.settings import Settings
from search.state import state_path
from web import create_app

ATOM = "{http://www.w3.org/2005/Atom}"
LAVROV = "Q58217"


@cache
def atom_grammar() -> etree.RelaxNG:
    rng = rnc2rng.dumps(rnc2rng.load(str(FIXTURES / "atom.rnc")))
    # rnc2rng declares the empty prefix it maps ``local`` to, which XML forbids;
    # the grammar itself uses ``<nsName ns=""/>`` and does not need it.
    rng = re.sub(r'\s+xmlns:local=""', "", rng)
    return etree.RelaxNG(etree.fromstring(rng.encode()))


def rfc4287_problems(data: bytes) -> list[str]:
    """What a validator reports: the grammar's errors, then the RFC's rules it cannot express."""
    document = etree.fromstring(data)
    grammar = atom_grammar()
    if not grammar.validate(document):
        return [f"line {e.line}: {e.message}" for e in grammar.error_log]
    problems = []
    entries = document.findall(f"{ATOM}entry")
    if document.find(f"{ATOM}author") is None and any(e.find(f"{ATOM}author") is None for e in entries):
        problems.append("§4.1.1: a feed without an author needs one in every entry")
    for element in (document, *entries):
        alternates = [(link.get("type"), link.get("hreflang")) for link in element.findall(f"{ATOM}link")
                      if link.get("rel", "alternate") == "alternate"]
        if len(alternates) != len(set(alternates)):
            problems.append("§4.1.1/§4.1.2: two alternate links with the same type and hreflang")
    for entry in entries:
        if entry.find(f"{ATOM}content") is None and not any(
                link.get("rel", "alternate") == "alternate" for link in entry.findall(f"{ATOM}link")):
            problems.append("§4.1.2: an entry without content needs an alternate link")
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    if len(ids) != len(set(ids)):
        problems.append("§4.2.6: two entries with one id")
    if not any(link.get("rel") == "self" for link in document.findall(f"{ATOM}link")):
        problems.append("a feed should name itself (rel=self), as the W3C validator asks")
    return problems


def valid_feed(data: bytes) -> Any:
    """The feed as feedparser reads it, after the RFC 4287 checks found nothing."""
    assert rfc4287_problems(data) == []
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


@pytest.fixture
def instance(seeded: Settings, tmp_path: Path) -> Settings:
    """A copy of the seeded instance (five articles, one dated), links from https://news.example."""
    shutil.copytree(seeded.index, tmp_path / "instance")
    return make_settings(tmp_path / "instance", base_url="https://news.example")


@pytest.fixture
def client(instance: Settings) -> FlaskClient:
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": instance}).test_client()


def add(settings: Settings, gazetteer: Gazetteer, n: int, title: str, text: str,
        published: dt.date | None = None) -> Article:
    article = enrich(Article(id=f"{n:020x}", title=title, text=text, origin=f"test:{n}", published=published),
                     gazetteer, 0)
    write_articles([article], settings)
    return article


def alert_feed(settings: Settings, client: FlaskClient, **filters: Any) -> tuple[SavedSearch, str]:
    user = add_user(settings, f"u{len(filters)}@example.org", "a long password")
    saved = save_search(settings, user.id, "Lavrov watch", SearchQuery(q="Lavrov", **filters), email=False)
    return saved, urlsplit(feed_url(settings, saved)).path


# --- validity: every variant ----------------------------------------------------------------


SEARCH_FEEDS = [
    "/search.atom",
    "/search.atom?q=Kosovo",
    '/search.atom?q="foreign minister"',
    "/search.atom?q=Лавров",
    "/search.atom?q=Kosovo&outlet=RksNews&outlet=Tanjug",
    f"/search.atom?actor={LAVROV}&year=2018&language=en",
    "/search.atom?q=Kosovo&sort=date&page=2&per_page=2",
    "/search.atom?q=zzzzzz",  # no hits
    "/search.atom?q=Kosovo&ref=a b{c}^`|\\",  # characters a URI may not hold, in a parameter the search ignores
]


@pytest.mark.parametrize("url", SEARCH_FEEDS)
def test_every_search_feed_is_valid_atom(client: FlaskClient, url: str) -> None:
    answer = client.get(url)
    assert answer.status_code == 200 and answer.mimetype == "application/atom+xml"
    valid_feed(answer.data)


def test_every_alert_feed_is_valid_atom(instance: Settings, client: FlaskClient, gazetteer: Gazetteer) -> None:
    _, path = alert_feed(instance, client, outlet=("unknown",), actor=(LAVROV,))
    empty = valid_feed(client.get(path).data)
    assert empty.entries == []
    add(instance, gazetteer, 1, "Lavrov in Belgrade", "Sergey Lavrov arrived in Belgrade on Monday for talks.")
    add(instance, gazetteer, 2, "Lavrov in Niš", "Sergey Lavrov went on to Niš on Tuesday.", dt.date(2026, 11, 3))
    run_alerts(instance)
    full = valid_feed(client.get(path).data)
    assert sorted(e.title for e in full.entries) == ["Lavrov in Belgrade", "Lavrov in Niš"]


# --- URIs, ids and links ------------------------------------------------------------------


@pytest.mark.parametrize(("q", "encoded"), [
    ('"foreign minister"', "%22foreign%20minister%22"),
    ("Лавров", "%D0%9B%D0%B0%D0%B2%D1%80%D0%BE%D0%B2"),
])
def test_ids_and_self_links_are_percent_encoded_uris(client: FlaskClient, q: str, encoded: str) -> None:
    data = client.get("/search.atom", query_string={"q": q}).data
    feed = etree.fromstring(data)
    self_link = next(link.get("href") for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self")
    assert self_link == f"https://news.example/search.atom?q={encoded}"
    assert feed.findtext(f"{ATOM}id") == self_link
    assert valid_feed(data).feed.title == f"Newsdesk: {q}"  # the title is text: no escape shows


def test_one_article_has_one_id_whatever_host_the_request_named(client: FlaskClient) -> None:
    ids = {}
    for host in ("localhost", "127.0.0.1:8123", "news.example.org"):
        entries = valid_feed(client.get("/search.atom?q=Kosovo", headers={"Host": host}).data).entries
        ids[host] = [(entry.id, entry.link) for entry in entries]
    assert len({tuple(v) for v in ids.values()}) == 1
    assert all(i.startswith("https://news.example/articles/") and i == link for i, link in ids["localhost"])


# --- <updated> of an undated article -------------------------------------------------------


def updated_of(client: FlaskClient, url: str = "/search.atom?per_page=100") -> dict[str, str]:
    return {entry.id: entry.updated for entry in valid_feed(client.get(url).data).entries}


def test_an_undated_article_keeps_its_updated_as_other_articles_arrive(
    instance: Settings, client: FlaskClient, gazetteer: Gazetteer
) -> None:
    before = updated_of(client)
    assert len(before) == 5
    add(instance, gazetteer, 1, "Kosovo in 2026", "Talks on Kosovo resumed in Brussels.", dt.date(2026, 11, 1))
    after = updated_of(client)
    assert {i: after[i] for i in before} == before  # was: every undated entry jumped to 2026-11-01


def test_an_undated_articles_updated_is_when_it_was_first_indexed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "instance")
    ingest([SEED_ARTICLES], settings, progress=False)
    with sqlite3.connect(state_path(settings)) as db:  # as if ingested long ago
        db.execute("UPDATE article_numbers SET indexed = '2019-05-06T07:08:09+00:00'")
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()
    first = updated_of(client)
    assert sorted(set(first.values())) == ["2018-09-21T00:00:00+00:00", "2019-05-06T07:08:09+00:00"]
    reindex(settings, progress=False)  # a rebuilt index writes every document anew
    assert updated_of(client) == first


# --- titles -------------------------------------------------------------------------------------


def test_a_filtered_feeds_title_names_its_filters(instance: Settings, client: FlaskClient) -> None:
    url = f"/search.atom?q=Kosovo&outlet=RksNews&actor={LAVROV}&year=2018&language=en"
    title = valid_feed(client.get(url).data).feed.title
    assert title == "Newsdesk: Kosovo · outlet: RksNews · actor: Sergey Lavrov · year: 2018 · language: English"
    assert valid_feed(client.get("/search.atom").data).feed.title == "Newsdesk: all articles"
    _, path = alert_feed(instance, client, actor=(LAVROV,), language=("en",))
    assert valid_feed(client.get(path).data).feed.title == (
        "Newsdesk alert: Lavrov watch (Lavrov · actor: Sergey Lavrov · language: English)")


# --- conditional GET ---------------------------------------------------------------------------


def feed_urls(instance: Settings, client: FlaskClient) -> Iterator[str]:
    yield "/search.atom?q=Lavrov"
    yield alert_feed(instance, client)[1]


def test_feeds_send_validators_and_answer_conditional_gets_with_304(
    instance: Settings, client: FlaskClient, gazetteer: Gazetteer
) -> None:
    urls = list(feed_urls(instance, client))
    first = {url: client.get(url) for url in urls}
    for url, answer in first.items():
        etag, modified = answer.headers["ETag"], answer.headers["Last-Modified"]
        unchanged = client.get(url, headers={"If-None-Match": etag})
        assert unchanged.status_code == 304 and unchanged.data == b"" and unchanged.headers["ETag"] == etag
        assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    add(instance, gazetteer, 1, "Lavrov again", "Sergey Lavrov spoke in Moscow on Friday.")
    run_alerts(instance)
    for url, answer in first.items():
        changed = client.get(url, headers={"If-None-Match": answer.headers["ETag"]})
        assert changed.status_code == 200 and changed.headers["ETag"] != answer.headers["ETag"], url
        assert "Lavrov again" in changed.get_data(as_text=True)
