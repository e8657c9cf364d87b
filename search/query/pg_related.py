"""The PostgreSQL backend's related articles: the few articles most like one article, for its page.

Part of the query stage, for the PostgreSQL backend (issue 19), below the
reader's facade (search/query/pg_reader.py). The embedded backend's
counterpart is search/query/related.py (Whoosh's more-like-this scored by
BM25F); this one keeps its rules and bounds (``KEY_TERMS``, ``MAX_SHARE``,
``MIN_SHARED``, ``POOL_PER_ARTICLE``, the same ``RelatedArticle``) with
PostgreSQL's own means, so the order need not be Whoosh's:

1. **Key terms**: the words of the article's body as its ``words`` vector
   holds them (folded, unstemmed: search/index/lexemes.py), each weighed
   ``tf · ln(N / df)`` — its count in the body, and how few of the ``N``
   articles hold it (``words_seen``, kept by the writer: no scan of the
   corpus). A word in one article only (this one) finds nothing; one in more
   than ``MAX_SHARE`` of the articles says little: both are left out (under
   100 articles the bound is ``SMALL_INDEX_TERM_ARTICLES``, and fewer than
   half). The ``KEY_TERMS`` heaviest remain, ties by the word.
2. **Candidates**: articles whose body holds at least ``MIN_SHARED`` key
   terms — a tsquery OR of every pair of them, which the ``words`` GIN index
   answers — never the article nor any article of its cluster.
3. **Score**: ``ts_rank_cd`` of the key terms (an OR) over the body.
4. **Order**: the pool is every candidate scoring at least the best score of
   the ``POOL_PER_ARTICLE × limit``-th best cluster; of the pool, other
   outlets' articles first, then the article's own outlet's, each by score,
   then id; one article per cluster; the first ``limit``. An outlet that is
   not known is no outlet's.

Past the search time limit the list is left out (and logged), as the
embedded backend does: it is an aside to the article page.
"""

from __future__ import annotations

import itertools
import logging
import math

from psycopg import sql

from search.errors import NotFound, QueryError
from search.index.lexemes import WEIGHTS, quote
from search.query.pg_counts import hit_columns, int_of, stored_article
from search.query.pg_plan import Run
from search.query.related import (
    KEY_TERMS,
    MAX_SHARE,
    MIN_SHARED,
    POOL_PER_ARTICLE,
    SMALL_INDEX_TERM_ARTICLES,
    RelatedArticle,
)
from search.records import UNKNOWN

log = logging.getLogger(__name__)

#: The body's label in the vectors.
_BODY = WEIGHTS["body"]


def related(run: Run, article_id: str, limit: int = 5) -> list[RelatedArticle]:
    """Up to ``limit`` articles like ``article_id``; ``NotFound`` for an unknown id; empty when nothing is
    alike, or past the time limit."""
    found = run(sql.SQL("SELECT a.cluster, a.outlet FROM articles a JOIN article_months m "
                        "ON a.month = m.month AND a.id = m.id WHERE m.id = %s"), (article_id,))
    if not found:
        raise NotFound(f"no article with id {article_id!r}")
    cluster, outlet = (str(value) for value in found[0])
    try:
        terms = key_terms(run, article_id)
        if len(terms) < MIN_SHARED or limit < 1:
            return []
        return _chosen(run, article_id, cluster, outlet or UNKNOWN, terms, limit)
    except QueryError:
        if run.deadline.remaining() > 0:
            raise
        log.warning("related articles of %s left out: over the %g s time limit", article_id, run.deadline.limit)
        return []


def key_terms(run: Run, article_id: str) -> list[str]:
    """The body's ``KEY_TERMS`` heaviest words (tf · ln(N / df)), heaviest first, ties by the word."""
    (articles,), = run(sql.SQL("SELECT count(*) FROM article_months"), ())
    total = int_of(articles)
    most = max(MAX_SHARE * total, min(SMALL_INDEX_TERM_ARTICLES, (total - 1) / 2))
    rows = run(sql.SQL(
        "SELECT t.lexeme, (SELECT count(*) FROM unnest(t.weights) w WHERE w = %s), s.articles "
        "FROM article_months m JOIN articles a ON a.month = m.month AND a.id = m.id, unnest(a.words) t "
        "JOIN words_seen s ON s.word = t.lexeme WHERE m.id = %s"), (_BODY, article_id))
    weighed = [(str(word), int_of(tf) * math.log(total / int_of(df))) for word, tf, df in rows
               if int_of(tf) and 2 <= int_of(df) <= most]
    weighed.sort(key=lambda item: (-item[1], item[0]))
    return [word for word, _ in weighed[:KEY_TERMS]]


def _chosen(run: Run, article_id: str, cluster: str, outlet: str, terms: list[str], limit: int) -> list[RelatedArticle]:
    body = [f"{quote(term)}:{_BODY}" for term in terms]
    # Any MIN_SHARED of the key terms: an OR of ANDs, which the GIN index of ``words`` answers.
    shared = " | ".join("(" + " & ".join(group) + ")" for group in itertools.combinations(body, MIN_SHARED))
    stories = POOL_PER_ARTICLE * limit
    statement = sql.SQL(
        "WITH scored AS MATERIALIZED (SELECT {columns}, ts_rank_cd(words, %(any)s::tsquery, 1) AS score "
        "FROM articles WHERE words @@ %(shared)s::tsquery AND cluster <> %(cluster)s AND id <> %(id)s), "
        "best AS (SELECT cluster, max(score) AS top FROM scored GROUP BY cluster ORDER BY top DESC LIMIT %(stories)s), "
        "cut AS (SELECT CASE WHEN count(*) < %(stories)s THEN '-infinity'::real ELSE min(top) END AS at FROM best) "
        "SELECT {columns}, score FROM scored, cut WHERE score >= cut.at").format(columns=hit_columns())
    rows = run(statement, {"any": " | ".join(body), "shared": shared, "cluster": cluster, "id": article_id,
                           "stories": stories})
    pool = []
    for row in rows:
        article = stored_article(row[:-1])
        pool.append(RelatedArticle(id=article.id, url=article.url, title=article.title, outlet=article.outlet,
                                   published=article.published, cluster=article.cluster, score=float(row[-1])))
    pool.sort(key=lambda item: (item.outlet == outlet and outlet != UNKNOWN, -item.score, item.id))
    chosen: dict[str, RelatedArticle] = {}
    for item in pool:
        chosen.setdefault(item.cluster, item)
    return list(chosen.values())[:limit]
