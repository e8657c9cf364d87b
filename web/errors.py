"""Errors as answers: every ``NewsdeskError`` carries its status and a hint.

The API answers ``{"error": ..., "hint": ...}``; pages answer with the error
page (search box included, so the user can fix the query in place). Nothing
a user sends produces a traceback.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from search.errors import NewsdeskError

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.add_template_filter(_sentence, "sentence")
    app.register_error_handler(NewsdeskError, _newsdesk_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _sentence(message: str) -> str:
    """Capitalise the first letter only: the rest may quote what the user typed."""
    return message[:1].upper() + message[1:]


def _newsdesk_error(error: NewsdeskError) -> tuple[Response | str, int]:
    return _answer(error.status, error.message, error.hint)


def _http_error(error: HTTPException) -> tuple[Response | str, int]:
    return _answer(error.code or 500, error.name.lower(), None)


def _unexpected(error: Exception) -> tuple[Response | str, int]:
    log.exception("unexpected error on %s", request.path)
    return _answer(500, "something went wrong on our side", "try again; if it persists, report it")


def _answer(status: int, message: str, hint: str | None) -> tuple[Response | str, int]:
    if request.path.startswith("/api/"):
        body = {"error": message, **({"hint": hint} if hint else {})}
        return jsonify(body), status
    return render_template("error.html", status=status, message=message, hint=hint), status
