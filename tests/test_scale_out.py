"""Issue 19's "done when": one user's whole run, on the embedded default and on PostgreSQL with workers on Redis.

The same test runs against two deployments, each made of the real
commands in processes of their own, as an operator starts them:

* **embedded** — ``newsdesk serve`` on a Whoosh index and SQLite, the
  outlets crawled by ``newsdesk crawl``;
* **postgres** — ``NEWSDESK_BACKEND=postgres newsdesk serve`` on a
  PostgreSQL database, its searches sent to a real streaming replica
  (``NEWSDESK_DATABASE_READ_URL``), the outlets crawled by ``newsdesk queue
  crawl`` and two ``newsdesk worker`` processes on Redis, each writing the
  articles it fetches.

A journalist makes an account, logs in on the web, saves a search with
alerts by e-mail and Atom; the outlet publishes; the crawl brings the
articles in; the alert run mails each new match once; the results page, the
API, the timeline, the export and the feed all give the numbers plain Python
finds over the stored articles; the outlet publishes again, and only the
new match is mailed. Nothing is read through the code under test to build
the expectations: the stored articles are read from the backend itself, the
mail as bytes at the SMTP server, the feed by feedparser.
"""

from __future__ import annotations

import csv
import http.cookiejar
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import feedparser
import pytest

from conftest import ROOT, Inbox, free_port, make_settings, stored_articles
from loopback import Reply, Site, Web, page, rss
from search.records import StoredArticle
from search.settings import Settings

BASE = "https://news.example"
LINK = re.compile(re.escape(BASE) + r"/articles/([0-9a-f]+)")
WAIT = 90.0  # seconds: a safety net for a condition, never a pause
PASSWORD = "a long enough password"


