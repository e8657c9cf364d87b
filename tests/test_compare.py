"""``/compare``: searches side by side, each counted as its own results page and timeline count it.

On the generated corpus of tests/test_timeline.py, through the real app: each
item's total equals ``/api/search``'s for the same search, its buckets equal
``/api/timeline``'s on the same interval, one search across outlets is that
search in each outlet, and the CSV carries the same numbers.
"""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from flask.testing import FlaskClient
from test_timeline import build_corpus

from search.settings import Settings
from web import create_app


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_corpus(tmp_path_factory.mktemp("compare"))


@pytest.fixture
def client(corpus: Settings) -> FlaskClient:
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": corpus}).test_client()


def _totals(page: str) -> dict[str, int]:
    rows = re.findall(r'<th scope="row"><a href="[^"]*">([^<]+)</a></th>\s*<td>([\d,]+)</td>', page)
    return {unescape(label): int(total.replace(",", "")) for label, total in rows}


def test_each_search_counts_as_its_own_page_and_timeline(client: FlaskClient) -> None:
    queries = ["talks", "Changed", "story 1*"]
    page = client.get("/compare", query_string={"q": queries, "interval": "month", "outlet": "Beta News"})
    assert page.status_code == 200
    totals = _totals(page.get_data(as_text=True))
    rows = list(csv.reader(io.StringIO(client.get("/compare.csv", query_string={
        "q": queries, "interval": "month", "outlet": "Beta News"}).get_data(as_text=True))))
    assert rows[0] == ["start", "end", *queries]
    for n, q in enumerate(queries):
        alone = {"q": q, "outlet": "Beta News"}
        assert totals[q] == client.get("/api/search", query_string=alone).get_json()["total"]
        timeline = client.get("/api/timeline", query_string={**alone, "interval": "month"}).get_json()
        by_start = {bucket["start"]: bucket["count"] for bucket in timeline["buckets"]}
        from_csv = {row[0]: int(row[2 + n]) for row in rows[1:] if row[0] not in ("undated", "total")}
        assert {start: count for start, count in from_csv.items() if count} == \
            {start: count for start, count in by_start.items() if count}
        assert next(row for row in rows if row[0] == "undated")[2 + n] == str(timeline["undated"])
        assert next(row for row in rows if row[0] == "total")[2 + n] == str(totals[q])


def test_one_search_across_outlets(client: FlaskClient) -> None:
    page = client.get("/compare?q=talks&outlet=Alpha+Daily&outlet=Zeta").get_data(as_text=True)
    totals = _totals(page)
    assert set(totals) == {"talks in Alpha Daily", "talks in Zeta"}
    for outlet in ("Alpha Daily", "Zeta"):
        expected = client.get("/api/search", query_string={"q": "talks", "outlet": outlet}).get_json()["total"]
        assert totals[f"talks in {outlet}"] == expected


def test_a_bar_opens_its_searchs_results_for_its_days(client: FlaskClient) -> None:
    page = client.get("/compare?q=talks&q=Changed&interval=year").get_data(as_text=True)
    bars = re.findall(r'<a href="([^"]+)" aria-label="([^"]+): ([\d,]+) articles?"', page)
    assert bars
    for href, label, count in bars:
        assert client.get(unescape(href).replace("/?", "/api/search?", 1)).get_json()["total"] == int(count), label


def test_more_than_five_is_a_400_and_the_form_keeps_the_searches(client: FlaskClient) -> None:
    assert client.get("/compare", query_string={"q": [f"w{n}" for n in range(6)]}).status_code == 400
    empty = client.get("/compare")
    assert empty.status_code == 200 and "Compare searches" in empty.get_data(as_text=True)
    kept = client.get("/compare?q=talks&q=Changed").get_data(as_text=True)
    assert 'name="q" value="talks"' in kept and 'name="q" value="Changed"' in kept
