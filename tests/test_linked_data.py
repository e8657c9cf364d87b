"""search/clean/linked_data.py: a page's JSON-LD, found by one rule and read once for the metadata and the date."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import lxml.html
import pytest

from search.clean import clean
from search.clean.dates import DateFound, find_published
from search.clean.linked_data import LinkedData, StatedDate, is_linked_data, read_linked_data
from search.clean.metadata import read_metadata
from search.decode import received_page
from search.records import RawPage

URL = "https://dailyplanet.example/world/talks-resume-in-brussels"
PUBLISHED = "2024-03-05T14:30:00+01:00"
ARTICLE = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Talks resume in Brussels",
           "datePublished": PUBLISHED, "dateModified": "2024-03-06T09:00:00+01:00",
           "author": {"@type": "Person", "name": "Jane Roe"}}


def tree(head: str = "", body: str = "") -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


def script(data: object, media_type: str = "application/ld+json") -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    return f'<script type="{media_type}">{text}</script>'


def article_page(media_type: str) -> RawPage:
    """An article whose only date and only author are in its JSON-LD."""
    paragraphs = "".join(
        f"<p>Negotiators from Belgrade and Pristina met again in Brussels on {day}, the first round since the "
        "spring, and agreed to keep talking about licence plates, energy and the association of municipalities, "
        "the mediators said after the meeting.</p>"
        for day in ("Tuesday", "Wednesday", "Thursday")
    )
    html = (f'<html lang="en"><head><title>Talks resume in Brussels</title>{script(ARTICLE, media_type)}</head>'
            f"<body><article><h1>Talks resume in Brussels</h1>{paragraphs}</article></body></html>")
    return received_page(data=html.encode(), origin="talks.html", content_type="text/html", url=URL)


# --- which scripts --------------------------------------------------------------


@pytest.mark.parametrize(("media_type", "expected"), [
    ("application/ld+json", True),
    ("application/ld+json; charset=utf-8", True),
    ("Application/LD+JSON", True),
    (" application/ld+json ;charset=UTF-8", True),
    ("application/json", False),
    ("text/javascript", False),
    ("", False),
])
def test_one_rule_finds_the_json_ld(media_type: str, expected: bool) -> None:
    element = lxml.html.fragment_fromstring(f'<script type="{media_type}">{{}}</script>')
    assert is_linked_data(element) is expected


# --- what it says ----------------------------------------------------------------


def test_the_graph_is_flattened_and_references_followed() -> None:
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebSite", "@id": "#site", "name": "Daily Planet"},
        {"@type": "Person", "@id": "#jane", "name": "Jane Roe"},
        {"@type": ["NewsArticle"], "headline": "Talks resume", "author": {"@id": "#jane"},
         "publisher": {"@id": "#site"}, "datePublished": PUBLISHED, "dateCreated": "2024-03-04",
         "video": {"@type": "VideoObject", "datePublished": "2019-01-05"}},
    ]}
    reading = read_linked_data(tree(script(graph)))
    assert reading == LinkedData(
        headlines=("Talks resume",), authors=("Jane Roe",), publishers=("Daily Planet",), sites=("Daily Planet",),
        dates=(StatedDate("datePublished", PUBLISHED), StatedDate("dateCreated", "2024-03-04")),
    )


def test_broken_json_ld_is_forgiven_or_its_date_salvaged() -> None:
    wrapped = script("<!-- " + json.dumps(ARTICLE) + " -->")
    trailing_comma = script('{"@type": "NewsArticle", "author": "John Doe", "datePublished": "2022-05-04",}')
    broken = script('{"@type": "NewsArticle", "author": "Max Mustermann" "datePublished": "2021-01-02"}')
    reading = read_linked_data(tree(wrapped + trailing_comma + broken))
    assert reading.authors == ("Jane Roe", "John Doe")
    assert reading.dates == (StatedDate("datePublished", PUBLISHED), StatedDate("datePublished", "2022-05-04"),
                             StatedDate("datePublished", "2021-01-02"))


def test_a_page_without_json_ld_reads_as_empty() -> None:
    assert read_linked_data(tree('<script>var ld = {"datePublished": "2024-03-05"};</script>')) == LinkedData()


# --- read once, used twice ----------------------------------------------------------------


def test_the_metadata_and_the_date_take_the_reading_they_are_given() -> None:
    """Both readers use the reading handed to them, not JSON-LD of their own: this page has none."""
    page = tree("<title>Talks resume in Brussels</title>", "<h1>Talks resume in Brussels</h1>")
    reading = LinkedData(authors=("Jane Roe",), publishers=("Daily Planet",),
                         dates=(StatedDate("datePublished", PUBLISHED),))
    meta = read_metadata(page, URL, linked=reading)
    assert (meta.authors, meta.outlet) == (("Jane Roe",), "Daily Planet")
    assert find_published(page, URL, linked=reading) == DateFound(dt.datetime.fromisoformat(PUBLISHED), "json-ld")


@pytest.mark.parametrize("media_type", ["application/ld+json; charset=utf-8", "application/LD+JSON"])
def test_a_json_ld_typed_with_parameters_or_capitals_keeps_its_date_time_and_author(media_type: str) -> None:
    article = clean(article_page(media_type))
    assert article.author == "Jane Roe"
    assert (article.published, article.published_source) == (dt.datetime.fromisoformat(PUBLISHED), "json-ld")


def test_the_json_ld_is_parsed_once_per_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted at the standard library's parser: calls made by our package on the page's script text
    (trafilatura reads JSON-LD for metadata of its own, which the cleaner does not use)."""
    parsed: list[str] = []
    real_loads = json.loads

    def counting_loads(text: str | bytes, *args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("search.") and "Talks resume in Brussels" in str(text):
            parsed.append(caller)
        return real_loads(text, *args, **kwargs)

    monkeypatch.setattr(json, "loads", counting_loads)
    article = clean(article_page("application/ld+json"))
    assert article.published == dt.datetime.fromisoformat(PUBLISHED)
    assert parsed == ["search.clean.linked_data"]
