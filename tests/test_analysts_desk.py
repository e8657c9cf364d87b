"""Issue 18's "done when", as an analyst and as a program would go about it.

The question: how did each outlet's coverage of Lavrov and Kosovo change
month by month, as a share of its output? An instance is built the way a
user builds one — ``ingest`` of a folder of saved article pages (HTML, with
their outlet and date in ``<meta>``), cleaned, enriched, indexed and
archived by the real pipeline — three outlets over six months, each
publishing on Lavrov and Kosovo some months and on other things every
month.

The analyst uses the page without JavaScript: searches, follows the
chart's links to split it by outlet and show shares per month, reads the
table under the chart, downloads the numbers, and opens an article's
original page. The program reads /api/openapi.json and asks /api/timeline.
Both are held to plain Python over the stored articles: per outlet and
month, the matching articles over all the outlet's articles. The whole run
is made on each backend in turn: Whoosh, then PostgreSQL (issue 19).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from conftest import backend_settings, stored_articles
from search.ingest import ingest
from search.records import StoredArticle
from web import create_app

OUTLETS = ("Sputnik", "RksNews", "MFA Serbia")
MONTHS = [dt.date(2018, month, 1) for month in range(1, 7)]
OTHER_TOPICS = ("the Danube ferry timetable", "school budgets in Niš", "a wine festival in Župa", "rail freight",
                "the price of bread", "a football derby", "winter roads in the mountains", "the new museum wing")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June")


def _page(outlet: str, day: dt.datetime, title: str, paragraphs: list[str], slug: str) -> str:
    body = "".join(f"<p>{text}</p>" for text in paragraphs)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} — {outlet}</title>'
            f'<meta property="og:site_name" content="{outlet}"><meta property="og:title" content="{title}">'
            f'<meta property="article:published_time" content="{day.isoformat()}">'
            f'<link rel="canonical" href="https://{slug.split("/")[0]}.example/{slug}.html"></head>'
            f'<body><header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>'
            f"<article><h1>{title}</h1>{body}</article><footer>© {outlet}</footer></body></html>")


def _pages(folder: Path, seed: int = 18) -> None:
    """Each outlet, each month: up to three articles on Lavrov and Kosovo, and two to five on other things."""
    rng = random.Random(seed)
    folder.mkdir()
    n = 0
    for outlet in OUTLETS:
        host = outlet.lower().replace(" ", "-")
        for month in MONTHS:
            on_topic = rng.randint(0, 3)
            for k in range(on_topic + rng.randint(2, 5)):
                n += 1
                day = dt.datetime(month.year, month.month, 1 + rng.randrange(27), 8 + k, tzinfo=dt.UTC)
                if k < on_topic:
                    title = f"Lavrov and the Kosovo dialogue, briefing {n}"
                    paragraphs = [
                        (f"Russian Foreign Minister Sergey Lavrov spoke on {day:%d %B} about Kosovo and the "
                        f"dialogue between Belgrade and Pristina, in remarks numbered {n} by the press office."),
                        (f"He said any settlement on Kosovo needs the support of the Security Council; {outlet} "
                        f"asked {rng.choice(('diplomats', 'analysts', 'officials'))} about talk {n} and its agenda."),
                        (f"Observers counted {rng.randint(3, 90)} earlier rounds of talks and expect "
                        f"{rng.randint(2, 9)} more before any agreement on the association of municipalities."),
                    ]
                else:
                    topic = rng.choice(OTHER_TOPICS)
                    title = f"Notes on {topic}, number {n}"
                    paragraphs = [
                        (f"Our correspondent reports on {topic}: report {n}, filed on {day:%d %B}, with "
                        f"{rng.randint(10, 900)} readers writing in about it during the week."),
                        (f"Local officials said the plans for {topic} would be reviewed again in "
                        f"{rng.choice(('spring', 'summer', 'autumn'))}, after {rng.randint(2, 40)} public meetings."),
                        (f"Residents quoted by {outlet} were divided, and {rng.randint(1, 60)} of them signed an "
                        f"open letter asking for more time before the decision number {n}."),
                    ]
                path = folder / f"{host}-{n:03d}.html"
                path.write_text(_page(outlet, day, title, paragraphs, f"{host}/news/{n}"), encoding="utf-8")


@pytest.fixture(scope="module", params=["whoosh", "postgres"])
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    """The instance, on each backend in turn: the same run, the same answers."""
    root = tmp_path_factory.mktemp("desk")
    _pages(root / "pages")
    settings = backend_settings(request, request.param, root / "instance")
    ingest([root / "pages"], settings, progress=False)
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()


@pytest.fixture(scope="module")
def stored(desk: FlaskClient) -> list[StoredArticle]:
    return stored_articles(desk.application.config["NEWSDESK_SETTINGS"])


@dataclass(frozen=True)
class Cell:
    matching: int
    output: int

    @property
    def share(self) -> float:
        return self.matching / self.output if self.output else 0.0


def expected(stored: list[StoredArticle]) -> dict[tuple[str, int], Cell]:
    """Per (outlet, month): articles naming both Lavrov and Kosovo, and all the outlet's articles that month."""
    cells = {}
    for outlet in OUTLETS:
        for month in range(1, 7):
            own = [a for a in stored if a.outlet == outlet and a.published_utc and a.published_utc.month == month]
            matching = [a for a in own if {"lavrov", "kosovo"} <= set(re.findall(r"\w+", (a.title + " " + a.text).lower()))]
            cells[(outlet, month)] = Cell(len(matching), len(own))
    return cells


