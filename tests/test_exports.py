"""Downloads of a search: ``/search.csv`` and ``/search.jsonl``, every match, streamed.

The oracles: plain Python over the stored articles (which articles match,
how many copies each cluster holds, newest first), and the JSON API paged
through to the end (the page's relevance order), for the seed corpus and
generated ones of one article, a few hundred and 10,000 (built once per
session, in a few seconds: articles written straight to the index, no
cleaning or enrichment). The generated articles carry what breaks files:
commas, quotes and line breaks in titles and outlets, Cyrillic, an emoji,
U+2028, cells a spreadsheet would run as formulas; clusters spread over
several segments, some copies deleted.

Served for real (waitress on 127.0.0.1) where the transport matters: a
failure after the first byte must leave a file no client takes for whole.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import http.client
import importlib
import io
import json
import logging
import random
import re
import shutil
import tracemalloc
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from chromium import MISSING, WAIT, served, start_chromium
from search.enrich import Gazetteer
from search.index import from_stored, open_index, write_articles
from search.query import EXPORT_COLUMNS
from search.records import CERTAIN_DATE_SOURCES, Article, SearchQuery, StoredArticle
from search.settings import Settings
from web import create_app

#: The module (``search.query.export`` the attribute is the function of that name).
export_module = importlib.import_module("search.query.export")

#: Real gazetteer ids, so the names column has names in it; one the gazetteer does not know.
ACTORS = ("Q58217", "Q403", "Q1246", "Q159", "not-in-the-gazetteer")
OUTLETS = ("Balkan Wire", 'Daily "Observer", Belgrade', "Телеграф", "=Formula Outlet")
#: Words that neither stem nor fold into one another: plain Python can tell which texts hold them.
WORDS = ("zebra", "quartz", "violin", "meadow", "copper", "lantern")
TITLES = (
    'Talks on "the bridge", round {n}',
    "Line one\nline two, {n}",
    "Лавров и Вучич {n}",
    '=HYPERLINK("http://evil.example/?{n}","click")',
    "+{n} in a survey",
    "-{n}% in a year",
    "@SUM(A1:A{n})",
    "\tTabbed {n}",
    "Emoji 🗞 and a line separator\u2028here {n}",
    "Plain title, 2+2=4 @ -1%: {n}",
)
#: What Chromium sends when it follows a link (a download's too).
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
#: The first characters of a cell that must not reach a spreadsheet as they are.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")


# --- generated corpora ------------------------------------------------------------------------------------


def generated(count: int, seed: int = 18) -> list[Article]:
    """``count`` articles: one story each, but every seventh story carried by two or three outlets as exact copies."""
    rng = random.Random(seed)
    articles: list[Article] = []
    story = 0
    while len(articles) < count:
        story += 1
        outlets = rng.sample(OUTLETS, rng.randint(2, 3)) if story % 7 == 0 else [rng.choice(OUTLETS)]
        title = TITLES[story % len(TITLES)].format(n=story)
        text = f"Story {story}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + "."
        published = _date(rng)
        for outlet in outlets[: count - len(articles)]:
            articles.append(Article(
                id=f"g{story:05d}-{OUTLETS.index(outlet)}", title=title, text=text, origin="generated",
                url=f"https://outlet-{OUTLETS.index(outlet)}.example/news/story-{story}-" + text[-40:].replace(" ", "-"),
                outlet=outlet, author=rng.choice([None, 'Ana O\'Brien, "Jr."', "Јована Петровић"]),
                published=published, published_source=rng.choice([None, "manifest", "htmldate"]),
                language=rng.choice(["en", "sr", "ru", None]),
                actors=rng.sample(ACTORS, rng.randint(0, 3)),
            ))
    return articles


def _date(rng: random.Random) -> dt.date | dt.datetime | None:
    """No date, a day, or a moment in whole seconds (UTC or +02:00), a few to a day: ties in the newest-first order."""
    kind = rng.randrange(4)
    day = dt.date(2016 + rng.randrange(4), 1 + rng.randrange(12), 1 + rng.randrange(28))
    if kind == 0:
        return None
    if kind == 1:
        return day
    zone = dt.UTC if kind == 2 else dt.timezone(dt.timedelta(hours=2))
    return dt.datetime(day.year, day.month, day.day, 12, rng.choice((0, 30)), tzinfo=zone)


def build(settings: Settings, articles: list[Article]) -> Settings:
    """The articles in four commits (four segments at least), then every 13th deleted."""
    batch = max(1, len(articles) // 4)
    for start in range(0, len(articles), batch):
        write_articles(articles[start:start + batch], dataclasses.replace(settings, batch_size=batch))
    writer = open_index(settings).writer()
    for article in articles[::13][1:]:
        writer.delete_by_term("id", article.id)
    writer.commit()
    return settings


@pytest.fixture(scope="session")
def one(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(index=tmp_path_factory.mktemp("one-article"))
    write_articles(generated(1), settings)
    return settings


@pytest.fixture(scope="session")
def hundreds(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build(Settings(index=tmp_path_factory.mktemp("hundreds")), generated(400))


@pytest.fixture(scope="session")
def ten_thousand(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build(Settings(index=tmp_path_factory.mktemp("ten-thousand")), generated(10_000))


def client_of(settings: Settings) -> FlaskClient:
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()


# --- reading what the server wrote ------------------------------------------------------------------------


def csv_rows(data: bytes) -> list[dict[str, str]]:
    """The CSV as the csv module reads it back (the byte order mark read as such)."""
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def jsonl_rows(data: bytes) -> list[dict[str, Any]]:
    text = data.decode("utf-8")
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.split("\n")[:-1]]


def download(client: FlaskClient, path: str, params: str) -> bytes:
    answer = client.get(f"{path}?{params}")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return answer.get_data()


def api_ids(client: FlaskClient, params: str) -> list[str]:
    """Every hit's id, the JSON API paged through 100 at a time: the results pages' order."""
    ids: list[str] = []
    page = 1
    while True:
        data = client.get(f"/api/search?{params}&per_page=100&page={page}").get_json()
        ids += [hit["id"] for hit in data["hits"]]
        if page * 100 >= data["total"]:
            assert len(ids) == data["total"]
            return ids
        page += 1


def stored(settings: Settings) -> list[tuple[int, StoredArticle]]:
    """Every live article with its document number: the plain-Python side of every oracle."""
    with open_index(settings).searcher() as searcher:
        return [(docnum, from_stored(fields)) for docnum, fields in searcher.reader().iter_docs()]


def newest_first(articles: list[tuple[int, StoredArticle]]) -> list[str]:
    """Newest first to the second, undated last, ties by ingest number: how the page sorts by date."""
    def key(item: tuple[int, StoredArticle]) -> tuple[int, int]:
        moment = item[1].published_utc
        return (-int(moment.strftime("%Y%m%d%H%M%S")) if moment else 0, item[1].seq)
    return [article.id for _, article in sorted(articles, key=key)]


def words_of(article: StoredArticle) -> list[str]:
    return re.findall(r"\w+", article.text.casefold())


#: Query parameters and which stored articles they match, in plain Python.
Oracle = Callable[[StoredArticle], bool]
SEARCHES: dict[str, Oracle] = {
    "": lambda a: True,
    "q=zebra": lambda a: "zebra" in words_of(a),
    "q=zebra+quartz&sort=date": lambda a: {"zebra", "quartz"} <= set(words_of(a)),
    "q=zebra+OR+violin": lambda a: bool({"zebra", "violin"} & set(words_of(a))),
    "q=meadow+NOT+copper": lambda a: "meadow" in words_of(a) and "copper" not in words_of(a),
    "q=%22copper+lantern%22": lambda a: "copper lantern" in " ".join(words_of(a)),
    "q=lantern&outlet=Balkan+Wire&outlet=%3DFormula+Outlet": lambda a: "lantern" in words_of(a)
    and a.outlet in ("Balkan Wire", "=Formula Outlet"),
    "actor=Q58217&language=sr": lambda a: "Q58217" in a.actors and a.language == "sr",
    "year=2017&year=unknown&sort=date": lambda a: a.year in ("2017", "unknown"),
    "from=2017&to=2018-06": lambda a: a.published_utc is not None
    and dt.datetime(2017, 1, 1) <= a.published_utc < dt.datetime(2018, 7, 1),
    "q=zebra&dated=no": lambda a: "zebra" in words_of(a) and a.published is None,
    "q=meadow+NOT+copper&from=2017": lambda a: "meadow" in words_of(a) and "copper" not in words_of(a)
    and a.published_utc is not None and a.published_utc >= dt.datetime(2017, 1, 1),
    "certainty=uncertain&sort=date": lambda a: a.published is not None
    and a.published_source not in CERTAIN_DATE_SOURCES,
}


# --- every match once, in the page's order ----------------------------------------------------------------


#: Every search on the small corpora; at 10k, three suffice: everything, scored, newest first.
CORPUS_SEARCHES = [(corpus, params) for corpus in ("one", "hundreds") for params in SEARCHES] + [
    ("ten_thousand", params) for params in ("", "q=zebra+OR+violin", "year=2017&year=unknown&sort=date")]


@pytest.mark.parametrize(("corpus", "params"), CORPUS_SEARCHES)
def test_an_export_lists_every_match_once_in_the_pages_order(
        corpus: str, params: str, request: pytest.FixtureRequest) -> None:
    settings: Settings = request.getfixturevalue(corpus)
    client = client_of(settings)
    articles = stored(settings)
    matching = [(docnum, a) for docnum, a in articles if SEARCHES[params](a)]

    from_csv = [row["id"] for row in csv_rows(download(client, "/search.csv", params))]
    from_jsonl = [row["id"] for row in jsonl_rows(download(client, "/search.jsonl", params))]

    assert from_csv == from_jsonl == api_ids(client, params)
    assert sorted(from_csv) == sorted(a.id for _, a in matching)  # each match, once
    if "sort=date" in params or not params or params.startswith(("actor", "year", "from")):
        assert from_csv == newest_first(matching)


@pytest.mark.parametrize("params", ["", "q=Kosovo", "q=Lavrov+OR+Putin", "q=Kosovo&sort=date",
                                    "actor=Q58217&outlet=unknown", "q=%D0%9B%D0%B0%D0%B2%D1%80%D0%BE%D0%B2"])
def test_the_seed_corpus_exports_as_its_pages_list_it(client: FlaskClient, params: str) -> None:
    from_csv = [row["id"] for row in csv_rows(download(client, "/search.csv", params))]
    assert from_csv == api_ids(client, params)
    assert from_csv == [row["id"] for row in jsonl_rows(download(client, "/search.jsonl", params))]


def test_the_page_and_per_page_of_a_page_do_not_cut_an_export(hundreds: Settings) -> None:
    client = client_of(hundreds)
    everything = download(client, "/search.csv", "")
    assert download(client, "/search.csv", "page=3&per_page=7") == everything
    assert len(csv_rows(everything)) == len(stored(hundreds)) > 300


# --- the rows hold what the index holds --------------------------------------------------------------------


def test_each_row_holds_the_stored_article_and_its_clusters_live_copies(hundreds: Settings,
                                                                         gazetteer: Gazetteer) -> None:
    articles = [a for _, a in stored(hundreds)]
    clusters = Counter(a.cluster for a in articles)
    expected = {a.id: {
        "id": a.id, "url": a.url, "title": a.title, "outlet": a.outlet, "author": a.author,
        "published": a.published.isoformat() if a.published else None, "published_source": a.published_source,
        "language": a.language, "actor_ids": list(a.actors), "actor_names": [gazetteer.label(x) for x in a.actors],
        "cluster": a.cluster, "copies": clusters[a.cluster],
    } for a in articles}

    rows = jsonl_rows(download(client_of(hundreds), "/search.jsonl", ""))

    assert {row["id"]: row for row in rows} == expected
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert max(clusters.values()) > 1 and 1 in clusters.values()  # syndicated copies, and articles alone
    assert any(row["copies"] == 1 and row["cluster"] != row["id"] for row in rows)  # a copy whose others were deleted


def test_the_api_agrees_on_every_rows_copies(hundreds: Settings) -> None:
    client = client_of(hundreds)
    rows = jsonl_rows(download(client, "/search.jsonl", ""))
    page = client.get("/api/search?per_page=100&page=2").get_json()["hits"]
    copies = {row["id"]: row["copies"] for row in rows}
    assert [copies[hit["id"]] for hit in page] == [hit["copies"] for hit in page]


def test_csv_read_back_gives_the_rows_of_json_lines(hundreds: Settings) -> None:
    client = client_of(hundreds)
    from_jsonl = jsonl_rows(download(client, "/search.jsonl", ""))
    from_csv = csv_rows(download(client, "/search.csv", ""))
    assert [as_json(row) for row in from_csv] == from_jsonl


def as_json(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as its JSON Lines twin states it: the lists split, numbers read, empty cells null,
    and a defused formula's leading quote taken off again."""
    def value(text: str) -> str:
        return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text

    data: dict[str, Any] = {name: value(text) or None for name, text in row.items()}
    for name in ("actor_ids", "actor_names"):
        data[name] = data[name].split(";") if data[name] else []
    data["copies"] = int(data["copies"])
    return data


