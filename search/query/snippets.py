"""Snippets: the highlighted passages of a hit and the lead of an article, as safe HTML.

Part of the query stage (search/query/run.py asks here; later ``query/snippets.py``).
A word of the text is marked when its stem matched, or when the word itself
matched a wildcard on the field's unstemmed twin (search/index/analysis.py); the
rest is HTML-escaped, and a passage cut out of the text says so with "…".

Exports: ``highlighter`` (for Whoosh's results), ``lead``, ``one_line``.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from markupsafe import escape
from whoosh import highlight
from whoosh.highlight import ContextFragmenter, Formatter, Highlighter

from search.index import WORD, WORD_FIELDS, folded_word, index_terms

_SNIPPET_CHARS = 240


def highlighter() -> Highlighter:
    """A highlighter for one search's results: ``<mark>`` around matched words, passages around them."""
    return _WordsHighlighter(fragmenter=_FRAGMENTER, formatter=_MarkFormatter())


def lead(body: str) -> str:
    """The opening of the text as a snippet, cut at a word, escaped."""
    body = one_line(body)
    if len(body) <= _SNIPPET_CHARS:
        return str(escape(body))
    cut = body[:_SNIPPET_CHARS].rsplit(" ", 1)[0]
    return str(escape(cut)) + "…"


def one_line(text: str) -> str:
    """``text`` as one run: each line break, with the spaces around it, becomes one space."""
    return re.sub(r"\s*\n\s*", " ", text).strip()


class _MarkFormatter(Formatter):  # type: ignore[misc]  # whoosh ships no type hints
    """Highlights as ``<mark>``, everything else HTML-escaped."""

    between = " "

    def _text(self, text: str) -> str:
        return str(escape(text))

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"<mark>{escape(text[token.startchar:token.endchar])}</mark>"

    def format_fragment(self, fragment: Any, replace: bool = False) -> str:
        # An ellipsis where the fragment cuts into the text, as the lead snippet has.
        inner = super().format_fragment(fragment, replace)
        before = "…" if fragment.startchar > 0 else ""
        after = "…" if fragment.endchar < len(fragment.text) else ""
        return f"{before}{inner.strip()}{after}"


_FRAGMENTER = ContextFragmenter(maxchars=160, surround=60)


