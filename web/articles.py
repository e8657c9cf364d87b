"""One article: the page at ``/articles/<id>`` and ``/api/articles/<id>``, with its copies and related articles.

Its original page, the capture it was cleaned from, is web/original.py's.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template

from search.language import LANGUAGE_NAMES
from search.query import get_article, get_copies, related
from web.searcher import get_gazetteer, get_searcher, get_settings

bp = Blueprint("articles", __name__)


@bp.route("/articles/<article_id>")
def show(article_id: str) -> str:
    searcher, gazetteer = get_searcher(), get_gazetteer()
    article = get_article(searcher, article_id, gazetteer)
    copies = get_copies(searcher, article, gazetteer)
    alike = related(searcher, article.id, get_settings())
    return render_template("article.html", article=article, copies=copies, related=alike,
                           language_names=LANGUAGE_NAMES)


@bp.route("/api/articles/<article_id>")
def api_show(article_id: str) -> Response:
    searcher = get_searcher()
    article = get_article(searcher, article_id, get_gazetteer())
    alike = related(searcher, article.id, get_settings())
    return jsonify({**article.as_json(), "related": [item.as_json() for item in alike]})
