"""/api/openapi.json: a valid OpenAPI 3.1 document of every /api/ route, built from the parameters the code reads,
whose schemas the real answers meet — checked by hand here and by Schemathesis against the app."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.datastructures import MultiDict

from search.query.parse import MAX_PAGE
from web.params import parse_request
from web.timeline import options

LAVROV = "Q58217"
SPEC = "urn:newsdesk:openapi"


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    document: dict[str, Any] = answer.get_json()
    return document


def conforms(spec: dict[str, Any], schema: str, data: object) -> list[str]:
    """Why ``data`` does not meet ``#/components/schemas/<schema>`` of the document (nothing when it does)."""
    # The document itself is the resource the schemas' $refs point into (it states no dialect: 2020-12 is 3.1's).
    registry: Registry[Any] = Registry().with_resource(SPEC, Resource.from_contents(spec, DRAFT202012))
    validator = Draft202012Validator({"$ref": f"{SPEC}#/components/schemas/{schema}"}, registry=registry,
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(data)]


def parameters(spec: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    return {parameter["name"]: parameter for parameter in spec["paths"][path]["get"].get("parameters", [])}


# --- the document ----------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # raises on the first way it is not a valid OpenAPI 3.1 document


def test_every_api_route_is_described_and_nothing_else(app: Flask, spec: dict[str, Any]) -> None:
    routes = {rule.rule.replace("<", "{").replace(">", "}") for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/")}
    assert set(spec["paths"]) == routes
    assert {"/api/search", "/api/timeline", "/api/articles/{article_id}", "/api/actors/{actor_id}",
            "/api/actors/candidates", "/api/openapi.json"} <= routes


class Recording(MultiDict[str, str]):
    """URL parameters that note every name the code asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:  # MultiDict's own signature
        self.read.add(key)
        return super().get(key, default, type)

    def getlist(self, key: str, type: Any = None) -> Any:
        self.read.add(key)
        return super().getlist(key, type)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def test_the_search_parameters_are_exactly_those_the_parsing_reads(app: Flask, spec: dict[str, Any]) -> None:
    args = Recording()
    with app.test_request_context("/api/search"):
        parse_request(args)
    assert args.read == set(parameters(spec, "/api/search"))
    assert {"q", "outlet", "page", "from", "to", "range", "dated", "certainty"} <= args.read


def test_the_timeline_parameters_are_the_search_s_and_its_own(app: Flask, spec: dict[str, Any]) -> None:
    args = Recording()
    with app.test_request_context("/api/timeline"):
        parse_request(args)
        options(args)
    assert args.read == set(parameters(spec, "/api/timeline"))
    assert {"interval", "split", "top", "measure"} <= args.read


def test_repeatable_filters_are_arrays_and_the_rest_single_values(spec: dict[str, Any]) -> None:
    described = parameters(spec, "/api/search")
    arrays = {name for name, parameter in described.items() if parameter["schema"].get("type") == "array"}
    assert arrays == {"outlet", "actor", "year", "language"}
    assert all(described[name]["explode"] for name in arrays)


def test_numbered_pages_stop_at_the_documented_page_and_the_cursor_goes_on(client: FlaskClient,
                                                                          spec: dict[str, Any]) -> None:
    page = parameters(spec, "/api/search")["page"]
    assert page["schema"]["maximum"] == MAX_PAGE == 1000
    assert f"page {MAX_PAGE}" in page["description"]
    assert client.get(f"/api/search?page={MAX_PAGE}").status_code == 200
    refused = client.get(f"/api/search?page={MAX_PAGE + 1}")
    assert refused.status_code == 400
    assert refused.get_json()["error"] == f"numbered pages stop at page {MAX_PAGE}"
    assert "after=" in refused.get_json()["hint"]  # tests/test_cursor_paging.py pages on past it
    assert "`next`" in page["description"] and "after" in parameters(spec, "/api/search")


@pytest.mark.parametrize("path", ["/api/search", "/api/timeline"])
def test_every_bound_and_choice_described_is_the_one_enforced(client: FlaskClient, spec: dict[str, Any],
                                                              path: str) -> None:
    """Each enum value is taken and a value beside them refused; each bound is taken and one past it refused."""
    for name, parameter in parameters(spec, path).items():
        schema = parameter["schema"].get("items", parameter["schema"])
        for value in schema.get("enum", []):
            assert client.get(f"{path}?{name}={value}").status_code == 200, (name, value)
        if "enum" in schema:
            assert client.get(f"{path}?{name}=bogus").status_code == 400, name
        for bound, beyond in (("minimum", -1), ("maximum", 1)):
            if bound in schema:
                assert client.get(f"{path}?{name}={schema[bound]}").status_code == 200, (name, bound)
                assert client.get(f"{path}?{name}={schema[bound] + beyond}").status_code == 400, (name, bound)


# --- real answers against their schemas -------------------------------------------------


def test_search_answers_meet_the_search_page_schema(client: FlaskClient, spec: dict[str, Any]) -> None:
    for url in ("/api/search", f"/api/search?q=Kosovo&actor={LAVROV}&per_page=2",
                "/api/search?from=2018-09&range=year&sort=date", "/api/search?dated=no"):
        data = client.get(url).get_json()
        assert conforms(spec, "SearchPage", data) == [], url
    assert conforms(spec, "SearchPage", client.get("/api/search?from=2018-09").get_json()) == []
    assert client.get("/api/search?from=2018-09").get_json()["dates"]["first"] == "2018-09-01T00:00:00Z"


def test_timeline_answers_meet_the_timeline_schema(client: FlaskClient, spec: dict[str, Any]) -> None:
    plain = client.get("/api/timeline?interval=month").get_json()
    split = client.get("/api/timeline?interval=year&split=outlet&top=1").get_json()
    assert conforms(spec, "Timeline", plain) == [] and "series" not in plain
    assert conforms(spec, "Timeline", split) == [] and split["series"]


def test_article_actor_and_candidates_meet_their_schemas(client: FlaskClient, spec: dict[str, Any]) -> None:
    hit = client.get("/api/search?q=Dacic").get_json()["hits"][0]
    assert conforms(spec, "Article", client.get(f"/api/articles/{hit['id']}").get_json()) == []
    assert conforms(spec, "ActorPage", client.get(f"/api/actors/{LAVROV}").get_json()) == []
    assert conforms(spec, "Candidates", client.get("/api/actors/candidates").get_json()) == []


def test_a_schema_refuses_what_the_contract_does_not_say(client: FlaskClient, spec: dict[str, Any]) -> None:
    data = client.get("/api/search").get_json()
    assert conforms(spec, "SearchPage", {**data, "extra": 1}) != []
    assert conforms(spec, "Hit", {**data["hits"][0], "copies": 0}) != []
    assert conforms(spec, "Error", {"hint": "no message"}) != []


def test_a_malformed_query_is_a_400_with_the_error_schema(client: FlaskClient, spec: dict[str, Any]) -> None:
    for url in ('/api/search?q="unclosed', "/api/search?sort=sideways", "/api/timeline?interval=fortnight",
                "/api/search?from=2018-02-30", "/api/search?per_page=0"):
        answer = client.get(url)
        assert answer.status_code == 400, url
        assert "400" in spec["paths"][url.split("?")[0]]["get"]["responses"]
        assert conforms(spec, "Error", answer.get_json()) == [], url
        assert answer.get_json()["hint"], url


def test_an_unknown_article_or_actor_is_a_404_with_the_error_schema(client: FlaskClient,
                                                                     spec: dict[str, Any]) -> None:
    for url in ("/api/articles/no-such-article", "/api/actors/Q0"):
        answer = client.get(url)
        assert answer.status_code == 404
        assert conforms(spec, "Error", answer.get_json()) == []


# --- Schemathesis against the app ---------------------------------------------------------

#: Examples per operation and kind (valid, invalid): enough to reach every parameter's edges, few enough for the
#: suite (seconds in all). Derandomized: the same examples every run, so a failure is reproducible.
EXAMPLES = 50
OPERATIONS = ["/api/search", "/api/timeline", "/api/articles/{article_id}", "/api/actors/{actor_id}",
              "/api/actors/candidates", "/api/openapi.json"]


@pytest.mark.parametrize("path", OPERATIONS)
def test_the_api_meets_its_own_description(app: Flask, path: str) -> None:
    """Requests Schemathesis generates from the document, valid and invalid, sent to the app through WSGI: never a
    5xx, only documented statuses and content types, and every body meets the schema of its status."""
    # Loaded in the test, not by Schemathesis's pytest plugin: its lazy fixture loading fails under pytest 9.
    operation = schemathesis.openapi.from_wsgi("/api/openapi.json", app)[path]["GET"]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    # An invalid actor id can be "candidates", which is another operation's path (described there), not an error.
    others = set(OPERATIONS) - {path}
    cases = cases.filter(lambda case: case.formatted_path not in others)
    statuses: set[int] = set()

    @given(case=cases)
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def meets(case: Any) -> None:
        response = case.call_and_validate(checks=[not_a_server_error, status_code_conformance,
                                                  content_type_conformance, response_schema_conformance])
        statuses.add(response.status_code)

    meets()
    assert statuses & {200, 404}, statuses  # some requests got through to an answer, not only to refusals
