"""The date filter (``from``, ``to``, ``range``, ``dated``, ``certainty``) against plain Python over the stored articles.

A generated corpus goes through the real index stage in several commits (so
several segments, one with deleted documents): dates at day boundaries and
whole seconds, moments with offsets that carry them into another UTC day, a
few around a fixed ``NOW`` for the presets (exactly at and one second past
each preset's start, one a little ahead of ``NOW``), undated articles, and
every kind of ``published_source``. For many random ``from``/``to`` pairs
(days, months, years, moments with offsets, open ends), with words, facet
filters and certainty, the results page's ids, ``total``, ``undated`` and
its four facets' counts, and what an alert percolates, are what plain Python
finds in the stored fields — with its own reading of the dates, not the
engine's. Then the surfaces: every bad value is a 400 with a hint on the page,
the API and Atom; the page's form and links; saved searches, an old table's
migration and alerts that count a preset back from each run.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import random
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask.testing import FlaskClient
from whoosh.searching import Searcher

from conftest import make_settings
from search.alerts import add_user, run_alerts
from search.alerts.feed import feed_page
from search.alerts.saved import get_saved, list_saved, save_search, update_saved
from search.enrich import Gazetteer, enrich
from search.errors import QueryError
from search.index import open_index, write_articles
from search.query import make_query, matching, search
from search.query.embedded import EmbeddedReader
from search.records import Article, SearchPage, SearchQuery
from search.settings import Settings
from webforms import form_fields, log_in, make_app, make_user, own_instance, submit

UTC = dt.UTC
#: The moment the presets count back from in the generated corpus.
NOW = dt.datetime(2026, 3, 15, 12, 30, 45, tzinfo=UTC)
PRESETS = {"24h": dt.timedelta(hours=24), "week": dt.timedelta(days=7), "month": dt.timedelta(days=30),
           "year": dt.timedelta(days=365)}
#: Every kind of source the cleaner, the crawler and manifests record; None for a date of unknown origin.
SOURCES = ("url", "feed", "page", "meta", "json-ld", "time", "dateline", "sitemap", "htmldate", "manifest", "record",
           "text: a dated caption", None)
#: The sources whose dates count as certain, as the README lists them (written out here, not imported).
CERTAIN = {"url", "feed", "page", "meta", "manifest", "record"}
OUTLETS = ("RksNews", "Tanjug", "Sputnik International", None)
LAVROV = "Q58217"


# --- the corpus --------------------------------------------------------------------------


def generated_dates(rng: random.Random, n: int) -> list[dt.date | dt.datetime | None]:
    dates: list[dt.date | dt.datetime | None] = []
    for _ in range(n):
        day = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randint(0, 4 * 365))
        kind = rng.random()
        if kind < 0.15:
            dates.append(None)
        elif kind < 0.35:
            dates.append(day)
        elif kind < 0.55:  # the very edges of a UTC day
            dates.append(dt.datetime.combine(day, rng.choice((dt.time(0, 0), dt.time(23, 59, 59))), UTC))
        else:  # an offset that may carry it into another UTC day, month or year
            offset = dt.timezone(dt.timedelta(hours=rng.choice((-11, -2, 0, 2, 5, 14)), minutes=rng.choice((0, 30))))
            dates.append(dt.datetime.combine(day, dt.time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59),
                                                          rng.choice((0, 400_000))), offset))
    # Each preset's first moment, a second before it, and a little ahead of NOW; a day a week back.
    for reach in PRESETS.values():
        dates += [NOW - reach, NOW - reach - dt.timedelta(seconds=1), NOW - reach + dt.timedelta(microseconds=5)]
    dates += [NOW, NOW + dt.timedelta(hours=3), (NOW - dt.timedelta(days=7)).date(), NOW.date(),
              (NOW - dt.timedelta(days=2)).astimezone(dt.timezone(dt.timedelta(hours=-5)))]
    return dates


def corpus(gazetteer: Gazetteer, seed: int, count: int) -> list[Article]:
    rng = random.Random(seed)
    articles = []
    for n, published in enumerate(generated_dates(rng, count)):
        words = ["Article", str(n), "about", "Kosovo"]
        if n % 3 == 0:
            words.append("talks")
        if n % 4 == 0:
            words += ["with", "Sergey", "Lavrov"]
        if n % 5 == 0:
            words += ["in", "Serbia"]
        articles.append(enrich(Article(
            id=f"f{n:05d}", title=f"Report number {n}", text=" ".join(words) + ".", origin=f"test:{n}",
            outlet=rng.choice(OUTLETS), published=published, language=rng.choice(("en", "sr", None)),
            published_source=rng.choice(SOURCES) if published else None), gazetteer, 0))
    return articles


@pytest.fixture(scope="module")
def filtered(tmp_path_factory: pytest.TempPathFactory, gazetteer: Gazetteer) -> Settings:
    """~290 articles in four commits; the last rewrites some, leaving deleted documents in older segments."""
    settings = make_settings(Path(tmp_path_factory.mktemp("date-filter")))
    articles = corpus(gazetteer, 18, 260)
    for start in range(0, len(articles), 100):
        write_articles(articles[start:start + 100], settings)
    rewritten = [replace(a, text=a.text + " Updated.") for a in articles[::17]]
    write_articles(rewritten, settings)
    return settings


@dataclass(frozen=True)
class Stored:
    """What the oracle reads of one article: its stored fields, as written."""

    id: str
    moment: dt.datetime | None  # naive UTC
    source: str | None
    body: str
    values: dict[str, tuple[str, ...]]  # facet → its values (actors: several)


def stored(searcher: Searcher) -> list[Stored]:
    found = []
    for fields in searcher.all_stored_fields():  # live documents only
        values = {name: (fields[name],) for name in ("outlet", "year", "language")}
        values["actor"] = tuple(a for a in fields.get("actor", "").split(",") if a)
        found.append(Stored(fields["id"], fields.get("published"), fields.get("published_source"),
                            fields.get("body", ""), values))
    return found


# --- the oracle: its own reading of the dates ----------------------------------------------


def span(text: str) -> tuple[dt.datetime, dt.datetime]:
    """The first and last moment (naive UTC, to the second) a ``from``/``to`` value names."""
    if "T" in text:
        moment = dt.datetime.fromisoformat(text)
        moment = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
        return moment.replace(microsecond=0), moment.replace(microsecond=0)
    parts = [int(p) for p in text.split("-")]
    year, month, day = parts[0], parts[1] if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None
    first = dt.datetime(year, month or 1, day or 1)
    last_month = month or 12
    last = dt.datetime(year, last_month, day or calendar.monthrange(year, last_month)[1], 23, 59, 59)
    return first, last


@dataclass(frozen=True)
class Asked:
    q: str = ""
    outlet: tuple[str, ...] = ()
    actor: tuple[str, ...] = ()
    date_from: str = ""
    date_to: str = ""
    dated: str = ""
    certainty: str = ""
    first: dt.datetime | None = None  # a preset's start, when one is asked
    preset: str = ""

    def query(self, **more: Any) -> SearchQuery:
        return make_query(self.q, outlet=self.outlet, actor=self.actor, date_from=self.date_from,
                          date_to=self.date_to, dated=self.dated, certainty=self.certainty, date_range=self.preset,
                          now=NOW, **more)

    @property
    def by_date(self) -> bool:
        return bool(self.date_from or self.date_to or self.dated or self.certainty or self.preset)

    def dates_take(self, article: Stored) -> bool:
        if self.dated == "no":
            return article.moment is None
        if not self.by_date:
            return True
        if article.moment is None:
            return False
        moment = article.moment.replace(microsecond=0)  # compared to the second, as documented
        first = span(self.date_from)[0] if self.date_from else self.first
        if first is not None and moment < first.replace(microsecond=0):
            return False
        if self.date_to and moment > span(self.date_to)[1]:
            return False
        if self.certainty:
            return (article.source in CERTAIN) == (self.certainty == "certain")
        return True

    def words_take(self, article: Stored) -> bool:
        """The query's words, for the generated corpus's words (the seeds' are read by the engine itself)."""
        words = set(re.findall(r"\w+", article.body.lower()))
        if self.q == "talks":
            return "talks" in words
        if self.q == "kosovo NOT lavrov":
            return "kosovo" in words and "lavrov" not in words
        assert not self.q, self.q
        return True

    def facets_take(self, article: Stored, but: str | None = None) -> bool:
        return all(set(values) & set(article.values[name])
                   for name, values in (("outlet", self.outlet), ("actor", self.actor)) if values and name != but)


@dataclass(frozen=True)
class Expected:
    ids: set[str]
    undated: int
    counts: dict[str, dict[str, int]]


def expected(articles: list[Stored], asked: Asked, words: set[str] | None = None) -> Expected:
    """What plain Python finds; ``words``, when given, are the ids the query's words match (without any filter)."""
    matched = [a for a in articles if (a.id in words if words is not None else asked.words_take(a))]
    listed = {a.id for a in matched if asked.dates_take(a) and asked.facets_take(a)}
    left_out = 0
    if asked.by_date and asked.dated != "no":
        left_out = sum(a.moment is None for a in matched if asked.facets_take(a))
    counts: dict[str, dict[str, int]] = {}
    for name in ("outlet", "actor", "year", "language"):
        counter: Counter[str] = Counter()
        for a in matched:
            if asked.dates_take(a) and asked.facets_take(a, but=name):
                counter.update(a.values[name])
        counts[name] = dict(counter)
    return Expected(listed, left_out, counts)


def every_hit(searcher: Searcher, settings: Settings, gazetteer: Gazetteer, query: SearchQuery) -> tuple[SearchPage, set[str]]:
    """The first page and the ids of every page."""
    first = search(searcher, query, settings, gazetteer)
    ids = {hit.id for hit in first.hits}
    for number in range(2, first.pages + 1):
        ids |= {hit.id for hit in search(searcher, replace(query, page=number), settings, gazetteer).hits}
    return first, ids


def check(searcher: Searcher, settings: Settings, gazetteer: Gazetteer, articles: list[Stored], asked: Asked,
          stemmed: bool = False) -> None:
    """The page, its counts and an alert's matches against plain Python; ``stemmed``: real text, whose words
    (stems, folding) the oracle takes from an unfiltered search instead of reading them itself."""
    words = set(matching(searcher, make_query(asked.q), settings)) if stemmed else None
    want = expected(articles, asked, words)
    sort = "relevance" if asked.q else "date"
    page, ids = every_hit(searcher, settings, gazetteer, asked.query(sort=sort, per_page=100, facet_limit=1000))
    assert (page.total, page.undated) == (len(want.ids), want.undated), asked
    assert ids == want.ids, asked
    counts = {name: {f.value: f.count for f in values if f.count} for name, values in page.facets.items()}
    assert counts == want.counts, asked
    assert set(matching(searcher, asked.query(), settings)) == want.ids, asked  # what an alert percolates


# --- random date filters ------------------------------------------------------------------


def written(rng: random.Random, moments: list[dt.datetime]) -> str:
    """A ``from``/``to`` value: a day, a month, a year, or a moment (often one an article has, or a second off)."""
    kind = rng.random()
    if kind < 0.45 and moments:
        moment = rng.choice(moments) + dt.timedelta(seconds=rng.choice((-1, 0, 0, 1)))
        offset = dt.timezone(dt.timedelta(hours=rng.choice((-8, -1, 0, 3, 13)), minutes=rng.choice((0, 45))))
        text = moment.replace(tzinfo=UTC).astimezone(offset).isoformat()
        if rng.random() < 0.3:
            text = text.replace("+00:00", "Z")
        if moment.microsecond == 0 and rng.random() < 0.2:  # fractions of a second: compared to the second
            text = text[:19] + ".5" + text[19:]
        return text
    day = rng.choice(moments).date() if moments and rng.random() < 0.5 else \
        dt.date(2016, 1, 1) + dt.timedelta(days=rng.randint(0, 4 * 365))
    if kind < 0.8:
        return day.isoformat()
    return day.isoformat()[:7] if kind < 0.93 else str(day.year)


def random_asks(rng: random.Random, moments: list[dt.datetime], count: int) -> Iterator[Asked]:
    for _ in range(count):
        date_from = written(rng, moments) if rng.random() < 0.8 else ""
        date_to = written(rng, moments) if rng.random() < 0.8 else ""
        if date_from and date_to and span(date_from)[0] > span(date_to)[1]:
            date_from, date_to = date_to, date_from
            if span(date_from)[0] > span(date_to)[1]:  # a moment inside the other's span, the wrong way round
                continue
        facets = rng.choice([{}, {"outlet": ("RksNews",)}, {"actor": (LAVROV,), "outlet": ("Tanjug", "unknown")}])
        yield Asked(q=rng.choice(("", "", "talks", "kosovo NOT lavrov")), date_from=date_from, date_to=date_to,
                    certainty=rng.choice(("", "", "certain", "uncertain")), dated=rng.choice(("", "", "", "yes")),
                    **facets)


def test_random_date_filters_list_and_count_what_plain_python_finds(filtered: Settings, gazetteer: Gazetteer) -> None:
    with open_index(filtered).searcher() as searcher:
        assert len(searcher.leaf_searchers()) > 1 and searcher.reader().has_deletions()  # segments, deletions
        articles = stored(searcher)
        moments = [a.moment for a in articles if a.moment is not None]
        assert sum(a.moment is None for a in articles) >= 20
        asks = list(random_asks(random.Random(7), moments, 90))
        assert len(asks) >= 80
        for asked in asks:
            check(searcher, filtered, gazetteer, articles, asked)


def test_the_seed_index_agrees_with_plain_python(searcher: Searcher, seeded: Settings, gazetteer: Gazetteer) -> None:
    articles = stored(searcher)
    moments = [a.moment for a in articles if a.moment is not None]
    for asked in random_asks(random.Random(3), moments, 40):
        check(searcher, seeded, gazetteer, articles, asked, stemmed=True)
    for asked in (Asked(dated="no"), Asked(certainty="uncertain"), Asked(date_from="2018-09-21", date_to="2018-09-21"),
                  Asked(q="kosovo NOT lavrov", date_to="2018-09-21T00:00:00+02:00")):
        check(searcher, seeded, gazetteer, articles, asked, stemmed=True)


def test_undated_only_lists_exactly_what_a_date_filter_left_out(filtered: Settings, gazetteer: Gazetteer) -> None:
    with open_index(filtered).searcher() as searcher:
        articles = stored(searcher)
        check(searcher, filtered, gazetteer, articles, Asked(dated="no"))
        check(searcher, filtered, gazetteer, articles, Asked(q="talks", dated="no", outlet=("RksNews",)))
        dated = search(searcher, Asked(q="talks", date_from="2016").query(), filtered, gazetteer)
        undated = search(searcher, Asked(q="talks", dated="no").query(), filtered, gazetteer)
        assert dated.undated == undated.total > 0 and undated.undated == 0
        everything = search(searcher, Asked(q="talks").query(), filtered, gazetteer)
        assert everything.undated == 0  # no date filter: nothing left out
        assert everything.total == dated.total + undated.total  # every "talks" article is dated from 2016 on


def test_presets_count_back_from_the_moment_given(filtered: Settings, gazetteer: Gazetteer) -> None:
    with open_index(filtered).searcher() as searcher:
        articles = stored(searcher)
        for preset, reach in PRESETS.items():
            asked = Asked(preset=preset, first=(NOW - reach).astimezone(UTC).replace(tzinfo=None))
            check(searcher, filtered, gazetteer, articles, asked)
            check(searcher, filtered, gazetteer, articles, replace(asked, certainty="uncertain", q="talks"))
            page = search(searcher, asked.query(), filtered, gazetteer)
            assert page.date_bounds == (asked.first, None)  # no upper end: one dated ahead of NOW is in
        week = expected(articles, Asked(preset="week", first=(NOW - PRESETS["week"]).replace(tzinfo=None)))
        on_the_edge = {a.id for a in articles if a.moment == (NOW - PRESETS["week"]).replace(tzinfo=None)}
        a_second_early = {a.id for a in articles
                          if a.moment == (NOW - PRESETS["week"] - dt.timedelta(seconds=1)).replace(tzinfo=None)}
        assert on_the_edge <= week.ids and on_the_edge and a_second_early and not a_second_early & week.ids
        # "all" is no date filter at all: undated articles included, none left out.
        assert make_query(date_range="all", now=NOW) == make_query()
        everything = search(searcher, make_query(date_range="all", now=NOW), filtered, gazetteer)
        assert (everything.total, everything.undated, everything.date_bounds) == (len(articles), 0, None)


def test_explicit_dates_win_over_a_preset(filtered: Settings, gazetteer: Gazetteer) -> None:
    with open_index(filtered).searcher() as searcher:
        articles = stored(searcher)
        year_ago = (NOW - PRESETS["year"]).replace(tzinfo=None)
        check(searcher, filtered, gazetteer, articles, Asked(preset="year", first=year_ago, date_to="2026-03-01"))
        check(searcher, filtered, gazetteer, articles, Asked(preset="week", first=year_ago, date_from="2018-05"))
        page = search(searcher, make_query(date_range="year", date_to="2026-03-01", now=NOW), filtered, gazetteer)
        assert page.date_bounds == (year_ago, dt.datetime(2026, 3, 1, 23, 59, 59))


def test_a_preset_is_resolved_once_from_the_requests_moment() -> None:
    before = dt.datetime.now(UTC)
    query = make_query(date_range="week")
    assert query.now is not None and before <= query.now <= dt.datetime.now(UTC)
    assert make_query(date_from="2018").now is None  # only a preset needs the moment


# --- bad values: a 400 with a hint, on every surface -----------------------------------------

BAD = [
    ({"from": "yesterday"}, "is not a date"),
    ({"from": "14.09.2018"}, "is not a date"),
    ({"to": "2018-13"}, "there is no date"),
    ({"to": "2018-02-30"}, "there is no date"),
    ({"from": "2018-02-30T10:00:00Z"}, "is not a date"),
    ({"from": "2018-09-14T25:00"}, "is not a date"),
    ({"from": "0001-01-01T00:00:00+05:00"}, "is not a date"),  # before the first moment UTC can hold
    ({"from": "2018-09-14T10:00:00+99:00"}, "is not a date"),
    ({"from": "2" * 500}, "too long"),
    ({"from": "2019", "to": "2018-12-31"}, "end before they start"),
    ({"from": "2018-09-14T10:00:01Z", "to": "2018-09-14T10:00:00Z"}, "end before they start"),
    ({"range": "day"}, "unknown range"),
    ({"dated": "maybe"}, "unknown dated"),
    ({"certainty": "sure"}, "unknown certainty"),
    ({"dated": "no", "from": "2018"}, "dated=no"),
    ({"dated": "no", "range": "week"}, "dated=no"),
    ({"dated": "no", "certainty": "uncertain"}, "dated=no"),
]


@pytest.mark.parametrize(("params", "message"), BAD, ids=[str(p) for p, _ in BAD])
def test_a_bad_date_value_is_a_400_with_a_hint_everywhere(client: FlaskClient, params: dict[str, str],
                                                          message: str) -> None:
    api = client.get("/api/search", query_string={"q": "Kosovo", **params})
    assert api.status_code == 400 and message in api.get_json()["error"] and api.get_json()["hint"]
    page = client.get("/", query_string=params)
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert 'class="hint"' in page.text and message.lower() in page.text.replace("&#39;", "'").lower()
    feed = client.get("/search.atom", query_string=params)
    assert feed.status_code == 400 and feed.mimetype == "application/problem+xml"
    assert "<detail>" in feed.text and message.lower() in feed.text.replace("&#39;", "'").lower()


def test_a_bad_date_is_a_query_error_for_python_callers_too() -> None:
    with pytest.raises(QueryError, match="is not a date") as caught:
        make_query(date_from="soon")
    assert caught.value.hint and "UTC" in caught.value.hint


# --- the page, the API and Atom ------------------------------------------------------------------

ONE_ARTICLE = re.compile(r"<strong>1</strong> article\s")


def test_the_api_says_what_it_left_out_and_how_it_read_the_dates(client: FlaskClient) -> None:
    data = client.get("/api/search", query_string={"from": "2018-09", "to": "2018-09-21T12:00:00+02:00"}).get_json()
    assert (data["total"], data["undated"]) == (1, 4)
    assert data["dates"] == {"from": "2018-09", "to": "2018-09-21T12:00:00+02:00",
                             "first": "2018-09-01T00:00:00Z", "last": "2018-09-21T10:00:00Z"}
    [hit] = data["hits"]
    assert (hit["published"], hit["published_source"], hit["date_uncertain"]) == (
        "2018-09-21", "text: dated caption '…, 21 September 2018.' of a report on a meeting held 'today'", True)
    undated = client.get("/api/search", query_string={"dated": "no", "per_page": 100}).get_json()
    assert undated["total"] == 4 and {h["date_uncertain"] for h in undated["hits"]} == {None}
    assert client.get("/api/search", query_string={"certainty": "certain"}).get_json()["total"] == 0


def test_the_page_shows_the_filter_removably_and_links_the_undated(client: FlaskClient) -> None:
    html = client.get("/", query_string={"q": "Kosovo", "from": "2018-01-01", "outlet": "unknown"}).text
    assert ONE_ARTICLE.search(html)
    assert re.search(r'<p class="undated">2 undated articles not shown\s*· <a href="/\?q=Kosovo&amp;outlet=unknown&amp;'
                     r'dated=no">list them</a>', html)
    chip = re.search(r'<a class="chip" href="([^"]+)"[^>]*data-date="from">From: 2018-01-01', html)
    assert chip and chip.group(1) == "/?q=Kosovo&amp;outlet=unknown"  # removing it keeps the rest
    assert 'value="2018-01-01"' in html and "(date uncertain)" in html
    assert html.count('<input type="hidden" name="q" value="Kosovo">') == 1  # the date form keeps the query...
    assert '<input type="hidden" name="outlet" value="unknown">' in html  # ...and the facet filters


def test_the_date_form_and_the_presets_keep_the_other_parameters(client: FlaskClient) -> None:
    html = client.get("/", query_string={"q": "Kosovo", "sort": "date", "range": "week", "certainty": "uncertain"}).text
    form = re.search(r'<form class="date-range" method="get" action="/">(.*?)</form>', html, re.DOTALL)
    assert form is not None
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(1)))
    assert hidden == {"q": "Kosovo", "sort": "date", "certainty": "uncertain"}  # the dates replace the preset
    assert '<strong aria-current="true">Past week</strong>' in html and "(since " in html
    presets = dict(re.findall(r'<a href="([^"]+)" data-range="([^"]+)">', html))
    assert {value: dict(parse_qsl(urlsplit(url.replace("&amp;", "&")).query)) for url, value in presets.items()} == {
        "24h": {"q": "Kosovo", "sort": "date", "range": "24h", "certainty": "uncertain"},
        "month": {"q": "Kosovo", "sort": "date", "range": "month", "certainty": "uncertain"},
        "year": {"q": "Kosovo", "sort": "date", "range": "year", "certainty": "uncertain"},
        "all": {"q": "Kosovo", "sort": "date", "certainty": "uncertain"},
    }
    submitted = client.get("/", query_string={**hidden, "from": "2018-09-01", "to": "2018-09-30"})
    assert submitted.status_code == 200 and ONE_ARTICLE.search(submitted.text)


