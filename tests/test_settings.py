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
    ],
)
def test_bad_settings_say_which_one(tmp_path: Path, text: str, environ: dict[str, str], message: str) -> None:
    (tmp_path / "newsdesk.toml").write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_settings(index=tmp_path, environ=environ)
