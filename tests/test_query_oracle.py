"""Every query form on both backends, held to plain Python over the stored articles.

A generated corpus — words drawn from a small vocabulary, so that every
form finds some articles and misses others; outlets, languages, dates
(some missing) and actors — is written to a Whoosh index and to a
PostgreSQL database. For each query form the API's matches (every page)
and its four facets' counts must be what a plain-Python predicate over the
stored articles finds: the word forms, AND/OR/NOT, phrases, fields,
prefixes and wildcards, date ranges in the query and as filters, and
multi-select facets (OR within a facet, AND across, each facet counted under
the others' filters). The backends are never compared with each other: each
is compared with the oracle.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from conftest import backend_settings, stored_articles
from search.index import open_store
from search.records import UNKNOWN, Article, StoredArticle
from web import create_app

#: Words without stems of their own in English or Russian (each is its own stem), so the oracle may compare words.
VOCABULARY = ("zebra", "quokka", "lemur", "lemma", "tapir", "okapi", "dingo", "koala", "marmot", "bison")
OUTLETS = ("Balkan Wire", "RksNews", "Sputnik")
ACTORS = ("Q34183", "Q45070", "Q1232")  # as the gazetteer names them: Lavrov, Vučić, Thaçi


def _corpus(seed: int = 19) -> list[Article]:
    rng = random.Random(seed)
    articles = []
    for n in range(240):
        title = " ".join(rng.sample(VOCABULARY, 2))
        text = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(8, 30))) + f". Note {n}."
        published = None if n % 9 == 0 else dt.datetime(2017 + n % 4, 1 + n % 12, 1 + n % 27, 8, tzinfo=dt.UTC)
        articles.append(Article(
            id=f"{n:032x}", title=title, text=text, origin="generated", outlet=OUTLETS[n % 3],
            published=published, published_source="manifest" if published else None,
            language=("en", "sr", "ru")[n % 5 % 3], actors=tuple(a for i, a in enumerate(ACTORS) if n % (i + 2) == 0),
        ))
    # Ranking, loosely: a headline searched for finds its article first, though other articles' texts say
    # its words too.
    articles.append(Article(id="a" * 32, title="Aardwolf summit", text="The delegations met. " + "zebra " * 20,
                            origin="generated", outlet="Balkan Wire", language="en"))
    articles += [Article(id=f"{n:032x}", title=f"{VOCABULARY[n % 10]} notes", origin="generated", outlet="RksNews",
                         text=f"{' '.join(VOCABULARY[:4 + n % 5])}, and an aardwolf at the summit {n}.",
                         language="en")
                 for n in range(300, 306)]
    return articles


@pytest.fixture(scope="module", params=["whoosh", "postgres"])
def instance(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[FlaskClient,
                                                                                               list[StoredArticle]]:
    settings = backend_settings(request, request.param, tmp_path_factory.mktemp("oracle"), batch_size=100)
    open_store(settings).write(_corpus())
    client = create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings}).test_client()
    return client, stored_articles(settings)


def words(article: StoredArticle, field: str | None = None) -> list[str]:
    text = article.title if field == "title" else article.text if field == "body" else f"{article.title} {article.text}"
    return re.findall(r"\w+", text.lower())


def phrase(*sequence: str, field: str | None = None) -> Callable[[StoredArticle], bool]:
    def found(article: StoredArticle) -> bool:
        # Fields are apart: a phrase never runs from the title into the text.
        texts = [words(article, "title"), words(article, "body")] if field is None else [words(article, field)]
        return any(text[i:i + len(sequence)] == list(sequence) for text in texts for i in range(len(text)))
    return found


def has(word: str, field: str | None = None) -> Callable[[StoredArticle], bool]:
    return lambda article: word in words(article, field)


def like(pattern: str) -> Callable[[StoredArticle], bool]:
    matcher = re.compile(pattern.replace("?", ".").replace("*", ".*") + r"\Z")
    return lambda article: any(matcher.match(word) for word in words(article))


def published_in(first: dt.date, last: dt.date) -> Callable[[StoredArticle], bool]:
    return lambda article: article.published_utc is not None and first <= article.published_utc.date() <= last


def both(*predicates: Callable[[StoredArticle], bool]) -> Callable[[StoredArticle], bool]:
    return lambda article: all(predicate(article) for predicate in predicates)


def either(*predicates: Callable[[StoredArticle], bool]) -> Callable[[StoredArticle], bool]:
    return lambda article: any(predicate(article) for predicate in predicates)


def without(predicate: Callable[[StoredArticle], bool]) -> Callable[[StoredArticle], bool]:
    return lambda article: not predicate(article)


FORMS: list[tuple[str, Callable[[StoredArticle], bool]]] = [
    ("zebra", has("zebra")),
    ("zebra quokka", both(has("zebra"), has("quokka"))),
    ("zebra AND quokka", both(has("zebra"), has("quokka"))),
    ("zebra OR quokka", either(has("zebra"), has("quokka"))),
    ("zebra NOT quokka", both(has("zebra"), without(has("quokka")))),
    ("(zebra OR lemur) AND NOT bison", both(either(has("zebra"), has("lemur")), without(has("bison")))),
    ('"zebra quokka"', phrase("zebra", "quokka")),
    ('"zebra quokka lemur"', phrase("zebra", "quokka", "lemur")),
    ("title:okapi", has("okapi", "title")),
    ('title:"okapi dingo"', phrase("okapi", "dingo", field="title")),
    ("lem*", like("lem*")),
    ("le?ur", like("le?ur")),
    ("*apir", like("*apir")),
    ("published:2018", published_in(dt.date(2018, 1, 1), dt.date(2018, 12, 31))),
    ("koala published:[2017-03 TO 2018-02]", both(has("koala"), published_in(dt.date(2017, 3, 1), dt.date(2018, 2, 28)))),
    ("", lambda article: True),
]


def _every_match(client: FlaskClient, params: str) -> tuple[set[str], dict[str, dict[str, int]], int]:
    first = client.get(f"/api/search?{params}&per_page=100&sort=date&facet_limit=1000")
    assert first.status_code == 200, first.get_json()
    found = first.get_json()
    ids = {hit["id"] for hit in found["hits"]}
    for page in range(2, -(-found["total"] // 100) + 1):
        ids |= {hit["id"] for hit in client.get(f"/api/search?{params}&per_page=100&sort=date&page={page}")
                .get_json()["hits"]}
    facets = {name: {value["value"]: value["count"] for value in values} for name, values in found["facets"].items()}
    return ids, facets, found["total"]


def _facet_values(article: StoredArticle) -> dict[str, tuple[str, ...]]:
    return {"outlet": (article.outlet,), "language": (article.language,), "year": (article.year,),
            "actor": article.actors}


def _expected_facets(articles: list[StoredArticle], predicate: Callable[[StoredArticle], bool],
                     chosen: dict[str, tuple[str, ...]]) -> dict[str, dict[str, int]]:
    """Each facet counted over the matches under every other facet's choice (multi-select), its own chosen
    values always among them."""
    counted: dict[str, dict[str, int]] = {}
    for name in ("outlet", "actor", "year", "language"):
        others = {other: values for other, values in chosen.items() if other != name}
        under = [a for a in articles if predicate(a)
                 and all(set(_facet_values(a)[other]) & set(values) for other, values in others.items())]
        counted[name] = dict(Counter(value for a in under for value in _facet_values(a)[name]))
        for value in chosen.get(name, ()):  # a chosen value stays listed, even when nothing holds it now
            counted[name].setdefault(value, 0)
    return counted


@pytest.mark.parametrize(("q", "predicate"), FORMS, ids=[q or "(everything)" for q, _ in FORMS])
def test_each_query_form_finds_what_plain_python_finds(instance: tuple[FlaskClient, list[StoredArticle]], q: str,
                                                       predicate: Callable[[StoredArticle], bool]) -> None:
    client, articles = instance
    ids, facets, total = _every_match(client, f"q={q}")
    expected = {a.id for a in articles if predicate(a)}
    assert 0 < len(expected) and (len(expected) < len(articles) or not q)  # the form tells articles apart
    assert ids == expected and total == len(expected)
    assert facets == _expected_facets(articles, predicate, {})


FILTERS = [
    ("outlet=Sputnik&outlet=RksNews", {"outlet": ("Sputnik", "RksNews")}),
    ("outlet=Sputnik&language=ru", {"outlet": ("Sputnik",), "language": ("ru",)}),
    ("actor=Q34183&year=2019", {"actor": ("Q34183",), "year": ("2019",)}),
    (f"year={UNKNOWN}&actor=Q45070&actor=Q1232", {"year": (UNKNOWN,), "actor": ("Q45070", "Q1232")}),
]


@pytest.mark.parametrize(("q", "predicate"), FORMS[:6], ids=[q for q, _ in FORMS[:6]])
@pytest.mark.parametrize(("params", "chosen"), FILTERS, ids=[params for params, _ in FILTERS])
def test_facets_narrow_and_count_as_plain_python_does(instance: tuple[FlaskClient, list[StoredArticle]], q: str,
                                                      predicate: Callable[[StoredArticle], bool], params: str,
                                                      chosen: dict[str, tuple[str, ...]]) -> None:
    client, articles = instance
    ids, facets, _ = _every_match(client, f"q={q}&{params}")
    expected = {a.id for a in articles if predicate(a)
                and all(set(_facet_values(a)[name]) & set(values) for name, values in chosen.items())}
    assert ids == expected
    assert facets == _expected_facets(articles, predicate, chosen)


@pytest.mark.parametrize(("params", "first", "last", "undated"), [
    ("from=2018-03-01&to=2019-06-30", dt.date(2018, 3, 1), dt.date(2019, 6, 30), False),
    ("from=2020", dt.date(2020, 1, 1), dt.date(9999, 12, 31), False),
    ("dated=no", None, None, True),
])
def test_date_filters_select_as_plain_python_does(instance: tuple[FlaskClient, list[StoredArticle]], params: str,
                                                  first: dt.date | None, last: dt.date | None, undated: bool) -> None:
    client, articles = instance
    ids, _, _ = _every_match(client, f"q=zebra&{params}")
    if undated:
        expected = {a.id for a in articles if has("zebra")(a) and a.published_utc is None}
    else:
        assert first is not None and last is not None
        expected = {a.id for a in articles if has("zebra")(a) and published_in(first, last)(a)}
    assert ids == expected and expected


def test_a_headline_searched_for_ranks_its_article_first(instance: tuple[FlaskClient, list[StoredArticle]]) -> None:
    client, _ = instance
    found = client.get("/api/search?q=aardwolf+summit&sort=relevance").get_json()
    assert found["total"] == 7 and found["hits"][0]["id"] == "a" * 32
