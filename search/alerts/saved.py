"""Saved searches: a user's queries with their facet and date filters and alert options.

Beside the state (``saved_searches`` table, in ``state.sqlite`` or PostgreSQL), used
by the web app, ``newsdesk alerts`` and the alert runner (search/alerts/runner.py).
Every read and write names the owner: another user's saved search is
``NotFound``, exactly like one that does not exist, so its existence leaks
nothing. A new saved search starts at the current ingest number: its alerts
never backfill old articles.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from search.alerts.accounts import accounts_db
from search.alerts.keys import sign, unsign
from search.errors import AlertError, IndexUnavailable, NotFound
from search.index import last_number
from search.query import check_syntax, make_query, open_readers
from search.records import FACETS, FREQUENCIES, SavedSearch, SearchQuery
from search.settings import Settings
from search.state import Row, StateConnection, ensure_tables

MAX_NAME = 200

_DDL = """
CREATE TABLE IF NOT EXISTS saved_searches (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    q TEXT NOT NULL,
    filters TEXT NOT NULL,            -- JSON: facet name → list of values
    frequency TEXT NOT NULL,
    hour INTEGER NOT NULL,
    weekday INTEGER NOT NULL,
    email INTEGER NOT NULL,
    feed INTEGER NOT NULL,
    first_of_cluster INTEGER NOT NULL,
    watermark INTEGER NOT NULL,       -- ingest number up to which articles were considered
    feed_nonce TEXT NOT NULL,
    created TEXT NOT NULL,
    last_run TEXT,
    dates TEXT NOT NULL DEFAULT '{}'  -- JSON: the date filter by URL name (from, to, range, dated, certainty)
);
CREATE INDEX IF NOT EXISTS saved_searches_user ON saved_searches (user_id);
"""

#: Options a caller may change with ``update_saved``.
EDITABLE = ("name", "query", "frequency", "hour", "weekday", "email", "feed", "first_of_cluster")


@contextmanager
def saved_db(settings: Settings) -> Iterator[StateConnection]:
    """The state database with the users and saved-search tables in place."""
    with accounts_db(settings) as db:
        ensure_tables(db, _DDL, upgrade=_add_columns)
        yield db


def _add_columns(db: sqlite3.Connection) -> None:
    """Columns added since the table was first made, added to a SQLite table made before them."""
    columns = {row["name"] for row in db.execute("PRAGMA table_info(saved_searches)")}
    with db:
        if "dates" not in columns:  # searches saved before date filters: none
            db.execute("ALTER TABLE saved_searches ADD COLUMN dates TEXT NOT NULL DEFAULT '{}'")


def save_search(settings: Settings, user_id: int, name: str, query: SearchQuery, **options: Any) -> SavedSearch:
    """Store a new saved search for ``user_id``, starting from the current ingest number."""
    _check_query(settings, query.q)
    draft = _checked(SavedSearch(id=0, user_id=user_id, name=name, query=_saved_query(query), **options))
    draft = replace(draft, watermark=last_number(settings), feed_nonce=secrets.token_urlsafe(12),
                    created=dt.datetime.now(dt.UTC).replace(microsecond=0))
    with saved_db(settings) as db, db:
        new_id = int(db.execute(
            f"INSERT INTO saved_searches ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
            f"RETURNING id", _row(draft),
        ).fetchone()[0])
    return replace(draft, id=new_id)


#: SQLite's largest row id: a number past it names nothing (and SQLite cannot even take it).
_MAX_ID = 2**63 - 1


def get_saved(settings: Settings, user_id: int, saved_id: int) -> SavedSearch:
    """The user's saved search; ``NotFound`` when it is missing *or someone else's*."""
    _check_id(saved_id)
    with saved_db(settings) as db:
        row = db.execute("SELECT * FROM saved_searches WHERE id = ? AND user_id = ?", (saved_id, user_id)).fetchone()
    if row is None:
        raise NotFound(f"no saved search {saved_id}")
    return _saved(row)


def _check_id(saved_id: int) -> None:
    if not 0 < saved_id <= _MAX_ID:
        raise NotFound(f"no saved search {saved_id}", hint="saved search ids are the numbers `newsdesk alerts list` shows")


def list_saved(settings: Settings, user_id: int | None = None) -> list[SavedSearch]:
    """One user's saved searches (every user's when ``user_id`` is None), oldest first."""
    with saved_db(settings) as db:
        if user_id is None:
            rows = db.execute("SELECT * FROM saved_searches ORDER BY id").fetchall()
        else:
            rows = db.execute("SELECT * FROM saved_searches WHERE user_id = ? ORDER BY id", (user_id,)).fetchall()
    return [_saved(row) for row in rows]


def saved_by_id(settings: Settings, saved_id: int) -> SavedSearch:
    """Any user's saved search: for administration and signed links, never for a user's request."""
    _check_id(saved_id)
    with saved_db(settings) as db:
        row = db.execute("SELECT * FROM saved_searches WHERE id = ?", (saved_id,)).fetchone()
    if row is None:
        raise NotFound(f"no saved search {saved_id}")
    return _saved(row)


def update_saved(settings: Settings, user_id: int, saved_id: int, **changes: Any) -> SavedSearch:
    """Rename or edit the user's saved search; the watermark stays, so nothing is backfilled."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise AlertError(f"cannot change {', '.join(sorted(unknown))}")
    if "query" in changes:
        changes["query"] = _saved_query(changes["query"])
    if "query" in changes:  # only then: an unsubscribe must work even for a search saved before a rule changed
        _check_query(settings, changes["query"].q)
    updated = _checked(replace(get_saved(settings, user_id, saved_id), **changes))
    _write(settings, updated)
    return updated


