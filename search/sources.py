"""Sources: where documents come from. First stage of the pipeline.

For ``newsdesk ingest`` a source is a file or a folder of files: plain-text
page dumps (``.txt``) and saved pages (``.html``, ``.htm``, ``.html.gz``).
Each becomes a ``RawPage`` holding the bytes exactly as read and their text,
decoded here once (``search.decode``; a binary or undecodable file is archived,
then skipped by the cleaner with the reason); metadata stated
outside the document (a manifest such as ``seeds/manifest.toml``) rides along
as ``PageHints``, matched by the SHA-256 of the bytes so it follows the file
wherever it is ingested from.

For ``newsdesk crawl`` a source is an outlet listed in a sources file
(``seeds/sources.toml`` by default): ``load_sources`` reads it into
``Source`` records for ``search.crawl``.

Reference data in ``seeds/`` is located from the package, so commands work
from any working directory (``NEWSDESK_SEEDS`` points elsewhere).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import re
import tomllib
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from search.decode import received_page
from search.errors import SettingsError
from search.records import PageHints, RawPage, Skipped, Source
from search.settings import seeds_dir
from search.timeparse import parse_iso

log = logging.getLogger(__name__)

_TYPES = {".txt": "text/plain", ".text": "text/plain", ".html": "text/html", ".htm": "text/html"}
#: Files larger than this are not news articles; reading them would only hurt.
MAX_FILE_BYTES = 20 * 1024 * 1024

Manifest = dict[str, PageHints]


def read_files(paths: Iterable[str | Path], manifest: Manifest | None = None) -> Iterator[RawPage | Skipped]:
    """Yield a ``RawPage`` for each readable file under ``paths`` (sorted, so
    runs are repeatable), or a ``Skipped`` saying why a file was not read."""
    manifest = load_manifest() if manifest is None else manifest
    for path in _walk(paths):
        yield _read(path, manifest)


def count_files(paths: Iterable[str | Path]) -> int:
    return sum(1 for _ in _walk(paths))


def _walk(paths: Iterable[str | Path]) -> Iterator[Path]:
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


def _read(path: Path, manifest: Manifest) -> RawPage | Skipped:
    content_type = _content_type(path)
    if content_type is None:
        return Skipped(str(path), "not a .txt, .html or .html.gz file")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return Skipped(str(path), f"larger than {MAX_FILE_BYTES // 2**20} MiB")
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gunzip(data, MAX_FILE_BYTES)
    except (OSError, EOFError, zlib.error) as e:
        return Skipped(str(path), f"cannot read: {e}")
    hints = manifest.get(hashlib.sha256(data).hexdigest(), PageHints())
    return received_page(data, str(path), content_type, hints.url, hints)


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress at most ``limit`` bytes: a small gzip bomb must not fill memory."""
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
        out = f.read(limit + 1)
    if len(out) > limit:
        raise OSError(f"decompresses to more than {limit // 2**20} MiB")
    return out


def _content_type(path: Path) -> str | None:
    suffixes = path.suffixes
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _TYPES.get(suffixes[-1].lower()) if suffixes else None


def load_manifest(path: Path | None = None, required: bool = False) -> Manifest:
    """Read a manifest (default ``seeds/manifest.toml``): sha256 → hints."""
    path = path or seeds_dir() / "manifest.toml"
    if not path.is_file():
        if required:
            raise SettingsError(f"no manifest at {path}")
        return {}
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("article", [])
        return {entry["sha256"]: _hints(entry) for entry in entries}
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as e:
        raise SettingsError(f"cannot read manifest {path}: {e!r}") from e


def load_sources(path: Path | None = None) -> list[Source]:
    """The outlets to crawl: ``[[source]]`` tables of a TOML file.

    Default ``seeds/sources.toml``. Each table has ``name`` and ``url``
    (homepage), optional ``feeds`` and ``sitemaps`` (lists of URLs),
    ``language``, ``country``, and ``allow`` / ``deny`` (lists of regular
    expressions searched in each discovered URL). Raises ``SettingsError``
    for a missing or unusable file, naming the table at fault.
    """
    path = path or seeds_dir() / "sources.toml"
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8")).get("source", [])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SettingsError(f"cannot read sources file {path}: {e}") from e
    if not isinstance(tables, list):
        raise SettingsError(f"sources file {path}: [[source]] must be an array of tables")
    return [_source(table, path, number) for number, table in enumerate(tables, start=1)]


_SOURCE_LISTS = ("feeds", "sitemaps", "allow", "deny")
_SOURCE_KEYS = {"name", "url", "language", "country", *_SOURCE_LISTS}


def outlets_by_host(sources: Iterable[Source]) -> dict[str, str]:
    """Each source's host (without "www.") → its name: the outlet of a page
    from that host, whatever the page calls itself."""
    hosts: dict[str, str] = {}
    for source in sources:
        host = (urlsplit(source.url).hostname or "").removeprefix("www.")
        if host:
            hosts.setdefault(host, source.name)
    return hosts


def _source(table: object, path: Path, number: int) -> Source:
    where = f"sources file {path}, source #{number}"
    if not isinstance(table, dict) or not isinstance(table.get("name"), str) or not isinstance(table.get("url"), str):
        raise SettingsError(f"{where}: needs a name and a url (strings)")
    unknown = sorted(set(table) - _SOURCE_KEYS)
    if unknown:
        raise SettingsError(f"{where} ({table['name']}): unknown key(s) {', '.join(unknown)}")
    lists = {key: _strings(table.get(key, []), f"{where} ({table['name']}), {key}") for key in _SOURCE_LISTS}
    for pattern in lists["allow"] + lists["deny"]:
        try:
            re.compile(pattern)
        except re.error as e:
            raise SettingsError(f"{where} ({table['name']}): bad pattern {pattern!r}: {e}") from e
    language, country = table.get("language"), table.get("country")
    return Source(
        name=table["name"], url=table["url"], language=language if isinstance(language, str) else None,
        country=country if isinstance(country, str) else None, **lists,
    )


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingsError(f"{where}: must be a list of strings")
    return tuple(value)


def _hints(entry: dict[str, str]) -> PageHints:
    published = parse_iso(entry.get("published"))
    return PageHints(
        outlet=entry.get("outlet"),
        author=entry.get("author"),
        url=entry.get("url"),
        published=published,
        published_source=entry.get("published_source", "manifest") if published else None,
    )
