"""The sources file: the outlets ``newsdesk crawl`` reads, as ``Source`` records.

Part of the sources stage (``search.sources``): ``load_sources`` reads
``[[source]]`` tables (``seeds/sources.toml`` by default) for ``search.crawl``;
``outlets_by_host`` gives the pipeline each source's host → outlet name.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from search.errors import SettingsError
from search.records import Source
from search.settings import seeds_dir


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
        country=country if isinstance(country, str) else None, feeds=lists["feeds"], sitemaps=lists["sitemaps"],
        allow=lists["allow"], deny=lists["deny"],
    )


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingsError(f"{where}: must be a list of strings")
    return tuple(value)
