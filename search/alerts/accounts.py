"""Accounts: the users who save searches and receive alerts.

Beside the state (``users`` table, in ``state.sqlite`` or the PostgreSQL
database: search/state), used by the web app's log-in and by ``newsdesk users``. Passwords are stored only as
scrypt hashes (Werkzeug's default KDF); e-mail addresses are compared
without regard to case.

**Sessions are kept here**, not only in the browser's signed cookie: a log-in
opens one (``open_session``; the cookie holds a random token, the table its
SHA-256), each request finds its user through it, and logging out closes it,
so a cookie copied before the log-out logs nobody in afterwards. Changing a
password closes every session of that user.

**Failed log-ins are counted** per account and per client address over a
sliding window (``LOGIN_WINDOW``); past the limit, every attempt, the right
password included, is refused with ``TooManyLogins`` (429) until the window
has moved on. The counts live in the instance's state database, so every
process serving the instance shares them and a restart does not reset them
(Flask-Limiter's stores are memory, Redis, Memcached or MongoDB; none is
the instance directory).

**Administrators** (``admin``, set by ``newsdesk users add --admin`` or
``newsdesk users admin``) manage the instance's sources on ``/sources``.
Databases made before the column get it, off for everyone, when opened.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from werkzeug.security import check_password_hash, generate_password_hash

from search.errors import AccountError, AccountExists, NotFound, TooManyLogins
from search.records import User
from search.settings import Settings
from search.state import Row, StateConnection, ensure_tables, open_state

MIN_PASSWORD = 8
#: Failed log-ins allowed within ``LOGIN_WINDOW`` for one account, and from one client address.
LOGIN_FAILURES_PER_ACCOUNT = 5
LOGIN_FAILURES_PER_CLIENT = 20
LOGIN_WINDOW = dt.timedelta(minutes=15)
#: A session not ended by a log-out ends this long after its log-in.
SESSION_LIFETIME = dt.timedelta(days=30)

_DDL = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    created TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0  -- 1: manages the instance's sources on /sources
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,      -- SHA-256 of the token in the cookie: the table alone logs nobody in
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT NOT NULL,                -- 'account:<address in lower case>' or 'client:<IP address>'
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at);
"""


@contextmanager
def accounts_db(settings: Settings) -> Iterator[StateConnection]:
    """The state database with the users table in place."""
    connection = open_state(settings)
    try:
        ensure_tables(connection, _DDL, upgrade=_migrate)
        yield connection
    finally:
        connection.close()


def _migrate(connection: sqlite3.Connection) -> None:
    """Columns added to a SQLite table since it was first made (``CREATE TABLE IF NOT EXISTS`` leaves an old
    table as it was; PostgreSQL's tables were made with them: 0004_state.sql)."""
    columns = {row["name"] for row in connection.execute("PRAGMA table_info(users)")}
    if "admin" not in columns:
        try:
            with connection:  # nobody was an administrator before there were any
                connection.execute("ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0")
        except sqlite3.OperationalError as e:
            if "duplicate column" not in str(e):  # another process added it first: what we wanted
                raise


def add_user(settings: Settings, email: str, password: str, timezone: str = "UTC", admin: bool = False) -> User:
    """Create an account (an administrator with ``admin``); ``AccountError`` says what is wrong with the input."""
    email = _valid_email(email)
    _check_password(password)
    check_timezone(timezone)
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with accounts_db(settings) as db:
        try:
            with db:
                new_id = int(db.execute(
                    "INSERT INTO users (email, password_hash, timezone, created, admin) VALUES (?, ?, ?, ?, ?) "
                    "RETURNING id",
                    (email, generate_password_hash(password), timezone, created.isoformat(), int(admin)),
                ).fetchone()[0])
        except sqlite3.IntegrityError as e:  # PostgreSQL's refusal comes as a subclass (search/state/postgres.py)
            raise AccountExists(f"{email} already has an account", hint="log in, or use another address") from e
        return User(id=new_id, email=email, timezone=timezone, created=created, admin=admin)


def register(settings: Settings, email: str, password: str) -> User | None:
    """Open registration: the new account, or None when the address already has one.

    The web answers both alike, so registering does not tell anyone which
    addresses have accounts; the password is hashed either way, so neither
    does the time it takes. ``AccountError`` still says what is wrong with
    the input itself (an address that is no address, a short password).
    """
    try:
        return add_user(settings, email, password)
    except AccountExists:
        return None


