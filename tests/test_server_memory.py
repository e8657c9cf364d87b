"""The web server loads what serving needs, not what ingesting and crawling need.

`newsdesk serve` imports the query side, the alerts and the web app; the
cleaner (lxml, trafilatura, htmldate), language detection (langdetect), the
crawler and the ingest pipeline belong to the commands that write the index,
and each costs the server memory for as long as it runs. Checked in a fresh
interpreter running the real `newsdesk serve` path (``web.cli.main``) with
waitress's blocking loop replaced by a walk over the page kinds through the
app it was handed, so "at startup" and "while serving" are both covered.
And the server caps glibc's malloc arenas (web/memory.py) unless the
operator set ``MALLOC_ARENA_MAX``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from search.settings import Settings

#: Modules only ingest, crawl and reindex need.
WRITE_SIDE = (
    "langdetect", "lxml", "trafilatura", "htmldate", "justext", "tqdm",
    "search.clean", "search.crawl.crawler", "search.pipeline", "search.ingest", "search.archive",
    "search.language.detector", "search.enrich.enricher",
)

_PROBE = """
import json, sys
import waitress
from web.cli import main

WRITE_SIDE = {write_side!r}
found = {{}}

def serve(app, **options):
    found["startup"] = sorted(m for m in WRITE_SIDE if m in sys.modules)
    client = app.test_client()
    ids = client.get("/api/search?q=the").get_json()["hits"]
    paths = ["/", "/?q=the&sort=date&page=2", "/api/search?q=kamynin", "/search.atom?q=the", "/sources",
             "/actors/candidates", "/login", "/static/newsdesk.css"]
    paths += [f"/articles/{{hit['id']}}" for hit in ids] + [f"/api/articles/{{hit['id']}}" for hit in ids]
    paths += [f"/actors/{{actor['id']}}" for hit in ids for actor in hit["actors"]]
    found["statuses"] = sorted({{client.get(path).status_code for path in paths}})
    found["serving"] = sorted(m for m in WRITE_SIDE if m in sys.modules)

waitress.serve = serve
main(["serve", "--index", {index!r}, "--port", "0"])
import search.ingest  # the control: the same check sees them once ingest is imported
found["after ingest import"] = sorted(m for m in WRITE_SIDE if m in sys.modules)
print(json.dumps(found))
"""


def test_the_server_imports_nothing_only_writing_needs(seeded: Settings) -> None:
    probe = _PROBE.format(write_side=WRITE_SIDE, index=str(seeded.index))
    # No alerts scheduler: its thread would run beside the probe's checks (it imports nothing more).
    env = {**os.environ, "NEWSDESK_ALERTS_INTERVAL": "0"}
    done = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1], env=env)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["statuses"] == [200]
    assert found["startup"] == []
    assert found["serving"] == []
    assert set(found["after ingest import"]) >= {"langdetect", "lxml", "search.clean", "search.pipeline"}



_ARENAS_PROBE = """
from web.memory import limit_malloc_arenas
print(limit_malloc_arenas())
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_the_server_caps_malloc_arenas_unless_the_environment_says_otherwise() -> None:
    def capped(env: dict[str, str]) -> str:
        done = subprocess.run([sys.executable, "-c", _ARENAS_PROBE], check=True, capture_output=True, text=True,
                              timeout=60, env=env)
        return done.stdout.strip()

    plain = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    assert capped(plain) == "True"
    assert capped({**plain, "MALLOC_ARENA_MAX": "8"}) == "False"  # the operator's choice wins
