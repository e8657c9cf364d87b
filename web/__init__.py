"""The Newsdesk web app: HTML UI, JSON API and Atom over the index.

``create_app(test_config=None)`` is the factory (flaskr style). Settings load
once here and live in ``app.config["NEWSDESK_SETTINGS"]``; each server
thread reads the instance through the query stage's seam, a reader kept
across requests until the index changes (see ``web.readers``), and ``web.memory`` hands freed heap back to the system.
One blueprint per area: ``results`` (the results page, ``/api/search``, Atom),
``exports`` (every match as CSV or JSON Lines), ``timeline``
(attention over time: its API, CSV and the results page's chart),
``compare`` (up to five searches side by side),
``articles`` (one article, its copies and related articles), ``original``
(an article's page as archived, replayed in a sandbox), ``actors`` (one
actor), ``sources`` (every source's health; administrators add, remove and
import sources), ``accounts`` (register, log in, log out), ``saved`` (a
user's saved searches and alert options), ``feeds`` (tokenised Atom
feeds, one-click unsubscribe) and ``openapi`` (the API's description).

Sessions, CSRF tokens and signed links share the instance's secret key
(``search.alerts.keys``), so every process serving one instance agrees on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from search.alerts import secret_key
from search.settings import Settings, load_settings

csrf = CSRFProtect()


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(test_config or {})
    if "NEWSDESK_SETTINGS" not in app.config:
        app.config["NEWSDESK_SETTINGS"] = load_settings(index=app.config.get("NEWSDESK_INDEX"))
    _configure_sessions(app, app.config["NEWSDESK_SETTINGS"], test_config or {})

    from web import (
        accounts,
        actors,
        articles,
        compare,
        errors,
        exports,
        feeds,
        memory,
        openapi,
        original,
        readers,
        results,
        saved,
        sources,
        timeline,
    )

    readers.init_app(app)
    memory.init_app(app)
    errors.init_app(app)
    csrf.init_app(app)
    accounts.init_app(app)
    for blueprint in (results.bp, exports.bp, timeline.bp, compare.bp, articles.bp, original.bp, actors.bp, sources.bp, accounts.bp,
                      saved.bp, feeds.bp, openapi.bp):
        app.register_blueprint(blueprint)
    csrf.exempt(feeds.bp)  # its one POST, one-click unsubscribe (RFC 8058), is authorised by a signed token
    app.after_request(_security_headers)
    return app


def _configure_sessions(app: Flask, settings: Settings, given: Mapping[str, Any]) -> None:
    # Assigned, not setdefault: Flask already holds defaults for these keys
    # (no key, no SameSite); only what the caller passes in wins.
    wanted = {
        "SECRET_KEY": secret_key(settings),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.secure_cookies,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": settings.secure_cookies,
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead of a clock
    }
    app.config.update({key: value for key, value in wanted.items() if key not in given})


def _security_headers(response: Any) -> Any:
    # Article text is escaped everywhere; the policy is a second fence.
    response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
    # frame-ancestors for current browsers, X-Frame-Options for those that predate it.
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
