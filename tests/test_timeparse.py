"""search/timeparse.py: the ISO dates Newsdesk writes, read back; and who may read them without the date finder."""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
from pathlib import Path

import pytest

from search.timeparse import parse_iso

UTC = dt.UTC


@pytest.mark.parametrize(("raw", "expected"), [
    ("2024-03-05", dt.date(2024, 3, 5)),
    ("2024-03-05T14:30:00+01:00", dt.datetime(2024, 3, 5, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))),
    ("2024-03-05T14:30:00", dt.datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),  # no offset: UTC
    ("2024-03-05T14:30:00Z", dt.datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
    ("2024-03-05 14:30", dt.datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
    ("", None),
    (None, None),
    ("5 March 2024", None),  # strict: page markup is the date finder's business
    ("2024-02-30", None),
])
def test_parse_iso(raw: str | None, expected: dt.date | None) -> None:
    value = parse_iso(raw)
    assert value == expected
    assert type(value) is type(expected)


def _imported(module: str) -> set[str]:
    """The modules ``module`` imports, as written in its source (``from search import x`` names ``search.x``)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "search":
            found.update(f"search.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_timeparse_stands_on_the_ground_floor() -> None:
    assert {name for name in _imported("search.timeparse") if name.startswith("search")} <= {"search.records",
                                                                                              "search.errors"}


@pytest.mark.parametrize("module", ["search.query", "search.index.document", "search.crawl", "search.crawl.discover", "search.sources"])
def test_the_read_side_and_the_crawler_read_dates_without_the_date_finder(module: str) -> None:
    assert "search.clean.dates" not in _imported(module)
