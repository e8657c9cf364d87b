"""Matches: which documents of each segment a Whoosh query matches, as boolean arrays, and their scores.

Part of the read side: search/query/run.py asks here which documents a search
matches (for the facet counts of search/query/facets.py, the total and the
newest-first page) and, for a page by relevance, their scores. Whoosh answers
the same questions by stepping a tree of matchers through every matching
document in Python; here the query tree is walked once per segment instead,
and its boolean structure (AND, OR, NOT, AND NOT, REQUIRE, AND MAYBE,
wildcards' lists of words, date ranges) becomes numpy operations on one
array per segment. A term is read a posting list at a time
(search/query/postings.py); a phrase is tested on the decoded positions of
the documents that hold all its words, as Whoosh's span matcher tests them;
any other leaf is Whoosh's own matcher, stepped through.

The arrays include deleted documents until the end, where the segment's
live documents are applied once: Whoosh leaves deleted documents out of
every posting list and out of what NOT matches, so the sets agree.

Scores (``scored=True``) are Whoosh's BM25F formula applied to whole posting
lists at once (a term's weights and the documents' field lengths), added up
through ORs, ANDs and phrases as Whoosh's matchers add them. Where each node
adds at most two parts, in the same order as Whoosh's binary trees, the
sums are Whoosh's to the last bit (``Matched.exact``); with more parts Whoosh
pairs them by size and the last bits may differ: then the scores only pick
the few documents that can make a page and Whoosh scores those
(search/query/run.py). A query holding anything whose score is not such a
sum (NOT inside an AND, DisjunctionMax, spans) gets no scores here, and
Whoosh scores every match.

The matched terms are kept too, with where they stand (``Matched.terms``):
the highlighter marks the words of the terms Whoosh records as matched.

The search's ``Deadline`` is checked between terms and every few blocks or
candidate documents, so a costly query stops as it did under Whoosh's
time-limited collection.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from whoosh import formats, scoring
from whoosh import query as wq
from whoosh.matching import NullMatcher
from whoosh.query.compound import DefaultOr, PreloadedOr, SplitOr
from whoosh.query.qcore import _NullQuery
from whoosh.reading import TermNotFound
from whoosh.searching import Searcher

from search.query import postings
from search.query.columns import IndexColumns, Leaf, Mask, field_lengths
from search.query.parse import Deadline
from search.query.postings import Check, Ids, Weights

Term = tuple[str, bytes]  # (field name, term as indexed)
Scores = NDArray[np.float64]

_UNIONS = (wq.Or, DefaultOr, SplitOr, PreloadedOr)
_COMPOUNDS = (wq.And, *_UNIONS)
#: Words of one wildcard between time checks.
_WORDS_PER_CHECK = 16


@dataclass(frozen=True, eq=False)
class Matched:
    """What a query matched in each segment, their scores if asked, and where its terms stood."""

    masks: list[Mask]  # per segment: the live documents matched
    scores: list[Scores] | None  # per segment: each document's score (0 where not matched), or None
    exact: bool  # the scores are Whoosh's to the last bit (else: estimates, within rounding)
    term_docs: list[list[_TermDocs]]  # per segment: the query's terms

    def terms(self, within: list[Mask]) -> set[Term]:
        """The terms Whoosh's matcher certainly stood on at one or more of the documents ``within``.

        What Whoosh's ``TermsCollector`` records when it collects those
        documents, but for terms it may record beside them (``unsure``).
        """
        return {
            found.term
            for mask, in_segment in zip(within, self.term_docs, strict=True)
            for found in in_segment
            if found.stands_on(mask)
        }

    def unsure(self, within: list[Mask], sure: set[Term], fields: Iterable[str], docs: list[Ids]) -> set[Term]:
        """The query's terms in ``fields`` outside ``sure`` that one of ``docs`` (per segment) holds.

        Whoosh's matcher for such a term may also stand on a matched
        document without matching it there: a phrase's word after its
        other word's postings ran out in a segment, a term under a NOT
        whose AND ran out. Whether it does depends on how the matchers
        stepped; only stepping them tells.
        """
        wanted = set(fields)
        return {
            found.term
            for in_segment, ids in zip(self.term_docs, docs, strict=True)
            for found in in_segment
            if found.term[0] in wanted and found.term not in sure and np.isin(ids, found.ids).any()
        }


@dataclass(frozen=True, eq=False)
class _TermDocs:
    """A term of the query in one segment: its documents, and the masks of the query nodes above it.

    When the whole query matches a document, Whoosh's matcher for a term
    certainly stands on it if the term is there and every node above the
    term matches it too: a union's other branch matching is not enough for
    a term under an AND, nor a phrase's word without the phrase. Terms under
    a NOT are kept (``positive`` False) but never stand for certain.
    """

    term: Term
    ids: Ids
    positive: bool
    within: list[Mask] = field(default_factory=list)

    def stands_on(self, matched: Mask) -> bool:
        if not self.positive:
            return False
        on = matched[self.ids]
        for mask in self.within:
            on &= mask[self.ids]
        return bool(on.any())


def matched(searcher: Searcher, index: IndexColumns, q: wq.Query, deadline: Deadline, scored: bool) -> Matched:
    """Per segment of ``index``, the live documents ``q`` matches (and their scores if ``scored``)."""
    subsearchers = searcher.leaf_searchers()
    masks, scores, term_docs = [], [], []
    scorers = _Scorers(searcher)
    exact = True
    for leaf in index.leaves:
        deadline.check()
        segment = _Segment(subsearchers[leaf.position][0], leaf, deadline.check, scorers if scored else None)
        node = segment.node(q, positive=True)
        masks.append(node.mask & leaf.live)
        scores.append(node.score)
        exact = exact and node.exact
        term_docs.append(segment.term_docs)
    usable = scored and all(s is not None for s in scores)
    return Matched(masks, [s for s in scores if s is not None] if usable else None, usable and exact, term_docs)


def everything(index: IndexColumns) -> Matched:
    """Per segment, every live document: what the empty query matches."""
    return Matched([leaf.live for leaf in index.leaves], None, False, [[] for _ in index.leaves])


@dataclass(frozen=True, eq=False)
class _Node:
    mask: Mask
    score: Scores | None = None  # None: not asked, or not a sum Whoosh's matchers would make
    exact: bool = False  # the score is Whoosh's to the last bit: added up in the same order
    whole: bool = False  # every score a whole number: sums of them are the same in any order


class _Scorers:
    """Per term, how Whoosh's BM25F scorer scores it: its formula and parameters, which are global
    statistics (the same in every segment). Any other weighting gives no scores here."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.weighting = searcher.weighting if type(searcher.weighting) is scoring.BM25F else None
        self._found: dict[Term, Callable[[Weights, Weights], Weights] | None] = {}

    def get(self, term: Term) -> Callable[[Weights, Weights], Weights] | None:
        """A function of (weights, field lengths) to scores, as ``BM25F.scorer`` would score the term."""
        if term not in self._found:
            self._found[term] = self._scorer(term)
        return self._found[term]

    def _scorer(self, term: Term) -> Callable[[Weights, Weights], Weights] | None:
        weighting = self.weighting
        if weighting is None:
            return None
        fieldname, text = term
        if not self.searcher.schema[fieldname].scorable:  # Whoosh's WeightScorer: the weight
            return lambda weights, lengths: weights
        b = weighting._field_B.get(fieldname, weighting.B)
        k1 = weighting.K1
        idf = self.searcher.idf(fieldname, text)
        average = self.searcher.avg_field_length(fieldname) or 1
        return lambda weights, lengths: scoring.bm25(idf, weights, lengths, average, b, k1)


