"""The front page says what the instance holds and how to add more, with the instance's own commands.

The numbers (articles, outlets, the publication span, when the newest
article was added) come from the index's arrays (search/query/overview.py);
here they are checked against plain Python over the stored documents and
the state database's own record of when each article was first indexed,
on the seed instance and on a generated one built to trip them up: several
segments, articles updated (so written last but not new) and taken down
(deleted documents left in their segments, among them the newest article and
the earliest and latest dated ones), undated articles, articles with no
outlet, dates with UTC offsets and dates without a time.
"""

from __future__ import annotations

import datetime as dt
import html
import random
import re
import shlex
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from whoosh.searching import Searcher

from conftest import make_settings
from search.index import create_index, open_index, write_articles
from search.query import Overview, overview
from search.records import UNKNOWN, Article
from search.settings import Settings
from search.state import state_path
from web import create_app

COMMANDS = [
    "newsdesk ingest articles.jsonl --index {index}",
    "newsdesk sources add https://example.org/ --index {index}",
    "newsdesk sources import feeds.opml --index {index}",
]

# --- the oracle: plain Python over the stored documents ----------------------------------


def oracle(settings: Settings) -> Overview:
    """What the front page must say, from every live document's stored fields and the state's records."""
    with open_index(settings).searcher() as searcher:
        stored = list(searcher.reader().all_stored_fields())  # live documents only
    outlets = [document["outlet"] for document in stored]
    # The stored ``published`` is the moment in UTC (naive); the front page reads it to the second.
    published = sorted(document["published"].replace(microsecond=0, tzinfo=dt.UTC)
                       for document in stored if document.get("published"))
    with closing(sqlite3.connect(state_path(settings))) as db:
        recorded = dict(db.execute("SELECT id, indexed FROM article_numbers"))
    added = [dt.datetime.fromisoformat(recorded[document["id"]]) for document in stored]
    return Overview(
        articles=len(stored),
        outlets=len(set(outlets) - {UNKNOWN}),
        no_outlet=outlets.count(UNKNOWN),
        dated=len(published),
        earliest=published[0] if published else None,
        latest=published[-1] if published else None,
        added=max(added, default=None),
    )


def client_for(settings: Settings, **config: object) -> FlaskClient:
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings, **config}).test_client()


def front_page(client: FlaskClient, path: str = "/") -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text[:500]
    return answer.get_data(as_text=True)


def holdings_html(page: str) -> str:
    """The paragraph saying what the instance holds, as markup."""
    found = re.search(r'<p class="holdings">(.*?)</p>', page, re.DOTALL)
    assert found, "the page says nothing about what the instance holds"
    return found.group(1)


def holdings(page: str) -> str:
    """That paragraph as a reader reads it (tags dropped, spaces collapsed)."""
    return html.unescape(" ".join(re.sub(r"<[^>]+>", "", holdings_html(page)).split()))


def commands(page: str) -> list[str]:
    """The commands the page gives, as a terminal gets them when pasted."""
    return [html.unescape(code) for code in re.findall(r"<pre><code>(.*?)</code></pre>", page)]


def said(page: str) -> dict[str, Any]:
    """The numbers and moments the front page states, read back from its text and its ``<time>`` elements."""
    text = holdings(page)
    match = re.fullmatch(
        r"This instance holds (?P<articles>[\d,]+) articles? "
        r"(?:from (?P<outlets>[\d,]+) outlets?(?: \((?P<no_outlet>[\d,]+) with no outlet named\))?|naming no outlet), "
        r"(?:none of them dated|published (?:on|from .+? to) .+?)(?: \((?P<undated>[\d,]+) undated\))?\. "
        r"The newest was added .+ UTC\.", text)
    assert match, text
    numbers = {key: int((value or "0").replace(",", "")) for key, value in match.groupdict().items()}
    if match["outlets"] is None:  # "naming no outlet": none of them does
        numbers["no_outlet"] = numbers["articles"]
    *days, added = re.findall(r'<time datetime="([^"]+)"', holdings_html(page))
    return numbers | {"days": days, "added": dt.datetime.fromisoformat(added)}


def expected(truth: Overview) -> dict[str, Any]:
    """What ``said`` reads from a page telling ``truth``: the span as its days (one, for a single day), the moment
    added as its ``datetime`` gives it, to the second."""
    days = [] if truth.earliest is None or truth.latest is None else sorted(
        {truth.earliest.date().isoformat(), truth.latest.date().isoformat()})
    return {"articles": truth.articles, "outlets": truth.outlets, "no_outlet": truth.no_outlet,
            "undated": truth.undated if truth.dated else 0, "days": days, "added": truth.added}


