"""The publication date of a news page, and where it was found.

A helper of the cleaner (stage 2 of the pipeline: sources → **clean** → enrich → index): ``search/clean.py``
parses a page once and asks :func:`find_published` for its date; the answer's ``source`` becomes the article's
``published_source``.

Signals, most reliable first (``_RANK``; measured on the htmldate and WCXB evaluation sets, see the tests):

* ``url``       a full date in the URL path (``/2019/10/16/``, ``2019-10-16``, ``20191016``, ``/2019/oct/16/``);
* ``feed``      the feed's ``pubDate`` for the item, passed in as ``hint``;
* ``page``      a date stamp shown by the headline (``Published 3 May 2021``, ``Berlin, 28.10.2021``) — what
                the outlet tells its readers, in its own calendar day;
* ``meta``      ``article:published_time`` and its kin, then microdata ``itemprop=datePublished``;
* ``json-ld``   ``datePublished`` of the page's main Article/WebPage entity, then ``dateCreated``
                (as ``search/linked_data.py`` read them for the whole cleaner);
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
import email.utils
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import lxml.html
from lxml import etree

from search.linked_data import LinkedData

Day = dt.date | dt.datetime
_D = TypeVar("_D", dt.date, dt.datetime)


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
    latest = _aware(now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=1)  # a day of clock skew, no more
    found = [c for c in _page_signals(tree, url, linked, hint) if _plausible(c, floor_year, latest)]
    found += [c for c in _from_dateline(text, url, found) if _plausible(c, floor_year, latest)]
    best = min(found, key=lambda c: c.rank, default=None)
    if tree is not None and (best is None or best.rank > _RANK["htmldate"]):
        best = _from_htmldate(tree, floor_year, latest) or best
    if best is None:
        return None
    return DateFound(_with_time(best, found), best.source)


def parse_date(value: str) -> Day | None:
    """A date or datetime written by a machine (ISO 8601, RFC 2822, ``16.10.2019``, epoch seconds …)."""
    s = value.strip()
    for pattern, order in _MACHINE_FORMATS:
        m = pattern.match(s)
        if m:
            parts = m.groups()
            return _make(*(parts[i] if i < len(parts) else None for i in order))
    if _EPOCH.match(s):
        return dt.datetime.fromtimestamp(int(s[:10]), dt.UTC)
    if _US_SLASHED.match(s):
        return _slashed(s)
    return _rfc2822(s) or _written(s)


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
        found.append(_Candidate(_aware(hint.value), hint.source, rank, hint=True))
    if tree is not None:  # a plain-text page has only its dateline (whose year the URL may give)
        found += _from_url(url)
        found += _from_json_ld(linked)
        found += _from_meta(tree)
        found += _from_microdata(tree)
        found += _from_time_elements(tree)
        found += _from_shown(tree, {_day(c.value) for c in found})
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


def _day(value: Day) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _aware(value: _D) -> _D:
    """A datetime without an offset is taken as UTC; a date stays a date."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
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
            value = _make(*m.groups())
            if value is not None:
                yield _Candidate(value, "url", _RANK["url"])
                return
    m = _URL_MONTH_NAME.search(path)
    month = _MONTHS.get(m.group(2).lower()) if m else None
    if m and month:
        value = _make(m.group(1), month, m.group(3))
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
_CLASS_UPDATED = re.compile(r"modif|updat")
_CLASS_ELSEWHERE = re.compile(r"related|teaser|sidebar|comment|footer|widget|recommend")


def _from_time_elements(tree: lxml.html.HtmlElement) -> Iterator[_Candidate]:
    """``<time datetime>``: trusted by the names of its classes, else by lying in an article or header."""
    for el in tree.iter("time"):
        value = parse_date(el.get("datetime") or el.text_content() or "")
        if value is None:
            continue
        classes = " ".join(_class_and_id(e) for e in _ancestors(el, 4)).lower()
        if _CLASS_UPDATED.search(classes) or _CLASS_ELSEWHERE.search(classes):
            continue
        if el.get("pubdate") is not None or _CLASS_PUBLISHED.search(classes):
            rank = _RANK["time-published"]
        elif any(e.tag in ("article", "main", "header") for e in _ancestors(el, 4)):
            rank = _RANK["time-article"]
        else:
            rank = _RANK["time"]
        yield _Candidate(value, "time", rank)