class _WordsHighlighter(Highlighter):  # type: ignore[misc]  # whoosh ships no type hints
    """Marks a word of the text when its stem matched, or when the word itself
    matched a wildcard (on the field's unstemmed twin).

    The passages are the ones Whoosh's own path makes (its tokenizer's words,
    its ``ContextFragmenter`` rules, its scorer and order); only the way there
    is Newsdesk's, cheaper, with the same output (tests/test_snippets_oracle.py
    holds it to Whoosh's path). Whoosh's path passed a ``Token`` per word through
    four generators and looked up every word's terms. Here the text is split
    into words in one call (``_Words``), each distinct word
    is analysed once per search (``_Marker``: the hits of one page share most
    of their words), a text with no marked word stops there, and the walk
    skips the words between passages (``_passages``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._markers: dict[tuple[frozenset[str], frozenset[str]], _Marker] = {}

    def highlight_hit(self, hitobj: Any, fieldname: str, text: str | None = None, top: int = 3,
                      minscore: int = 1, strict_phrase: bool = False) -> str:
        twin = WORD_FIELDS.get(fieldname)
        results = hitobj.results
        if twin is None or not results.has_matched_terms():
            return str(super().highlight_hit(hitobj, fieldname, text, top, minscore, strict_phrase))
        text = hitobj[fieldname] if text is None else text
        matched = results.matched_terms()
        stems = frozenset(term.decode() for field, term in matched if field == fieldname)
        words = frozenset(term.decode() for field, term in matched if field == twin)
        marker = self._markers.get((stems, words)) or self._markers.setdefault((stems, words), _Marker(stems, words))
        found = _Words(text)
        marked = marker.marked(set(found.words))
        fragments = _passages(found, marked, self.fragmenter) if marked else iter(())
        return str(self.formatter.format(highlight.top_fragments(fragments, top, self.scorer, self.order,
                                                                 minscore=minscore)))


class _Words:
    """The words of a text as Whoosh's ``RegexTokenizer(expression=WORD)`` finds them, with their offsets.

    One ``re.split`` and two running sums, all inside C: the pattern as the
    tokenizer compiles it, wrapped in a group, so the split keeps each word
    (and whatever groups ``WORD`` has) between the runs of text around them.
    """

    _PATTERN = re.compile(f"({WORD})", re.UNICODE)
    _STRIDE = _PATTERN.groups + 1  # the text before a word, the word, then WORD's own groups

    __slots__ = ("ends", "starts", "text", "words")

    def __init__(self, text: str) -> None:
        pieces = self._PATTERN.split(text)
        self.text = text
        self.words: list[str] = pieces[1::self._STRIDE]
        lengths = itertools.chain.from_iterable(zip(map(len, pieces[0::self._STRIDE]), map(len, self.words)))
        offsets = list(itertools.accumulate(lengths))
        self.starts: list[int] = offsets[0::2]
        self.ends: list[int] = offsets[1::2]


class _Marker:
    """Which words one search marks: each distinct word, as written, analysed once."""

    def __init__(self, stems: frozenset[str], words: frozenset[str]) -> None:
        self._stems, self._words = stems, words
        self._seen: set[str] = set()
        self._marked: dict[str, str] = {}  # word as written → lower-cased (Whoosh's LowercaseFilter)

    def marked(self, words: set[str]) -> dict[str, str]:
        """The marked ones of ``words``, each with its lower-cased form."""
        for word in words - self._seen:
            lowered = word.lower()
            # index_terms takes the word unfolded: it tells Russian words by their letters.
            if (self._words and folded_word(lowered) in self._words) or not self._stems.isdisjoint(index_terms(lowered)):
                self._marked[word] = lowered
        self._seen |= words
        return {word: self._marked[word] for word in words.intersection(self._marked)}


class _Match:
    """A marked word inside a passage, as the formatter and scorer read it (Whoosh's ``Token`` fields)."""

    __slots__ = ("boost", "endchar", "startchar", "text")

    def __init__(self, startchar: int, endchar: int, text: str) -> None:
        self.startchar, self.endchar, self.text, self.boost = startchar, endchar, text, 1.0


def _passages(found: _Words, marked: dict[str, str], fragmenter: ContextFragmenter) -> Iterator[highlight.Fragment]:
    """The passages ``fragmenter.fragment_tokens`` cuts from the text, walking only the words inside them.

    Whoosh's fragmenter walks every word; outside a passage it only keeps the
    starts of the words that end within ``surround`` characters of them (the
    oldest becomes the next passage's start). So the walk here jumps from the
    end of one passage to the next marked word and finds that start by
    bisection: the first word since the last passage that starts no earlier
    than ``surround`` characters before the end of the word ahead of the
    marked one. Inside a passage every word counts and is walked as Whoosh
    does (``_passage``). Whoosh's merge of adjacent marked tokens is left out:
    it joins only tokens that touch, and two words of ``WORD`` never do.
    """
    starts, ends = found.starts, found.ends
    resume = 0  # the first word after the last passage
    for k in itertools.compress(range(len(found.words)), map(marked.__contains__, found.words)):
        if k < resume:
            continue  # inside the passage just cut
        if fragmenter.charlimit and ends[k] > fragmenter.charlimit:
            return  # Whoosh stops at the first word past the limit, here with no passage open
        context = None  # Whoosh's ``firsts[0]``
        if k > resume:
            oldest = bisect_left(starts, ends[k - 1] - fragmenter.surround, resume, k)
            context = starts[oldest] if oldest < k else None
        fragments, resume = _passage(found, k, context, marked, fragmenter)
        yield from fragments
        if resume < 0:
            return


def _passage(found: _Words, k: int, context: int | None, marked: dict[str, str],
             fragmenter: ContextFragmenter) -> tuple[list[highlight.Fragment], int]:
    """The passage marked word ``k`` opens, and the word to go on from (-1: Whoosh's walk ends there).

    Whoosh's loop body for an open passage (``countdown`` ≥ 0) and for the
    marked word that opens it.
    """
    maxchars, surround, charlimit = fragmenter.maxchars, fragmenter.surround, fragmenter.charlimit
    text, starts, ends, words = found.text, found.starts, found.ends, found.words
    first = None
    countdown, currentlen = -1, 0
    matches: list[_Match] = []
    endchar = 0
    for index in range(k, len(words)):
        startchar, endchar = starts[index], ends[index]
        if charlimit and endchar > charlimit:
            break  # Whoosh ends the walk here and keeps what the open passage holds
        length = endchar - startchar
        lowered = marked.get(words[index])
        if currentlen + length > maxchars:
            countdown = 0
        elif lowered is not None:
            countdown = surround
            if first is None:
                if context is not None:
                    first = context
                else:
                    first = startchar
                    countdown += surround  # no words before it: the context goes after
            matches.append(_Match(startchar, endchar, lowered))
        currentlen += length
        countdown -= length
        if countdown <= 0:
            passage = highlight.mkfrag(text, matches, startchar=first, endchar=endchar)
            if countdown < 0:
                return [passage], index + 1
            return _after_zero(found, index + 1, marked, charlimit, passage)
    return ([highlight.mkfrag(text, matches, startchar=first, endchar=endchar)] if matches else []), -1


def _after_zero(found: _Words, index: int, marked: dict[str, str], charlimit: int,
                passage: highlight.Fragment) -> tuple[list[highlight.Fragment], int]:
    """A quirk of Whoosh's, kept: a passage whose countdown ends at exactly 0 leaves it at 0, so
    the next word, unless marked, is taken for an empty passage of its own (no score keeps it)
    rather than as context for the next passage."""
    if index >= len(found.words) or found.words[index] in marked:
        return [passage], index  # a marked word opens the next passage, with no context before it
    if charlimit and found.ends[index] > charlimit:
        return [passage], -1
    return [passage, highlight.mkfrag(found.text, [], endchar=found.ends[index])], index + 1
