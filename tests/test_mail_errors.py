"""A mail server that fails is the mail server's failure (503), not bad input (400).

``MailError`` says the SMTP server could not be reached or failed for now;
``MailRefused`` (one of them) that it refused one message for good. Neither
is an ``AlertError``, which is what a user typed wrong. Here: what
``send_message`` raises against a real closed port and a real refusing
server (aiosmtpd), what ``newsdesk alerts run`` answers while the server is
down, and that bad alert input still answers 400 on the web.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient

from conftest import Inbox, free_port, make_settings
from search.alerts import MAX_NAME, add_user, delivery_summaries, list_saved, save_search
from search.alerts.mail import send_message
from search.enrich import Gazetteer, enrich
from search.errors import AlertError, MailError, MailRefused
from search.index import write_articles
from search.records import Article, SearchQuery
from search.settings import Settings
from web.cli import main
from webforms import PASSWORD, log_in, make_app, submit


def _message(to: str = "ana@example.org") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "alerts@news.example", to, "Lavrov: 1 new article"
    message.set_content("Lavrov in Belgrade\n")
    return message


class _Refusing:
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.1.1 mailbox unavailable"


@pytest.fixture
def refusing_port() -> Iterator[int]:
    port = free_port()
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


def test_an_unreachable_mail_server_is_a_mail_error_503_not_bad_input(tmp_path: Path) -> None:
    down = make_settings(tmp_path, smtp_host="127.0.0.1", smtp_port=free_port())  # nothing listens there
    with pytest.raises(MailError) as raised:
        send_message(down, _message())
    assert raised.value.status == 503 and not isinstance(raised.value, (AlertError, MailRefused))
    assert f"127.0.0.1:{down.smtp_port}" in raised.value.message


def test_a_refusal_for_good_is_a_mail_error_too_not_bad_input(tmp_path: Path, refusing_port: int) -> None:
    settings = make_settings(tmp_path, smtp_host="127.0.0.1", smtp_port=refusing_port)
    with pytest.raises(MailRefused) as raised:
        send_message(settings, _message("gone@example.org"))
    assert isinstance(raised.value, MailError) and not isinstance(raised.value, AlertError)
    assert "550" in raised.value.message


def test_bad_alert_input_is_still_a_400() -> None:
    assert AlertError.status == 400 and not issubclass(AlertError, MailError)


# --- the command line: newsdesk alerts run ------------------------------------------


def _instance_with_news(seeded: Settings, tmp_path: Path, gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch,
                        port: int) -> Settings:
    """A copy of the seeded instance mailing through ``port``, one e-mail alert on Lavrov, one new Lavrov article."""
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "BASE_URL": "https://news.example",
                        "MAIL_FROM": "alerts@news.example"}.items():
        monkeypatch.setenv(f"NEWSDESK_{name}", value)
    shutil.copytree(seeded.index, tmp_path / "instance")
    settings = make_settings(tmp_path / "instance", smtp_host="127.0.0.1", smtp_port=port)
    user = add_user(settings, "ana@example.org", PASSWORD)
    save_search(settings, user.id, "Lavrov", SearchQuery(q="Lavrov"))
    text = "Sergey Lavrov met Serbian officials in Belgrade on Monday to discuss Kosovo."
    write_articles([enrich(Article(id="a" * 20, title="Lavrov in Belgrade", text=text, origin="t:1"), gazetteer, 0)],
                   settings)  # no commit hook: the run below is the one that sends
    return settings


def test_alerts_run_with_the_mail_server_down_says_so_and_fails_and_the_mail_waits(
    seeded: Settings, tmp_path: Path, gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], inbox: tuple[Inbox, int],
) -> None:
    port = free_port()  # nothing listens there
    settings = _instance_with_news(seeded, tmp_path, gazetteer, monkeypatch, port)
    assert main(["alerts", "run", "--index", str(settings.index)]) == 1
    out, err = capsys.readouterr()
    assert "matched 1, sent 0, pending 1" in out
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"newsdesk: cannot send mail through 127.0.0.1:{port}") and "1 e-mail(s) stay pending" in last
    assert "Traceback" not in err
    saved = list_saved(settings)[0]
    assert delivery_summaries(settings, [saved.id])[saved.id].articles == 1  # the match is recorded

    handler, up = inbox  # the server is back
    monkeypatch.setenv("NEWSDESK_SMTP_PORT", str(up))
    assert main(["alerts", "run", "--index", str(settings.index)]) == 0
    assert "sent 1, pending 0" in capsys.readouterr().out
    assert [str(message["To"]) for message in handler.messages] == ["ana@example.org"]


# --- the web: bad input is still the user's to fix --------------------------------


def test_a_name_too_long_for_a_saved_search_is_still_a_400_on_the_web(seeded: Settings, tmp_path: Path) -> None:
    shutil.copytree(seeded.index, tmp_path / "instance")
    settings = make_settings(tmp_path / "instance")
    add_user(settings, "ana@example.org", PASSWORD)
    client: FlaskClient = make_app(settings).test_client()
    assert log_in(client).status_code == 302
    long_query = " ".join(["Kosovo"] * (MAX_NAME // 6 + 1))  # no name typed: the query would name it
    answer = submit(client, "/?q=Kosovo", "/saved", q=long_query, name="")
    assert answer.status_code == 400 and "needs a name" in answer.text
    assert list_saved(settings) == []