# --- a fresh instance: the seeds ------------------------------------------------------------


def test_a_fresh_seeded_instance_says_what_it_holds(seeded: Settings) -> None:
    page = front_page(client_for(seeded))
    assert holdings(page) == (
        "This instance holds 5 articles from 2 outlets (3 with no outlet named), published on 21 Sep 2018 "
        f"(4 undated). The newest was added {oracle(seeded).added:%-d %b %Y, %H:%M} UTC."
    )
    assert said(page) == expected(oracle(seeded))


def test_a_fresh_seeded_instance_shows_how_to_add_more_with_its_own_directory(seeded: Settings) -> None:
    page = front_page(client_for(seeded))
    assert commands(page) == [command.format(index=seeded.index) for command in COMMANDS]
    assert '<details class="add-more" open>' in page  # a small instance: the commands open
    for words in ("JSON Lines, CSV, WARC", "homepage URL", "OPML", "<code>newsdesk serve</code> crawls",
                  "sends the alerts: no cron", '<a href="/sources">Sources</a>'):
        assert words in page, words


def test_the_overview_of_the_seeds_is_the_oracles(seeded: Settings, searcher: Searcher) -> None:
    assert overview(searcher, seeded) == oracle(seeded)


@pytest.mark.parametrize("path", ["/?q=Kosovo", "/?outlet=RksNews", "/?page=2&per_page=2", "/?q=nothingmatches"])
def test_only_the_front_page_speaks_of_the_instance(client: FlaskClient, path: str) -> None:
    page = front_page(client, path)
    assert 'class="instance"' not in page and "newsdesk ingest" not in page


def test_the_api_and_atom_are_unchanged_on_the_front_page(client: FlaskClient) -> None:
    assert set(client.get("/api/search").get_json()) == {"query", "total", "counted", "articles", "stories",
                                                          "undated", "dates", "page", "per_page", "next", "hits",
                                                          "facets"}
    assert b"newsdesk ingest" not in client.get("/search.atom").get_data()


# --- an empty instance -----------------------------------------------------------------------


def test_an_empty_index_says_so_and_gives_the_commands_first(fresh: Settings) -> None:
    create_index(fresh)
    page = front_page(client_for(fresh))
    assert holdings(page) == "Nothing here yet: this instance holds no articles. Add some with the commands below."
    assert '<details class="add-more" open>' in page and "<summary>Add articles</summary>" in page
    assert commands(page) == [command.format(index=fresh.index) for command in COMMANDS]
    assert "No articles match" not in page  # nothing was asked: nothing failed to match
    assert page.index('class="holdings"') < page.index('class="results"')
    with open_index(fresh).searcher() as searcher:
        assert overview(searcher, fresh) == Overview(0, 0, 0, 0, None, None, None)


def test_an_instance_directory_a_shell_would_misread_is_quoted_and_escaped(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "news desk's <b>dir</b>")
    create_index(settings)
    page = front_page(client_for(settings))
    assert "<b>dir</b>" not in page
    shown = commands(page)
    assert len(shown) == len(COMMANDS)
    for command in shown:
        assert shlex.split(command)[-2:] == ["--index", str(settings.index)]


# --- a generated instance --------------------------------------------------------------------


OUTLETS = ("Balkan Wire", "Daily Observer", "Tanjug Digest", "Pristina Post", "Žurnal Čačak", "<i>Markup</i> & Co")
WORDS = ["talks", "envoy", "treaty", "border", "vote", "budget", "energy", "bridge", "court", "harbour", "railway",
         "summit", "grain", "tariff", "minister", "election", "strike", "pipeline", "mayor", "river"]
OFFSETS = (dt.UTC, dt.timezone(dt.timedelta(hours=3)), dt.timezone(dt.timedelta(hours=-5)))
EARLIEST, LATEST = "g0007", "g0013"  # dated far outside the others, and taken down


def _published(n: int) -> dt.date | dt.datetime | None:
    if n % 4 == 0:
        return None
    if n == int(EARLIEST[1:]):
        return dt.datetime(1995, 6, 1, 12, tzinfo=dt.UTC)
    if n == int(LATEST[1:]):
        return dt.datetime(2031, 1, 1, 1, 30, tzinfo=OFFSETS[1])  # 31 Dec 2030 in UTC
    if n % 9 == 0:
        return dt.date(2016, 1 + n % 12, 1 + n % 28)
    # Early in the day east of Greenwich: the day before in UTC.
    return dt.datetime(2015 + n % 6, 1 + n % 12, 1 + n % 28, n % 24, 17, 42, 123456, tzinfo=OFFSETS[n % 3])


