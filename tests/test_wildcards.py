"""Wildcards match the words as written — folded, not stemmed — checked against plain Python.

The oracle tokenizes each stored title and body with the project's own word
pattern (``search.index.analysis.WORD``) and folds each word with
``search.folding.fold``; ``prefix*`` must find exactly the articles holding
a folded word with that prefix (``?`` exactly one character), on a generated
corpus of inflected English, Serbian and Russian words and on the seeds.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from whoosh.searching import Searcher

from conftest import make_settings
from search.enrich import Gazetteer, enrich
from search.folding import fold
from search.index import WORD, open_index, write_articles
from search.query import make_query, matching, search
from search.records import Article
from search.settings import Settings

VOCABULARY = (
    "negotiations", "negotiate", "negotiating", "negotiator", "economy", "economies", "economic", "economist",
    "econometrics", "sanction", "sanctions", "sanctioned", "Kosovo", "Kosovar", "Serbia", "Serbian",
    "Belgrade", "talks", "talking", "Thaçi", "Thaci", "THAÇI", "Dačić", "Dacic", "Дачић", "Vučić", "Вучић",
    "Лавров", "Лаврова", "Лавровым", "Lavrov", "Переговоры", "переговорах", "Приштина", "Priština", "Đorđe",
    "Ђорђе", "straße", "Zürich", "U.S.", "U.N.", "2018", "1999",
)


def folded_words(text: str) -> set[str]:
    return {fold(match.group(0).lower()) for match in re.finditer(WORD, text)}


def pattern(wildcard: str) -> re.Pattern[str]:
    """``*`` any run of characters, ``?`` exactly one, over a folded word."""
    folded = fold(wildcard)
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in folded))


def expected(searcher: Searcher, wildcard: str, fields: tuple[str, ...] = ("title", "body")) -> set[str]:
    want = pattern(wildcard)
    return {
        stored["id"] for stored in searcher.all_stored_fields()
        if any(want.fullmatch(word) for field in fields for word in folded_words(stored.get(field) or ""))
    }


@pytest.fixture(scope="module")
def worded(tmp_path_factory: pytest.TempPathFactory, gazetteer: Gazetteer) -> Settings:
    """~200 articles of random vocabulary words, through enrich and the index stage."""
    settings = make_settings(Path(tmp_path_factory.mktemp("worded")))
    rng = random.Random(13)

    def words(low: int, high: int) -> str:
        return " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(low, high)))

    articles = [enrich(Article(id=f"w{n:05d}", title=words(1, 4), text=f"{words(3, 25)}.", origin=f"test:{n}"),
                       gazetteer, 0) for n in range(200)]
    write_articles(articles, settings)
    return settings


def wildcards(rng: random.Random, count: int) -> list[str]:
    """Prefixes of the vocabulary as written (any case, diacritics, Cyrillic), some with a ``?``."""
    found = []
    for _ in range(count):
        word = rng.choice(VOCABULARY)
        cut = rng.randint(1, len(word))
        prefix = word[:cut]
        if rng.random() < 0.3:
            prefix = prefix.upper()
        found.append(prefix + "*")
        if cut >= 2 and rng.random() < 0.5:
            at = rng.randrange(cut)
            found.append(word[:at] + "?" + word[at + 1:])
    return [w for w in found if w.strip("*?") and "." not in w]


def check(searcher: Searcher, settings: Settings, gazetteer: Gazetteer, q: str, want: set[str]) -> None:
    page = search(searcher, make_query(q, per_page=100), settings, gazetteer)
    assert page.total == len(want), q
    assert {hit.id for hit in page.hits} <= want, q
    assert set(matching(searcher, make_query(q), settings)) == want, q  # alerts agree


@pytest.mark.parametrize("q", ["negotiat*", "economi*", "econom*", "Лавров*", "thaç*", "THAC*", "Дач*", "dacic",
                               "vu?ic", "Ђорђ*", "dj*", "strass*", "negotiat?r", "*cic", "s*s"])
def test_the_named_wildcards_find_exactly_the_words_with_them(worded: Settings, gazetteer: Gazetteer, q: str) -> None:
    with open_index(worded).searcher() as s:
        want = expected(s, q)
        if q != "dacic":  # a plain word: stemmed as ever, so it matches what the oracle of Dačić finds
            assert want, q
            check(s, worded, gazetteer, q, want)


def test_economi_finds_everything_its_words_hold_not_half(worded: Settings, gazetteer: Gazetteer) -> None:
    with open_index(worded).searcher() as s:
        economi = search(s, make_query("economi*"), worded, gazetteer).total
        econom = search(s, make_query("econom*"), worded, gazetteer).total
        assert economi == len(expected(s, "economi*")) and econom == len(expected(s, "econom*"))
        assert economi < econom  # "economy" and "econometrics" are econom*, not economi*


def test_generated_wildcards_agree_with_plain_python(worded: Settings, gazetteer: Gazetteer) -> None:
    with open_index(worded).searcher() as s:
        for q in wildcards(random.Random(1), 60):
            check(s, worded, gazetteer, q, expected(s, q))


def test_a_fielded_wildcard_reads_that_field_only(worded: Settings, gazetteer: Gazetteer) -> None:
    with open_index(worded).searcher() as s:
        for q in ("neg*", "Лавр*", "kosov?r", "ser*"):
            check(s, worded, gazetteer, f"title:{q}", expected(s, q, ("title",)))
            check(s, worded, gazetteer, f"body:{q}", expected(s, q, ("body",)))


def test_the_seeds_agree_with_plain_python(searcher: Searcher, seeded: Settings, gazetteer: Gazetteer) -> None:
    words = sorted({w for stored in searcher.all_stored_fields() for w in folded_words(stored["title"])})
    rng = random.Random(3)
    for word in rng.sample(words, 40):
        prefix = word[: rng.randint(2, max(2, len(word)))]
        check(searcher, seeded, gazetteer, prefix + "*", expected(searcher, prefix + "*"))
    check(searcher, seeded, gazetteer, "negotiat*", expected(searcher, "negotiat*"))


def test_plain_words_and_phrases_stay_stemmed(worded: Settings, gazetteer: Gazetteer) -> None:
    """A word still finds its inflections; the unstemmed twins serve wildcards only."""
    with open_index(worded).searcher() as s:
        negotiation = set(matching(s, make_query("negotiation"), worded))
        assert expected(s, "negotiations") | expected(s, "negotiating") <= negotiation
        assert set(matching(s, make_query('"kosovo talks"'), worded)) == {
            stored["id"] for stored in s.all_stored_fields()
            if re.search(r"\bkosovo talk", f"{stored['title']} | {stored['body']}", re.IGNORECASE)}


def test_a_wildcard_hit_is_highlighted_in_its_snippet(searcher: Searcher, seeded: Settings, gazetteer: Gazetteer
                                                     ) -> None:
    page = search(searcher, make_query("negotiat*"), seeded, gazetteer)
    in_body = [hit for hit in page.hits if any(w.startswith("negotiat") for w in folded_words(
        searcher.document(id=hit.id)["body"]))]
    assert in_body and all(re.search(r"<mark>negotiat\w*</mark>", hit.snippet, re.IGNORECASE) for hit in in_body)