def test_no_cell_of_the_csv_starts_a_formula(hundreds: Settings) -> None:
    text = download(client_of(hundreds), "/search.csv", "").decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    defused = [cell for cell in cells if cell.startswith("'")]
    assert {cell[1] for cell in defused} == {"=", "+", "-", "@", "\t"}  # each kind in the corpus, each defused
    assert "'=Formula Outlet" in defused and "'=HYPERLINK(\"http://evil.example/?3\",\"click\")" in defused
    assert "Plain title, 2+2=4 @ -1%: 9" in cells  # only a cell's first character counts


def test_titles_survive_commas_quotes_line_breaks_and_any_script(hundreds: Settings) -> None:
    client = client_of(hundreds)
    data = download(client, "/search.csv", "")
    in_csv = {row["title"] for row in csv_rows(data)}
    in_jsonl = {row["title"] for row in jsonl_rows(download(client, "/search.jsonl", ""))}
    for title in ('Talks on "the bridge", round 10', "Line one\nline two, 1", "Лавров и Вучич 2",
                  "Emoji 🗞 and a line separator\u2028here 8"):
        assert title in in_csv and title in in_jsonl
    # RFC 4180 on the wire: quotes doubled inside a quoted field, the line break kept inside it, CRLF between rows.
    assert b'"Talks on ""the bridge"", round 10"' in data
    assert b'"Line one\nline two, 1"' in data
    assert data.count(b"\r\n") == len(csv_rows(data)) + 1


