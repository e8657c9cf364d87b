"""The cleaner: a ``RawPage`` in, an ``Article`` (title, text, date with its
source, authors, outlet, language, id) out. Second stage of the pipeline,
after sources and before enrichment.

Two paths end in one set of leftover rules (``search.clean.leftovers``):

* HTML pages go through ``extract``: parsed once, the body by trafilatura
  with precision or recall chosen per page and a fallback
  (``search.clean.body``), title, authors, outlet and canonical URL from the
  page's metadata (``search.clean.metadata``), the date from every signal with its
  provenance (``search.clean.dates``), the language with ``<html lang>`` as a
  prior (``search.language.detector``);
* plain-text page dumps (a copy of what a browser showed) are split into
  lines; furniture is recognised by its shape and vocabulary — prompts to
  subscribe or log in, ad markers, "N min read", comment-widget strings,
  section blurbs, strings in another script — never by listing known pages.

Metadata stated outside the document (``RawPage.hints``, e.g. the seeds
manifest) wins over what the cleaner finds, and says so in
``published_source``; a feed's or sitemap's date competes with the page's.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from search.clean.body import extract_body
from search.clean.dates import DateFound, find_published
from search.clean.leftovers import (
    BYLINE,
    SENTENCE_END,
    dominant_script,
    drop_leftovers,
    drop_trailing_furniture,
    is_furniture,
    is_prompt,
)
from search.clean.linked_data import is_linked_data, read_linked_data
from search.clean.metadata import read_metadata
from search.clean.stated import RECORD_SOURCE, plain_text, stated_date, stated_language, stated_record
from search.decode import page_text
from search.errors import ExtractionError, ExtractorFailed, NewsdeskError
from search.language import detect_language
from search.records import RECORD_TYPE, Article, PageHints, RawPage
from search.settings import Settings
from search.urls import article_id, canonical_url, resolve_url

if TYPE_CHECKING:
    from lxml.html import HtmlElement, HTMLParser

log = logging.getLogger(__name__)

#: Bytes of a document hashed into its id when no canonical URL is known.


def clean(page: RawPage, settings: Settings | None = None, outlets: Mapping[str, str] | None = None) -> Article:
    """Turn one raw page into an article, or raise ``ExtractionError``.

    ``outlets`` maps a host (without "www.") to the outlet's name as the
    sources file gives it, which outranks what a page says of itself; the
    caller reads the sources file once (``search.pipeline``), not the cleaner per page.
    """
    if page.unreadable is not None:
        raise ExtractionError(page.unreadable)
    if page.content_type == RECORD_TYPE:
        return _finish(_checked(_record_article(page, settings, outlets)), page)
    # A date stated outside the page (a manifest's) replaces whatever the
    # page says (``_finish``): the page's own is not looked for.
    find_date = not _stated_date(page.hints)
    if page.content_type == "text/html":
        article = extract(page.text, page.url or page.hints.url, hints=page.hints, settings=settings, outlets=outlets,
                          find_date=find_date)
    else:
        article = extract_text(page.text, settings, find_date=find_date)
    return _finish(_checked(article), page)


def _checked(article: Article) -> Article:
    if article.rejected:
        raise ExtractionError(article.rejected)
    if not article.text.strip():
        raise ExtractionError("no article text found")
    return article


def _finish(article: Article, page: RawPage) -> Article:
    hints: PageHints = page.hints
    # The canonical URL the page declares wins. Only an absolute http(s) URL
    # names an article: a javascript: or data: URL from a manifest or a feed
    # would become a live link on its page and in the feeds.
    url = next(filter(None, (resolve_url(u, None) for u in (hints.url, article.url, page.url) if u)), None)
    article = replace(
        article,
        id=article_id(url, page.data),
        origin=page.origin,
        url=url,
        outlet=hints.outlet or article.outlet,
        author=hints.author or article.author,
    )
    if _stated_date(hints):
        article.published = hints.published
        article.published_source = hints.published_source or "manifest"
    return article


def _stated_date(hints: PageHints) -> bool:
    """A date from outside the page that is taken as it is (a manifest's), not
    weighed against the page's own signals (a feed's or a sitemap's)."""
    return hints.published is not None and hints.published_source not in _LISTING_SOURCES


# --- records of a collection ----------------------------------------------


def _record_article(page: RawPage, settings: Settings | None, outlets: Mapping[str, str] | None) -> Article:
    """The article a collection's record states, the cleaner finding only what it does not state.

    A stated plain text *is* the article's text (whitespace tidied): no
    furniture rule runs over it, so a record's text and title survive as
    given. A stated HTML page (used only when no text is stated) goes through
    ``extract`` like a saved page. Stated title, outlet, author, date (its
    source "record") and language win over whatever the cleaner finds.
    """
    settings = settings or Settings()
    record = stated_record(page)
    published, language = stated_date(record.published), stated_language(record.language)
    if record.text is not None:
        with _time_limit(settings.clean_time_limit), _page_failures():
            text = plain_text(record.text)
            title = record.title or _title_from_sentence(text.split("\n\n", 1)[0])
            found = None if published else find_published(None, None, text, floor_year=settings.date_floor_year)
            article = Article(
                id="", title=title, text=text, origin="", url=record.url,
                published=found.value if found else None, published_source=found.source if found else None,
                language=language or detect_language(f"{title}\n\n{text}", None, settings.langdetect_seed),
            )
    elif record.html is not None:
        article = extract(record.html, page.url, settings=settings, outlets=outlets, find_date=published is None)
    else:
        raise ExtractionError("the record states no text and no HTML")
    article = replace(
        article,
        title=record.title or article.title,
        outlet=record.outlet or article.outlet,
        author=record.author or article.author,
        language=language or article.language,
    )
    if published is not None:
        article.published, article.published_source = published, RECORD_SOURCE
    return article


# --- saved HTML pages ------------------------------------------------------


def extract(
    html: str | bytes,
    url: str | None = None,
    *,
    hints: PageHints | None = None,
    settings: Settings | None = None,
    outlets: Mapping[str, str] | None = None,
    find_date: bool = True,
) -> Article:
    """One HTML page in, its article out: body, title, date (with its
    source), authors, outlet, canonical URL and language (the date only
    when ``find_date``).

    The page is parsed once; trafilatura, the metadata reader and the date
    finder all read the same tree. Bounded in size (``clean_max_bytes``,
    ``clean_max_elements``) and, when called on the main thread, in time
    (``clean_time_limit``): a page that breaks a bound, or is not HTML at
    all, raises ``ExtractionError``. A page that parses but holds no article
    (all navigation, a bot interstitial, a video stub) comes back marked
    ``rejected`` with the reason, its text empty and what its metadata says
    (title, date) kept: the page's date is known even when its body is not.
    """
    settings = settings or Settings()
    hints = hints or PageHints()
    with _time_limit(settings.clean_time_limit), _page_failures():
        tree = _parse(html, settings.clean_max_bytes)
        _require_size(tree, settings.clean_max_elements)
        linked = read_linked_data(tree)  # once: the metadata and the date both read it
        meta = read_metadata(tree, url, linked=linked, outlets_by_host=outlets)
        text = extract_body(tree, url, meta.title or "", meta.authors)
        rejected = _rejection(text)
        text = "" if rejected else text
        found = find_published(tree, url, text, linked=linked, hint=_listed_date(hints),
                               floor_year=settings.date_floor_year) if find_date else None
    return Article(
        id="",
        rejected=rejected,
        title=meta.title or _title_from_sentence(text.split("\n\n", 1)[0]),
        text=text,
        origin="",
        url=canonical_url(meta.canonical, url),
        outlet=meta.outlet,
        author=", ".join(meta.authors) or None,
        published=found.value if found else None,
        published_source=found.source if found else None,
        language=detect_language(f"{meta.title or ''}\n\n{text}", meta.html_lang, settings.langdetect_seed),
    )


def _html_parser() -> HTMLParser:
    """This thread's parser (an lxml parser must not be shared between threads).

    Comments are dropped as trafilatura's own parser drops them: React and
    Next.js pages put ``<!-- -->`` between the text nodes of a paragraph, and
    trafilatura stops reading a paragraph at a comment.

    Every element is a plain ``HtmlElement``, its class found in C: lxml.html's
    own lookup calls Python for every element object made (to give forms and
    inputs classes of their own, which no stage uses), and trafilatura's
    passes make hundreds of thousands of them on a page. Measured: the same
    article on all 1,336 shared test pages, 3-6% less time at the median.
    """
    import lxml.html
    from lxml.etree import ElementDefaultClassLookup

    parser: HTMLParser | None = getattr(_parsers, "html", None)
    if parser is None:
        parser = _parsers.html = lxml.html.HTMLParser(
            remove_comments=True, remove_pis=True, collect_ids=False, default_doctype=False
        )
        parser.set_element_class_lookup(ElementDefaultClassLookup(
            element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment,
            pi=lxml.html.HtmlProcessingInstruction, entity=lxml.html.HtmlEntity,
        ))
    return parser


_parsers = threading.local()


def _parse(html: str | bytes, max_bytes: int) -> HtmlElement:
    import lxml.html
    from lxml.etree import ParserError, strip_elements

    size = len(html) if isinstance(html, bytes) else len(html.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ExtractionError(f"page of {size:,} bytes is over the {max_bytes:,}-byte limit")
    if isinstance(html, bytes):  # a page taken alone, as a saved file: decoded as ingest decodes one
        html = page_text(html, "text/html")
    if _NOT_XML.search(html):
        html = _NOT_XML.sub(_xml_compatible, html)
    if not html.strip():
        raise ExtractionError("empty page")
    try:
        # libxml2 caps nesting at 256 levels, so a deeply nested page parses
        # flat rather than exhausting the stack of every later tree walk.
        tree = lxml.html.document_fromstring(html, parser=_html_parser())
    except (ParserError, ValueError) as e:
        raise ExtractionError(f"not parseable as HTML: {e}") from e
    # No stage reads style sheets or inline drawings, and an SVG icon is
    # dozens of <path> elements that every XPath pass of trafilatura visits:
    # without them it runs about 8% faster, its text unchanged (measured on
    # 1,335 of 1,336 shared test pages; the other lost its gallery captions).
    strip_elements(tree, "style", "svg", with_tail=False)
    # Nor do they read program code; JSON-LD (type ld+json) is data, read for
    # the date, the authors and the baseline's body. Code is a large part of
    # a modern page, and every pass over the tree reads it: without it the
    # median page takes 10-15% less time against trafilatura in the same run
    # (bench/extraction.py), with the same text on every shared test page.
    # htmldate, the last resort for the date, no longer finds build stamps in
    # asset names (WCXB: six false dates fewer, one right date more; htmldate
    # set: two right ones fewer, one of them written out by a script).
    for script in tree.xpath("//script"):
        if not is_linked_data(script):
            script.drop_tree()
    return tree


#: Characters XML does not allow: the C0 controls other than tab, line feed
#: and carriage return, and two non-characters. lxml refuses them in the text
#: of an element it builds: libxml2 drops most of them while parsing but keeps
#: a form feed, and the first text that lxml then set (a script dropped, its
#: tail joined to the text before it) raised ValueError, and the page was
#: skipped (found by bench/fuzz_pages.py). A plain-text page carried them into
#: the article, and from there into Atom feeds, which cannot hold them
#: (found by tests/test_clean_fuzz.py).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_compatible(match: re.Match[str]) -> str:
    # A form feed or a vertical tab separates lines; the rest is noise.
    return "\n" if match.group() in "\x0b\x0c" else ""


def _require_size(tree: HtmlElement, max_elements: int) -> None:
    """Extraction time grows with the elements, not the bytes: this bounds it
    where the time limit cannot reach (crawler worker threads)."""
    count = int(tree.xpath("count(//*)"))  # counted in C: a fifth of the time of a Python loop
    if count > max_elements:
        raise ExtractionError(f"page of {count:,} HTML elements is over the {max_elements:,}-element limit")


def _rejection(text: str) -> str | None:
    """A page that is all navigation leaves no prose line behind."""
    if any(_is_paragraph(line) for line in text.split("\n\n")):
        return None
    return "no article text found (navigation or furniture only)"


def _listed_date(hints: PageHints) -> DateFound | None:
    """A feed's or sitemap's date competes with the page's own signals;
    a corpus's own metadata (a manifest) is taken as it is, in ``_finish``."""
    if hints.published is None or hints.published_source not in _LISTING_SOURCES:
        return None
    return DateFound(hints.published, hints.published_source)


_LISTING_SOURCES = frozenset({"feed", "sitemap"})


@contextlib.contextmanager
def _page_failures() -> Iterator[None]:
    """What a page makes the cleaner or its libraries raise becomes this page's error: one
    strange page must not stop an ingest run, nor be mistaken for a page with no article.

    A page nested deeper than Python's recursion limit is a rejection like a
    page too big; anything else is ``ExtractorFailed``: a failure to report,
    not a skip (the traceback stays with the exception for the error log).
    """
    try:
        yield
    except NewsdeskError:
        raise
    except RecursionError as e:
        raise ExtractionError("the page nests its elements too deeply to read") from e
    except Exception as e:
        raise ExtractorFailed(f"the cleaner failed on this page: {type(e).__name__}: {e}") from e


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Abort an extraction that runs too long (a pathological page).

    A timer signal only works on the main thread (ingest, reindex, the
    command line); crawler workers rely on the size and depth bounds.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(signum: int, frame: object) -> None:
        raise ExtractionError(f"extraction took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- plain-text page dumps -------------------------------------------------


def extract_text(text: str, settings: Settings | None = None, *, find_date: bool = True) -> Article:
    """Clean a plain-text page dump into title, author, body, date (only when
    ``find_date``) and language.

    Bounded in time like ``extract`` (``clean_time_limit``, on the main thread):
    a line the rules read too slowly raises ``ExtractionError``."""
    settings = settings or Settings()
    with _time_limit(settings.clean_time_limit), _page_failures():
        if _NOT_XML.search(text):  # no feed, page or index field may carry them (see _NOT_XML)
            text = _NOT_XML.sub(_xml_compatible, text)
        lines = [line.strip() for line in text.splitlines()]
        lines = [line for line in lines if line]
        script = dominant_script(" ".join(lines))
        header, body = _split_header(lines)
        title = _pick_title(header, script)
        author = next((m.group("name").strip() for line in header if (m := BYLINE.match(line))), None)
        body = drop_trailing_furniture(drop_leftovers(body))
        if title is None and body:
            title = _title_from_sentence(body[0])
        text = "\n\n".join(body)
        found = find_published(None, None, text, floor_year=settings.date_floor_year) if find_date else None
    return Article(
        id="", title=title or "", text=text, origin="", author=author,
        published=found.value if found else None,
        published_source=found.source if found else None,
        language=detect_language(f"{title or ''}\n\n{text}", None, settings.langdetect_seed),
    )


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
        if _is_headline(line) and not is_furniture(line, script) and not BYLINE.match(line)
    ]
    return max(candidates, key=lambda line: len(line.split()), default=None)


def _is_paragraph(line: str) -> bool:
    words = _words(line)
    return not is_prompt(line) and (words >= 15 or (words >= 8 and line[-1] in SENTENCE_END))


def _words(line: str) -> int:
    """Words, counting two characters of a script written without spaces
    (Chinese, Japanese) as one: their sentences are one "word" long."""
    return len(line.split()) + len(_UNSPACED.findall(line)) // 2


_UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def _is_headline(line: str) -> bool:
    """Headline-shaped: 3-30 words, not a list item, not a sentence's end
    ("." or "…": a teaser). An exclamation is a headline (tabloids end theirs
    so: "LAVROV DIREKTNO OPTUŽIO SAD!"). The publisher's capitals are kept as
    they are: no case rule knows that "SAD" is the USA and not "sad" (now)."""
    words = line.split()
    return 3 <= len(words) <= 30 and line[-1] not in ".…" and not line.startswith(("-", "–", "—", "•"))



def _title_from_sentence(paragraph: str, max_words: int = 16) -> str:
    """No headline in the page: label the article with its opening words."""
    sentence = re.split(r"(?<=[.!?])\s+", paragraph, maxsplit=1)[0]
    words = sentence.split()
    return sentence if len(words) <= max_words else " ".join(words[:max_words]) + "…"
