"""Downloads: every match of a search as a file (``/search.csv``, ``/search.jsonl``), or one facet's table.

The same request as the results page (web/params.py), parsed the same way;
instead of a page, every match is written (``query.export``), streamed a
chunk of rows at a time by the writer picked from ``EXPORT_WRITERS``; with
``facet=NAME`` the file is that facet's whole table (``FACET_WRITERS``).
Exports always list every article: grouping copies is for reading a page,
not for counting (search/query/stories.py).
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator

from flask import Blueprint, Response, request, url_for

from search.enrich import Gazetteer
from search.errors import QueryError
from search.folding import fold
from search.query import EXPORT_COLUMNS, Exported, ExportRow, facet_label
from search.records import FacetValue, SearchQuery
from web.params import parse_request
from web.readers import get_gazetteer, get_reader, open_snapshot

bp = Blueprint("exports", __name__)
log = logging.getLogger(__name__)

#: text/csv as RFC 4180 registers it, with its charset parameter. JSON Lines has no registered media type:
#: application/x-ndjson is the one the NDJSON description names and streaming APIs (Elasticsearch's) use.
CSV_TYPE = "text/csv; charset=utf-8"
JSONL_TYPE = "application/x-ndjson"
#: A cell starting with one of these is a formula to a spreadsheet (Excel, LibreOffice, Google Sheets), or
#: may become one: OWASP's "CSV Injection" list (= + - @, tab, carriage return), the null ASVS 1.2.10 adds,
#: and, to be safe, the line feed and the full-width forms of the four operators.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: Rows written per chunk of the response: large enough that a chunk is a few kilobytes, not a row.
ROWS_PER_WRITE = 64


@bp.route("/search.csv")
def csv_file() -> Response:
    return _export("csv")


@bp.route("/search.jsonl")
def jsonl_file() -> Response:
    return _export("jsonl")


def _export(fmt: str) -> Response:
    """Every match of the page's search (its paging ignored), or with ``facet=NAME`` that facet's whole table.

    Everything that can refuse the request (its parameters, the query, the
    time limit) runs before the first byte, so a refusal is a 400 with a
    hint, as on the page. The rows are read from a reader of the export's
    own (``open_snapshot``): one snapshot of the index from the first row to
    the last, whatever is committed meanwhile, closed with the response.
    """
    query, gazetteer = parse_request(), get_gazetteer()
    bom = _bom() if fmt == "csv" else False
    facet = request.args.get("facet")
    if facet is not None:
        table = get_reader().facet_table(query, facet)
        return _download(FACET_WRITERS[fmt](table, bom), fmt, _filename(query, gazetteer, facet), len(table))
    reader = open_snapshot()
    try:
        found = reader.export(query)
    except BaseException:
        reader.close()
        raise
    response = _download(_logged(EXPORT_WRITERS[fmt](found, bom)), fmt, _filename(query, gazetteer), found.total)
    # Closed once, when the server closes the response: sent whole, cut short, never begun (HEAD), or failed.
    response.call_on_close(reader.close)
    return response


def _bom() -> bool:
    """Whether the CSV starts with a byte order mark (``bom=1``, the default; ``bom=0`` leaves it out)."""
    value = request.args.get("bom", "1")
    if value not in ("0", "1"):
        raise QueryError(f"unknown bom={value!r}", hint="bom=1 (the default) starts the file with the byte order "
                         "mark Excel needs to read UTF-8; bom=0 leaves it out")
    return value == "1"


def _logged(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The response body, its failures logged.

    A failure after the first byte cannot change the status any more: it is
    logged and raised again, and the server then drops the connection
    without HTTP's closing chunk, so no client takes the cut file for a
    whole one (and ``X-Total-Count`` said how many rows to expect).
    """
    try:
        yield from chunks
    except Exception:
        log.exception("an export failed after its first bytes were sent")
        raise


