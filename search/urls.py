"""URL identity: one spelling for every URL of the same page, and the article id made from it.

Used wherever a URL becomes a key: the crawler normalises every URL it
discovers (so the frontier never fetches one page twice under two
spellings), and the cleaner normalises the canonical URL a page declares
before the article id is hashed from it (so several URLs of one article give
one id).

``normalize_url`` is conservative: it only removes differences that cannot
change which document a server returns — case of scheme and host, default
ports, the fragment, percent-encoding of characters that need none, dot
segments, the order of query parameters — plus parameters that exist only
to track a reader (``TRACKING_PARAMETERS``). It is idempotent.

``article_id`` lives here, beside the normalisation it depends on: the
cleaner names articles with it and the archive derives takedown keys from it,
so both agree on identity without the archive importing the cleaner.
"""

from __future__ import annotations

import hashlib
import re
import string
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit, urlunsplit

#: Query parameters that only say how a reader arrived (campaign, click and
#: mailing ids), never which page they get: dropped, matched case-blind.
#: Generic names some sites use for content (``ref``, ``source``, ``id``)
#: are deliberately absent.
TRACKING_PARAMETERS = frozenset({
    "fbclid",  # Facebook click id
    "gclid", "gclsrc", "dclid", "gbraid", "wbraid",  # Google Ads / DoubleClick
    "msclkid",  # Microsoft Ads
    "yclid",  # Yandex
    "twclid", "ttclid", "igshid",  # X/Twitter, TikTok, Instagram shares
    "mc_cid", "mc_eid",  # Mailchimp campaign and recipient
    "_ga", "_gl",  # Google Analytics cross-domain linker
    "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp",  # HubSpot
    "mkt_tok",  # Marketo
    "oly_anon_id", "oly_enc_id",  # Omeda
    "vero_id", "vero_conv",  # Vero
    "ref_src", "ref_url",  # X/Twitter embeds
    "s_kwcid",  # Adobe Analytics
})
#: Parameter-name prefixes of whole tracking families: Google's ``utm_*``,
#: Piwik's ``pk_*`` and Matomo's ``mtm_*`` campaign parameters.
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Characters RFC 3986 allows unescaped in a path segment and in a query.
_PATH_SAFE = "/:@!$&'()*+,;=%"
_QUERY_SAFE = "/?:@!$'()*+,;=%"
# Sub-domains that name another rendering of the same site, not another site.
_SAME_SITE_PREFIXES = ("www.", "m.", "mobile.", "amp.")
_ID_CHARS = 20


def article_id(url: str | None, data: bytes) -> str:
    """Stable, URL-safe id: from the canonical URL when known, else the raw bytes.

    The URL is normalised first, so every spelling of it gives one id. The
    raw bytes, not the cleaned text, so a better cleaner later updates the
    same article instead of adding a second one.
    """
    key = normalize_url(url).encode() if url else data
    return hashlib.sha256(key).hexdigest()[:_ID_CHARS]


def normalize_url(url: str) -> str:
    """The one spelling of ``url``; ``normalize_url(normalize_url(u)) == normalize_url(u)``.

    Made for absolute http(s) URLs (resolve relative ones first, e.g. with
    ``resolve_url``); any other string passes through the generic steps only.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    netloc = _netloc(parts, scheme)
    path = _remove_dot_segments(_requote(parts.path, _PATH_SAFE))
    if netloc and not path:
        path = "/"
    return urlunsplit((scheme, netloc, path, _query(parts.query), ""))


def resolve_url(url: str, base: str | None) -> str | None:
    """``url`` made absolute against ``base`` and normalised; None when it is
    not an http(s) URL with a host (a relative URL without a base included)."""
    absolute = urljoin(base, url.strip()) if base else url.strip()
    parts = urlsplit(absolute)
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return normalize_url(absolute)


def canonical_url(declared: str | None, page_url: str | None) -> str | None:
    """The URL an article is known by: the canonical URL its page declares
    (``<link rel=canonical>``, ``og:url``) resolved against the page URL and
    normalised, else the page URL normalised; None when neither is usable.

    A declaration is ignored when it names another site — syndicated copies
    point at the original publisher, and honouring that would give two
    outlets' copies one id, so one would overwrite the other — or the
    homepage of an article page, a site-wide template mistake that would give
    every article of the site one id.
    """
    page = resolve_url(page_url, None) if page_url else None
    found = resolve_url(declared, page_url) if declared else None
    if found is None or is_homepage(found) and not (page and is_homepage(page)):
        return page
    if page is not None and not same_site(found, page):
        return page
    return found


def same_site(a: str, b: str) -> bool:
    """Whether two URLs are on one site: the same host, give or take ``www.``,
    ``m.``, ``mobile.`` or ``amp.`` (the mobile and AMP renderings of a site)."""
    return _site(a) == _site(b)


def is_homepage(url: str) -> bool:
    """Whether ``url`` is a site's root page (no path, no query)."""
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def _site(url: str) -> str:
    host = (urlsplit(url).hostname or "").rstrip(".")
    for prefix in _SAME_SITE_PREFIXES:
        if host.startswith(prefix):
            return host[len(prefix):]
    return host


def _netloc(parts: SplitResult, scheme: str) -> str:
    """Lower-case host (IDNA-encoded), default port dropped, user info kept."""
    if not parts.netloc:
        return ""
    userinfo = parts.netloc.rpartition("@")[0]
    host = (parts.hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        pass  # not a name IDNA 2003 can encode: keep it as written, lower-cased
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep the host part as written
        return parts.netloc.lower()
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return f"{userinfo}@{host}" if userinfo else host


def _query(query: str) -> str:
    """Tracking parameters dropped, the rest sorted by name (stable, so
    repeated parameters keep their order), each one's escapes normalised."""
    kept = [_requote(p, _QUERY_SAFE) for p in query.split("&") if p and not _is_tracking(p)]
    kept.sort(key=lambda p: p.partition("=")[0])
    return "&".join(kept)


def _is_tracking(parameter: str) -> bool:
    name = unquote(parameter.partition("=")[0]).lower()
    return name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES)


def _requote(part: str, safe: str) -> str:
    """One escaping for each character: unreserved characters unescaped,
    other escapes in upper case, anything not allowed escaped (UTF-8)."""
    part = _STRAY_PERCENT.sub("%25", part)
    part = _ESCAPE.sub(_unescape_unreserved, part)
    return quote(part, safe=safe)


def _unescape_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    """``/a/./b/../c`` → ``/a/c`` (RFC 3986 §5.2.4), for absolute paths."""
    segments = path.split("/")
    if not path.startswith("/") or not {".", ".."} & set(segments):
        return path
    kept: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if segments[-1] in (".", ".."):
        kept.append("")  # "/a/b/.." names the directory "/a/"
    return "/" + "/".join(kept)
