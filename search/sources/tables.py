"""Collections of records: JSON Lines and CSV, gzipped or not, one article per record.

Part of the sources stage (``search.sources``). Each file is read as a
stream, a line or a row at a time, so a collection of any size takes the
same memory. Each record becomes a ``RawPage`` of type ``RECORD_TYPE``
holding its ``StatedRecord`` (``search.sources.fields`` maps the columns), or
a ``Skipped`` whose reason gives the line number: a line that is not JSON, a
row that is not CSV, a record without text. The run goes on after either.

JSON Lines: one JSON object per line (``.jsonl``, ``.ndjson``); blank lines
are passed over. CSV: a header row naming the columns, then one row per
record, comma-separated, quoted as RFC 4180 says (a quoted field may span
lines); a row with more or fewer fields than the header is skipped rather
than guessed at. Both are read as UTF-8, a byte-order mark dropped.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from search.decode import received_page
from search.records import RECORD_TYPE, RawPage, Skipped, StatedRecord
from search.sources.fields import FieldMap
from search.urls import resolve_url

#: A record larger than this is no news article (the same bound as a page file's).
MAX_RECORD_BYTES = 20 * 1024 * 1024

#: What ``read_jsonl`` and ``read_csv`` yield: a page or a skip, and how many
#: bytes of the file as stored (compressed, if it is) were read by then.
Read = tuple[RawPage | Skipped, int]


def read_jsonl(path: Path, fields: FieldMap) -> Iterator[Read]:
    """The records of a JSON Lines file, in order."""
    with path.open("rb") as raw:
        number = 0
        try:
            for number, line in _lines(_opened(raw, path)):
                if line is not None and not line.strip():
                    continue
                yield _jsonl_record(path, number, line, fields), raw.tell()
        except (OSError, EOFError, zlib.error) as e:
            yield Skipped(str(path), f"cannot read on from line {number + 1}: {e}"), raw.tell()


def count_jsonl(path: Path) -> int:
    """How many items ``read_jsonl`` yields for an uncompressed file: its non-blank lines."""
    with path.open("rb") as raw:
        return sum(1 for _, line in _lines(raw) if line is None or line.strip())


def _jsonl_record(path: Path, number: int, line: bytes | None, fields: FieldMap) -> RawPage | Skipped:
    if line is None:
        return Skipped(str(path), f"line {number}: longer than {MAX_RECORD_BYTES // 2**20} MiB")
    try:
        values = json.loads(line)  # bytes: UTF-8 (or the UTF-16/32 JSON allows), strictly
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return Skipped(str(path), f"line {number}: not valid JSON ({_short(e)})")
    if not isinstance(values, dict):
        return Skipped(str(path), f"line {number}: not a JSON object but {type(values).__name__}")
    return _page(path, number, fields.record(values))


def read_csv(path: Path, fields: FieldMap) -> Iterator[Read]:
    """The records of a CSV file with a header row, in order."""
    with path.open("rb") as raw:
        rows = _rows(_opened(raw, path))
        header: list[str] | None = None
        try:
            for number, row in rows:
                if isinstance(row, str):
                    yield Skipped(str(path), f"line {number}: {row}"), raw.tell()
                elif header is None:
                    header = [name.strip() for name in row]
                else:
                    yield _csv_record(path, number, header, row, fields), raw.tell()
        except (OSError, EOFError, zlib.error) as e:
            yield Skipped(str(path), f"cannot read on: {e}"), raw.tell()


def count_csv(path: Path) -> int:
    """How many items ``read_csv`` yields for an uncompressed file: its rows after the header."""
    with path.open("rb") as raw:
        return max(0, sum(1 for _ in _rows(raw)) - 1)


def _csv_record(path: Path, number: int, header: list[str], row: list[str], fields: FieldMap) -> RawPage | Skipped:
    if len(row) != len(header):
        return Skipped(str(path), f"line {number}: {len(row)} fields where the header has {len(header)}")
    if any(_SURROGATES.search(value) for value in row):
        return Skipped(str(path), f"line {number}: not UTF-8 text")
    return _page(path, number, fields.record(dict(zip(header, row, strict=True))))


def _rows(stream: IO[bytes]) -> Iterator[tuple[int, list[str] | str]]:
    """(first line number, fields) of each non-empty row, or (line, why) for a row that is not CSV.

    Lines are decoded one by one (bytes that are not UTF-8 kept as
    surrogates, so the row holding them is the one skipped), and the csv
    module joins the lines of a quoted field.
    """
    csv.field_size_limit(MAX_RECORD_BYTES)  # its default (128 KiB) is less than many a page's HTML
    lines = _decoded(stream)
    reader = csv.reader(lines, strict=True)
    while True:
        first = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield first, f"not a CSV row ({e})"
            continue
        if row:
            yield first, row


def _decoded(stream: IO[bytes]) -> Iterator[str]:
    for number, line in _lines(stream):
        if line is None:
            yield "\udcff"  # a line too long to read becomes one field of a row that is skipped
            continue
        yield line.decode("utf-8", errors="surrogateescape")


#: The surrogates that stand for bytes that were not UTF-8 (``surrogateescape``).
_SURROGATES = re.compile("[\udc80-\udcff]")


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(number, line) from 1, a byte-order mark dropped; None for a line over ``MAX_RECORD_BYTES``,
    read past rather than held."""
    number = 0
    while line := stream.readline(MAX_RECORD_BYTES + 1):
        number += 1
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        if len(line) > MAX_RECORD_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_RECORD_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield number, None
            continue
        yield number, line


def _opened(raw: IO[bytes], path: Path) -> IO[bytes]:
    """The file's bytes, decompressed as they are read when it is gzipped."""
    if path.suffix.lower() == ".gz":
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    return raw


def _page(path: Path, number: int, record: StatedRecord) -> RawPage | Skipped:
    if record.text is None and record.html is None:
        return Skipped(str(path), f"line {number}: no text (no body, text or html field, or it is empty)")
    data = record.as_bytes()
    if len(data) > MAX_RECORD_BYTES:
        return Skipped(str(path), f"line {number}: larger than {MAX_RECORD_BYTES // 2**20} MiB")
    # Only an absolute http(s) URL names the article and its archive record;
    # any other stays in the record, as stated.
    url = record.url if record.url and resolve_url(record.url, None) else None
    return received_page(data, f"{path}:{number}", RECORD_TYPE, url)


def _short(error: Exception, limit: int = 120) -> str:
    text = str(error)
    return text if len(text) <= limit else text[: limit - 1] + "…"
