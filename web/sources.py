"""``/sources``: each crawled source's health, so "no results" can be told from "no coverage".

Reads the crawler's tables in the state database (``search.crawl.frontier``)
read-only; before any crawl it shows an empty page saying so. Never opens
the index, so it works while the index is missing or being rebuilt.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template

from search.crawl import crawl_health
from web.searcher import get_settings

bp = Blueprint("sources", __name__)

#: A source with no new article for this long is flagged as quiet.
QUIET_AFTER = dt.timedelta(days=3)


@bp.route("/sources")
def index() -> str:
    sources, hosts = crawl_health(get_settings())
    return render_template("sources.html", sources=sources, hosts=hosts, when=_when, quiet=_quiet)


def _quiet(moment: float | None) -> bool:
    """No new article for ``QUIET_AFTER``: worth a look before trusting an empty search."""
    return not moment or dt.datetime.now(dt.UTC).timestamp() - moment > QUIET_AFTER.total_seconds()


def _when(moment: float | None) -> str:
    if not moment:
        return "never"
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%-d %b %Y, %H:%M UTC")
