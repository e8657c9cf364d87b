"""The server process's heap: fewer malloc arenas, and freed memory handed back to the system.

Part of the web app (``create_app`` installs the hook; ``newsdesk serve``
caps the arenas before its threads start). Both act on glibc's allocator
only and do nothing elsewhere.

Why: glibc gives each thread that allocates under contention an arena of
its own (up to 8 per core), and memory freed in one is reused by that arena
only. A server thread's big transient allocations — a front page sorting
every article, facet counts over every match — leave each of the eight
arenas holding its own high-water mark. Capping them at two, as
``MALLOC_ARENA_MAX=2`` does, took the private memory of a server at 113k
articles after 2,000 varied requests from about 210 to 160 MB, at no
measurable CPU cost; calling ``malloc_trim`` every 50 requests, which
returns the free pages inside the arenas, took it to about 140 MB
(bench/serve_memory.py). An explicit ``MALLOC_ARENA_MAX`` in the environment
wins over the cap.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import os
import platform
import threading
from typing import Any

from flask import Flask

#: Arenas the server's threads share (the Python interpreter holds the GIL
#: for most of its allocations, so more arenas buy little concurrency).
ARENAS = 2
#: Requests between two ``malloc_trim`` calls (each takes a few milliseconds).
TRIM_EVERY = 50

_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (before the server's threads start); False where that cannot be done."""
    libc = _glibc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, arenas))


def init_app(app: Flask) -> None:
    """Hand freed heap back to the system every ``TRIM_EVERY`` requests."""
    libc = _glibc()
    if libc is None:
        return
    counter = itertools.count(1)
    lock = threading.Lock()

    @app.teardown_request
    def _trim(error: BaseException | None) -> None:
        with lock:
            due = next(counter) % TRIM_EVERY == 0
        if due:
            libc.malloc_trim(0)


@functools.cache
def _glibc() -> Any | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc
