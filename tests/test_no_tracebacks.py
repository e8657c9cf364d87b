"""Numbers and pipes a user can type: a clear answer, never a traceback.

Saved-search ids past SQLite's 64-bit range made the web app answer 500
(``OverflowError``) and ``newsdesk alerts remove``/``feed-url`` print a
traceback; ``newsdesk search … | head`` ended in a broken-pipe traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from search.settings import Settings
from web.cli import main
from webforms import log_in, make_app, make_user, own_instance

HUGE = "99999999999999999999999"


@pytest.mark.parametrize("path", [f"/saved/{HUGE}/edit", f"/saved/{2**63}/edit", "/saved/0/edit"])
def test_a_saved_search_id_out_of_range_is_a_404_not_a_500(seeded: Settings, tmp_path: Path, path: str) -> None:
    settings = own_instance(seeded, tmp_path)
    make_user(settings)
    client = make_app(settings).test_client()
    log_in(client)
    assert client.get(path).status_code == 404
    page = client.get("/saved").get_data(as_text=True)  # the form's CSRF token, to post with
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0] if 'name="csrf_token"' in page else ""
    for action in ("delete", "revoke-feed"):
        assert client.post(path.replace("edit", action), data={"csrf_token": token}).status_code in (400, 404)


@pytest.mark.parametrize("command", [["alerts", "remove", HUGE], ["alerts", "feed-url", HUGE],
                                     ["alerts", "remove", "-5"]])
def test_the_cli_says_no_such_saved_search_for_any_number(
    seeded: Settings, tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = own_instance(seeded, tmp_path)
    assert main([*command, "--index", str(settings.index)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("newsdesk: no saved search") and "Traceback" not in err


def test_search_into_a_pipe_closed_early_ends_quietly(seeded: Settings) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # `true` reads nothing and exits at once, long before Python has started: every write hits a closed pipe.
    shell = (f"{sys.executable} -m web.cli search --per-page 100 --index {seeded.index} 2>err.txt | true; "
             f"echo ${{PIPESTATUS[0]}}")
    done = subprocess.run(["bash", "-c", shell], cwd=seeded.index.parent, env=env, capture_output=True, text=True,
                          check=True, timeout=120)
    err = (seeded.index.parent / "err.txt").read_text()
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert err == "" and done.stdout.strip() == "141"
