"""HTTP for the crawler: manners first, then bytes.

Sits under ``search.crawl``, before the cleaner: it turns a URL into a
``Response`` (bytes as received) or a ``FetchError`` saying why not. Every
request goes through one ``Fetcher`` per process, which holds what must be
shared between requests:

* robots.txt per origin (scheme, host, port — RFC 9309), fetched once before
  any other request to that origin and cached; 2xx is obeyed, 4xx allows
  everything, 5xx, 429 or no answer disallows everything for now;
* a ``HostGate``: one request at a time per host, at least ``crawl_min_gap``
  seconds apart (or the robots ``Crawl-delay`` when larger), counted from the
  end of one response to the start of the next;
* one httpx client (connection reuse), with a User-Agent naming Newsdesk.

Redirects are followed here, hop by hop, so each hop passes the robots and
politeness checks of its own origin; loops and long chains fail. 5xx and
429 are retried with growing waits, honouring ``Retry-After``. Bodies are
streamed and dropped at ``crawl_max_bytes``, never cut and kept.

The robots.txt rules and the host gate are ``search.crawl.politeness``; this module
fetches robots.txt (``RobotsFile``) and everything else. Exports:
``Fetcher``, ``Response``, ``Exchange``, ``Validators``, ``RobotsFile``,
``accept_html``, ``accept_any``, ``host_of``, ``user_agent`` and
``robots_directives`` (what a page's ``<meta name=robots>`` and
``X-Robots-Tag`` say about us).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from search import __version__
from search.crawl.addresses import require_public, require_public_peer
from search.crawl.politeness import ROBOTS_TOKEN, HostGate, RobotsRules, origin_of, origin_url
from search.errors import FetchError, RobotsDenied
from search.settings import Settings

#: RFC 9309 asks crawlers to read at least 500 KiB of a robots.txt.
_MAX_ROBOTS_BYTES = 500 * 1024
#: RFC 9309: follow at least five redirects for robots.txt.
_ROBOTS_REDIRECTS = 5
#: A server asking us to come back later than this is left for the next crawl.
_MAX_RETRY_WAIT = 120.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})


def user_agent(settings: Settings) -> str:
    """``Newsdesk/<version> (+<contact>)``: who we are and how to reach us."""
    contact = settings.user_agent_contact.strip()
    return f"{ROBOTS_TOKEN}/{__version__} (+{contact})" if contact else f"{ROBOTS_TOKEN}/{__version__}"


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its answer: a line of the fetch log."""

    url: str
    status: int | None  # None when no answer came (network error, refused early)
    bytes: int
    elapsed: float  # seconds
    fetched_at: float  # Unix time the request started
    error: str | None = None


@dataclass(frozen=True)
class Validators:
    """Conditional-GET validators a server gave for one URL."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        found = {"If-None-Match": self.etag, "If-Modified-Since": self.last_modified}
        return {name: value for name, value in found.items() if value}


@dataclass(frozen=True)
class Response:
    """The final answer for a URL, after redirects and retries."""

    url: str  # as asked
    final_url: str  # after redirects
    status: int  # 200, 304, or the error status that ended the retries
    headers: tuple[tuple[str, str], ...]
    body: bytes  # only read for 200
    fetched_at: float  # Unix time of the final request
    redirects: tuple[str, ...] = ()  # every URL after the first, in order

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def validators(self) -> Validators:
        return Validators(self.header("etag"), self.header("last-modified"))


@dataclass(frozen=True)
class RobotsFile:
    """One origin's robots.txt as last fetched (kept in state between crawls)."""

    origin: str
    status: int | None  # None: unreachable
    body: bytes = b""
    validators: Validators = field(default_factory=Validators)
    fetched_at: float = 0.0

    def rules(self) -> RobotsRules:
        if self.status is not None and 200 <= self.status < 300:
            return RobotsRules(Protego.parse(self.body.decode("utf-8", errors="replace")))
        if self.status is not None and 400 <= self.status < 500 and self.status != 429:
            return RobotsRules(None)  # RFC 9309 §2.3.1.3: unavailable, everything allowed
        # §2.3.1.4: unreachable, everything disallowed for now
        answer = f"HTTP {self.status}" if self.status is not None else "no answer"
        return RobotsRules(None, unreachable=f"robots.txt of {origin_url(self.origin)} unreachable ({answer})")


def host_of(url: str) -> str:
    """The host politeness and host health are kept for (no port)."""
    return (urlsplit(url).hostname or "").lower()