def test_json_lines_escape_the_separators_line_readers_split_on(hundreds: Settings) -> None:
    data = download(client_of(hundreds), "/search.jsonl", "")
    text = data.decode("utf-8")
    assert "\u2028" not in text and "\\u2028" in text
    assert len(text.splitlines()) == len(jsonl_rows(data)) == len(stored(hundreds))
    assert "Лавров" in text  # UTF-8 as such, not \\u escapes


def test_the_csv_starts_with_a_byte_order_mark_unless_told_not_to(client: FlaskClient) -> None:
    with_mark = download(client, "/search.csv", "q=Kosovo")
    without = download(client, "/search.csv", "q=Kosovo&bom=0")
    assert with_mark.startswith(b"\xef\xbb\xbfid,url,title,")
    assert without == with_mark[3:]


# --- HTTP: types, names, totals, errors --------------------------------------------------------------------


def test_downloads_say_their_type_name_and_row_count(client: FlaskClient) -> None:
    answer = client.get("/search.csv?q=%D0%9B%D0%B0%D0%B2%D1%80%D0%BE%D0%B2&actor=Q58217")
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="newsdesk-lavrov-sergey-lavrov.csv"'
    assert answer.headers["X-Total-Count"] == str(len(csv_rows(answer.get_data())))
    answer = client.get("/search.csv?q=Kosovo&from=2018-09&range=week")
    assert answer.headers["Content-Disposition"] == \
        'attachment; filename="newsdesk-kosovo-from-2018-09-range-week.csv"'
    answer = client.get("/search.jsonl")
    assert answer.headers["Content-Type"] == "application/x-ndjson"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="newsdesk-all-articles.jsonl"'
    assert answer.headers["X-Total-Count"] == "5"