def test_a_month_or_year_fills_the_date_fields_with_the_same_days(client: FlaskClient) -> None:
    html = client.get("/", query_string={"from": "2018-02", "to": "2018"}).text
    assert 'name="from" value="2018-02-01"' in html and 'name="to" value="2018-12-31"' in html
    moment = client.get("/", query_string={"from": "2018-09-21T10:00:00+02:00"}).text
    assert 'name="from" value=""' in moment and "From: 2018-09-21T10:00:00+02:00" in moment  # shown as a chip


def test_the_atom_twin_honours_the_date_filter_and_names_it(client: FlaskClient) -> None:
    feed = client.get("/search.atom", query_string={"q": "Kosovo", "dated": "no"})
    assert feed.status_code == 200
    assert feed.text.count("<entry>") == 4 and "2018-09-21" not in feed.text
    assert "<title>Newsdesk: Kosovo · undated only</title>" in feed.text
    assert 'href="http://127.0.0.1:8000/?q=Kosovo&amp;dated=no"' in feed.text  # its page, with the filter
    page = client.get("/", query_string={"q": "Kosovo", "range": "year"}).text
    assert 'href="/search.atom?q=Kosovo&amp;range=year"' in page  # the page's feed, with the filter
    titled = client.get("/search.atom", query_string={"from": "2018-09", "certainty": "uncertain"}).text
    assert "<title>Newsdesk: all articles · from: 2018-09 · date: uncertain only</title>" in titled


