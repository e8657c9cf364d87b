"""Errors as answers: every ``NewsdeskError`` carries its status and a hint.

Each kind of URL answers in its own kind: the API (``/api/…``) with JSON
``{"error": ..., "hint": ...}``, the Atom feeds (``….atom``) with an RFC 9457
problem document in XML (a feed reader or a script must not get an HTML page
where it asked for XML), and pages with the error page (search box included,
so the user can fix the query in place). A download (``….csv``,
``….jsonl``) is asked for by both: a browser (whose ``Accept`` prefers
HTML) gets the error page, a program the API's JSON. Nothing a user sends produces a
traceback. An HTTP error keeps the headers Werkzeug gives it (``Allow`` on a
405, RFC 9110 §15.5.6; ``Retry-After``, ``WWW-Authenticate``…).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from search.errors import NewsdeskError

log = logging.getLogger(__name__)

#: RFC 9457 appendix B: the XML form of a problem document.
PROBLEM_XML = "application/problem+xml"


def init_app(app: Flask) -> None:
    app.add_template_filter(_sentence, "sentence")
    app.register_error_handler(NewsdeskError, _newsdesk_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _sentence(message: str) -> str:
    """Capitalise the first letter only: the rest may quote what the user typed."""
    return message[:1].upper() + message[1:]


def _newsdesk_error(error: NewsdeskError) -> Response:
    return _answer(error.status, error.message, error.hint)


def _http_error(error: HTTPException) -> Response:
    response = _answer(error.code or 500, error.name.lower(), None)
    # Our body replaces Werkzeug's, its other headers stay: ``get_headers``
    # is where each exception class puts what the status needs.
    for name, value in error.get_headers(request.environ):
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected(error: Exception) -> Response:
    log.exception("unexpected error on %s", request.path)
    return _answer(500, "something went wrong on our side", "try again; if it persists, report it")


def _answer(status: int, message: str, hint: str | None) -> Response:
    if request.path.startswith("/api/") or _program_download():
        response = jsonify({"error": message, **({"hint": hint} if hint else {})})
    elif request.path.endswith(".atom"):
        body = render_template("problem.xml", status=status, message=message, hint=hint)
        response = Response(body, mimetype=PROBLEM_XML)
    else:
        response = Response(render_template("error.html", status=status, message=message, hint=hint),
                            mimetype="text/html")
    response.status_code = status
    return response


#: The files the app writes: a browser follows their links, a program fetches them.
DOWNLOADS = (".csv", ".jsonl")


def _program_download() -> bool:
    """A download asked for by a program: anything but a browser's ``Accept``, which prefers HTML."""
    return request.path.endswith(DOWNLOADS) and \
        request.accept_mimetypes.best_match(["application/json", "text/html"]) != "text/html"