Accept = Callable[[str], bool]


def accept_html(content_type: str) -> bool:
    """Only HTML-like bodies are pages (a missing type is judged by the cleaner)."""
    return content_type in _HTML_TYPES


def accept_any(content_type: str) -> bool:
    return True


class Fetcher:
    """Everything requests share in one process: client, gate, robots cache.

    Thread-safe: host workers call ``get`` concurrently. ``known_robots``
    are robots.txt files from earlier crawls, re-validated with a
    conditional GET; ``robots_files()`` returns what this process fetched.
    """

    def __init__(self, settings: Settings, known_robots: dict[str, RobotsFile] | None = None) -> None:
        self.settings = settings
        self.gate = HostGate()
        self.client = httpx.Client(
            headers={"User-Agent": user_agent(settings)},
            timeout=httpx.Timeout(settings.crawl_timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max(4, settings.crawl_concurrency * 2)),
        )
        self._known = dict(known_robots or {})
        self._robots: dict[str, RobotsFile] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def robots_files(self) -> list[RobotsFile]:
        with self._guard:
            return list(self._robots.values())

    # --- one URL, redirects followed ---------------------------------------

    def get(
        self,
        url: str,
        trace: list[Exchange],
        validators: Validators | None = None,
        accept: Accept = accept_any,
        max_bytes: int | None = None,
        public_only: bool = False,
    ) -> Response:
        """The answer for ``url``; raises ``FetchError`` / ``RobotsDenied``.

        Every request made (robots.txt, retries, redirect hops) is appended
        to ``trace``, also when an error is raised. ``public_only`` refuses
        private and local addresses, at every hop (``search.crawl.addresses``).
        """
        limit = max_bytes or self.settings.crawl_max_bytes
        hops: list[str] = []
        current = url
        for _ in range(self.settings.crawl_max_redirects + 1):
            headers = (validators or Validators()).headers() if not hops else {}
            response = self._get_once(current, trace, headers, accept, limit, public_only)
            location = response.header("location")
            if response.status not in _REDIRECTS or not location:
                return _with_hops(response, url, hops)
            current = urljoin(current, location.strip())
            if current == url or current in hops:
                raise FetchError(f"redirect loop: {' → '.join([url, *hops, current])}")
            hops.append(current)
        raise FetchError(f"more than {self.settings.crawl_max_redirects} redirects")

    def _get_once(
        self, url: str, trace: list[Exchange], headers: dict[str, str], accept: Accept, limit: int,
        public_only: bool = False,
    ) -> Response:
        """One URL, no redirects: robots, politeness, retries on 5xx and 429."""
        host = host_of(url)
        for attempt in range(self.settings.crawl_retries + 1):
            if public_only:  # before robots.txt too: that is a request to the same host
                require_public(url)
            rules = self.robots(url, trace)
            if not rules.allows(url):
                raise RobotsDenied(f"robots.txt disallows {url}")
            gap = max(self.settings.crawl_min_gap, rules.delay())
            waiting = self.gate.waiting(host)
            if waiting > _MAX_RETRY_WAIT:  # a huge Crawl-delay or Retry-After must not stall the crawl
                raise FetchError(f"{host} asks us to wait {waiting:.0f} s: left for a later crawl")
            with self.gate.slot(host, gap):
                response = self._send(url, trace, headers, accept, limit, public_only)
            if not _retryable(response.status) or attempt == self.settings.crawl_retries:
                return response
            wait = max(gap, _retry_wait(response, attempt, gap))
            if wait > _MAX_RETRY_WAIT:
                raise FetchError(f"HTTP {response.status}: asked to come back in {wait:.0f} s")
            self.gate.defer(host, wait)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _send(
        self, url: str, trace: list[Exchange], headers: dict[str, str], accept: Accept, limit: int,
        public_only: bool = False,
    ) -> Response:
        started, wall = time.monotonic(), time.time()
        status: int | None = None
        body = b""
        try:
            with self.client.stream("GET", url, headers=headers) as answer:
                if public_only:  # the address connected to, whatever the name resolved to a moment ago
                    stream = answer.extensions.get("network_stream")
                    require_public_peer(stream.get_extra_info("server_addr") if stream is not None else None)
                status = answer.status_code
                if status == 200:
                    _check_type(answer, accept)
                    body = _read_capped(answer, limit, started + self.settings.crawl_timeout * 4)
                response = Response(url, url, status, tuple(answer.headers.multi_items()), body, wall)
        except (FetchError, httpx.HTTPError) as e:
            message = e.message if isinstance(e, FetchError) else _network_error(e)
            trace.append(Exchange(url, status, len(body), time.monotonic() - started, wall, message))
            raise FetchError(message) from None
        trace.append(Exchange(url, status, len(body), time.monotonic() - started, wall))
        return response

    # --- robots.txt ---------------------------------------------------------

    def robots(self, url: str, trace: list[Exchange]) -> RobotsRules:
        """The rules of ``url``'s origin, fetching its robots.txt on first use."""
        origin = origin_of(url)
        with self._guard:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:  # one fetch per origin, however many workers ask at once
            found = self._robots.get(origin)
            if found is None:
                found = self._fetch_robots(origin, trace)
                with self._guard:
                    self._robots[origin] = found
        return found.rules()

    def _fetch_robots(self, origin: str, trace: list[Exchange]) -> RobotsFile:
        known = self._known.get(origin)
        headers = known.validators.headers() if known and known.status == 200 else {}
        current = f"{origin_url(origin)}/robots.txt"
        for _ in range(_ROBOTS_REDIRECTS + 1):
            try:
                with self.gate.slot(host_of(current), self.settings.crawl_min_gap):
                    answer = self._send(current, trace, headers, accept_any, _MAX_ROBOTS_BYTES)
            except FetchError:
                return RobotsFile(origin, None, fetched_at=time.time())
            location = answer.header("location")
            if answer.status not in _REDIRECTS or not location:
                break
            current, headers = urljoin(current, location.strip()), {}
        else:
            return RobotsFile(origin, None, fetched_at=time.time())
        if answer.status == 304 and known is not None:
            return RobotsFile(origin, 200, known.body, known.validators, time.time())
        return RobotsFile(origin, answer.status, answer.body, answer.validators, time.time())


