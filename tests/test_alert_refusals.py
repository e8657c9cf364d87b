"""One undeliverable address delays nobody else's alerts.

A real SMTP server (aiosmtpd) that refuses one recipient with a 550 and
offers no SMTPUTF8 (so an internationalised address cannot be sent): the
refused messages are recorded, tried again later with a growing wait, shown
on their owner's saved-searches page, and every other message goes out in
the same run. A server that is down is another matter: the run stops and
everything stays pending.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from conftest import free_port, make_settings
from search.alerts import add_user, run_alerts, save_search
from search.alerts.outbox import MAX_REFUSALS, delivery_summaries
from search.enrich import Gazetteer, enrich
from search.index import write_articles
from search.records import Article, SavedSearch, SearchQuery
from search.settings import Settings

REFUSED = "gone@example.org"


class _RefusingInbox:
    """Accepts every recipient but one, which gets a permanent 550."""

    def __init__(self) -> None:
        self.to: list[str] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address == REFUSED:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.to.append(str(message_from_bytes(envelope.content, policy=policy.default)["To"]))
        return "250 Message accepted for delivery"


@pytest.fixture
def refusing() -> Iterator[tuple[_RefusingInbox, int]]:
    handler, port = _RefusingInbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    yield handler, port
    controller.stop()


HEALTHY = [f"user{n}@example.org" for n in range(5)]


@pytest.fixture
def now() -> dt.datetime:
    """A moment just after the test's alerts are saved: they are due then."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=1)


def _instance(seeded: Settings, tmp_path: Path, port: int) -> Settings:
    shutil.copytree(seeded.index, tmp_path / "instance")
    return make_settings(tmp_path / "instance", smtp_host="127.0.0.1", smtp_port=port,
                         base_url="https://news.example", mail_from="Newsdesk <alerts@news.example>")


def _alert(settings: Settings, address: str) -> SavedSearch:
    user = add_user(settings, address, "a long password")
    return save_search(settings, user.id, "Lavrov", SearchQuery(q="Lavrov"))


def _new_article(settings: Settings, gazetteer: Gazetteer, n: int) -> None:
    text = f"Sergey Lavrov met Serbian officials in Belgrade on day {n} to discuss Kosovo."
    write_articles([enrich(Article(id=f"{n:020x}", title=f"Lavrov in Belgrade {n}", text=text, origin=f"t:{n}"),
                           gazetteer, 0)], settings)


def test_a_refused_recipient_delays_nobody_else(
    seeded: Settings, tmp_path: Path, refusing: tuple[_RefusingInbox, int], gazetteer: Gazetteer, now: dt.datetime
) -> None:
    inbox, port = refusing
    settings = _instance(seeded, tmp_path, port)
    # The undeliverable ones are saved first, so they are first in the queue.
    refused, unsendable = _alert(settings, REFUSED), _alert(settings, "žana@example.org")
    _ = [_alert(settings, address) for address in HEALTHY]
    _new_article(settings, gazetteer, 1)

    report = run_alerts(settings, now=now, gazetteer=gazetteer)

    assert sorted(inbox.to) == HEALTHY
    assert (report.sent, report.refused, report.mail_failed) == (5, 2, False)
    summaries = delivery_summaries(settings, [refused.id, unsendable.id])
    assert summaries[refused.id].refused is not None and "550" in summaries[refused.id].refused
    assert summaries[unsendable.id].refused is not None and "SMTPUTF8" in summaries[unsendable.id].refused
    assert summaries[refused.id].retry_at == now + dt.timedelta(hours=1)


def test_a_refused_message_is_tried_again_later_less_and_less_often_then_given_up(
    seeded: Settings, tmp_path: Path, refusing: tuple[_RefusingInbox, int], gazetteer: Gazetteer, now: dt.datetime
) -> None:
    inbox, port = refusing
    settings = _instance(seeded, tmp_path, port)
    refused = _alert(settings, REFUSED)
    _new_article(settings, gazetteer, 1)
    assert run_alerts(settings, now=now, gazetteer=gazetteer).refused == 1

    assert run_alerts(settings, now=now + dt.timedelta(minutes=59), gazetteer=gazetteer).refused == 0  # not yet
    moment, waits = now, []
    for _ in range(MAX_REFUSALS - 1):
        retry_at = delivery_summaries(settings, [refused.id])[refused.id].retry_at
        assert retry_at is not None
        waits.append(retry_at - moment)
        moment = retry_at
        assert run_alerts(settings, now=moment, gazetteer=gazetteer).refused == 1
    assert waits == [dt.timedelta(hours=h) for h in (1, 2, 4, 8, 16)]
    summary = delivery_summaries(settings, [refused.id])[refused.id]
    assert summary.refused is not None and summary.retry_at is None  # given up
    assert run_alerts(settings, now=moment + dt.timedelta(days=30), gazetteer=gazetteer).refused == 0
    assert inbox.to == []


def test_a_server_that_is_down_stops_the_run_and_everything_waits(
    seeded: Settings, tmp_path: Path, gazetteer: Gazetteer, now: dt.datetime
) -> None:
    settings = _instance(seeded, tmp_path, free_port())  # nothing listens there
    for address in HEALTHY[:3]:
        _alert(settings, address)
    _new_article(settings, gazetteer, 1)
    report = run_alerts(settings, now=now, gazetteer=gazetteer)
    assert (report.sent, report.refused, report.mail_failed, report.pending) == (0, 0, True, 3)


def test_the_owner_sees_the_refusal_on_the_saved_searches_page(
    seeded: Settings, tmp_path: Path, refusing: tuple[_RefusingInbox, int], gazetteer: Gazetteer, now: dt.datetime
) -> None:
    from webforms import PASSWORD, log_in, make_app

    _, port = refusing
    settings = _instance(seeded, tmp_path, port)
    user = add_user(settings, REFUSED, PASSWORD)
    save_search(settings, user.id, "Lavrov", SearchQuery(q="Lavrov"))
    _new_article(settings, gazetteer, 1)
    run_alerts(settings, now=now, gazetteer=gazetteer)

    client = make_app(settings).test_client()
    log_in(client, REFUSED)
    page = client.get("/saved").get_data(as_text=True)
    assert "E-mail refused" in page and "550 5.1.1 mailbox unavailable" in page
    assert f"Tried again after {(now + dt.timedelta(hours=1)):%Y-%m-%d %H:%M} UTC" in page
