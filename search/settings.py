"""Settings: loaded once (defaults ← file ← environment) and passed explicitly.

Every stage receives the ``Settings`` it needs as an argument; nothing reads
the environment behind the caller's back. The settings file is TOML, by
default ``newsdesk.toml`` in the instance directory, or the file named by
``NEWSDESK_CONFIG``. Each variable is ``NEWSDESK_`` + the upper-case name.
Command-line options (``newsdesk serve --host/--port``) are the last layer.

``base_url`` left unset (empty) follows the address the server listens on,
``http://host:port``, computed once the layers are merged: so ``newsdesk
serve --port 8123`` links to port 8123, and a ``base_url`` set in the file or
the environment wins over it (behind a proxy, or with TLS in front).
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from search.errors import SettingsError


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container or
    ``taskset`` may narrow), else the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    #: The instance directory: Whoosh index, later SQLite state and the
    #: page archive. One directory to back up. (``--index DIR``)
    index: Path = Path("index")
    #: Address ``newsdesk serve`` listens on.
    host: str = "127.0.0.1"
    port: int = 8000
    #: Worker threads of the WSGI server (one process: each process holding
    #: a searcher takes about the index size in private memory, plus the
    #: index files mapped, so threads, not processes).
    threads: int = 8
    #: Seconds an ingest waits for another writer to release the index.
    write_timeout: float = 30.0
    #: Articles per commit during ingest: a killed ingest loses at most this many.
    batch_size: int = 500
    #: Processes that clean and enrich pages during ingest and reindex (the
    #: index writer stays one, then in a process of its own): by default
    #: every core this process may use; 1 does everything in the main
    #: process. (``--workers N``)
    workers: int = field(default_factory=usable_cores)
    #: Seconds one search may spend collecting hits before it gives up.
    search_time_limit: float = 5.0
    #: Longest query text accepted, in characters.
    max_query_length: int = 1000
    #: Most index terms one wildcard or prefix may expand to.
    max_wildcard_terms: int = 2000
    #: How many searches' facet counts are kept for reuse (paging, the front
    #: page) until the index changes; 0 counts every time.
    facet_cache_size: int = 256
    #: Results per page when the request does not say (API caps it at 100).
    per_page: int = 10
    #: Seed for langdetect, so the same text always gets the same language.
    langdetect_seed: int = 0
    #: Cleaner: largest page extracted, in bytes; a larger one is skipped
    #: with the reason logged.
    clean_max_bytes: int = 10 * 1024 * 1024
    #: Cleaner: most HTML elements in a page extracted; extraction time grows
    #: with them (the largest of 1,336 real test pages has under 10,000, and
    #: 40,000 take trafilatura about 12 s), so this bounds a page's time in
    #: the crawler's worker threads, where ``clean_time_limit`` cannot act.
    clean_max_elements: int = 50_000
    #: Cleaner: seconds one page may take to extract before it is skipped
    #: (enforced on the main thread: ingest, reindex, ``newsdesk extract``).
    clean_time_limit: float = 20.0
    #: Cleaner: a date found in a page's content before this year is taken
    #: for a mistake (a founding year, a copyright line) and dropped. Dates
    #: a corpus's own metadata states are kept whatever their year.
    date_floor_year: int = 1990
    #: Crawler: least seconds between two requests to one host (robots.txt
    #: ``Crawl-delay`` wins when larger).
    crawl_min_gap: float = 1.0
    #: Crawler: hosts fetched at once (one worker per host, so each host
    #: still sees one request at a time).
    crawl_concurrency: int = 4
    #: Crawler: seconds to connect, and between bytes read, before a request fails.
    crawl_timeout: float = 30.0
    #: Crawler: largest page read, in bytes; a larger page is dropped, not cut.
    crawl_max_bytes: int = 5 * 1024 * 1024
    #: Crawler: redirects followed for one URL before it counts as a loop.
    crawl_max_redirects: int = 5
    #: Crawler: retries of one request answered 5xx or 429 (with growing waits).
    crawl_retries: int = 3
    #: Crawler: seconds before a URL that failed or redirected is asked for
    #: again (doubled for each further failure, at most 30 days).
    crawl_backoff: float = 21600.0
    #: Crawler: whether ``newsdesk serve`` keeps crawling the instance's
    #: sources in the background, each when it is due (off: only
    #: ``newsdesk crawl`` and ``crawl --loop`` crawl).
    crawl_in_background: bool = True
    #: Crawler: shortest and longest seconds from one crawl of a source to
    #: the next. Between them each source's interval follows how often it
    #: publishes, and doubles while it fails (search/crawl/schedule.py); the
    #: shortest is never less than ``crawl_min_gap`` or a robots.txt
    #: ``Crawl-delay``.
    crawl_interval_min: float = 300.0
    crawl_interval_max: float = 21600.0
    #: Crawler: whether sources an administrator enters on ``/sources`` may
    #: point at private, loopback and link-local addresses. Off, they are
    #: refused when added and whenever crawled (no server-side request
    #: forgery); sources added from the command line may be anywhere.
    allow_private_sources: bool = False
    #: Crawler: a URL or e-mail address put in the User-Agent, so site
    #: operators can reach whoever runs this instance.
    user_agent_contact: str = ""
    #: Accounts: whether anyone may create an account on the web (else only
    #: ``newsdesk users add`` creates them).
    registration_open: bool = False
    #: Accounts: whether searching needs a logged-in user (open to anyone by default).
    search_requires_login: bool = False
    #: Session and login cookies only over HTTPS (turn on behind TLS).
    secure_cookies: bool = False
    #: The public address every absolute link and id points to (alert
    #: e-mails, alert feeds, search feeds). Empty: ``http://host:port`` of
    #: the settings, filled in when they are built.
    base_url: str = ""
    #: Alerts: SMTP server for e-mail; empty means e-mail alerts wait unsent
    #: (they go out once a server is set, nothing is lost).
    smtp_host: str = ""
    smtp_port: int = 25
    #: Alerts: ``none``, ``starttls`` or ``ssl``.
    smtp_tls: str = "none"
    smtp_user: str = ""
    smtp_password: str = ""
    #: Alerts: the From address of alert e-mails.
    mail_from: str = "newsdesk@localhost"
    #: Alerts: seconds between the scheduler's runs inside ``newsdesk serve``
    #: (catch-up, digests); 0 turns the scheduler off.
    alerts_interval: float = 60.0
    #: Where articles and state live: ``whoosh`` (the default: a Whoosh index
    #: and SQLite in the instance directory, no service to run) or
    #: ``postgres`` (both in the PostgreSQL database ``database_url``, shared
    #: by every web process and worker; the instance directory keeps the
    #: page archive and the secret key).
    backend: str = "whoosh"
    #: The PostgreSQL database of the ``postgres`` backend, as a libpq URL
    #: (``postgresql://user:password@host:5432/newsdesk``). The first command
    #: against an empty database creates its tables.
    database_url: str = ""
    #: A read replica searches go to (empty: the primary, ``database_url``).
    #: Writes, and reads that must see a write just made, stay on the primary.
    database_read_url: str = ""
    #: The Redis server ``newsdesk worker`` takes work from, as a URL
    #: (``redis://host:6379/0``). Empty: ingest and crawl run in the process
    #: that asks for them.
    redis_url: str = ""

    def __post_init__(self) -> None:
        if not self.base_url:
            object.__setattr__(self, "base_url", listening_url(self.host, self.port))

    @property
    def index_dir(self) -> Path:
        """Where the Whoosh files live inside the instance directory."""
        return self.index / "whoosh"


def listening_url(host: str, port: int) -> str:
    """The URL of a server listening on ``host``:``port``.

    A wildcard address (listen everywhere) names no host a reader can reach;
    ``localhost`` is the one that works on this machine, and ``base_url``
    is the setting to give when others read the links.
    """
    name = "localhost" if host in ("", "0.0.0.0", "::") else host
    if ":" in name:  # an IPv6 literal (RFC 3986 §3.2.2)
        name = f"[{name}]"
    return f"http://{name}:{port}"


def seeds_dir() -> Path:
    """The reference data (``seeds/``): ``NEWSDESK_SEEDS``, else beside the package.

    Located from the code, not the working directory, so every command finds
    the gazetteer and the manifest wherever it is run from.
    """
    override = os.environ.get("NEWSDESK_SEEDS")
    return Path(override) if override else Path(__file__).resolve().parents[1] / "seeds"


def load_settings(
    index: str | Path | None = None,
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults ← settings file ← environment ← command-line ``options`` and ``index`` (None: not given)."""
    env = os.environ if environ is None else environ
    instance = Path(index or env.get("NEWSDESK_INDEX") or Settings.index)
    path = Path(config_file or env.get("NEWSDESK_CONFIG") or instance / "newsdesk.toml")
    values: dict[str, Any] = _read_file(path)
    values.update(_read_environ(env))
    values.update({name: value for name, value in (options or {}).items() if value is not None})
    values["index"] = instance
    return _coerce(values)


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as f:
            return dict(tomllib.load(f))
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"cannot read settings file {path}: {e}") from e


