"""The Newsdesk web app: HTML UI, JSON API and Atom over the index.

``create_app(test_config=None)`` is the factory (flaskr style). Settings load
once here and live in ``app.config["NEWSDESK_SETTINGS"]``; the searcher is
opened per request on ``g`` and closed on teardown (see ``web.searcher``).
One blueprint per area: ``results`` (search in every format),
``articles`` (one article), ``actors`` (one actor) and ``sources`` (crawl health).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from search.settings import load_settings


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(test_config or {})
    if "NEWSDESK_SETTINGS" not in app.config:
        app.config["NEWSDESK_SETTINGS"] = load_settings(index=app.config.get("NEWSDESK_INDEX"))

    from web import actors, articles, errors, results, searcher

    searcher.init_app(app)
    errors.init_app(app)
    app.register_blueprint(results.bp)
    app.register_blueprint(articles.bp)
    app.register_blueprint(actors.bp)
    from web import sources

    app.register_blueprint(sources.bp)
    app.after_request(_security_headers)
    return app


def _security_headers(response: Any) -> Any:
    # Article text is escaped everywhere; the policy is a second fence.
    response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
