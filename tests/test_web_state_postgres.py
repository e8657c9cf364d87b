"""The web app over a PostgreSQL state (the ``postgres`` backend): accounts, CSRF and saved searches unchanged.

The real app (CSRF on) over a copy of the seeded instance whose state is a
PostgreSQL database of the test's own; the forms are filled from the pages.
What is checked is read back from PostgreSQL itself, so a state quietly
kept in the instance directory instead would fail here.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient

from search.alerts.saved import get_saved, list_saved, save_search
from search.records import SearchQuery
from search.settings import Settings
from search.state import state_path
from webforms import PASSWORD, csrf_token, log_in, make_app, make_user, own_instance, submit


@pytest.fixture
def instance(seeded: Settings, tmp_path: Path, fresh_database: str) -> Settings:
    settings = own_instance(seeded, tmp_path, backend="postgres", database_url=fresh_database,
                            registration_open=True)
    state_path(settings).unlink()  # nothing of the embedded state is left to fall back on
    return settings


def rows(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(settings.database_url) as connection:
        return connection.execute(sql).fetchall()  # type: ignore[arg-type]


def logged_in(client: FlaskClient) -> bool:
    return "Log out</button>" in client.get("/sources").text


def test_a_password_registered_on_the_web_is_stored_in_postgresql_only_as_a_scrypt_hash(instance: Settings) -> None:
    client = make_app(instance).test_client()
    answer = submit(client, "/register", "/register", email="new@example.org", password=PASSWORD, confirm=PASSWORD)
    assert answer.status_code == 302
    [(email, stored)] = rows(instance, "SELECT email, password_hash FROM users")
    assert email == "new@example.org"
    assert str(stored).startswith("scrypt:") and PASSWORD not in str(stored)
    assert log_in(client, "NEW@example.org").status_code == 302 and logged_in(client)
    assert len(rows(instance, "SELECT token_hash FROM sessions")) == 1


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(instance: Settings) -> None:
    make_user(instance)
    client = make_app(instance).test_client()
    assert client.post("/login", data={"email": "ana@example.org", "password": PASSWORD}).status_code == 400
    assert not logged_in(client) and rows(instance, "SELECT * FROM sessions") == []

    assert log_in(client).status_code == 302
    assert client.post("/account", data={"timezone": "Asia/Tokyo"}).status_code == 400
    assert client.post("/saved", data={"q": "Kosovo", "name": "x"}).status_code == 400
    assert rows(instance, "SELECT timezone FROM users") == [("UTC",)]
    assert rows(instance, "SELECT * FROM saved_searches") == []
    token = csrf_token(client.get("/account").text)
    assert client.post("/account", data={"csrf_token": token, "timezone": "Asia/Tokyo"}).status_code in (200, 302)
    assert rows(instance, "SELECT timezone FROM users") == [("Asia/Tokyo",)]


def test_a_user_sees_and_reaches_only_their_own_saved_searches(instance: Settings) -> None:
    ana, boris = make_user(instance, "ana@example.org"), make_user(instance, "boris@example.org")
    theirs = save_search(instance, boris.id, "Boris private", SearchQuery(q="Serbia", outlet=("RksNews",)))
    client = make_app(instance).test_client()
    assert log_in(client, "ana@example.org").status_code == 302

    saved = submit(client, "/?q=Kosovo", "/saved", name="Ana's Kosovo")
    assert saved.status_code == 302 and saved.headers["Location"] == "/saved"
    [mine] = list_saved(instance, ana.id)
    listing = client.get("/saved").text
    assert "Ana&#39;s Kosovo" in listing and "Boris private" not in listing

    token = csrf_token(listing)
    base = f"/saved/{theirs.id}"
    assert client.get(f"{base}/edit").status_code == 404
    assert client.post(f"{base}/delete", data={"csrf_token": token}).status_code == 404
    assert client.post(f"{base}/revoke-feed", data={"csrf_token": token}).status_code == 404
    assert get_saved(instance, boris.id, theirs.id) == theirs  # untouched
    assert client.get(f"/saved/{mine.id}/edit").status_code == 200
    assert sorted(rows(instance, "SELECT user_id, name FROM saved_searches")) == sorted(
        [(ana.id, "Ana's Kosovo"), (boris.id, "Boris private")])