def _read_environ(env: Mapping[str, str]) -> dict[str, str]:
    names = {f.name for f in fields(Settings)}
    return {name: env[f"NEWSDESK_{name.upper()}"] for name in names if f"NEWSDESK_{name.upper()}" in env}


SMTP_TLS = ("none", "starttls", "ssl")
BACKENDS = ("whoosh", "postgres")
_BOOLEAN = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _coerce(values: dict[str, Any]) -> Settings:
    known = {f.name: f for f in fields(Settings)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
    defaults = Settings()
    typed = {}
    for name, value in values.items():
        kind = type(getattr(defaults, name))
        try:
            typed[name] = _typed(kind, value)
        except (TypeError, ValueError, KeyError) as e:
            raise SettingsError(f"setting {name}={value!r} is not a valid {kind.__name__}") from e
    if typed.get("workers", 1) < 1:
        raise SettingsError(f"setting workers={typed['workers']!r} is not a valid number of processes (1 or more)")
    shortest = typed.get("crawl_interval_min", defaults.crawl_interval_min)
    longest = typed.get("crawl_interval_max", defaults.crawl_interval_max)
    if not 0 < shortest <= longest:
        raise SettingsError(f"settings crawl_interval_min={shortest!r} and crawl_interval_max={longest!r} must be "
                            "seconds with 0 < crawl_interval_min <= crawl_interval_max")
    backend = typed.get("backend", defaults.backend)
    if backend not in BACKENDS:
        raise SettingsError(f"setting backend={backend!r} is not one of {', '.join(BACKENDS)}")
    if backend == "postgres" and importlib.util.find_spec("psycopg") is None:
        raise SettingsError("the postgres backend needs the psycopg package", hint="pip install 'newsdesk[postgres]'")
    if backend == "postgres" and not typed.get("database_url"):
        raise SettingsError("the postgres backend needs database_url (NEWSDESK_DATABASE_URL), "
                            "e.g. postgresql://newsdesk@localhost:5432/newsdesk")
    if typed.get("smtp_tls", "none") not in SMTP_TLS:
        raise SettingsError(f"setting smtp_tls={typed['smtp_tls']!r} is not one of {', '.join(SMTP_TLS)}")
    return Settings(**typed)  # not replace(defaults): an unset base_url follows the host and port given


def _typed(kind: type, value: Any) -> Any:
    if isinstance(value, kind):
        return value
    if kind is bool:  # bool("false") is True: read the word instead
        return _BOOLEAN[str(value).strip().lower()]
    return kind(value)
