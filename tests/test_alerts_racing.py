"""Alerts exactly once when runners race or die (search/alerts/schedule.py's lock, search/alerts/outbox.py).

With the ``postgres`` backend several machines run alerts against one
database; the one-run-at-a-time lock is PostgreSQL's advisory lock, and a
runner killed mid-send leaves its message pending for the next. Judged at a
real SMTP server (aiosmtpd) from the bytes it received: each new article
reaches each subscriber exactly once, and a resent message keeps its
Message-ID.

The articles go to the Whoosh index of the instance directory and, numbered
alike, to the PostgreSQL writer's tables, so the runner finds them whichever
reader the backend gives it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, replace
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, Inbox, free_port, make_settings
from search.alerts import add_user, run_alerts
from search.alerts.runner import AlertReport
from search.alerts.saved import save_search
from search.enrich import Gazetteer, enrich
from search.index import write_articles
from search.records import Article, SearchQuery
from search.settings import Settings

SUBSCRIBERS = ("ana@example.org", "boris@example.org", "vesna@example.org")
ROUNDS = 4
LINK = re.compile(r"https://news\.example/articles/([0-9a-f]+)")


class GatedInbox(Inbox):
    """An SMTP server that, while ``gate`` is closed, holds each message it is given until the gate opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.kill: int | None = None  # a process to SIGKILL once a message is in: "after the server accepted"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.to_thread(self.gate.wait, 10)
        answer = await super().handle_DATA(server, session, envelope)
        if self.kill is not None:
            os.kill(self.kill, signal.SIGKILL)
            self.kill = None
        return answer

    def deliveries(self) -> dict[str, Counter[str]]:
        """Per recipient, how many times each article reached them, read from the raw messages."""
        found: dict[str, Counter[str]] = {}
        for raw in self.raw:
            message = message_from_bytes(raw, policy=policy.default)
            text = message.get_body(("plain",))
            assert text is not None
            found.setdefault(str(message["To"]), Counter()).update(set(LINK.findall(str(text.get_content()))))
        return found

    def message_ids(self) -> list[str]:
        return [str(message_from_bytes(raw, policy=policy.default)["Message-ID"]) for raw in self.raw]


@pytest.fixture
def smtp() -> Any:
    from aiosmtpd.controller import Controller

    handler, port = GatedInbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def instance(tmp_path: Path, port: int, database_url: str | None) -> tuple[Settings, Settings]:
    """The articles' settings (Whoosh, with its numbers in SQLite) and the alerts' (state in PostgreSQL when a
    ``database_url`` is given), on one instance directory."""
    articles = make_settings(tmp_path / "instance")
    state = replace(articles, smtp_host="127.0.0.1", smtp_port=port, base_url="https://news.example",
                    mail_from="Newsdesk <alerts@news.example>", alerts_interval=0)
    if database_url:
        state = replace(state, backend="postgres", database_url=database_url)
    return articles, state


def publish(articles: Settings, state: Settings, batch: list[Article]) -> None:
    """Index ``batch`` in the instance's Whoosh index and, with a PostgreSQL state, in PostgreSQL too."""
    write_articles(batch, articles)
    if state.backend == "postgres":
        from search.database import connect
        from search.index.pg_writer import write_articles_pg

        with connect(state.database_url) as connection:
            write_articles_pg(connection, batch)


def stories(gazetteer: Gazetteer, first: int, count: int) -> list[Article]:
    """``count`` new articles naming Lavrov, and one that does not (no one's alert matches it)."""
    found = [Article(id=f"{n:020x}", title=f"Lavrov story number {n}", origin=f"test:{n}", outlet="Wire",
                     text=f"Russian Foreign Minister Sergey Lavrov said on day {n} that talks would go on {n}.")
             for n in range(first, first + count)]
    found.append(Article(id=f"{first + count:020x}", title=f"Weather {first}", origin="test:weather",
                         outlet="Wire", text=f"Rain is expected in Belgrade on day {first}, and wind."))
    return [enrich(article, gazetteer, 0) for article in found]


def subscribe(state: Settings) -> None:
    for address in SUBSCRIBERS:
        user = add_user(state, address, "a long password")
        save_search(state, user.id, "Lavrov", SearchQuery(q="Lavrov"))