# --- saved searches and alerts -----------------------------------------------------------------


def test_a_saved_search_keeps_its_date_filter_as_asked(fresh: Settings) -> None:
    user = add_user(fresh, "ana@example.org", "a long password")
    query = SearchQuery(q="Lavrov", date_range="week", date_to="2026-12-31", certainty="certain",
                        now=NOW, page=2)
    saved = save_search(fresh, user.id, "this week", query)
    again = get_saved(fresh, user.id, saved.id)
    assert again == saved and [s.id for s in list_saved(fresh, user.id)] == [saved.id]
    assert again.query == SearchQuery(q="Lavrov", date_range="week", date_to="2026-12-31", certainty="certain")
    assert again.query.now is None  # a preset stays relative: each run counts back from its own moment
    edited = update_saved(fresh, user.id, saved.id, query=SearchQuery(q="Lavrov", date_from="2018-09-21T10:00Z"))
    assert get_saved(fresh, user.id, saved.id).query.dates() == {"from": "2018-09-21T10:00:00+00:00"} == \
        edited.query.dates()
    with pytest.raises(QueryError, match="is not a date"):
        save_search(fresh, user.id, "broken", SearchQuery(date_from="soon"))
    with pytest.raises(QueryError, match="dated=no"):
        update_saved(fresh, user.id, saved.id, query=SearchQuery(dated="no", date_range="week"))


