"""An article's text as PostgreSQL tsvectors (search/index/lexemes.py): the index's own terms, in PostgreSQL's form.

The oracle for the terms is the Whoosh index itself: the stemmed and the
unstemmed terms a vector holds are exactly those the embedded index writes
for the same fields. The literal's form (quoting, weights, positions and
their bounds) is checked here as text; PostgreSQL reading it back is
checked against a real server with the backend's tests.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.index.analysis import text_analyzer, word_analyzer
from search.index.lexemes import FIELD_GAP, MAX_LEXEME_BYTES, MAX_POSITION, MAX_POSITIONS, literal, quote, vectors

#: ``'term':1A,5D`` — a term and its positions, as a tsvector literal lists them.
ENTRY = re.compile(r"'((?:[^']|'')*)':((?:\d+[ABCD],?)+)")


def parsed(text: str) -> dict[str, list[tuple[int, str]]]:
    """A literal read back: term → [(position, weight)]."""
    found = {}
    for term, positions in ENTRY.findall(text):
        found[term.replace("''", "'")] = [(int(p[:-1]), p[-1]) for p in positions.split(",")]
    assert " ".join(f"{quote(t)}:" + ",".join(f"{p}{w}" for p, w in ps) for t, ps in found.items()) == text
    return found


def index_terms(analyzer_text: str, stemmed: bool = True) -> set[str]:
    analyzer = text_analyzer() if stemmed else word_analyzer()
    return {token.text for token in analyzer(analyzer_text) if token.text}


def test_each_field_has_its_weight_and_its_own_run_of_positions() -> None:
    found = parsed(vectors({"title": "Lavrov on Kosovo", "author": "Ana Petrović", "body": "Kosovo talks"}).lexemes)
    assert found["lavrov"] == [(1, "A")] and found["on"] == [(2, "A")]
    assert found["ana"] == [(3 + 1 + FIELD_GAP, "B")]
    body_start = 3 + 1 + FIELD_GAP + 2 + FIELD_GAP
    assert found["kosovo"] == [(3, "A"), (body_start, "D")] and found["talk"] == [(body_start + 1, "D")]


def test_a_russian_word_has_its_stem_beside_it_at_the_same_position() -> None:
    found = parsed(vectors({"title": "Лавров и Лаврова"}).lexemes)
    assert found["lavrov"] == [(1, "A"), (3, "A")]  # "Лаврова"'s Russian stem meets "Лавров"
    assert found["lavrova"] == [(3, "A")]


def test_the_words_vector_holds_the_words_as_written_folded_not_stemmed() -> None:
    found = parsed(vectors({"body": "Negotiations negotiated by Thaçi"}).words)
    assert set(found) == {"negotiations", "negotiated", "by", "thaci"}


@given(st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=200),
       st.text(max_size=80))
def test_the_vectors_hold_exactly_the_terms_the_embedded_index_writes(body: str, title: str) -> None:
    found = vectors({"title": title, "body": body})
    keep = {term for term in index_terms(title + " " + body) if len(term.encode()) <= MAX_LEXEME_BYTES}
    assert set(parsed(found.lexemes)) == keep
    assert set(parsed(found.words)) == index_terms(title + " " + body, stemmed=False)


def test_quotes_and_backslashes_are_doubled_as_tsvector_input_takes_them() -> None:
    assert quote("o'brien") == "'o''brien'" and quote("a\\b") == "'a\\\\b'"
    assert literal({"it's": {1: "A"}}) == "'it''s':1A"


def test_positions_stop_at_postgresqls_bounds() -> None:
    long_body = " ".join(["news"] * (MAX_POSITION + 50))
    positions = parsed(vectors({"body": long_body}).lexemes)["news"]
    assert len(positions) == MAX_POSITIONS and all(1 <= p <= MAX_POSITION for p, _ in positions)
    many = parsed(vectors({"body": " ".join(f"w{n}" for n in range(MAX_POSITION + 10))}).lexemes)
    assert max(p for ps in many.values() for p, _ in ps) == MAX_POSITION


def test_a_term_too_long_for_postgresql_is_left_out() -> None:
    found = parsed(vectors({"body": "short " + "x" * (MAX_LEXEME_BYTES + 1)}).lexemes)
    assert set(found) == {"short"}


@pytest.mark.parametrize("fields", [{}, {"title": None, "body": ""}, {"body": "…—!"}])
def test_no_words_is_an_empty_vector(fields: dict[str, str | None]) -> None:
    assert vectors(fields).lexemes == vectors(fields).words == ""
