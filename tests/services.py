"""Throwaway PostgreSQL and Redis servers for the tests of the scale-out backend (issue 19: PostgreSQL for search
and state, RQ workers on Redis), started from Debian's packages the way tests/loopback.py starts HTTP servers.

Each server lives in a temporary directory of its own, listens on a free port of 127.0.0.1 only, and is stopped
and removed when its context manager exits, so nothing outside the test run sees it and a system PostgreSQL on
5432 or a Redis on 6379 is never used. PostgreSQL refuses to run as root: as root, it runs as the unprivileged
``postgres`` account that Debian's package creates (``nobody`` where there is none), which owns its data
directories; Redis runs as us. Durability is off (fsync, synchronous_commit, full_page_writes): a test's data dies with
its server anyway. ``make test`` installs the packages (its ``services`` target); ``MISSING_POSTGRES`` and
``MISSING_REDIS`` say what is absent, and ``require`` skips or fails on it (see there). The session fixtures
in tests/conftest.py start these lazily, for the tests that ask.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis

HOST = "127.0.0.1"
SUPERUSER = "newsdesk"  # the role initdb creates; the URLs name it, trust auth on loopback needs no password
DATABASE = "newsdesk"  # created on every primary
WAIT = 30.0  # seconds; a safety net, never a pause
ATTEMPTS = 5  # tries at a free port: another process may take the one we probed before the server binds it

# Speed over durability, and what a streaming replica needs from its primary.
POSTGRES_CONF = """
# tests/services.py: a throwaway server for the tests
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = replica
max_wal_senders = 4
hot_standby = on
wal_writer_delay = 10ms  # WAL reaches the replica within milliseconds although commits don't wait for it
log_min_messages = warning
"""


def _postgres_bin() -> Path | None:
    """The directory of initdb, pg_ctl and pg_basebackup, all of one version: Debian's newest
    (/usr/lib/postgresql/<version>/bin, which is not on PATH), else the one of ``pg_ctl`` on PATH."""
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").is_file()]
    if versions:
        return max(versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


POSTGRES_BIN = _postgres_bin()
REDIS_SERVER = shutil.which("redis-server")

MISSING_POSTGRES = (
    None
    if POSTGRES_BIN and all((POSTGRES_BIN / tool).is_file() for tool in ("initdb", "pg_ctl", "pg_basebackup"))
    else "PostgreSQL's initdb/pg_ctl/pg_basebackup not found (Debian's postgresql package)"
)
MISSING_REDIS = None if REDIS_SERVER else "redis-server not found (Debian's redis-server package)"


def require(missing: str | None) -> None:
    """Skip the test for a missing server only on a developer's machine that cannot install it (not root, not
    CI); where ``make test`` installs them (root, or CI) a missing server is a failure, never a silent skip."""
    if missing is None:
        return
    if os.environ.get("CI") or os.geteuid() == 0:
        _fail(f"{missing}: `make services` installs it (`make test` runs it)")
    pytest.skip(f"{missing}: install it, or run `make services` as root")


def _fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


class ServiceError(RuntimeError):
    """A server that would not start, with what it logged."""


def free_port() -> int:
    """A port of 127.0.0.1 that was free a moment ago (the kernel's pick for port 0); callers retry on a clash."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def database_url(server_url: str, database: str) -> str:
    """The same server and role, another database."""
    return urlunsplit(urlsplit(server_url)._replace(path="/" + database))


def on_server(url: str, server_url: str) -> str:
    """``url``'s database on the server of ``server_url``: a database made on the primary, read on a replica."""
    server = urlsplit(server_url)
    return urlunsplit(urlsplit(url)._replace(netloc=server.netloc))


# --- PostgreSQL -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """The unprivileged user the server runs as when the tests run as root."""

    name: str
    uid: int
    gid: int


def server_account() -> Account | None:
    """None when we are not root (the server then runs as us)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return Account(name, entry.pw_uid, entry.pw_gid)
    raise ServiceError("running as root, and neither a 'postgres' nor a 'nobody' account to run PostgreSQL as")


def _tempdir(prefix: str, account: Account | None) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))  # 0700: only the server's account gets in
    if account:
        os.chown(path, account.uid, account.gid)
    return path


def _run(args: list[str], account: Account | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A PostgreSQL tool as the server's account (its cwd ours to read), with PG* variables of a developer's
    shell left out so they cannot point it elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
                          user=account.uid if account else None, group=account.gid if account else None,
                          extra_groups=[] if account else None)


@dataclass
class Postgres:
    """One running server: its directory (data, socket, log), port and account."""

    root: Path
    port: int
    account: Account | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def start(self) -> None:
        """pg_ctl start on a free port; a port taken between the probe and the bind means another try."""
        assert POSTGRES_BIN is not None
        for _ in range(ATTEMPTS):
            self.port = free_port()
            self.log.unlink(missing_ok=True)  # each try's own words, not an earlier clash's
            # pg_ctl hands -o to the server through the shell: the socket directory quoted
            done = _run([str(POSTGRES_BIN / "pg_ctl"), "start", "-w", "-t", str(int(WAIT)), "-D", str(self.data),
                         "-l", str(self.log), "-o", f"-p {self.port} -k {shlex.quote(str(self.root))}"],
                        self.account, self.root)
            if done.returncode == 0:
                return
            logged = self.log.read_text(errors="replace") if self.log.exists() else ""
            if "Address already in use" not in logged:
                raise ServiceError(f"PostgreSQL would not start:\n{done.stdout}{done.stderr}{logged}")
        raise ServiceError(f"PostgreSQL found no free port in {ATTEMPTS} tries")

    def stop(self) -> None:
        """Immediate shutdown (no checkpoint: the data is thrown away next), then the directory goes."""
        assert POSTGRES_BIN is not None
        try:
            if (self.data / "postmaster.pid").exists():
                _run([str(POSTGRES_BIN / "pg_ctl"), "stop", "-w", "-m", "immediate", "-D", str(self.data)],
                     self.account, self.root)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def postgres_primary() -> Iterator[Postgres]:
    """A fresh cluster (initdb: UTF8, C.UTF-8) with the database ``newsdesk``, ready for a streaming replica."""
    assert POSTGRES_BIN is not None
    account = server_account()
    server = Postgres(_tempdir("newsdesk-postgres-", account), 0, account)
    try:
        locale = "C.UTF-8" if Path("/usr/lib/locale/C.utf8").exists() else "C"
        done = _run([str(POSTGRES_BIN / "initdb"), "-D", str(server.data), "-U", SUPERUSER, "--auth=trust",
                     "--encoding=UTF8", f"--locale={locale}", "--no-sync", "--no-instructions"],
                    account, server.root)
        if done.returncode != 0:
            raise ServiceError(f"initdb failed:\n{done.stdout}{done.stderr}")
        with open(server.data / "postgresql.conf", "a") as conf:
            conf.write(POSTGRES_CONF)
        server.start()
        with psycopg.connect(server.url("postgres"), autocommit=True, connect_timeout=int(WAIT)) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        yield server
    finally:
        server.stop()


@contextmanager
def postgres_replica(primary: Postgres) -> Iterator[Postgres]:
    """A hot standby streaming from ``primary``: a base backup (pg_basebackup -R writes the connection to it and
    standby.signal) started on a port of its own. Read-only; see ``wait_for_replay``."""
    assert POSTGRES_BIN is not None
    replica = Postgres(_tempdir("newsdesk-postgres-replica-", primary.account), 0, primary.account)
    try:
        done = _run([str(POSTGRES_BIN / "pg_basebackup"), "-D", str(replica.data), "-h", HOST,
                     "-p", str(primary.port), "-U", SUPERUSER, "-R", "-X", "stream", "--checkpoint=fast",
                     "--no-sync"], replica.account, replica.root)
        if done.returncode != 0:
            raise ServiceError(f"pg_basebackup failed:\n{done.stdout}{done.stderr}")
        replica.start()
        yield replica
    finally:
        replica.stop()


def wait_for_replay(primary_url: str, replica_url: str, timeout: float = WAIT) -> None:
    """Return once the replica has replayed everything the primary has written so far, so a test that wrote on
    the primary reads the same on the replica, deterministically. The target is the primary's WAL insert
    location, not ``pg_current_wal_lsn()`` (the write location): with synchronous_commit off a commit can sit
    in the WAL buffers, past the write location, for up to wal_writer_delay."""
    with psycopg.connect(primary_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
    assert row is not None
    target = row[0]
    deadline = time.monotonic() + timeout
    with psycopg.connect(replica_url, autocommit=True) as conn:
        standby = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        if not (standby and standby[0]):
            raise ServiceError(f"{replica_url} is not a replica (not in recovery): nothing to wait for")
        while True:
            row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn, pg_last_wal_replay_lsn()::text",
                               (target,)).fetchone()
            assert row is not None
            if row[0]:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"replica replayed up to {row[1]} after {timeout}s, primary is at {target}")
            time.sleep(0.005)


# --- Redis ----------------------------------------------------------------------------------------------------


@contextmanager
def redis_server() -> Iterator[str]:
    """A Redis on a free port of 127.0.0.1 with nothing persisted (no RDB, no AOF), in a temporary directory;
    yields its URL once it answers PING. It runs as us (Redis does not refuse root) and as our child."""
    assert REDIS_SERVER is not None
    root = Path(tempfile.mkdtemp(prefix="newsdesk-redis-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(ATTEMPTS):
            port, log = free_port(), root / "redis.log"
            log.unlink(missing_ok=True)
            process = subprocess.Popen(
                [REDIS_SERVER, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
                 "--dir", str(root), "--daemonize", "no", "--logfile", str(log)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root,
            )
            if _answers(port, process):
                yield f"redis://{HOST}:{port}/0"
                return
            process.wait(WAIT)
            logged = log.read_text(errors="replace") if log.exists() else ""
            if "Address already in use" not in logged:
                raise ServiceError(f"redis-server would not start (exit {process.returncode}):\n{logged}")
        raise ServiceError(f"redis-server found no free port in {ATTEMPTS} tries")
    finally:
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(WAIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _answers(port: int, process: subprocess.Popen[bytes]) -> bool:
    """True once PING answers; False if the server exited first (a clash on the port, say)."""
    client = redis.Redis(host=HOST, port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + WAIT
    try:
        while process.poll() is None:
            try:
                if client.ping():
                    return True
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise ServiceError(f"redis-server on port {port} did not answer PING in {WAIT}s") from None
                time.sleep(0.01)
        return False
    finally:
        client.close()
