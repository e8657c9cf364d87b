"""Accounts: the users who save searches and receive alerts.

Beside the state database (``users`` table in ``state.sqlite``), used by the
web app's log-in and by ``newsdesk users``. Passwords are stored only as
scrypt hashes (Werkzeug's default KDF); e-mail addresses are compared
without regard to case.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from werkzeug.security import check_password_hash, generate_password_hash

from search.errors import AccountError, NotFound
from search.records import User
from search.settings import Settings
from search.state import ensure_tables, open_state

MIN_PASSWORD = 8
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_DDL = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    created TEXT NOT NULL
);
"""


@contextmanager
def accounts_db(settings: Settings) -> Iterator[sqlite3.Connection]:
    """The state database with the users table in place."""
    connection = open_state(settings)
    try:
        ensure_tables(connection, _DDL)
        yield connection
    finally:
        connection.close()


def add_user(settings: Settings, email: str, password: str, timezone: str = "UTC") -> User:
    """Create an account; ``AccountError`` says what is wrong with the input."""
    email = _valid_email(email)
    _check_password(password)
    check_timezone(timezone)
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with accounts_db(settings) as db:
        try:
            with db:
                cursor = db.execute(
                    "INSERT INTO users (email, password_hash, timezone, created) VALUES (?, ?, ?, ?)",
                    (email, generate_password_hash(password), timezone, created.isoformat()),
                )
        except sqlite3.IntegrityError as e:
            raise AccountError(f"{email} already has an account", hint="log in, or use another address") from e
        return User(id=int(cursor.lastrowid or 0), email=email, timezone=timezone, created=created)


def authenticate(settings: Settings, email: str, password: str) -> User:
    """The user whose e-mail and password these are, else ``AccountError`` (one message for both)."""
    with accounts_db(settings) as db:
        row = db.execute("SELECT * FROM users WHERE email = ?", (email.strip(),)).fetchone()
    # Check a hash even for an unknown address, so timing does not tell which addresses exist.
    stored = row["password_hash"] if row else generate_password_hash("not a password")
    if not check_password_hash(stored, password) or row is None:
        raise AccountError("wrong e-mail address or password")
    return _user(row)


def get_user(settings: Settings, user_id: int) -> User:
    with accounts_db(settings) as db:
        row = db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise NotFound(f"no user {user_id}")
    return _user(row)


def find_user(settings: Settings, email: str) -> User:
    with accounts_db(settings) as db:
        row = db.execute("SELECT * FROM users WHERE email = ?", (email.strip(),)).fetchone()
    if row is None:
        raise NotFound(f"no user {email}", hint="list them with: newsdesk users list")
    return _user(row)


def list_users(settings: Settings) -> list[User]:
    with accounts_db(settings) as db:
        return [_user(row) for row in db.execute("SELECT * FROM users ORDER BY email")]


def remove_user(settings: Settings, email: str) -> None:
    """Delete an account and, with it, its saved searches and their deliveries."""
    user = find_user(settings, email)
    with accounts_db(settings) as db, db:
        db.execute("DELETE FROM users WHERE id = ?", (user.id,))


def set_timezone(settings: Settings, user_id: int, timezone: str) -> None:
    check_timezone(timezone)
    with accounts_db(settings) as db, db:
        db.execute("UPDATE users SET timezone = ? WHERE id = ?", (timezone, user_id))


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise AccountError(f"unknown time zone {name!r}", hint="use an IANA name such as Europe/Belgrade") from e


def _valid_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise AccountError(f"{email!r} is not an e-mail address", hint="write it as name@example.org")
    return email


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is shorter than {MIN_PASSWORD} characters", hint="choose a longer one")


def _user(row: sqlite3.Row) -> User:
    return User(id=row["id"], email=row["email"], timezone=row["timezone"],
                created=dt.datetime.fromisoformat(row["created"]))