def _ancestors(el: lxml.html.HtmlElement, depth: int) -> Iterator[lxml.html.HtmlElement]:
    node: lxml.html.HtmlElement | None = el
    for _ in range(depth):
        if node is None:
            return
        yield node
        node = node.getparent()


def _class_and_id(el: lxml.html.HtmlElement) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


# ------------------------------------------------------------- shown dates --

_BEFORE, _AFTER = 300, 1500  # characters of text around the headline where its date stamp is looked for
# A date stamp is a short text: the date and a label, a time or a name ("Bettina Kugler 19.10.2019, 05:00
# Uhr"), unless its element is named as one; a date inside a sentence is about something else.
_STAMP_MAX = 90
_STAMP_REST = 20
_CLASS_DATE = re.compile(r"date|time|meta|byline|info|publish|posted|stamp|datum")
# The nearest text nodes on either side, whitespace included: enough to cover the window.
_TEXT_BEFORE = etree.XPath("preceding::text()[position() <= 150]")
_TEXT_AFTER = etree.XPath("following::text()[position() <= 400]")
_NOT_TEXT = frozenset({"script", "style", "noscript", "template", "title"})
_YEARISH = re.compile(r"(?:19|20)\d\d")
# The label before a date says what it is: a publication, an update (not a publication date), or
# something else altogether — a member's joining, an event, the start or end of a period.
_CUE = re.compile(
    r"(?i)(?P<updated>updated?|aktualisiert|geändert|änderung|modified|last edited|revised|reviewed"
    r"|überarbeitet|mis à jour|actualizado|aggiornato|edited|stand\b)"
    r"|(?P<published>published|posted|veröffentlicht|erschienen|publié|publicado|pubblicato|written|erstellt)"
    r"|(?P<other>\b(?:joined|member since|registered|mitglied seit|dabei seit|born|geboren|died|gestorben|termin"
    r"|recorded|aired|deadline|expires|until|bis|since|seit|ab|from)\b)"
)
# Where a date is about something else: quotes, captions, footers, carousels, teasers, comments, menus and
# bars (within six levels), lists of other articles and widgets (within three).
_ELSEWHERE = ((6, {"blockquote", "figcaption", "footer", "nav"},
               re.compile(r"caption|footer|slide|carousel|teaser|comment|menu|navbar|top-?bar")),
              (3, {"li", "ul"}, re.compile(r"list|widget")))


@dataclass(frozen=True)
class _Stamp:
    value: dt.date
    alt: dt.date | None  # the other reading of an ambiguous 03/04/2020
    distance: int  # characters from the headline: negative before it
    published: bool  # introduced by "Published", "Veröffentlicht" …


def _from_shown(tree: lxml.html.HtmlElement, known: set[dt.date]) -> Iterator[_Candidate]:
    """The date stamp nearest the headline, preferring one introduced as the publication date; an
    ambiguous day/month order is read the way another signal reads it, else the way the language does."""
    headline = _headline(tree)
    if headline is None:
        return
    stamps = _stamps(headline, _month_first(tree))
    # Bylines mostly follow the headline: a stamp after it may be twice as far as one before it.
    best = min(stamps, key=lambda s: (not s.published, -s.distance if s.distance < 0 else s.distance / 2),
               default=None)
    if best is None:
        return
    value = best.alt if best.alt in known and best.value not in known else best.value
    yield _Candidate(value, "page", _RANK["shown-published" if best.published else "shown"])


