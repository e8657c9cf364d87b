"""An article's original page: what Newsdesk archived of it before it was cleaned, to check the cleaner against.

``/articles/<id>/original`` is what Newsdesk archived of the article before
it was cleaned (``search.archive``: read only, never the writer's lock), so a
reader can check the cleaner's text and date against the source: a Newsdesk
page saying where and when it was captured, framing the capture itself
(``…/original/capture``) in a sandbox, and the bytes as archived to download
(``/articles/<id>/original.raw``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import PurePath
from typing import TYPE_CHECKING

from flask import Blueprint, Response, render_template

from search.errors import NotFound
from search.records import RECORD_FIELDS, RECORD_TYPE, Hit, StatedRecord
from web.readers import get_reader, get_settings

if TYPE_CHECKING:
    from search.archive import Original

bp = Blueprint("original", __name__)

#: The capture's policy. ``sandbox`` (no allowances): no script runs, no form
#: is sent, no pop-up opens, the frame cannot navigate the page around it, and
#: the capture gets an opaque origin, so nothing in it reaches Newsdesk's
#: cookies. ``default-src 'none'``: nothing is fetched at all, from the
#: original site or anywhere (images, style sheets, fonts, frames, media,
#: prefetches, pings), so no request leaves for the site to log; only images
#: inlined as ``data:`` and the page's own inline styles show. ``form-action``
#: and ``frame-ancestors`` do not fall back to ``default-src``: no form goes
#: anywhere, and only Newsdesk's own page may frame the capture.
CAPTURE_POLICY = ("sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'none'; "
                  "frame-ancestors 'self'")
_CAPTURE_HEADERS = {
    "Content-Security-Policy": CAPTURE_POLICY,
    "X-Frame-Options": "SAMEORIGIN",  # frame-ancestors for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Host names in the capture's links are not looked up ahead of a click (DNS leaves no trace on
    # loopback, so the tests cannot watch this one).
    "X-DNS-Prefetch-Control": "off",
    # A taken-down article's capture must not outlive it in a cache.
    "Cache-Control": "no-store",
}
#: What no policy stops: Chromium opens a connection for ``<link rel=preconnect>`` whatever the page's policy
#: says (no standard governs hints by policy yet: whatwg/html issue 9035), also from a frame's ``srcdoc``. So every ``<link`` that the HTML tokenizer
#: would read as a tag (ASCII case-insensitive, then white space, ``/`` or ``>``) becomes an inert ``<meta>``,
#: void and allowed in ``<head>`` as ``<link>`` is, so the page parses as before, and every ``srcdoc`` another
#: name. Textual on purpose: no tag escapes by parsing differently here and in a browser; the price is that the
#: same words in a comment, a script or a ``<title>`` change too. The download keeps the bytes as archived.
_LINK_TAG = re.compile(r"<link(?=[\t\n\f\r />])", re.IGNORECASE | re.ASCII)
_SRCDOC = re.compile("srcdoc", re.IGNORECASE | re.ASCII)
#: The style the original page adds, above all a frame as wide as the page and most of a screen high. Inline
#: and allowed by its hash, so the page's policy still refuses any other inline style.
ORIGINAL_STYLE = (
    ".original { max-width: none; } .original .intro, .original .meta, .original .stated { max-width: 44rem; } "
    ".original iframe { display: block; width: 100%; height: 80vh; min-height: 20rem; margin: .8rem 0 0; "
    "border: 1px solid var(--line); background: #fff; } .original .stated-text { white-space: pre-wrap; } "
    ".original dd a { text-decoration: underline; text-underline-offset: .15em; }"  # links amid text (WCAG 1.4.1)
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(ORIGINAL_STYLE.encode()).digest()).decode()
ORIGINAL_PAGE_POLICY = f"default-src 'self'; style-src 'self' 'sha256-{_STYLE_HASH}'; frame-ancestors 'none'"
_EXTENSIONS = {"text/html": "html", "text/plain": "txt", RECORD_TYPE: "json"}


@bp.route("/articles/<article_id>/original")
def page(article_id: str) -> Response:
    article, capture = _original(article_id)
    record = _stated(capture)
    # A record that states only text has no page to frame: its fields are listed instead.
    framed = _replay(capture) is not None and (record is None or record.html is not None)
    body = render_template(
        "original.html", article=article, capture=capture, record=record, framed=framed,
        is_record=capture.page_type == RECORD_TYPE,
        source=PurePath(capture.origin).name, record_fields=[f for f in RECORD_FIELDS if f != "html"],
        style=ORIGINAL_STYLE,
    )
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = ORIGINAL_PAGE_POLICY
    return response


@bp.route("/articles/<article_id>/original/capture")
def capture(article_id: str) -> Response:
    """The capture's text, decoded as the cleaner decoded it, served as UTF-8 in the sandbox.

    Re-encoded rather than sent in its own charset: the cleaner's decoding
    may have been detection, with no label to pass on, and a charset in the
    HTTP header outranks the page's ``<meta>``, so the browser reads exactly
    the text the cleaner read.
    """
    _, capture = _original(article_id)
    replay = _replay(capture)
    if replay is None:
        raise NotFound(f"the archived page of article {article_id} has no text to show",
                       hint=capture.unreadable or "download the bytes as archived instead")
    text, mimetype = replay
    response = Response(text.encode("utf-8"), content_type=f"{mimetype}; charset=utf-8")
    response.headers.update(_CAPTURE_HEADERS)
    return response


@bp.route("/articles/<article_id>/original.raw")
def raw(article_id: str) -> Response:
    """The bytes as archived, as a download: never rendered here, so no charset or policy of theirs matters."""
    _, capture = _original(article_id)
    response = Response(capture.data, mimetype="application/octet-stream")
    name = f"{article_id}.{_EXTENSIONS.get(capture.page_type, 'bin')}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers.update(_CAPTURE_HEADERS)
    return response


def _original(article_id: str) -> tuple[Hit, Original]:
    """The article and its archived page, or ``NotFound``: an article taken down has neither."""
    # Imported here, when an original page is asked for: searching and reading articles need no archive code
    # (tests/test_server_memory.py), and the reader brings warcio (about 1.5 MB) into the server.
    from search.archive import read_original

    article = get_reader().article(article_id)  # NotFound once it left the index
    capture = read_original(get_settings(), article.id)
    if capture is None:
        raise NotFound(
            f"no archived page of article {article_id}",
            hint="its site asked not to archive it (noarchive), it was taken in before the archive existed, "
                 "or it was taken down",
        )
    return article, capture


def _stated(capture: Original) -> StatedRecord | None:
    """The record a collection stated, when the article came from one (JSON Lines, CSV)."""
    if capture.page_type != RECORD_TYPE:
        return None
    try:
        return StatedRecord.from_text(capture.text)
    except ValueError:
        return None


def _replay(capture: Original) -> tuple[str, str] | None:
    """What the sandbox shows: (text, media type); None when there is no page to show.

    A page shows as its text; a collection's record that states a page
    (``html``) shows that page; one that states only text has no page: the
    original page lists what it states instead, and the sandbox shows the
    record as archived (JSON).
    """
    if capture.unreadable is not None:
        return None
    if capture.page_type == RECORD_TYPE:
        record = _stated(capture)
        if record is not None and record.html is not None:
            return inert(record.html), "text/html"
        return capture.text, "text/plain"
    return (inert(capture.text) if capture.page_type == "text/html" else capture.text), capture.page_type


def inert(html: str) -> str:
    """The page with its ``<link>`` tags and ``srcdoc`` attributes renamed: see ``_LINK_TAG``."""
    return _SRCDOC.sub("data-archived-srcdoc", _LINK_TAG.sub("<meta data-archived-link", html))
