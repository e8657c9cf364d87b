"""Only http(s) URLs name articles: a ``javascript:`` or ``data:`` URL never becomes a live link.

A manifest (or a feed, or a page's own canonical link) may state any string
as an article's URL. Stored, it would be the href of the article's title on
its page and the link of its entries in the search and alert feeds; the
Content-Security-Policy blocks such links in current browsers, older ones
run them. The cleaner keeps the first candidate that is an absolute http(s)
URL and drops the others.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import feedparser
import pytest
from flask.testing import FlaskClient

from conftest import SEED_ARTICLES
from search.index import open_index
from search.ingest import ingest
from search.settings import Settings
from search.sources import load_manifest
from web import create_app

SEED = SEED_ARTICLES / "002_dca27ddd5f2f899a.txt"


def _ingested_with_url(settings: Settings, tmp_path: Path, url: str) -> dict[str, object]:
    manifest = tmp_path / "manifest.toml"
    digest = hashlib.sha256(SEED.read_bytes()).hexdigest()
    manifest.write_text(f'[[article]]\nsha256 = "{digest}"\nurl = "{url}"\n', encoding="utf-8")
    ingest([SEED], settings, manifest=load_manifest(manifest), progress=False)
    with open_index(settings).searcher() as searcher:
        [stored] = list(searcher.documents())
    return dict(stored)


@pytest.mark.parametrize("url", [
    "javascript:alert(document.cookie)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "ftp://news.example/a", "/relative/path",
])
def test_a_url_that_is_not_http_is_not_stored_nor_linked(fresh: Settings, tmp_path: Path, url: str) -> None:
    stored = _ingested_with_url(fresh, tmp_path, url)
    assert stored.get("url") is None

    client: FlaskClient = create_app({"TESTING": True, "NEWSDESK_SETTINGS": fresh}).test_client()
    page = client.get(f"/articles/{stored['id']}").get_data(as_text=True)
    feed = client.get("/search.atom").get_data(as_text=True)
    for text in (page, feed):
        assert "javascript:" not in text.lower() and "data:text" not in text and "vbscript:" not in text
    entry = feedparser.parse(feed).entries[0]
    assert entry.link.startswith("http")  # the feed links to the article's page here instead


def test_an_http_url_is_kept_normalised(fresh: Settings, tmp_path: Path) -> None:
    stored = _ingested_with_url(fresh, tmp_path, "HTTPS://News.Example:443/a/../story?utm_source=x#top")
    assert stored["url"] == "https://news.example/story"
