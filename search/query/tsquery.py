"""The project's query syntax compiled for PostgreSQL: ``tsquery`` values and SQL conditions, never pasted text.

Part of the query stage, for the PostgreSQL backend (issue 19). A query is
read once, by the project's own parser (search/query/parse.py's
``read_query``: the same checks, fields, phrases, dates and analysis as the
embedded backend), and the Whoosh query tree it gives is compiled here:

* words, phrases and their fields become one ``tsquery`` per vector
  (search/index/lexemes.py): a title word is ``'lavrov':A``, a bare word
  ``'lavrov':A | 'lavrov':D`` (title or body, as the embedded backend
  searches), a phrase ``'council':D <-> 'of':D <-> 'europ':D``, a phrase
  with slop ``~N`` every distance from 1 to N between two words (Whoosh's
  slop is "at most N apart, in order"; PostgreSQL's ``<N>`` is "exactly N");
* prefixes and wildcards read the unstemmed ``words`` vector: a prefix is
  ``'negotiat':*A``; a wildcard is the words it matches, which ``expand``
  finds in the instance's list of words (the same cap on words as the
  embedded backend applies);
* facet fields, ids, URLs and dates become SQL conditions on the article's
  columns (``COLUMNS``);
* AND, OR and NOT combine what they join: within one vector, in the
  ``tsquery``; across vectors and columns, in SQL.

Every value — each ``tsquery`` literal, each outlet, each date — is a
parameter of the statement (``Condition.params``), bound by the driver.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from psycopg import sql
from whoosh import query as wq

from search.errors import QueryError
from search.index.analysis import DATE_FIELD, WORD_FIELDS
from search.index.lexemes import WEIGHTS, quote

#: The article table's column of each field a query can name, beside the two vectors.
COLUMNS = {"id": "id", "url": "url", "outlet": "outlet", "year": "year", "language": "language",
           "cluster": "cluster"}
ACTORS = "actors"  # text[]: the actor ids
PUBLISHED = "published_utc"  # timestamp (naive UTC), NULL when undated
LEXEMES, WORDS = "lexemes", "words"
#: Each unstemmed twin's field, for its weight.
_TWIN_OF = {twin: name for name, twin in WORD_FIELDS.items()}
#: Most ``tsquery`` alternatives one phrase with slop may become (each gap's distances, multiplied).
MAX_PHRASE_FORMS = 256

Expand = Callable[[str, str], list[str]]  # (field's twin, wildcard pattern) → the words it matches


@dataclass(frozen=True)
class Condition:
    """A boolean SQL expression over the article table, with its parameters in order."""

    where: sql.Composable
    params: tuple[object, ...] = ()


@dataclass(frozen=True)
class _Text:
    vector: str  # LEXEMES or WORDS
    query: str  # a tsquery over it


@dataclass(frozen=True)
class _Sql:
    where: sql.Composable
    params: tuple[object, ...] = field(default=())


_Part = _Text | _Sql

_TRUE, _FALSE = _Sql(sql.SQL("TRUE")), _Sql(sql.SQL("FALSE"))


def compile_query(query: wq.Query, expand: Expand) -> Condition:
    """``query`` (a ``read_query`` tree) as one condition on the article table."""
    part = _compile(query, expand)
    found = _as_sql(part)
    return Condition(found.where, found.params)


def _compile(query: wq.Query, expand: Expand) -> _Part:
    if isinstance(query, wq.Every):
        return _TRUE
    if query is wq.NullQuery or isinstance(query, type(wq.NullQuery)):
        return _FALSE
    if isinstance(query, wq.Term):
        return _term(query.fieldname, query.text)
    if isinstance(query, wq.Phrase):
        return _phrase([[f"{quote(word)}:{WEIGHTS[query.fieldname]}"] for word in query.words], query.slop)
    if isinstance(query, wq.Sequence):
        return _phrase([_alternatives(sub) for sub in query.subqueries], query.slop)
    if isinstance(query, wq.Prefix):
        return _Text(WORDS, f"{quote(query.text)}:*{WEIGHTS[_TWIN_OF[query.fieldname]]}")
    if isinstance(query, wq.Wildcard):
        words = expand(query.fieldname, query.text)
        weight = WEIGHTS[_TWIN_OF[query.fieldname]]
        return _Text(WORDS, " | ".join(f"{quote(word)}:{weight}" for word in words)) if words else _FALSE
    if isinstance(query, wq.DateRange) and query.fieldname == DATE_FIELD:
        return _range(PUBLISHED, query.startdate, query.enddate, query.startexcl, query.endexcl)
    if isinstance(query, wq.TermRange) and query.fieldname in COLUMNS:
        return _range(COLUMNS[query.fieldname], query.start, query.end, query.startexcl, query.endexcl)
    if isinstance(query, wq.Not):
        return _not(_compile(query.query, expand))
    if isinstance(query, wq.AndNot):
        return _join("&", [_compile(query.a, expand), _not(_compile(query.b, expand))])
    if isinstance(query, (wq.AndMaybe, wq.Require)):
        # AND MAYBE: the second part only changes scores; REQUIRE: both must match.
        parts = [_compile(query.a, expand)] if isinstance(query, wq.AndMaybe) else \
            [_compile(query.a, expand), _compile(query.b, expand)]
        return _join("&", parts)
    if isinstance(query, wq.And):
        return _join("&", [_compile(sub, expand) for sub in query.subqueries])
    if isinstance(query, wq.Or):
        return _join("|", [_compile(sub, expand) for sub in query.subqueries])
    raise TypeError(f"no PostgreSQL form for {type(query).__name__}: {query!r}")  # a parser form unseen: our bug


def _term(name: str, text: str) -> _Part:
    if name in WEIGHTS:
        return _Text(LEXEMES, f"{quote(text)}:{WEIGHTS[name]}")
    if name == "actor":
        return _Sql(sql.SQL("{} = ANY({})").format(sql.Placeholder(), sql.Identifier(ACTORS)), (text,))
    if name in COLUMNS:
        return _Sql(sql.SQL("{} = {}").format(sql.Identifier(COLUMNS[name]), sql.Placeholder()), (text,))
    raise TypeError(f"no PostgreSQL column for field {name!r}")


def _alternatives(query: wq.Query) -> list[str]:
    """A phrase position's terms (one, or an OR of same-position terms), each as a weighted lexeme."""
    terms = query.subqueries if isinstance(query, wq.Or) else [query]
    if not all(isinstance(term, wq.Term) and term.fieldname in WEIGHTS for term in terms):
        raise TypeError(f"no PostgreSQL form for a phrase position {query!r}")
    return [f"{quote(term.text)}:{WEIGHTS[term.fieldname]}" for term in terms]


