"""The newsdesk command: search from a terminal, serve with a real WSGI server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT
from search.cli import main
from search.settings import Settings


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
    command = [sys.executable, "-m", "search.cli", "serve", "--index", str(seeded.index), "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = _get_when_up(f"http://127.0.0.1:{port}/api/search?q=Kosovo")
        assert json.loads(body)["total"] == 5
        assert "waitress" in urllib.request.urlopen(f"http://127.0.0.1:{port}/").headers.get("Server", "")
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
    command = [sys.executable, "-m", "search.cli", "ingest", str(ROOT / "seeds" / "articles"), "--index", "here"]
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True)
    command = [sys.executable, "-m", "search.cli", "search", "--json", "--outlet", "RksNews", "--index", "here"]
    found = json.loads(subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True).stdout)
    assert found["total"] == 1  # the manifest was found: the outlet is known
    assert any(a["name"] == "Sergey Lavrov" for a in found["hits"][0]["actors"])  # and the gazetteer


def test_ingest_draws_a_progress_bar_on_a_terminal(fresh: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from search.ingest import ingest

    ingest([ROOT / "seeds" / "articles"], fresh, progress=True)
    assert "5/5" in capsys.readouterr().err
