"""One article: the page at ``/articles/<id>`` and ``/api/articles/<id>``, with its copies and related articles.

Its original page, the capture it was cleaned from, is web/original.py's.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template

from search.language import LANGUAGE_NAMES
from web.readers import get_reader

bp = Blueprint("articles", __name__)


@bp.route("/articles/<article_id>")
def show(article_id: str) -> str:
    reader = get_reader()
    article = reader.article(article_id)
    copies = reader.copies(article)
    alike = reader.related(article.id)
    return render_template("article.html", article=article, copies=copies, related=alike,
                           language_names=LANGUAGE_NAMES)


@bp.route("/api/articles/<article_id>")
def api_show(article_id: str) -> Response:
    reader = get_reader()
    article = reader.article(article_id)
    alike = reader.related(article.id)
    return jsonify({**article.as_json(), "related": [item.as_json() for item in alike]})