#: The saved_searches table as it was before date filters.
OLD_TABLE = """
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
                    timezone TEXT NOT NULL DEFAULT 'UTC', created TEXT NOT NULL);
CREATE TABLE saved_searches (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL, q TEXT NOT NULL, filters TEXT NOT NULL, frequency TEXT NOT NULL, hour INTEGER NOT NULL,
    weekday INTEGER NOT NULL, email INTEGER NOT NULL, feed INTEGER NOT NULL, first_of_cluster INTEGER NOT NULL,
    watermark INTEGER NOT NULL, feed_nonce TEXT NOT NULL, created TEXT NOT NULL, last_run TEXT
);
INSERT INTO users VALUES (1, 'old@example.org', 'scrypt:x', 'UTC', '2025-01-01T00:00:00+00:00');
INSERT INTO saved_searches VALUES (7, 1, 'old one', 'kosovo', '{"outlet": ["RksNews"]}', 'daily', 8, 0, 1, 1, 0, 3,
                                   'nonce', '2025-01-01T00:00:00+00:00', NULL);
"""


def test_a_saved_searches_table_from_before_date_filters_gains_the_column(fresh: Settings) -> None:
    fresh.index.mkdir(parents=True)
    with sqlite3.connect(fresh.index / "state.sqlite") as db:
        db.executescript(OLD_TABLE)
    [old] = list_saved(fresh)
    assert (old.id, old.query) == (7, SearchQuery(q="kosovo", outlet=("RksNews",)))  # no date filter
    with sqlite3.connect(fresh.index / "state.sqlite") as db:
        columns = {row[1]: row for row in db.execute("PRAGMA table_info(saved_searches)")}
    assert columns["dates"][2:5] == ("TEXT", 1, "'{}'")  # not null, empty by default
    renamed = update_saved(fresh, 1, 7, name="old one, this year", query=replace(old.query, date_range="year"))
    assert get_saved(fresh, 1, 7) == renamed and renamed.query.date_range == "year"
    assert list_saved(fresh)[0].watermark == 3  # the runner's columns untouched


