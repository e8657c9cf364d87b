"""Related articles: the few articles most like one article, for its page (``related``).

Part of the query stage (the read side), beside search/query/run.py's
``get_article`` and ``get_copies``; web/articles.py shows them on the
article page and in ``/api/articles/<id>``.

Whoosh's more-like-this, bounded and made deterministic:

1. **Key terms.** The body field stores its text but no term vectors
   (search/index/schema.py), so Whoosh's ``more_like`` would analyse the
   stored text again; so does this, with the field's own analyser, over at
   most the first ``MAX_TEXT`` characters (a 10 MiB article costs what a
   long feature costs). Each term is weighed by Whoosh's default model for
   it, Bo1 (divergence from randomness: ``tf·log2((1+f)/f) + log2(1+f)``,
   ``tf`` the term's count in the article, ``f`` its count in the collection
   per article): frequent here and rare elsewhere weighs most. A term in
   one article only (this one) can find nothing; a term in more than
   ``MAX_SHARE`` of the articles says little about what the article is
   about and has the longest posting lists: both are left out. (Under 100
   articles, where a tenth is a handful, the bound is
   ``SMALL_INDEX_TERM_ARTICLES`` articles, and always fewer than half of
   them.) The ``KEY_TERMS`` heaviest remain, ties by the term.
2. **The query**: an OR of the key terms on the body, each boosted by its
   weight over the heaviest one's (as Whoosh's more-like-this boosts them),
   scored by BM25F over the terms' whole posting lists as a results page is
   (search/query/matches.py), within the search time limit.
3. **Left out**: the article and every article of its cluster (its copies
   in other outlets are the same story, not a related one), and articles
   sharing fewer than ``MIN_SHARED`` key terms (one shared name is no
   relation).
4. **Order**: the pool is every candidate scoring at least the best score
   of the ``POOL_PER_ARTICLE × limit``-th best cluster (counted in stories,
   so one story's many copies do not crowd the others out; a cut by score,
   ties all in). Of the pool, other outlets' articles first, then the
   article's own outlet's, each by score, then id; one article per cluster
   (the first in that order); the first ``limit``. An outlet that is not
   known is no outlet's: never "the same outlet".

The same index gives the same list (scores are computed in a fixed order,
ties fall to ids, which survive merges and rebuilds). The work is the
article's distinct words looked up once per segment, the key terms' posting
lists (each in at most ``MAX_SHARE`` of the articles) and a few array
operations per segment: no article is compared one by one. The list is an
aside to the article page: past the time limit it is left out (and logged)
rather than failing the page.

Measured on the shared corpus (2 busy cores; tests/test_related.py holds
the rules against plain Python and Whoosh's scorer): at 21k articles 18 ms
a list (p50; 33 ms p95) beside 9-12 ms for a results page; at 103k (the
corpus 5×, every story in five outlets) 37 ms (82 ms p95). Of the related
articles of 300 Reuters articles, 86 % share a Reuters topic with the
article; with Whoosh's defaults for the key terms (5, no bound on their
articles) and no minimum shared, 83 %.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from whoosh import classify
from whoosh import query as wq
from whoosh.reading import TermNotFound
from whoosh.searching import Searcher

from search.errors import NotFound, QueryError
from search.index import from_stored
from search.query import columns, matches
from search.query.parse import Deadline
from search.records import UNKNOWN, Published
from search.settings import Settings

log = logging.getLogger(__name__)

#: The field compared: the article's text.
FIELD = "body"
#: Characters of the body analysed for key terms (about 3,000 words: what a long feature holds).
MAX_TEXT = 20_000
#: Key terms searched for (Lucene's and Elasticsearch's more-like-this take 25, Whoosh's 5).
KEY_TERMS = 20
#: A term in more than this share of the articles is no key term.
MAX_SHARE = 0.1
#: In a small index, where a share is a handful of articles: a key term is in no more than this many, and in
#: fewer than half of the articles.
SMALL_INDEX_TERM_ARTICLES = 10
#: Key terms a related article must hold.
MIN_SHARED = 2
#: Stories (clusters) among which other outlets come first, per article asked for: the best scored, not every
#: match, so a weak article of another outlet does not pass a strong one of the same outlet.
POOL_PER_ARTICLE = 4


@dataclass(frozen=True)
class RelatedArticle:
    """One related article: what its link on the article page shows, and how alike it scored."""

    id: str
    url: str | None
    title: str
    outlet: str
    published: Published | None
    cluster: str
    score: float  # BM25F of the key terms, boosted; comparable within one list only

    def as_json(self) -> dict[str, object]:
        """The API's object: ``{id, title, outlet, published, url}`` (``url`` the article's own, as in hits)."""
        return {
            "id": self.id,
            "title": self.title,
            "outlet": self.outlet,
            "published": self.published.isoformat() if self.published else None,
            "url": self.url,
        }


def related(searcher: Searcher, article_id: str, settings: Settings, limit: int = 5) -> list[RelatedArticle]:
    """Up to ``limit`` articles like ``article_id`` (never itself nor its copies), other outlets first.

    ``NotFound`` for an unknown id; an empty list when nothing is alike, or past ``search_time_limit``.
    """
    docnum = searcher.document_number(id=article_id)
    if docnum is None:
        raise NotFound(f"no article with id {article_id!r}")
    stored = searcher.stored_fields(docnum)
    deadline = Deadline(settings)
    try:
        return _related(searcher, stored, deadline, limit)
    except QueryError:
        if deadline.remaining() > 0:
            raise
        log.warning("related articles of %s left out: over the %g s time limit", article_id, deadline.limit)
        return []


def key_terms(searcher: Searcher, text: str, deadline: Deadline) -> list[tuple[str, float]]:
    """The text's ``KEY_TERMS`` heaviest terms (as the body indexes them), each with its Bo1 weight, heaviest first."""
    field = searcher.schema[FIELD]
    counts = Counter(token.text for token in field.analyzer(text[:MAX_TEXT], mode="index"))
    deadline.check()
    articles = searcher.doc_count()
    most = max(MAX_SHARE * articles, min(SMALL_INDEX_TERM_ARTICLES, (articles - 1) / 2))
    # Whoosh's Bo1 with the collection statistics Whoosh's own Expander gives it.
    model = classify.Bo1Model(searcher.doc_count_all(), searcher.field_length(FIELD))
    readers = [sub.reader() for sub, _ in searcher.leaf_searchers()]
    weighed = []
    for n, (term, count) in enumerate(sorted(counts.items())):
        if n % _TERMS_PER_CHECK == 0:
            deadline.check()
        in_articles, in_collection = _statistics(readers, field.to_bytes(term))
        if 2 <= in_articles <= most:
            weighed.append((term, float(model.score(count, in_collection, 0))))
    weighed.sort(key=lambda item: (-item[1], item[0]))
    return weighed[:KEY_TERMS]


