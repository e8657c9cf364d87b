"""Saved searches on the web: save from a results page, list, rename, edit, delete, revoke the feed.

The real app (CSRF on) over each test's own copy of the seeded instance;
forms are filled from the pages that carry them. Two users, Ana and Boris,
show that one never reaches the other's saved searches.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from search.alerts import find_user
from search.alerts.saved import feed_token, get_saved, list_saved, save_search
from search.ingest import ingest
from search.records import SavedSearch, SearchQuery
from search.settings import Settings
from webforms import csrf_token, log_in, make_app, make_user, own_instance, submit

LAVROV = "Q58217"
RESULTS = f"/?q=Kosovo&actor={LAVROV}&language=en"


@pytest.fixture
def instance(seeded: Settings, tmp_path: Path) -> Settings:
    return own_instance(seeded, tmp_path)


@pytest.fixture
def ana(instance: Settings) -> FlaskClient:
    """Ana, logged in."""
    make_user(instance, "ana@example.org")
    client = make_app(instance).test_client()
    assert log_in(client, "ana@example.org").status_code == 302
    return client


@pytest.fixture
def boris_search(instance: Settings) -> SavedSearch:
    """A saved search of another user, Boris."""
    boris = make_user(instance, "boris@example.org")
    return save_search(instance, boris.id, "Boris private", SearchQuery(q="Serbia", outlet=("RksNews",)))


def _only(instance: Settings, email: str = "ana@example.org") -> SavedSearch:
    [saved] = list_saved(instance, find_user(instance, email).id)
    return saved


def _save(client: FlaskClient, results: str = RESULTS, **changes: str | None) -> None:
    """Save from the results page at ``results``, changing some of the form's fields."""
    answer = submit(client, results, "/saved", **changes)
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"] == "/saved"


def _feed_links(html: str) -> list[str]:
    return re.findall(r'<a href="(http://127\.0\.0\.1:8000/feeds/[A-Za-z0-9_.-]+\.atom)">', html)


# --- saving from a results page -----------------------------------------------


def test_anonymous_readers_get_a_log_in_link_instead_of_the_form(instance: Settings) -> None:
    page = make_app(instance).test_client().get(RESULTS).text
    assert "Log in to save this search" in page
    assert 'action="/saved"' not in page
    assert "/login?next=" in page


def test_save_a_search_with_its_filters_and_alert_options(ana: FlaskClient, instance: Settings) -> None:
    _save(ana, name="Lavrov on Kosovo", frequency="daily", hour="7", email=None, first_of_cluster="y")

    saved = _only(instance)
    assert saved.name == "Lavrov on Kosovo"
    assert saved.query == SearchQuery(q="Kosovo", actor=(LAVROV,), language=("en",))
    assert (saved.frequency, saved.hour, saved.email, saved.feed, saved.first_of_cluster) == ("daily", 7, False, True,
                                                                                                True)
    listing = ana.get("/saved").text
    assert "Saved “Lavrov on Kosovo”." in listing
    assert "Lavrov on Kosovo" in listing
    assert "<q>Kosovo</q>" in listing
    assert "Actor: Sergey Lavrov" in listing
    assert "Language: English" in listing
    assert "daily at 07:00 (UTC time)" in listing
    assert "in its feed, first copy of each story only" in listing

    run = re.search(r'<a class="run" href="([^"]+)">', listing).group(1).replace("&amp;", "&")
    assert run == f"/?q=Kosovo&actor={LAVROV}&language=en"
    assert "<strong>4</strong> articles" in ana.get(run).text


def test_the_name_defaults_to_the_query_text(ana: FlaskClient, instance: Settings) -> None:
    _save(ana, "/?q=Lavrov", name="")
    saved = _only(instance)
    assert saved.name == "Lavrov"
    assert (saved.frequency, saved.email, saved.feed) == ("instant", True, True)


def test_a_query_that_cannot_run_is_refused_with_the_reason(ana: FlaskClient, instance: Settings) -> None:
    answer = submit(ana, "/?q=Kosovo", "/saved", q='"unclosed')
    assert answer.status_code == 400
    assert "phrase is not closed" in answer.text.lower()
    assert 'action="/saved"' in answer.text  # the form again, to fix in place
    assert list_saved(instance) == []


def test_anonymous_post_to_saved_goes_to_login_and_saves_nothing(instance: Settings) -> None:
    client = make_app(instance).test_client()
    token = csrf_token(client.get("/login").text)
    answer = client.post("/saved", data={"csrf_token": token, "q": "Kosovo", "name": "x"})
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=/saved")
    assert list_saved(instance) == []


def test_a_save_without_the_csrf_token_is_refused(ana: FlaskClient, instance: Settings) -> None:
    assert ana.post("/saved", data={"q": "Kosovo", "name": "x"}).status_code == 400
    assert list_saved(instance) == []


# --- changing one ---------------------------------------------------------------


