"""Snippets: Newsdesk's highlighter gives exactly what Whoosh's own highlighting path gives.

``search.query.snippets`` cuts passages without passing a Whoosh ``Token``
per word through Whoosh's generators (see its ``_passages``). The oracle
here is that path, built from Whoosh's own parts: ``RegexTokenizer(WORD) |
LowercaseFilter`` for the words, each marked by the rule the snippets state
(its stem matched, or the word itself matched a wildcard), Whoosh's merge of
marked tokens, ``ContextFragmenter.fragment_tokens``, ``top_fragments`` with
the highlighter's scorer and order, and the highlighter's formatter. Both run
on the hits of real searches over a real index of generated articles: dense
and sparse matches, words longer than a passage, dotted words, numbers,
Cyrillic and accented spellings, texts past Whoosh's 32,768-character limit.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from whoosh import highlight
from whoosh.analysis import LowercaseFilter, RegexTokenizer
from whoosh.searching import Searcher

from search.index import WORD, WORD_FIELDS, create_index, folded_word, index_terms, open_index, write_articles
from search.query import parse_query
from search.query.snippets import highlighter
from search.records import Article
from search.settings import Settings

_WORDS_TEXT = (
    "the talks on sanctions negotiate negotiated negotiations negotiating minister ministers said says "
    "Kosovo Belgrade Lavrov Лавров Лаврова Лавровым Дачић Dačić Thaçi Thaci U.S. e.g. 83,000 1.5 "
    "qtr net revs shr vs cts NOTE Reuter energy prices oil OPEC output barrels per day a an of in to "
    "Vučić Srbije pregovorima Переговоры санкции санкций Министр x y z it is"
)
_VOCABULARY = _WORDS_TEXT.split()
_LONG_WORDS = ("a" * 70, "b" * 161, "c.d" * 30, "Лавров" * 12)
_QUERIES = (
    "negotiate", "sanctions", "Lavrov", "Лаврова", "Dacic", "Thaçi", "qtr net", "oil OR energy",
    '"talks on sanctions"', "negotiat*", "minist*", "U.S.", "83", "prices AND barrels", "x y z", "a",
    "aaaaaaaaaa*", "bbbbb*",
)
#: Matches only a word longer than a passage (160 characters): Whoosh cuts an empty passage for it,
#: which only ``minscore=0`` keeps.
_TOO_LONG = "bbbbb*"


def _text(rng: random.Random, words: int) -> str:
    """Paragraphs of vocabulary words, some of them rare-length, with punctuation that ends sentences."""
    out: list[str] = []
    for i in range(words):
        word = rng.choice(_LONG_WORDS) if rng.random() < 0.01 else rng.choice(_VOCABULARY)
        out.append(word + rng.choice(["", "", "", ",", ".", " -", ";"]))
        if i and rng.random() < 0.03:
            out.append("\n\n")
    return " ".join(out)


def _zero_countdown_text() -> str:
    """A marked word opening a text gets 2 × 60 characters of context after it; 23 words of five
    letters after the 5-letter word use it up exactly (Whoosh counts word lengths, not spaces), so
    Whoosh's countdown ends at 0, the quirk ``_after_zero`` keeps. A second marked word follows."""
    return " ".join(["oilxx", *["bravo"] * 23, "delta", "echoo", "oilxx", "tango", *["bravo"] * 40])


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    rng = random.Random(16)
    texts = [_text(rng, rng.choice([5, 40, 150, 600])) for _ in range(160)]
    texts += [_text(rng, 6000) for _ in range(3)]  # past the 32,768 characters Whoosh fragments at most
    texts += [_zero_countdown_text(), "oilxx"]
    articles = [
        Article(id=f"gen-{i:04d}", title=f"Article {i}", text=text, origin=f"generated:{i}")
        for i, text in enumerate(texts)
    ]
    settings = Settings(index=Path(tmp_path_factory.mktemp("snippets")))
    create_index(settings)
    write_articles(articles, settings)
    return settings


@pytest.fixture
def searcher(index: Settings) -> Iterator[Searcher]:
    with open_index(index).searcher() as s:
        yield s


def _whoosh_path(results: Any, hit: Any, top: int, minscore: int) -> str:
    """The snippet through Whoosh's own parts (what ``snippets`` did before it walked words itself)."""
    matched = results.matched_terms()
    stems = {term.decode() for field, term in matched if field == "body"}
    words = {term.decode() for field, term in matched if field == WORD_FIELDS["body"]}
    text = hit["body"]
    tokens = (RegexTokenizer(expression=WORD) | LowercaseFilter())(text, positions=True, chars=True, mode="index")

    def marked(token: Any) -> Any:
        token.matched = folded_word(token.text) in words or not stems.isdisjoint(index_terms(token.text))
        return token

    reference = results.highlighter
    merged = highlight.Highlighter._merge_matched_tokens(marked(t) for t in tokens)
    fragments = highlight.ContextFragmenter(maxchars=reference.fragmenter.maxchars,
                                            surround=reference.fragmenter.surround).fragment_tokens(text, merged)
    best = highlight.top_fragments(fragments, top, highlight.BasicFragmentScorer(), highlight.FIRST, minscore=minscore)
    return str(reference.formatter.format(best))


@pytest.mark.parametrize("q", _QUERIES)
def test_snippets_are_whoosh_own(searcher: Searcher, index: Settings, q: str) -> None:
    results = searcher.search(parse_query(q, searcher, index), limit=None, terms=True)
    results.highlighter = highlighter()
    assert len(results) > 0, f"{q!r} should find generated articles"
    shown = []
    for hit in results:
        for top, minscore in ((2, 1), (1, 1), (5, 1), (3, 0)):
            ours = hit.highlights("body", top=top, minscore=minscore)
            assert ours == _whoosh_path(results, hit, top, minscore), (q, hit["id"], top, minscore)
            shown.append(ours)
    # Something to compare, or the test would prove nothing.
    if q == _TOO_LONG:
        assert any(shown) and not any("<mark>" in snippet for snippet in shown)
    else:
        assert any("<mark>" in snippet for snippet in shown), f"no snippet of {q!r} marks anything"


def test_a_countdown_ending_at_zero_is_cut_as_whoosh_cuts_it(searcher: Searcher, index: Settings) -> None:
    results = searcher.search(parse_query("oilxx", searcher, index), limit=None, terms=True)
    results.highlighter = highlighter()
    hit = next(h for h in results if h["body"] == _zero_countdown_text())
    ours = hit.highlights("body", top=3)
    assert ours == _whoosh_path(results, hit, 3, 1)
    # Whoosh takes "delta" for an empty passage of its own, so the second passage starts at "echoo".
    assert ours.split("… …")[1].startswith("echoo <mark>oilxx</mark>")


def test_a_text_with_no_marked_word_has_no_snippet(searcher: Searcher, index: Settings) -> None:
    results = searcher.search(parse_query("title:Article", searcher, index), limit=5, terms=True)
    results.highlighter = highlighter()
    snippets = [hit.highlights("body", top=2) for hit in results]
    assert snippets == [""] * len(snippets) and snippets
