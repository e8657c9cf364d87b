"""The PostgreSQL percolator: saved searches stored once as tsqueries, matched against new articles in SQL.

Part of the query stage, for the PostgreSQL backend (issue 19), behind the
read side's seam (search/query/backend.py's ``Percolator``): the alert stage
(search/alerts/runner.py) hands over a batch of new articles (already rows of
``articles``) and the due saved searches, all at once (``match_all``); the
embedded backend's counterpart is search/query/percolate.py's RAM index.

**Compiled once.** Each saved search is read by the project's own parser and
compiled to one row of ``alert_queries`` (migrations/0003_alert_queries.sql)
under a hash of its canonical form (``canonical_key``: the query text, the
facet and date filters, and ``FORM_VERSION``), so a saved search that did
not change is never compiled again, whoever asks. A row holds the text as a
``tsquery`` per vector (the stemmed ``lexemes``, the unstemmed ``words`` for
prefixes: search/query/tsquery.py's forms), the facet filters as arrays,
the date filter as bounds — a preset (``range=week``) as an interval,
counted back from each run's moment at match time, never stored as dates —
and ``required``: lexemes at least one of which every match holds
(``required_lexemes``), or NULL when none can be derived.

**One statement per batch.** The batch's articles are joined with the stored
queries that could match each of them — the GIN index on ``required``
overlapping the article's lexemes, plus the few queries with no required
lexeme — and only those candidates are evaluated (``candidates`` counts
them): the cost per new article follows the saved searches sharing a word
with it, not all of them, and never the corpus.

**What the stored form cannot express** — a non-prefix wildcard (its words
are the batch's, expanded under the cap as the RAM percolator expands them),
a field, id or date condition inside the query text — is kept as ``whole``
and matched on its own, one statement against the batch by id.

**The words each match was found by** are the RAM percolator's (search/query/run.py's
``matching``): the typed words whose analysed terms Whoosh records as
matched in the title or body — a term the article holds where every query
node above it matches the article too (pg_plan.py's ``term_paths``; none
under a NOT), a
prefix's or wildcard's words counted by their stems. They are asked for the
matched pairs only, in one statement.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from psycopg import sql
from whoosh import query as wq

from search.errors import QueryError
from search.index import WORD_FIELDS, index_terms, text_analyzer
from search.index.lexemes import WEIGHTS
from search.index.postgres import Connection
from search.query.parse import RANGES, date_filter, read_query
from search.query.pg_plan import all_of, dates_condition, facet_filter, like, like_wildcard, schema, term_paths
from search.query.tsquery import LEXEMES, WORDS, Condition, compile_query
from search.records import CERTAIN_DATE_SOURCES, SearchQuery, StoredArticle
from search.settings import Settings

#: Part of every key: raised when the compiled form changes, so rows of an older form are not read as this one.
FORM_VERSION = 1
#: The fields a query's words are reported from (as the RAM percolator reports them), and their weights.
_REPORTED = ("title", "body")
_TWIN_OF = {twin: name for name, twin in WORD_FIELDS.items()}
_THE_EPOCH = dt.datetime(1970, 1, 1)
#: Requests whose words are asked in one statement (each a SELECT of a few parameters per query word).
_SELECTS_PER_STATEMENT = 100

Found = dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class StoredQuery:
    """One row of ``alert_queries``: a saved search as the match statement reads it."""

    key: str
    whole: bool
    lexemes: str | None
    words: str | None
    outlets: list[str] | None
    actors: list[str] | None
    years: list[str] | None
    languages: list[str] | None
    dated: bool
    first_at: dt.datetime | None
    last_at: dt.datetime | None
    recent: dt.timedelta | None
    undated_only: bool
    certainty: str | None
    required: list[str] | None

    def row(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _STORED_COLUMNS)


_STORED_COLUMNS = ("key", "whole", "lexemes", "words", "outlets", "actors", "years", "languages", "dated", "first_at",
                   "last_at", "recent", "undated_only", "certainty", "required")


class PostgresPercolator:
    """A batch of articles (rows of ``articles``) that saved searches are matched against, in SQL.

    ``candidates`` is how many (article, stored query) pairs the last
    ``match_all`` evaluated: those the ``required`` prefilter let through.
    ``compiled`` is how many saved searches it compiled (not found stored).
    """

    def __init__(self, connection: Connection, articles: Sequence[StoredArticle], settings: Settings) -> None:
        self.connection = connection
        self.settings = settings
        self.ids = [article.id for article in articles]
        self.candidates = 0
        self.compiled = 0

    def match_all(self, requests: Sequence[SearchQuery]) -> list[Found | Exception]:
        """Per request, in order: the batch's articles it matches, by id, with the query words each matched;
        or the ``QueryError`` of a saved query that cannot run (the others still run)."""
        results: list[Found | Exception] = [{} for _ in requests]
        if not requests or not self.ids:
            return results
        # A stored query was read and compiled before: only the new ones, the whole ones and those with
        # matches to explain are read (parsing thousands of saved searches would cost more than matching them).
        keys = {n: canonical_key(request) for n, request in enumerate(requests)}
        self._store({keys[n]: request for n, request in enumerate(requests)}, results, keys)
        usable = {n: key for n, key in keys.items() if not isinstance(results[n], Exception)}
        parsed: dict[int, wq.Query] = {}
        with self.connection.transaction():
            whole = self._whole(set(usable.values()))
            matched = self._matched({n: key for n, key in usable.items() if key not in whole}, requests)
            for n, key in usable.items():
                if key in whole:
                    try:
                        parsed[n] = self._read(requests[n])
                        matched[n] = self._one(requests[n], parsed[n])
                    except QueryError as e:
                        results[n] = e
            for n in matched:
                if matched[n] and n not in parsed:
                    parsed[n] = self._read(requests[n])
            for n, found in self._words(matched, requests, parsed).items():
                results[n] = found
        return results

    def _read(self, request: SearchQuery) -> wq.Query:
        return read_query(request.q, schema(), self.settings)

    def close(self) -> None:
        """Nothing held: the batch is rows of ``articles``, the compiled queries rows of ``alert_queries``."""

    # --- compiling once ---------------------------------------------------------------------------------------

    def _store(self, asked: dict[str, SearchQuery], results: list[Found | Exception], keys: dict[int, str]) -> None:
        """Compile and store the saved searches not stored yet (a saved search that cannot be compiled gets its
        ``QueryError``, and is not stored)."""
        known = {str(row[0]) for row in self.connection.execute(
            "SELECT key FROM alert_queries WHERE key = ANY(%s)", (list(asked),))}
        rows = []
        failed: dict[str, QueryError] = {}
        for key, request in asked.items():
            if key in known:
                continue
            try:
                rows.append(compile_saved(key, request, self._read(request)).row())
            except QueryError as e:
                failed[key] = e
        if rows:
            with self.connection.transaction(), self.connection.cursor() as cursor:
                cursor.executemany(sql.SQL("INSERT INTO alert_queries ({}) VALUES ({}) ON CONFLICT (key) DO NOTHING")
                                   .format(sql.SQL(", ").join(map(sql.Identifier, _STORED_COLUMNS)),
                                           sql.SQL(", ").join(sql.Placeholder() * len(_STORED_COLUMNS))), rows)
            # Fresh statistics, or the planner takes the new rows for none and reads every stored query per article.
            self.connection.execute("ANALYZE alert_queries")
        self.compiled = len(rows)
        for n, key in keys.items():
            if key in failed:
                results[n] = failed[key]

    def _whole(self, keys: set[str]) -> set[str]:
        return {str(row[0]) for row in self.connection.execute(
            "SELECT key FROM alert_queries WHERE key = ANY(%s) AND whole", (sorted(keys),))}

    # --- matching ---------------------------------------------------------------------------------------------

    def _matched(self, keys: dict[int, str], requests: Sequence[SearchQuery]) -> dict[int, list[str]]:
        """The stored queries' matches, in one statement over the candidates the prefilter lets through."""
        found: dict[int, list[str]] = {n: [] for n in keys}
        if not keys:
            return found
        by_key: dict[tuple[str, dt.datetime], list[int]] = {}
        for n, key in keys.items():
            by_key.setdefault((key, _run_moment(requests[n])), []).append(n)
        asked = sorted(by_key)
        rows = self.connection.execute(_MATCH, {
            "keys": [key for key, _ in asked], "nows": [now for _, now in asked], "ids": self.ids,
            "certain": sorted(CERTAIN_DATE_SOURCES)}).fetchall()
        self.candidates = len(rows)
        for stored_key, now, article_id, matched in rows:
            if matched and isinstance(now, dt.datetime):
                for n in by_key[(str(stored_key), now)]:
                    found[n].append(str(article_id))
        return found

    def _one(self, request: SearchQuery, parsed: wq.Query) -> list[str]:
        """A query the stored form cannot express, matched on its own against the batch."""
        expand = _BatchWords(self.connection, self.ids, parsed, self.settings)
        where = all_of([compile_query(parsed, expand), dates_condition(date_filter(request)),
                        *(facet_filter(name, values) for name, values in request.filters().items() if values)])
        rows = self.connection.execute(sql.SQL("SELECT id FROM articles WHERE {} AND {}").format(_IN_BATCH, where.where),
                                       (self.ids, *where.params)).fetchall()
        return [str(row[0]) for row in rows]

    # --- the words each match was found by ----------------------------------------------------------------------

    def _words(self, matched: dict[int, list[str]], requests: Sequence[SearchQuery],
               parsed: dict[int, wq.Query]) -> dict[int, Found]:
        """Per request, its matches with the typed words whose terms Whoosh records as matched there."""
        parts: list[tuple[sql.Composable, list[object]]] = []  # one SELECT per request, with its parameters
        reported: dict[int, list[wq.Query]] = {}
        for n, ids in matched.items():
            if not ids or not requests[n].q:
                continue
            paths = [(leaf, needed) for leaf, needed in term_paths(parsed[n], positive_only=True)
                     if _is_reported(leaf)]
            if not paths:
                continue
            expand = _BatchWords(self.connection, self.ids, parsed[n], self.settings) \
                if any(isinstance(node, wq.Wildcard) for node in parsed[n].leaves()) else _no_words
            columns: list[sql.Composable] = []
            params: list[object] = []
            for leaf, needed in paths:
                holds = all_of([compile_query(node, expand) for node in needed]) if needed else None
                column = _held(leaf, holds)
                columns.append(column.where)
                params.extend(column.params)
            params.append(ids)
            parts.append((sql.SQL("SELECT {}::int, id, jsonb_build_array({}) FROM batch WHERE id = ANY(%s)").format(
                sql.Literal(n), sql.SQL(", ").join(columns)), params))
            reported[n] = [leaf for leaf, _ in paths]
        found: dict[int, Found] = {n: dict.fromkeys(ids, ()) for n, ids in matched.items()}
        if parts:
            typed = {n: _typed_words(requests[n].q) for n in reported}
            for number, article_id, held in self._held_rows(parts):
                n, terms = int(str(number)), set[str]()
                assert isinstance(held, list)  # jsonb_build_array: one list of words per leaf
                for leaf, words in zip(reported[n], held, strict=True):
                    if isinstance(leaf, wq.Term):
                        terms.update(words)
                    else:  # a wildcard's words: a typed word counts when it stems like one of them
                        terms.update(term for word in words for term in index_terms(word))
                found[n][str(article_id)] = tuple(dict.fromkeys(word for term, word in typed[n] if term in terms))
        return found


    def _held_rows(self, parts: list[tuple[sql.Composable, list[object]]]) -> Iterator[tuple[object, ...]]:
        """The SELECTs joined by UNION ALL, a few at a time: a statement takes at most 65,535 parameters, and
        thousands of branches cost the server more to plan than to run. Each branch reads the batch's rows from
        one CTE, read once per statement: a branch reading ``articles`` itself was planned over every month's
        partition (the batch's months are found at run time), and a hundred such branches over hundreds of
        partitions took gigabytes of the server's memory to plan."""
        for start in range(0, len(parts), _SELECTS_PER_STATEMENT):
            chunk = parts[start:start + _SELECTS_PER_STATEMENT]
            statement = sql.SQL("WITH batch AS MATERIALIZED (SELECT * FROM articles WHERE {}) {}").format(
                _IN_BATCH, sql.SQL(" UNION ALL ").join(part for part, _ in chunk))
            yield from self.connection.execute(statement, [list(self.ids), *(param for _, params in chunk
                                                                              for param in params)])