def dated_article(gazetteer: Gazetteer, n: int, published: dt.date | dt.datetime | None,
                  source: str | None = "meta") -> Article:
    return enrich(Article(id=f"a{n:05d}", title=f"Lavrov in Belgrade, part {n}",
                          text="Russian Foreign Minister Sergey Lavrov met Serbian officials to discuss Kosovo.",
                          origin=f"test:{n}", outlet="Tanjug", published=published,
                          published_source=source if published else None), gazetteer, 0)


def delivered(settings: Settings, saved_id: int, gazetteer: Gazetteer) -> set[str]:
    saved = next(s for s in list_saved(settings) if s.id == saved_id)
    with open_index(settings).searcher() as searcher:
        return {entry.hit.id for entry in feed_page(settings, saved, EmbeddedReader(searcher, settings, gazetteer), limit=100).entries}


def test_an_alert_on_a_preset_takes_the_week_before_each_run(fresh: Settings, gazetteer: Gazetteer) -> None:
    write_articles([dated_article(gazetteer, 0, dt.date(2018, 1, 1))], fresh)  # an index, before the alerts
    user = add_user(fresh, "ana@example.org", "a long password")
    week = save_search(fresh, user.id, "this week", SearchQuery(q="Lavrov", date_range="week"), email=False)
    fixed = save_search(fresh, user.id, "2018", SearchQuery(q="Lavrov", date_from="2018", date_to="2018"),
                        email=False)
    guessed = save_search(fresh, user.id, "guessed", SearchQuery(q="Lavrov", certainty="uncertain"), email=False)
    run = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(minutes=1)
    first = [dated_article(gazetteer, 1, run - dt.timedelta(days=2)),
             dated_article(gazetteer, 2, run - dt.timedelta(days=10)),
             dated_article(gazetteer, 3, None),
             dated_article(gazetteer, 4, dt.date(2018, 6, 1), source="htmldate"),
             dated_article(gazetteer, 5, (run - dt.timedelta(days=1)).date(), source="sitemap")]
    write_articles(first, fresh)
    assert run_alerts(fresh, now=run).evaluated == 3
    assert delivered(fresh, week.id, gazetteer) == {"a00001", "a00005"}
    assert delivered(fresh, fixed.id, gazetteer) == {"a00004"}
    assert delivered(fresh, guessed.id, gazetteer) == {"a00004", "a00005"}

    later = run + dt.timedelta(days=30)  # a month on: "this week" is the week before this run
    write_articles([dated_article(gazetteer, 6, later - dt.timedelta(days=3)),
                    dated_article(gazetteer, 7, run - dt.timedelta(days=1)),  # new now, but a month old
                    dated_article(gazetteer, 8, dt.datetime(2018, 12, 31, 23, 30, tzinfo=UTC))], fresh)
    run_alerts(fresh, now=later)
    assert delivered(fresh, week.id, gazetteer) == {"a00001", "a00005", "a00006"}
    assert delivered(fresh, fixed.id, gazetteer) == {"a00004", "a00008"}  # fixed dates stay fixed


