"""Settings load once: defaults ← file ← environment ← the caller's --index."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.errors import SettingsError
from search.settings import Settings, load_settings


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings(index=tmp_path, environ={})
    assert settings == Settings(index=tmp_path)
    assert settings.index_dir == tmp_path / "whoosh"


def test_the_file_overrides_defaults_and_the_environment_overrides_the_file(tmp_path: Path) -> None:
    (tmp_path / "newsdesk.toml").write_text("port = 9000\nthreads = 2\nsearch_time_limit = 1.5\n")
    settings = load_settings(index=tmp_path, environ={"NEWSDESK_PORT": "9100"})
    assert (settings.port, settings.threads, settings.search_time_limit) == (9100, 2, 1.5)


def test_the_instance_directory_comes_from_the_environment_unless_given(tmp_path: Path) -> None:
    assert load_settings(environ={"NEWSDESK_INDEX": str(tmp_path)}).index == tmp_path
    assert load_settings(index=tmp_path / "x", environ={"NEWSDESK_INDEX": str(tmp_path)}).index == tmp_path / "x"


def test_a_named_settings_file_is_used(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text("per_page = 25\n")
    assert load_settings(index=tmp_path, environ={"NEWSDESK_CONFIG": str(config)}).per_page == 25


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("colour = 'blue'\n", {}, "unknown setting"),
        ("port = [1]\n", {}, "not a valid int"),
        ("port = \n", {}, "cannot read settings file"),
        ("", {"NEWSDESK_THREADS": "many"}, "not a valid int"),
        ("", {"NEWSDESK_REGISTRATION_OPEN": "maybe"}, "not a valid bool"),
        ("smtp_tls = 'tls'\n", {}, "smtp_tls='tls' is not one of none, starttls, ssl"),
        ("crawl_interval_min = 0\n", {}, "0 < crawl_interval_min <= crawl_interval_max"),
        ("", {"NEWSDESK_CRAWL_INTERVAL_MIN": "7200", "NEWSDESK_CRAWL_INTERVAL_MAX": "3600"}, "crawl_interval_min=7200"),
        ("backend = 'elastic'\n", {}, "backend='elastic' is not one of whoosh, postgres"),
        ("", {"NEWSDESK_BACKEND": "postgres"}, "the postgres backend needs database_url"),
    ],
)
def test_bad_settings_say_which_one(tmp_path: Path, text: str, environ: dict[str, str], message: str) -> None:
    (tmp_path / "newsdesk.toml").write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_settings(index=tmp_path, environ=environ)


@pytest.mark.parametrize(("word", "value"), [("true", True), ("Yes", True), ("1", True), ("off", False), ("0", False)])
def test_yes_or_no_settings_read_words_from_the_environment(tmp_path: Path, word: str, value: bool) -> None:
    settings = load_settings(index=tmp_path, environ={"NEWSDESK_REGISTRATION_OPEN": word})
    assert settings.registration_open is value


def test_the_mail_settings_come_from_their_documented_variables(tmp_path: Path) -> None:
    environ = {"NEWSDESK_SMTP_HOST": "mail.example.org", "NEWSDESK_SMTP_PORT": "587", "NEWSDESK_SMTP_TLS": "starttls",
               "NEWSDESK_SMTP_USER": "newsdesk", "NEWSDESK_SMTP_PASSWORD": "secret", "NEWSDESK_MAIL_FROM": "a@b.org",
               "NEWSDESK_BASE_URL": "https://news.example.org"}
    s = load_settings(index=tmp_path, environ=environ)
    assert (s.smtp_host, s.smtp_port, s.smtp_tls, s.smtp_user, s.smtp_password, s.mail_from, s.base_url) == (
        "mail.example.org", 587, "starttls", "newsdesk", "secret", "a@b.org", "https://news.example.org")


# --- base_url: every absolute link and id -------------------------------------------------


def test_base_url_follows_the_address_the_server_listens_on(tmp_path: Path) -> None:
    assert load_settings(index=tmp_path, environ={}).base_url == "http://127.0.0.1:8000"
    served = load_settings(index=tmp_path, environ={}, options={"host": "127.0.0.1", "port": 8123})
    assert (served.port, served.base_url) == (8123, "http://127.0.0.1:8123")  # `make run PORT=8123`
    assert load_settings(index=tmp_path, environ={"NEWSDESK_PORT": "8200"}).base_url == "http://127.0.0.1:8200"
    assert load_settings(index=tmp_path, environ={}, options={"host": None, "port": None}).port == 8000  # not given


@pytest.mark.parametrize(("host", "url"), [("0.0.0.0", "http://localhost:8123"), ("::", "http://localhost:8123"),
                                           ("::1", "http://[::1]:8123"), ("news.lan", "http://news.lan:8123")])
def test_base_url_from_a_listening_address_is_a_url_a_reader_can_open(tmp_path: Path, host: str, url: str) -> None:
    assert load_settings(index=tmp_path, environ={}, options={"host": host, "port": 8123}).base_url == url


def test_a_base_url_set_in_the_file_or_the_environment_wins_over_the_address(tmp_path: Path) -> None:
    (tmp_path / "newsdesk.toml").write_text('base_url = "https://news.example.org"\n')
    options = {"host": "0.0.0.0", "port": 8123}
    assert load_settings(index=tmp_path, environ={}, options=options).base_url == "https://news.example.org"
    environ = {"NEWSDESK_BASE_URL": "https://proxy.example.org/newsdesk"}
    assert load_settings(index=tmp_path, environ=environ, options=options).base_url == (
        "https://proxy.example.org/newsdesk")


def test_the_backend_and_its_services_come_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(index=tmp_path, environ={
        "NEWSDESK_BACKEND": "postgres", "NEWSDESK_DATABASE_URL": "postgresql://newsdesk@db/newsdesk",
        "NEWSDESK_DATABASE_READ_URL": "postgresql://newsdesk@replica/newsdesk",
        "NEWSDESK_REDIS_URL": "redis://queue:6379/0"})
    assert (settings.backend, settings.database_url, settings.database_read_url, settings.redis_url) == (
        "postgres", "postgresql://newsdesk@db/newsdesk", "postgresql://newsdesk@replica/newsdesk",
        "redis://queue:6379/0")
    assert load_settings(index=tmp_path, environ={}).backend == "whoosh"