_TERMS_PER_CHECK = 256


def _statistics(readers: list[Any], term: bytes) -> tuple[int, float]:
    """The term's document frequency and its total weight (count) over every segment."""
    in_articles, in_collection = 0, 0.0
    for reader in readers:
        try:
            info = reader.term_info(FIELD, term)
        except TermNotFound:
            continue
        in_articles += info.doc_frequency()
        in_collection += info.weight()
    return in_articles, in_collection


def _related(searcher: Searcher, stored: dict[str, Any], deadline: Deadline, limit: int) -> list[RelatedArticle]:
    terms = key_terms(searcher, stored.get(FIELD, ""), deadline)
    if len(terms) < MIN_SHARED or limit < 1:
        return []
    heaviest = terms[0][1]
    q = wq.Or([wq.Term(FIELD, term, boost=weight / heaviest) for term, weight in terms])
    index = columns.index_columns(searcher)
    found = matches.matched(searcher, index, q, deadline, scored=True)
    assert found.scores is not None  # an OR of terms is always scored (search/query/matches.py)
    article_id = stored["id"]
    cluster = stored.get("cluster") or article_id
    subsearchers = searcher.leaf_searchers()
    scored, positions, docs = [], [], []  # per segment: the candidates' scores, the segment, their documents
    for leaf, mask, scores, term_docs in zip(index.leaves, found.masks, found.scores, found.term_docs, strict=True):
        deadline.check()
        reader = subsearchers[leaf.position][0].reader()
        shared = np.zeros(leaf.columns.size, dtype=np.int32)
        for term in term_docs:
            shared[term.ids] += 1
        kept = mask & (shared >= MIN_SHARED)
        for name, value in (("cluster", cluster), ("id", article_id)):
            if (name, value) in reader:
                kept[np.fromiter(reader.postings(name, value).all_ids(), dtype=np.int64)] = False
        local = np.flatnonzero(kept)
        scored.append(scores[local])
        positions.append(np.full(len(local), leaf.position))
        docs.append(local)
    if not scored:
        return []
    articles = _Stored(subsearchers)
    pool = _pool(np.concatenate(scored), np.concatenate(positions), np.concatenate(docs), articles,
                 POOL_PER_ARTICLE * limit, deadline)
    outlet = stored.get("outlet") or UNKNOWN
    pool.sort(key=lambda item: (_same_outlet(item.outlet, outlet), -item.score, item.id))
    chosen: dict[str, RelatedArticle] = {}
    for item in pool:
        chosen.setdefault(item.cluster, item)
    return list(chosen.values())[:limit]


