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