def test_an_alert_mails_only_what_its_date_filter_takes(fresh: Settings, gazetteer: Gazetteer,
                                                        inbox: tuple[Any, int]) -> None:
    mail, port = inbox
    settings = replace(fresh, smtp_host="127.0.0.1", smtp_port=port, base_url="https://news.example")
    write_articles([dated_article(gazetteer, 0, dt.date(2018, 1, 1))], settings)
    user = add_user(settings, "ana@example.org", "a long password")
    save_search(settings, user.id, "today", SearchQuery(q="Lavrov", date_range="24h"))
    run = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(minutes=1)
    write_articles([dated_article(gazetteer, 1, run - dt.timedelta(hours=2)),
                    dated_article(gazetteer, 2, run - dt.timedelta(days=3))], settings)
    assert run_alerts(settings, now=run).sent == 1
    [message] = mail.messages
    text = str(message.get_body(("plain",)).get_content())
    assert "https://news.example/articles/a00001" in text and "a00002" not in text


def test_a_saved_date_filter_is_listed_run_and_edited_on_the_web(seeded: Settings, tmp_path: Path) -> None:
    settings = own_instance(seeded, tmp_path)
    user = make_user(settings, "ana@example.org")
    saved = save_search(settings, user.id, "Kosovo, guessed dates",
                        SearchQuery(q="Kosovo", date_range="year", certainty="uncertain"))
    ana = make_app(settings).test_client()
    log_in(ana, "ana@example.org")
    listing = ana.get("/saved").text
    assert "Published: past year" in listing and "Date: uncertain only" in listing
    run = re.search(r'<a class="run" href="([^"]+)"', listing)
    assert run and dict(parse_qsl(urlsplit(run.group(1).replace("&amp;", "&")).query)) == {
        "q": "Kosovo", "range": "year", "certainty": "uncertain"}
    edit = f"/saved/{saved.id}/edit"
    form = dict(form_fields(ana.get(edit).text, edit))
    assert (form["range"], form["certainty"]) == ("year", "uncertain")  # ticked boxes, to untick
    assert submit(ana, edit, edit, certainty=None).status_code == 302
    assert get_saved(settings, user.id, saved.id).query.dates() == {"range": "year"}
    refused = submit(ana, edit, edit, range="fortnight")
    assert refused.status_code == 400 and "unknown range" in refused.text.replace("&#39;", "'").lower()