def link(html: str, label: str) -> str:
    found = re.search(rf'<a href="([^"]+)"[^>]*>{re.escape(label)}</a>', html)
    assert found is not None, f"no link {label!r} on the page"
    return unescape(found.group(1))


def table(html: str) -> tuple[list[str], list[list[str]]]:
    """The chart's table (its fallback for those who do not see it): the header cells, then each row's cells."""
    section = html[html.index('<details class="timeline-table">'):]
    section = section[:section.index("</table>")]
    header = [unescape(cell) for cell in re.findall(r'<th scope="col">([^<]*)</th>', section)]
    rows = [[unescape(row_label), *(unescape(cell) for cell in re.findall(r"<td>([^<]*)</td>", cells))]
            for row_label, cells in re.findall(r'<tr><th scope="row">([^<]*)</th>(.*?)</tr>', section, re.DOTALL)]
    return header, rows


def test_the_instance_holds_each_outlets_articles_with_their_dates(stored: list[StoredArticle]) -> None:
    cells = expected(stored)
    assert {a.outlet for a in stored} == set(OUTLETS) and all(a.published_utc for a in stored)
    assert sum(cell.matching for cell in cells.values()) > 10
    assert any(cell.matching == 0 for cell in cells.values())  # some months an outlet said nothing on it


def test_an_analyst_answers_it_from_the_page_without_javascript(desk: FlaskClient,
                                                                stored: list[StoredArticle]) -> None:
    cells = expected(stored)
    page = desk.get("/?q=Lavrov+Kosovo").get_data(as_text=True)
    assert "<script" not in page
    # The chart's own links: by outlet, then shares, then per month.
    page = desk.get(link(page, "by outlet")).get_data(as_text=True)
    page = desk.get(link(page, "share of each outlet&#39;s output")).get_data(as_text=True)
    if "<strong>per month</strong>" not in page:
        page = desk.get(link(page, "per month")).get_data(as_text=True)
    assert "<strong>per month</strong>" in page and "<strong>share of each outlet&#39;s output</strong>" in page

    header, rows = table(page)
    outlets = [re.sub(r"\s*\(.*\)$", "", title) for title in header[1:]]  # a panel's title: the outlet (its count)
    assert header[0] == "Month" and sorted(outlets) == sorted(OUTLETS)
    assert [row[0] for row in rows] == [f"{name} 2018" for name in MONTH_NAMES]
    for month, row in enumerate(rows, 1):
        for outlet, cell in zip(outlets, row[1:], strict=True):
            assert cell == f"{cells[(outlet, month)].share:.1%}", (outlet, month)

    # The numbers behind the chart, downloaded: each outlet's matches, its output and the share, per month.
    answer = desk.get(link(page, "Download these numbers (CSV)"))
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    downloaded = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    by_outlet = {(row["outlet"], int(row["start"][5:7])): row for row in downloaded if row["outlet"]}
    for (outlet, month), cell in cells.items():
        row = by_outlet[(outlet, month)]
        assert (int(row["count"]), int(row["output"])) == (cell.matching, cell.output)
        assert row["share"] == ("" if not cell.output else f"{cell.share:.6f}")


def test_the_original_page_of_any_article_is_one_click_from_it(desk: FlaskClient) -> None:
    page = desk.get("/?q=Lavrov+Kosovo&collapse=none").get_data(as_text=True)
    article = desk.get(re.findall(r'<h3><a href="(/articles/[^"]+)"', page)[0]).get_data(as_text=True)
    original = desk.get(link(article, "original page")).get_data(as_text=True)
    frame = re.search(r'<iframe sandbox src="([^"]+)"', original)
    assert frame is not None
    # The archived page, as saved, in a sandbox: scripts and requests elsewhere refused by the browser.
    answer = desk.get(unescape(frame.group(1)))
    assert answer.status_code == 200 and answer.headers["Content-Security-Policy"].startswith("sandbox")
    assert "<h1>Lavrov and the Kosovo dialogue, briefing" in answer.get_data(as_text=True)


def test_a_program_does_the_same_through_the_documented_api(desk: FlaskClient,
                                                            stored: list[StoredArticle]) -> None:
    described = desk.get("/api/openapi.json").get_json()
    parameters = {p["name"]: p for p in described["paths"]["/api/timeline"]["get"]["parameters"]}
    assert {"q", "interval", "split"} <= set(parameters) and "month" in parameters["interval"]["schema"]["enum"]

    answer = desk.get("/api/timeline?q=Lavrov+Kosovo&interval=month&split=outlet&top=3").get_json()

    cells = expected(stored)
    assert answer["interval"] == "month" and answer["undated"] == 0
    assert [bucket["start"] for bucket in answer["buckets"]] == [f"2018-0{m}-01" for m in range(1, 7)]
    series = {s["outlet"]: s for s in answer["series"]}
    assert set(series) == set(OUTLETS)
    for outlet, found in series.items():
        for month, bucket in enumerate(found["buckets"], 1):
            cell = cells[(outlet, month)]
            assert (bucket["count"], bucket["output"]) == (cell.matching, cell.output)
            assert bucket["share"] == pytest.approx(cell.share)
