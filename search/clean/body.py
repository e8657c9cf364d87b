"""The body of an HTML news page: the article's paragraphs, nothing else.

A helper of the cleaner (stage 2). trafilatura is at the core; around it,
what measurably lifts it on real pages (``bench/extraction.py``):

* **past one section.** trafilatura's recall run comes first. It sometimes
  settles on one block of a page (an FAQ, a summary box) that the balanced
  run, which prunes teasers before choosing, looks past: when recall holds
  under ``_ONE_SECTION`` of the words in the page's paragraphs, the balanced
  run is tried and kept if it finds ``_MUCH_MORE`` times the words.
* **precision or recall per page.**
  On a page made of lists, headings and short lines (a listicle, a product
  round-up) precision throws away real content, so the recall run is kept
  whole; likewise when it opens and closes with full paragraphs, as there
  is nothing at its edges to trim. Otherwise the precision run, on the
  same parsed tree, marks the core: recall's paragraphs from the first to
  the last core paragraph are kept (a body split across containers), its
  edges outside them go (teasers, related links, sign-up boxes).
* **a fallback** when both return nothing or a small part of what
  trafilatura's own baseline (JSON-LD text, else every ``<p>`` and
  article-ish block) finds, or miss an article's worth of words it finds;
  a short JSON-LD text must not hide the paragraphs, so the baseline is
  asked again without it.
* **leftovers** (``search.clean.leftovers``) removed from what comes back.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING

from search.clean.leftovers import SENTENCE_END, drop_leftovers, squash

if TYPE_CHECKING:
    from lxml.html import HtmlElement

#: Share of short or list lines above which a page is list-shaped and the
#: recall extraction is kept whole.
_LIST_SHAPED = 0.5
#: Lines shorter than this (in words) count as short, not prose.
_SHORT_LINE = 8
#: A paragraph at least this long, ending a sentence, is prose beyond doubt.
_PROSE_WORDS = 15
#: Words that identify a paragraph across the two trafilatura runs.
_OPENING_WORDS = 6
#: The precision run may trim at most this share of recall's words.
_MOST_TRIMMED = 0.5
#: The main extraction is "too little" below this share of the baseline's
#: words; or below the wider share when the words it lacks are an article's
#: worth: the rest of a long story that recall stopped short of, not the
#: teasers and comments a brief sits among (measured: 0.33 to 0.4 of the
#: baseline and 300 to 800 words lacking all gain; 0.5 loses pages).
_TOO_LITTLE, _TOO_LITTLE_WIDE, _ARTICLE_WORDS = 0.25, 0.4, 500
#: Recall holding less than this share of the paragraphs' words may have
#: found one section only (measured: 0.3 to 0.6 give the same gain) …
_ONE_SECTION = 0.4
#: … and the balanced run replaces it when it finds this many times the words.
_MUCH_MORE = 1.5
_PARAGRAPHS = "//p//text()"


def extract_body(tree: HtmlElement, url: str | None, title: str = "", authors: tuple[str, ...] = ()) -> str:
    """The article's text, paragraphs separated by blank lines ("" if none)."""
    # Every word of the page, scripts included (a JSON-LD articleBody): what
    # any extraction can find is bounded by it, which spares needless runs.
    page_words = len(tree.text_content().split())
    recall = _past_one_section(tree, url, _trafilatura(tree, url, "recall"), page_words)
    settled = _list_shaped(recall) or _prose_edges(recall)
    lines = recall if settled else _merge(recall, _trafilatura(tree, url, "precision"))
    lines = _fallback(tree, lines, page_words)
    return "\n\n".join(drop_leftovers(lines, title, authors, keep_repeats=True))


def _past_one_section(tree: HtmlElement, url: str | None, recall: list[str], page_words: int) -> list[str]:
    words = _words(recall)
    if words >= _ONE_SECTION * page_words or words >= _ONE_SECTION * _paragraph_words(tree):
        return recall
    balanced = _trafilatura(tree, url, "balanced")
    return balanced if _words(balanced) >= _MUCH_MORE * words else recall


def _paragraph_words(tree: HtmlElement) -> int:
    return len(" ".join(tree.xpath(_PARAGRAPHS)).split())


