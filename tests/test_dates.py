"""search/clean/dates.py (with date_text.py and date_formats.py): the publication date of a page and its provenance.

Small pages written here, one signal or one conflict each; then a quality gate on the shared htmldate
evaluation set (skipped when ../shared or $NEWSDESK_SHARED is absent).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import lxml.html
import pytest

from conftest import SHARED
from search.clean.date_formats import parse_date
from search.clean.dates import DateFound, find_published
from search.clean.linked_data import read_linked_data

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
UTC = dt.UTC


def page(head: str = "", body: str = "", lang: str = "en") -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(
        f'<html lang="{lang}"><head><title>Talks resume in Brussels | The Daily</title>{head}</head>'
        f"<body><header><a href='/'>The Daily</a></header><article><h1>Talks resume in Brussels</h1>{body}"
        "<p>Negotiators from Belgrade and Pristina met again on Tuesday, the first round since spring, "
        "and agreed to keep talking about licence plates, energy and the association of municipalities.</p>"
        "</article><footer>© 2024 The Daily</footer></body></html>"
    )


def ld(**props: str) -> str:
    return f'<script type="application/ld+json">{json.dumps({"@type": "NewsArticle", **props})}</script>'


def meta(prop: str, content: str) -> str:
    return f'<meta property="{prop}" content="{content}">'


def found(tree: lxml.html.HtmlElement | None, url: str | None = None, text: str = "", **kw: object) -> DateFound | None:
    return published(tree, url, text, now=NOW, **kw)


def published(tree: lxml.html.HtmlElement | None, url: str | None, text: str = "", **kw: object) -> DateFound | None:
    """``find_published`` as the cleaner calls it, with the page's JSON-LD read once beforehand."""
    linked = read_linked_data(tree) if tree is not None else None
    return find_published(tree, url, text, linked=linked, **kw)  # type: ignore[arg-type]


# --- one signal each ---

def test_json_ld_date_published_not_modified() -> None:
    tree = page(ld(dateModified="2024-03-02T10:00:00+01:00", datePublished="2023-11-20T08:15:00+01:00"))
    assert found(tree) == DateFound(dt.datetime(2023, 11, 20, 8, 15, tzinfo=dt.timezone(dt.timedelta(hours=1))),
                                    "json-ld")


def test_json_ld_nested_entities_do_not_count() -> None:
    video = {"@type": "VideoObject", "datePublished": "2019-01-05"}
    story = {"@type": "NewsArticle", "video": video, "datePublished": "2023-03-07"}
    tree = page(f'<script type="application/ld+json">{json.dumps(story)}</script>')
    assert found(tree) == DateFound(dt.date(2023, 3, 7), "json-ld")


def test_broken_json_ld_still_gives_its_date() -> None:
    tree = page('<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2022-05-04",}'
                "</script>")
    assert found(tree) == DateFound(dt.date(2022, 5, 4), "json-ld")


def test_article_published_time_meta() -> None:
    tree = page(meta("article:modified_time", "2024-01-09T09:00:00Z")
                + meta("article:published_time", "2024-01-08T16:45:00Z"))
    assert found(tree) == DateFound(dt.datetime(2024, 1, 8, 16, 45, tzinfo=UTC), "meta")