def test_save_this_search_on_a_results_page_keeps_its_date_filter(seeded: Settings, tmp_path: Path) -> None:
    settings = own_instance(seeded, tmp_path)
    make_user(settings, "ana@example.org")
    ana = make_app(settings).test_client()
    log_in(ana, "ana@example.org")
    assert submit(ana, "/?q=Kosovo&range=year&certainty=uncertain", "/saved").status_code == 302
    [saved] = list_saved(settings)
    assert saved.query.dates() == {"range": "year", "certainty": "uncertain"}


def test_a_new_query_from_the_search_box_keeps_the_date_filter(client: FlaskClient) -> None:
    page = client.get("/?q=Kosovo&range=year&dated=yes").get_data(as_text=True)
    box = page[page.index('<form class="searchbox"'):page.index("</form>", page.index('<form class="searchbox"'))]
    assert '<input type="hidden" name="range" value="year">' in box
    assert '<input type="hidden" name="dated" value="yes">' in box


def test_the_command_line_takes_the_same_date_filter(seeded: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from web.cli import main

    index = ("--index", str(seeded.index))
    assert main(["search", "", "--dated", "no", "--json", *index]) == 0
    undated = json.loads(capsys.readouterr().out)
    assert main(["search", "", "--dated", "yes", "--json", *index]) == 0
    dated = json.loads(capsys.readouterr().out)
    assert main(["search", "", "--json", *index]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert undated["total"] + dated["total"] == everything["total"] and undated["total"] > 0 < dated["total"]
    assert main(["search", "", "--from", "2018-13-01", *index]) == 1  # the page's own check: a month 13
    assert "2018-13-01" in capsys.readouterr().err
