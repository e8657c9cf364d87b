"""Snippets: the highlighted passages of a hit and the lead of an article, as safe HTML.

Part of the query stage (search/query/run.py asks here; later ``query/snippets.py``).
A word of the text is marked when its stem matched, or when the word itself
matched a wildcard on the field's unstemmed twin (search/index/analysis.py); the
rest is HTML-escaped, and a passage cut out of the text says so with "…".

Exports: ``highlighter`` (for Whoosh's results), ``lead``, ``one_line``.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import escape
from whoosh import highlight
from whoosh.analysis import LowercaseFilter, RegexTokenizer
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
    matched a wildcard (on the field's unstemmed twin)."""

    def highlight_hit(self, hitobj: Any, fieldname: str, text: str | None = None, top: int = 3,
                      minscore: int = 1, strict_phrase: bool = False) -> str:
        twin = WORD_FIELDS.get(fieldname)
        results = hitobj.results
        if twin is None or not results.has_matched_terms():
            return str(super().highlight_hit(hitobj, fieldname, text, top, minscore, strict_phrase))
        text = hitobj[fieldname] if text is None else text
        matched = results.matched_terms()
        stems = {term.decode() for field, term in matched if field == fieldname}
        words = {term.decode() for field, term in matched if field == twin}
        tokens = _LOWERCASE_WORDS(text, positions=True, chars=True, mode="index")
        marked = (self._marked(token, stems, words) for token in tokens)
        fragments = self.fragmenter.fragment_tokens(text, self._merge_matched_tokens(marked))
        return str(self.formatter.format(highlight.top_fragments(fragments, top, self.scorer, self.order,
                                                                 minscore=minscore)))

    @staticmethod
    def _marked(token: Any, stems: set[str], words: set[str]) -> Any:
        # index_terms takes the word unfolded: it tells Russian words by their letters.
        token.matched = folded_word(token.text) in words or not stems.isdisjoint(index_terms(token.text))
        return token


_LOWERCASE_WORDS = RegexTokenizer(expression=WORD) | LowercaseFilter()