class _Segment:
    """One segment's searcher and columns, and the query's nodes evaluated on them.

    ``positive`` is False under a NOT (or the excluded side of AND NOT).
    ``scorers`` is None when no scores are wanted.
    """

    def __init__(self, searcher: Searcher, leaf: Leaf, check: Check, scorers: _Scorers | None) -> None:
        self.searcher = searcher
        self.leaf = leaf
        self.size = leaf.columns.size
        self.check = check
        self.scorers = scorers
        self.context = searcher.boolean_context()
        self.term_docs: list[_TermDocs] = []

    def node(self, q: wq.Query, positive: bool) -> _Node:
        first = len(self.term_docs)
        found = self._node(q, positive)
        for term_docs in self.term_docs[first:]:  # the terms found under this node
            term_docs.within.append(found.mask)
        if found.score is not None and (type(q) is wq.Phrase or (type(q) in _COMPOUNDS and len(q.subqueries) > 1)) \
                and q.boost != 1.0:
            # Whoosh wraps a compound's (or a phrase's) matcher to multiply its score
            # (a compound of one is its part's matcher, unwrapped).
            found = _Node(found.mask, found.score * q.boost, found.exact, found.whole and float(q.boost).is_integer())
        return found

    def _node(self, q: wq.Query, positive: bool) -> _Node:
        kind = type(q)
        if kind is wq.Every and q.fieldname is None:
            return _Node(np.ones(self.size, dtype=np.bool_))
        if isinstance(q, _NullQuery):
            return self.nothing()
        if kind is wq.And:
            return self.all_of([self.node(sub, positive) for sub in q.subqueries])
        if kind in _UNIONS and len(q.subqueries) >= wq.Or.TOO_MANY_CLAUSES:
            # Whoosh preloads so many parts' scores in chunks: its matchers for them stand
            # ahead of the document collected (never recorded), or maybe on it.
            return _Node(self.any_of([self.node(sub, False) for sub in q.subqueries]).mask)
        if kind in _UNIONS and not q.scale:
            return self.any_of([self.node(sub, positive) for sub in q.subqueries])
        if kind is wq.DisjunctionMax:
            return _Node(self.any_of([self.node(sub, positive) for sub in q.subqueries]).mask)
        if kind is wq.Not:
            return _Node(~self.node(q.query, False).mask)
        if kind is wq.AndNot:
            kept, dropped = self.node(q.a, positive), self.node(q.b, False)
            return _Node(kept.mask & ~dropped.mask, _masked(kept.score, ~dropped.mask), kept.exact)
        if kind is wq.Require:
            scored, required = self.node(q.a, positive), self.node(q.b, positive)
            return _Node(scored.mask & required.mask, _masked(scored.score, required.mask), scored.exact)
        if kind is wq.AndMaybe:
            main, maybe = self.node(q.a, positive), self.node(q.b, positive)
            return _Node(main.mask, _masked(_sum([main.score, maybe.score]), main.mask), main.exact and maybe.exact)
        if kind in (wq.WrappingQuery, wq.ConstantScoreQuery):  # the child's matcher, when terms are collected
            return self.node(q.child, positive)
        if isinstance(q, wq.NumericRange):
            # A date range: an OR of the trie's terms for this segment, shaped as Whoosh
            # shapes it only when no order of adding changes the sum.
            found = self.node(q.simplify(self.searcher.reader()), positive)
            return _Node(found.mask, found.score, found.score is not None and found.whole, found.whole)
        if isinstance(q, wq.MultiTerm):
            return self.words(q, positive)
        if isinstance(q, wq.Term) and not q.minquality:
            return self.read_term(q.fieldname, q.text, positive, q.boost)
        if kind is wq.Phrase:
            return self.phrase(q, positive)
        return self.other(q, positive)

    def nothing(self) -> _Node:
        return _Node(np.zeros(self.size, dtype=np.bool_), np.zeros(self.size) if self.scorers else None, True, True)

    def all_of(self, nodes: list[_Node]) -> _Node:
        """An AND: Whoosh adds its parts' scores (in its own order beyond two parts)."""
        if not nodes:
            return self.nothing()
        mask = nodes[0].mask.copy()
        for node in nodes[1:]:
            mask &= node.mask
        return _Node(mask, _masked(_sum([n.score for n in nodes]), mask), _exactly_added(nodes),
                     all(n.whole for n in nodes))

    def any_of(self, nodes: list[_Node]) -> _Node:
        """An OR: Whoosh adds the scores of the parts that match (in its own order beyond two parts)."""
        if not nodes:
            return self.nothing()
        mask = nodes[0].mask.copy()
        for node in nodes[1:]:
            mask |= node.mask
        return _Node(mask, _sum([n.score for n in nodes]), _exactly_added(nodes), all(n.whole for n in nodes))

    def words(self, q: wq.MultiTerm, positive: bool) -> _Node:
        """A wildcard, prefix or range of words: the union of its words' postings, as Whoosh's matcher.

        Whoosh reads a single word as a plain term, without the wildcard's
        boost; it ORs a few words with it. From ``TOO_MANY_CLAUSES`` words on,
        it preloads their scores in chunks: each document's score is then
        1 for a constant-score wildcard, else its words' boosted scores added
        in the words' order; and its matchers for the words stand ahead of
        the document collected, so no word is ever recorded as matched.
        """
        words = [word for word in q._btexts(self.searcher.reader()) if word]
        preloaded = len(words) >= wq.Or.TOO_MANY_CLAUSES
        nodes = []
        for n, word in enumerate(words):
            if n % _WORDS_PER_CHECK == 0:
                self.check()
            nodes.append(self.read_term(q.field(), word, positive, 1.0, recorded=not preloaded))
        if not preloaded:
            found = self.any_of(nodes)
            if found.score is not None and len(words) > 1 and q.boost != 1.0:
                found = _Node(found.mask, found.score * q.boost, found.exact, found.whole and float(q.boost).is_integer())
            return found
        mask = np.logical_or.reduce([n.mask for n in nodes])
        if self.scorers is None:
            return _Node(mask)
        if q.constantscore:
            return _Node(mask, mask.astype(np.float64), True, True)
        score = np.zeros(self.size)
        for node in nodes:
            if node.score is None:
                return _Node(mask)
            score[node.mask] += node.score[node.mask] * q.boost
        return _Node(mask, score, all(n.exact for n in nodes), False)

    def read_term(self, fieldname: str, text: Any, positive: bool, boost: float, recorded: bool = True) -> _Node:
        """A term as ``Term.matcher`` reads it (nothing if the field or the term is not here)."""
        reader = self.searcher.reader()
        if fieldname not in reader.schema:
            return self.nothing()
        try:
            term = (fieldname, reader.schema[fieldname].to_bytes(text))
        except ValueError:
            return self.nothing()
        found = postings.read_term(reader, term[0], term[1], self.check)
        if found is None:
            return self.nothing()
        return self.scored_term(term, *found, positive, boost, recorded)

    def term(self, matcher: Any, positive: bool, boost: float) -> _Node:
        """A term from its matcher."""
        term = postings.term(matcher)
        if term is None:
            return self.nothing()
        return self.scored_term(term, *postings.term_postings(matcher, self.check), positive, boost)

    def scored_term(self, term: Term, ids: Ids, weights: Weights, positive: bool, boost: float,
                    recorded: bool = True) -> _Node:
        mask = np.zeros(self.size, dtype=np.bool_)
        mask[ids] = True
        if len(ids) and recorded:
            self.term_docs.append(_TermDocs(term, ids, positive))
        if self.scorers is None:
            return _Node(mask)
        if not len(ids):
            return _Node(mask, np.zeros(self.size), True, True)
        scores = self.term_scores(term, ids, weights)
        if scores is None:
            return _Node(mask)
        if boost != 1.0:
            scores = scores * boost
        return _Node(mask, _scattered(self.size, ids, scores), True, bool(np.all(scores == np.floor(scores))))

    def term_scores(self, term: Term, ids: Ids, weights: Weights) -> Weights | None:
        """Whoosh's scorer's formula over the whole posting list (BM25F: weight and field length)."""
        assert self.scorers is not None
        scorer = self.scorers.get(term)
        if scorer is None:
            return None
        return scorer(weights, field_lengths(self.searcher.reader(), self.leaf.columns, term[0], ids))

    def phrase(self, q: wq.Phrase, positive: bool) -> _Node:
        """A phrase: Whoosh's matcher is an AND of its words (added as a binary tree in their order)
        keeping the documents where their positions follow each other (``SpanNear2``, ordered).

        Only documents holding every word are looked at; their positions
        are decoded here and tested as Whoosh's span matcher tests them.
        """
        reader = self.searcher.reader()
        if q.fieldname not in reader.schema or not isinstance(reader.schema[q.fieldname].format, formats.Positions):
            return self.other(q, positive)  # Whoosh's matcher says why (or matches nothing)
        field = reader.schema[q.fieldname]
        decode = field.format.decode_positions  # Whoosh's own, or the index's compact variant
        words, postings_values = [], []
        for word in q.words:
            try:
                term = (q.fieldname, field.to_bytes(word))
            except ValueError:
                return self.nothing()
            found = postings.read_term_values(reader, *term, check=self.check)
            if found is None:  # a word not in this segment
                return self.nothing()
            ids, weights, values = found
            if values is None or len(values) != len(ids):
                return self.other(q, positive)
            words.append(self.scored_term(term, ids, weights, positive, 1.0))
            postings_values.append((ids, values))
        mask = np.logical_and.reduce([w.mask for w in words])
        candidates = np.flatnonzero(mask)
        if len(candidates):
            at = [(np.searchsorted(ids, candidates).tolist(), values) for ids, values in postings_values]
            for n, docnum in enumerate(candidates.tolist()):
                if n % _WORDS_PER_CHECK == 0:
                    self.check()
                mask[docnum] = _in_order([decode(values[where[n]]) for where, values in at], q.slop)
        score = _masked(_binary_sum([w.score for w in words]), mask)
        return _Node(mask, score, all(w.exact for w in words))

    def other(self, q: wq.Query, positive: bool) -> _Node:
        """Any other query: what Whoosh's own matcher yields, its terms, no score."""
        matcher = q.matcher(self.searcher, self.context)
        mask = np.zeros(self.size, dtype=np.bool_)
        mask[postings.all_ids(matcher, self.check)] = True
        for word in matcher.term_matchers():
            if postings.is_term(word):
                self.term(word, positive, 1.0)
        return _Node(mask, np.zeros(self.size) if self.scorers is not None and not mask.any() else None)

    def postings(self, fieldname: str, text: Any) -> Any:
        """What ``Term.matcher`` reads, without the scorer it makes (the scores are made here)."""
        reader = self.searcher.reader()
        if fieldname not in reader.schema:
            return NullMatcher()
        try:
            return reader.postings(fieldname, reader.schema[fieldname].to_bytes(text))
        except (TermNotFound, ValueError):
            return NullMatcher()