def test_rename_keeps_the_query_and_the_options(ana: FlaskClient, instance: Settings) -> None:
    _save(ana, frequency="weekly", weekday="4")
    before = _only(instance)
    answer = submit(ana, f"/saved/{before.id}/edit", f"/saved/{before.id}/edit", name="Kosovo, Lavrov")

    assert answer.status_code == 302
    after = _only(instance)
    assert after.name == "Kosovo, Lavrov"
    assert (after.query, after.frequency, after.weekday, after.feed_nonce) == (
        before.query, "weekly", 4, before.feed_nonce)
    assert "weekly on Friday at 08:00" in ana.get("/saved").text


def test_edit_changes_the_query_filters_and_options(ana: FlaskClient, instance: Settings) -> None:
    _save(ana)
    saved = _only(instance)
    edit = f"/saved/{saved.id}/edit"
    assert 'name="actor" value="Q58217" checked' in ana.get(edit).text

    # Untick the language filter, keep the actor, change the text and the options.
    answer = submit(ana, edit, edit, q="Kosovo OR Serbia", language=None, frequency="weekly", weekday="2",
                    hour="18", feed=None, email="y")
    assert answer.status_code == 302
    after = _only(instance)
    assert after.query == SearchQuery(q="Kosovo OR Serbia", actor=(LAVROV,))
    assert (after.frequency, after.weekday, after.hour, after.email, after.feed) == ("weekly", 2, 18, True, False)
    assert _feed_links(ana.get("/saved").text) == []  # no feed: no feed address shown


def test_a_refused_edit_changes_nothing(ana: FlaskClient, instance: Settings) -> None:
    _save(ana)
    saved = _only(instance)
    edit = f"/saved/{saved.id}/edit"
    answer = submit(ana, edit, edit, name="x" * 201)
    assert answer.status_code == 400
    assert "Field cannot be longer than 200 characters." in answer.text
    assert _only(instance) == saved


def test_delete(ana: FlaskClient, instance: Settings) -> None:
    _save(ana, name="Gone soon")
    saved = _only(instance)
    answer = submit(ana, "/saved", f"/saved/{saved.id}/delete")
    assert answer.status_code == 302
    assert list_saved(instance) == []
    listing = ana.get("/saved").text
    assert "Deleted “Gone soon”." in listing
    assert "None yet." in listing


def test_revoking_the_feed_changes_its_address(ana: FlaskClient, instance: Settings) -> None:
    _save(ana)
    saved = _only(instance)
    [old] = _feed_links(ana.get("/saved").text)
    assert old == f"{instance.base_url}/feeds/{feed_token(instance, saved)}.atom"

    assert submit(ana, "/saved", f"/saved/{saved.id}/revoke-feed").status_code == 302
    [new] = _feed_links(ana.get("/saved").text)
    assert new != old
    assert new == f"{instance.base_url}/feeds/{feed_token(instance, _only(instance))}.atom"


# --- one user never reaches another's -----------------------------------------


def test_another_users_saved_searches_are_not_listed(ana: FlaskClient, boris_search: SavedSearch) -> None:
    listing = ana.get("/saved").text
    assert "Boris private" not in listing
    assert "None yet." in listing


def test_another_users_saved_search_is_404_for_every_action(
    ana: FlaskClient, instance: Settings, boris_search: SavedSearch
) -> None:
    _save(ana)
    own = _only(instance)
    token = csrf_token(ana.get("/saved").text)
    base = f"/saved/{boris_search.id}"

    assert ana.get(f"{base}/edit").status_code == 404
    edit = ana.post(f"{base}/edit", data={"csrf_token": token, "name": "mine now", "q": "x", "frequency": "instant",
                                          "hour": "8", "weekday": "0"})
    assert edit.status_code == 404
    assert ana.post(f"{base}/delete", data={"csrf_token": token}).status_code == 404
    assert ana.post(f"{base}/revoke-feed", data={"csrf_token": token}).status_code == 404
    assert get_saved(instance, boris_search.user_id, boris_search.id) == boris_search  # untouched
    # Ana's own id works on the same routes: the 404 is about the owner, not the route.
    assert ana.get(f"/saved/{own.id}/edit").status_code == 200


def test_saved_pages_need_a_login(instance: Settings) -> None:
    client = make_app(instance).test_client()
    answer = client.get("/saved")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?next=/saved"
    assert client.get("/saved/1/edit").status_code == 302


def test_the_list_says_what_each_alert_has_delivered(ana: FlaskClient, instance: Settings, tmp_path: Path) -> None:
    user = find_user(instance, "ana@example.org")
    save_search(instance, user.id, "Lavrov", SearchQuery(q="Lavrov"), email=False, feed=True)
    assert "Nothing delivered yet" in ana.get("/saved").text  # the five seeds name Lavrov, but they are old
    story = tmp_path / "new" / "lavrov.txt"
    story.parent.mkdir()
    story.write_text("Lavrov in Belgrade\n\nRussian Foreign Minister Sergey Lavrov arrived in Belgrade on Monday for talks.\n", encoding="utf-8")
    ingest([story.parent], instance, progress=False)  # instant alerts run after the commit
    page = ana.get("/saved").text
    assert re.search(r"1 article\s+delivered, the latest on \d{4}-\d\d-\d\d \d\d:\d\d UTC", page)
