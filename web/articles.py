"""One article: the page at ``/articles/<id>`` and ``/api/articles/<id>``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template

from search.language import LANGUAGE_NAMES
from search.query import get_article, get_copies
from web.searcher import get_gazetteer, get_searcher

bp = Blueprint("articles", __name__)


@bp.route("/articles/<article_id>")
def show(article_id: str) -> str:
    searcher, gazetteer = get_searcher(), get_gazetteer()
    article = get_article(searcher, article_id, gazetteer)
    copies = get_copies(searcher, article, gazetteer)
    return render_template("article.html", article=article, copies=copies, language_names=LANGUAGE_NAMES)


@bp.route("/api/articles/<article_id>")
def api_show(article_id: str) -> Response:
    return jsonify(get_article(get_searcher(), article_id, get_gazetteer()).as_json())
