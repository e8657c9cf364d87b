"""Dates as pages write them: the date finder's lenient reader of date strings.

A helper of the cleaner (stage 2 of the pipeline: sources → **clean** → enrich → index), below the date
finder (``search/clean/dates.py``) and its reader of shown dates (``search/clean/date_text.py``). :func:`parse_date`
reads what a machine wrote into markup (ISO 8601, RFC 2822, ``16.10.2019``, epoch seconds, "October 16,
2019" …); the month names of the corpus's languages and the making of a date from its parts serve the
readers of URLs, date stamps and datelines too. Newsdesk's own stored dates are read by the stricter
``search/timeparse.py``.

Exports ``Day``, :func:`parse_date`, :func:`make_date`, :func:`aware`, :func:`day_of`, :func:`date_only`,
``MONTHS``, ``MONTH_NAME``, ``MONTH_DAY`` and ``DAY_MONTH``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from typing import TypeVar

Day = dt.date | dt.datetime
_D = TypeVar("_D", dt.date, dt.datetime)


def parse_date(value: str) -> Day | None:
    """A date or datetime written by a machine (ISO 8601, RFC 2822, ``16.10.2019``, epoch seconds …)."""
    s = value.strip()
    for pattern, order in _MACHINE_FORMATS:
        m = pattern.match(s)
        if m:
            parts = m.groups()
            return make_date(*(parts[i] if i < len(parts) else None for i in order))
    if _EPOCH.match(s):
        return dt.datetime.fromtimestamp(int(s[:10]), dt.UTC)
    if _US_SLASHED.match(s):
        return _slashed(s)
    return _rfc2822(s) or _written(s)


def day_of(value: Day) -> dt.date:
    """The calendar day of a date or datetime."""
    return value.date() if isinstance(value, dt.datetime) else value


def aware(value: _D) -> _D:
    """A datetime without an offset is taken as UTC; a date stays a date."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


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

MONTHS = {
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
MONTH_NAME = "|".join(sorted((re.escape(k) for k in MONTHS), key=len, reverse=True))
MONTH_DAY = re.compile(rf"(?i)(?<!\w)({MONTH_NAME})\.?\s+(\d\d?)(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?")
DAY_MONTH = re.compile(rf"(?i)(?<!\d)(\d\d?)(?:\.|st|nd|rd|th|er)?\s+(?:de\s+)?({MONTH_NAME})\.?(?:,?\s+(?:de\s+)?(\d{{4}}))?")


def make_date(year: object, month: object, day: object, hour: object = None, minute: object = None,
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
        return make_date(year, b, a)
    if b > 12 >= a or a == b:
        return make_date(year, a, b)
    return None


def _rfc2822(s: str) -> Day | None:
    try:
        parsed = email.utils.parsedate_to_datetime(s)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return aware(parsed) if parsed else None


def _written(s: str) -> dt.date | None:
    """"October 16, 2019", "16. Oktober 2019": a date written out, with its year."""
    m = MONTH_DAY.search(s)
    if m and m.group(3):
        return date_only(make_date(m.group(3), MONTHS[m.group(1).lower()], m.group(2)))
    m = DAY_MONTH.search(s)
    if m and m.group(3):
        return date_only(make_date(m.group(3), MONTHS[m.group(2).lower()], m.group(1)))
    return None


def date_only(value: Day | None) -> dt.date | None:
    return day_of(value) if value is not None else None