def _phrase(positions: Sequence[list[str]], slop: int) -> _Text:
    """Words in order, each next one 1 to ``slop`` positions after the one before."""
    slots = [terms[0] if len(terms) == 1 else "(" + " | ".join(terms) + ")" for terms in positions]
    if len(slots) == 1:
        return _Text(LEXEMES, slots[0])
    distances = range(1, max(slop, 1) + 1)
    if len(distances) ** (len(slots) - 1) > MAX_PHRASE_FORMS:
        raise QueryError(f"a phrase of {len(slots)} words within {slop} of each other has too many forms",
                         hint="use a smaller ~N after the phrase, or fewer words in it")
    forms = []
    for gaps in itertools.product(distances, repeat=len(slots) - 1):
        form = slots[0]
        for gap, slot in zip(gaps, slots[1:], strict=True):
            form += f" {'<->' if gap == 1 else f'<{gap}>'} {slot}"
        forms.append(form)
    return _Text(LEXEMES, forms[0] if len(forms) == 1 else " | ".join(f"({form})" for form in forms))


def _range(column: str, start: object, end: object, startexcl: bool, endexcl: bool) -> _Sql:
    """A range of a column's values (dates: ``read_query`` gives a span's first and last moment, both in);
    an open end is no bound, but a date range never takes an undated article (NULL compares to nothing)."""
    checks: list[sql.Composable] = []
    params: list[object] = []
    if start is not None:
        checks.append(sql.SQL("{} {} {}").format(sql.Identifier(column), sql.SQL(">" if startexcl else ">="),
                                                 sql.Placeholder()))
        params.append(start)
    if end is not None:
        checks.append(sql.SQL("{} {} {}").format(sql.Identifier(column), sql.SQL("<" if endexcl else "<="),
                                                 sql.Placeholder()))
        params.append(end)
    if not checks:
        return _Sql(sql.SQL("{} IS NOT NULL").format(sql.Identifier(column)))
    return _Sql(sql.SQL(" AND ").join(checks), tuple(params))


def _not(part: _Part) -> _Part:
    if isinstance(part, _Text):
        return _Text(part.vector, f"!({part.query})")
    return _Sql(sql.SQL("NOT ({})").format(part.where), part.params)


def _join(operator: str, parts: list[_Part]) -> _Part:
    """AND (``&``) or OR (``|``) of the parts: within a vector in its ``tsquery``, across them in SQL."""
    texts: dict[str, list[str]] = {}
    others: list[_Sql] = []
    for part in parts:
        if isinstance(part, _Text):
            texts.setdefault(part.vector, []).append(part.query)
        else:
            others.append(part)
    joined: list[_Part] = [_Text(vector, f" {operator} ".join(f"({q})" for q in queries) if len(queries) > 1
                                 else queries[0]) for vector, queries in texts.items()]
    if not others and len(joined) == 1:
        return joined[0]
    pieces = [_as_sql(part) for part in [*joined, *others]]
    glue = sql.SQL(" AND " if operator == "&" else " OR ")
    return _Sql(sql.SQL("({})").format(glue.join(piece.where for piece in pieces)),
                tuple(param for piece in pieces for param in piece.params))


def _as_sql(part: _Part) -> _Sql:
    if isinstance(part, _Sql):
        return part
    return _Sql(sql.SQL("{} @@ {}::tsquery").format(sql.Identifier(part.vector), sql.Placeholder()), (part.query,))
