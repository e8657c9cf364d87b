"""The timeline on the web: ``/api/timeline``, ``/timeline.csv`` and the chart on the results page.

Checked against plain Python over the stored articles of a generated corpus
(tests/test_timeline.py builds it), through the real Flask app: the API's
buckets for a query, a facet filter and a date filter; the CSV's rows equal
the API's; each bar of the page's chart links to the results narrowed to its
bucket, whose total is the bar's count.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from html import unescape

import pytest
from flask.testing import FlaskClient
from test_timeline import _bucket, _day, build_corpus

from search.index import open_index
from search.settings import Settings
from web import create_app


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_corpus(tmp_path_factory.mktemp("timeline-web"))


@pytest.fixture
def client(corpus: Settings) -> FlaskClient:
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": corpus}).test_client()


@pytest.fixture(scope="module")
def stored(corpus: Settings) -> list[dict[str, object]]:
    with open_index(corpus).searcher() as searcher:
        return [fields for _, fields in searcher.iter_docs()]


def _expected(stored: list[dict[str, object]], interval: str, keep: object = None) -> tuple[dict[str, int], int]:
    chosen = [f for f in stored if keep is None or keep(f)]  # type: ignore[operator]
    counted = Counter(_bucket(day, interval).isoformat() for f in chosen if (day := _day(f)) is not None)
    return dict(counted), sum(_day(f) is None for f in chosen)


def _nonzero(buckets: list[dict[str, object]]) -> dict[str, int]:
    return {str(b["start"]): int(b["count"]) for b in buckets if b["count"]}  # type: ignore[call-overload]


@pytest.mark.parametrize("interval", ["day", "week", "month", "year"])
def test_the_api_counts_every_article_per_bucket(client: FlaskClient, stored: list[dict[str, object]],
                                                 interval: str) -> None:
    answer = client.get(f"/api/timeline?interval={interval}").get_json()
    counts, undated = _expected(stored, interval)
    assert answer["interval"] == interval and answer["undated"] == undated
    assert _nonzero(answer["buckets"]) == counts
    assert "series" not in answer


def test_the_api_follows_the_pages_filters(client: FlaskClient, stored: list[dict[str, object]]) -> None:
    answer = client.get("/api/timeline?outlet=Beta+News&from=2020-01-01&to=2021-06-30&interval=month").get_json()
    first, last = dt.date(2020, 1, 1), dt.date(2021, 6, 30)
    counts, _ = _expected(stored, "month", lambda f: f["outlet"] == "Beta News" and _day(f) is not None
                          and first <= _day(f) <= last)  # type: ignore[operator]
    assert _nonzero(answer["buckets"]) == counts
    assert answer["undated"] == 0  # a date filter takes dated articles only: its undated are counted by the page
    page = client.get("/api/search?outlet=Beta+News&from=2020-01-01&to=2021-06-30").get_json()
    assert sum(b["count"] for b in answer["buckets"]) == page["total"]


def test_split_by_outlet_in_the_api_and_the_csv_alike(client: FlaskClient, stored: list[dict[str, object]]) -> None:
    answer = client.get("/api/timeline?interval=year&split=outlet&top=2").get_json()
    names = [series["outlet"] for series in answer["series"]]
    by_outlet = Counter(str(f["outlet"]) for f in stored if _day(f) is not None)
    assert names == [*sorted(by_outlet, key=lambda n: (-by_outlet[n], n))[:2], "other"]
    rows = list(csv.DictReader(io.StringIO(client.get("/timeline.csv?interval=year&split=outlet&top=2")
                                           .get_data(as_text=True))))
    for series in answer["series"]:
        for bucket in series["buckets"]:
            [row] = [r for r in rows if r["outlet"] == series["outlet"] and r["start"] == bucket["start"]]
            assert (int(row["count"]), int(row["output"])) == (bucket["count"], bucket["output"])
    assert next(r for r in rows if r["start"] == "undated")["count"] == str(answer["undated"])


@pytest.mark.parametrize("query", ["interval=fortnight", "split=author", "top=0", "top=x", "measure=loudness"])
def test_bad_timeline_parameters_are_a_400_with_a_hint(client: FlaskClient, query: str) -> None:
    for path in ("/api/timeline", "/timeline.csv", "/"):
        answer = client.get(f"{path}?{query}")
        assert answer.status_code == 400, (path, query)


def test_each_bar_links_to_the_results_of_its_bucket(client: FlaskClient) -> None:
    page = client.get("/?outlet=Gamma+Wire&interval=year").get_data(as_text=True)
    assert '<section class="timeline" id="timeline"' in page
    bars = re.findall(r'<a href="([^"]+)" aria-label="([^"]+): ([\d,]+) articles?"', page)
    assert bars
    for href, label, count in bars:
        narrowed = client.get(unescape(href).replace("/?", "/api/search?", 1)).get_json()
        assert narrowed["total"] == int(count.replace(",", "")), label


def test_shares_of_each_outlets_output_on_the_page(client: FlaskClient) -> None:
    page = client.get("/?q=talks&split=outlet&measure=share&interval=year").get_data(as_text=True)
    assert "share of each outlet" in page and re.search(r'aria-label="\d{4}: \d+\.\d%"', page)
    table = page[page.index("<table>", page.index('id="timeline"')):]
    assert "%" in table[:table.index("</table>")]
