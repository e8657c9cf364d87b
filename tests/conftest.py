"""Shared fixtures: a real Whoosh index built from seeds/ in a temp directory."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from whoosh.searching import Searcher

from search.enrich import Gazetteer, load_gazetteer
from search.index import open_index
from search.ingest import ingest
from search.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SEED_ARTICLES = ROOT / "seeds" / "articles"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: The shared reference data (real pages, feeds, corpus): never shipped, so
#: the tests that use it skip when it is absent.
SHARED = Path(os.environ.get("NEWSDESK_SHARED", ROOT.parent / "shared"))


def make_settings(path: Path, **overrides: object) -> Settings:
    return Settings(index=path, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """An instance directory holding the five seed articles (built once, read-only)."""
    settings = make_settings(tmp_path_factory.mktemp("seeded"))
    ingest([SEED_ARTICLES], settings, progress=False)
    return settings


@pytest.fixture
def searcher(seeded: Settings) -> Iterator[Searcher]:
    with open_index(seeded).searcher() as s:
        yield s


@pytest.fixture(scope="session")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


@pytest.fixture
def app(seeded: Settings) -> Flask:
    from web import create_app

    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": seeded})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    """An empty instance directory of the test's own."""
    return make_settings(tmp_path / "instance")


# --- a real SMTP server for the alert tests ---------------------------------------


class Inbox:
    """An aiosmtpd handler keeping every message it accepts: parsed, and as the bytes on the wire."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # what a mail client gets: check headers here, not in the parsed view

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(bytes(envelope.original_content or envelope.content))
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def ids(self) -> set[str]:
        return {str(m["Message-ID"]) for m in self.messages}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    """An SMTP server on 127.0.0.1 (aiosmtpd), at a free port, for the test's length."""
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


# --- PostgreSQL and Redis for the scale-out backend (issue 19) --------------------------------------------------
# Real servers from Debian's packages (`make test` installs them), started by tests/services.py in temporary
# directories on free loopback ports, once per session and only when a test asks for one: the rest of the suite
# pays nothing. A test that needs an empty database of its own takes `fresh_database`.

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services import Postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """The session's PostgreSQL primary (a ``services.Postgres``): for fixtures that need more than its URL."""
    import services

    services.require(services.MISSING_POSTGRES)
    with services.postgres_primary() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: Postgres) -> str:
    """``postgresql://newsdesk@127.0.0.1:PORT/newsdesk`` on the session's primary: a superuser, no password."""
    return postgres_server.url()


@pytest.fixture(scope="session")
def postgres_replica_url(postgres_server: Postgres) -> Iterator[str]:
    """The ``newsdesk`` database on a hot standby streaming from the session's primary (pg_basebackup), read
    only; ``services.wait_for_replay(postgres_url, postgres_replica_url)`` before reading what was just written."""
    import services

    with services.postgres_replica(postgres_server) as replica:
        yield replica.url()


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    """An empty database of the test's own on the session's primary (dropped after, connections and all)."""
    import uuid

    import psycopg

    import services

    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    yield services.database_url(postgres_url, name)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` on the session's Redis (nothing persisted)."""
    import services

    services.require(services.MISSING_REDIS)
    with services.redis_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def any_state(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """An empty instance whose state is in each engine in turn: SQLite in its directory (the whoosh backend),
    then a PostgreSQL database of its own (the postgres backend; the instance directory still holds what is
    local to it, such as the archive)."""
    if request.param == "postgres":
        url = request.getfixturevalue("fresh_database")
        return make_settings(tmp_path / "instance", backend="postgres", database_url=url)
    return make_settings(tmp_path / "instance")