REFUSED = ["q=%22unclosed", "q=color:red", "sort=random", "page=0", "per_page=500", "q=body:*", "facet=colour",
           "from=yesterday", "dated=no&from=2018"]


@pytest.mark.parametrize(("path", "params"), [("/search.csv", params) for params in [*REFUSED, "bom=yes"]]
                         + [("/search.jsonl", params) for params in REFUSED])
def test_unusable_parameters_are_a_400_with_the_pages_hint(client: FlaskClient, path: str, params: str) -> None:
    # A browser following a download link gets the error page, a program the API's JSON: the same words.
    answer = client.get(f"{path}?{params}", headers={"Accept": BROWSER_ACCEPT})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400 and answer.mimetype == "text/html"
    assert "Hint:" in html and "Traceback" not in html
    program = client.get(f"{path}?{params}")
    assert program.status_code == 400 and program.mimetype == "application/json"
    assert set(program.get_json()) == {"error", "hint"}
    error = program.get_json()["error"]
    assert unescape(_message(html)) == f"{error[:1].upper()}{error[1:]}."  # the page writes it as a sentence
    page = client.get(f"/?{params}")
    if page.status_code == 400:  # a search parameter: refused in the same words as the page
        assert _message(html) == _message(page.get_data(as_text=True))
        assert program.get_json() == client.get(f"/api/search?{params}").get_json()


