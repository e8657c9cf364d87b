"""One actor: the page at ``/actors/<id>`` and ``/api/actors/<id>``; and the
candidate actors (``search.enrich.candidates``) at ``/actors/candidates`` and
``/api/actors/candidates``.

Both read the same ``ActorPage`` (``search.query.actor_page``): names, roles,
articles by year and the newest articles. An unknown id is ``NotFound`` (404).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template

from search.enrich import list_candidates
from web.readers import get_gazetteer, get_reader, get_settings

bp = Blueprint("actors", __name__)


# Declared before ``/actors/<actor_id>``; Werkzeug would rank the fixed path
# first anyway, and "candidates" is no actor id (ids are Wikidata ids or slugs of names).
@bp.route("/actors/candidates")
def candidates() -> str:
    return render_template("candidates.html", candidates=list_candidates(get_settings(), get_gazetteer()))


@bp.route("/api/actors/candidates")
def api_candidates() -> Response:
    found = list_candidates(get_settings(), get_gazetteer())
    return jsonify({"total": len(found), "candidates": [c.as_json() for c in found]})


@bp.route("/actors/<actor_id>")
def show(actor_id: str) -> str:
    page = get_reader().actor(actor_id)
    return render_template("actor.html", actor=page)


@bp.route("/api/actors/<actor_id>")
def api_show(actor_id: str) -> Response:
    return jsonify(get_reader().actor(actor_id).as_json())