def authenticate(
    settings: Settings, email: str, password: str, client: str | None = None, now: dt.datetime | None = None
) -> User:
    """The user whose e-mail and password these are, else ``AccountError`` (one message for both);
    ``TooManyLogins`` while the account or the client address has failed too often lately."""
    now = now or dt.datetime.now(dt.UTC)
    keys = [(f"account:{email.strip().casefold()}", LOGIN_FAILURES_PER_ACCOUNT)]
    if client:
        keys.append((f"client:{client}", LOGIN_FAILURES_PER_CLIENT))
    with accounts_db(settings) as db:
        _check_failures(db, keys, now)
        row = db.execute("SELECT * FROM users WHERE email = ?", (email.strip(),)).fetchone()
        # Check a hash even for an unknown address, so timing does not tell which addresses exist.
        stored = row["password_hash"] if row else generate_password_hash("not a password")
        right = check_password_hash(stored, password) and row is not None
        with db:
            if right:
                db.execute("DELETE FROM login_failures WHERE key = ?", (keys[0][0],))
            else:
                db.executemany("INSERT INTO login_failures (key, at) VALUES (?, ?)",
                               [(key, now.isoformat()) for key, _ in keys])
                db.execute("DELETE FROM login_failures WHERE at < ?", ((now - LOGIN_WINDOW).isoformat(),))
    if not right:
        raise AccountError("wrong e-mail address or password")
    return _user(row)


def _check_failures(db: StateConnection, keys: list[tuple[str, int]], now: dt.datetime) -> None:
    since = (now - LOGIN_WINDOW).isoformat()
    for key, limit in keys:
        times = [row["at"] for row in db.execute(
            "SELECT at FROM login_failures WHERE key = ? AND at > ? ORDER BY at", (key, since))]
        if len(times) >= limit:
            # Free again when enough of the window's failures have aged out of it.
            free_at = dt.datetime.fromisoformat(times[len(times) - limit]) + LOGIN_WINDOW
            minutes = max(1, -(-int((free_at - now).total_seconds()) // 60))
            what = "this account" if key.startswith("account:") else "your address"
            raise TooManyLogins(f"too many failed log-ins for {what}",
                                hint=f"try again in {minutes} minute{'s' if minutes != 1 else ''}")


def open_session(settings: Settings, user_id: int, now: dt.datetime | None = None) -> str:
    """A new session for ``user_id``: the token its cookie carries. Sessions past their lifetime go."""
    token, now = secrets.token_urlsafe(32), now or dt.datetime.now(dt.UTC)
    with accounts_db(settings) as db, db:
        db.execute("DELETE FROM sessions WHERE created < ?", ((now - SESSION_LIFETIME).isoformat(),))
        db.execute("INSERT INTO sessions (token_hash, user_id, created) VALUES (?, ?, ?)",
                   (_token_hash(token), user_id, now.isoformat()))
    return token


def session_user(settings: Settings, token: str, now: dt.datetime | None = None) -> User:
    """The user of an open session, else ``NotFound`` (closed, expired, or never opened)."""
    oldest = ((now or dt.datetime.now(dt.UTC)) - SESSION_LIFETIME).isoformat()
    with accounts_db(settings) as db:
        row = db.execute("SELECT users.* FROM sessions JOIN users ON users.id = sessions.user_id "
                         "WHERE sessions.token_hash = ? AND sessions.created >= ?",
                         (_token_hash(token), oldest)).fetchone()
    if row is None:
        raise NotFound("no such session")
    return _user(row)


def close_session(settings: Settings, token: str) -> None:
    with accounts_db(settings) as db, db:
        db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))


def set_password(settings: Settings, user_id: int, password: str) -> None:
    """Change a password; every open session of the user is closed with it."""
    _check_password(password)
    with accounts_db(settings) as db, db:
        if db.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                      (generate_password_hash(password), user_id)).rowcount != 1:
            raise NotFound(f"no user {user_id}")
        db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        email = db.execute("SELECT email FROM users WHERE id = ?", (user_id,)).fetchone()["email"]
        db.execute("DELETE FROM login_failures WHERE key = ?", (f"account:{email.casefold()}",))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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


def set_admin(settings: Settings, email: str, admin: bool = True) -> User:
    """Make the account of ``email`` an administrator, or (``admin=False``) no longer one; ``NotFound`` if none."""
    user = find_user(settings, email)
    with accounts_db(settings) as db, db:
        db.execute("UPDATE users SET admin = ? WHERE id = ?", (int(admin), user.id))
    return get_user(settings, user.id)


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
    """The address as written, once its syntax is checked (RFC 5321/5322 and 6531, by email-validator):
    no DNS or network look-up, and the reserved example and .test domains are fine."""
    email = email.strip()
    try:
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError as e:
        raise AccountError(f"{email!r} is not an e-mail address ({e})", hint="write it as name@example.org") from e
    return email


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is shorter than {MIN_PASSWORD} characters", hint="choose a longer one")


def _user(row: Row) -> User:
    return User(id=row["id"], email=row["email"], timezone=row["timezone"],
                created=dt.datetime.fromisoformat(row["created"]), admin=bool(row["admin"]))
