"""The publication date of a news page, and where it was found.

A helper of the cleaner (stage 2 of the pipeline: sources → **clean** → enrich → index): ``search/clean/cleaner.py``
parses a page once and asks :func:`find_published` for its date; the answer's ``source`` becomes the article's
``published_source``. The signals of the markup are read here, the dates the page shows its readers (the stamp
by the headline, the dateline) in ``search/clean/date_text.py``, date strings in ``search/clean/date_formats.py``.

Exports :class:`DateFound` and :func:`find_published`.

Signals, most reliable first (``_RANK``; measured on the htmldate and WCXB evaluation sets, see the tests):

* ``url``       a full date in the URL path (``/2019/10/16/``, ``2019-10-16``, ``20191016``, ``/2019/oct/16/``);
* ``feed``      the feed's ``pubDate`` for the item, passed in as ``hint``;
* ``page``      a date stamp shown by the headline (``Published 3 May 2021``, ``Berlin, 28.10.2021``) — what
                the outlet tells its readers, in its own calendar day;
* ``meta``      ``article:published_time`` and its kin, then microdata ``itemprop=datePublished``;
* ``json-ld``   ``datePublished`` of the page's main Article/WebPage entity, then ``dateCreated``
                (as ``search/clean/linked_data.py`` read them for the whole cleaner);
* ``time``      a ``<time>`` element (one marked as the publication time, then one in the article, then any — that last one below htmldate);
* ``dateline``  "MOSCOW, November 21 (RIA Novosti) –" at the start of the text; a dateline without a year
                counts only when the URL or another signal of the same month and day gives the year;
* ``sitemap``   the sitemap's ``lastmod``, passed in as ``hint`` (often a modification date, so weak);
* ``htmldate``  htmldate's own search (``original_date=True``) when nothing above was found.

Dates shown as "Updated …"/"Aktualisiert …" and ``dateModified`` are never taken for the publication date, nor
dates labelled as something else ("Joined …", "Termin: …", "ab 1.1.2024"), nor a year or month alone (htmldate
turns "© 2024" into 2024-01-01). Dates found in the page are rejected when
they lie more than a day in the future or before ``floor_year``; a hint is not held to the floor (a corpus's
own metadata is taken as it is) but is to the future. Unknown stays unknown: no signal, no date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import lxml.html
from lxml import etree

from search.clean.date_formats import MONTHS, Day, aware, day_of, make_date, parse_date
from search.clean.date_text import CLASS_UPDATED, ancestors, class_and_id, dateline_date, shown_date, written_out
from search.clean.linked_data import LinkedData


@dataclass(frozen=True)
class DateFound:
    """A publication date and the signal it came from (see the module docstring for the names)."""

    value: Day  # a datetime only when a time of day is known; then aware (UTC if no offset was given)
    source: str


def find_published(tree: lxml.html.HtmlElement | None, url: str | None, text: str = "", *,
                   linked: LinkedData | None = None, hint: DateFound | None = None, floor_year: int = 1990,
                   now: dt.datetime | None = None) -> DateFound | None:
    """The most reliable publication date of a page, or None; ``tree`` is read, never modified.

    ``linked`` is the page's JSON-LD as ``read_linked_data`` read it (once per page: the metadata
    reader takes the same reading); None for a page without any, such as a plain-text one."""
    latest = aware(now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=1)  # a day of clock skew, no more
    found = [c for c in _page_signals(tree, url, linked, hint) if _plausible(c, floor_year, latest)]
    found += [c for c in _from_dateline(text, url, found) if _plausible(c, floor_year, latest)]
    best = min(found, key=lambda c: c.rank, default=None)
    if tree is not None and (best is None or best.rank > _RANK["htmldate"]):
        best = _from_htmldate(tree, floor_year, latest) or best
    if best is None:
        return None
    return DateFound(_with_time(best, found), best.source)


# ------------------------------------------------------------------ choice --

#: Reliability of each signal, lower is better: the order in which ties between disagreeing signals are
#: settled. The URL date is checked first (it almost never lies); a date stamp by the headline beats
#: the metadata, which is often the CMS's creation date or a timestamp in UTC rather than the outlet's day.
_RANK = {
    "url": 0.0,
    "feed": 1.0,
    "shown-published": 2.0,
    "shown": 3.0,
    "meta": 4.0,
    "json-ld": 4.2,
    "itemprop": 5.0,
    "json-ld-created": 5.2,
    "meta-date": 5.4,
    "time-published": 6.0,
    "dateline": 7.0,
    "time-article": 8.0,
    "sitemap": 9.0,
    "htmldate": 10.0,
    "time": 11.0,
}


@dataclass(frozen=True)
class _Candidate:
    value: Day
    source: str
    rank: float
    hint: bool = False  # given by the caller, from outside the page


def _page_signals(tree: lxml.html.HtmlElement | None, url: str | None, linked: LinkedData | None,
                  hint: DateFound | None) -> list[_Candidate]:
    found = []
    if hint is not None:  # a source we do not know is ranked like the weakest hint
        rank = _RANK.get(hint.source, _RANK["sitemap"])
        found.append(_Candidate(aware(hint.value), hint.source, rank, hint=True))
    if tree is not None:  # a plain-text page has only its dateline (whose year the URL may give)
        found += _from_url(url)
        found += _from_json_ld(linked)
        found += _from_meta(tree)
        found += _from_microdata(tree)
        found += _from_time_elements(tree)
        found += _from_shown(tree, {day_of(c.value) for c in found})
    return found


def _plausible(c: _Candidate, floor_year: int, latest: dt.datetime) -> bool:
    """Not in the future; not before the floor, unless given by a hint (the corpus's own word)."""
    value = c.value
    if value > latest if isinstance(value, dt.datetime) else value > latest.date():
        return False
    return c.hint or value.year >= floor_year


def _with_time(best: _Candidate, found: list[_Candidate]) -> Day:
    """The chosen day with the time of day of the most reliable signal agreeing with it, and in the
    outlet's own offset when one gives it: "2023-11-09T03:28Z" is the evening of the 8th in New York."""
    value = best.value
    if not isinstance(value, dt.datetime):
        same_day = [c for c in found if isinstance(c.value, dt.datetime) and c.value.date() == value]
        return min(same_day, key=lambda c: c.rank).value if same_day else value
    if value.utcoffset():
        return value
    for c in found:
        other = c.value
        if isinstance(other, dt.datetime) and other.utcoffset() and abs((other - value).total_seconds()) <= 120:
            return other
    return value


# --------------------------------------------------------------------- URL --

_URL_DATES = (
    re.compile(r"/((?:19|20)\d\d)/(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])(?:/|$)"),
    re.compile(r"(?<!\d)((?:19|20)\d\d)[-_](0[1-9]|1[0-2])[-_](0[1-9]|[12]\d|3[01])(?!\d)"),
    re.compile(r"(?<![\d.])((?:19|20)\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?![\d.])"),
)
_URL_MONTH_NAME = re.compile(r"(?i)/((?:19|20)\d\d)/([a-zäéû]{3,9})/(0?[1-9]|[12]\d|3[01])(?:/|$)")
_URL_YEAR = re.compile(r"/((?:19|20)\d\d)/")


def _from_url(url: str | None) -> Iterator[_Candidate]:
    path = _path(url)
    for pattern in _URL_DATES:
        m = pattern.search(path)
        if m:
            value = make_date(*m.groups())
            if value is not None:
                yield _Candidate(value, "url", _RANK["url"])
                return
    m = _URL_MONTH_NAME.search(path)
    month = MONTHS.get(m.group(2).lower()) if m else None
    if m and month:
        value = make_date(m.group(1), month, m.group(3))
        if value is not None:
            yield _Candidate(value, "url", _RANK["url"])


def _path(url: str | None) -> str:
    """The URL without scheme and host: a host name full of digits is not a date."""
    return re.sub(r"^[a-zA-Z][\w+.-]*://[^/]*", "", url or "")


# ----------------------------------------------------------------- JSON-LD --

_JSON_LD_RANK = {"datePublished": _RANK["json-ld"], "dateCreated": _RANK["json-ld-created"]}


def _from_json_ld(linked: LinkedData | None) -> Iterator[_Candidate]:
    for stated in linked.dates if linked is not None else ():
        value = parse_date(stated.text)
        if value is not None:
            yield _Candidate(value, "json-ld", _JSON_LD_RANK[stated.prop])


# -------------------------------------------------------- meta and markup --

# Names of <meta> dates: what publishes is trusted, a bare "date" less, what modifies or expires never.
_META_NEVER = re.compile(r"modif|updat|expir|last|revis|render|gentime|timestamp|unix|end|start|valid|print")
_META_PUBLISHED = re.compile(r"publi|pub_?date|creat|issued|release|post_date|first|original|sailthru\.date")
_META_DATE = re.compile(r"(?:dc[.:]date|dcterms[.:]date|date|citation_date|displaydate)")


def _from_meta(tree: lxml.html.HtmlElement) -> Iterator[_Candidate]:
    for el in tree.iter("meta"):
        name = (el.get("property") or el.get("name") or el.get("itemprop") or "").lower()
        content = el.get("content")
        if not name or not content or _META_NEVER.search(name):
            continue
        if _META_PUBLISHED.search(name):
            rank = _RANK["meta"]
        elif _META_DATE.fullmatch(name):
            rank = _RANK["meta-date"]
        else:
            continue
        value = parse_date(content)
        if value is not None:
            yield _Candidate(value, "meta", rank)


_ITEMPROPS = etree.XPath("//@itemprop")


def _from_microdata(tree: lxml.html.HtmlElement) -> Iterator[_Candidate]:
    for prop in _ITEMPROPS(tree):  # the attribute values: a quicker walk than testing every element
        el = prop.getparent()
        if prop.lower() != "datepublished" or el.tag == "meta":  # <meta itemprop> is read with the metas
            continue
        value = parse_date(el.get("datetime") or el.get("content") or el.text_content() or "")
        if value is not None:
            yield _Candidate(value, "meta", _RANK["itemprop"])


_CLASS_PUBLISHED = re.compile(r"publish|pubdate|posted|entry-date|post-date|created")
_CLASS_ELSEWHERE = re.compile(r"related|teaser|sidebar|comment|footer|widget|recommend")


def _from_time_elements(tree: lxml.html.HtmlElement) -> Iterator[_Candidate]:
    """``<time datetime>``: trusted by the names of its classes, else by lying in an article or header."""
    for el in tree.iter("time"):
        value = parse_date(el.get("datetime") or el.text_content() or "")
        if value is None:
            continue
        classes = " ".join(class_and_id(e) for e in ancestors(el, 4)).lower()
        if CLASS_UPDATED.search(classes) or _CLASS_ELSEWHERE.search(classes):
            continue
        if el.get("pubdate") is not None or _CLASS_PUBLISHED.search(classes):
            rank = _RANK["time-published"]
        elif any(e.tag in ("article", "main", "header") for e in ancestors(el, 4)):
            rank = _RANK["time-article"]
        else:
            rank = _RANK["time"]
        yield _Candidate(value, "time", rank)


# ----------------------------------------------------- shown to the reader --


def _from_shown(tree: lxml.html.HtmlElement, known: set[dt.date]) -> Iterator[_Candidate]:
    shown = shown_date(tree, known)
    if shown is not None:
        yield _Candidate(shown.value, "page", _RANK["shown-published" if shown.published else "shown"])


def _from_dateline(text: str, url: str | None, found: Iterable[_Candidate]) -> Iterator[_Candidate]:
    value = dateline_date(text, [c.value for c in found], _url_year(url))
    if value is not None:
        yield _Candidate(value, "dateline", _RANK["dateline"])


def _url_year(url: str | None) -> int | None:
    """A year the URL's path names ("/2018/"), for a dateline that gives none."""
    m = _URL_YEAR.search(_path(url))
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- htmldate --

def _from_htmldate(tree: lxml.html.HtmlElement, floor_year: int, latest: dt.datetime) -> _Candidate | None:
    """htmldate's own search, the last resort. It deep-copies the tree before pruning it, so the
    caller's tree is left alone."""
    from htmldate import find_date  # imported when first needed: a tenth of a second

    # Without the URL: its date, if it had one we believe, was taken already.
    found = find_date(tree, original_date=True, min_date=dt.datetime(floor_year, 1, 1),
                      max_date=latest.astimezone(dt.UTC).replace(tzinfo=None))
    value = parse_date(found) if found else None
    # htmldate fills a missing day with the 1st ("© 2024" becomes 2024-01-01): a date it did not find.
    if value is None or (value.day == 1 and not written_out(tree, day_of(value))):
        return None
    return _Candidate(value, "htmldate", _RANK["htmldate"])


