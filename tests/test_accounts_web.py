"""Accounts on the web: register, log in and out, CSRF, cookies, ``next``, and the login gate.

Every test runs the real app (CSRF on) over its own copy of the seeded
instance, and fills forms from the pages themselves.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from search.alerts.accounts import find_user, get_user, remove_user
from search.settings import Settings
from search.state import state_path
from webforms import PASSWORD, csrf_token, log_in, make_app, make_user, own_instance, submit


@pytest.fixture
def instance(seeded: Settings, tmp_path: Path) -> Settings:
    return own_instance(seeded, tmp_path)


@pytest.fixture
def client(instance: Settings) -> FlaskClient:
    return make_app(instance).test_client()


def _client(seeded: Settings, tmp_path: Path, **changes: object) -> tuple[Settings, FlaskClient]:
    settings = own_instance(seeded, tmp_path, **changes)
    return settings, make_app(settings).test_client()


def _logged_in(client: FlaskClient) -> bool:
    return "Log out</button>" in client.get("/sources").text


# --- registering --------------------------------------------------------------


def test_open_registration_creates_the_account_then_its_owner_logs_in(seeded: Settings, tmp_path: Path) -> None:
    settings, client = _client(seeded, tmp_path, registration_open=True)
    answer = submit(client, "/register", "/register", email="new@example.org", password=PASSWORD, confirm=PASSWORD)

    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert find_user(settings, "new@example.org").email == "new@example.org"
    assert "log in with it below" in client.get("/login").text
    assert not _logged_in(client)
    log_in(client, "new@example.org")
    assert _logged_in(client)


def test_registering_does_not_tell_which_addresses_have_accounts(seeded: Settings, tmp_path: Path) -> None:
    settings, client = _client(seeded, tmp_path, registration_open=True)
    make_user(settings, "ana@example.org")

    def answer_for(email: str) -> tuple[int, str | None, str]:
        answer = submit(client, "/register", "/register", email=email, password="another password",
                        confirm="another password")
        page = client.get("/login").text.replace(email, "ADDRESS")
        # The CSRF token carries a timestamp, so it differs from second to second whatever the address.
        return answer.status_code, answer.headers.get("Location"), re.sub(r'name="csrf_token"[^>]*', "", page)

    assert answer_for("ana@example.org") == answer_for("new@example.org")
    assert not _logged_in(client)
    log_in(client, "ana@example.org", "another password")
    assert not _logged_in(client)  # the existing account kept its password


def test_closed_registration_is_a_clear_403_and_creates_nothing(client: FlaskClient, instance: Settings) -> None:
    page = client.get("/register")
    assert page.status_code == 403
    assert "Registration is closed" in page.text
    token = csrf_token(client.get("/login").text)
    refused = client.post("/register", data={"csrf_token": token, "email": "x@example.org",
                                             "password": PASSWORD, "confirm": PASSWORD})
    assert refused.status_code == 403
    assert "Create one" not in client.get("/login").text  # no link to a closed door
    with sqlite3.connect(state_path(instance)) as db:
        assert db.execute("SELECT count(*) FROM users").fetchone() == (0,)


@pytest.mark.parametrize(
    ("email", "password", "confirm", "message"),
    [
        ("new@example.org", "short", "short", "At least 8 characters."),
        ("new@example.org", PASSWORD, PASSWORD + "!", "The passwords differ."),
        ("not an address", PASSWORD, PASSWORD, "is not an e-mail address"),
    ],
)
def test_a_refused_registration_shows_the_form_again_with_the_reason(
    seeded: Settings, tmp_path: Path, email: str, password: str, confirm: str, message: str
) -> None:
    settings, client = _client(seeded, tmp_path, registration_open=True)
    make_user(settings, "ana@example.org")
    answer = submit(client, "/register", "/register", email=email, password=password, confirm=confirm)

    assert answer.status_code == 400
    assert message in answer.text
    assert '<form method="post" action="/register"' in answer.text
    assert not _logged_in(client)


def test_the_password_is_stored_only_as_a_hash(seeded: Settings, tmp_path: Path) -> None:
    settings, client = _client(seeded, tmp_path, registration_open=True)
    submit(client, "/register", "/register", email="new@example.org", password=PASSWORD, confirm=PASSWORD)

    with sqlite3.connect(state_path(settings)) as db:
        [(stored,)] = db.execute("SELECT password_hash FROM users").fetchall()
    assert stored.startswith("scrypt:")
    assert PASSWORD not in stored
    assert PASSWORD.encode() not in state_path(settings).read_bytes()


# --- logging in and out -------------------------------------------------------


def test_log_in_then_log_out(client: FlaskClient, instance: Settings) -> None:
    make_user(instance)
    assert client.get("/account").status_code == 302

    answer = log_in(client)
    assert answer.status_code == 302
    account = client.get("/account")
    assert account.status_code == 200
    assert "ana@example.org" in account.text

    out = submit(client, "/", "/logout")
    assert out.status_code == 302
    assert client.get("/account").status_code == 302
    assert not _logged_in(client)


@pytest.mark.parametrize("email", ["ana@example.org", "nobody@example.org"])
def test_a_wrong_password_or_address_gets_one_message(client: FlaskClient, instance: Settings, email: str) -> None:
    make_user(instance)
    answer = log_in(client, email=email, password="not the password")

    assert answer.status_code == 400
    assert "Wrong e-mail address or password." in answer.text
    assert not _logged_in(client)


def test_a_deleted_account_is_logged_out(client: FlaskClient, instance: Settings) -> None:
    make_user(instance)
    log_in(client)
    remove_user(instance, "ana@example.org")
    assert client.get("/account").status_code == 302


def test_a_post_without_the_csrf_token_is_refused(client: FlaskClient, instance: Settings) -> None:
    make_user(instance)
    forged_login = client.post("/login", data={"email": "ana@example.org", "password": PASSWORD})
    assert forged_login.status_code == 400
    assert not _logged_in(client)

    log_in(client)
    assert client.post("/logout").status_code == 400
    assert client.post("/account", data={"timezone": "Asia/Tokyo"}).status_code == 400
    assert _logged_in(client)
    assert get_user(instance, find_user(instance, "ana@example.org").id).timezone == "UTC"


def test_logout_is_never_a_get(client: FlaskClient, instance: Settings) -> None:
    make_user(instance)
    log_in(client)
    assert client.get("/logout").status_code == 405
    assert _logged_in(client)


def test_the_session_cookie_is_httponly_and_samesite_lax(client: FlaskClient, instance: Settings) -> None:
    make_user(instance)
    cookie = log_in(client).headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_secure_cookies_setting_marks_the_session_cookie_secure(seeded: Settings, tmp_path: Path) -> None:
    settings, client = _client(seeded, tmp_path, secure_cookies=True)
    make_user(settings)
    assert "Secure" in log_in(client).headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("asked", "landing"),
    [
        ("/saved", "/saved"),
        ("/?q=Kosovo&actor=Q58217", "/?q=Kosovo&actor=Q58217"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/\t/evil.example/", "/"),
        ("", "/"),
    ],
)
def test_after_login_next_goes_only_to_a_path_of_this_site(
    client: FlaskClient, instance: Settings, asked: str, landing: str
) -> None:
    make_user(instance)
    answer = log_in(client, next_url=asked)
    assert answer.status_code == 302
    assert answer.headers["Location"] == landing


# --- the account page ---------------------------------------------------------


def test_the_account_page_sets_the_time_zone_of_digests(client: FlaskClient, instance: Settings) -> None:
    user = make_user(instance)
    log_in(client)
    assert submit(client, "/account", "/account", timezone="Europe/Belgrade").status_code == 302
    assert get_user(instance, user.id).timezone == "Europe/Belgrade"
    assert '<option selected value="Europe/Belgrade">' in client.get("/account").text

    refused = submit(client, "/account", "/account", timezone="Mars/Olympus_Mons")
    assert refused.status_code == 400
    assert "Not a valid choice" in refused.text
    assert get_user(instance, user.id).timezone == "Europe/Belgrade"


# --- the login gate -----------------------------------------------------------


def test_searching_is_open_to_anyone_by_default(client: FlaskClient) -> None:
    assert client.get("/?q=Kosovo").status_code == 200
    assert client.get("/api/search?q=Kosovo").get_json()["total"] == 5
    assert client.get("/search.atom?q=Kosovo").status_code == 200
    assert "Log in to save this search" in client.get("/?q=Kosovo").text


def test_search_requires_login_closes_pages_api_and_atom(seeded: Settings, tmp_path: Path) -> None:
    settings, client = _client(seeded, tmp_path, search_requires_login=True)
    make_user(settings)
    article_id = make_app(seeded).test_client().get("/api/search?q=Kosovo").get_json()["hits"][0]["id"]

    page = client.get("/?q=Kosovo")
    assert page.status_code == 302
    assert page.headers["Location"] == "/login?next=/?q%3DKosovo"
    for path in (f"/articles/{article_id}", "/actors/Q58217", "/sources", "/saved"):
        assert client.get(path).status_code == 302, path
    api = client.get("/api/search?q=Kosovo")
    assert api.status_code == 401
    assert set(api.get_json()) == {"error", "hint"}
    assert client.get(f"/api/articles/{article_id}").status_code == 401
    assert client.get("/search.atom?q=Kosovo").status_code == 401

    # The way in stays open, and so do links authorised by their own token.
    assert client.get("/login").status_code == 200
    assert client.get("/static/newsdesk.css").status_code == 200
    assert client.get("/feeds/not-a-token.atom").status_code != 302

    log_in(client, next_url="/?q=Kosovo")
    assert client.get("/?q=Kosovo").status_code == 200
    assert client.get("/api/search?q=Kosovo").get_json()["total"] == 5
