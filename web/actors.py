"""One actor: the page at ``/actors/<id>`` and ``/api/actors/<id>``.

Both read the same ``ActorPage`` (``search.query.actor_page``): names, roles,
articles by year and the newest articles. An unknown id is ``NotFound`` (404).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template

from search.query import actor_page
from web.searcher import get_gazetteer, get_searcher, get_settings

bp = Blueprint("actors", __name__)


@bp.route("/actors/<actor_id>")
def show(actor_id: str) -> str:
    page = actor_page(get_searcher(), actor_id, get_settings(), get_gazetteer())
    return render_template("actor.html", actor=page)


@bp.route("/api/actors/<actor_id>")
def api_show(actor_id: str) -> Response:
    return jsonify(actor_page(get_searcher(), actor_id, get_settings(), get_gazetteer()).as_json())
