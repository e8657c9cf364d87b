"""What several ``newsdesk`` commands share: the date filter of ``search`` and ``alerts add``, and counts
printed with their nouns.

Part of the command line (web/cli.py). The values are checked where the
page's are, by ``search.query.make_query``: the same words, the same errors.
"""

from __future__ import annotations

import argparse
from typing import TypedDict


class DateOptions(TypedDict):
    date_from: str | None
    date_to: str | None
    date_range: str | None
    dated: str | None
    certainty: str | None


def add_date_options(parser: argparse.ArgumentParser) -> None:
    """``--from``, ``--to``, ``--range``, ``--dated``, ``--certainty``: the results page's date filter."""
    parser.add_argument("--from", dest="date_from", metavar="DATE",
                        help="published on or after: a day, month or year (UTC), or a moment with an offset")
    parser.add_argument("--to", dest="date_to", metavar="DATE", help="published on or before (the whole day)")
    parser.add_argument("--range", dest="date_range", choices=("24h", "week", "month", "year", "all"),
                        help="published in the past 24 hours, week, month or year (counted back from each run)")
    parser.add_argument("--dated", choices=("yes", "no"), help="only dated (yes) or only undated (no) articles")
    parser.add_argument("--certainty", choices=("certain", "uncertain"),
                        help="only articles whose date the outlet stated (certain) or that was guessed (uncertain)")


def date_options(args: argparse.Namespace) -> DateOptions:
    """The date filter given, as ``make_query``'s keyword arguments."""
    return DateOptions(date_from=args.date_from, date_to=args.date_to, date_range=args.date_range,
                       dated=args.dated, certainty=args.certainty)


def plural(count: int, noun: str) -> str:
    """``1 article``, ``2,048 articles``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
