"""The JSON API's own description: ``GET /api/openapi.json``, an OpenAPI 3.1 document.

It sits beside the routes it describes and is built from what they use, so it
cannot drift from them: the paths from the app's URL map (every ``/api/``
rule), the query parameters from the tables the parsing itself reads
(``web.params.SEARCH_PARAMETERS``, ``web.timeline.TIMELINE_PARAMETERS``, with
their enums and bounds, the page cap among them), the bounds from
``search.query``. The response schemas (JSON Schema 2020-12, as OpenAPI 3.1
has it) are written here, one per record's ``as_json`` (``Hit``,
``SearchPage``, ``Timeline``, ``ActorPage``, ``RelatedArticle``,
``CandidateSummary``) and one for errors as web/errors.py renders them;
tests/test_openapi.py checks them against real answers, by hand and with
Schemathesis.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from search.query import INTERVALS
from search.records import DATE_PARAMETERS, FACETS
from web.params import SEARCH_PARAMETERS, Parameter
from web.timeline import TIMELINE_PARAMETERS

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.1.0"

Schema = dict[str, Any]


def _nullable(kind: str, **more: Any) -> Schema:
    return {"type": [kind, "null"], **more}


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def _object(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """A closed object: every property but ``optional`` required, nothing else allowed (the contract is exact)."""
    return {"type": "object", "properties": properties,
            "required": [name for name in properties if name not in optional], "additionalProperties": False}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


_COUNT: Schema = {"type": "integer", "minimum": 0}
_DAY: Schema = {"type": "string", "format": "date"}
_PUBLISHED: Schema = _nullable("string", description="ISO 8601: a date, or a datetime with its UTC offset; "
                               "null when undated.")

#: The fields of a hit (``search.records.Hit.as_json``); an article adds ``text`` and ``related``.
_HIT_FIELDS: dict[str, Schema] = {
    "id": {"type": "string"},
    "url": _nullable("string", description="The article's own address, where it was published."),
    "title": {"type": "string"},
    "outlet": {"type": "string"},
    "author": _nullable("string"),
    "published": _PUBLISHED,
    "year": {"type": "string", "description": "The year published, or `unknown`."},
    "language": {"type": "string", "description": "An ISO 639-1 code, or `unknown`."},
    "actors": _array(_ref("ActorRef")),
    "snippet": {"type": "string", "description": "HTML: the text escaped, matches in `<mark>`."},
    "cluster": {"type": "string", "description": "Shared by the copies of one text across outlets."},
    "copies": {"type": "integer", "minimum": 1, "description": "Articles in the cluster, this one included."},
    "also": {**_array({"type": "string"}), "description": "The other outlets among the cluster's articles."},
    "published_source": _nullable("string", description="Where the date came from; null when undated."),
    "date_uncertain": _nullable("boolean", description="Whether the date came from a weak signal only."),
}

SCHEMAS: dict[str, Schema] = {
    "Error": _object({
        "error": {"type": "string", "description": "What went wrong, for a person to read."},
        "hint": {"type": "string", "description": "What to change."},
    }, optional=("hint",)),
    "ActorRef": _object({"id": {"type": "string"}, "name": {"type": "string"}}),
    "Hit": _object(_HIT_FIELDS),
    "Article": _object({
        **_HIT_FIELDS,
        "text": {"type": "string", "description": "Paragraphs separated by blank lines."},
        "related": _array(_ref("RelatedArticle")),
    }),
    "RelatedArticle": _object({"id": {"type": "string"}, "title": {"type": "string"}, "outlet": {"type": "string"},
                               "published": _PUBLISHED, "url": _nullable("string")}),
    "FacetValue": _object({"value": {"type": "string"}, "label": {"type": "string"}, "count": _COUNT,
                           "selected": {"type": "boolean"}}),
    "SearchPage": _object({
        "query": {"type": "string"},
        "total": {**_COUNT, "description": "Matches under every filter: articles, or stories (as `counted` says)."},
        "counted": {"type": "string", "enum": ["articles", "stories"], "description": "What `total`, the facet "
                    "counts and `undated` count: stories (the copies of one text count once) with `count=stories` "
                    "or `collapse=story`, else articles."},
        "articles": {**_COUNT, "description": "Articles matched under every filter, whatever `counted` says."},
        "stories": {"oneOf": [{"type": "null"}, _COUNT], "description": "The stories those articles belong to, when "
                    "they are listed or counted (`collapse=story`, `count=stories`); null otherwise."},
        "undated": {**_COUNT, "description": "Matches a date filter left out for having no date."},
        "dates": {"oneOf": [{"type": "null"}, _object({
            **{name: {"type": "string"} for name in DATE_PARAMETERS},
            "first": _nullable("string", format="date-time"),
            "last": _nullable("string", format="date-time"),
        }, optional=tuple(DATE_PARAMETERS))], "description": "The date filter as asked and the moments it runs "
                  "from and to (UTC; null for an open end); null without one."},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1},
        "next": _nullable("string", description="The cursor of the page after this one (pass it as `after`); "
                          "null on the last page."),
        "hits": _array(_ref("Hit")),
        "facets": _object({name: _array(_ref("FacetValue")) for name in FACETS}),
    }),
    "Timeline": _object({
        "interval": {"enum": list(INTERVALS)},
        "buckets": _array(_object({"start": _DAY, "count": _COUNT})),
        "undated": {**_COUNT, "description": "Matching articles without a date: in no bucket."},
        "series": _array(_object({
            "outlet": {"type": "string", "description": "An outlet, or `other` for the rest together."},
            "total": _COUNT,
            "buckets": _array(_object({
                "start": _DAY, "count": _COUNT,
                "output": {**_COUNT, "description": "Every dated article of the outlet in the bucket."},
                "share": _nullable("number", minimum=0, maximum=1,
                                   description="count / output; null when the outlet published nothing then."),
            })),
        })),
    }, optional=("series",)),
    "ActorPage": _object({
        "id": {"type": "string"},
        "name": {"type": "string"},
        "type": {"type": "string", "description": "person, organisation or country; unknown once dropped."},
        "aliases": _array({"type": "string"}),
        "roles": _array({"type": "string"}),
        "total": _COUNT,
        "years": _array(_object({"year": {"type": "string"}, "count": _COUNT})),
        "latest": _array(_ref("Hit")),
    }),
    "Candidates": _object({
        "total": _COUNT,
        "candidates": _array(_object({
            "name": {"type": "string"}, "key": {"type": "string"}, "titles": _array({"type": "string"}),
            "articles": _COUNT, "first_seen": _nullable("string"), "last_seen": _nullable("string"),
            "example": {"type": "string", "description": "The id of its latest article."},
        })),
    }),
    "OpenAPI": {"type": "object", "description": "This document.", "required": ["openapi", "paths"]},
}

#: What each error status means on these routes (web/errors.py renders every one as ``Error``).
ERRORS = {
    400: "An unusable query or parameter; `hint` says what to change.",
    401: "The instance's searches are open to its users only (`search_requires_login`).",
    404: "No such article or actor.",
    503: "No usable index (none yet, or one of another schema version).",
}


def _operation(summary: str, body: str, errors: tuple[int, ...], parameters: tuple[Parameter, ...] = (),
               path_parameter: Schema | None = None) -> Schema:
    listed = [_parameter(parameter) for parameter in parameters]
    if path_parameter is not None:
        listed.insert(0, path_parameter)
    responses: dict[str, Schema] = {
        "200": {"description": summary, "content": {"application/json": {"schema": _ref(body)}}},
    }
    for status in errors:
        responses[str(status)] = {"description": ERRORS[status],
                                  "content": {"application/json": {"schema": _ref("Error")}}}
    return {"summary": summary, **({"parameters": listed} if listed else {}), "responses": responses}


def _parameter(parameter: Parameter) -> Schema:
    """A table's parameter as an OpenAPI query parameter: a repeatable one an array, exploded (``a=1&a=2``)."""
    schema: Schema = {"type": parameter.type}
    if parameter.enum:
        schema["enum"] = list(parameter.enum)
    if parameter.minimum is not None:
        schema["minimum"] = parameter.minimum
    if parameter.maximum is not None:
        schema["maximum"] = parameter.maximum
    if parameter.pattern:
        schema["pattern"] = parameter.pattern
    if parameter.default not in (None, ""):
        schema["default"] = parameter.default
    if parameter.repeatable:
        schema = _array(schema)
    return {"name": parameter.name, "in": "query", "required": False, "description": parameter.description,
            "schema": schema, **({"style": "form", "explode": True} if parameter.repeatable else {})}