def delete_saved(settings: Settings, user_id: int, saved_id: int) -> None:
    get_saved(settings, user_id, saved_id)  # NotFound for someone else's
    with saved_db(settings) as db, db:
        db.execute("DELETE FROM saved_searches WHERE id = ?", (saved_id,))


def revoke_feed(settings: Settings, user_id: int, saved_id: int) -> SavedSearch:
    """A new nonce: the old feed URL (and unsubscribe link) stop working, new ones are issued."""
    updated = replace(get_saved(settings, user_id, saved_id), feed_nonce=secrets.token_urlsafe(12))
    _write(settings, updated)
    return updated


def feed_token(settings: Settings, saved: SavedSearch) -> str:
    """The unguessable token of the saved search's Atom feed (revoked by ``revoke_feed``)."""
    return sign(settings, "feed", [saved.id, saved.feed_nonce])


def feed_url(settings: Settings, saved: SavedSearch) -> str:
    """The feed's absolute address, from ``base_url``."""
    return f"{settings.base_url.rstrip('/')}/feeds/{feed_token(settings, saved)}.atom"


def unsubscribe_token(settings: Settings, saved: SavedSearch) -> str:
    """The token of the one-click unsubscribe link in the saved search's e-mails."""
    return sign(settings, "unsubscribe", [saved.id, saved.feed_nonce])


def unsubscribe_url(settings: Settings, saved: SavedSearch) -> str:
    return f"{settings.base_url.rstrip('/')}/unsubscribe/{unsubscribe_token(settings, saved)}"


def saved_by_token(settings: Settings, purpose: str, token: str) -> SavedSearch:
    """The saved search a feed or unsubscribe token names; ``NotFound`` if forged, revoked or deleted."""
    value = unsign(settings, purpose, token)
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
        raise NotFound("no such feed or link")
    saved = saved_by_id(settings, value[0])
    if not secrets.compare_digest(saved.feed_nonce, str(value[1])):
        raise NotFound("no such feed or link", hint="the address has been revoked")
    return saved