def _download(body: Iterable[bytes], fmt: str, filename: str, rows: int) -> Response:
    response = Response(body, content_type=CSV_TYPE if fmt == "csv" else JSONL_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["X-Total-Count"] = str(rows)
    return response


def _filename(query: SearchQuery, gazetteer: Gazetteer, facet: str | None = None) -> str:
    """The file's name, after the query and its filters: ``newsdesk-kosovo-sergey-lavrov-from-2018``, ASCII only."""
    words = [query.q, *(facet_label(name, value, gazetteer) for name, values in query.filters().items()
                        for value in values), *(f"{name} {value}" for name, value in query.dates().items())]
    slug = re.sub(r"[^a-z0-9]+", "-", fold(" ".join(words))).strip("-")[:80].strip("-")
    return f"newsdesk-{slug or 'all-articles'}" + (f"-by-{facet}" if facet else "")


def _csv_export(found: Exported, bom: bool) -> Iterator[bytes]:
    """RFC 4180: a header row, CRLF line ends, fields quoted only when they must be (quotes doubled)."""
    lines = _Lines(["\ufeff"] if bom else [])
    writer = csv.writer(lines, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield lines.drained()
    for n, row in enumerate(found.rows(), 1):
        writer.writerow(_csv_cells(row))
        if n % ROWS_PER_WRITE == 0:
            yield lines.drained()
    yield lines.drained()


def _csv_cells(row: ExportRow) -> list[str]:
    """A row's cells: lists joined by ``;``, nothing for what is unknown, formulas defused."""
    values = [";".join(value) if isinstance(value, tuple) else value for value in
              (getattr(row, name) for name in EXPORT_COLUMNS)]
    return [_cell("" if value is None else str(value)) for value in values]


def _cell(text: str) -> str:
    """A CSV cell no spreadsheet runs as a formula: one that starts like one gets a leading ``'``
    (OWASP's advice), which spreadsheets show as text and which is the only change ever made."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Lines(list[str]):
    """What a ``csv.writer`` writes, until it is sent: a list of lines, emptied as each chunk goes out."""

    def write(self, text: str) -> int:
        self.append(text)
        return len(text)

    def drained(self) -> bytes:
        data = "".join(self).encode("utf-8")
        self.clear()
        return data


def _jsonl_export(found: Exported, bom: bool) -> Iterator[bytes]:
    """JSON Lines: one object per article, UTF-8, each ended by ``\\n``."""
    lines: list[str] = []
    for row in found.rows():
        lines.append(_json_line(row.as_json()))
        if len(lines) == ROWS_PER_WRITE:
            yield "".join(lines).encode("utf-8")
            lines.clear()
    yield "".join(lines).encode("utf-8")


def _json_line(value: dict[str, object]) -> str:
    # U+2028 and U+2029 are valid inside JSON strings, but line breaks to many line readers (str.splitlines,
    # JavaScript before ES2019): escaped, a line is a line whatever reads it.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


def _csv_facet(table: tuple[FacetValue, ...], bom: bool) -> Iterator[bytes]:
    lines = _Lines(["\ufeff"] if bom else [])
    writer = csv.writer(lines, lineterminator="\r\n")
    writer.writerow(("value", "label", "count"))
    writer.writerows((_cell(f.value), _cell(f.label), str(f.count)) for f in table)
    yield lines.drained()


def _jsonl_facet(table: tuple[FacetValue, ...], bom: bool) -> Iterator[bytes]:
    yield "".join(_json_line({"value": f.value, "label": f.label, "count": f.count}) for f in table).encode("utf-8")


EXPORT_WRITERS: dict[str, Callable[[Exported, bool], Iterator[bytes]]] = {
    "csv": _csv_export,
    "jsonl": _jsonl_export,
}
FACET_WRITERS: dict[str, Callable[[tuple[FacetValue, ...], bool], Iterator[bytes]]] = {
    "csv": _csv_facet,
    "jsonl": _jsonl_facet,
}


@bp.app_template_global()
def export_url(fmt: str, **changes: str) -> str:
    """This search's download in ``fmt`` (``csv``, ``jsonl``): the page's parameters but its paging."""
    args = {key: values for key, values in request.args.to_dict(flat=False).items() if key not in _PAGING}
    args.update({key: [value] for key, value in changes.items()})
    return url_for(f"exports.{fmt}_file", **args)  # type: ignore[arg-type]  # lists are repeated params


#: Parameters of a page that an export, which lists every article, has no use for: its paging, how it groups
#: and counts copies.
_PAGING = ("page", "after", "per_page", "collapse", "count")
