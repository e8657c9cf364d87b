"""The cleaner: a ``RawPage`` in, an ``Article`` (title, text, date, author,
outlet, id) out. Second stage of the pipeline, after sources and before
enrichment.

Two paths share one set of leftover rules:

* saved HTML goes through trafilatura for the body and metadata, htmldate
  (``original_date=True``) for the date and BeautifulSoup for what both miss
  (canonical URL, site name, ``<title>``);
* plain-text page dumps (a copy of what a browser showed) are split into
  lines; furniture is recognised by its shape and vocabulary — prompts to
  subscribe or log in, ad markers, "N min read", comment-widget strings,
  section blurbs, strings in another script — never by listing known pages.

Metadata stated outside the document (``RawPage.hints``, e.g. the seeds
manifest) wins over what the cleaner guesses, and says so in
``published_source``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import replace
from typing import Any

from search.decode import decode_html, detect, looks_binary
from search.errors import ExtractionError
from search.records import Article, PageHints, RawPage
from search.urls import canonical_url, normalize_url

#: Bytes of a document hashed into its id when no canonical URL is known.
_ID_CHARS = 20


def clean(page: RawPage) -> Article:
    """Turn one raw page into an article, or raise ``ExtractionError``."""
    if looks_binary(page.data):
        raise ExtractionError("binary data, not a text or HTML page")
    if page.content_type == "text/html":
        article = extract_html(page.data, page.url or page.hints.url)
    else:
        article = extract_text(_decode(page.data))
    if not article.text.strip():
        raise ExtractionError("no article text found")
    return _finish(article, page)


def article_id(url: str | None, data: bytes) -> str:
    """Stable, URL-safe id: from the canonical URL when known, else the raw bytes.

    The URL is normalised first, so every spelling of it gives one id. The
    raw bytes, not the cleaned text, so a better cleaner later updates the
    same article instead of adding a second one.
    """
    key = normalize_url(url).encode() if url else data
    return hashlib.sha256(key).hexdigest()[:_ID_CHARS]


def _finish(article: Article, page: RawPage) -> Article:
    hints: PageHints = page.hints
    url = hints.url or article.url or page.url  # the canonical URL the page declares wins
    url = normalize_url(url) if url else None
    article = replace(
        article,
        id=article_id(url, page.data),
        origin=page.origin,
        url=url,
        outlet=hints.outlet or article.outlet,
        author=hints.author or article.author,
    )
    if hints.published is not None:
        article.published = hints.published
        article.published_source = hints.published_source or "manifest"
    return article


def _decode_html(data: bytes) -> str:
    # Valid UTF-8 is almost never an accident, and the crawler hands pages on
    # re-encoded as UTF-8 with their original <meta charset> still in them;
    # other bytes (a saved page) follow their <meta charset>, then detection.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return decode_html(data, None)


def _decode(data: bytes) -> str:
    text = detect(data)
    if text is None:
        raise ExtractionError("cannot tell the text encoding")
    return text


# --- saved HTML pages ------------------------------------------------------


def extract_html(data: bytes | str, url: str | None = None) -> Article:
    """Body and metadata by trafilatura, date by htmldate, gaps by BeautifulSoup."""
    # Imported here: trafilatura takes a second to import, and the plain-text
    # path (and every command that does not ingest HTML) never needs it.
    import trafilatura
    from htmldate import find_date

    html = data if isinstance(data, str) else _decode_html(data)
    found = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False)
    doc: dict[str, Any] = found.as_dict() if found is not None and not isinstance(found, dict) else (found or {})
    page = _page_metadata(html)
    date = find_date(html, original_date=True, url=url)
    body = doc.get("text") or ""
    script = _dominant_script(body)
    paragraphs = [line.strip() for line in body.splitlines() if line.strip()]
    paragraphs = [line for line in paragraphs if not _is_furniture(line, script)]
    title = doc.get("title") or page.get("title") or ""
    if paragraphs and _squash(paragraphs[0]) == _squash(title):
        paragraphs = paragraphs[1:]  # the headline repeated as the first line
    return Article(
        id="",
        title=title,
        text="\n\n".join(_drop_repeats(paragraphs)),
        origin="",
        url=canonical_url(page.get("canonical"), url),
        outlet=doc.get("sitename") or page.get("site_name"),
        author=doc.get("author") or page.get("author"),
        published=parse_date(date),
        published_source="htmldate" if date else None,
    )


def _page_metadata(html: str) -> dict[str, str]:
    """What trafilatura may miss: canonical URL, site name, author, <title>."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    found: dict[str, str] = {}
    for key, selector, attribute in _PAGE_FIELDS:
        tag = soup.select_one(selector)
        value = tag.get(attribute) if tag and attribute else (tag.get_text(" ", strip=True) if tag else None)
        if isinstance(value, str) and value.strip():
            found.setdefault(key, value.strip())
    return found


_PAGE_FIELDS = (
    ("canonical", "link[rel=canonical]", "href"),
    ("canonical", "meta[property='og:url']", "content"),
    ("site_name", "meta[property='og:site_name']", "content"),
    ("author", "meta[name=author]", "content"),
    ("title", "meta[property='og:title']", "content"),
    ("title", "h1", None),
    ("title", "title", None),
)


# --- plain-text page dumps -------------------------------------------------