def _pool(scores: NDArray[np.float64], positions: NDArray[np.int64], docs: NDArray[np.int64], articles: _Stored,
          stories: int, deadline: Deadline) -> list[RelatedArticle]:
    """The candidates scoring at least the best of the ``stories``-th best cluster.

    A cut by score (ties at it all kept), not by count: it does not depend on
    the order of the index. Counted in clusters, so one story's many copies
    do not crowd the others out. Only these candidates are read (their
    stored fields, about 30 µs each), never a column of a whole segment.
    """
    threshold = -math.inf  # fewer clusters than wanted: every candidate
    walked = min(len(scores), _WALKED_PER_STORY * stories)
    while walked:
        # The ``walked`` best, best first; four times as many if they hold too few clusters.
        top = np.argpartition(-scores, walked - 1)[:walked] if walked < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        seen = set()
        for i in top.tolist():
            deadline.check()
            seen.add(articles.get(int(positions[i]), int(docs[i]), 0.0).cluster)
            if len(seen) == stories:
                threshold = scores[i]
                break
        if len(seen) == stories or walked == len(scores):
            break
        walked = min(len(scores), 4 * walked)
    pool = []
    for i in np.flatnonzero(scores >= threshold).tolist():
        deadline.check()
        pool.append(articles.get(int(positions[i]), int(docs[i]), float(scores[i])))
    return pool


#: Candidates first taken per story wanted (copies of one story come together).
_WALKED_PER_STORY = 4


class _Stored:
    """The candidates' stored fields as ``RelatedArticle``, each read once, from the segments holding them."""

    def __init__(self, subsearchers: list[Any]) -> None:
        self.subsearchers = subsearchers
        self.read: dict[tuple[int, int], RelatedArticle] = {}

    def get(self, position: int, doc: int, score: float) -> RelatedArticle:
        if (position, doc) not in self.read:
            self.read[(position, doc)] = _record(self.subsearchers[position][0].reader().stored_fields(doc), 0.0)
        return replace(self.read[(position, doc)], score=score)


def _record(stored: dict[str, Any], score: float) -> RelatedArticle:
    article = from_stored(stored)
    return RelatedArticle(id=article.id, url=article.url, title=article.title, outlet=article.outlet,
                          published=article.published, cluster=article.cluster, score=score)


def _same_outlet(outlet: str, other: str) -> bool:
    """Whether two articles are known to come from one outlet (an unknown outlet is nobody's)."""
    return outlet == other and outlet != UNKNOWN
