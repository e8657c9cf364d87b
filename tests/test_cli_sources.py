"""``newsdesk sources``: add, list, export, remove and import the instance's sources from a terminal.

Each command is run as a user runs it (``web.cli.main`` with its arguments),
against a real loopback outlet; what it prints and what the instance keeps
are both checked.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from conftest import ROOT, make_settings
from loopback import Reply, Site, Web, html, rss
from search.settings import Settings
from search.sources import instance_sources, read_opml
from web.cli import main


@pytest.fixture
def outlet() -> Iterator[Site]:
    web = Web()
    site = web.site()
    site.routes["/"] = lambda: Reply(body=b'<!doctype html><html><head><title>Loop Daily</title>'
                                          b'<link rel="alternate" type="application/atom+xml" href="/atom"></head>'
                                          b"<body></body></html>")
    feed = rss([(site.url("/news/1"), "One", None)])
    site.routes["/atom"] = lambda: Reply(body=feed, headers={"Content-Type": "application/rss+xml"})
    story = html("One", "the dialogue in Brussels").encode()
    site.routes["/news/1"] = lambda: Reply(body=story)
    yield site
    web.close()


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_add_list_export_remove_and_import_again(outlet: Site, tmp_path: Path) -> None:
    index = ("--index", str(tmp_path / "instance"))
    code, out, _ = run("sources", "add", outlet.url("/"), *index)
    assert code == 0 and "added Loop Daily" in out and "1 pages listed" in out
    code, out, _ = run("sources", "list", *index)
    assert code == 0
    header, row = out.splitlines()
    assert header.split("\t")[:3] == ["name", "homepage", "feeds"]
    assert row.split("\t")[:3] == ["Loop Daily", outlet.url("/"), outlet.url("/atom")]
    assert row.endswith("due now")

    # Export with `sources export > file` (as /sources.opml serves it), then remove and import it back.
    exported = tmp_path / "sources.opml"
    done = subprocess.run([sys.executable, "-m", "web.cli", "sources", "export", *index], cwd=ROOT,
                          capture_output=True, check=True)
    assert done.stdout.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<opml version=\"2.0\">")
    exported.write_bytes(done.stdout)
    [listed] = read_opml(exported.read_bytes()).sources
    assert (listed.name, listed.url, listed.feeds) == ("Loop Daily", outlet.url("/"), (outlet.url("/atom"),))

    code, out, _ = run("sources", "remove", "loop daily", *index)  # the name, in any case
    assert code == 0 and "removed Loop Daily" in out and "articles stay" in out
    assert instance_sources(_settings(tmp_path)) == []
    code, out, _ = run("sources", "import", str(exported), *index)
    assert code == 0 and "added 1, not added 0, skipped 0" in out
    [again] = instance_sources(_settings(tmp_path))
    assert (again.name, again.feeds) == ("Loop Daily", (outlet.url("/atom"),))

    # Importing it a second time adds nothing and says why.
    code, out, _ = run("sources", "import", str(exported), *index)
    assert code == 0 and "not added Loop Daily: a source with the name 'Loop Daily' is already kept" in out


def test_mistakes_get_one_line_and_exit_1(outlet: Site, tmp_path: Path) -> None:
    index = ("--index", str(tmp_path / "instance"))
    code, _, err = run("sources", "remove", "Nobody", *index)
    assert code == 1 and "no source named 'Nobody'" in err
    broken = tmp_path / "broken.opml"
    broken.write_text("<html><body>not a list of feeds</body></html>")
    code, _, err = run("sources", "import", str(broken), *index)
    assert code == 1 and "is not an OPML file" in err and "Traceback" not in err
    code, _, err = run("sources", "import", str(tmp_path / "missing.opml"), *index)
    assert code == 1 and "cannot read" in err
    code, _, err = run("sources", "add", "not a url", *index)
    assert code == 1 and "not a web address" in err
    code, _, err = run("crawl", *index)
    assert code == 1 and "no sources to crawl" in err and "sources add" in err


def test_bare_sources_prints_health_and_crawl_due_says_when_nothing_is_due(outlet: Site, tmp_path: Path) -> None:
    index = ("--index", str(tmp_path / "instance"))
    code, out, _ = run("sources", *index)
    assert code == 0 and "no sources in" in out and "newsdesk sources add URL" in out
    run("sources", "add", outlet.url("/"), *index)
    code, out, _ = run("crawl", "--due", *index)
    assert code == 0 and "articles added" in out
    code, out, _ = run("crawl", "--due", *index)
    assert code == 0 and out.strip() == "no source is due"
    code, out, _ = run("sources", *index)
    assert code == 0
    header, row = out.splitlines()[:2]
    assert header.split("\t")[:3] == ["source", "status", "articles"]
    assert row.split("\t")[:3] == ["Loop Daily", "kept", "1"]  # the one page its feed lists
    assert row.split("\t")[4:7] == ["0%", "0%", "100%"]  # the fixture page has no date or author; English


def _settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "instance")
