"""Lexemes: an article's text as PostgreSQL ``tsvector`` values, analysed by Newsdesk's own analyzer.

Part of the index stage, for the PostgreSQL backend (issue 19): PostgreSQL
stores and matches what this module writes, and never analyses text itself.
The tokens are those of search/index/analysis.py — folded (case, diacritics,
Cyrillic → Latin), English-stemmed, a Russian stem beside a Russian word at
the same position — so a query meets the same terms in either backend.

An article is two vectors, each a ``tsvector`` literal passed as a query
parameter (never pasted into SQL) and cast by PostgreSQL:

* ``lexemes`` — the stemmed terms of the title (weight ``A``), the author
  (``B``) and the body (``D``), with positions, for words and phrases;
* ``words`` — the same fields folded but not stemmed (``word_analyzer``),
  for wildcards and prefixes, which match words as written.

Fields share one vector, told apart by weight (a field query is
``'term':A``); each field's positions start ``FIELD_GAP`` after the last
one of the field before it, so no phrase runs from the title into the body.
PostgreSQL keeps positions from 1 to ``MAX_POSITION`` (later ones are set
to it) and at most ``MAX_POSITIONS`` positions per lexeme: a phrase beyond
the 16,000th word of an article is found by its words, not their order —
news articles are far shorter. A term longer than PostgreSQL's limit for
a lexeme (``MAX_LEXEME_BYTES``) cannot be stored and is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from whoosh.analysis import Analyzer

from search.index.analysis import text_analyzer, word_analyzer

#: Each text field's weight: the title counts most in ranking (``ts_rank_cd``'s weights), then the author.
WEIGHTS = {"title": "A", "author": "B", "body": "D"}
#: The order the fields stand in within a vector.
FIELD_ORDER = ("title", "author", "body")
#: Positions left empty between two fields: more than any phrase's slop.
FIELD_GAP = 100
#: PostgreSQL's bounds (the manual, "tsvector"): positions 1–16383, 256 positions per lexeme, 2 KB per lexeme.
MAX_POSITION = 16383
MAX_POSITIONS = 256
MAX_LEXEME_BYTES = 2046


@dataclass(frozen=True)
class Vectors:
    """An article's two ``tsvector`` literals."""

    lexemes: str  # stemmed, for words and phrases
    words: str  # folded, unstemmed, for wildcards


def vectors(fields: dict[str, str | None]) -> Vectors:
    """The vectors of an article's text fields (``title``, ``author``, ``body``; None or "" for none)."""
    return Vectors(literal(_positions(fields, text_analyzer)), literal(_positions(fields, word_analyzer)))


def literal(terms: dict[str, dict[int, str]]) -> str:
    """A ``tsvector`` literal: each term quoted, its positions in order, each with its field's weight.

    ``'kosovo':3A,17D 'lavrov':1A`` — terms sorted (PostgreSQL sorts them
    anyway; sorted, the same article always gives the same text).
    """
    return " ".join(f"{quote(term)}:" + ",".join(f"{position}{weight}" for position, weight
                                                   in sorted(positions.items())[:MAX_POSITIONS])
                    for term, positions in sorted(terms.items()))


def quote(term: str) -> str:
    """A lexeme as ``tsvector`` and ``tsquery`` input take it: in single quotes, a quote or backslash doubled."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _positions(fields: dict[str, str | None], analyzer: Callable[[], Analyzer]) -> dict[str, dict[int, str]]:
    """Term → position → weight over the fields in ``FIELD_ORDER``, each field after the last one's gap."""
    terms: dict[str, dict[int, str]] = {}
    start = 1
    for name in FIELD_ORDER:
        text = fields.get(name) or ""
        last = start - 1
        for term, position in _tokens(analyzer(), text):
            at = min(start + position, MAX_POSITION)
            last = max(last, at)
            if len(term.encode("utf-8")) <= MAX_LEXEME_BYTES:
                terms.setdefault(term, {}).setdefault(at, WEIGHTS[name])
        start = last + 1 + FIELD_GAP
    return terms


def _tokens(analyzer: Analyzer, text: str) -> Iterable[tuple[str, int]]:
    """(term, position from 0) as the index writes them: the analyzer's tokens, same-position terms included."""
    for token in analyzer(text, positions=True):
        if token.text:
            yield token.text, token.pos
