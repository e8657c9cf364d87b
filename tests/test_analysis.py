"""Per-language analysis: a word meets its inflections and its other script.

English and Russian are stemmed (Snowball); Serbian, Croatian and Bosnian
are folded; Russian stems sit beside the folded word so cross-script
matches survive. Checked on a real index of four small articles.
"""

from __future__ import annotations

import pytest
from whoosh.searching import Searcher

from search.enrich import Gazetteer
from search.index import index_terms, open_index
from search.ingest import ingest
from search.query import make_query, search
from search.settings import Settings

ARTICLES = {
    "ru-lavrov": (
        "Переговоры Сергея Лаврова в Белграде",
        ("Министр иностранных дел России Сергей Лавров провёл переговоры с президентом Сербии. "
        "По словам Лаврова, стороны обсудили ситуацию в Косове и санкции против России."),
    ),
    "ru-inflected": (
        "Встреча с Лавровым",
        "Президенту Сербии передали письмо Лаврову о санкциях и переговорах.",
    ),
    "en-lavrov": (
        "Lavrov meets Vucic in Belgrade",
        ("Russian Foreign Minister Sergey Lavrov said the sanctions had failed and that talks on Kosovo "
        "would continue."),
    ),
    "sr-cyrillic": (
        "Дачић у Љубљани",
        "Министар спољних послова Србије Ивица Дачић састао се у Љубљани са колегом из Словеније.",
    ),
    "sr-latin": (
        "Vučić o pregovorima",
        "Predsednik Srbije Aleksandar Vučić razgovarao je sa predstavnicima Evropske unije u Briselu.",
    ),
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("articles")
    for name, (title, body) in ARTICLES.items():
        (folder / f"{name}.txt").write_text(f"{title}\n\n{body}\n", encoding="utf-8")
    settings = Settings(index=tmp_path_factory.mktemp("instance"))
    ingest([folder], settings, progress=False)
    return settings


@pytest.fixture
def found(indexed: Settings, gazetteer: Gazetteer):
    with open_index(indexed).searcher() as searcher:
        yield lambda q: _names(searcher, indexed, gazetteer, q)


def _names(searcher: Searcher, settings: Settings, gazetteer: Gazetteer, q: str) -> set[str]:
    page = search(searcher, make_query(q, per_page=100), settings, gazetteer)
    by_title = {title: name for name, (title, _) in ARTICLES.items()}
    return {by_title[hit.title] for hit in page.hits}


@pytest.mark.parametrize("forms", [("лавров", "лаврова", "лаврову", "лавровым"),
                                   ("переговоры", "переговоров", "переговорах"),
                                   ("сербия", "сербии", "сербией")])
def test_russian_inflections_share_a_term(forms: tuple[str, ...]) -> None:
    shared = set.intersection(*(set(index_terms(form)) for form in forms))
    assert shared


def test_a_russian_word_keeps_its_folded_form_beside_its_stem() -> None:
    assert index_terms("лавров")[0] == "lavrov" == index_terms("lavrov")[0]


@pytest.mark.parametrize("word", ["вучић", "љубљани", "југославија", "київ"])
def test_serbian_and_ukrainian_letters_keep_russian_endings_off(word: str) -> None:
    assert len(index_terms(word)) == 1


def test_english_is_stemmed() -> None:
    assert index_terms("sanctions") == index_terms("sanction")
    assert index_terms("talks") == index_terms("talk")


@pytest.mark.parametrize(("query", "expected"), [
    # Russian inflections, and the English spelling
    ("Лавров", {"ru-lavrov", "ru-inflected", "en-lavrov"}),
    # the reverse: "Лавровым" and "Лаврову" are stemmed to the Latin name
    ("Lavrov", {"ru-lavrov", "ru-inflected", "en-lavrov"}),
    ("переговорами", {"ru-lavrov", "ru-inflected"}),  # a form neither text has
    ("санкция", {"ru-lavrov", "ru-inflected"}),
    ("sanction", {"en-lavrov"}),                   # English stemming
    ('"Сергей Лавров"', {"ru-lavrov", "en-lavrov"}),  # phrases too, in either script
    ('"Sergey Lavrov"', {"ru-lavrov", "en-lavrov"}),
    ("Србије", {"sr-cyrillic", "sr-latin"}),       # Serbian in either script
    ("Ljubljani", {"sr-cyrillic"}),
    ("Dačić", {"sr-cyrillic"}),
    ("Вучић", {"sr-latin", "en-lavrov"}),
    ("Лавров AND NOT sanctions", {"ru-lavrov", "ru-inflected"}),
])
def test_queries_meet_inflections_and_scripts(found, query: str, expected: set[str]) -> None:
    assert found(query) == expected


def test_a_phrase_with_alternatives_still_needs_its_words_in_order(found) -> None:
    assert found('"Лавров Сергей"') == set()


def test_highlights_mark_a_stemmed_word_once(indexed: Settings, gazetteer: Gazetteer) -> None:
    with open_index(indexed).searcher() as searcher:
        page = search(searcher, make_query("Лавров"), indexed, gazetteer)
    russian = next(hit for hit in page.hits if hit.title == ARTICLES["ru-lavrov"][0])
    assert "<mark>Лаврова</mark>" in russian.snippet
    assert "<mark><mark>" not in russian.snippet and "Лаврова</mark></mark>" not in russian.snippet
