"""What one ``newsdesk ingest`` reads: files and folders, page files and collections, in order.

Part of the sources stage (``search.sources``). ``open_inputs`` walks the
paths (a folder's files sorted, hidden ones left out, so runs are
repeatable) and reads each file by its name:

* a page file (``.txt``, ``.html``, ``.htm``, ``.html.gz``) is one page
  (``search.sources.files``);
* a collection — JSON Lines (``.jsonl``, ``.ndjson``), CSV (``.csv``), either
  gzipped, or a WARC (``.warc``, ``.warc.gz``) — is many
  (``search.sources.tables``, ``search.sources.warcs``). A folder's
  collections are read like the ones named on the command line: a folder
  is what its files hold.

``Inputs`` is the stream of pages and skips, and how far through it a run
is, for the progress bar: in files when there are only page files; in
records when every collection is uncompressed JSON Lines or CSV (counted
before the run, a quick pass); otherwise in bytes of the files as stored
(compressed ones too: the position in a gzip stream is what is known
without reading it twice). ``counts`` says what was read, for the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from search.records import RawPage, Skipped
from search.sources.fields import FieldMap
from search.sources.files import Manifest, load_manifest, read_page
from search.sources.tables import Read, count_csv, count_jsonl, read_csv, read_jsonl
from search.sources.warcs import read_warc

#: Collection kinds by the file name's last suffix (before ``.gz``).
_KINDS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".warc": "warc"}


@dataclass
class ReadCounts:
    """What a run read: page files, collection files, and the records in those."""

    files: int = 0
    collections: int = 0
    records: int = 0  # each became a page or a skip (a WARC's requests and images count too)


@dataclass
class Inputs:
    """The pages and skips of ``paths``, in order (iterate once), and the run's progress.

    ``total`` and ``done`` are in ``unit``: "file", "record" or "B" (see the module docstring).
    """

    paths: list[Path]
    manifest: Manifest
    fields: FieldMap
    unit: str = "file"
    total: int = 0
    done: int = 0
    counts: ReadCounts = field(default_factory=ReadCounts)

    def __iter__(self) -> Iterator[RawPage | Skipped]:
        for path in self.paths:
            kind = collection_kind(path)
            if kind is None:
                self.counts.files += 1
                item = read_page(path, self.manifest)
                self.done += _size(path) if self.unit == "B" else 1
                yield item
                continue
            self.counts.collections += 1
            start = self.done
            for item, position in self._reader(kind)(path):
                self.counts.records += 1
                self.done = start + position if self.unit == "B" else self.done + 1
                yield item
            if self.unit == "B":
                self.done = start + _size(path)

    def _reader(self, kind: str) -> Callable[[Path], Iterator[Read]]:
        if kind == "jsonl":
            return lambda path: read_jsonl(path, self.fields)
        if kind == "csv":
            return lambda path: read_csv(path, self.fields)
        return lambda path: read_warc(path, self.manifest)


def open_inputs(
    paths: Iterable[str | Path],
    manifest: Manifest | None = None,
    fields: FieldMap | None = None,
    counts: ReadCounts | None = None,
) -> Inputs:
    """The files under ``paths`` ready to read, their total counted (see ``Inputs``).

    ``manifest`` (default ``seeds/manifest.toml``) gives hints to page files
    and WARC pages by the SHA-256 of their bytes; ``fields`` maps a
    collection's columns (default: the common names); ``counts``, when
    given, is where what was read is counted.
    """
    files = list(_walk(paths))
    inputs = Inputs(files, load_manifest() if manifest is None else manifest, fields or FieldMap(),
                    counts=counts if counts is not None else ReadCounts())
    kinds = [collection_kind(path) for path in files]
    if not any(kinds):
        inputs.unit, inputs.total = "file", len(files)
    elif all(kind in (None, "jsonl", "csv") and not _gzipped(path) for path, kind in zip(files, kinds, strict=True)):
        inputs.unit, inputs.total = "record", sum(_records(path, kind) for path, kind in zip(files, kinds, strict=True))
    else:
        inputs.unit, inputs.total = "B", sum(_size(path) for path in files)
    return inputs


def read_files(paths: Iterable[str | Path], manifest: Manifest | None = None) -> Iterator[RawPage | Skipped]:
    """Yield a ``RawPage`` for each page under ``paths`` (files sorted, so
    runs are repeatable; collections record by record), or a ``Skipped`` saying why one was not read."""
    return iter(open_inputs(paths, manifest))


def count_files(paths: Iterable[str | Path]) -> int:
    """The files ``read_files`` opens (a collection counts once)."""
    return sum(1 for _ in _walk(paths))


def collection_kind(path: Path) -> str | None:
    """"jsonl", "csv" or "warc" for a collection file, else None (a page file, or no file ingest reads)."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _KINDS.get(suffixes[-1]) if suffixes else None


def _walk(paths: Iterable[str | Path]) -> Iterator[Path]:
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


def _records(path: Path, kind: str | None) -> int:
    if kind == "jsonl":
        return count_jsonl(path)
    if kind == "csv":
        return count_csv(path)
    return 1


def _gzipped(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
