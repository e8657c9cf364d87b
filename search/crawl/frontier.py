"""The crawler's memory: frontier, fetch log, validators, robots, health.

Tables in the instance's state (``search.state``: SQLite, or PostgreSQL's
twins in 0004_state.sql), owned by the crawler and declared here. ``search.crawl`` is the only writer, from one
thread; the web app and ``newsdesk sources`` only read (``source_health``,
``host_health``).

* ``crawl_frontier``: every URL known (normalised), its kind (``page``,
  ``feed``, ``sitemap``, ``home``), what happened last (``status``) and when
  it is due again (``next_fetch_at``). A fetched page is not due again until
  a feed or sitemap says it changed; a failed or redirected URL waits out a
  back-off; listings are due again at the start of every crawl.
* ``crawl_validators``: ETag / Last-Modified per URL for conditional GETs.
* ``crawl_robots``: each origin's robots.txt, revalidated once per crawl.
* ``crawl_fetch_log``, ``crawl_hosts``, ``crawl_sources``: what happened,
  for ``newsdesk sources`` and the ``/sources`` page.

Each URL's change of state is committed in one transaction with its
result, so a killed crawl resumes from the frontier as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from search.crawl.discover import Link
from search.crawl.fetch import Exchange, RobotsFile, Validators, host_of
from search.records import Published, Source
from search.settings import Settings
from search.state import Row, StateConnection, ensure_tables, read_state

DDL = """
CREATE TABLE IF NOT EXISTS crawl_frontier (
    url TEXT PRIMARY KEY,              -- normalised URL
    source TEXT NOT NULL,              -- the source that found it first
    kind TEXT NOT NULL,                -- page | feed | sitemap | home
    discovered_at REAL NOT NULL,       -- Unix time
    next_fetch_at REAL NOT NULL,       -- due when <= now
    status TEXT NOT NULL,              -- new | done | not-modified | noindex | unextractable
                                       -- | robots | failed | redirected
    failures INTEGER NOT NULL DEFAULT 0,
    fetched_at REAL,
    lastmod REAL,                      -- last change a feed or sitemap stated
    published TEXT,                    -- the date a feed or sitemap stated (ISO 8601)
    published_source TEXT,
    article_id TEXT,
    dated INTEGER,                     -- 1 when the indexed article has a date
    error TEXT
);
CREATE INDEX IF NOT EXISTS crawl_frontier_due ON crawl_frontier (source, next_fetch_at);
CREATE TABLE IF NOT EXISTS crawl_validators (
    url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT
);
CREATE TABLE IF NOT EXISTS crawl_robots (
    origin TEXT PRIMARY KEY, status INTEGER, body BLOB NOT NULL,
    etag TEXT, last_modified TEXT, fetched_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS crawl_fetch_log (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL, status INTEGER, bytes INTEGER NOT NULL,
    elapsed REAL NOT NULL, error TEXT, fetched_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS crawl_hosts (
    host TEXT PRIMARY KEY, requests INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
    last_success REAL, last_failure REAL, last_error TEXT
);
CREATE TABLE IF NOT EXISTS crawl_sources (
    name TEXT PRIMARY KEY, url TEXT NOT NULL, last_crawl REAL, last_success REAL,
    last_new_article REAL, last_failure REAL, last_error TEXT
);
"""

#: "Not due until something says it changed": later than any real date.
NEVER = 1e13
#: The longest a failing URL is left alone.
_MAX_BACKOFF = 30 * 86400.0
#: Listings before pages, so a host's pages are known before they are fetched.
_KIND_ORDER = "CASE kind WHEN 'home' THEN 0 WHEN 'feed' THEN 1 WHEN 'sitemap' THEN 2 ELSE 3 END"


@dataclass(frozen=True)
class Entry:
    """One due frontier row: what a unit of work is given."""

    url: str
    source: str
    kind: str
    status: str
    failures: int
    published: str | None
    published_source: str | None
    validators: Validators

    @property
    def host(self) -> str:
        return host_of(self.url)


@dataclass(frozen=True)
class SourceHealth:
    name: str
    url: str
    last_crawl: float | None
    last_success: float | None
    last_new_article: float | None
    last_failure: float | None
    last_error: str | None  # the latest failure's URL and reason
    articles: int  # pages indexed as articles
    undated: int  # of those, without a date
    pending: int  # URLs waiting to be fetched
    failed: int  # URLs whose last fetch failed
    unextractable: int  # pages fetched where the cleaner found no article
    robots: int  # URLs robots.txt keeps us from


@dataclass(frozen=True)
class HostHealth:
    host: str
    requests: int
    failures: int  # consecutive failed requests (0 after a success)
    last_success: float | None
    last_failure: float | None
    last_error: str | None


class Frontier:
    """The crawler's tables on one connection (one thread)."""

    def __init__(self, connection: StateConnection) -> None:
        self.db = connection
        ensure_tables(connection, DDL)

    # --- a crawl's start ------------------------------------------------------

    def start(self, sources: Sequence[Source], now: float) -> int:
        """Register sources and their listings; make every listing due again.

        Returns how many URLs are due. A failing listing is asked again with
        its source, whose schedule backs off instead (search/crawl/schedule.py):
        a source crawled is read whole. A source without feeds gets its
        homepage read for them.
        """
        with self.db:
            for source in sources:
                self.db.execute(
                    "INSERT INTO crawl_sources (name, url, last_crawl) VALUES (?, ?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET url = excluded.url, last_crawl = excluded.last_crawl",
                    (source.name, source.url, now),
                )
                for url, kind in _seeds(source):
                    self._insert(url, source.name, kind, now, None)
            names = [source.name for source in sources]
            self.db.execute(
                f"UPDATE crawl_frontier SET next_fetch_at = ? WHERE kind != 'page' AND source IN ({_marks(names)})",
                (now, *names),
            )
        return self.due_count([source.name for source in sources], now)

    def due(self, names: Sequence[str], now: float, limit: int = 10_000) -> list[Entry]:
        rows = self.db.execute(
            f"SELECT f.*, v.etag, v.last_modified FROM crawl_frontier f LEFT JOIN crawl_validators v USING (url) "
            f"WHERE f.source IN ({_marks(names)}) AND f.next_fetch_at <= ? "
            f"ORDER BY {_KIND_ORDER}, f.discovered_at, f.url LIMIT ?",
            (*names, now, limit),
        ).fetchall()
        return [_entry(row) for row in rows]

    def due_count(self, names: Sequence[str], now: float) -> int:
        row = self.db.execute(
            f"SELECT count(*) FROM crawl_frontier WHERE source IN ({_marks(names)}) AND next_fetch_at <= ?",
            (*names, now),
        ).fetchone()
        return int(row[0])

    def due_sources(self, names: Sequence[str], now: float) -> set[str]:
        """The sources among ``names`` with URLs due now: pages left by a crawl that stopped early, or
        failed ones whose back-off has passed."""
        rows = self.db.execute(
            f"SELECT DISTINCT source FROM crawl_frontier WHERE source IN ({_marks(names)}) AND next_fetch_at <= ?",
            (*names, now),
        ).fetchall()
        return {row[0] for row in rows}

    # --- results ----------------------------------------------------------------

    def add_links(self, links: Iterable[Link], source: str, now: float) -> int:
        """Put listed URLs in the frontier (the caller commits); returns how many are new.

        A known page becomes due again when the listing says it changed
        after we fetched it.
        """
        added = 0
        for link in links:
            published = _iso(link.published)
            if self._insert(link.url, source, link.kind, now, link.lastmod, published, link.published_source):
                added += 1
                continue
            self.db.execute(
                "UPDATE crawl_frontier SET lastmod = ?, "
                "published = coalesce(?, published), published_source = coalesce(?, published_source), "
                "next_fetch_at = CASE WHEN ? > coalesce(fetched_at, 0) AND status IN ('done', 'not-modified', "
                "'noindex', 'unextractable') AND next_fetch_at > ? THEN ? ELSE next_fetch_at END "
                "WHERE url = ? AND kind = 'page'",
                (link.lastmod, published, link.published_source, link.lastmod or 0, now, now, link.url),
            )
        return added

    def listed_date(self, url: str) -> tuple[str | None, str | None]:
        """The publication date (ISO 8601) and its source a feed or sitemap gave ``url``."""
        row = self.db.execute("SELECT published, published_source FROM crawl_frontier WHERE url = ?", (url,)).fetchone()
        return (row["published"], row["published_source"]) if row else (None, None)

    def mark_seen(self, url: str, source: str, now: float) -> None:
        """A URL reached another way (redirect target, canonical URL): not fetched again."""
        self.db.execute(
            "INSERT INTO crawl_frontier (url, source, kind, discovered_at, next_fetch_at, status, fetched_at) "
            "VALUES (?, ?, 'page', ?, ?, 'done', ?) ON CONFLICT(url) DO UPDATE SET "
            # The row's own columns named with their table: PostgreSQL finds a bare name ambiguous beside excluded's.
            "next_fetch_at = CASE WHEN crawl_frontier.status = 'new' THEN excluded.next_fetch_at "
            "ELSE crawl_frontier.next_fetch_at END, "
            "status = CASE WHEN crawl_frontier.status = 'new' THEN 'done' ELSE crawl_frontier.status END, "
            "fetched_at = coalesce(crawl_frontier.fetched_at, excluded.fetched_at)",
            (url, source, now, NEVER, now),
        )

    def finish(
        self,
        entry: Entry,
        status: str,
        now: float,
        validators: Validators | None = None,
        error: str | None = None,
        article_id: str | None = None,
        dated: bool | None = None,
        backoff: float = 0.0,
    ) -> None:
        """Record what happened to ``entry`` (the caller commits).

        ``failed``, ``redirected`` and ``robots`` wait ``backoff`` seconds
        (doubled per further failure); everything else waits until listed as
        changed, or, for listings, until the next crawl.
        """
        failures = entry.failures + 1 if status == "failed" else 0
        waits = status in {"failed", "redirected", "robots"}
        wait = min(backoff * 2 ** max(failures - 1, 0), _MAX_BACKOFF) if waits else None
        self.db.execute(
            "UPDATE crawl_frontier SET status = ?, failures = ?, fetched_at = ?, next_fetch_at = ?, error = ?, "
            "article_id = coalesce(?, article_id), dated = coalesce(?, dated) WHERE url = ?",
            (status, failures, now, now + wait if wait is not None else NEVER, error, article_id,
             None if dated is None else int(dated), entry.url),
        )
        if validators is not None and (validators.etag or validators.last_modified):
            self.db.execute(
                "INSERT INTO crawl_validators (url, etag, last_modified) VALUES (?, ?, ?) ON CONFLICT(url) "
                "DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified",
                (entry.url, validators.etag, validators.last_modified),
            )

    def log(self, exchanges: Iterable[Exchange]) -> None:
        """Fetch-log lines and host health for every request made (the caller commits)."""
        for ex in exchanges:
            self.db.execute(
                "INSERT INTO crawl_fetch_log (url, status, bytes, elapsed, error, fetched_at) VALUES (?, ?, ?, ?, ?, ?)",
                (ex.url, ex.status, ex.bytes, ex.elapsed, ex.error, ex.fetched_at),
            )
            # The host failed when it did not answer well; a page too large or of the wrong type is the page's.
            failed = ex.status is None or ex.status >= 500 or ex.status == 429
            self.db.execute(
                "INSERT INTO crawl_hosts (host, requests, failures, last_success, last_failure, last_error) "
                "VALUES (?, 1, ?, ?, ?, ?) ON CONFLICT(host) DO UPDATE SET requests = crawl_hosts.requests + 1, "
                "failures = CASE WHEN ? = 1 THEN crawl_hosts.failures + 1 ELSE 0 END, "
                "last_success = coalesce(excluded.last_success, crawl_hosts.last_success), "
                "last_failure = coalesce(excluded.last_failure, crawl_hosts.last_failure), "
                "last_error = coalesce(excluded.last_error, crawl_hosts.last_error)",
                (host_of(ex.url), int(failed), None if failed else ex.fetched_at, ex.fetched_at if failed else None,
                 _describe(ex) if failed else None, int(failed)),
            )

    def source_event(self, name: str, now: float, new_article: bool = False, error: str | None = None) -> None:
        """A source's last success (or error), and last new article (the caller commits)."""
        if error is not None:
            self.db.execute("UPDATE crawl_sources SET last_failure = ?, last_error = ? WHERE name = ?",
                            (now, error, name))
            return
        self.db.execute(
            "UPDATE crawl_sources SET last_success = ?, "
            "last_new_article = CASE WHEN ? = 1 THEN ? ELSE last_new_article END WHERE name = ?",
            (now, int(new_article), now, name),
        )

    # --- robots.txt between crawls ---------------------------------------------

    def robots_files(self) -> dict[str, RobotsFile]:
        rows = self.db.execute("SELECT * FROM crawl_robots").fetchall()
        return {
            row["origin"]: RobotsFile(
                row["origin"], row["status"], bytes(row["body"]), Validators(row["etag"], row["last_modified"]),
                row["fetched_at"],
            )
            for row in rows
        }

    def save_robots(self, files: Iterable[RobotsFile]) -> None:
        with self.db:
            for robots in files:
                self.db.execute(
                    "INSERT INTO crawl_robots (origin, status, body, etag, last_modified, fetched_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET status = excluded.status, "
                    "body = excluded.body, etag = excluded.etag, last_modified = excluded.last_modified, "
                    "fetched_at = excluded.fetched_at",
                    (robots.origin, robots.status, robots.body, robots.validators.etag,
                     robots.validators.last_modified, robots.fetched_at),
                )

    # --- helpers ------------------------------------------------------------------

    def _insert(
        self,
        url: str,
        source: str,
        kind: str,
        now: float,
        lastmod: float | None,
        published: str | None = None,
        published_source: str | None = None,
    ) -> bool:
        cursor = self.db.execute(
            "INSERT INTO crawl_frontier (url, source, kind, discovered_at, next_fetch_at, status, lastmod, "
            "published, published_source) VALUES (?, ?, ?, ?, ?, 'new', ?, ?, ?) ON CONFLICT(url) DO NOTHING",
            (url, source, kind, now, now, lastmod, published, published_source),
        )
        return cursor.rowcount > 0


def crawl_health(settings: Settings) -> tuple[list[SourceHealth], list[HostHealth]]:
    """Sources' and hosts' health, read-only; empty when no crawl has run yet."""
    empty: tuple[list[SourceHealth], list[HostHealth]] = ([], [])
    return read_state(settings, lambda db: (source_health(db), host_health(db)), empty)


def next_fetches(settings: Settings, names: Sequence[str]) -> dict[str, float]:
    """Read-only: when the first URL of each named source is due (a source with none waiting is left out)."""
    if not names:
        return {}
    rows: list[Row] = read_state(settings, lambda db: db.execute(
        f"SELECT source, min(next_fetch_at) FROM crawl_frontier WHERE source IN ({_marks(names)}) "
        f"GROUP BY source", tuple(names)).fetchall(), [])
    return {row[0]: float(row[1]) for row in rows if row[1] is not None and row[1] < NEVER}


def source_health(connection: StateConnection) -> list[SourceHealth]:
    """Each source's health, for ``newsdesk sources`` and ``/sources``."""
    rows = connection.execute(
        "SELECT s.*, "
        # Distinct ids: several URLs of one article (aliases, redirects) count once.
        "count(DISTINCT f.article_id) AS articles, "
        "count(DISTINCT CASE WHEN f.dated = 0 THEN f.article_id END) AS undated, "
        "count(CASE WHEN f.status = 'new' THEN 1 END) AS pending, "
        "count(CASE WHEN f.status = 'failed' THEN 1 END) AS failed, "
        "count(CASE WHEN f.status = 'unextractable' THEN 1 END) AS unextractable, "
        "count(CASE WHEN f.status = 'robots' THEN 1 END) AS robots "
        "FROM crawl_sources s LEFT JOIN crawl_frontier f ON f.source = s.name GROUP BY s.name ORDER BY s.name"
    ).fetchall()
    return [SourceHealth(**{name: row[name] for name in SourceHealth.__dataclass_fields__}) for row in rows]


def host_health(connection: StateConnection) -> list[HostHealth]:
    rows = connection.execute("SELECT * FROM crawl_hosts ORDER BY host").fetchall()
    return [HostHealth(**{name: row[name] for name in HostHealth.__dataclass_fields__}) for row in rows]


def _seeds(source: Source) -> list[tuple[str, str]]:
    seeds = [(url, "feed") for url in source.feeds] + [(url, "sitemap") for url in source.sitemaps]
    return seeds if source.feeds else [*seeds, (source.url, "home")]


def _entry(row: Row) -> Entry:
    return Entry(
        url=row["url"], source=row["source"], kind=row["kind"], status=row["status"], failures=row["failures"],
        published=row["published"], published_source=row["published_source"],
        validators=Validators(row["etag"], row["last_modified"]),
    )


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values)) or "NULL"


def _iso(value: Published | None) -> str | None:
    return value.isoformat() if value is not None else None


def _describe(exchange: Exchange) -> str:
    return exchange.error or f"HTTP {exchange.status}"


def now() -> float:
    return time.time()