def _path_parameter(name: str, description: str, **schema: Any) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1, **schema}}


_UNAVAILABLE = (401, 503)

#: Every ``/api/`` route by its endpoint; the paths themselves come from the URL map.
OPERATIONS: dict[str, Schema] = {
    "results.api_search": _operation(
        "One page of results, with facet counts.", "SearchPage", (400, *_UNAVAILABLE), SEARCH_PARAMETERS),
    "timeline.api": _operation(
        "Matching articles per day, week, month or year; per outlet with `split=outlet`.", "Timeline",
        (400, *_UNAVAILABLE), SEARCH_PARAMETERS + TIMELINE_PARAMETERS),
    "articles.api_show": _operation(
        "One article with its full text and related articles.", "Article", (404, *_UNAVAILABLE),
        path_parameter=_path_parameter("article_id", "The article's id, as hits give it.")),
    "actors.api_show": _operation(
        "One actor: names, roles, articles per year and the newest articles.", "ActorPage", (404, *_UNAVAILABLE),
        # "candidates" is the fixed route beside this one, not an actor id.
        path_parameter=_path_parameter("actor_id", "A Wikidata id (Q58217) or the slug of a name.",
                                       **{"not": {"const": "candidates"}})),
    "actors.api_candidates": _operation(
        "Names the enrich stage found that the gazetteer does not know yet.", "Candidates", (401,)),
    "openapi.document_view": _operation("This description of the API.", "OpenAPI", (401,)),
}


def _openapi_path(rule: str) -> str:
    """A Werkzeug rule as an OpenAPI path: ``/api/articles/<article_id>`` → ``/api/articles/{article_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def document() -> Schema:
    """The OpenAPI document of this app's ``/api/`` routes (a route with no entry in ``OPERATIONS`` is left out,
    which tests/test_openapi.py refuses)."""
    paths = {
        _openapi_path(rule.rule): {"get": OPERATIONS[rule.endpoint]}
        for rule in sorted(current_app.url_map.iter_rules(), key=lambda rule: rule.rule)
        if rule.rule.startswith("/api/") and rule.endpoint in OPERATIONS
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Newsdesk",
            "version": version("newsdesk"),
            "description": "Search news articles, count them over time, read one article or actor. Every "
                           "parameter a search route takes is described here from the code that reads it. Errors "
                           "are `{\"error\", \"hint\"}` with their status.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }


@bp.route("/api/openapi.json")
def document_view() -> Response:
    return jsonify(document())
