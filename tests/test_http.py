"""HTTP as clients expect it: errors keep their headers and answer in the kind of the URL asked for."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from lxml import etree


@pytest.mark.parametrize(
    ("method", "url", "allowed", "mimetype"),
    [
        ("POST", "/", {"GET", "HEAD", "OPTIONS"}, "text/html"),
        ("GET", "/logout", {"POST", "OPTIONS"}, "text/html"),
        ("DELETE", "/saved", {"GET", "HEAD", "POST", "OPTIONS"}, "text/html"),
        ("PUT", "/api/search", {"GET", "HEAD", "OPTIONS"}, "application/json"),
        ("POST", "/search.atom", {"GET", "HEAD", "OPTIONS"}, "application/problem+xml"),
    ],
)
def test_a_405_names_the_allowed_methods(
    client: FlaskClient, method: str, url: str, allowed: set[str], mimetype: str
) -> None:
    """RFC 9110 §15.5.6: a 405 MUST carry ``Allow``."""
    answer = client.open(url, method=method)
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["Allow"].split(",")} == allowed
    assert answer.mimetype == mimetype


def test_api_errors_are_json_never_html(client: FlaskClient) -> None:
    for answer in (client.get("/api/search?q=%22open"), client.get("/api/nowhere"), client.post("/api/search")):
        assert answer.mimetype == "application/json", answer.status
        assert "error" in answer.get_json() and b"<html" not in answer.data


@pytest.mark.parametrize(
    ("url", "status"),
    [("/search.atom?q=%22open", 400), ("/search.atom?per_page=500", 400), ("/feeds/forged.atom", 404)],
)
def test_feed_errors_are_rfc_9457_problem_documents(client: FlaskClient, url: str, status: int) -> None:
    answer = client.get(url)
    assert answer.status_code == status and answer.mimetype == "application/problem+xml"
    problem = etree.fromstring(answer.data)
    ns = {"p": "urn:ietf:rfc:7807"}
    assert problem.tag == "{urn:ietf:rfc:7807}problem"
    assert problem.findtext("p:status", namespaces=ns) == str(status)
    assert problem.findtext("p:title", namespaces=ns)
