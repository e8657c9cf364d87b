"""Kill campaign: SIGKILL at random moments of ingest, crawl, reindex and alert runs, then count what survived.

What it measures: whether a Newsdesk instance that is killed with ``kill -9``
again and again, in the middle of every kind of writing process, still ends
with every article it was given indexed exactly once and every instant alert
delivered exactly once (issue 14, "a longer random campaign").

How: a throwaway instance in a temporary directory, fed only over loopback.

* a news site on 127.0.0.1 (``http.server`` in a thread): robots.txt, an RSS
  feed and HTML article pages, a few more published before every crawl;
* folders of generated ``.txt`` and ``.html`` articles for ``newsdesk ingest``;
* an aiosmtpd server on 127.0.0.1 keeping every message it accepts (each
  answer delayed a little, so kills also land between "accepted" and
  "recorded as sent");
* users and instant saved searches (e-mail on, some with feeds, one feed
  only) made with ``add_user`` and ``save_search``: most before any article,
  some in the middle of the campaign (they must not backfill).

Every article carries a unique marker (``KC00042``) and zero to two topic
words drawn from a list no filler word shares, and the saved searches ask for
topic words, so plain Python knows which article each alert must deliver.

The campaign runs each kind of process once to measure how long it takes,
then, in a seeded random order, starts ``python -m web.cli ...`` as a
subprocess, waits a random fraction of that duration, SIGKILLs it and goes on
with the next process on the same instance (a killed ingest's folder is given
again with the next ingest). Ingest and crawl send e-mail on half of their
runs and leave it pending otherwise, so ``alerts run`` has mail to send. After
the kills each kind runs once more to the end. Then the checks:

* articles: every marker given is in the index exactly once (counted over the
  stored fields, and by id against ``search.urls.article_id`` of what was
  given), the index opens and a search answers;
* alerts: for each saved search, the articles that should be alerted are the
  matching articles that were not in the index when it was saved (alerts never
  backfill; each new match once). Each must be in ``deliveries`` once and, for
  an e-mail alert, in exactly one accepted message. The same article in two
  messages with different Message-IDs is a double; a message received twice
  with the same Message-ID is the documented window (accepted, killed before
  recorded as sent) and counted apart as "resent, same Message-ID".

The figures are printed and appended to bench/RESULTS.md. Run with
``.venv/bin/python bench/kill_campaign.py`` (about 10-20 minutes on 2 cores);
``--kills`` and ``--seed`` change the campaign, ``--max-minutes`` bounds it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_search import append_results, machine, md_table  # the sibling benchmark's helpers

from search.alerts import add_user, list_saved, save_search
from search.enrich import load_gazetteer
from search.index import open_index
from search.query import search
from search.records import SearchQuery
from search.settings import Settings
from search.urls import article_id

KINDS = ("ingest", "crawl", "reindex", "alerts")
#: Words an alert asks for; no filler word is one of them or shares its stem.
TOPICS = ("cobalt", "drought", "tanker", "glacier", "vaccine", "tariff", "quarry", "satellite")
_FILLER_TEXT = (
    "the council said on monday that its members would meet again after the vote while officials in the "
    "region described the plan as a first step toward a broader agreement with neighbouring towns and "
    "several groups asked for more time to study the proposal before any money is spent on new roads "
    "schools or clinics and a spokesman added that the minister had spoken with farmers teachers and "
    "traders during a visit to the valley where prices rose sharply last year because of poor weather "
    "and rising costs for fuel seed and transport across the border"
)
FILLER = tuple(_FILLER_TEXT.split())
MARKER = re.compile(r"KC\d{5}")
LINK = re.compile(r"/articles/([0-9a-f]{20})")
#: Saved searches: (name, query, e-mail, feed, saved before any article?).
ALERTS = (
    ("cobalt", "cobalt", True, True, True),
    ("drought", "drought", True, False, True),
    ("tanker or glacier", "tanker OR glacier", True, True, True),
    ("vaccine", "vaccine", True, True, True),
    ("tariff", "tariff", True, False, True),
    ("quarry (feed only)", "quarry", False, True, True),
    ("satellite", "satellite", True, True, True),
    ("cobalt later", "cobalt", True, True, False),
    ("tariff or quarry later", "tariff OR quarry", True, False, False),
    ("drought later", "drought", True, True, False),
)
FILES_PER_INGEST = 60
PAGES_PER_CRAWL = 40
READERS_EACH = 2  # users saving each search of ALERTS: more messages per run, a wider send window
SMTP_DELAY = 0.03  # seconds the SMTP server takes to accept a message: a window kills can hit


# --- what was given ---------------------------------------------------------------------


@dataclass
class Given:
    """One generated article: its marker, topics and the id Newsdesk must give it."""

    marker: str
    topics: frozenset[str]
    id: str
    where: str  # file path or page URL


class Corpus:
    """Generated articles, numbered in order; deterministic for a seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.count = 0
        self.given: dict[str, Given] = {}

    def article(self) -> tuple[str, str, frozenset[str], list[str]]:
        """A new article's marker, title, topics and paragraphs."""
        self.count += 1
        marker = f"KC{self.count:05d}"
        topics = frozenset(self.rng.sample(TOPICS, self.rng.choice((0, 1, 1, 2))))
        paragraphs = []
        for _ in range(4):
            words = [self.rng.choice(FILLER) for _ in range(self.rng.randint(35, 50))]
            paragraphs.append(" ".join(words).capitalize() + ".")
        for topic in sorted(topics):
            paragraphs[self.rng.randrange(4)] += f" Reports on the {topic} question were read aloud."
        paragraphs[0] = f"Reference {marker}. " + paragraphs[0]
        title = f"Valley council report {marker} on {self.rng.choice(FILLER)} and {self.rng.choice(FILLER)}"
        return marker, title, topics, paragraphs

    def folder(self, path: Path, files: int = FILES_PER_INGEST) -> None:
        """A folder of .txt and .html files for ``newsdesk ingest``."""
        path.mkdir(parents=True)
        for n in range(files):
            marker, title, topics, paragraphs = self.article()
            if n % 2:
                data = (title + "\n\n" + "\n\n".join(paragraphs) + "\n").encode()
                file = path / f"{marker}.txt"
            else:
                data = _html(title, paragraphs).encode()
                file = path / f"{marker}.html"
            file.write_bytes(data)
            self.given[marker] = Given(marker, topics, article_id(None, data), str(file))

    def page(self, origin: str) -> tuple[str, bytes]:
        """A new page for the site: its path and bytes (its canonical URL is its own)."""
        marker, title, topics, paragraphs = self.article()
        path = f"/news/{marker.lower()}.html"
        url = origin + path
        self.given[marker] = Given(marker, topics, article_id(url, b""), url)
        return path, _html(title, paragraphs, url).encode()


