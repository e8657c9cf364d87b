"""Actor-matching quality on the project's own labelled articles.

The gold is tests/fixtures/actors/*.toml (40 short articles in English,
Serbian in both scripts, Russian and Albanian; how it was decided is in the
README there). Floors are the figures measured by ``bench/actors.py`` minus a
margin of 0.05, so a change that loses recall or precision in one language
fails here; raise them when the matcher improves (issue 5, item 6).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from search.enrich import Gazetteer, load_gazetteer

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "actors"
TYPES = {"people": "person", "orgs": "organisation", "countries": "country"}
MARGIN = 0.05
#: Micro-averaged over people, organisations and countries, measured with the
#: working-tree matcher on 2026-11-23 (bench/actors.py): language → (precision, recall).
#: Re-measured after the demonym and capital policy (issue 5, item 2): the gold
#: gained nine state uses of demonyms and capitals, of which the matcher finds
#: the three "<demonym> <office>" ones in English; the rest (objects, oblique
#: cases, Albanian) lower recall in the other languages, not a regression.
#: Albanian re-measured after its case forms of organisations and "Kosovë".
MEASURED = {
    "en": (1.000, 0.988),
    "sr-Latn": (0.977, 0.935),
    "sr-Cyrl": (0.975, 0.867),
    "ru": (0.972, 0.875),
    "sq": (1.000, 0.970),
}


def _articles() -> list[dict[str, Any]]:
    articles: list[dict[str, Any]] = []
    for path in sorted(FIXTURES.glob("*.toml")):
        with path.open("rb") as handle:
            articles.extend(tomllib.load(handle)["article"])
    return articles


ARTICLES = _articles()


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


def _counts(gazetteer: Gazetteer, lang: str) -> tuple[int, int, int]:
    """True positives, false positives, false negatives over one language."""
    tp = fp = fn = 0
    for article in (a for a in ARTICLES if a["lang"] == lang):
        found = gazetteer.find(article["text"])
        for key, actor_type in TYPES.items():
            gold = set(article[key])
            predicted = {i for i in found if (actor := gazetteer.get(i)) and actor.type == actor_type}
            tp, fp, fn = tp + len(gold & predicted), fp + len(predicted - gold), fn + len(gold - predicted)
    return tp, fp, fn


def test_fixtures_cover_the_languages_and_name_real_actors(gazetteer: Gazetteer) -> None:
    assert len(ARTICLES) >= 40
    assert len({a["id"] for a in ARTICLES}) == len(ARTICLES)
    assert {a["lang"] for a in ARTICLES} == set(MEASURED)
    for article in ARTICLES:
        for key, actor_type in TYPES.items():
            for actor_id in article[key]:
                actor = gazetteer.get(actor_id)
                assert actor is not None and actor.type == actor_type, (article["id"], actor_id)


@pytest.mark.parametrize("lang", sorted(MEASURED))
def test_precision_and_recall_stay_above_the_floor(gazetteer: Gazetteer, lang: str) -> None:
    tp, fp, fn = _counts(gazetteer, lang)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    floor_precision, floor_recall = (value - MARGIN for value in MEASURED[lang])
    assert precision >= floor_precision, f"{lang}: precision {precision:.3f} < floor {floor_precision:.3f}"
    assert recall >= floor_recall, f"{lang}: recall {recall:.3f} < floor {floor_recall:.3f}"