def _with_hops(response: Response, url: str, hops: list[str]) -> Response:
    return Response(url, response.url, response.status, response.headers, response.body, response.fetched_at,
                    tuple(hops))


def _retryable(status: int) -> bool:
    return status == 429 or 500 <= status < 600


def _retry_wait(response: Response, attempt: int, gap: float) -> float:
    """``Retry-After`` (seconds or an HTTP date) when given, else doubling waits."""
    value = (response.header("retry-after") or "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
            return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
    return max(gap, 1.0) * 2.0**attempt


def _check_type(answer: httpx.Response, accept: Accept) -> None:
    content_type = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    if not accept(content_type):
        raise FetchError(f"not an HTML page: {content_type}")


def _read_capped(answer: httpx.Response, limit: int, deadline: float) -> bytes:
    """The body, or ``FetchError`` as soon as it passes ``limit`` bytes.

    Decoded bytes are counted, so a small gzip body that inflates past the
    limit is stopped too; the deadline stops a server trickling bytes.
    """
    declared = answer.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit and "content-encoding" not in answer.headers:
        raise FetchError(f"larger than {limit} bytes (Content-Length {declared})")
    chunks: list[bytes] = []
    size = 0
    for chunk in answer.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise FetchError(f"larger than {limit} bytes")
        if time.monotonic() > deadline:
            raise FetchError("too slow: the body took longer than the time limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _network_error(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"timed out ({type(error).__name__})"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


# --- what a page says about us ------------------------------------------------

_META_TAG = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""")


def robots_directives(text: str, header: str | None) -> set[str]:
    """``noindex``, ``noarchive``, … from ``<meta name=robots|newsdesk>`` and ``X-Robots-Tag``."""
    found: set[str] = set()
    for tag in _META_TAG.findall(text[:200_000]):
        attributes = {key.lower(): value.strip("\"'") for key, value in _ATTRIBUTE.findall(tag)}
        if attributes.get("name", "").lower() in {"robots", ROBOTS_TOKEN.lower()}:
            found |= _directives(attributes.get("content", ""))
    for part in (header or "").split(","):
        # "X-Robots-Tag: otherbot: noindex" names another crawler: not ours.
        agent, _, rule = part.rpartition(":")
        if not agent.strip() or agent.strip().lower() == ROBOTS_TOKEN.lower():
            found |= _directives(rule)
    if "none" in found:
        found |= {"noindex", "nofollow"}
    return found


def _directives(content: str) -> set[str]:
    return {word.strip().lower() for word in re.split(r"[,\s]+", content) if word.strip()}
