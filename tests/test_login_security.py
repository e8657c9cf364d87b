"""Logging in safely: guessing is slowed down, and a session ends on the server when it ends.

Failed log-ins are counted per account and per client address over a
sliding window; past the limit even the right password waits (429). A log-in
opens a session kept in the state database; logging out closes it, so a
session cookie copied before the log-out is worth nothing after it, and a
password change closes every session of its user.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from search.alerts.accounts import (
    LOGIN_FAILURES_PER_ACCOUNT,
    LOGIN_FAILURES_PER_CLIENT,
    LOGIN_WINDOW,
    authenticate,
    open_session,
    session_user,
    set_password,
)
from search.errors import AccountError, NotFound, TooManyLogins
from search.settings import Settings
from webforms import PASSWORD, log_in, make_app, make_user, own_instance, submit


@pytest.fixture
def instance(seeded: Settings, tmp_path: Path) -> Settings:
    settings = own_instance(seeded, tmp_path)
    make_user(settings)
    return settings


def _client(settings: Settings, address: str = "192.0.2.10") -> FlaskClient:
    client = make_app(settings).test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_after_too_many_wrong_passwords_even_the_right_one_waits(instance: Settings) -> None:
    client = _client(instance)
    for _ in range(LOGIN_FAILURES_PER_ACCOUNT):
        assert log_in(client, password="not the password").status_code == 400
    refused = log_in(client)
    assert refused.status_code == 429
    assert "Too many failed log-ins for this account: try again in 15 minutes." in refused.text
    assert client.get("/account").status_code == 302  # still logged out


def test_the_account_is_free_again_once_the_failures_leave_the_window(instance: Settings) -> None:
    start = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)
    for minute in range(LOGIN_FAILURES_PER_ACCOUNT):
        with pytest.raises(AccountError):
            authenticate(instance, "ana@example.org", "wrong", now=start + dt.timedelta(minutes=minute))
    just_before = start + LOGIN_WINDOW - dt.timedelta(seconds=1)
    with pytest.raises(TooManyLogins, match="too many"):
        authenticate(instance, "ANA@example.org", PASSWORD, now=just_before)  # any spelling of the address
    assert authenticate(instance, "ana@example.org", PASSWORD, now=start + LOGIN_WINDOW).email == "ana@example.org"


def test_a_right_password_clears_the_account_count(instance: Settings) -> None:
    for _ in range(LOGIN_FAILURES_PER_ACCOUNT - 1):
        with pytest.raises(AccountError):
            authenticate(instance, "ana@example.org", "wrong")
    authenticate(instance, "ana@example.org", PASSWORD)
    for _ in range(LOGIN_FAILURES_PER_ACCOUNT - 1):
        with pytest.raises(AccountError):
            authenticate(instance, "ana@example.org", "wrong")
    assert authenticate(instance, "ana@example.org", PASSWORD)


def test_one_client_guessing_across_many_accounts_is_slowed_down_and_others_are_not(instance: Settings) -> None:
    for n in range(LOGIN_FAILURES_PER_CLIENT):
        with pytest.raises(AccountError):
            authenticate(instance, f"guess{n}@example.org", "wrong", client="198.51.100.7")
    with pytest.raises(TooManyLogins, match="your address"):
        authenticate(instance, "ana@example.org", PASSWORD, client="198.51.100.7")
    assert authenticate(instance, "ana@example.org", PASSWORD, client="198.51.100.8")


def test_a_session_cookie_copied_before_logout_is_worthless_after_it(instance: Settings) -> None:
    client = _client(instance)
    assert log_in(client).status_code == 302
    copied = client.get_cookie("session")
    assert copied is not None
    thief = _client(instance)
    thief.set_cookie("session", copied.value)
    assert thief.get("/account").status_code == 200  # the copy works while the session is open

    assert submit(client, "/", "/logout").status_code == 302
    assert thief.get("/account").status_code == 302  # to the login page
    assert client.get("/account").status_code == 302


def test_a_password_change_closes_every_session_of_the_user(instance: Settings) -> None:
    phone, laptop = _client(instance), _client(instance)
    log_in(phone), log_in(laptop)
    user = session_user(instance, open_session(instance, 1))
    set_password(instance, user.id, "another long password")
    assert phone.get("/account").status_code == 302 and laptop.get("/account").status_code == 302
    assert log_in(phone, password="another long password").status_code == 302


def test_the_session_table_holds_no_usable_token(instance: Settings) -> None:
    token = open_session(instance, 1)
    import sqlite3

    with sqlite3.connect(instance.index / "state.sqlite") as db:
        stored = [row[0] for row in db.execute("SELECT token_hash FROM sessions")]
    assert token not in stored
    with pytest.raises(NotFound):
        session_user(instance, stored[0])  # the stored hash is not itself a token


def test_changing_the_password_on_the_web_logs_out_every_other_session(instance: Settings) -> None:
    here, elsewhere = _client(instance), _client(instance)
    log_in(here), log_in(elsewhere)
    wrong = submit(here, "/account", "/account/password", current="not it", password="a new long password",
                   confirm="a new long password")
    assert wrong.status_code == 400 and "Wrong password." in wrong.text
    changed = submit(here, "/account", "/account/password", current=PASSWORD, password="a new long password",
                     confirm="a new long password")
    assert changed.status_code == 302
    assert here.get("/account").status_code == 200  # this browser stays logged in, on a new session
    assert elsewhere.get("/account").status_code == 302
    assert authenticate(instance, "ana@example.org", "a new long password").email == "ana@example.org"


def test_an_administrator_resets_a_password_from_the_command_line(
    instance: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from web.cli import main

    browser = _client(instance)
    log_in(browser)
    monkeypatch.setattr("sys.stdin", io.StringIO("reset by the admin\n"))
    assert main(["users", "passwd", "ana@example.org", "--index", str(instance.index)]) == 0
    assert "every session it had is logged out" in capsys.readouterr().out
    assert browser.get("/account").status_code == 302
    assert log_in(browser, password="reset by the admin").status_code == 302
    assert main(["users", "passwd", "nobody@example.org", "--index", str(instance.index)]) == 1


def test_a_session_ends_by_itself_after_its_lifetime(instance: Settings) -> None:
    from search.alerts.accounts import SESSION_LIFETIME

    logged_in = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    token = open_session(instance, 1, now=logged_in)
    assert session_user(instance, token, now=logged_in + SESSION_LIFETIME).email == "ana@example.org"
    with pytest.raises(NotFound):
        session_user(instance, token, now=logged_in + SESSION_LIFETIME + dt.timedelta(seconds=1))
    open_session(instance, 1, now=logged_in + 2 * SESSION_LIFETIME)  # a later log-in clears the table of it
    import sqlite3

    with sqlite3.connect(instance.index / "state.sqlite") as db:
        assert db.execute("SELECT count(*) FROM sessions WHERE created = ?", (logged_in.isoformat(),)).fetchone() == (0,)