def _html(title: str, paragraphs: list[str], canonical: str | None = None) -> str:
    link = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>{link}'
            f'</head><body><nav><a href="/">Home</a></nav><article><h1>{escape(title)}</h1>{body}</article>'
            f"<footer>Valley Wire</footer></body></html>")


# --- loopback servers --------------------------------------------------------------------


class Site:
    """A news site on 127.0.0.1: robots.txt, an RSS feed of every published page, the pages."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self.order: list[str] = []
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, kind, body = site.answer(self.path.split("?")[0])
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the crawler was killed mid-response

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, path: str, data: bytes) -> None:
        with self.lock:
            self.pages[path] = data
            self.order.append(path)

    def answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        if path == "/feed.xml":
            return 200, "application/rss+xml", self._feed()
        with self.lock:
            data = self.pages.get(path)
        if data is None:
            return 404, "text/plain", b"not here"
        return 200, "text/html; charset=utf-8", data

    def _feed(self) -> bytes:
        with self.lock:
            paths = list(reversed(self.order))
        items = "".join(f"<item><title>{p}</title><link>{self.origin}{p}</link></item>" for p in paths)
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Valley Wire</title>'
                f"<link>{self.origin}/</link><description>news</description>{items}</channel></rss>").encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Inbox:
    """An aiosmtpd handler keeping every accepted message's raw bytes."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(SMTP_DELAY)
        self.raw.append(bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the processes -----------------------------------------------------------------------


@dataclass
class Tally:
    kills: Counter[str] = field(default_factory=Counter)
    finished_early: Counter[str] = field(default_factory=Counter)  # ended before the kill came
    failures: list[str] = field(default_factory=list)  # a run that exited non-zero by itself
    cut_sending: int = 0  # alert runs killed after sending some of their pending messages


class Campaign:
    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.instance = root / "instance"
        self.folders = root / "files"
        self.logs = root / "logs"
        self.logs.mkdir(parents=True)
        self.site = Site()
        self.inbox = Inbox()
        self.smtp_port = _free_port()
        self.smtp = Controller(self.inbox, hostname="127.0.0.1", port=self.smtp_port)
        self.smtp.start()
        self.corpus = Corpus(self.rng)
        self.sources = root / "sources.toml"
        self.sources.write_text(f'[[source]]\nname = "Valley Wire"\nurl = "{self.site.origin}/"\n'
                                f'feeds = ["{self.site.origin}/feed.xml"]\nlanguage = "en"\n')
        self.settings = Settings(index=self.instance, base_url="http://newsdesk.test")
        self.unfinished: list[Path] = []  # ingest folders whose ingest was killed: given again next time
        self.saved_at: dict[int, set[str]] = {}  # saved search id → article ids in the index when it was saved
        self.tally = Tally()
        self.runs = 0
        self.duration: dict[str, float] = {}  # seconds of the last run of each kind that ended by itself
        self.work_then: dict[str, int] = {}  # how much work that run had (see ``work``)
        self.unfetched = 0  # pages published since the last crawl that ended by itself

    def close(self) -> None:
        self.smtp.stop()
        self.site.close()

    # setup

    def add_alerts(self, early: bool) -> None:
        """The saved searches of ``ALERTS`` saved now (early: before any article), each by ``READERS_EACH`` users."""
        present = self.indexed_ids()
        for n, (name, q, email, feed, first) in enumerate(ALERTS):
            for copy in range(READERS_EACH) if first == early else ():
                user = add_user(self.settings, f"reader{n}.{copy}@example.org", "correct horse battery staple")
                saved = save_search(self.settings, user.id, name, SearchQuery(q=q), frequency="instant",
                                    email=email, feed=feed)
                self.saved_at[saved.id] = set(present)

    def indexed_ids(self) -> list[str]:
        """Ids of the stored articles (with repeats, if any)."""
        if not (self.settings.index_dir).exists():
            return []
        with open_index(self.settings).searcher() as searcher:
            return [fields["id"] for fields in searcher.all_stored_fields()]

    # one step

    def prepare(self, kind: str) -> list[str]:
        """New material for a step of ``kind`` and its command line arguments."""
        if kind == "ingest":
            folder = self.folders / f"batch{self.runs:03d}"
            self.corpus.folder(folder)
            self.unfinished.append(folder)
            return ["ingest", *map(str, self.unfinished)]
        if kind == "crawl":
            for _ in range(PAGES_PER_CRAWL):
                self.site.publish(*self.corpus.page(self.site.origin))
            self.unfetched += PAGES_PER_CRAWL
            return ["crawl", "--sources", str(self.sources)]
        if kind == "reindex":
            return ["reindex"]
        # Mail for the alert run to send: an ingest (not killed) with e-mail off leaves its messages pending.
        folder = self.folders / f"batch{self.runs:03d}"
        self.corpus.folder(folder, FILES_PER_INGEST // 2)
        self.unfinished.append(folder)
        self.run("ingest", ["ingest", *map(str, self.unfinished)], None, mail=False, measure=False)
        return ["alerts", "run"]

    def work(self, kind: str) -> int:
        """How much a run of ``kind`` has to do now: folders given, pages not yet crawled, articles archived,
        messages pending (plus one for starting up)."""
        if kind == "ingest":
            return len(self.unfinished)
        if kind == "crawl":
            return max(1, self.unfetched)
        if kind == "reindex":
            return len(self.corpus.given)
        with closing(sqlite3.connect(self.instance / "state.sqlite")) as db:
            try:
                row = db.execute("SELECT count(DISTINCT message_id) FROM deliveries WHERE status = 'pending'").fetchone()
            except sqlite3.OperationalError:  # no alert has run yet: no deliveries table
                return 1
        return 1 + int(row[0])

    def expected_duration(self, kind: str) -> float:
        """The last full run's duration scaled by the work since: a reindex grows with the archive, a killed
        ingest's folders or a killed crawl's pages come again with the next run, an alert run's mail piles up."""
        return self.duration[kind] * max(1.0, self.work(kind) / max(1, self.work_then[kind]))

    def run(self, kind: str, args: list[str], kill_after: float | None, mail: bool, measure: bool = True) -> bool:
        """Run one process; SIGKILL it after ``kill_after`` seconds. Whether it was killed.

        A run that ends by itself sets the kind's expected duration, unless ``measure`` is false.
        """
        self.runs += 1
        env = dict(os.environ, PYTHONPATH=str(REPO), NEWSDESK_INDEX=str(self.instance), NEWSDESK_BATCH_SIZE="4",
                   NEWSDESK_CRAWL_MIN_GAP="0.01", NEWSDESK_BASE_URL=self.settings.base_url,
                   NEWSDESK_SMTP_HOST="127.0.0.1" if mail else "", NEWSDESK_SMTP_PORT=str(self.smtp_port),
                   NEWSDESK_ALERTS_INTERVAL="0")
        log = self.logs / f"{self.runs:03d}-{kind}.log"
        work, started = self.work(kind), time.monotonic()
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "web.cli", *args, "-v"], cwd=self.root, env=env,
                                       stdout=out, stderr=subprocess.STDOUT)
            try:
                code = process.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                self.tally.kills[kind] += 1
                return True
        elapsed = time.monotonic() - started
        if measure:
            self.duration[kind], self.work_then[kind] = elapsed, work
        if kind == "crawl":
            self.unfetched = 0
        if kind == "ingest" and code == 0:
            self.unfinished.clear()
        if code != 0:
            self.tally.failures.append(f"{kind} run {self.runs} exited {code} (log {log})")
        return False

    def step(self, kind: str, kill: bool) -> str:
        args = self.prepare(kind)
        mail = kind == "alerts" or not kill or self.rng.random() < 0.5
        if not kill:
            self.run(kind, args, None, mail)
            return f"{kind}: ran to the end in {self.duration[kind]:.1f} s"
        for _attempt in range(4):  # a process that ends before its kill is run again with a new moment
            expected = self.expected_duration(kind)
            moment = self.rng.uniform(0.1, 1.0) * expected
            pending = self.work("alerts") - 1
            if self.run(kind, args, moment, mail):
                left = self.work("alerts") - 1
                if kind == "alerts" and left < pending:
                    self.tally.cut_sending += 1
                return (f"{kind}: killed after {moment:.2f} s of ~{expected:.1f} s (mail {'on' if mail else 'off'}; "
                        f"messages pending {pending} → {left})")
            self.tally.finished_early[kind] += 1
            args = self.prepare(kind) if kind != "reindex" else args
        return f"{kind}: finished before every kill moment"