def test_time_element_with_datetime() -> None:
    tree = page(body='<time class="published" datetime="2021-07-14T09:30:00+02:00">vor 3 Jahren</time>')
    value = found(tree)
    assert value is not None and value.source == "time"
    assert value.value == dt.datetime(2021, 7, 14, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def test_url_date() -> None:
    assert found(page(), "https://example.org/2019/10/16/talks-resume/") == DateFound(dt.date(2019, 10, 16), "url")
    assert found(page(), "https://example.org/news/2019-10-16-talks") == DateFound(dt.date(2019, 10, 16), "url")
    assert found(page(), "https://example.org/2019/10/3-questions-to-the-envoy/") is None  # a title, not a day


def test_url_beats_metadata_in_utc() -> None:
    # A New York evening story: UTC puts it on the next day, the URL keeps the outlet's day.
    tree = page(meta("article:published_time", "2023-11-09T03:28:35Z"))
    assert found(tree, "https://example.com/2023/11/08/debate/") == DateFound(dt.date(2023, 11, 8), "url")


def test_date_stamp_by_the_headline() -> None:
    tree = page(body='<p class="byline">By Ana Petrović</p><div class="meta">Published 28 October 2021</div>',
                head=meta("article:published_time", "2021-10-27T20:35:36+01:00"))
    assert found(tree) == DateFound(dt.date(2021, 10, 28), "page")


def test_updated_stamp_is_not_the_publication_date() -> None:
    tree = page(meta("article:published_time", "2020-05-13T15:03:25-05:00"),
                '<div class="byline">Updated: January 2, 2025</div>')
    value = found(tree)
    assert value is not None and value.source == "meta" and value.value.isoformat().startswith("2020-05-13")


def test_dates_labelled_as_something_else_are_not_stamps() -> None:
    for label in ("Joined", "Termin:", "Gültig ab", "Member since"):
        tree = page(meta("article:published_time", "2019-11-27T15:21:21+01:00"),
                    f'<div class="meta">{label} 21.02.2020</div>')
        value = found(tree)
        assert value is not None and value.source == "meta", label


def test_dates_in_menus_and_quotes_are_not_stamps() -> None:
    tree = lxml.html.document_fromstring(
        "<html><head><title>Growth forecast cut</title>"
        '<meta property="article:published_time" content="2023-10-10T23:25:44Z"></head><body>'
        '<div class="top-menu"><span>Thursday, November 9, 2023</span></div>'  # today, in the site's menu bar
        "<h1>Growth forecast cut</h1><blockquote>As we said on 3 May 2019 …</blockquote><p>Text.</p></body></html>")
    assert found(tree) == DateFound(dt.datetime(2023, 10, 10, 23, 25, 44, tzinfo=UTC), "meta")


def test_ambiguous_day_month_follows_the_page_language_and_other_signals() -> None:
    stamp = '<span class="date">03/04/2020</span>'
    assert found(page(body=stamp, lang="en-US")) == DateFound(dt.date(2020, 3, 4), "page")
    assert found(page(body=stamp, lang="fr")) == DateFound(dt.date(2020, 4, 3), "page")
    other = page(meta("article:published_time", "2020-04-03T10:00:00+02:00"), stamp, lang="en")
    assert found(other) == DateFound(dt.datetime(2020, 4, 3, 10, tzinfo=dt.timezone(dt.timedelta(hours=2))), "page")


def test_utc_timestamp_restated_in_the_outlets_offset() -> None:
    tree = page(meta("article:published_time", "2023-11-09T03:28:35Z"),
                '<time datetime="2023-11-08T22:28:35-05:00">5 hours ago</time>')
    value = found(tree)
    assert value is not None and value.source == "meta" and value.value.isoformat() == "2023-11-08T22:28:35-05:00"


# --- datelines ---

def test_dateline_with_a_year() -> None:
    text = "BELGRADE, 21 September 2018 - Serbia's president said on Friday ..."
    assert found(None, None, text) == DateFound(dt.date(2018, 9, 21), "dateline")


def test_dateline_without_a_year_needs_another_signal() -> None:
    text = "MOSCOW, November 21 (RIA Novosti) - A Russian Foreign Ministry spokesman said ..."
    assert found(None, None, text) is None
    assert found(None, "https://example.org/archive/2018/kosovo-talks", text) == DateFound(dt.date(2018, 11, 21),
                                                                                        "dateline")
    # A hint of the same month and day gives the year (and its time of day); the dateline decides the day.
    hint = DateFound(dt.datetime(2013, 11, 21, 9, 0, tzinfo=UTC), "sitemap")
    assert found(None, None, text, hint=hint) == DateFound(dt.datetime(2013, 11, 21, 9, 0, tzinfo=UTC), "dateline")
    other_day = DateFound(dt.date(2013, 11, 22), "sitemap")
    assert found(None, None, text, hint=other_day) == other_day


def test_dateline_forms() -> None:
    for text, day in [("PRISTINA, Oct. 3 (Reuters) - Kosovo's ...", dt.date(2018, 10, 3)),
                      ("WASHINGTON, D.C., May 5, 2018 – The ...", dt.date(2018, 5, 5)),
                      ("Bruselas, 7 oct (EFE).- El alto representante ...", dt.date(2018, 10, 7))]:
        assert found(None, "https://example.org/2018/x", text) == DateFound(day, "dateline"), text
    assert found(None, None, "Smith, 45, said - and left.") is None


# --- plausibility ---

def test_future_dates_rejected_beyond_a_day_of_skew() -> None:
    tomorrow = page(meta("article:published_time", "2024-06-02T08:00:00Z"))
    assert found(tomorrow) == DateFound(dt.datetime(2024, 6, 2, 8, tzinfo=UTC), "meta")
    later = page(meta("article:published_time", "2024-06-04T08:00:00Z"))
    assert found(later) is None


def test_dates_before_the_floor_rejected() -> None:
    old = page(meta("article:published_time", "1987-03-01T00:00:00Z"))
    assert found(old) is None
    assert found(old, floor_year=1980) == DateFound(dt.datetime(1987, 3, 1, tzinfo=UTC), "meta")
    # A hint is the corpus's own metadata: taken as it is.
    hint = DateFound(dt.date(1987, 3, 1), "feed")
    assert found(old, hint=hint) == hint


# --- hints ---

def test_feed_date_beats_page_metadata_but_sitemap_does_not() -> None:
    tree = page(meta("article:published_time", "2024-01-08T16:45:00Z"))
    feed = DateFound(dt.datetime(2024, 1, 7, 10, 0, tzinfo=UTC), "feed")
    sitemap = DateFound(dt.datetime(2024, 3, 1, 10, 0, tzinfo=UTC), "sitemap")
    assert found(tree, hint=feed) == feed
    assert found(tree, hint=sitemap) == DateFound(dt.datetime(2024, 1, 8, 16, 45, tzinfo=UTC), "meta")
    assert found(page(), hint=sitemap) == sitemap
    assert found(None, None, "", hint=DateFound(dt.datetime(2024, 1, 7, 10, 0), "feed")) == feed  # naive → UTC


# --- unknown stays unknown ---

def test_undated_page_gives_none() -> None:
    assert found(page()) is None  # the footer's "© 2024" is a year, not a date
    assert found(None, None, "Plain text with no date at all.") is None
    assert found(None, "https://example.org/2019/10/16/x", "no dateline here") is None  # no page, no URL signal


def test_tree_is_not_modified_even_by_the_htmldate_fallback() -> None:
    tree = lxml.html.document_fromstring(  # no headline, no metadata: htmldate's search, on its own copy
        '<html><head><title>Notes</title></head><body><div id="main"><p>Some notes about the talks.</p>'
        '<p class="date">14.03.2017</p><script>var x = 1;</script></div></body></html>')
    before = lxml.html.tostring(tree)
    assert found(tree, "https://example.org/news/talks") == DateFound(dt.date(2017, 3, 14), "htmldate")
    assert lxml.html.tostring(tree) == before


def test_htmldate_first_of_a_month_counts_only_when_the_page_writes_that_day() -> None:
    """htmldate turns "March 2017" into 2017-03-01: a day it did not find."""
    def notes(stamp: str) -> lxml.html.HtmlElement:
        return lxml.html.document_fromstring(
            '<html><head><title>Notes</title></head><body><div id="main"><p>Some notes about the talks.</p>'
            f'<p class="date">{stamp}</p><script>var built = "2017";</script></div></body></html>')

    assert found(notes("1 March 2017"), "https://example.org/news/talks") == DateFound(dt.date(2017, 3, 1), "htmldate")
    assert found(notes("Posted 2017-03-01"), "https://example.org/news/talks") == DateFound(dt.date(2017, 3, 1),
                                                                                             "htmldate")
    assert found(notes("March 2017"), "https://example.org/news/talks") is None


def test_posted_stamp_after_the_headline() -> None:
    tree = page(body="<p>Posted in <b>News</b> · 14.03.2017, 08:00</p>")
    assert found(tree) == DateFound(dt.date(2017, 3, 14), "page")


@pytest.mark.parametrize("raw, expected", [
    ("2019-10-16", dt.date(2019, 10, 16)),
    ("2019-10-16T08:00:00Z", dt.datetime(2019, 10, 16, 8, tzinfo=UTC)),
    ("2019-10-16T08:00:00.000+0200", dt.datetime(2019, 10, 16, 8, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
    ("2019-10-16 08:00", dt.datetime(2019, 10, 16, 8, tzinfo=UTC)),
    ("2019/10/16", dt.date(2019, 10, 16)),
    ("20191016", dt.date(2019, 10, 16)),
    ("16.10.2019", dt.date(2019, 10, 16)),
    ("16.10.2019, 08:30", dt.datetime(2019, 10, 16, 8, 30, tzinfo=UTC)),
    ("Wed, 16 Oct 2019 08:00:00 GMT", dt.datetime(2019, 10, 16, 8, tzinfo=UTC)),
    ("1571212800", dt.datetime(2019, 10, 16, 8, tzinfo=UTC)),
    ("10/16/2019", dt.date(2019, 10, 16)),
    ("03/04/2019", None),
    ("October 16, 2019", dt.date(2019, 10, 16)),
    ("16. Oktober 2019", dt.date(2019, 10, 16)),
    ("2019-02-30", None),
    ("soon", None),
])
def test_parse_date(raw: str, expected: dt.date | None) -> None:
    assert parse_date(raw) == expected


# --- the quality gate ---

HTMLDATE_SET = SHARED / "data" / "pages" / "htmldate"
#: Measured 2026-11-23 on the 466 pages (htmldate 1.11.0 with original_date=True: 0.891).
MEASURED = 0.925


@pytest.mark.slow
@pytest.mark.skipif(not (HTMLDATE_SET / "ground-truth.json").is_file(),
                    reason="the shared reference data (../shared or $NEWSDESK_SHARED) is absent")
def test_accuracy_on_the_htmldate_set() -> None:
    truth = json.loads((HTMLDATE_SET / "ground-truth.json").read_text(encoding="utf-8"))
    right = 0
    for key, gold in truth.items():
        value = published(_tree(HTMLDATE_SET / "html", key), gold.get("url"))
        right += value is not None and value.value.isoformat().startswith(str(gold.get("date")))
    assert right / len(truth) >= MEASURED - 0.01


def _tree(folder: Path, key: str) -> lxml.html.HtmlElement | None:
    path = next(folder.glob(f"{key}.htm*"))
    raw = path.read_bytes()
    raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    try:
        return lxml.html.document_fromstring(raw.decode("utf-8", errors="replace"))
    except ValueError:  # a declared encoding in a str, or nothing to parse
        return lxml.html.document_fromstring(raw)
