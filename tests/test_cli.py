"""The newsdesk command: search from a terminal, serve with a real WSGI server."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import feedparser
import pytest

from conftest import ROOT
from search.settings import Settings
from web.cli import main


def test_search_prints_titles_outlets_and_dates(seeded: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "Lavrov", "--outlet", "RksNews", "--index", str(seeded.index)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 articles")
    assert "Lavrov: Russia Ready to Communicate with the U.S. on the Balkans" in out and "RksNews · undated" in out


def test_search_json_is_the_api_contract(seeded: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "Kosovo", "--json", "--index", str(seeded.index)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == 5 and set(data["facets"]) == {"outlet", "actor", "year", "language"}


def test_errors_are_one_line_without_traceback(seeded: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", '"unclosed', "--index", str(seeded.index)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("newsdesk: a phrase is not closed") and "Traceback" not in err


def test_a_missing_index_says_how_to_build_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "kosovo", "--index", str(tmp_path)]) == 1
    assert "newsdesk ingest seeds/articles" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_runs_a_real_wsgi_server(seeded: Settings) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "web.cli", "serve", "--index", str(seeded.index), "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = _get_when_up(f"http://127.0.0.1:{port}/api/search?q=Kosovo")
        assert json.loads(body)["total"] == 5
        front = urllib.request.urlopen(f"http://127.0.0.1:{port}/")
        assert front.headers.get("Server") is None  # a real WSGI server, which does not name itself
        assert front.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in front.headers["Content-Security-Policy"]
        # No base_url set: links and ids follow --port (`make run PORT=8123`), not the default 8000,
        # and not the Host a request names either.
        asked = urllib.request.Request(f"http://127.0.0.1:{port}/search.atom?q=Kosovo", headers={"Host": "other.test"})
        feed = feedparser.parse(urllib.request.urlopen(asked, timeout=5).read())
        assert len(feed.entries) == 5
        assert all(entry.id.startswith(f"http://127.0.0.1:{port}/articles/") for entry in feed.entries)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _get_when_up(url: str) -> bytes:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return bytes(answer.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_reference_data_is_found_from_any_working_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NEWSDESK_SEEDS"}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "web.cli", "ingest", str(ROOT / "seeds" / "articles"), "--index", "here"]
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True)
    command = [sys.executable, "-m", "web.cli", "search", "--json", "--outlet", "RksNews", "--index", "here"]
    found = json.loads(subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True).stdout)
    assert found["total"] == 1  # the manifest was found: the outlet is known
    assert any(a["name"] == "Sergey Lavrov" for a in found["hits"][0]["actors"])  # and the gazetteer


def test_ingest_draws_a_progress_bar_on_a_terminal(fresh: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from search.ingest import ingest

    ingest([ROOT / "seeds" / "articles"], fresh, progress=True)
    assert "5/5" in capsys.readouterr().err


def _add_alert(index: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    from search.alerts import add_user

    add_user(Settings(index=index), f"{len(flags)}@example.org", "a long password")
    assert main(["alerts", "add", "--user", f"{len(flags)}@example.org", "--name", "Lavrov", "--query", "Lavrov",
                 *flags, "--index", str(index)]) == 0
    return capsys.readouterr().out.splitlines()[-1]


def test_alerts_feed_url_prints_the_address_on_base_url(fresh: Settings, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_BASE_URL", "https://news.example")
    saved_id = _add_alert(fresh.index, capsys, "--feed")
    assert main(["alerts", "feed-url", saved_id, "--index", str(fresh.index)]) == 0
    assert re.fullmatch(r"https://news\.example/feeds/[A-Za-z0-9_.-]+\.atom\n", capsys.readouterr().out)


def test_alerts_feed_url_of_an_alert_without_a_feed_says_so(fresh: Settings,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    saved_id = _add_alert(fresh.index, capsys, "--email")  # e-mail only
    assert main(["alerts", "feed-url", saved_id, "--index", str(fresh.index)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "feed turned off" in captured.err and "Traceback" not in captured.err
