"""The instance's own sources: the outlets ``newsdesk serve`` and ``crawl --loop`` keep crawling.

Part of the sources stage (``search.sources``), beside the sources file
(``outlets``): the same ``Source`` records, kept in the instance's state
(``search.state``: SQLite, or PostgreSQL) instead of a TOML file, so they can be added and
removed from the command line (``newsdesk sources add|remove|import``) and
by an administrator on ``/sources`` while the server runs. Adding a source
by its homepage, which means finding its feeds on the network, is the
crawler's job (``search.crawl.find_source``); this module only keeps what
it found.

A source's name is the outlet of every article found through it, so names
are unique without regard to case, as are homepage URLs (normalised).
Removing a source stops its crawling; its articles stay in the index.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from dataclasses import dataclass
from urllib.parse import urlsplit

from search.errors import NotFound, SourceError, SourceExists
from search.records import Source
from search.settings import Settings
from search.state import Row, StateConnection, ensure_tables, exclusive_transaction, open_state, read_state
from search.urls import normalize_url

_DDL = """
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,                 -- the outlet of its articles
    folded TEXT NOT NULL UNIQUE,           -- the name case-folded (Unicode: SQLite's NOCASE folds ASCII only)
    url TEXT NOT NULL UNIQUE,              -- the homepage, normalised
    feeds TEXT NOT NULL,                   -- JSON lists of URLs and patterns
    sitemaps TEXT NOT NULL,
    allow TEXT NOT NULL,
    deny TEXT NOT NULL,
    language TEXT,
    country TEXT,
    added_at REAL NOT NULL,                -- Unix time
    added_by TEXT NOT NULL,                -- "command line", "OPML file NAME", or a user's address
    public_only INTEGER NOT NULL DEFAULT 0 -- added on the web: crawled at public addresses only
);
"""

#: Longest source name accepted (it is an outlet name, shown in facets).
MAX_NAME = 200
_LISTS = ("feeds", "sitemaps", "allow", "deny")
#: Where the kept sources are listed, on the web and in a terminal alike.
_LISTED = "the sources page, or `newsdesk sources list`, shows them"


@dataclass(frozen=True)
class RegisteredSource:
    """A source of the instance, with when and by whom it was added."""

    source: Source
    added_at: dt.datetime
    added_by: str


def instance_sources(settings: Settings) -> list[Source]:
    """The instance's sources, by name; none before any was added (nothing is created)."""
    return [item.source for item in registered_sources(settings)]


def registered_sources(settings: Settings) -> list[RegisteredSource]:
    rows: list[Row] = read_state(settings, lambda db: db.execute("SELECT * FROM sources ORDER BY folded, name").fetchall(), [])
    return [_registered(row) for row in rows]


def add_source(settings: Settings, source: Source, added_by: str = "command line") -> Source:
    """Keep ``source`` (checked, its URLs normalised); ``SourceExists`` when its name or homepage is taken."""
    source = checked_source(source)
    connection = _open(settings)
    try:
        # One write transaction from the check to the insert: two adds at once see each other.
        with exclusive_transaction(connection, "sources"):
            _refuse_clash(connection, source)
            connection.execute(
                "INSERT INTO sources (name, folded, url, feeds, sitemaps, allow, deny, language, country, added_at, "
                "added_by, public_only) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (source.name, source.name.casefold(), source.url,
                 *(json.dumps(list(getattr(source, key))) for key in _LISTS),
                 source.language, source.country, dt.datetime.now(dt.UTC).timestamp(), added_by,
                 int(source.public_only)),
            )
    except sqlite3.IntegrityError:  # the schema's own uniqueness, should the check ever miss one (either engine)
        raise SourceExists(f"a source named {source.name!r} or with the homepage {source.url} is already kept",
                           hint=_LISTED) from None
    finally:
        connection.close()
    return source


def remove_source(settings: Settings, key: str) -> Source:
    """Forget the source named ``key`` (any case) or with ``key`` as its homepage; ``NotFound`` otherwise."""
    connection = _open(settings)
    try:
        with connection:
            url = normalize_url(key) if _is_url(key) else None
            row = connection.execute(
                "SELECT * FROM sources WHERE folded = ? OR url = ?", (" ".join(key.split()).casefold(), url)
            ).fetchone()
            if row is None:
                raise NotFound(f"no source named {key!r} or with that homepage", hint=_LISTED)
            connection.execute("DELETE FROM sources WHERE name = ?", (row["name"],))
    finally:
        connection.close()
    return _registered(row).source


def _refuse_clash(connection: StateConnection, source: Source) -> None:
    clash = connection.execute(
        "SELECT name, folded, url FROM sources WHERE folded = ? OR url = ?", (source.name.casefold(), source.url)
    ).fetchone()
    if clash is not None:
        what = f"the name {clash['name']!r}" if clash["folded"] == source.name.casefold() \
            else f"the homepage {clash['url']}"
        raise SourceExists(f"a source with {what} is already kept",
                           hint="remove it first to add it again differently")


def checked_source(source: Source) -> Source:
    """``source`` with its URLs normalised, or ``SourceError`` saying what is wrong with it."""
    name = " ".join(source.name.split())
    if not name or len(name) > MAX_NAME:
        raise SourceError(f"a source needs a name of 1 to {MAX_NAME} characters")
    for url in (source.url, *source.feeds, *source.sitemaps):
        if not _is_url(url):
            raise SourceError(f"not a web address: {url!r}", hint="give an http:// or https:// URL")
    for pattern in source.allow + source.deny:
        try:
            re.compile(pattern)
        except re.error as e:
            raise SourceError(f"bad pattern {pattern!r}: {e}") from e
    return Source(
        name=name, url=normalize_url(source.url), feeds=_unique(source.feeds), sitemaps=_unique(source.sitemaps),
        language=source.language, country=source.country, allow=source.allow, deny=source.deny,
        public_only=source.public_only,
    )


def _unique(urls: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalize_url(url) for url in urls))


def _is_url(text: str) -> bool:
    parts = urlsplit(text.strip())
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def _open(settings: Settings) -> StateConnection:
    connection = open_state(settings)
    ensure_tables(connection, _DDL)
    return connection


def _registered(row: Row) -> RegisteredSource:
    feeds, sitemaps, allow, deny = (tuple(json.loads(row[key])) for key in _LISTS)
    source = Source(name=row["name"], url=row["url"], feeds=feeds, sitemaps=sitemaps, allow=allow, deny=deny,
                    language=row["language"], country=row["country"], public_only=bool(row["public_only"]))
    return RegisteredSource(source, dt.datetime.fromtimestamp(row["added_at"], dt.UTC), row["added_by"])
