"""Politeness: what robots.txt allows the crawler, and how often a host may be asked.

Sits under ``search.crawl``, beside the fetcher (``search.crawl.fetch``), which asks
it before every request: ``RobotsRules`` is one origin's robots.txt as rules
(RFC 9309; ``allows`` a URL, the ``delay`` it asks for) for ``ROBOTS_TOKEN``,
origins are ``scheme://host:port`` (``origin_of``, ``origin_url``), and a
``HostGate`` lets one request at a time reach a host, a gap apart.

Exports: ``ROBOTS_TOKEN``, ``RobotsRules``, ``origin_of``, ``origin_url``,
``HostGate``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from search.errors import FetchError

#: The product token robots.txt groups are matched against.
ROBOTS_TOKEN = "Newsdesk"


@dataclass(frozen=True)
class RobotsRules:
    parser: Protego | None
    unreachable: str | None = None  # why nothing may be fetched from the origin for now

    def allows(self, url: str) -> bool:
        """Whether robots.txt lets us fetch ``url``; ``FetchError`` when it could not be read.

        An unreachable robots.txt is a failure of the origin (counted, backed
        off), not a rule of its owner, so it is not reported as ``RobotsDenied``.
        """
        if self.unreachable:
            raise FetchError(self.unreachable)
        return self.parser is None or bool(self.parser.can_fetch(url, ROBOTS_TOKEN))

    def delay(self) -> float:
        found = self.parser.crawl_delay(ROBOTS_TOKEN) if self.parser is not None else None
        return float(found or 0.0)


def origin_of(url: str) -> str:
    """``scheme://host:port`` with the default port made explicit (RFC 9309)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def origin_url(origin: str) -> str:
    """The URL form of an origin (default ports dropped again)."""
    scheme, rest = origin.split("://", 1)
    host, _, port = rest.rpartition(":")
    default = {"http": "80", "https": "443"}.get(scheme)
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"


class HostGate:
    """One request at a time per host, ``gap`` seconds from one end to the next start."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._free_at: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str, gap: float) -> Iterator[None]:
        with self._lock(host):
            wait = self._free_at.get(host, 0.0) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                self.defer(host, gap)

    def waiting(self, host: str) -> float:
        """Seconds until ``host`` may be asked again (0 when it may now)."""
        with self._guard:
            return max(0.0, self._free_at.get(host, 0.0) - time.monotonic())

    def defer(self, host: str, seconds: float) -> None:
        """No request to ``host`` before ``seconds`` from now (Retry-After, backoff)."""
        with self._guard:
            self._free_at[host] = max(self._free_at.get(host, 0.0), time.monotonic() + seconds)

    def _lock(self, host: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(host, threading.Lock())