def _in_order(words: list[list[int]], slop: int, mindist: int = 1) -> bool:
    """Whether the words' positions in a document make Whoosh's ordered ``SpanNear2`` match:
    its ``_get_spans`` on plain (start, end) pairs, a term's span being (position, position)."""
    spans = [(p, p) for p in words[0]]
    for following in words[1:]:
        if not spans:
            return False
        found = set()
        for start, end in spans:
            j = bisect_left(following, start)
            while j < len(following):
                position = following[j]
                j += 1
                if position < start - slop or start > position:
                    continue
                if position > end + slop:
                    break
                distance = 0 if start <= position <= end else position - end if end < position else start - position
                if mindist <= distance <= slop:
                    found.add((min(start, position), max(end, position)))
        spans = sorted(found)
    return bool(spans)


def _sum(scores: list[Scores | None]) -> Scores | None:
    """The parts' scores added in their order (None if one part has none)."""
    present = [s for s in scores if s is not None]
    if len(present) < len(scores) or not present:
        return None
    total = present[0].copy()
    for score in present[1:]:
        total += score
    return total


def _masked(score: Scores | None, mask: Mask) -> Scores | None:
    return None if score is None else np.where(mask, score, 0.0)


def _scattered(size: int, ids: Ids, values: NDArray[np.float64]) -> Scores:
    score = np.zeros(size)
    score[ids] = values
    return score


def _binary_sum(scores: list[Scores | None]) -> Scores | None:
    """Scores added as Whoosh's ``make_binary_tree`` pairs them: halves, recursively."""
    if any(s is None for s in scores) or not scores:
        return None
    if len(scores) == 1:
        return scores[0]
    half = len(scores) // 2
    left, right = _binary_sum(scores[:half]), _binary_sum(scores[half:])
    return None if left is None or right is None else left + right


def _exactly_added(nodes: list[_Node]) -> bool:
    """Whether Whoosh adds these parts' scores as ``_sum`` does: two (a sum of two is the same
    either way round) or one, or whole numbers (the same in any order); beyond, Whoosh pairs
    them by their sizes in each segment."""
    return all(n.exact for n in nodes) and (len(nodes) <= 2 or all(n.whole for n in nodes))