def canonical_key(request: SearchQuery) -> str:
    """A hash of what a saved search matches by: its text, facet filters and date filter (not its moment)."""
    form = {"version": FORM_VERSION, "q": request.q, "filters": {name: sorted(values) for name, values
                                                                 in request.filters().items() if values},
            "from": request.date_from, "to": request.date_to, "range": request.date_range, "dated": request.dated,
            "certainty": request.certainty}
    return hashlib.sha256(json.dumps(form, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def compile_saved(key: str, request: SearchQuery, parsed: wq.Query) -> StoredQuery:
    """A saved search as a stored row (``QueryError`` for one that cannot be compiled)."""
    filters = request.filters()
    dates = date_filter(replace(request, now=_THE_EPOCH.replace(tzinfo=dt.UTC)))  # whether there is one at all
    fixed = date_filter(replace(request, date_range=""))  # its bounds that do not move with the run
    recent = RANGES[request.date_range] if request.date_range and not request.date_from else None
    vectors = _text(parsed)
    return StoredQuery(
        key=key, whole=vectors is None,
        lexemes=(vectors or {}).get(LEXEMES), words=(vectors or {}).get(WORDS),
        outlets=list(filters["outlet"]) or None, actors=list(filters["actor"]) or None,
        years=list(filters["year"]) or None, languages=list(filters["language"]) or None,
        dated=dates is not None and not dates.undated_only,
        first_at=fixed.first if fixed is not None and request.date_from else None,
        last_at=fixed.last if fixed is not None else None, recent=recent,
        undated_only=dates is not None and dates.undated_only,
        certainty=(dates.certainty or None) if dates is not None else None,
        required=sorted(required_lexemes(parsed) or ()) or None)


def _text(parsed: wq.Query) -> dict[str, str] | None:
    """The query text as one tsquery per vector, ANDed (the query's top-level parts each on one vector); None
    when a part mixes vectors or conditions on columns, or needs the batch's words (a wildcard)."""
    if isinstance(parsed, wq.Every):
        return {}
    parts = parsed.subqueries if type(parsed) is wq.And else [parsed]
    found: dict[str, list[str]] = {}
    for part in parts:
        vector = _vector_of(part)
        if vector is None:
            return None
        condition = compile_query(part, _no_words)
        if len(condition.params) != 1 or not isinstance(condition.params[0], str):
            return None  # not one tsquery after all (a form of the compiler this does not know)
        found.setdefault(vector, []).append(condition.params[0])
    return {vector: " & ".join(f"({q})" for q in queries) if len(queries) > 1 else queries[0]
            for vector, queries in found.items()}


def _vector_of(query: wq.Query) -> str | None:
    """The one vector every leaf of ``query`` reads (words and phrases: the lexemes; prefixes: the words), or
    None (columns, dates, wildcards, or both vectors)."""
    vectors = set()
    for leaf in query.leaves() if not query.is_leaf() else [query]:
        if isinstance(leaf, (wq.Term, wq.Phrase)) and leaf.fieldname in WEIGHTS:
            vectors.add(LEXEMES)
        elif isinstance(leaf, wq.Prefix) and leaf.fieldname in _TWIN_OF:
            vectors.add(WORDS)
        else:
            return None
    return vectors.pop() if len(vectors) == 1 else None


def required_lexemes(query: wq.Query) -> set[str] | None:
    """Lexemes at least one of which every article ``query`` matches holds (in some field), or None when none
    can be said: a NOT, a prefix or wildcard, a column or a date can match without any given word."""
    if isinstance(query, wq.Term):
        return {query.text} if query.fieldname in WEIGHTS else None
    if isinstance(query, wq.Phrase):
        return {max(query.words, key=len)} if query.fieldname in WEIGHTS and query.words else None
    if isinstance(query, wq.Sequence):
        return required_lexemes(query.subqueries[0]) if query.subqueries else None
    if isinstance(query, wq.Or):
        found: set[str] = set()
        for sub in query.subqueries:
            part = required_lexemes(sub)
            if part is None:
                return None
            found |= part
        return found
    if isinstance(query, (wq.AndNot, wq.AndMaybe)):
        return required_lexemes(query.a)
    if isinstance(query, (wq.And, wq.Require)):
        children = query.subqueries if isinstance(query, wq.And) else [query.a, query.b]
        options = [part for part in map(required_lexemes, children) if part]
        # The fewest lexemes (the fewest candidates), the longest of them (the rarer, as a rule).
        return min(options, key=lambda part: (len(part), -sum(map(len, part)))) if options else None
    return None


def _is_reported(leaf: wq.Query) -> bool:
    """Whether a leaf's matched terms give words (the title's and body's terms and wildcard twins)."""
    if isinstance(leaf, wq.Term):
        return leaf.fieldname in _REPORTED
    return isinstance(leaf, (wq.Prefix, wq.Wildcard)) and _TWIN_OF.get(leaf.fieldname) in _REPORTED


def _held(leaf: wq.Query, needed: Condition | None) -> Condition:
    """A ``jsonb`` array of what the leaf stands on in the article where every node above it matches too: the
    term, or the prefix's or wildcard's words of the field."""
    if isinstance(leaf, wq.Term):
        term = compile_query(leaf, _no_words)
        both = all_of([needed, term]) if needed is not None else term
        return Condition(sql.SQL("CASE WHEN {} THEN to_jsonb(ARRAY[{}::text]) ELSE '[]'::jsonb END").format(
            both.where, sql.Placeholder()), (*both.params, leaf.text))
    pattern = like(leaf.text) + "%" if isinstance(leaf, wq.Prefix) else like_wildcard(leaf.text)
    words = sql.SQL("to_jsonb(ARRAY(SELECT t.lexeme FROM unnest(words) t WHERE {} = ANY(t.weights) "
                    "AND t.lexeme LIKE {}))").format(sql.Placeholder(), sql.Placeholder())
    weight = WEIGHTS[_TWIN_OF[leaf.fieldname]]
    if needed is None:
        return Condition(words, (weight, pattern))
    return Condition(sql.SQL("CASE WHEN {} THEN {} ELSE '[]'::jsonb END").format(needed.where, words),
                     (*needed.params, weight, pattern))


def _typed_words(q: str) -> list[tuple[str, str]]:
    """(analysed term, word as typed) for each word of ``q``, as the RAM percolator reports them."""
    tokens = text_analyzer()(q, mode="query", chars=True, removestops=False)
    return [(token.text, q[token.startchar:token.endchar]) for token in tokens]


def _run_moment(request: SearchQuery) -> dt.datetime:
    """The moment a preset counts back from, as naive UTC (``now`` is taken at match time when not given)."""
    now = request.now or dt.datetime.now(dt.UTC)
    now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    return now.astimezone(dt.UTC).replace(tzinfo=None)


def _no_words(field: str, pattern: str) -> list[str]:
    raise AssertionError(f"a wildcard ({field}:{pattern}) in a stored form")  # _vector_of keeps them out


class _BatchWords:
    """The words of the batch's articles each wildcard and prefix of a query stands for, under the cap on
    words (all of them together), as the RAM percolator expands them against its index of the batch."""

    def __init__(self, connection: Connection, ids: list[str], parsed: wq.Query, settings: Settings) -> None:
        self.found: dict[tuple[str, str], list[str]] = {}
        expanded, cap = 0, settings.max_wildcard_terms
        for leaf in parsed.leaves():
            if not isinstance(leaf, (wq.Prefix, wq.Wildcard)) or (leaf.fieldname, leaf.text) in self.found:
                continue
            pattern = like(leaf.text) + "%" if isinstance(leaf, wq.Prefix) else like_wildcard(leaf.text)
            rows = connection.execute(sql.SQL(
                "SELECT DISTINCT t.lexeme FROM articles, unnest(words) t WHERE {} AND %s = ANY(t.weights) "
                "AND t.lexeme LIKE %s ORDER BY 1 LIMIT %s").format(_IN_BATCH),
                (ids, WEIGHTS[_TWIN_OF[leaf.fieldname]], pattern, cap - expanded + 1)).fetchall()
            words = [str(row[0]) for row in rows]
            expanded += len(words)
            if expanded > cap:
                raise QueryError(f"{leaf.text!r} takes the query over {cap} words",
                                 hint="use fewer wildcards, or more letters before each * or ?")
            self.found[(leaf.fieldname, leaf.text)] = words

    def __call__(self, field: str, pattern: str) -> list[str]:
        return self.found[(field, pattern)]


#: The batch's rows, found through the month each is kept in (the table's key is month and id).
_IN_BATCH = sql.SQL("(month, id) IN (SELECT month, id FROM article_months WHERE id = ANY(%s))")

#: Every stored query asked that could match an article of the batch (its required lexemes overlap the
#: article's, by the GIN index; or it has none), evaluated on that article. One row per candidate pair.
_MATCH = sql.SQL("""
    WITH asked AS (SELECT * FROM unnest(%(keys)s::text[], %(nows)s::timestamp[]) AS asked(key, now)),
    batch AS MATERIALIZED (
        SELECT a.id, a.outlet, a.actors, a.year, a.language, a.published_utc, a.published_source, a.lexemes, a.words
        FROM articles a WHERE (a.month, a.id) IN (SELECT month, id FROM article_months WHERE id = ANY(%(ids)s))),
    candidates AS (
        SELECT b.id AS article, q.key FROM batch b JOIN alert_queries q ON q.required && tsvector_to_array(b.lexemes)
        UNION ALL
        SELECT b.id, q.key FROM batch b CROSS JOIN alert_queries q WHERE q.required IS NULL)
    SELECT q.key, asked.now, b.id,
        (q.lexemes IS NULL OR b.lexemes @@ q.lexemes) AND (q.words IS NULL OR b.words @@ q.words)
        AND (q.outlets IS NULL OR b.outlet = ANY(q.outlets)) AND (q.actors IS NULL OR b.actors && q.actors)
        AND (q.years IS NULL OR b.year = ANY(q.years)) AND (q.languages IS NULL OR b.language = ANY(q.languages))
        AND (NOT q.undated_only OR b.published_utc IS NULL)
        AND (NOT q.dated OR (b.published_utc IS NOT NULL
            AND b.published_utc >= COALESCE(q.first_at, date_trunc('second', asked.now - q.recent), '-infinity')
            AND (q.last_at IS NULL OR b.published_utc < q.last_at + interval '1 second')
            AND (q.certainty IS NULL
                 OR COALESCE(b.published_source = ANY(%(certain)s), false) = (q.certainty = 'certain'))))
    FROM candidates c JOIN asked ON asked.key = c.key JOIN alert_queries q ON q.key = c.key
    JOIN batch b ON b.id = c.article WHERE NOT q.whole""")