# --- the checks --------------------------------------------------------------------------


@dataclass
class Figures:
    given: int = 0
    indexed: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    wrong_id: list[str] = field(default_factory=list)
    unknown: int = 0  # stored articles with no marker we gave
    search_ok: bool = False
    expected: int = 0
    delivered: int = 0
    missed: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # delivered but not due (a backfill, a wrong match)
    resent_same_id: int = 0
    still_pending: int = 0
    messages: int = 0
    #: (saved search name, delivery) → expected, delivered, missed, doubled, not due: summed over its users.
    rows: dict[tuple[str, str], list[int]] = field(default_factory=dict)


def check(campaign: Campaign) -> Figures:
    settings, given = campaign.settings, campaign.corpus.given
    figures = Figures(given=len(given))
    by_marker: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with open_index(settings).searcher() as searcher:
        stored = list(searcher.all_stored_fields())
    for fields in stored:
        markers = set(MARKER.findall(f"{fields.get('title', '')} {fields.get('body', '')}"))
        figures.unknown += not markers
        for marker in markers:
            by_marker[marker].append(fields)
    figures.indexed = len(stored)
    for marker, item in sorted(given.items()):
        copies = by_marker.get(marker, [])
        if not copies:
            figures.lost.append(f"{marker} ({item.where})")
        elif len(copies) > 1:
            figures.duplicated.append(f"{marker} ×{len(copies)} ids {[c['id'] for c in copies]}")
        elif copies[0]["id"] != item.id:
            figures.wrong_id.append(f"{marker}: {copies[0]['id']} ≠ {item.id}")
    with open_index(settings).searcher() as searcher:
        page = search(searcher, SearchQuery(q=TOPICS[0]), settings, load_gazetteer())
    figures.search_ok = page.total == sum(TOPICS[0] in g.topics for g in given.values())

    id_topics = {item.id: item.topics for item in given.values()}
    messages = [message_from_bytes(raw, policy=policy.default) for raw in campaign.inbox.raw]
    figures.messages = len(messages)
    received: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))  # saved → article → ids
    seen_ids: Counter[str] = Counter()
    for message in messages:
        assert isinstance(message, EmailMessage)
        mid = str(message["Message-ID"])
        seen_ids[mid] += 1
        if seen_ids[mid] > 1:
            figures.resent_same_id += 1
            continue
        saved_id = int(mid.split(".")[1])
        text = message.get_body(("plain",))
        for found in set(LINK.findall(text.get_content() if text is not None else "")):
            received[saved_id][found].append(mid)

    deliveries: dict[int, Counter[str]] = defaultdict(Counter)  # read as the operator would, with plain SQL
    with closing(sqlite3.connect(settings.index / "state.sqlite")) as db:
        for saved_id, article, status in db.execute("SELECT saved_id, article_id, status FROM deliveries"):
            deliveries[saved_id][article] += 1
            figures.still_pending += status == "pending"

    present = {fields["id"] for fields in stored}
    for saved in list_saved(settings):
        words = {w for w in saved.query.q.split() if w != "OR"}
        due = {i for i in present if id_topics.get(i, frozenset()) & words} - campaign.saved_at[saved.id]
        got_rows = deliveries[saved.id]
        got_mail = received[saved.id]
        figures.expected += len(due)
        missed = sorted(due - set(got_rows)) + (sorted(due - set(got_mail)) if saved.email else [])
        doubled = [a for a, n in got_rows.items() if n > 1]
        doubled += [a for a, mids in got_mail.items() if len(mids) > 1] if saved.email else []
        unexpected = sorted((set(got_rows) | set(got_mail)) - due)
        figures.delivered += len(set(got_rows) & due)
        figures.missed += [f"saved {saved.id} {saved.name!r}: {a}" for a in dict.fromkeys(missed)]
        figures.doubled += [f"saved {saved.id} {saved.name!r}: {a} in {got_mail.get(a)}" for a in doubled]
        figures.unexpected += [f"saved {saved.id} {saved.name!r}: {a}" for a in unexpected]
        row = figures.rows.setdefault((saved.name, "e-mail" if saved.email else "feed"), [0] * 5)
        for n, value in enumerate((len(due), len(set(got_rows) & due), len(set(missed)), len(doubled),
                                   len(unexpected))):
            row[n] += value
    return figures