# Words that belong to site furniture rather than to reporting. One such word
# makes a short line furniture; two make any line of moderate length so.
_PROMPT = re.compile(
    r"\b(subscribe|subscription|newsletters?|sign (?:up|in)|log ?in|register|inbox|special offers"
    r"|follow us|share (?:this|on)|read more|related (?:articles|stories|news)|comments?"
    r"|discussion|cookies?|advertisement|sponsored|latest news|stay tuned|breaking news"
    r"|updates|all rights reserved|copyright|loader|newsfeed|chats?)\b",
    re.IGNORECASE,
)
_AD_MARKER = re.compile(r"^\W*(advertisement|advertising|sponsored(?: content)?|ad|anzeige|reklama)\W*$", re.IGNORECASE)
_READ_TIME = re.compile(r"\b\d+\s*min(?:ute)?s?\.?\s+read\b", re.IGNORECASE)
_NO_LETTERS = re.compile(r"^[\W\d_]*$")
_BYLINE = re.compile(r"^(?:from|by)\s*:?\s+(?P<name>[^\W\d_][^\W\d_.'’ -]*(?:[ .'’-]+[^\W\d_]+){0,5})\.?$", re.IGNORECASE)
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
# A line ending ", 21 September 2018." is a caption or a related-story link.
_CAPTION_DATE = re.compile(rf",\s*\d{{1,2}}\s+(?:{_MONTHS})\s+\d{{4}}\.?$", re.IGNORECASE)
_CREDIT = re.compile(r"^\W*(?:photo|image|foto|picture|credit)s?\s*(?:credit)?\s*:", re.IGNORECASE)
_TERMINAL = ".!?…\"”’»)"


def extract_text(text: str) -> Article:
    """Clean a plain-text page dump into title, author and body."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    script = _dominant_script(" ".join(lines))
    header, body = _split_header(lines)
    title = _pick_title(header, script)
    author = next((m.group("name").strip() for line in header if (m := _BYLINE.match(line))), None)
    body = [line for line in body if not _is_furniture(line, script)]
    body = _drop_trailing_furniture(_drop_repeats(body))
    if title is None and body:
        title = _title_from_sentence(body[0])
    return Article(id="", title=title or "", text="\n\n".join(body), origin="", author=author)


def _split_header(lines: list[str]) -> tuple[list[str], list[str]]:
    """The header is everything before the first paragraph: site name,
    section, blurb, headline, byline, "Subscribe". Only the headline and the
    byline are kept from it."""
    first = next((i for i, line in enumerate(lines) if _is_paragraph(line)), len(lines))
    return lines[:first], lines[first:]


def _pick_title(header: list[str], script: str) -> str | None:
    """The longest headline-shaped header line: site and section names are shorter."""
    candidates = [
        line for line in header
        if _is_headline(line) and not _is_furniture(line, script) and not _BYLINE.match(line)
    ]
    return max(candidates, key=lambda line: len(line.split()), default=None)


def _is_paragraph(line: str) -> bool:
    words = len(line.split())
    return not _is_prompt(line) and (words >= 15 or (words >= 8 and line[-1] in _TERMINAL))


def _is_headline(line: str) -> bool:
    words = line.split()
    return 3 <= len(words) <= 30 and line[-1] not in ".!…" and not line.startswith(("-", "–", "—", "•"))


def _is_furniture(line: str, script: str) -> bool:
    return bool(
        _NO_LETTERS.match(line)
        or _AD_MARKER.match(line)
        or _READ_TIME.search(line) and len(line.split()) <= 8
        or _CAPTION_DATE.search(line) and not _has_two_sentences(line)
        or _CREDIT.match(line)
        or _is_prompt(line)
        or _is_foreign_script(line, script)
    )


def _is_prompt(line: str) -> bool:
    hits = {m.group(0).lower() for m in _PROMPT.finditer(line)}
    words = len(line.split())
    return (len(hits) >= 1 and words <= 8) or (len(hits) >= 2 and words <= 30)


def _has_two_sentences(line: str) -> bool:
    return bool(re.search(r"[.!?]\s+[A-Z]", line))


def _dominant_script(text: str) -> str:
    cyrillic = sum(1 for ch in text if "\u0400" <= ch <= "\u04ff")
    letters = sum(1 for ch in text if ch.isalpha())
    return "cyrillic" if letters and cyrillic / letters > 0.5 else "latin"


def _is_foreign_script(line: str, script: str) -> bool:
    """A short line in another script than the page is a stray UI string."""
    return len(line.split()) <= 12 and _dominant_script(line) != script


def _drop_repeats(lines: list[str]) -> list[str]:
    """Drop repeated paragraphs, and a summary repeated by the next paragraph
    (a standfirst followed by the same sentence after a dateline)."""
    kept: list[str] = []
    seen: set[str] = set()
    for i, line in enumerate(lines):
        key = _squash(line)
        following = _squash(lines[i + 1]) if i + 1 < len(lines) else ""
        if key in seen or (len(key) > 40 and key in following and key != following):
            continue
        seen.add(key)
        kept.append(line)
    return kept


def _drop_trailing_furniture(lines: list[str]) -> list[str]:
    """After the last sentence, short unpunctuated lines are page chrome."""
    end = len(lines)
    while end and len(lines[end - 1].split()) <= 6 and lines[end - 1][-1] not in _TERMINAL:
        end -= 1
    return lines[:end]


def _squash(line: str) -> str:
    return re.sub(r"\W+", " ", line.casefold()).strip()


def _title_from_sentence(paragraph: str, max_words: int = 16) -> str:
    """No headline in the page: label the article with its opening words."""
    sentence = re.split(r"(?<=[.!?])\s+", paragraph, maxsplit=1)[0]
    words = sentence.split()
    return sentence if len(words) <= max_words else " ".join(words[:max_words]) + "…"


def parse_date(value: str | None) -> dt.date | dt.datetime | None:
    """An ISO 8601 date or datetime, or None when absent or unusable."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if len(value) <= 10:  # a date without a time of day
        return parsed.date()
    # A time without an offset is taken as UTC, so every datetime we show has one.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
