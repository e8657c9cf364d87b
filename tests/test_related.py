"""Related articles on an article's page: more like this over a generated newsroom, checked against plain Python.

The corpus is built so each rule can be seen at work: every article carries
the same stock phrase (in every article, so never a key term) and words of
its own (in one article, so never a key term either); topical groups share
distinctive words across outlets; one story is syndicated (the same text in
two outlets: one cluster); one article shares nothing with any other. The
index is written in several commits, so the search spans segments.

The oracle recomputes everything from the stored bodies and Whoosh's own
scorer: the key terms (Bo1 over document and collection frequencies counted
in Python), the candidates (Whoosh scoring the key-term query over every
article), the exclusions, the pool and the order.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from whoosh import query as wq
from whoosh.searching import Searcher

from search.enrich import Gazetteer, enrich
from search.errors import NotFound
from search.index import open_index, text_analyzer, write_articles
from search.query import RelatedArticle, related
from search.query.parse import Deadline
from search.query.related import (
    KEY_TERMS,
    MAX_SHARE,
    MAX_TEXT,
    MIN_SHARED,
    POOL_PER_ARTICLE,
    SMALL_INDEX_TERM_ARTICLES,
    key_terms,
)
from search.records import UNKNOWN, Article
from search.settings import Settings
from web import create_app

#: In every article: too common to say what any of them is about.
STOCK = "officials said on monday that the matter would be discussed again at the next meeting"

HARBOUR = ["harbour", "dredging", "tugboat", "quay", "pilots", "berth"]
RAILWAY = ["railway", "sleeper", "gauge", "locomotive", "timetable", "platform"]
VACCINE = ["vaccine", "clinic", "dose", "nurses", "immunisation", "ward"]
MINING = ["lithium", "quarry", "excavator", "ore", "tailings", "shaft"]
FERRY = ["ferry", "catamaran", "gangway", "hull", "deckhand", "moorings"]
BRIDGE = ["bridge", "pylon", "span", "girder", "cable", "abutment"]


def _own(name: str) -> str:
    """A word no other article holds."""
    return f"qx{name.replace('-', '')}zz"


def _article(article_id: str, outlet: str | None, words: list[str], *, title: str | None = None,
             text: str | None = None, day: int | None = 1) -> Article:
    body = text if text is not None else f"{' '.join(words)}. {STOCK}. {_own(article_id)}."
    return Article(id=article_id, title=title or f"Report {article_id}", text=body, origin="generated",
                   url=f"https://{(outlet or 'nowhere').replace(' ', '').lower()}.example/{article_id}",
                   outlet=outlet, published=dt.date(2021, 6, day) if day else None)


WIRE_TEXT = f"{' '.join(HARBOUR[:4])}. {STOCK}. the wire story about the harbour."
MINING_WIRE = f"{' '.join(MINING[:4])}. {STOCK}. a syndicated dispatch from the quarries."
FERRY_WIRE = f"{' '.join(FERRY[:4])}. {STOCK}. boarding notice for every crossing."

#: Written in these batches, one commit each.
BATCHES = [
    [
        # The harbour group: nine articles over five outlets and none, and the first one's copy in another
        # outlet (a short text is a copy when its title is the same too).
        _article("har-0", "Balkan Wire", HARBOUR, text=WIRE_TEXT),
        _article("har-0-copy", "Daily Observer", HARBOUR, text=WIRE_TEXT, title="Report har-0"),
        _article("har-1", "Daily Observer", HARBOUR[:5], title="Harbour <dredging> & the pilots' \"strike\""),
        _article("har-2", "Tanjug Digest", HARBOUR[1:6]),
        _article("har-3", "Pristina Post", HARBOUR[:3], day=None),
        _article("har-4", "Balkan Wire", HARBOUR[2:6]),
        _article("har-5", "Adriatic Times", HARBOUR[::2]),
        _article("har-6", "Daily Observer", HARBOUR[1::2]),
        _article("har-7", None, HARBOUR[:2]),
        _article("har-8", None, HARBOUR[:3]),
    ],
    [
        # The railway group: a same-outlet article scoring above two other outlets' articles,
        # and one sharing a single railway word.
        _article("rail-0", "Tanjug Digest", RAILWAY),
        _article("rail-1", "Tanjug Digest", RAILWAY + RAILWAY),
        _article("rail-2", "Pristina Post", RAILWAY[:2]),
        _article("rail-3", "Adriatic Times", RAILWAY[:3]),
        _article("rail-4", "Balkan Wire", RAILWAY[:1]),
        # The vaccine group: two articles scoring alike, written against the order of their ids.
        _article("vac-0", "Balkan Wire", VACCINE),
        _article("vac-z", "Daily Observer", VACCINE[:3]),
        _article("vac-a", "Pristina Post", VACCINE[:3]),
    ],
    [
        # The mining group: one story in two outlets (a cluster) beside the first article.
        _article("mine-0", "Balkan Wire", MINING),
        _article("mine-1", "Daily Observer", MINING, text=MINING_WIRE),
        _article("mine-1-copy", "Pristina Post", MINING, text=MINING_WIRE, title="Report mine-1"),
        _article("mine-2", "Adriatic Times", MINING[2:]),
        # The ferry group: a story in eight outlets scoring above another outlet's article.
        _article("ferry-0", "Balkan Wire", FERRY),
        *(_article(f"ferry-wire-{n}", f"Wire {n}", FERRY, text=FERRY_WIRE, title="Ferry wire") for n in range(1, 9)),
        _article("ferry-9", "Adriatic Times", FERRY[2:4]),
        # The bridge group: four articles of the first one's outlet, all above another outlet's weak one.
        *(_article(f"bridge-{n}", "Tanjug Digest", words)
          for n, words in enumerate([BRIDGE, BRIDGE[:5], BRIDGE[1:], BRIDGE[:4], BRIDGE[2:]])),
        _article("bridge-5", "Pristina Post", BRIDGE[:2]),
        # Shares nothing but the stock phrase.
        _article("alone", "Adriatic Times", []),
        # Padding: more articles, so that the stock phrase is in far more than a key term may be.
        *(_article(f"pad-{n}", "Daily Observer", []) for n in range(12)),
    ],
]
ARTICLES = [article for batch in BATCHES for article in batch]


def _write(settings: Settings, gazetteer: Gazetteer, batches: list[list[Article]]) -> Settings:
    for batch in batches:
        report = write_articles([enrich(replace(article), gazetteer) for article in batch], settings)
        assert report.added == len(batch), report
    return settings


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory, gazetteer: Gazetteer) -> Settings:
    return _write(Settings(index=tmp_path_factory.mktemp("related") / "instance"), gazetteer, BATCHES)


@pytest.fixture
def searcher(newsroom: Settings) -> Any:
    with open_index(newsroom).searcher() as s:
        yield s


def ids(found: list[RelatedArticle]) -> list[str]:
    return [item.id for item in found]


# --- the corpus is what the tests need --------------------------------------------


def test_the_corpus_has_its_copies_segments_and_a_common_phrase(searcher: Searcher) -> None:
    stored = {fields["id"]: fields for fields in searcher.all_stored_fields()}
    assert len(stored) == len(ARTICLES)
    assert stored["har-0"]["cluster"] == stored["har-0-copy"]["cluster"]
    assert stored["mine-1"]["cluster"] == stored["mine-1-copy"]["cluster"]
    assert len({fields["cluster"] for fields in stored.values()}) == len(ARTICLES) - 2 - 7
    assert len({stored[f"ferry-wire-{n}"]["cluster"] for n in range(1, 9)}) == 1
    assert len(searcher.leaf_searchers()) > 1
    most = max(MAX_SHARE * len(stored), min(SMALL_INDEX_TERM_ARTICLES, (len(stored) - 1) / 2))
    assert sum("officials" in fields["body"] for fields in stored.values()) > most


# --- the rules, one by one ----------------------------------------------------------


def test_never_the_article_nor_its_copies_and_at_most_five(searcher: Searcher, newsroom: Settings) -> None:
    found = related(searcher, "har-0", newsroom)
    assert len(found) == 5
    assert not {"har-0", "har-0-copy"} & set(ids(found))
    assert set(ids(found)) <= {f"har-{n}" for n in range(1, 9)}
    assert not {"har-0", "har-0-copy"} & set(ids(related(searcher, "har-0-copy", newsroom)))


def test_an_article_sharing_nothing_has_no_related_articles(searcher: Searcher, newsroom: Settings) -> None:
    assert key_terms(searcher, searcher.document(id="alone")["body"], Deadline(newsroom)) == []
    assert related(searcher, "alone", newsroom) == []


def test_other_outlets_come_first_even_when_the_same_outlet_scores_higher(searcher: Searcher,
                                                                         newsroom: Settings) -> None:
    found = related(searcher, "rail-0", newsroom)  # a Tanjug Digest article
    assert ids(found) == ["rail-3", "rail-2", "rail-1"]
    score = {item.id: item.score for item in found}
    assert score["rail-1"] > score["rail-3"] > score["rail-2"]  # by score alone, Tanjug's own would lead
    assert [item.outlet for item in found] == ["Adriatic Times", "Pristina Post", "Tanjug Digest"]


def test_other_outlets_come_first_among_the_best_stories_only(searcher: Searcher, newsroom: Settings) -> None:
    # bridge-5, Pristina Post's, scores below Tanjug Digest's four: among the best four stories
    # (POOL_PER_ARTICLE for one article asked for) it is not, among the best twenty it is.
    assert ids(related(searcher, "bridge-0", newsroom))[0] == "bridge-5"
    [best] = related(searcher, "bridge-0", newsroom, limit=1)
    assert best.outlet == "Tanjug Digest"
    assert POOL_PER_ARTICLE == 4


def test_one_shared_word_is_no_relation(searcher: Searcher, newsroom: Settings) -> None:
    terms = [term for term, _ in key_terms(searcher, searcher.document(id="rail-0")["body"], Deadline(newsroom))]
    assert "railway" in terms  # rail-4 holds this key term, and only this one
    assert "rail-4" not in ids(related(searcher, "rail-0", newsroom))
    assert MIN_SHARED == 2


def test_ties_are_broken_by_id(searcher: Searcher, newsroom: Settings) -> None:
    found = related(searcher, "vac-0", newsroom)
    assert ids(found) == ["vac-a", "vac-z"]  # written z first
    assert found[0].score == found[1].score


def test_another_story_in_two_outlets_takes_one_place(searcher: Searcher, newsroom: Settings) -> None:
    found = ids(related(searcher, "mine-0", newsroom))
    assert len({"mine-1", "mine-1-copy"} & set(found)) == 1
    assert "mine-2" in found
    # Of a story's copies, another outlet's is the one shown: har-4 is Balkan Wire's, as har-0 is.
    assert "har-0-copy" in ids(related(searcher, "har-4", newsroom))
    assert "har-0" not in ids(related(searcher, "har-4", newsroom))


def test_one_storys_many_copies_do_not_crowd_out_the_others(searcher: Searcher, newsroom: Settings) -> None:
    # Two asked for: the best eight articles are the wire story's eight copies (one text, one score), yet two
    # stories are shown.
    found = related(searcher, "ferry-0", newsroom, limit=2)
    assert [item.id for item in found] == ["ferry-wire-1", "ferry-9"]
    assert found[0].score > found[1].score
    assert POOL_PER_ARTICLE * 2 == 8


def test_an_unknown_outlet_is_nobodys_outlet(searcher: Searcher, newsroom: Settings) -> None:
    found = related(searcher, "har-7", newsroom)  # outlet unknown, as har-8's
    assert "har-8" in ids(found) and found[-1].id != "har-8"  # not put last as "the same outlet"
    assert [item.score for item in found] == sorted((item.score for item in found), reverse=True)


def test_an_unknown_id_is_not_found(searcher: Searcher, newsroom: Settings) -> None:
    with pytest.raises(NotFound):
        related(searcher, "no-such-article", newsroom)


def test_the_limit_is_kept(searcher: Searcher, newsroom: Settings) -> None:
    assert ids(related(searcher, "har-0", newsroom, limit=2)) == ids(related(searcher, "har-0", newsroom))[:2]
    assert related(searcher, "har-0", newsroom, limit=0) == []


# --- bounded ---------------------------------------------------------------------


def test_only_the_start_of_a_long_text_is_read(searcher: Searcher, newsroom: Settings) -> None:
    deadline = Deadline(newsroom)
    harbour = f"{' '.join(HARBOUR)}."
    assert {term for term, _ in key_terms(searcher, harbour, deadline)} >= {"harbour", "quay"}
    padding = (STOCK + ". ") * (MAX_TEXT // len(STOCK) + 1)
    assert key_terms(searcher, padding + harbour, deadline) == []


def test_at_most_key_terms_are_searched_for(searcher: Searcher, newsroom: Settings) -> None:
    every_group = " ".join(HARBOUR + RAILWAY + VACCINE + MINING)
    bodies = {fields["id"]: fields["body"] for fields in searcher.all_stored_fields()}
    assert len(_oracle_key_terms(bodies, every_group, size=100)) > KEY_TERMS  # more words would qualify
    found = key_terms(searcher, every_group, Deadline(newsroom))
    assert len(found) == KEY_TERMS
    assert [weight for _, weight in found] == sorted((weight for _, weight in found), reverse=True)


def test_past_the_time_limit_the_list_is_left_out(searcher: Searcher, newsroom: Settings,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    hurried = replace(newsroom, search_time_limit=1e-9)
    with caplog.at_level(logging.WARNING, logger="search.query.related"):
        assert related(searcher, "har-0", hurried) == []
    assert "over the 1e-09 s time limit" in caplog.text


# --- deterministic -----------------------------------------------------------------


def test_the_same_index_gives_the_same_lists(newsroom: Settings, gazetteer: Gazetteer, tmp_path: Path) -> None:
    def every_list(settings: Settings) -> dict[str, list[tuple[str, float]]]:
        with open_index(settings).searcher() as s:
            return {a.id: [(r.id, r.score) for r in related(s, a.id, settings)] for a in ARTICLES}

    first = every_list(newsroom)
    assert first == every_list(newsroom)  # reopened
    assert sum(bool(found) for found in first.values()) > 20
    # The same articles written in the opposite order, one commit: other document numbers, same lists.
    rebuilt = _write(Settings(index=tmp_path / "reversed"), gazetteer, [ARTICLES[::-1]])
    again = every_list(rebuilt)
    assert {k: [i for i, _ in v] for k, v in again.items()} == {k: [i for i, _ in v] for k, v in first.items()}
    assert all(math.isclose(a, b, rel_tol=1e-12) for k in first for (_, a), (_, b) in zip(first[k], again[k],
                                                                                             strict=True))


# --- against plain Python and Whoosh's own scorer ----------------------------------------


def _oracle_key_terms(bodies: dict[str, str], text: str, size: int = KEY_TERMS) -> list[tuple[str, float]]:
    """Bo1 written out, over document and collection frequencies counted here."""
    analyse = text_analyzer()
    per_article = {i: Counter(t.text for t in analyse(body)) for i, body in bodies.items()}
    in_articles = Counter(term for counts in per_article.values() for term in counts)
    in_collection: Counter[str] = Counter()
    for counts in per_article.values():
        in_collection.update(counts)
    n = len(bodies)
    most = max(MAX_SHARE * n, min(SMALL_INDEX_TERM_ARTICLES, (n - 1) / 2))
    weights = []
    for term, count in Counter(t.text for t in analyse(text[:MAX_TEXT])).items():
        if 2 <= in_articles[term] <= most:
            f = in_collection[term] / n
            weights.append((term, count * math.log2((1 + f) / f) + math.log2(1 + f)))
    return sorted(weights, key=lambda item: (-item[1], item[0]))[:size]


def _oracle_related(searcher: Searcher, stored: dict[str, dict[str, Any]], article_id: str,
                    limit: int = 5) -> list[str]:
    """The rules of search/query/related.py, with Whoosh's collector scoring every article."""
    bodies = {i: fields["body"] for i, fields in stored.items()}
    terms = _oracle_key_terms(bodies, bodies[article_id])
    if len(terms) < MIN_SHARED:
        return []
    q = wq.Or([wq.Term("body", term, boost=weight / terms[0][1]) for term, weight in terms])
    scores = {hit["id"]: hit.score for hit in searcher.search(q, limit=None)}
    analyse = text_analyzer()
    key = {term for term, _ in terms}
    article = stored[article_id]
    candidates = [
        (score, i) for i, score in scores.items()
        if stored[i]["cluster"] != article["cluster"] and i != article_id
        and len(key & {t.text for t in analyse(bodies[i])}) >= MIN_SHARED
    ]
    # Down to the best score of the POOL_PER_ARTICLE × limit-th story, ties included.
    ranked = sorted(candidates, key=lambda c: -c[0])
    stories = list(dict.fromkeys(stored[i]["cluster"] for _, i in ranked))[:POOL_PER_ARTICLE * limit]
    floor = min((score for score, i in ranked if stored[i]["cluster"] in stories), default=0.0)
    if len(stories) == POOL_PER_ARTICLE * limit:
        floor = max(score for score, i in ranked if stored[i]["cluster"] == stories[-1])
    pool = [c for c in candidates if c[0] >= floor]
    same = article["outlet"]
    pool.sort(key=lambda c: (stored[c[1]]["outlet"] == same != UNKNOWN, -c[0], c[1]))
    shown: dict[str, str] = {}
    for _, i in pool:
        shown.setdefault(stored[i]["cluster"], i)
    return list(shown.values())[:limit]


