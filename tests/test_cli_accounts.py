"""``newsdesk users`` and ``newsdesk alerts``: administration from a terminal, for scripts.

Run as a user would, through ``main``; the password arrives on standard
input, never as an argument (it would show in ``ps`` and shell history).
"""

from __future__ import annotations

import fcntl
import io
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest

from conftest import Inbox
from search.alerts import authenticate, list_saved, saved_by_token, update_saved
from search.settings import Settings, load_settings
from web.cli import main

Capture = pytest.CaptureFixture[str]


def add_user(fresh: Settings, monkeypatch: pytest.MonkeyPatch, email: str = "ana@example.org") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    return main(["users", "add", email, "--timezone", "Europe/Belgrade", "--index", str(fresh.index)])


def test_users_add_reads_the_password_from_standard_input(fresh: Settings, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: Capture) -> None:
    assert add_user(fresh, monkeypatch) == 0
    assert "added ana@example.org" in capsys.readouterr().out
    assert authenticate(fresh, "ana@example.org", "correct horse battery").timezone == "Europe/Belgrade"
    assert main(["users", "list", "--index", str(fresh.index)]) == 0
    assert "ana@example.org\tEurope/Belgrade" in capsys.readouterr().out


def test_users_add_refuses_a_short_password_and_a_taken_address(fresh: Settings, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: Capture) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "ana@example.org", "--index", str(fresh.index)]) == 1
    assert "shorter than 8" in capsys.readouterr().err
    add_user(fresh, monkeypatch)
    assert add_user(fresh, monkeypatch) == 1
    assert "already has an account" in capsys.readouterr().err


