"""Accounts and saved searches in the state database: owners, hashes, tokens.

The web pages and the alert runner build on these; here the storage alone,
on a real ``state.sqlite`` in a temporary instance.
"""

from __future__ import annotations

import sqlite3

import pytest

from conftest import SEED_ARTICLES
from search.alerts import add_user, authenticate, list_users, remove_user
from search.alerts.saved import (
    delete_saved,
    feed_token,
    get_saved,
    list_saved,
    revoke_feed,
    save_search,
    saved_by_token,
    unsubscribe_token,
    update_saved,
)
from search.errors import AccountError, AlertError, NotFound
from search.ingest import ingest
from search.records import SearchQuery
from search.settings import Settings

PASSWORD = "correct horse battery"


def test_a_password_is_stored_only_as_a_strong_hash(fresh: Settings) -> None:
    add_user(fresh, "ana@example.org", PASSWORD)
    with sqlite3.connect(fresh.index / "state.sqlite") as db:
        (stored,) = db.execute("SELECT password_hash FROM users").fetchone()
    assert PASSWORD not in stored and stored.startswith("scrypt:")


def test_logging_in_checks_the_password_and_ignores_the_case_of_the_address(fresh: Settings) -> None:
    user = add_user(fresh, "Ana@Example.org", PASSWORD)
    assert authenticate(fresh, "ana@example.org", PASSWORD).id == user.id
    for email, password in [("ana@example.org", "wrong password"), ("bob@example.org", PASSWORD)]:
        with pytest.raises(AccountError, match="wrong e-mail address or password"):
            authenticate(fresh, email, password)


@pytest.mark.parametrize(("email", "password", "timezone", "message"), [
    ("not-an-address", PASSWORD, "UTC", "not an e-mail address"),
    ("ana@example.org", "short", "UTC", "shorter than 8"),
    ("ana@example.org", PASSWORD, "Mars/Olympus", "unknown time zone"),
])
def test_bad_account_input_is_refused_with_a_reason(fresh: Settings, email: str, password: str, timezone: str,
                                                    message: str) -> None:
    with pytest.raises(AccountError, match=message):
        add_user(fresh, email, password, timezone)


def test_one_account_per_address(fresh: Settings) -> None:
    add_user(fresh, "ana@example.org", PASSWORD)
    with pytest.raises(AccountError, match="already has an account"):
        add_user(fresh, "ANA@example.org", PASSWORD)
    assert [u.email for u in list_users(fresh)] == ["ana@example.org"]


def test_a_saved_search_keeps_its_query_filters_and_options(fresh: Settings) -> None:
    user = add_user(fresh, "ana@example.org", PASSWORD)
    query = SearchQuery(q=" Lavrov ", outlet=("Sputnik",), actor=("Q58217",), page=3, sort="date")
    saved = save_search(fresh, user.id, "  Lavrov  in   Sputnik ", query, frequency="daily", hour=7, email=False)
    again = get_saved(fresh, user.id, saved.id)
    assert again == saved
    assert again.name == "Lavrov in Sputnik"
    assert again.query == SearchQuery(q="Lavrov", outlet=("Sputnik",), actor=("Q58217",))  # no paging or sort
    assert (again.frequency, again.hour, again.email, again.feed) == ("daily", 7, False, True)


def test_a_new_saved_search_starts_at_the_current_ingest_number(fresh: Settings) -> None:
    user = add_user(fresh, "ana@example.org", PASSWORD)
    assert save_search(fresh, user.id, "before", SearchQuery(q="kosovo")).watermark == 0
    ingest([SEED_ARTICLES], fresh, progress=False)
    assert save_search(fresh, user.id, "after", SearchQuery(q="kosovo")).watermark == 5  # no backfill


def test_another_users_saved_search_does_not_exist_for_you(fresh: Settings) -> None:
    ana = add_user(fresh, "ana@example.org", PASSWORD)
    bob = add_user(fresh, "bob@example.org", PASSWORD)
    saved = save_search(fresh, ana.id, "Ana's", SearchQuery(q="kosovo"))
    for attempt in (lambda: get_saved(fresh, bob.id, saved.id), lambda: update_saved(fresh, bob.id, saved.id, name="x"),
                    lambda: delete_saved(fresh, bob.id, saved.id), lambda: revoke_feed(fresh, bob.id, saved.id)):
        with pytest.raises(NotFound):
            attempt()
    assert list_saved(fresh, bob.id) == [] and get_saved(fresh, ana.id, saved.id).name == "Ana's"


def test_editing_renames_and_checks_options_but_keeps_the_watermark(fresh: Settings) -> None:
    user = add_user(fresh, "ana@example.org", PASSWORD)
    saved = save_search(fresh, user.id, "one", SearchQuery(q="kosovo"))
    edited = update_saved(fresh, user.id, saved.id, name="two", query=SearchQuery(q="serbia"), frequency="weekly")
    assert (edited.name, edited.query.q, edited.frequency, edited.watermark) == ("two", "serbia", "weekly", 0)
    for bad in ({"frequency": "hourly"}, {"hour": 24}, {"name": "  "}, {"watermark": 0}):
        with pytest.raises(AlertError):
            update_saved(fresh, user.id, saved.id, **bad)


def test_feed_tokens_are_signed_scoped_and_revocable(fresh: Settings) -> None:
    user = add_user(fresh, "ana@example.org", PASSWORD)
    saved = save_search(fresh, user.id, "one", SearchQuery(q="kosovo"))
    token = feed_token(fresh, saved)
    assert saved_by_token(fresh, "feed", token).id == saved.id
    with pytest.raises(NotFound):
        saved_by_token(fresh, "unsubscribe", token)  # a feed token is not an unsubscribe link
    with pytest.raises(NotFound):
        saved_by_token(fresh, "feed", token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    renewed = revoke_feed(fresh, user.id, saved.id)
    with pytest.raises(NotFound, match="revoked"):
        saved_by_token(fresh, "feed", token)
    assert saved_by_token(fresh, "feed", feed_token(fresh, renewed)).id == saved.id
    assert saved_by_token(fresh, "unsubscribe", unsubscribe_token(fresh, renewed)).id == saved.id


def test_removing_a_user_removes_their_saved_searches(fresh: Settings) -> None:
    user = add_user(fresh, "ana@example.org", PASSWORD)
    save_search(fresh, user.id, "one", SearchQuery(q="kosovo"))
    remove_user(fresh, "ana@example.org")
    assert list_saved(fresh) == [] and list_users(fresh) == []


def test_an_edit_never_moves_the_alert_runners_watermark(fresh: Settings) -> None:
    user = add_user(fresh, "ana@example.org", PASSWORD)
    saved = save_search(fresh, user.id, "one", SearchQuery(q="kosovo"))
    stale = get_saved(fresh, user.id, saved.id)  # read by a web request...
    with sqlite3.connect(fresh.index / "state.sqlite") as db:  # ...while the runner advances the watermark
        db.execute("UPDATE saved_searches SET watermark = 42, last_run = '2026-01-01T00:00:00+00:00'")
    update_saved(fresh, user.id, stale.id, name="renamed")
    revoke_feed(fresh, user.id, stale.id)
    after = get_saved(fresh, user.id, saved.id)
    assert (after.name, after.watermark, after.last_run is not None) == ("renamed", 42, True)