def test_two_runners_racing_on_one_postgresql_state_send_each_article_to_each_subscriber_once(
    tmp_path: Path, fresh_database: str, smtp: tuple[GatedInbox, int], gazetteer: Gazetteer
) -> None:
    inbox, port = smtp
    articles, state = instance(tmp_path, port, fresh_database)
    subscribe(state)
    reports: dict[str, list[AlertReport]] = {"first": [], "second": []}
    failures: list[BaseException] = []
    start, done = threading.Barrier(3, timeout=30), threading.Barrier(3, timeout=30)

    def runner(name: str) -> None:
        for _ in range(ROUNDS):
            start.wait()
            try:
                report = run_alerts(state, gazetteer=gazetteer)
            except BaseException as e:  # noqa: BLE001  # reported below, whatever it is
                failures.append(e)
                report = AlertReport()
            reports[name].append(report)
            if report.locked:
                inbox.gate.set()  # the run holding the lock may send now: the other found it held
            done.wait()

    threads = [threading.Thread(target=runner, args=(name,)) for name in reports]
    for thread in threads:
        thread.start()
    published: list[str] = []
    for round_number in range(ROUNDS):
        batch = stories(gazetteer, 100 * round_number + 1, 3)
        publish(articles, state, batch)
        published += [article.id for article in batch if "Lavrov" in article.title]
        # Whichever run takes the lock holds its first message at the server until the other has run and
        # found the lock taken: the two runs overlap every round, however the threads are scheduled.
        inbox.gate.clear()
        start.wait()
        done.wait()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []

    for first, second in zip(reports["first"], reports["second"], strict=True):
        assert sorted([first.locked, second.locked]) == [False, True]  # one ran, the other found it running
    ran = [report for name in reports for report in reports[name] if not report.locked]
    assert sum(report.sent for report in ran) == ROUNDS * len(SUBSCRIBERS)
    assert all(report.pending == 0 for report in ran)
    # Judged at the server: every article to every subscriber, exactly once; no message twice.
    assert inbox.deliveries() == {address: Counter(published) for address in SUBSCRIBERS}
    assert len(set(inbox.message_ids())) == len(inbox.raw) == ROUNDS * len(SUBSCRIBERS)
    assert run_alerts(state, gazetteer=gazetteer).sent == 0


def test_runner_processes_started_together_during_an_ingest_send_each_article_once(
    tmp_path: Path, fresh_database: str, smtp: tuple[GatedInbox, int], gazetteer: Gazetteer
) -> None:
    """The same with processes, as on two machines, started at once against articles arriving meanwhile."""
    inbox, port = smtp
    articles, state = instance(tmp_path, port, fresh_database)
    subscribe(state)
    published: list[str] = []
    for round_number in range(ROUNDS):
        batch = stories(gazetteer, 100 * round_number + 1, 2)
        runners = [_runner(state) for _ in range(2)]  # importing Newsdesk takes them a while: the ingest runs
        publish(articles, state, batch)
        published += [article.id for article in batch if "Lavrov" in article.title]
        for process in runners:
            assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    assert run_alerts(state, gazetteer=gazetteer).pending == 0  # whatever the racing runs left: none
    assert inbox.deliveries() == {address: Counter(published) for address in SUBSCRIBERS}
    assert len(set(inbox.message_ids())) == len(inbox.raw)


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_runner_killed_after_the_server_accepted_leaves_the_message_to_be_resent_as_itself(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest, smtp: tuple[GatedInbox, int], gazetteer: Gazetteer
) -> None:
    inbox, port = smtp
    database_url = request.getfixturevalue("fresh_database") if engine == "postgres" else None
    articles, state = instance(tmp_path, port, database_url)
    subscribe(replace(state))
    batch = stories(gazetteer, 1, 2)
    publish(articles, state, batch)

    process = _runner(state)
    inbox.kill = process.pid  # SIGKILL once the first message is in: before the runner records it sent
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert len(inbox.raw) == 1
    _until_released(state)
    after = run_alerts(state, gazetteer=gazetteer)
    assert (after.locked, after.sent, after.pending) == (False, len(SUBSCRIBERS), 0)
    ids = inbox.message_ids()
    assert len(ids) == len(SUBSCRIBERS) + 1 and len(set(ids)) == len(SUBSCRIBERS)
    assert ids.count(ids[0]) == 2  # the killed run's message again, as itself
    published = Counter(article.id for article in batch if "Lavrov" in article.title)
    deliveries = inbox.deliveries()
    assert sorted(deliveries) == sorted(SUBSCRIBERS)
    assert sorted(counts == published for counts in deliveries.values()).count(True) == len(SUBSCRIBERS) - 1
    assert run_alerts(state, gazetteer=gazetteer).sent == 0


_RUN = """
import json, sys
from pathlib import Path
from search.alerts import run_alerts
from search.settings import Settings
values = json.loads(sys.argv[1])
report = run_alerts(Settings(**{**values, "index": Path(values["index"])}))
print(report)
"""


def _runner(state: Settings) -> subprocess.Popen[str]:
    values = {name: str(value) if isinstance(value, Path) else value for name, value in asdict(state).items()
              if isinstance(value, str | int | float | bool | Path)}
    return subprocess.Popen([sys.executable, "-c", _RUN, json.dumps(values)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _until_released(state: Settings) -> None:
    """Until the killed runner's server session has ended (and its advisory lock with it): PostgreSQL notices a
    closed connection at once, but ends its backend on its own time."""
    if state.backend != "postgres":
        return  # the kernel dropped the process's flock with the process
    import psycopg

    deadline = time.monotonic() + 10
    with psycopg.connect(state.database_url, autocommit=True) as connection:
        while connection.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone() != (0,):
            assert time.monotonic() < deadline, "the killed runner's lock was never released"
            time.sleep(0.05)