@dataclass
class Deployment:
    """One deployment's processes and settings; ``newsdesk`` commands run as the operator runs them."""

    name: str
    settings: Settings
    env: dict[str, str]
    web: str = ""
    replica: str = ""  # the read replica's URL of the database, when there is one
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def newsdesk(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run([sys.executable, "-m", "web.cli", *args, "--index", str(self.settings.index)],
                              input=stdin.encode(), env=self.env, cwd=ROOT, capture_output=True, timeout=WAIT,
                              check=False)
        assert done.returncode == 0, f"newsdesk {' '.join(args)}: {done.stderr.decode()}"
        return done.stdout.decode()

    def crawl(self, sources: Path) -> None:
        """The outlets crawled: in one process (embedded), or queued for two workers writing on their own."""
        if self.name == "embedded":
            self.newsdesk("crawl", "--sources", str(sources))
            return
        queued = subprocess.Popen([sys.executable, "-m", "web.cli", "queue", "crawl", "--sources", str(sources),
                                   "--index", str(self.settings.index)], env=self.env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.announced()  # a worker in burst mode leaves once no queued crawl is announced and the queues are empty
        workers = [subprocess.Popen([sys.executable, "-m", "web.cli", "worker", "--burst", "--index",
                                     str(self.settings.index)], env=self.env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
        for process in (queued, *workers):
            _, err = process.communicate(timeout=WAIT)
            assert process.returncode == 0, err.decode()
        self.settle()

    def announced(self) -> None:
        from redis import Redis

        from search.workers.runner import enqueuers_waiting

        redis = Redis.from_url(self.env["NEWSDESK_REDIS_URL"])
        deadline = time.monotonic() + WAIT
        while not enqueuers_waiting(redis):
            assert time.monotonic() < deadline, "the queued crawl never announced itself"
            time.sleep(0.02)
        redis.close()

    def settle(self) -> None:
        """What was written is where the web reads it: on the replica, once it has replayed the primary."""
        if self.replica:
            import services

            services.wait_for_replay(self.settings.database_url, self.replica)

    def stored(self) -> list[StoredArticle]:
        return stored_articles(self.settings)


@pytest.fixture(params=["embedded", "postgres"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path, inbox: tuple[Inbox, int]) -> Iterator[Deployment]:
    _, smtp_port = inbox
    env = {**os.environ, "NEWSDESK_BASE_URL": BASE, "NEWSDESK_SMTP_HOST": "127.0.0.1",
           "NEWSDESK_SMTP_PORT": str(smtp_port), "NEWSDESK_ALERTS_INTERVAL": "0",
           "NEWSDESK_CRAWL_IN_BACKGROUND": "0", "NEWSDESK_CRAWL_MIN_GAP": "0.05", "NEWSDESK_WORKERS": "1"}
    overrides: dict[str, object] = {}
    replica = ""
    if request.param == "postgres":
        from redis import Redis

        import services

        primary: str = request.getfixturevalue("fresh_database")
        replica = services.database_url(request.getfixturevalue("postgres_replica_url"), primary.rsplit("/", 1)[1])
        redis_url: str = request.getfixturevalue("redis_url")
        Redis.from_url(redis_url).flushdb()  # the run's queues and leases of its own
        env |= {"NEWSDESK_BACKEND": "postgres", "NEWSDESK_DATABASE_URL": primary,
                "NEWSDESK_DATABASE_READ_URL": replica, "NEWSDESK_REDIS_URL": redis_url}
        overrides = {"backend": "postgres", "database_url": primary, "database_read_url": replica}
    for name in ("NEWSDESK_INDEX", "NEWSDESK_CONFIG"):
        env.pop(name, None)
    deployed = Deployment(request.param, make_settings(tmp_path / "instance", **overrides), env, replica=replica)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--index",
                               str(deployed.settings.index)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deployed.processes.append(server)
    deployed.web = f"http://127.0.0.1:{port}"
    _wait_until_up(deployed.web, server)
    try:
        yield deployed
    finally:
        for process in deployed.processes:
            process.terminate()
            process.wait(WAIT)


def _wait_until_up(web: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            urllib.request.urlopen(web + "/api/search?q=", timeout=5).close()
            return
        except urllib.error.HTTPError:
            return  # it answers (an instance with nothing in it yet says so with a 503)
        except OSError:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else "the server ended"
            assert time.monotonic() < deadline, "the server never answered"
            time.sleep(0.1)


class Browser:
    """A user agent with cookies: logs in and posts forms with their CSRF tokens, as a browser does."""

    def __init__(self, web: str) -> None:
        self.web = web
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.web + path, timeout=WAIT) as answer:
            return str(answer.read().decode("utf-8"))

    def post(self, path: str, form_page: str, fields: dict[str, str]) -> str:
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', self.get(form_page))
        assert token is not None, f"no CSRF token on {form_page}"
        body = urllib.parse.urlencode({"csrf_token": token.group(1), **fields}).encode()
        try:
            with self.opener.open(self.web + path, data=body, timeout=WAIT) as answer:
                return str(answer.read().decode("utf-8"))
        except urllib.error.HTTPError as e:  # where it led: an empty instance's front page is a 503
            assert e.url != self.web + path, f"POST {path}: {e.code}"
            return str(e.read().decode("utf-8"))


class Outlet:
    """A news site on loopback: its feed lists what it has published so far."""

    def __init__(self, web: Web) -> None:
        self.site: Site = web.site()
        self.items: list[tuple[str, str, str | None]] = []
        self.site.routes["/feed.rss"] = lambda: Reply(body=rss(self.items), headers={"Content-Type": "application/rss+xml"})

    def publish(self, title: str, topic: str) -> None:
        path = f"/news/{len(self.items)}"
        self.site.routes[path] = page(title, topic)
        self.items.append((self.site.url(path), title, None))

    def sources(self, folder: Path) -> Path:
        path = folder / "sources.toml"
        path.write_text(f'[[source]]\nname = "Balkan Wire"\nurl = "{self.site.url("/")}"\n'
                        f'feeds = ["{self.site.url("/feed.rss")}"]\n')
        return path


def mentions_lavrov(article: StoredArticle) -> bool:
    """The oracle of the saved search ``Lavrov``: the word in the title or the text, whatever its case."""
    return "lavrov" in re.findall(r"\w+", f"{article.title} {article.text}".lower())


def test_a_journalist_follows_a_subject_from_saved_search_to_alert(
        deployment: Deployment, inbox: tuple[Inbox, int], tmp_path: Path) -> None:
    mail, _ = inbox
    sites = Web()
    try:
        outlet = Outlet(sites)
        outlet.publish("Lavrov meets the Serbian delegation", "Lavrov round 0")
        outlet.publish("Rail freight across the Danube", "freight part 0")
        sources = outlet.sources(tmp_path)
        deployment.crawl(sources)
        assert len(deployment.stored()) == 2

        # An account, a login on the web, the search run and saved from its results page, with alerts by
        # e-mail and Atom: from now on, each new match is sent once.
        deployment.newsdesk("users", "add", "ana@example.org", stdin=PASSWORD + "\n")
        browser = Browser(deployment.web)
        browser.post("/login", "/login", {"email": "ana@example.org", "password": PASSWORD})
        browser.post("/saved", "/?q=Lavrov", {"q": "Lavrov", "name": "Lavrov", "frequency": "instant", "hour": "8",
                                              "weekday": "0", "email": "y", "feed": "y"})
        feed_path = re.search(r'href="' + re.escape(BASE) + r'(/feeds/[^"]+\.atom)"', browser.get("/saved"))
        assert feed_path is not None, "the saved search lists its feed"

        # The outlet publishes; the crawl brings the articles in; the alert run mails the new matches once.
        for n in range(1, 3):
            outlet.publish(f"Lavrov and the dialogue, round {n}", f"Lavrov round {n}")
        outlet.publish("School budgets in Nis", "school budgets")
        deployment.crawl(sources)
        stored = deployment.stored()
        matching = sorted(article.id for article in stored if mentions_lavrov(article))
        new = sorted(article.id for article in stored if mentions_lavrov(article) and "round 0" not in article.text
                     and "delegation" not in article.title)
        assert len(stored) == 5 and len(matching) == 3 and len(new) == 2
        # (Instant alerts also run after each commit: with workers, each worker's commit mails what it wrote.)
        deployment.newsdesk("alerts", "run")
        assert mail.linked(LINK) == Counter(dict.fromkeys(new, 1))

        # Every view of the search gives plain Python's numbers.
        found = json.loads(browser.get("/api/search?q=Lavrov&sort=date&per_page=100"))
        assert found["total"] == 3 and sorted(hit["id"] for hit in found["hits"]) == matching
        results = browser.get("/?q=Lavrov&collapse=none")
        for article in stored:
            assert (_escaped(article.title) in results) == (article.id in matching), article.title
        timeline = json.loads(browser.get("/api/timeline?q=Lavrov"))
        dated = [article for article in stored if article.id in matching and article.published_utc is not None]
        assert sum(bucket["count"] for bucket in timeline["buckets"]) == len(dated), timeline
        assert timeline["undated"] == 3 - len(dated), timeline
        exported = list(csv.DictReader(io.StringIO(browser.get("/search.csv?q=Lavrov").lstrip("\ufeff"))))
        assert sorted(row["id"] for row in exported) == matching
        if deployment.replica:  # the web's searches were answered by the replica: its connections are there
            import psycopg

            with psycopg.connect(deployment.replica) as replica:
                held = replica.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND pid <> pg_backend_pid()").fetchone()
                assert held is not None and held[0] >= 1
        feed = feedparser.parse(browser.get(feed_path.group(1)))
        assert not feed.bozo and sorted(LINK.findall(" ".join(entry.link for entry in feed.entries))) == new

        # The outlet publishes again: only the new match is mailed, and nothing twice.
        outlet.publish("Lavrov in Belgrade again", "Lavrov visit")
        outlet.publish("A new museum wing opens", "museum wing")
        deployment.crawl(sources)
        stored = deployment.stored()
        latest = sorted(article.id for article in stored if mentions_lavrov(article) and "visit" in article.text)
        assert len(stored) == 7 and len(latest) == 1
        deployment.newsdesk("alerts", "run")
        assert mail.linked(LINK) == Counter(dict.fromkeys([*new, *latest], 1))
        found = json.loads(browser.get("/api/search?q=Lavrov&sort=date&per_page=100"))
        assert found["total"] == 4
    finally:
        sites.close()


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")