def _headline(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    """The <h1> or <h2> that best matches the page's <title> (most of its words there, the title's start
    best), else the first <h1> of more than one word."""
    title = _words(tree.findtext(".//title") or "")
    best, best_score, first = None, 0.5, None
    for el in tree.iter("h1", "h2"):
        words = _words(el.text_content())[:12]
        if len(words) < 2:
            continue
        score = sum(w in title for w in words) / len(words) + (title[:len(words)] == words)
        if score > best_score:
            best, best_score = el, score
        if first is None and el.tag == "h1":
            first = el
    return best if best is not None else first


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _stamps(headline: lxml.html.HtmlElement, month_first: bool) -> list[_Stamp]:
    """The stamps in the window around the headline; distances count visible characters, not markup."""
    before = [n for n in _TEXT_BEFORE(headline) if n.is_tail or n.getparent().tag not in _NOT_TEXT]
    after = [n for n in _TEXT_AFTER(headline) if n.is_tail or n.getparent().tag not in _NOT_TEXT]
    nodes: list[tuple[int, str]] = []
    reach = 0
    for node in reversed(before):
        reach += len(node.strip())
        if reach > _BEFORE:
            break
        nodes.insert(0, (-reach, node))
    reach = 0
    for node in after:
        if reach > _AFTER:
            break
        nodes.append((reach, node))
        reach += len(node.strip())
    return list(_scan(nodes, month_first))


def _scan(nodes: list[tuple[int, str]], month_first: bool) -> Iterator[_Stamp]:
    """The date stamps among these text nodes (each with its distance from the headline)."""
    recent = ""  # the text just before, for "Published"/"Updated"
    for distance, node in nodes:
        text = node.strip()
        if text and len(text) <= _STAMP_MAX and _YEARISH.search(text) and not _elsewhere(node):
            for m in _SHOWN_DATE.finditer(text):
                if len(text) - len(m.group(0)) > _STAMP_REST and not _date_class(node):
                    continue
                value, alt = _shown_value(m, month_first)
                cue = _cue(recent + " " + text[:m.start()], node)
                if value is not None and cue in ("", "published"):
                    yield _Stamp(value, alt, distance, cue == "published")
        if text:
            recent = (recent + " " + text)[-60:]


def _cue(before: str, node: str) -> str:
    """"published", "updated", "other" or "": the last label before the date with nothing numeric
    between them, else an "updated" class on the element."""
    before = before[-45:]
    last = None
    for last in _CUE.finditer(before):
        pass
    if last is not None and not re.search(r"\d", before[last.end():]):
        return last.lastgroup or ""
    for el in _ancestors(_holder(node), 3):
        if _CLASS_UPDATED.search(_class_and_id(el).lower()):
            return "updated"
    return ""


def _date_class(node: str) -> bool:
    return any(_CLASS_DATE.search(_class_and_id(el).lower()) for el in _ancestors(_holder(node), 3))


def _elsewhere(node: str) -> bool:
    for depth, tags, classes in _ELSEWHERE:
        for el in _ancestors(_holder(node), depth):
            if el.tag in tags or classes.search(_class_and_id(el).lower()):
                return True
    return False


def _holder(node: str) -> lxml.html.HtmlElement:
    """The element whose text the node is (lxml gives a tail's preceding sibling as its parent)."""
    el = node.getparent()  # type: ignore[attr-defined]
    if node.is_tail:  # type: ignore[attr-defined]
        el = el.getparent() if el.getparent() is not None else el
    return el


def _month_first(tree: lxml.html.HtmlElement) -> bool:
    """03/04/2020 is March 4 on an American page, 3 April elsewhere."""
    lang = (tree.get("lang") or "").lower()
    return lang.startswith("en") and not re.match(r"en-(gb|au|nz|ie|in|za)", lang)


def _shown_value(m: re.Match[str], month_first: bool) -> tuple[dt.date | None, dt.date | None]:
    g = m.groupdict()
    if g["y1"]:
        return _make(g["y1"], g["m1"], g["d1"]), None
    if g["y2"]:
        return _make(g["y2"], g["m2"], g["d2"]), None
    if g["y3"]:
        a, b = int(g["a3"]), int(g["b3"])
        month, day = (a, b) if (month_first and a <= 12) or b > 12 else (b, a)
        alt = _make(g["y3"], day, month) if a != b and max(a, b) <= 12 else None
        return _make(g["y3"], month, day), alt
    if g["y4"]:
        return _make(g["y4"], _MONTHS[g["n4"].lower()], g["d4"]), None
    return _make(g["y5"], _MONTHS[g["n5"].lower()], g["d5"]), None


# ---------------------------------------------------------------- dateline --

# "CITY[, ST.] [(Agency)], <date> [(Agency)] –": the place in capitals or capitalised, an abbreviated state
# ("WASHINGTON, D.C.,", "BUFFALO, N.Y.,") that is not an abbreviated month.
_DATELINE = re.compile(
    r"[A-ZÀ-ÞА-ЯЁ][\w'’.\- ]{1,40}?(?:,\s*(?!(?i:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.)[A-Z][\w.]{0,6}\.)?"
    r"(?:\s*\([^)]{1,40}\))?,\s+(?P<date>[^\n()–—]{3,30}?)\s*(?:\([^)]{1,40}\))?\.?\s*[-–—:]")


_NUMERIC_DAY = re.compile(r"\d\d?\.\s?\d\d?\.\s?\d{4}")


def _from_dateline(text: str, url: str | None, found: Iterable[_Candidate]) -> Iterator[_Candidate]:
    """The dateline of the first paragraphs: "BELGRADE, 21 September 2018 -", "PRISTINA, Oct. 3 (Reuters)"."""
    for paragraph in text.lstrip().split("\n", 3)[:3]:
        m = _DATELINE.match(paragraph.strip())
        if m:
            value = _dateline_value(m.group("date").strip(), url, found)
            if value is not None:
                yield _Candidate(value, "dateline", _RANK["dateline"])
            return


def _dateline_value(s: str, url: str | None, found: Iterable[_Candidate]) -> dt.date | None:
    m = _MONTH_DAY.fullmatch(s)
    if m:
        month, day, year = _MONTHS[m.group(1).lower()], int(m.group(2)), m.group(3)
    elif _NUMERIC_DAY.fullmatch(s):
        return _date_only(parse_date(s))
    else:
        m = _DAY_MONTH.fullmatch(s)
        if not m:
            return None
        day, month, year = int(m.group(1)), _MONTHS[m.group(2).lower()], m.group(3)
    if year:
        return _make(year, month, day)
    # No year written: only when the other signals agree on one.
    years = {c.value.year for c in found if (c.value.month, c.value.day) == (month, day)}
    in_url = _URL_YEAR.search(_path(url))
    if in_url:
        years.add(int(in_url.group(1)))
    return _make(years.pop(), month, day) if len(years) == 1 else None


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
    if value is None or (value.day == 1 and not _written_out(tree, _day(value))):
        return None
    return _Candidate(value, "htmldate", _RANK["htmldate"])


def _written_out(tree: lxml.html.HtmlElement, day: dt.date) -> bool:
    """Whether the page states this day in full somewhere, in its text or its markup."""
    html = lxml.html.tostring(tree, encoding="unicode")
    # Every form of _SHOWN_DATE holds the year, so only the stretches around
    # it are read: the month-name alternation tried at every position of a
    # large page took tens of milliseconds.
    return any(
        day in _shown_value(m, month_first=False)
        for year in re.finditer(str(day.year), html)
        for m in _SHOWN_DATE.finditer(html, max(0, year.start() - _BEFORE_YEAR), year.end() + _AFTER_YEAR)
    )


#: How far a written-out date reaches before its year ("28th of September, ")
#: and after it ("-09-28" and the character that must not be a digit).
_BEFORE_YEAR, _AFTER_YEAR = 40, 7


# ----------------------------------------------------------------- parsing --

_ISO = re.compile(r"(\d{4})-(\d\d?)-(\d\d?)(?:[T ](\d\d?):(\d\d)(?::(\d\d)(?:[.,]\d+)?)?\s*"
                  r"(Z|[+-]\d\d(?::?\d\d)?|UTC|GMT)?)?")
_MACHINE_FORMATS = (
    (_ISO, (0, 1, 2, 3, 4, 5, 6)),
    (re.compile(r"(\d{4})[/.](\d\d?)[/.](\d\d?)(?!\d)"), (0, 1, 2)),
    (re.compile(r"(\d{4})(\d\d)(\d\d)(?:T?(\d\d)(\d\d)(\d\d)?)?$"), (0, 1, 2, 3, 4, 5)),
    (re.compile(r"(\d\d?)\.\s?(\d\d?)\.\s?(\d{4})(?:,?\s+(\d\d?)[:.](\d\d))?"), (2, 1, 0, 3, 4)),
)
_EPOCH = re.compile(r"\d{10}(?:\d{3})?$")
_US_SLASHED = re.compile(r"(\d\d?)/(\d\d?)/(\d{4})")

_MONTHS = {
    # English
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12, "jan": 1, "feb": 2, "mar": 3, "apr": 4,
    "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
    # German
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "mai": 5, "juni": 6, "juli": 7, "oktober": 10,
    "dezember": 12, "okt": 10, "dez": 12,
    # French
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "juin": 6, "juillet": 7, "août": 8,
    "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12, "decembre": 12,
    # Spanish
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8,
    "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
    "ene": 1, "abr": 4, "ago": 8, "dic": 12,
    # Italian
    "gennaio": 1, "febbraio": 2, "aprile": 4, "maggio": 5, "giugno": 6, "luglio": 7, "settembre": 9,
    "ottobre": 10, "dicembre": 12,
    # Portuguese
    "janeiro": 1, "fevereiro": 2, "março": 3, "maio": 5, "junho": 6, "julho": 7, "setembro": 9,
    "outubro": 10, "novembro": 11, "dezembro": 12,
    # Serbian, Croatian, Bosnian in Latin script, in the genitive of dates
    "januara": 1, "februara": 2, "marta": 3, "aprila": 4, "maja": 5, "juna": 6, "jula": 7, "avgusta": 8,
    "augusta": 8, "septembra": 9, "oktobra": 10, "novembra": 11, "decembra": 12,
    # Russian and Serbian Cyrillic, genitive
    "января": 1, "февраля": 2, "марта": 3, "апреля": 4, "мая": 5, "июня": 6, "июля": 7, "августа": 8,
    "сентября": 9, "октября": 10, "ноября": 11, "декабря": 12, "јануара": 1, "фебруара": 2, "априла": 4,
    "маја": 5, "јуна": 6, "јула": 7, "септембра": 9, "октобра": 10, "новембра": 11,
    "децембра": 12,
}
_MONTH_NAME = "|".join(sorted((re.escape(k) for k in _MONTHS), key=len, reverse=True))
_MONTH_DAY = re.compile(rf"(?i)(?<!\w)({_MONTH_NAME})\.?\s+(\d\d?)(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?")
_DAY_MONTH = re.compile(rf"(?i)(?<!\d)(\d\d?)(?:\.|st|nd|rd|th|er)?\s+(?:de\s+)?({_MONTH_NAME})\.?(?:,?\s+(?:de\s+)?(\d{{4}}))?")
_SHOWN_DATE = re.compile(
    r"(?<![\d.])(?P<d1>\d\d?)\.\s?(?P<m1>\d\d?)\.\s?(?P<y1>\d{4})(?!\d)"
    r"|(?<!\d)(?P<y2>\d{4})[-/](?P<m2>\d\d)[-/](?P<d2>\d\d)(?!\d)"
    r"|(?<![\d/])(?P<a3>\d\d?)/(?P<b3>\d\d?)/(?P<y3>\d{4})(?!\d)"
    rf"|(?<!\w)(?P<n4>{_MONTH_NAME})\.?\s+(?P<d4>\d\d?)(?:st|nd|rd|th)?,?\s+(?P<y4>\d{{4}})(?!\d)"
    rf"|(?<!\d)(?P<d5>\d\d?)(?:\.|st|nd|rd|th|er)?\s+(?:de\s+)?(?P<n5>{_MONTH_NAME})\.?,?\s+(?:de\s+)?"
    r"(?P<y5>\d{4})(?!\d)",
    re.IGNORECASE,
)


def _make(year: object, month: object, day: object, hour: object = None, minute: object = None,
          second: object = None, zone: object = None) -> Day | None:
    """A date, or an aware datetime when a time of day is given; None when the parts are no date."""
    try:
        date = dt.date(int(str(year)), int(str(month)), int(str(day)))
    except ValueError:
        return None
    if hour is None:
        return date
    try:
        time = dt.time(int(str(hour)), int(str(minute or 0)), int(str(second or 0)))
    except ValueError:
        return date
    return dt.datetime.combine(date, time, _zone(zone if isinstance(zone, str) else None))


def _zone(zone: str | None) -> dt.tzinfo:
    if not zone or zone in ("Z", "UTC", "GMT"):
        return dt.UTC
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 14 or minutes > 59:
        return dt.UTC
    offset = dt.timedelta(hours=hours, minutes=minutes)
    return dt.timezone(-offset if zone[0] == "-" else offset)


def _slashed(s: str) -> Day | None:
    """a/b/yyyy from a machine: read only when one of a and b cannot be a month."""
    a, b, year = (int(x) for x in _US_SLASHED.match(s).groups())  # type: ignore[union-attr]
    if a > 12 >= b:
        return _make(year, b, a)
    if b > 12 >= a or a == b:
        return _make(year, a, b)
    return None


def _rfc2822(s: str) -> Day | None:
    try:
        parsed = email.utils.parsedate_to_datetime(s)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return _aware(parsed) if parsed else None


def _written(s: str) -> dt.date | None:
    """"October 16, 2019", "16. Oktober 2019": a date written out, with its year."""
    m = _MONTH_DAY.search(s)
    if m and m.group(3):
        return _date_only(_make(m.group(3), _MONTHS[m.group(1).lower()], m.group(2)))
    m = _DAY_MONTH.search(s)
    if m and m.group(3):
        return _date_only(_make(m.group(3), _MONTHS[m.group(2).lower()], m.group(1)))
    return None


def _date_only(value: Day | None) -> dt.date | None:
    return _day(value) if value is not None else None