def _article(n: int, rng: random.Random, version: int = 0) -> Article:
    title = " ".join(rng.sample(WORDS, 3))
    return Article(
        id=f"g{n:04d}", title=f"{title} {version}" if version else title,
        text=" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))) + f". Report {n}.",
        origin="generated", outlet=OUTLETS[n % len(OUTLETS)] if n % 7 else None,
        published=_published(n), language="en",
    )


def _first_indexed_in_order(settings: Settings) -> None:
    """Give each article its own moment, a minute per ingest number (one ingest takes under a second, which would
    leave every article the same moment and any article's moment right)."""
    start = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
    with closing(sqlite3.connect(state_path(settings))) as db, db:
        for article_id, seq in db.execute("SELECT id, seq FROM article_numbers").fetchall():
            moment = (start + dt.timedelta(minutes=seq)).isoformat(timespec="seconds")
            db.execute("UPDATE article_numbers SET indexed = ? WHERE id = ?", (moment, article_id))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """150 articles in 30-article commits, 10 newer ones, 20 old ones updated after them, 9 taken down."""
    settings = make_settings(tmp_path_factory.mktemp("first-run"), batch_size=30)
    rng = random.Random(7)
    write_articles([_article(n, rng) for n in range(150)], settings)
    write_articles([_article(n, rng) for n in range(150, 160)], settings)
    write_articles([_article(n, rng, version=1) for n in range(0, 150, 7)], settings)  # written last, not new
    _first_indexed_in_order(settings)
    writer = open_index(settings).writer()
    for article_id in ("g0159", EARLIEST, LATEST, *(f"g{n:04d}" for n in range(5, 150, 25))):
        writer.delete_by_term("id", article_id)
    writer.commit()
    return settings


@pytest.fixture
def generated_searcher(generated: Settings) -> Iterator[Searcher]:
    with open_index(generated).searcher() as s:
        yield s


def test_the_generated_instance_has_what_the_overview_must_handle(generated: Settings,
                                                                  generated_searcher: Searcher) -> None:
    readers = [sub.reader() for sub, _ in generated_searcher.leaf_searchers()]
    assert len(readers) >= 3 and any(r.has_deletions() for r in readers)
    truth = oracle(generated)
    assert truth.no_outlet and truth.undated and truth.outlets == len(OUTLETS)
    assert truth.earliest is not None and truth.earliest.year > 1995 and truth.latest is not None
    assert truth.latest.year < 2030
    # The newest live article is the last of the newer ones, not an updated old one nor the one taken down.
    with closing(sqlite3.connect(state_path(generated))) as db:
        newest = db.execute("SELECT indexed FROM article_numbers WHERE id = 'g0158'").fetchone()[0]
    assert truth.added == dt.datetime.fromisoformat(newest)


def test_the_overview_is_the_oracles_on_a_generated_instance(generated: Settings, generated_searcher: Searcher) -> None:
    assert overview(generated_searcher, generated) == oracle(generated)


def test_the_front_page_states_the_oracles_numbers(generated: Settings) -> None:
    page = front_page(client_for(generated))
    assert said(page) == expected(oracle(generated))
    assert "<i>" not in page and "&lt;i&gt;Markup&lt;/i&gt; &amp; Co" in page  # the outlet facet, escaped


def test_a_large_instance_keeps_the_commands_one_click_away(generated: Settings) -> None:
    """At the threshold and above, the commands sit in a closed "Add more articles"; below it, open."""
    articles = oracle(generated).articles
    closed = front_page(client_for(generated, NEWSDESK_FEW_ARTICLES=articles))
    assert '<details class="add-more">' in closed and "<summary>Add more articles</summary>" in closed
    assert commands(closed) == [
        command.format(index=generated.index) for command in COMMANDS]
    assert said(closed) == expected(oracle(generated))  # what is there is said all the same
    assert '<details class="add-more" open>' in front_page(client_for(generated, NEWSDESK_FEW_ARTICLES=articles + 1))


def test_an_instance_of_undated_articles_without_outlets_says_so(fresh: Settings) -> None:
    write_articles([Article(id="u1", title="Talks resume", text="Talks resume in Brussels on Monday.", origin="t")],
                   fresh)
    page = front_page(client_for(fresh))
    assert holdings(page).startswith("This instance holds 1 article naming no outlet, none of them dated. ")
    assert said(page) == expected(oracle(fresh))
