"""The instance's private files are its owner's alone.

``state.sqlite`` holds password hashes, open sessions and e-mail addresses;
like ``secret_key`` it is created with mode 0600 whatever the umask, its WAL
and shared-memory files follow it, and an instance made before this rule is
tightened the next time the database is opened.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import make_settings
from search.alerts import add_user, list_users, secret_key
from search.settings import Settings
from search.state import open_state, state_path


@pytest.fixture
def lax_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: new files world-readable
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_state_database_and_its_companions_are_owner_only(tmp_path: Path, lax_umask: None) -> None:
    settings: Settings = make_settings(tmp_path / "instance")
    add_user(settings, "ana@example.org", "a long password")
    secret_key(settings)
    state = settings.index / "state.sqlite"
    with sqlite3.connect(state) as reader:  # keeps the WAL files in place while we look
        reader.execute("SELECT count(*) FROM users").fetchone()
        files = [state, *(p for p in (state.with_name("state.sqlite-wal"), state.with_name("state.sqlite-shm"))
                          if p.exists())]
        assert len(files) == 3
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert _mode(settings.index / "secret_key") == 0o600


def test_an_older_world_readable_database_is_tightened_when_opened(tmp_path: Path, lax_umask: None) -> None:
    settings: Settings = make_settings(tmp_path / "instance")
    settings.index.mkdir(parents=True)
    state = settings.index / "state.sqlite"
    sqlite3.connect(state).close()
    os.chmod(state, 0o644)
    assert list_users(settings) == []
    assert _mode(state) == 0o600


def test_opening_the_database_again_keeps_the_log_of_the_connections_open(tmp_path: Path) -> None:
    """Opening the state database must not close a descriptor of it: that drops the POSIX locks of this
    process's open connections, and another process closing its connection then deletes the write-ahead
    log they still use (a corrupt database, seen when the index was first written in its own process)."""
    settings: Settings = make_settings(tmp_path / "instance")
    writing = open_state(settings)
    writing.execute("CREATE TABLE notes (n INTEGER)")
    writing.commit()
    open_state(settings).close()  # another stage opening the database meanwhile
    log = state_path(settings).with_name("state.sqlite-wal")
    assert log.exists()
    reader = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
              "c.execute('SELECT count(*) FROM notes').fetchall(); c.close()")
    subprocess.run([sys.executable, "-c", reader, str(state_path(settings))], check=True, timeout=60)
    assert log.exists(), "another process took itself for the last connection and removed the log"
    writing.execute("INSERT INTO notes VALUES (1)")
    writing.commit()
    assert writing.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