def _message(html: str) -> str:
    return re.search(r'<p class="message">(.*?)</p>', html).group(1)


def test_an_export_that_would_not_list_what_the_search_counts_stops_before_its_first_byte(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    searched = export_module.search

    def one_more(*args: Any, **kwargs: Any) -> Any:  # as if the page's search applied a filter the export does not
        page = searched(*args, **kwargs)
        return dataclasses.replace(page, total=page.total + 1)

    monkeypatch.setattr(export_module, "search", one_more)
    answer = client.get("/search.csv?q=Kosovo")
    assert answer.status_code == 500
    assert "the export found 5 articles where the search counts 6" in answer.get_data(as_text=True)


def test_every_search_parameter_is_one_the_export_applies() -> None:
    """A parameter added to ``SearchQuery`` must be applied by search/query/export.py too (then list it here):
    an export must list what the page counts. The export selects as the page does (``select``), and refuses
    to start when its count differs all the same."""
    applied = {"q", "outlet", "actor", "year", "language", "sort", "page", "per_page", "facet_limit",
               "date_from", "date_to", "date_range", "dated", "certainty", "now"}
    # How a page groups and counts copies, and where it starts, which an export sets aside: it lists every
    # article from the first (test_stories.py, test_cursor_paging.py).
    set_aside = {"collapse", "count", "after"}
    assert {field.name for field in dataclasses.fields(SearchQuery)} == applied | set_aside


# --- facet tables ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("facet", ["outlet", "actor", "year", "language"])
@pytest.mark.parametrize("params", ["", "q=zebra&outlet=Balkan+Wire"])
def test_a_facet_table_has_the_pages_counts_for_every_value(hundreds: Settings, facet: str, params: str) -> None:
    client = client_of(hundreds)
    table = csv_rows(download(client, "/search.csv", f"{params}&facet={facet}"))
    shown = client.get(f"/api/search?{params}&facet_limit=1000").get_json()["facets"][facet]

    assert [(row["value"].removeprefix("'"), row["label"].removeprefix("'"), int(row["count"])) for row in table] \
        == [(f["value"], f["label"], f["count"]) for f in shown]
    assert jsonl_rows(download(client, "/search.jsonl", f"{params}&facet={facet}")) \
        == [{"value": f["value"], "label": f["label"], "count": f["count"]} for f in shown]


def test_a_facet_table_counts_what_plain_python_counts(ten_thousand: Settings) -> None:
    articles = [a for _, a in stored(ten_thousand)]
    client = client_of(ten_thousand)
    for facet, values in (("outlet", lambda a: [a.outlet]), ("actor", lambda a: list(a.actors)),
                          ("year", lambda a: [a.year]), ("language", lambda a: [a.language])):
        table = jsonl_rows(download(client, "/search.jsonl", f"facet={facet}"))
        assert {row["value"]: row["count"] for row in table} == Counter(v for a in articles for v in values(a))
        assert [row["count"] for row in table] == sorted((row["count"] for row in table), reverse=True)


def test_facet_tables_are_named_after_the_search_and_the_facet(client: FlaskClient) -> None:
    answer = client.get("/search.csv?q=Kosovo&facet=outlet")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="newsdesk-kosovo-by-outlet.csv"'
    assert csv_rows(answer.get_data())[0] == {"value": "unknown", "label": "Unknown", "count": "3"}


# --- the links on every results page ---------------------------------------------------------------------


@pytest.mark.parametrize("params", ["", "q=Kosovo", "q=Kosovo&actor=Q58217&sort=date&page=2&per_page=2"])
def test_every_results_page_links_its_downloads_beside_a_visible_feed_link(client: FlaskClient,
                                                                            params: str) -> None:
    html = client.get(f"/?{params}").get_data(as_text=True)
    block = re.search(r'<p class="exports">.*?</p>', html, re.DOTALL)
    assert block, "the downloads line"
    links = {text: urllib.parse.unquote(href.replace("&amp;", "&"))
             for href, text in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', block.group(0))}
    page_params = "&".join(p for p in params.split("&") if p and not p.startswith(("page=", "per_page=")))
    assert links["CSV"] == f"/search.csv?{page_params}".rstrip("?")
    assert links["JSON Lines"] == f"/search.jsonl?{page_params}".rstrip("?")
    assert links["Atom feed"] == f"/search.atom?{params}".rstrip("?")
    assert links["Outlet"] == f"/search.csv?{page_params}&facet=outlet".replace("?&", "?")
    exported = [row["id"] for row in csv_rows(client.get(links["CSV"]).get_data())]
    page = client.get(f"/api/search?{params}").get_json()
    start = (page["page"] - 1) * page["per_page"]
    assert exported[start:start + len(page["hits"])] == [hit["id"] for hit in page["hits"]] != []
    assert len(exported) == page["total"]


# --- streaming: memory, one snapshot, failures -------------------------------------------------------------


def test_exporting_10k_articles_streams_them_in_little_memory(ten_thousand: Settings) -> None:
    """Rows held as Python objects would take several times the file's size; sent as they are read,
    an export holds one chunk of them, whatever the file's size."""
    client = client_of(ten_thousand)
    download(client, "/search.csv", "")  # once before, so what is built once per index is not counted
    tracemalloc.start()
    try:
        answer: TestResponse = client.get("/search.csv")
        assert answer.is_streamed
        body = iter(answer.response)
        size, chunks = len(next(body)), 1
        before_rows = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for chunk in body:
            size, chunks = size + len(chunk), chunks + 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    total = int(answer.headers["X-Total-Count"])
    assert total > 9_000 and chunks > total // 100  # sent as it is read, not at the end
    # What starting an export holds (a searcher, the order, the clusters' sizes), then what writing it adds
    # (a chunk of rows; the stored fields' offsets of each segment, read once; Python's free lists).
    assert before_rows < size / 2, f"{before_rows:,} bytes held to start an export of {size:,}"
    assert peak - before_rows < size / 3, f"{peak - before_rows:,} bytes more while writing {size:,}"


def test_an_export_reads_one_snapshot_whatever_is_committed_meanwhile(hundreds: Settings, tmp_path: Path,
                                                                      gazetteer: Gazetteer) -> None:
    instance = Settings(index=tmp_path / "instance")
    shutil.copytree(hundreds.index, instance.index)
    client = client_of(instance)
    before = download(client, "/search.jsonl", "sort=date")

    answer = client.get("/search.jsonl?sort=date")
    body = iter(answer.response)
    first = next(body) + next(body)  # under way: some rows sent
    articles = [a for _, a in stored(instance)]
    write_articles([Article(id="new-one", title="Newest", text="zebra", origin="t", published=dt.date(2030, 1, 1))],
                   instance)
    writer = open_index(instance).writer()
    for article in articles[::3]:
        writer.delete_by_term("id", article.id)
    writer.commit(optimize=True)  # one new segment; the old segments' files are deleted
    assert client.get("/api/search").get_json()["total"] == len(articles) - len(articles[::3]) + 1

    assert first + b"".join(body) == before  # the old snapshot, from its first row to its last
    assert int(answer.headers["X-Total-Count"]) == len(jsonl_rows(before))
    after = jsonl_rows(download(client, "/search.jsonl", "sort=date"))
    assert after[0]["id"] == "new-one" and len(after) == len(articles) - len(articles[::3]) + 1


def test_the_exports_own_searcher_is_closed_however_the_response_ends(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import web.exports

    opened: list[Any] = []
    snapshot = web.exports.open_snapshot

    def recorded() -> Any:
        opened.append(snapshot())
        return opened[-1]

    monkeypatch.setattr(web.exports, "open_snapshot", recorded)
    whole = client.get("/search.csv")
    whole.get_data()
    cut = client.get("/search.jsonl")
    next(iter(cut.response))  # the client goes away after the first chunk
    never_read = client.head("/search.csv")
    for answer in (whole, cut, never_read):
        answer.close()  # what the WSGI server does, whichever way the response ended
    # Each export read a snapshot of its own (the embedded backend's: a Whoosh searcher), closed with it.
    assert len(opened) == 3 and all(reader.searcher.is_closed for reader in opened)


@pytest.fixture
def served_hundreds(hundreds: Settings) -> Iterator[str]:
    with served(create_app({"NEWSDESK_SETTINGS": hundreds})) as base_url:
        yield base_url


def get(base_url: str, path: str) -> http.client.HTTPResponse:
    parts = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WAIT)
    connection.request("GET", path)
    return connection.getresponse()


def test_a_whole_export_over_http_is_chunked_and_complete(served_hundreds: str) -> None:
    answer = get(served_hundreds, "/search.csv")
    assert answer.status == 200 and answer.getheader("Transfer-Encoding") == "chunked"
    assert len(csv_rows(answer.read())) == int(answer.getheader("X-Total-Count"))


def test_a_failure_after_the_first_byte_leaves_a_file_no_client_takes_for_whole(
        served_hundreds: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    read = export_module.from_stored
    calls = Counter[str]()

    def failing(fields: Any) -> StoredArticle:
        calls["read"] += 1
        if calls["read"] > 150:
            raise OSError("the disk went away")
        return read(fields)

    monkeypatch.setattr(export_module, "from_stored", failing)
    answer = get(served_hundreds, "/search.csv")
    assert answer.status == 200  # sent before the failure, which can no longer change it
    with pytest.raises(http.client.IncompleteRead) as cut:
        answer.read()
    assert 100 < len(csv_rows(cut.value.partial)) < int(answer.getheader("X-Total-Count"))
    assert any(r.levelno == logging.ERROR and "export failed" in r.getMessage() for r in caplog.records)


# --- in a browser ----------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(MISSING is not None, reason=str(MISSING))
def test_clicking_csv_on_a_results_page_downloads_the_file(seeded: Settings, tmp_path: Path) -> None:
    """Chromium clicks the link on the page and saves the file (downloads allowed into a folder of the
    test's); the file is the one the link's address gives."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with served(create_app({"NEWSDESK_SETTINGS": seeded})) as base_url:
        driver, profile = start_chromium()
        try:
            driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow",
                                                                  "downloadPath": str(downloads)})
            driver.get(base_url + "/?q=Kosovo&actor=Q58217")
            link = driver.find_element(By.CSS_SELECTOR, ".exports a[type='text/csv']")
            assert link.is_displayed() and link.text == "CSV"
            href = link.get_attribute("href")
            link.click()
            saved = downloads / "newsdesk-kosovo-sergey-lavrov.csv"
            WebDriverWait(driver, WAIT).until(lambda d: saved.exists() and not list(downloads.glob("*.crdownload")))
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
        with urllib.request.urlopen(href, timeout=WAIT) as fetched:
            assert saved.read_bytes() == fetched.read()
    rows = csv_rows(saved.read_bytes())
    assert len(rows) == 4 and all("Q58217" in row["actor_ids"].split(";") for row in rows)