@pytest.mark.parametrize("limit", [5, 2, 1])
def test_every_list_is_the_oracles(searcher: Searcher, newsroom: Settings, limit: int) -> None:
    stored = {fields["id"]: fields for fields in searcher.all_stored_fields()}
    bodies = {i: fields["body"] for i, fields in stored.items()}
    for article_id, fields in stored.items():
        found = related(searcher, article_id, newsroom, limit)
        terms = key_terms(searcher, fields["body"], Deadline(newsroom))
        expected = _oracle_key_terms(bodies, fields["body"])
        assert [t for t, _ in terms] == [t for t, _ in expected], article_id
        assert all(math.isclose(a, b, rel_tol=1e-9) for (_, a), (_, b) in zip(terms, expected, strict=True))
        assert ids(found) == _oracle_related(searcher, stored, article_id, limit), article_id
        assert len(found) <= limit
        assert all(stored[item.id]["cluster"] != fields["cluster"] for item in found)


def test_scores_are_whooshs_own_for_the_key_terms(searcher: Searcher, newsroom: Settings) -> None:
    terms = key_terms(searcher, searcher.document(id="har-0")["body"], Deadline(newsroom))
    q = wq.Or([wq.Term("body", term, boost=weight / terms[0][1]) for term, weight in terms])
    whoosh = {hit["id"]: hit.score for hit in searcher.search(q, limit=None)}
    for item in related(searcher, "har-0", newsroom):
        assert math.isclose(item.score, whoosh[item.id], rel_tol=1e-9), item.id


