"""Tokenised alert feeds and one-click unsubscribe: the alert runner's web side.

``GET /feeds/<token>.atom`` is a saved search's Atom feed (RFC 4287): the
articles its alert delivered (search/alerts/feed.py ``feed_page``), newest
delivery first. ``/unsubscribe/<token>`` is the link in every alert e-mail:
GET shows a confirmation with a button, POST (one-click, RFC 8058, sent by
mail software without a session) turns the saved search's e-mail off. Both
tokens are signed (search/alerts/saved.py) and revoked with the feed; a forged,
revoked or stale token is a 404. No CSRF token on the POST: the signed
token in the URL is what authorises it (web/__init__.py exempts this blueprint).
"""

from __future__ import annotations

from functools import partial

from flask import Blueprint, Flask, Response, render_template, request

from search.alerts import article_link, feed_page, feed_url, saved_by_token, update_saved
from search.errors import NotFound
from web import atom
from web.readers import get_gazetteer, get_reader, get_settings

bp = Blueprint("feeds", __name__)


@bp.route("/feeds/<token>.atom")
def feed(token: str) -> Response:
    settings = get_settings()
    saved = saved_by_token(settings, "feed", token)
    if not saved.feed:
        raise NotFound("this saved search's feed is turned off", hint="turn it on in your saved searches")
    reader = get_reader()
    page = feed_page(settings, saved, reader)
    body = render_template(
        "alert.atom.xml", page=page, title=atom.filters_text(saved.query, get_gazetteer()),
        self_url=feed_url(settings, saved), feed_id=atom.public_url(settings, f"/feeds/saved/{saved.id}"),
        home_url=atom.public_url(settings, "/"), as_uri=atom.as_uri,
        article_url=partial(article_link, settings),
    )
    # New deliveries change the feed without an index commit, and a takedown the other way round.
    # (A renamed saved search changes only the ETag: nothing records when it was renamed.)
    changed = [moment for moment in (reader.committed(), page.updated) if moment is not None]
    return atom.feed_response(body, max(changed))


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> str:
    settings = get_settings()
    saved = saved_by_token(settings, "unsubscribe", token)
    if request.method == "POST":
        saved = update_saved(settings, saved.user_id, saved.id, email=False)
    return render_template("unsubscribe.html", saved=saved, done=request.method == "POST")


def init_app(app: Flask) -> None:
    """Nothing to set up beyond the blueprint; kept for the app factory's pattern."""
