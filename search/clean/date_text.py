"""Dates a page shows its readers: the date stamp by the headline, and the dateline.

A helper of the cleaner (stage 2 of the pipeline: sources → **clean** → enrich → index) for the date
finder (``search/clean/dates.py``), which ranks what is found here among the other signals:

* :func:`shown_date` — the date stamp nearest the headline ("Published 3 May 2021", "Berlin, 28.10.2021"),
  what the outlet tells its readers in its own calendar day; one labelled as an update, or as something
  else ("Joined …", "Termin: …"), or lying in a caption, footer, teaser or comment is no publication date;
* :func:`dateline_date` — "MOSCOW, November 21 (RIA Novosti) –" at the start of the text; a dateline
  without a year counts only when the URL or another signal of the same month and day gives the year;
* :func:`written_out` — whether a page states a day in full anywhere (htmldate fills a missing day
  with the 1st, and the finder believes such a day only when the page writes it).

Also exports the element helpers the finder's ``<time>`` reader shares: :func:`ancestors`,
:func:`class_and_id` and ``CLASS_UPDATED``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import lxml.html
from lxml import etree

from search.clean.date_formats import DAY_MONTH, MONTH_DAY, MONTH_NAME, MONTHS, Day, date_only, make_date, parse_date

#: Class or id names of an element about an update, not the publication.
CLASS_UPDATED = re.compile(r"modif|updat")


@dataclass(frozen=True)
class ShownDate:
    """The date stamp shown by the headline."""

    value: dt.date
    published: bool  # introduced by "Published", "Veröffentlicht" …


def ancestors(el: lxml.html.HtmlElement, depth: int) -> Iterator[lxml.html.HtmlElement]:
    node: lxml.html.HtmlElement | None = el
    for _ in range(depth):
        if node is None:
            return
        yield node
        node = node.getparent()


def class_and_id(el: lxml.html.HtmlElement) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


# ----------------------------------------------- the stamp by the headline --

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


def shown_date(tree: lxml.html.HtmlElement, known: set[dt.date]) -> ShownDate | None:
    """The date stamp nearest the headline, preferring one introduced as the publication date; an
    ambiguous day/month order is read the way another signal (``known``) reads it, else the way the
    language does."""
    headline = _headline(tree)
    if headline is None:
        return None
    stamps = _stamps(headline, _month_first(tree))
    # Bylines mostly follow the headline: a stamp after it may be twice as far as one before it.
    best = min(stamps, key=lambda s: (not s.published, -s.distance if s.distance < 0 else s.distance / 2),
               default=None)
    if best is None:
        return None
    value = best.alt if best.alt in known and best.value not in known else best.value
    return ShownDate(value, best.published)


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
    for el in ancestors(_holder(node), 3):
        if CLASS_UPDATED.search(class_and_id(el).lower()):
            return "updated"
    return ""


def _date_class(node: str) -> bool:
    return any(_CLASS_DATE.search(class_and_id(el).lower()) for el in ancestors(_holder(node), 3))


def _elsewhere(node: str) -> bool:
    for depth, tags, classes in _ELSEWHERE:
        for el in ancestors(_holder(node), depth):
            if el.tag in tags or classes.search(class_and_id(el).lower()):
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
        return make_date(g["y1"], g["m1"], g["d1"]), None
    if g["y2"]:
        return make_date(g["y2"], g["m2"], g["d2"]), None
    if g["y3"]:
        a, b = int(g["a3"]), int(g["b3"])
        month, day = (a, b) if (month_first and a <= 12) or b > 12 else (b, a)
        alt = make_date(g["y3"], day, month) if a != b and max(a, b) <= 12 else None
        return make_date(g["y3"], month, day), alt
    if g["y4"]:
        return make_date(g["y4"], MONTHS[g["n4"].lower()], g["d4"]), None
    return make_date(g["y5"], MONTHS[g["n5"].lower()], g["d5"]), None


# A day as a page shows it: 28.10.2021, 2021-10-28, 10/28/2021, October 28, 2021, 28 October 2021.
_SHOWN_DATE = re.compile(
    r"(?<![\d.])(?P<d1>\d\d?)\.\s?(?P<m1>\d\d?)\.\s?(?P<y1>\d{4})(?!\d)"
    r"|(?<!\d)(?P<y2>\d{4})[-/](?P<m2>\d\d)[-/](?P<d2>\d\d)(?!\d)"
    r"|(?<![\d/])(?P<a3>\d\d?)/(?P<b3>\d\d?)/(?P<y3>\d{4})(?!\d)"
    rf"|(?<!\w)(?P<n4>{MONTH_NAME})\.?\s+(?P<d4>\d\d?)(?:st|nd|rd|th)?,?\s+(?P<y4>\d{{4}})(?!\d)"
    rf"|(?<!\d)(?P<d5>\d\d?)(?:\.|st|nd|rd|th|er)?\s+(?:de\s+)?(?P<n5>{MONTH_NAME})\.?,?\s+(?:de\s+)?"
    r"(?P<y5>\d{4})(?!\d)",
    re.IGNORECASE,
)


# ---------------------------------------------------------------- dateline --

# "CITY[, ST.] [(Agency)], <date> [(Agency)] –": the place in capitals or capitalised, an abbreviated state
# ("WASHINGTON, D.C.,", "BUFFALO, N.Y.,") that is not an abbreviated month.
_DATELINE = re.compile(
    r"[A-ZÀ-ÞА-ЯЁ][\w'’.\- ]{1,40}?(?:,\s*(?!(?i:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.)[A-Z][\w.]{0,6}\.)?"
    r"(?:\s*\([^)]{1,40}\))?,\s+(?P<date>[^\n()–—]{3,30}?)\s*(?:\([^)]{1,40}\))?\.?\s*[-–—:]")


_NUMERIC_DAY = re.compile(r"\d\d?\.\s?\d\d?\.\s?\d{4}")


def dateline_date(text: str, known: Iterable[Day], url_year: int | None) -> dt.date | None:
    """The date of the dateline of the first paragraphs: "BELGRADE, 21 September 2018 -", "PRISTINA,
    Oct. 3 (Reuters)"; a day without a year takes the one year that the dates ``known`` from other
    signals for that day and the URL's year agree on."""
    for paragraph in text.lstrip().split("\n", 3)[:3]:
        m = _DATELINE.match(paragraph.strip())
        if m:
            return _dateline_value(m.group("date").strip(), known, url_year)
    return None


def _dateline_value(s: str, known: Iterable[Day], url_year: int | None) -> dt.date | None:
    m = MONTH_DAY.fullmatch(s)
    if m:
        month, day, year = MONTHS[m.group(1).lower()], int(m.group(2)), m.group(3)
    elif _NUMERIC_DAY.fullmatch(s):
        return date_only(parse_date(s))
    else:
        m = DAY_MONTH.fullmatch(s)
        if not m:
            return None
        day, month, year = int(m.group(1)), MONTHS[m.group(2).lower()], m.group(3)
    if year:
        return make_date(year, month, day)
    # No year written: only when the other signals agree on one.
    years = {value.year for value in known if (value.month, value.day) == (month, day)}
    if url_year is not None:
        years.add(url_year)
    return make_date(years.pop(), month, day) if len(years) == 1 else None


# -------------------------------------------------------- written-out days --

def written_out(tree: lxml.html.HtmlElement, day: dt.date) -> bool:
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