# --- report ------------------------------------------------------------------------------


def section(args: argparse.Namespace, started: dt.datetime, info: dict[str, str], campaign: Campaign,
            figures: Figures, wall: float) -> str:
    command = "python bench/kill_campaign.py " + shlex.join(sys.argv[1:])
    tally = campaign.tally
    lines = [f"## {started:%Y-%m-%d %H:%M} UTC — `{command.strip()}`", ""]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    lines += [
        (f"- seed {args.seed}; {sum(tally.kills.values())} kills, wall time {wall / 60:.1f} min; batch size 4; "
         f"{FILES_PER_INGEST} files per ingest folder (half .txt, half .html), {PAGES_PER_CRAWL} new pages per "
         f"crawl; SMTP answer delayed {SMTP_DELAY * 1000:.0f} ms"),
        "",
        "### Kills",
        "",
        md_table(["process", "killed", "ended before its kill moment", "last full run (s)"],
                 [(k, tally.kills[k], tally.finished_early[k], f"{campaign.duration.get(k, 0):.1f}") for k in KINDS]),
        "",
        (f"- {tally.cut_sending} of {tally.kills['alerts']} alert runs were killed after sending part of their "
         f"pending mail; before each alert run an ingest (not killed) with e-mail off leaves {FILES_PER_INGEST // 2} "
         f"new articles' messages pending"),
        "",
        "### Articles",
        "",
        md_table(["given", "indexed", "lost", "duplicated", "id differs", "unknown in index", "search answers"],
                 [(figures.given, figures.indexed, len(figures.lost), len(figures.duplicated),
                   len(figures.wrong_id), figures.unknown, "yes" if figures.search_ok else "**no**")]),
        "",
        "### Instant alerts",
        "",
        md_table([f"saved search (× {READERS_EACH} users)", "delivery", "expected", "delivered", "missed", "doubled",
                  "not due"], [(*key, *values) for key, values in figures.rows.items()]),
        "",
        (f"- total: expected {figures.expected}, delivered {figures.delivered}, missed {len(figures.missed)}, "
         f"doubled {len(figures.doubled)}, not due {len(figures.unexpected)}, "
         f"resent with the same Message-ID {figures.resent_same_id}; {figures.messages} messages accepted, "
         f"{figures.still_pending} deliveries still pending after the last run"),
    ]
    found = problems(campaign, figures)
    lines += [f"- {p}" for p in found[:40]]
    if len(found) > 40:
        lines.append(f"- … and {len(found) - 40} more")
    lines.append("")
    return "\n".join(lines)


