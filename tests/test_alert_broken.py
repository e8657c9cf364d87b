"""One saved search that cannot run delays nobody else's alerts.

A saved search's query is checked when it is saved, but a row from before
a rule changed (or from before the check existed) can still hold one the
parser refuses, and a bug of ours could fail on one query only. Either way
that search is marked broken with its reason, shown to its owner, and every
other alert runs.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from conftest import make_settings
from search.alerts import add_user, delivery_summaries, run_alerts
from search.alerts.saved import save_search, saved_db
from search.enrich import Gazetteer, enrich
from search.index import write_articles
from search.query import percolate as percolation
from search.records import Article, SavedSearch, SearchQuery
from search.settings import Settings
from webforms import PASSWORD, log_in, make_app


def _instance(seeded: Settings, tmp_path: Path) -> Settings:
    shutil.copytree(seeded.index, tmp_path / "instance")
    return make_settings(tmp_path / "instance")


def _feed_alert(settings: Settings, address: str, q: str = "Lavrov") -> SavedSearch:
    user = add_user(settings, address, PASSWORD)
    return save_search(settings, user.id, f"on {q}", SearchQuery(q=q), email=False, feed=True)


def _new_article(settings: Settings, gazetteer: Gazetteer) -> None:
    text = "Sergey Lavrov met Serbian officials in Belgrade to discuss Kosovo and oil."
    write_articles([enrich(Article(id="f" * 20, title="Lavrov in Belgrade", text=text, origin="t:1"), gazetteer, 0)],
                   settings)


@pytest.mark.parametrize("stored_query", ["published:[a to b]", "nosuchfield:oil", "(oil"])
def test_a_stored_query_the_parser_refuses_marks_that_search_broken_and_the_others_run(
    seeded: Settings, tmp_path: Path, gazetteer: Gazetteer, stored_query: str
) -> None:
    settings = _instance(seeded, tmp_path)
    broken = _feed_alert(settings, "old@example.org", "oil")
    with saved_db(settings) as db, db:  # a row written before queries were checked on saving
        db.execute("UPDATE saved_searches SET q = ? WHERE id = ?", (stored_query, broken.id))
    healthy = [_feed_alert(settings, f"user{n}@example.org") for n in range(3)]
    _new_article(settings, gazetteer)

    report = run_alerts(settings, gazetteer=gazetteer)

    assert (report.evaluated, report.broken, report.matched) == (4, 1, 3)
    summaries = delivery_summaries(settings, [broken.id, *(s.id for s in healthy)])
    assert [summaries[s.id].articles for s in healthy] == [1, 1, 1]
    assert summaries[broken.id].broken and all(summaries[s.id].broken is None for s in healthy)

    client = make_app(settings).test_client()
    log_in(client, "old@example.org")
    assert "This search could not run" in client.get("/saved").get_data(as_text=True)


def test_a_bug_of_ours_on_one_search_is_logged_as_an_error_and_the_others_run(
    seeded: Settings, tmp_path: Path, gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _instance(seeded, tmp_path)
    failing, healthy = _feed_alert(settings, "a@example.org", "oil"), _feed_alert(settings, "b@example.org")
    matching = percolation.matching

    def fails_on_oil(searcher, query, settings):  # type: ignore[no-untyped-def]
        if query.q == "oil":
            raise IndexError("a bug of ours")
        return matching(searcher, query, settings)

    monkeypatch.setattr(percolation, "matching", fails_on_oil)
    _new_article(settings, gazetteer)
    report = run_alerts(settings, gazetteer=gazetteer, now=dt.datetime.now(dt.UTC))

    assert (report.evaluated, report.broken, report.matched) == (2, 1, 1)
    assert delivery_summaries(settings, [healthy.id])[healthy.id].articles == 1
    assert "IndexError" in (delivery_summaries(settings, [failing.id])[failing.id].broken or "")
    assert any(r.levelname == "ERROR" and r.exc_info for r in caplog.records)

    monkeypatch.setattr(percolation, "matching", matching)  # fixed: the next run clears the mark
    run_alerts(settings, gazetteer=gazetteer)
    assert delivery_summaries(settings, [failing.id])[failing.id].broken is None


@pytest.mark.parametrize("q", ["NOT NOT oil", "published:[a to b]", "(oil", "nosuchfield:oil", "*"])
def test_the_command_line_refuses_to_save_a_query_that_cannot_run(
    seeded: Settings, tmp_path: Path, q: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from web.cli import main

    settings = _instance(seeded, tmp_path)
    add_user(settings, "ana@example.org", PASSWORD)
    code = main(["alerts", "add", "--user", "ana@example.org", "--name", "oil", "--query", q,
                 "--index", str(settings.index)])
    if q == "*":  # every article: a query that runs
        assert code == 0
        return
    assert code == 1 and "Traceback" not in capsys.readouterr().err
    with saved_db(settings) as db:
        assert db.execute("SELECT count(*) FROM saved_searches").fetchone()[0] == 0


def test_a_search_saved_before_a_rule_changed_can_still_be_unsubscribed(seeded: Settings, tmp_path: Path) -> None:
    from search.alerts import update_saved

    settings = _instance(seeded, tmp_path)
    saved = _feed_alert(settings, "old@example.org", "oil")
    with saved_db(settings) as db, db:
        db.execute("UPDATE saved_searches SET q = ? WHERE id = ?", ("published:[a to b]", saved.id))
    assert update_saved(settings, saved.user_id, saved.id, email=False, feed=False).feed is False