# --- the article page and the API -----------------------------------------------------


@pytest.fixture
def client(newsroom: Settings) -> FlaskClient:
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": newsroom}).test_client()


def _related_links(html: str) -> list[str]:
    section = re.search(r'<aside class="related".*?</aside>', html, re.DOTALL)
    return re.findall(r'<a href="/articles/([^"]+)">', section.group(0)) if section else []


def test_the_article_page_links_its_related_articles(client: FlaskClient, searcher: Searcher,
                                                     newsroom: Settings) -> None:
    page = client.get("/articles/har-0")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h2 id=\"related-heading\">Related articles</h2>" in html
    expected = related(searcher, "har-0", newsroom)
    assert _related_links(html) == ids(expected)
    for item in expected:
        assert client.get(f"/articles/{item.id}").status_code == 200
    # Title, outlet and date, escaped; no date for an undated one.
    assert ('<a href="/articles/har-1">Harbour &lt;dredging&gt; &amp; the pilots&#39; &#34;strike&#34;</a>\n'
            '      — Daily Observer, <time datetime="2021-06-01">1 Jun 2021</time></li>') in html
    assert '<a href="/articles/har-3">Report har-3</a>\n      — Pristina Post</li>' in html


def test_an_article_without_related_articles_shows_none(client: FlaskClient) -> None:
    html = client.get("/articles/alone").get_data(as_text=True)
    assert "Related articles" not in html and 'class="related"' not in html
    assert client.get("/api/articles/alone").get_json()["related"] == []


def test_the_api_lists_the_same_related_articles(client: FlaskClient, searcher: Searcher,
                                                 newsroom: Settings) -> None:
    data = client.get("/api/articles/har-0").get_json()
    assert data["id"] == "har-0" and "text" in data
    assert data["related"] == [
        {"id": item.id, "title": item.title, "outlet": item.outlet,
         "published": item.published.isoformat() if item.published else None, "url": item.url}
        for item in related(searcher, "har-0", newsroom)
    ]
    assert {"id": "har-3", "title": "Report har-3", "outlet": "Pristina Post", "published": None,
            "url": "https://pristinapost.example/har-3"} in data["related"]
