"""Administrators: the accounts that manage the instance's sources on ``/sources``.

Made from a terminal only (``newsdesk users add --admin``, ``newsdesk users
admin EMAIL [--off]``), run as a user would run them, through ``main``; a
state database made before the flag existed gets it, off for everyone.
"""

from __future__ import annotations

import io
import sqlite3
from contextlib import closing

import pytest

from search.alerts import authenticate, find_user, list_users
from search.alerts.accounts import set_admin
from search.errors import NotFound
from search.settings import Settings
from search.state import open_state, state_path
from web.cli import main
from webforms import PASSWORD, log_in, make_app

Capture = pytest.CaptureFixture[str]


def add(fresh: Settings, monkeypatch: pytest.MonkeyPatch, email: str, *flags: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    return main(["users", "add", email, *flags, "--index", str(fresh.index)])


def listed(fresh: Settings, capsys: Capture) -> dict[str, list[str]]:
    """``users list`` as {e-mail: its columns}."""
    capsys.readouterr()
    assert main(["users", "list", "--index", str(fresh.index)]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    return {row[1]: row for row in rows}


def test_users_add_admin_makes_an_administrator_and_list_says_who_is_one(
    fresh: Settings, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    assert add(fresh, monkeypatch, "boss@example.org", "--admin") == 0
    assert "added boss@example.org" in capsys.readouterr().out
    assert add(fresh, monkeypatch, "ana@example.org") == 0

    assert find_user(fresh, "boss@example.org").admin is True
    assert find_user(fresh, "ana@example.org").admin is False
    assert authenticate(fresh, "boss@example.org", PASSWORD).admin is True  # the log-in's record carries it
    rows = listed(fresh, capsys)
    assert rows["boss@example.org"][-1] == "admin"
    assert rows["ana@example.org"][-1] == "user"


def test_users_admin_grants_and_off_revokes(fresh: Settings, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    add(fresh, monkeypatch, "ana@example.org")
    capsys.readouterr()

    assert main(["users", "admin", "ana@example.org", "--index", str(fresh.index)]) == 0
    assert "now an administrator" in capsys.readouterr().out
    assert find_user(fresh, "ana@example.org").admin is True
    assert main(["users", "admin", "ANA@example.org", "--index", str(fresh.index)]) == 0  # addresses in any case
    assert find_user(fresh, "ana@example.org").admin is True

    assert main(["users", "admin", "ana@example.org", "--off", "--index", str(fresh.index)]) == 0
    assert "no longer an administrator" in capsys.readouterr().out
    assert find_user(fresh, "ana@example.org").admin is False
    assert listed(fresh, capsys)["ana@example.org"][-1] == "user"


def test_users_admin_for_an_unknown_address_is_one_line_and_exit_1(
    fresh: Settings, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    add(fresh, monkeypatch, "ana@example.org")
    capsys.readouterr()
    assert main(["users", "admin", "nobody@example.org", "--index", str(fresh.index)]) == 1
    err = capsys.readouterr().err
    assert "no user nobody@example.org" in err and "Traceback" not in err
    with pytest.raises(NotFound):
        set_admin(fresh, "nobody@example.org")
    assert [user.admin for user in list_users(fresh)] == [False]


def test_a_users_table_from_before_the_flag_gets_it_off_for_everyone(fresh: Settings) -> None:
    """The table as the previous release made it: the accounts keep working, nobody is an administrator."""
    fresh.index.mkdir(parents=True)
    with sqlite3.connect(state_path(fresh)) as db:
        db.executescript("""
            CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE,
                                password_hash TEXT NOT NULL, timezone TEXT NOT NULL DEFAULT 'UTC',
                                created TEXT NOT NULL);
            INSERT INTO users (email, password_hash, timezone, created)
                VALUES ('old@example.org', 'scrypt:not-a-real-hash', 'Europe/Belgrade', '2024-01-02T03:04:05+00:00');
        """)

    [old] = list_users(fresh)
    assert (old.email, old.timezone, old.admin) == ("old@example.org", "Europe/Belgrade", False)
    assert set_admin(fresh, "old@example.org").admin is True
    with closing(open_state(fresh)) as db:
        columns = {row["name"]: row for row in db.execute("PRAGMA table_info(users)")}
    assert columns["admin"]["notnull"] == 1 and columns["admin"]["dflt_value"] == "0"



def test_taking_the_right_away_takes_effect_on_the_next_request_of_an_open_session(
    fresh: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session finds its user in the database on each request, so no log-out is needed."""
    add(fresh, monkeypatch, "boss@example.org", "--admin")
    client = make_app(fresh).test_client()
    assert log_in(client, "boss@example.org").status_code == 302
    assert 'action="/sources/add"' in client.get("/sources").text

    set_admin(fresh, "boss@example.org", admin=False)
    assert 'action="/sources/add"' not in client.get("/sources").text
