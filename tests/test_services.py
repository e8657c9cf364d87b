"""The real PostgreSQL and Redis the scale-out backend's tests run against (tests/services.py, the fixtures in
tests/conftest.py): what a test can rely on when it asks for ``postgres_url``, ``postgres_replica_url``,
``fresh_database`` or ``redis_url``."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
from rq import Queue, SimpleWorker
from rq.job import JobStatus

import services


def words(text: str) -> int:
    """An RQ job: a module-level function, so the worker finds it by its dotted name (test_services.words)."""
    return len(text.split())


def test_a_table_written_on_the_primary_is_read_back(fresh_database: str) -> None:
    with psycopg.connect(fresh_database) as conn:
        conn.execute("CREATE TABLE articles (id serial PRIMARY KEY, title text NOT NULL)")
        conn.execute("INSERT INTO articles (title) VALUES (%s), (%s)", ("Vučić in Brussels", "Переговоры в Брюсселе"))
        conn.commit()
    with psycopg.connect(fresh_database) as conn:
        titles = [row[0] for row in conn.execute("SELECT title FROM articles ORDER BY id")]
        server = conn.execute("SELECT host(inet_server_addr()), inet_server_port(), "
                              "current_setting('server_encoding')").fetchone()
    assert titles == ["Vučić in Brussels", "Переговоры в Брюсселе"]
    # The test's own server on loopback, never a system PostgreSQL on the default port.
    assert server is not None and server[0] == "127.0.0.1" and server[1] != 5432 and server[2] == "UTF8"


def test_each_test_gets_an_empty_database_of_its_own(fresh_database: str, postgres_url: str) -> None:
    with psycopg.connect(fresh_database) as conn:
        row = conn.execute("SELECT current_database(), "
                           "(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')").fetchone()
    assert row is not None
    name, tables = row
    assert name.startswith("test_") and name != "newsdesk" and tables == 0
    assert fresh_database == services.database_url(postgres_url, name)


def test_a_row_written_on_the_primary_is_read_on_the_replica(postgres_url: str, postgres_replica_url: str) -> None:
    token = uuid.uuid4().hex
    with psycopg.connect(postgres_url, autocommit=True) as primary:
        primary.execute("CREATE TABLE IF NOT EXISTS replicated (token text PRIMARY KEY)")
        primary.execute("INSERT INTO replicated VALUES (%s)", (token,))
    services.wait_for_replay(postgres_url, postgres_replica_url)
    with psycopg.connect(postgres_replica_url) as replica:
        assert replica.execute("SELECT token FROM replicated WHERE token = %s", (token,)).fetchall() == [(token,)]


def test_the_replica_is_a_streaming_standby_not_the_primary_again(postgres_url: str,
                                                                   postgres_replica_url: str) -> None:
    with psycopg.connect(postgres_url) as primary, psycopg.connect(postgres_replica_url) as replica:
        ask = ("SELECT pg_is_in_recovery(), inet_server_port(), "
               "(SELECT system_identifier FROM pg_control_system())")
        on_primary, on_replica = primary.execute(ask).fetchone(), replica.execute(ask).fetchone()
        streaming = primary.execute("SELECT state FROM pg_stat_replication").fetchall()
    assert on_primary is not None and on_replica is not None
    assert (on_primary[0], on_replica[0]) == (False, True)  # only the replica is in recovery
    assert on_primary[1] != on_replica[1]  # two servers
    assert on_primary[2] == on_replica[2]  # one cluster: the replica is a copy of the primary (pg_basebackup)
    assert streaming == [("streaming",)]  # and the primary feeds it


def test_the_replica_refuses_writes(postgres_replica_url: str) -> None:
    with psycopg.connect(postgres_replica_url) as replica, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        replica.execute("CREATE TABLE refused (id int)")


def test_postgres_runs_as_an_unprivileged_user_owning_its_data(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT pg_backend_pid(), current_setting('data_directory')").fetchone()
        assert row is not None
        pid, data = row
        status = Path(f"/proc/{pid}/status").read_text()  # the server process serving us, while it does
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    assert uid != 0 and Path(data).stat().st_uid == uid
    if os.geteuid() == 0:
        account = services.server_account()
        assert account is not None and uid == account.uid
    else:
        assert uid == os.geteuid()


def test_redis_keeps_what_is_set(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    key = f"test:{uuid.uuid4().hex}"
    client.set(key, "Brussels", ex=60)
    assert client.get(key) == b"Brussels"
    assert client.connection_pool.connection_kwargs["port"] != 6379  # the test's own Redis, not a system one
    client.close()


def test_an_rq_job_runs_on_a_worker_and_returns_its_result(redis_url: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(f"test-{uuid.uuid4().hex}", connection=connection)
    job = queue.enqueue(words, "officials met in Brussels on Monday")
    assert job.get_status() == JobStatus.QUEUED and len(queue) == 1
    # A worker in this process, until the queue is empty (burst): what `rq worker --burst` does, minus the fork.
    assert SimpleWorker([queue], connection=connection).work(burst=True)
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert job.return_value() == 6 and len(queue) == 0
    connection.close()


def test_a_missing_server_fails_where_make_test_installs_it_and_skips_only_elsewhere(
        monkeypatch: pytest.MonkeyPatch) -> None:
    services.require(None)  # present: nothing happens
    monkeypatch.setenv("CI", "true")  # CI installs the servers: never a silent skip there
    with pytest.raises(pytest.fail.Exception, match="make services"):
        services.require("redis-server not found")
    monkeypatch.delenv("CI")
    monkeypatch.setattr(os, "geteuid", lambda: 0)  # root can install them
    with pytest.raises(pytest.fail.Exception, match="make services"):
        services.require("redis-server not found")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # a developer without root: skipped, saying why
    with pytest.raises(pytest.skip.Exception, match="redis-server not found"):
        services.require("redis-server not found")