def test_alerts_add_prints_the_new_id_last_and_list_feed_url_remove_use_it(
    fresh: Settings, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    add_user(fresh, monkeypatch)
    capsys.readouterr()
    args = ["alerts", "add", "--user", "ana@example.org", "--name", "Lavrov", "--query", "Lavrov",
            "--outlet", "Sputnik", "--actor", "Q58217", "--frequency", "daily", "--email", "--index", str(fresh.index)]
    assert main(args) == 0
    saved_id = int(capsys.readouterr().out.strip().splitlines()[-1])
    (saved,) = list_saved(fresh)
    assert saved.id == saved_id
    assert (saved.query.q, saved.query.outlet, saved.query.actor) == ("Lavrov", ("Sputnik",), ("Q58217",))
    assert (saved.frequency, saved.email, saved.feed) == ("daily", True, False)

    assert main(["alerts", "list", "--index", str(fresh.index)]) == 0
    assert f"{saved_id}\tana@example.org\tLavrov\tLavrov outlet:Sputnik actor:Q58217\tdaily\temail" in \
        capsys.readouterr().out
    assert main(["alerts", "feed-url", str(saved_id), "--index", str(fresh.index)]) == 1  # e-mail only: no feed
    assert "has its feed turned off" in capsys.readouterr().err
    update_saved(fresh, saved.user_id, saved.id, feed=True)
    assert main(["alerts", "feed-url", str(saved_id), "--index", str(fresh.index)]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("http://127.0.0.1:8000/feeds/") and url.endswith(".atom")
    assert saved_by_token(fresh, "feed", url.rsplit("/", 1)[1].removesuffix(".atom")).id == saved_id
    assert main(["alerts", "remove", str(saved_id), "--index", str(fresh.index)]) == 0
    assert list_saved(fresh) == []


def test_alerts_add_without_a_delivery_flag_delivers_both_ways(fresh: Settings, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: Capture) -> None:
    add_user(fresh, monkeypatch)
    assert main(["alerts", "add", "--user", "ana@example.org", "--name", "K", "--query", "Kosovo",
                 "--index", str(fresh.index)]) == 0
    (saved,) = list_saved(fresh)
    assert (saved.frequency, saved.email, saved.feed) == ("instant", True, True)


@pytest.mark.parametrize(("args", "message"), [
    (["alerts", "add", "--user", "nobody@example.org", "--name", "K", "--query", "Kosovo"], "no user"),
    (["alerts", "add", "--user", "ana@example.org", "--name", "K", "--query", "Kosovo", "--hour", "25"], "hour"),
    (["alerts", "remove", "99"], "no saved search 99"),
    (["alerts", "feed-url", "99"], "no saved search 99"),
    (["users", "remove", "nobody@example.org"], "no user"),
])
def test_bad_administration_input_is_one_line_and_exit_1(fresh: Settings, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: Capture, args: list[str], message: str) -> None:
    add_user(fresh, monkeypatch)
    assert main([*args, "--index", str(fresh.index)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_users_remove_takes_their_saved_searches_along(fresh: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    add_user(fresh, monkeypatch)
    main(["alerts", "add", "--user", "ana@example.org", "--name", "K", "--query", "Kosovo", "--index", str(fresh.index)])
    assert main(["users", "remove", "ana@example.org", "--index", str(fresh.index)]) == 0
    with sqlite3.connect(fresh.index / "state.sqlite") as db:
        assert db.execute("SELECT count(*) FROM saved_searches").fetchone() == (0,)


def test_the_lavrov_alert_from_the_command_line(
    seeded: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inbox: tuple[Inbox, int], capsys: Capture
) -> None:
    """The issue's "done when", as an administrator scripts it: one e-mail saying why, nothing more, in the feed."""
    handler, port = inbox
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "BASE_URL": "https://news.example",
                        "MAIL_FROM": "alerts@news.example"}.items():
        monkeypatch.setenv(f"NEWSDESK_{name}", value)
    instance = tmp_path / "instance"
    shutil.copytree(seeded.index, instance)  # five seed articles, four naming Lavrov: none may be sent
    settings = load_settings(index=instance)
    add_user(settings, monkeypatch)
    assert main(["alerts", "add", "--user", "ana@example.org", "--name", "Lavrov", "--query", "Lavrov",
                 "--frequency", "instant", "--email", "--feed", "--index", str(instance)]) == 0
    saved_id = int(capsys.readouterr().out.strip().splitlines()[-1])

    story = tmp_path / "new" / "lavrov.txt"
    story.parent.mkdir()
    story.write_text("From: Staff\nLavrov to visit Belgrade\n\nRussian Foreign Minister Sergey Lavrov will visit "
                     "Belgrade next week for talks on Kosovo, the ministry said on Monday.\n", encoding="utf-8")
    assert main(["ingest", str(story.parent), "--index", str(instance)]) == 0  # instant alerts run after the commit
    assert len(handler.messages) == 1
    message = handler.messages[0]
    assert message["To"] == "ana@example.org" and "Lavrov to visit Belgrade" in str(message["Subject"]) + \
        message.get_body(("plain",)).get_content()
    assert "Why: words: “Lavrov”" in message.get_body(("plain",)).get_content()

    assert main(["alerts", "run", "--index", str(instance)]) == 0
    assert main(["ingest", str(story.parent), "--index", str(instance)]) == 0  # the same file again
    assert main(["alerts", "run", "--index", str(instance)]) == 0
    assert "sent 0" in capsys.readouterr().out
    assert len(handler.messages) == 1

    assert main(["alerts", "feed-url", str(saved_id), "--index", str(instance)]) == 0
    path = urlsplit(capsys.readouterr().out.strip()).path
    from web import create_app

    feed = feedparser.parse(create_app({"NEWSDESK_SETTINGS": settings}).test_client().get(path).data)
    assert not feed.bozo and [entry.title for entry in feed.entries] == ["Lavrov to visit Belgrade"]


def test_alerts_run_says_when_another_run_holds_the_lock(fresh: Settings, capsys: Capture) -> None:
    fresh.index.mkdir(parents=True)
    with (fresh.index / "alerts.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(["alerts", "run", "--index", str(fresh.index)]) == 0
    assert "another alert run is under way" in capsys.readouterr().out