def problems(campaign: Campaign, figures: Figures) -> list[str]:
    """Every article lost, doubled or misnamed, alert missed, doubled or not due, and process that failed."""
    return (figures.lost + figures.duplicated + figures.wrong_id + figures.missed + figures.doubled
            + figures.unexpected + campaign.tally.failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=52, help="kills in all, spread over the four kinds (default 52)")
    parser.add_argument("--seed", type=int, default=14, help="random seed (default 14: the run is repeatable)")
    parser.add_argument("--max-minutes", type=float, default=25.0, help="stop killing after this long (default 25)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance and logs")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = parser.parse_args(argv)
    started, clock = dt.datetime.now(dt.UTC), time.monotonic()
    info = machine()
    root = Path(tempfile.mkdtemp(prefix="newsdesk-kills-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `kill` cleans up as Ctrl-C does
    campaign = Campaign(root, args.seed)
    keep = args.keep
    try:
        campaign.add_alerts(early=True)
        for kind in KINDS:  # one full run each: the durations the kill moments are drawn from
            print(f"measure {campaign.step(kind, kill=False)}", file=sys.stderr)
        plan = [KINDS[n % len(KINDS)] for n in range(args.kills)]
        campaign.rng.shuffle(plan)
        for n, kind in enumerate(plan, start=1):
            if n == len(plan) // 2:
                campaign.add_alerts(early=False)
                print("saved the later searches", file=sys.stderr)
            if time.monotonic() - clock > args.max_minutes * 60:
                print(f"time is up after {n - 1} steps", file=sys.stderr)
                break
            print(f"[{n}/{len(plan)}] {campaign.step(kind, kill=True)}", file=sys.stderr)
        for kind in KINDS:  # each kind once more to the end; the last ingest is given every folder again
            if kind == "ingest":
                campaign.unfinished = sorted(campaign.folders.iterdir())
                campaign.run("ingest", ["ingest", str(campaign.folders)], None, mail=True)
                print(f"final ingest: ran to the end in {campaign.duration['ingest']:.1f} s", file=sys.stderr)
            else:
                print(f"final {campaign.step(kind, kill=False)}", file=sys.stderr)
        figures = check(campaign)
        text = section(args, started, info, campaign, figures, time.monotonic() - clock)
        print(text)
        append_results(args.out, text)
        keep = keep or bool(problems(campaign, figures))  # the evidence, for a defect's reproduction
    finally:
        campaign.close()
        if keep:
            print(f"instance and logs kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
