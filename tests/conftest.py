"""Shared fixtures: a real Whoosh index built from seeds/ in a temp directory."""

from __future__ import annotations

import os
import re
import signal
import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from whoosh.searching import Searcher

from search.enrich import Gazetteer, enrich, load_gazetteer
from search.index import from_stored, open_index
from search.ingest import ingest
from search.records import Article, StoredArticle
from search.settings import Settings

# A suite started in the background (`nohup make test &`) inherits SIGINT ignored, and so would every command a
# test starts: the tests of Ctrl-C (test_parallel_ingest.py, test_crawl_schedule.py) need what a terminal gives.
# A handled signal is reset to its default in a child, where an ignored one stays ignored.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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

    def linked(self, link: re.Pattern[str]) -> Counter[str]:
        """How many messages linked to each article (``link``'s group), read from the raw messages' plain text:
        what "each article once" is judged by."""
        found: Counter[str] = Counter()
        for raw in self.raw:
            text = message_from_bytes(raw, policy=policy.default).get_body(("plain",))
            assert text is not None
            found.update(set(link.findall(str(text.get_content()))))
        return found


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


@contextmanager
def database_on(postgres_url: str) -> Iterator[str]:
    """An empty database of the caller's own on the session's primary, dropped after (connections and all)."""
    import uuid

    import psycopg

    import services

    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        yield services.database_url(postgres_url, name)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    """An empty database of the test's own on the session's primary (dropped after, connections and all)."""
    with database_on(postgres_url) as url:
        yield url


def backend_settings(request: pytest.FixtureRequest, backend: str, path: Path, **overrides: object) -> Settings:
    """Settings of an instance in ``path`` on ``backend``: ``whoosh``, or ``postgres`` with a database of its
    own for as long as the requesting fixture lives (its scope)."""
    if backend == "postgres":
        database = database_on(request.getfixturevalue("postgres_url"))
        request.addfinalizer(lambda: database.__exit__(None, None, None))
        return make_settings(path, backend="postgres", database_url=database.__enter__(), **overrides)
    return make_settings(path, **overrides)


def stored_articles(settings: Settings) -> list[StoredArticle]:
    """Every article the instance stores, read from its backend directly (not through the code under test's
    reader): the oracles' input."""
    if settings.backend == "postgres":
        import psycopg

        from search.index.pg_writer import ROW_COLUMNS, stored_fields

        with psycopg.connect(settings.database_url) as connection:
            cursor = connection.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM articles ORDER BY seq")
            names = [column.name for column in cursor.description or ()]
            return [from_stored(stored_fields(dict(zip(names, row, strict=True)))) for row in cursor]
    with open_index(settings).searcher() as searcher:
        return sorted(map(from_stored, searcher.all_stored_fields()), key=lambda article: article.seq)


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


def lavrov_stories(gazetteer: Gazetteer, first: int, count: int) -> list[Article]:
    """``count`` new articles naming Lavrov (an alert on ``Lavrov`` matches them), and one that does not."""
    found = [Article(id=f"{n:020x}", title=f"Lavrov story number {n}", origin=f"test:{n}", outlet="Wire",
                     text=f"Russian Foreign Minister Sergey Lavrov said on day {n} that talks would go on {n}.")
             for n in range(first, first + count)]
    found.append(Article(id=f"{first + count:020x}", title=f"Weather {first}", origin="test:weather",
                         outlet="Wire", text=f"Rain is expected in Belgrade on day {first}, and wind."))
    return [enrich(article, gazetteer, 0) for article in found]


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, at the top or inside a function (the seams' tests read them)."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found