def _write(settings: Settings, saved: SavedSearch) -> None:
    """Write a user's edit. The watermark and last run belong to the alert runner
    (search/alerts/runner.py): an edit read before a run must not move them back."""
    columns = [c for c in _COLUMNS if c not in _RUNNER_COLUMNS]
    values = [v for c, v in zip(_COLUMNS, _row(saved), strict=True) if c not in _RUNNER_COLUMNS]
    assignments = ", ".join(f"{column} = ?" for column in columns)
    with saved_db(settings) as db, db:
        db.execute(f"UPDATE saved_searches SET {assignments} WHERE id = ?", (*values, saved.id))


def _saved_query(query: SearchQuery) -> SearchQuery:
    """Only what selects articles is saved: the text, the facet filters and the date filter as asked (a
    preset stays relative: each run counts back from its own moment), checked as a URL's would be."""
    checked = make_query(q=query.q, date_from=query.date_from, date_to=query.date_to,
                         date_range=query.date_range, dated=query.dated, certainty=query.certainty)
    return replace(checked, outlet=query.outlet, actor=query.actor, year=query.year, language=query.language,
                   now=None)


def _checked(saved: SavedSearch) -> SavedSearch:
    name = " ".join(saved.name.split())
    if not name or len(name) > MAX_NAME:
        raise AlertError("a saved search needs a name", hint=f"up to {MAX_NAME} characters")
    if saved.frequency not in FREQUENCIES:
        raise AlertError(f"unknown frequency {saved.frequency!r}", hint=f"use one of {', '.join(FREQUENCIES)}")
    if not 0 <= saved.hour <= 23 or not 0 <= saved.weekday <= 6:
        raise AlertError("the hour is 0–23 and the weekday 0–6 (Monday is 0)")
    return replace(saved, name=name)


def _check_query(settings: Settings, q: str) -> None:
    """``QueryError`` (400) for a query that cannot run: refused when it is saved, on the web and the
    command line alike, not found broken at alert time. Parsed as the results page parses it, against
    the live index (its words bound wildcards) or, before there is one, for its syntax alone."""
    if not q:
        return
    try:
        reader = open_readers(settings).snapshot()
    except IndexUnavailable:
        check_syntax(q, settings)
        return
    try:
        reader.check(q)
    finally:
        reader.close()


_COLUMNS = ("user_id", "name", "q", "filters", "frequency", "hour", "weekday", "email", "feed",
            "first_of_cluster", "watermark", "feed_nonce", "created", "last_run", "dates")


_RUNNER_COLUMNS = ("watermark", "last_run")


def _row(saved: SavedSearch) -> tuple[Any, ...]:
    filters = {name: list(values) for name, values in saved.query.filters().items() if values}
    return (saved.user_id, saved.name, saved.query.q, json.dumps(filters, sort_keys=True), saved.frequency,
            saved.hour, saved.weekday, int(saved.email), int(saved.feed), int(saved.first_of_cluster),
            saved.watermark, saved.feed_nonce, _iso(saved.created), _iso(saved.last_run),
            json.dumps(saved.query.dates(), sort_keys=True))


def _saved(row: Row) -> SavedSearch:
    filters = json.loads(row["filters"])
    values = {name: tuple(filters.get(name, ())) for name in FACETS}
    dates = {name: str(value) for name, value in json.loads(row["dates"] or "{}").items()}
    query = SearchQuery(q=row["q"], outlet=values["outlet"], actor=values["actor"], year=values["year"],
                        language=values["language"], date_from=dates.get("from", ""), date_to=dates.get("to", ""),
                        date_range=dates.get("range", ""), dated=dates.get("dated", ""),
                        certainty=dates.get("certainty", ""))
    return SavedSearch(
        id=row["id"], user_id=row["user_id"], name=row["name"], query=query, frequency=row["frequency"],
        hour=row["hour"], weekday=row["weekday"], email=bool(row["email"]), feed=bool(row["feed"]),
        first_of_cluster=bool(row["first_of_cluster"]), watermark=row["watermark"], feed_nonce=row["feed_nonce"],
        created=_moment(row["created"]), last_run=_moment(row["last_run"]),
    )


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _moment(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None
