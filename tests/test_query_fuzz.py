"""Property tests over the whole query surface, through the real app: every answer is 200 or a 4xx with a hint.

Hypothesis builds query text from the pieces users (and probes) type —
words in several scripts, operators, quotes, brackets, field names,
comparison signs, dates, wildcards, deep nesting, huge inputs — and odd
``page``/``per_page``/``facet_limit``/``sort`` values, cursors (``after``: garbage, any JSON, forged
keys and numbers), date filters
(``from``/``to`` in every form and none, presets, ``dated``, ``certainty``)
and repeated parameters, and sends them to ``/api/search``, ``/`` and ``/search.atom``.
Derandomized, so CI sees the same examples every run; the long campaign is
bench/fuzz_queries.py.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search.query.cursor import Cursor, search_digest
from search.records import SearchQuery

WORDS = ("kosovo", "Lavrov", "Лавров", "Thaçi", "Dačić", "negotiat", "a", "to", "TO", "the", "U.S.", "2018", "x")
FIELDS = ("title", "body", "author", "outlet", "actor", "year", "language", "published", "url", "id", "cluster",
          "Title", "color", "body_words", "*")
SYNTAX = ("AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "(", ")", "[", "]", "{", "}", '"', "'", "*", "?", "~", "~2", "^",
          "^2", ":", "<", ">", "<=", ">=", "=>", "=<", "=", "+", "-", "!", "&&", "||", "/", "\\", ",", "to", " ")
DATES = ("2018", "2018-09", "2018-09-14", "20180914", "2018-13", "0000", "99999", "yesterday", "[2018 to]",
         "[to 2018-09]", "[2018-09-01 to 2018-09-30]", "{2018 TO 2019}", ">=2018-09", "<2019", ">x", "[a to b]")

word = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=6))
wildcard = st.builds(lambda w, s, t: w + s + t, st.sampled_from(WORDS), st.sampled_from(("*", "?", "*?", "")),
                     st.sampled_from(("", "*", "a", "?")))
fielded = st.builds(lambda f, v: f"{f}:{v}", st.sampled_from(FIELDS),
                    st.one_of(word, wildcard, st.sampled_from(DATES), st.just("")))
piece = st.one_of(word, wildcard, fielded, st.sampled_from(SYNTAX), st.sampled_from(DATES).map("published:".__add__))
query_text = st.one_of(
    st.lists(piece, max_size=12).map(" ".join),
    st.lists(piece, max_size=12).map("".join),
    st.text(max_size=80),
    st.recursive(piece, lambda inner: st.builds(lambda a, op, b: f"({a} {op} {b})", inner,
                                                st.sampled_from(("AND", "OR", "NOT", "")), inner), max_leaves=30),
    st.builds(lambda p, n: p * n, st.sampled_from(("(", "a ", "*", "NOT ", "x", "[", '"')), st.integers(1, 1200)),
)
#: ``from``/``to`` values: the forms the README gives, their near misses, and anything at all.
date_value = st.one_of(
    st.sampled_from(("2018", "2018-09", "2018-09-14", "2018-09-14T08:00:00+02:00", "2018-09-14T08:00Z",
                     "2018-09-14 08:00", "2018-09-14T08:00:00.5-11:30", "20180914", "2018-13", "2018-02-30",
                     "0001-01-01T00:00+05:00", "9999-12-31T23:00-05:00", "2018-09-14T25:00", "yesterday", "",
                     "2018-09-14T08:00:00+99:00", "٢٠١٨", "2018-09-14\x00", "2018-09-14T08:00:00+02:00:00")),
    st.dates().map(str), st.datetimes(timezones=st.timezones()).map(lambda m: m.isoformat()),
    st.text(max_size=40),
)
number = st.one_of(st.none(), st.integers(-3, 2000).map(str), st.sampled_from(("", "x", "1.5", "1e3", " 2", "٣")))
json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=9), max_leaves=12)
#: ``after``: any text, any JSON as a token, and cursors of the empty search with any key, number and id.
cursor = st.one_of(
    st.text(max_size=60),
    json_value.map(lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")),
    st.builds(lambda page, sort, key, seq, id, engine: Cursor(page, sort, key, seq, id,
                                                               search_digest(SearchQuery(sort=sort)), engine).encode(),
              st.integers(1, 2**40), st.sampled_from(("relevance", "date")),
              st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False),
                        st.integers(19000101000000, 21001231235959)),
              st.integers(-5, 2**70), st.text(max_size=8), st.sampled_from(("", "whoosh", "postgres"))),
)
params = st.fixed_dictionaries(
    {"q": query_text},
    optional={"page": number, "per_page": number, "facet_limit": number,
              "sort": st.sampled_from(("relevance", "date", "", "random")),
              "outlet": st.sampled_from(("RksNews", "unknown", "")), "year": st.sampled_from(("2018", "x")),
              "language": st.sampled_from(("en", "")), "actor": st.sampled_from(("Q58217", "Q0")),
              "from": date_value, "to": date_value,
              "range": st.sampled_from(("24h", "week", "month", "year", "all", "", "day", "WEEK")),
              "dated": st.sampled_from(("yes", "no", "", "maybe")),
              "certainty": st.sampled_from(("certain", "uncertain", "", "sure")), "after": cursor},
)

PATHS = st.sampled_from(("/api/search", "/", "/search.atom"))
EXAMPLES = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def query_string(values: dict[str, str | None], repeat: list[tuple[str, str]]) -> str:
    pairs = [(name, value) for name, value in values.items() if value is not None] + repeat
    return urlencode(pairs)


def assert_answered(client: FlaskClient, path: str, qs: str) -> None:
    answer = client.get(f"{path}?{qs}")
    assert answer.status_code == 200 or 400 <= answer.status_code < 500, (path, qs, answer.status_code)
    if answer.status_code != 200 and path.startswith("/api/"):
        body = answer.get_json()
        assert body["error"] and body["hint"], (qs, body)
    elif answer.status_code != 200:
        assert "something went wrong" not in answer.text


@EXAMPLES
@given(values=params, path=PATHS)
def test_any_query_is_answered_or_refused_with_a_hint(client: FlaskClient, values: dict[str, str | None],
                                                       path: str) -> None:
    assert_answered(client, path, query_string(values, []))


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(values=params, repeat=st.lists(st.tuples(st.sampled_from(("q", "page", "sort", "outlet", "per_page", "from")),
                                                st.one_of(query_text, number.filter(bool))), max_size=4))
def test_repeated_parameters_are_answered_or_refused_with_a_hint(
    client: FlaskClient, values: dict[str, str | None], repeat: list[tuple[str, str]]
) -> None:
    assert_answered(client, "/api/search", query_string(values, repeat))
