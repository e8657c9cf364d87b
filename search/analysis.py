"""Text analysis: how article text and query text become index terms.

Sits between the schema (which names the analyzer of each text field) and
the query (which parses user input with the same analyzer), so a word meets
itself whatever its spelling, script or inflection:

* **Folding** for every token: case, diacritics and Cyrillic → Latin, so
  Thaçi ≡ Thaci, Dačić ≡ Дачић and Serbian in either script is one text
  (search/folding.py). That is the Serbian, Croatian and Bosnian analysis:
  Snowball has no stemmer for them.
* **English stemming** (Snowball) on the folded form of every token.
* **Russian stemming** (Snowball) for Cyrillic words that are not
  distinctly Serbian, Macedonian or Ukrainian: the Russian stem, folded, is
  indexed *beside* the folded word at the same position, so "Лаврова",
  "Лавровым" and "Лавров" meet each other while "Лавров" still meets the
  Latin "Lavrov". Tokens carry no document language (a query has none), so
  the choice is made per token from its letters: index and query agree.

Two terms at one position mean "either": ``query_parser`` turns them into
an OR (in phrases too), where Whoosh alone would demand both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from whoosh import query as wq
from whoosh.analysis import Analyzer, Filter, LowercaseFilter, RegexTokenizer, Token
from whoosh.fields import FieldType, Schema
from whoosh.lang import stemmer_for_language
from whoosh.qparser import GtLtPlugin, MultifieldPlugin, PhrasePlugin, QueryParser
from whoosh.qparser.dateparse import DateParserPlugin

from search.folding import fold

# Whoosh-Reloaded's default tokenizer keeps "*" inside words (see the Whoosh
# notes), so the pattern is explicit: words, with inner dots ("U.S.") kept.
_WORD = r"\w+(\.?\w+)*"

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# Letters Russian lacks: Serbian ђ ј љ њ ћ џ, Macedonian ѓ ќ ѕ, Ukrainian
# і ї є ґ. A word holding one is not Russian, and Russian endings would
# mangle it.
_NOT_RUSSIAN = re.compile(r"[ђјљњћџѓќѕіїєґ]")

_english_stem = stemmer_for_language("en")
_russian_stem = stemmer_for_language("ru")


def text_analyzer() -> Analyzer:
    """Tokenize, then fold and stem each word. No stop words: phrases like
    "the Kremlin" stay whole."""
    return RegexTokenizer(expression=_WORD) | LowercaseFilter() | StemmingFilter()


class StemmingFilter(Filter):  # type: ignore[misc]  # whoosh ships no type hints
    """Folds and stems each token; a Russian stem is an extra token."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            terms = index_terms(token.text)
            token.text = terms[0]
            yield token
            for extra in terms[1:]:
                # Same position, same characters: a synonym, not a new word.
                token.text = extra
                yield token


@lru_cache(maxsize=200_000)
def index_terms(word: str) -> tuple[str, ...]:
    """The terms one lower-cased word is indexed under, main term first.

    Cached because words repeat across a corpus, and because the Russian
    stemmer costs about 40 µs a word.
    """
    main = _english_stem(fold(word))
    if not _CYRILLIC.search(word) or _NOT_RUSSIAN.search(word):
        return (main,)
    russian = fold(_russian_stem(word))
    return (main,) if russian == main else (main, russian)


def query_parser(schema: Schema) -> QueryParser:
    """The parser for user queries over title and body, with dates and ranges."""
    parser = _AlternativesParser(None, schema)
    parser.add_plugin(MultifieldPlugin(["title", "body"]))
    parser.remove_plugin_class(PhrasePlugin)
    parser.add_plugin(_AlternativesPhrasePlugin())
    parser.add_plugin(DateParserPlugin(free=False))
    parser.add_plugin(GtLtPlugin())  # published:>2017
    return parser


class _AlternativesParser(QueryParser):  # type: ignore[misc]
    """A word analyzed into same-position terms matches any of them."""

    def term_query(self, fieldname: str, text: str, termclass: Any, boost: float = 1.0,
                   tokenize: bool = True, removestops: bool = True) -> wq.Query:
        field = self.schema[fieldname] if self.schema and fieldname in self.schema else None
        if field is None or not tokenize or field.self_parsing() or not field.analyzer:
            return super().term_query(fieldname, text, termclass, boost, tokenize, removestops)
        slots = _slots(field, text)
        if all(len(terms) == 1 for terms in slots):
            return super().term_query(fieldname, text, termclass, boost, tokenize, removestops)
        parts = [_either(fieldname, terms, termclass, boost) for terms in slots]
        return parts[0] if len(parts) == 1 else self.group.qclass(parts)


class _AlternativesPhrasePlugin(PhrasePlugin):  # type: ignore[misc]
    """Phrases whose words have alternatives become an ordered sequence."""

    class PhraseNode(PhrasePlugin.PhraseNode):  # type: ignore[misc]
        def query(self, parser: QueryParser) -> wq.Query:
            fieldname = self.fieldname or parser.fieldname
            field = parser.schema[fieldname] if parser.schema and fieldname in parser.schema else None
            if field is None or not field.analyzer:
                return super().query(parser)
            slots = _slots(field, self.text)
            if all(len(terms) == 1 for terms in slots):
                return super().query(parser)
            parts = [_either(fieldname, terms, wq.Term, 1.0) for terms in slots]
            return wq.Sequence(parts, slop=self.slop, boost=self.boost)

    class PhraseTagger(PhrasePlugin.PhraseTagger):  # type: ignore[misc]
        def create(self, parser: QueryParser, match: re.Match[str]) -> Any:
            slop = match.group("slop")
            return _AlternativesPhrasePlugin.PhraseNode(match.group("text"), match.start("text"),
                                                        int(slop) if slop else 1)

    def taggers(self, parser: QueryParser) -> list[tuple[Any, int]]:
        return [(self.PhraseTagger(self.expr), 0)]


def _slots(field: FieldType, text: str) -> list[list[str]]:
    """The query terms of ``text`` grouped by position."""
    slots: dict[int, list[str]] = {}
    for token in field.tokenize(text, mode="query", positions=True):
        terms = slots.setdefault(token.pos, [])
        if token.text not in terms:
            terms.append(token.text)
    return [slots[pos] for pos in sorted(slots)]


def _either(fieldname: str, terms: list[str], termclass: Any, boost: float) -> wq.Query:
    if len(terms) == 1:
        return termclass(fieldname, terms[0], boost=boost)
    return wq.Or([termclass(fieldname, term, boost=boost) for term in terms])
