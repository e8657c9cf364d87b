"""Helpers for the account and saved-search web tests: an instance of one's own, forms read from pages.

Forms are filled the way a browser fills them: from the page's own
``<form>`` (hidden fields, CSRF token, ticked boxes and selected options),
so a field the template forgets to render makes the test fail.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from search.alerts import add_user
from search.records import User
from search.settings import Settings
from web import create_app

PASSWORD = "correct horse battery"


def own_instance(seeded: Settings, tmp_path: Path, **changes: object) -> Settings:
    """A copy of the seeded instance (index and state), so accounts written here stay here."""
    copy = tmp_path / "instance"
    shutil.copytree(seeded.index, copy)
    return replace(seeded, index=copy, **changes)  # type: ignore[arg-type]


def make_app(settings: Settings) -> Flask:
    """The app as served: CSRF protection on (no ``WTF_CSRF_ENABLED=False``)."""
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": settings})


def make_user(settings: Settings, email: str = "ana@example.org") -> User:
    return add_user(settings, email, PASSWORD)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(client: FlaskClient, email: str = "ana@example.org", password: str = PASSWORD,
           next_url: str | None = None) -> TestResponse:
    query = {"next": next_url} if next_url is not None else {}
    page = client.get("/login", query_string=query)
    return client.post("/login", query_string=query,
                       data={"csrf_token": csrf_token(page.text), "email": email, "password": password})


class _FormReader(HTMLParser):
    """The fields a browser would submit with the form whose action is ``action``."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.select: str | None = None
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action
        elif self.inside and tag == "input" and "name" in a:
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.fields.append((a["name"], a.get("value", "on" if a.get("type") == "checkbox" else "")))
        elif self.inside and tag == "select":
            self.select = a["name"]
        elif self.inside and tag == "option" and self.select and "selected" in a:
            self.fields.append((self.select, a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def form_fields(html: str, action: str) -> list[tuple[str, str]]:
    reader = _FormReader(action)
    reader.feed(html)
    assert reader.fields, f"no form posting to {action} on the page"
    return reader.fields


def submit(client: FlaskClient, page: str, action: str, **changes: str | list[str] | None) -> TestResponse:
    """Fill the form of ``page`` that posts to ``action``: keep its values, apply ``changes`` (None unticks)."""
    fields = form_fields(client.get(page).text, action)
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value if isinstance(value, list) else [value]
    return client.post(action, data=data)