def _trafilatura(tree: HtmlElement, url: str | None, focus: str) -> list[str]:
    # Imported here: trafilatura takes a second to import, and the
    # plain-text path and most commands never need it.
    import trafilatura

    # trafilatura copies the tree it is given, so one parse serves every run.
    # The precision run only marks the core: it skips trafilatura's rescue by
    # readability and jusText (fast), which the recall run already has.
    found = trafilatura.bare_extraction(
        tree, url=url, include_comments=False, favor_precision=focus == "precision", favor_recall=focus == "recall",
        fast=focus == "precision",
    )
    text = found.text if found is not None and not isinstance(found, dict) else (found or {}).get("text")
    return _lines(text or "")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _list_shaped(lines: list[str]) -> bool:
    if not lines:
        return False
    listy = sum(1 for line in lines if line.startswith(("- ", "|")) or len(line.split()) < _SHORT_LINE)
    return listy / len(lines) > _LIST_SHAPED


def _prose_edges(lines: list[str]) -> bool:
    """Opens and closes with a full paragraph: the precision run, which only
    trims recall's edges, would find nothing to trim."""
    return len(lines) > 1 and all(
        len(line.split()) >= _PROSE_WORDS and line[-1] in SENTENCE_END for line in (lines[0], lines[-1])
    )


def _merge(recall: list[str], precision: list[str]) -> list[str]:
    """The precision paragraphs, plus the recall paragraphs between them."""
    # Keyed by the opening words: the precision run sometimes stops a
    # paragraph at an inline element the recall run reads through.
    core = {_opening(line) for line in precision}
    positions = [i for i, line in enumerate(recall) if _opening(line) in core]
    if not positions:
        merged = precision or recall
    else:
        first, last = positions[0], positions[-1]
        merged = [line for i, line in enumerate(recall) if first <= i <= last or _opening(line) in core]
    # Edges are a minority of a page's text: a core that leaves out most of
    # recall's words has lost the article, not found its furniture.
    return merged if _words(merged) >= (1 - _MOST_TRIMMED) * _words(recall) else recall


def _words(lines: list[str]) -> int:
    return sum(len(line.split()) for line in lines)


def _opening(line: str) -> str:
    # Six words fit in the first 200 characters; squashing the rest is waste.
    return " ".join(squash(line[:200]).split()[:_OPENING_WORDS])


def _fallback(tree: HtmlElement, lines: list[str], page_words: int) -> list[str]:
    """trafilatura's baseline when the main extraction got (almost) nothing,
    or missed an article's worth of what the baseline finds."""
    words = _words(lines)
    if not _too_little(words, page_words):  # not even the whole page would be enough more
        return lines
    # In the wider band, ask the baseline (mostly the page's paragraphs) only
    # when the paragraphs hold that much more: on most pages they do not, and
    # the run is spared (A/B runs: the wider band's cost at the median fell
    # from 0.11-0.15 to under 0.07 of trafilatura's time; one WCXB page of
    # 790 answered differently).
    if words >= _TOO_LITTLE * page_words and not _too_little(words, _paragraph_words(tree)):
        return lines
    return next((backup for backup in _baselines(tree) if _too_little(words, _words(backup))), lines)


def _too_little(words: int, baseline_words: int) -> bool:
    return words < _TOO_LITTLE * baseline_words or (
        words < _TOO_LITTLE_WIDE * baseline_words and baseline_words - words >= _ARTICLE_WORDS
    )


def _baselines(tree: HtmlElement) -> Iterator[list[str]]:
    """The baseline's answer; then, if the page has JSON-LD, its answer without
    it: the baseline takes any JSON-LD text long enough (a description, an
    FAQ) before it looks at the page's paragraphs."""
    from lxml.etree import strip_elements
    from trafilatura import baseline

    yield _lines(baseline(tree)[1])
    # The exact type trafilatura's baseline reads, not our own JSON-LD rule
    # (search/clean/linked_data.py): the question is what the baseline took.
    if tree.find('.//script[@type="application/ld+json"]') is not None:
        bare = copy.deepcopy(tree)
        strip_elements(bare, "script", with_tail=False)
        yield _lines(baseline(bare)[1])
