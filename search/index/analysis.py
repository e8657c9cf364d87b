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

Wildcards and prefixes (``negotiat*``) match the words as written, folded
but not stemmed: a stem ("negoti") is not a word a user types a prefix of.
Each text field has an unstemmed twin (``title_words``, ``body_words``,
``author_words``; ``word_analyzer``) that only wildcard queries read, so
plain words, phrases and their scores stay on the stemmed fields. A twin's
postings hold each word's count as their weight and nothing else
(``WordCounts``): its terms share the postings of the stemmed field where
they are the same (search/index/codec.py). The stemmed fields keep their
positions in compact arrays (``PositionArrays``).

Dates (``published:``) are read by ``_DatesPlugin``: a year, month or day,
a range of them with open ends, or a comparison, each meaning exactly the
span it names (Whoosh's own date parser widened day ranges to whole years).

The analyzer, filter and format classes are pickled into the index's schema
by module path: they must stay importable as ``search.index.analysis.<name>``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import sys
from array import array
from collections.abc import Iterator
from functools import lru_cache
from itertools import accumulate, pairwise
from typing import Any

from whoosh import query as wq
from whoosh.analysis import Analyzer, Filter, LowercaseFilter, RegexTokenizer, Token
from whoosh.fields import FieldType, Schema
from whoosh.formats import Format, Positions
from whoosh.formats import tokens as format_tokens
from whoosh.lang import stemmer_for_language
from whoosh.qparser import FieldsPlugin, GtLtPlugin, MultifieldPlugin, PhrasePlugin, Plugin, QueryParser, syntax

from search.errors import QueryError
from search.folding import fold

# Whoosh-Reloaded's default tokenizer keeps "*" inside words (see the Whoosh
# notes), so the pattern is explicit: words, with inner dots ("U.S.") kept.
WORD = r"\w+(\.?\w+)*"

#: Each stemmed text field and its unstemmed twin, which wildcards search.
WORD_FIELDS = {"title": "title_words", "body": "body_words", "author": "author_words"}
#: The date field a query may name, with comparisons and ranges.
DATE_FIELD = "published"

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
    return RegexTokenizer(expression=WORD) | LowercaseFilter() | StemmingFilter()


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


def word_analyzer() -> Analyzer:
    """Tokenize as ``text_analyzer`` does, then fold each word without stemming (the wildcard fields)."""
    return RegexTokenizer(expression=WORD) | LowercaseFilter() | FoldingFilter()


class FoldingFilter(Filter):  # type: ignore[misc]  # whoosh ships no type hints
    """Folds each token (case, diacritics, Cyrillic → Latin); a token that folds to nothing is dropped."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            token.text = folded_word(token.text)
            if token.text:
                yield token


class PositionArrays(Positions):  # type: ignore[misc]  # whoosh ships no type hints
    """Whoosh's ``Positions`` format with each posting's positions in a few bytes instead of about fifteen.

    Whoosh writes a posting's positions as a 4-byte count and a pickle of
    the gaps between them (13 bytes for one position); here they are the
    gaps as an array of unsigned bytes, shorts or ints (the smallest that
    holds the largest gap), after a one-letter type code: 2 or 3 bytes for
    one position. Positions make most of the stemmed fields' postings, so
    this is a fifth of the index on the shared corpus. Read back the same
    (``decode_positions``), so phrases match the same; weights, and so
    scores, are computed as ``Positions`` computes them.
    """

    def encode(self, poslist: list[int]) -> bytes:
        if len(poslist) == 1 and poslist[0] < 1 << 16:  # most postings: one position, spelt out directly
            position = poslist[0]
            return bytes((1, position)) if position < 1 << 8 else bytes((2, position & 0xFF, position >> 8))
        gaps = [poslist[0], *(after - before for before, after in pairwise(poslist))] if poslist else []
        largest = max(gaps, default=0)
        width = 1 if largest < 1 << 8 else 2 if largest < 1 << 16 else 4
        packed = array(_GAP_TYPES[width], gaps)
        if _BIG_ENDIAN:  # an index's bytes are little-endian wherever it was written
            packed.byteswap()
        return bytes((width,)) + packed.tobytes()

    def decode_positions(self, valuestring: bytes) -> list[int]:
        gaps = array(_GAP_TYPES[valuestring[0]], valuestring[1:])
        if _BIG_ENDIAN:
            gaps.byteswap()
        return list(accumulate(gaps))

    def decode_frequency(self, valuestring: bytes) -> int:
        return (len(valuestring) - 1) // valuestring[0]


_BIG_ENDIAN = sys.byteorder == "big"
#: The unsigned array type of each gap width in bytes, on this platform.
_GAP_TYPES = {array(code).itemsize: code for code in "LIHB"}


class WordCounts(Format):  # type: ignore[misc]  # whoosh ships no type hints
    """The wildcard twins' postings: each word's count as the posting's weight, no value beside it.

    Whoosh's ``Frequency`` format stores the count twice, as the weight and
    again as a 4-byte value nothing here reads (scores read weights, a
    wildcard needs no positions). Without the value a twin's postings read
    the same from blocks written for the stemmed field, which lets the
    writer share them (search/index/codec.py). Weights and counts are
    computed as ``Frequency`` computes them, so scores are unchanged.
    """

    posting_size = 0  # no value per posting: Whoosh stores none and reads none

    def word_values(self, value: Any, analyzer: Analyzer, **kwargs: Any) -> Iterator[tuple[str, int, float, bytes]]:
        counts: dict[str, int] = {}
        weights: dict[str, float] = {}
        kwargs["boosts"] = True
        for token in format_tokens(value, analyzer, kwargs):  # as Frequency reads them: stop words dropped
            counts[token.text] = counts.get(token.text, 0) + 1
            weights[token.text] = weights.get(token.text, 0.0) + token.boost
        for word, count in counts.items():
            yield word, count, weights[word] * self.field_boost, b""

    def combine(self, vs: list[bytes]) -> bytes:
        return b""


@lru_cache(maxsize=200_000)
def folded_word(word: str) -> str:
    return fold(word)


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


def query_parser(schema: Schema, fields: tuple[str, ...]) -> QueryParser:
    """The parser for user queries over title and body, with dates and ranges.

    Only ``fields`` are field names: the wildcard twins and the other
    internal fields cannot be named, wherever in the text ``name:`` stands.
    """
    parser = _AlternativesParser(None, schema)
    names = "|".join(re.escape(name) for name in fields)
    parser.replace_plugin(FieldsPlugin(expr=rf"(?<!\w)(?P<text>{names}):"))
    parser.add_plugin(MultifieldPlugin(["title", "body"]))
    parser.remove_plugin_class(PhrasePlugin)
    parser.add_plugin(_AlternativesPhrasePlugin())
    parser.add_plugin(GtLtPlugin())  # published:>2017, made a range that _DatesPlugin reads
    parser.add_plugin(_DatesPlugin())
    return parser


class _AlternativesParser(QueryParser):  # type: ignore[misc]
    """A word analyzed into same-position terms matches any of them."""

    def term_query(self, fieldname: str, text: str, termclass: Any, boost: float = 1.0,
                   tokenize: bool = True, removestops: bool = True) -> wq.Query:
        if termclass in (wq.Wildcard, wq.Prefix) and fieldname in WORD_FIELDS:
            # A wildcard matches the words as written: the folded text against the unstemmed twin.
            return termclass(WORD_FIELDS[fieldname], fold(text), boost=boost)
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


# --- dates -------------------------------------------------------------------

DATE_HINT = ("published takes a year, month or day (2018, 2018-09, 2018-09-14), a range "
             "[2018-09-01 to 2018-09-30] with either end left open, or a comparison such as >=2018-09")
_DATE = re.compile(r"(?P<year>\d{4})(?:(?P<sep>-?)(?P<month>\d{2})(?:(?P=sep)(?P<day>\d{2}))?)?")
_MICROSECOND = dt.timedelta(microseconds=1)


def date_span(text: str) -> tuple[dt.datetime, dt.datetime]:
    """The first and last moment of the year, month or day ``text`` names, or ``QueryError``.

    ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` and ``YYYYMMDD``; moments are naive
    UTC, as the index stores them. Every span (and so every range built of
    them) starts at a day's first moment and ends at a day's last: the index
    holds each article's day, not its moment (search/index/document.py).
    """
    cleaned = text.strip().strip("'\"")
    match = _DATE.fullmatch(cleaned)
    if match is None:
        raise QueryError(f"{text.strip()!r} is not a date", hint=DATE_HINT)
    year, month, day = int(match["year"]), match["month"], match["day"]
    try:
        if month is None:
            first = dt.datetime(year, 1, 1)
            after = dt.datetime(year + 1, 1, 1) if year < dt.MAXYEAR else None
        elif day is None:
            first = dt.datetime(year, int(month), 1)
            after = first + dt.timedelta(days=calendar.monthrange(year, int(month))[1])
        else:
            first = dt.datetime(year, int(month), int(day))
            after = first + dt.timedelta(days=1)
    except (ValueError, OverflowError):
        raise QueryError(f"there is no date {cleaned!r}", hint=DATE_HINT) from None
    return first, (after - _MICROSECOND) if after else dt.datetime.max


def date_range(fieldname: str, start: str | None, end: str | None, startexcl: bool = False,
               endexcl: bool = False, boost: float = 1.0) -> wq.Query:
    """Articles from ``start`` to ``end`` (either may be open), whole spans included.

    An exclusive end point leaves its whole span out: ``>2018-09`` starts in
    October, ``<2019`` ends with 2018.
    """
    start, end = (start or "").strip() or None, (end or "").strip() or None
    if start is None and end is None:
        raise QueryError("a date range needs at least one date", hint=DATE_HINT)
    low = high = None
    if start is not None:
        first, last = date_span(start)
        low = last + _MICROSECOND if startexcl else first
    if end is not None:
        first, last = date_span(end)
        high = first - _MICROSECOND if endexcl else last
    if low is not None and high is not None and low > high:
        raise QueryError(f"the range from {start} to {end} ends before it starts", hint="put the earlier date first")
    return wq.DateRange(fieldname, low, high, boost=boost)


class _DatesPlugin(Plugin):  # type: ignore[misc]
    """Reads what follows ``published:`` as dates, or refuses it with a hint.

    Runs after the field names are attached (and the comparisons made
    ranges), before unfielded words are spread over title and body.
    """

    class DateNode(syntax.SyntaxNode):  # type: ignore[misc]
        has_fieldname = True
        has_boost = True

        def __init__(self, node: Any) -> None:
            self.node = node
            self.fieldname = node.fieldname
            self.boost = getattr(node, "boost", 1.0)
            self.startchar, self.endchar = node.startchar, node.endchar

        def r(self) -> str:
            return f"DATE({self.node.r()})"

        def query(self, parser: QueryParser) -> wq.Query:
            node = self.node
            if isinstance(node, syntax.RangeNode):
                return date_range(self.fieldname, node.start, node.end, node.startexcl, node.endexcl, self.boost)
            if type(node) in (syntax.WordNode, _AlternativesPhrasePlugin.PhraseNode):
                first, last = date_span(node.text)
                return wq.DateRange(self.fieldname, first, last, boost=self.boost)
            if type(node).__name__ in ("WildcardNode", "PrefixNode"):
                raise QueryError(f"{DATE_FIELD}: takes no wildcards", hint=DATE_HINT)
            shown = node.text if getattr(node, "has_text", False) else "that"
            raise QueryError(f"{DATE_FIELD}: cannot take {shown!r}", hint=DATE_HINT)

    def filters(self, parser: QueryParser) -> list[tuple[Any, int]]:
        return [(self.do_dates, 105)]

    def do_dates(self, parser: QueryParser, group: Any) -> Any:
        for i, node in enumerate(group):
            if isinstance(node, syntax.GroupNode):
                group[i] = self.do_dates(parser, node)
            elif node.has_fieldname and node.fieldname == DATE_FIELD:
                group[i] = self.DateNode(node)
        return group
