"""Politeness across workers: host leases and the per-host gap, kept in Redis.

Sits under ``search.workers``, where ``search.crawl.politeness.HostGate``
sits under one crawl: that gate keeps one request at a time per host, a gap
apart, inside one process; RQ workers are many processes, on one machine or
several, so the same two rules live in Redis here.

* A **lease** on a host (``HostLeases``): ``SET key token NX PX ttl``, so
  one worker at a time holds it; renewed every third of its time-to-live
  while held (a thread), released by a compare-and-delete script that
  deletes the key only while it still holds the holder's token (a lease
  that expired and went to another worker is never released by the first).
  A worker killed while holding one loses it at the end of its ttl; sooner
  when a worker on the same machine sees that the holder's process is gone
  (the token names machine and process).
* The **gap** (``SharedGate``): when each host may next be asked (``free
  at``, the end of the last response plus the gap), on Redis's clock so that
  workers on machines whose clocks differ still agree. It has
  ``HostGate``'s interface, and a worker's ``Fetcher`` uses it in place of
  its own: robots.txt, redirect hops and retries go through it like pages.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from redis import Redis

from search.crawl.politeness import HostGate

log = logging.getLogger(__name__)

#: Seconds a lease lasts unless renewed: long enough that a renewal is never late under load, short enough
#: that a host a dead worker held on another machine is free again soon.
LEASE_TTL = 30.0
_PREFIX = "newsdesk:host"
#: How long a host's "free at" is kept after its last request (it is in the past by then anyway).
_FREE_AT_TTL_MS = 86_400_000
#: While waiting for a lease a request needs mid-job (a redirect to another host), it is asked this often.
_POLL = 0.02

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
# Both on Redis's clock (TIME): the workers' own clocks may disagree.
_DEFER = """
local t = redis.call('time')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local free = now + tonumber(ARGV[1])
local old = tonumber(redis.call('get', KEYS[1]) or '0')
if free > old then redis.call('set', KEYS[1], string.format('%.6f', free), 'px', ARGV[2]) end
return 0
"""
_WAITING = """
local t = redis.call('time')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local free = tonumber(redis.call('get', KEYS[1]) or '0')
return string.format('%.6f', free - now)
"""


def lease_key(host: str) -> str:
    return f"{_PREFIX}:lease:{host}"


def free_at_key(host: str) -> str:
    return f"{_PREFIX}:free-at:{host}"


@dataclass
class Lease:
    """One host leased to this process: renewed by a thread until released."""

    host: str
    token: str
    _stop: threading.Event = field(default_factory=threading.Event)
    _renewer: threading.Thread | None = None


class HostLeases:
    """Leases of hosts, one holder at a time, on one Redis connection (see the module docstring)."""

    def __init__(self, connection: Redis, ttl: float = LEASE_TTL) -> None:
        self.connection = connection
        self.ttl_ms = int(ttl * 1000)
        self._release = connection.register_script(_RELEASE)
        self._renew = connection.register_script(_RENEW)
        self._held: dict[str, Lease] = {}
        self._guard = threading.Lock()

    def acquire(self, host: str) -> Lease | None:
        """The lease on ``host``, or None at once when another worker holds it."""
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        key = lease_key(host)
        if not self.connection.set(key, token, nx=True, px=self.ttl_ms):
            holder = self.connection.get(key)
            if holder is None or not _holder_gone(holder.decode() if isinstance(holder, bytes) else str(holder)):
                return None
            # Its holder was killed on this machine: free the host now rather than at the end of the ttl.
            log.info("lease on %s: its holder's process is gone; taking it over", host)
            self._release(keys=[key], args=[holder])
            if not self.connection.set(key, token, nx=True, px=self.ttl_ms):
                return None
        lease = Lease(host, token)
        lease._renewer = threading.Thread(target=self._keep, args=(lease,), name=f"lease {host}", daemon=True)
        lease._renewer.start()
        with self._guard:
            self._held[host] = lease
        return lease

    def release(self, lease: Lease) -> bool:
        """Give the host up; False when the lease had already expired (and perhaps gone to another)."""
        lease._stop.set()
        if lease._renewer is not None:
            lease._renewer.join()
        with self._guard:
            if self._held.get(lease.host) is lease:
                del self._held[lease.host]
        return bool(self._release(keys=[lease_key(lease.host)], args=[lease.token]))

    def held(self, host: str) -> Lease | None:
        """This process's lease on ``host``, if it holds one."""
        with self._guard:
            return self._held.get(host)

    @contextmanager
    def holding(self, host: str) -> Iterator[None]:
        """``host`` leased for the block: the one this process holds already, else one waited for."""
        if self.held(host) is not None:
            yield
            return
        lease = self.acquire(host)
        while lease is None:
            time.sleep(_POLL)
            lease = self.acquire(host)
        try:
            yield
        finally:
            self.release(lease)

    def _keep(self, lease: Lease) -> None:
        while not lease._stop.wait(self.ttl_ms / 3000):
            try:
                if not self._renew(keys=[lease_key(lease.host)], args=[lease.token, self.ttl_ms]):
                    log.warning("lease on %s was lost before it was released", lease.host)
                    return
            except Exception:  # Redis away for a moment: the next renewal may reach it, well within the ttl
                log.warning("could not renew the lease on %s", lease.host, exc_info=True)


def _holder_gone(token: str) -> bool:
    """Whether the lease's holder is a process of this machine that no longer runs."""
    machine, _, rest = token.partition(":")
    pid = rest.partition(":")[0]
    if machine != socket.gethostname() or not pid.isdigit():
        return False
    return not process_alive(int(pid))


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


class SharedGate(HostGate):
    """``HostGate`` with its state in Redis: each request holds its host's lease, waits out the gap since
    the last response from any worker, and sets the next one."""

    def __init__(self, leases: HostLeases) -> None:
        super().__init__()
        self.leases = leases
        self._defer = leases.connection.register_script(_DEFER)
        self._waiting = leases.connection.register_script(_WAITING)

    @contextmanager
    def slot(self, host: str, gap: float) -> Iterator[None]:
        with self.leases.holding(host):
            wait = self.waiting(host)
            if wait > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                self.defer(host, gap)

    def waiting(self, host: str) -> float:
        """Seconds until ``host`` may be asked again (0 when it may now)."""
        return max(0.0, float(self._waiting(keys=[free_at_key(host)])))

    def defer(self, host: str, seconds: float) -> None:
        """No request to ``host`` before ``seconds`` from now, by any worker."""
        self._defer(keys=[free_at_key(host)], args=[seconds, _FREE_AT_TTL_MS])
