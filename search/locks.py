"""Instance-wide "one at a time" locks: a file in the instance directory held with ``flock``.

Ground floor, beside ``search.state``. One crawl at a time per instance
(``crawl.lock``, search/crawl/crawler.py) and one alert run (``alerts.lock``,
search/alerts/schedule.py) are such locks; the index writer's lock waits
instead, so it lives with the archive. ``flock`` locks go with the open file,
so a process killed while holding one releases it: no stale lock file to
clean up after a crash.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from search.settings import Settings


@contextmanager
def try_lock(settings: Settings, name: str) -> Iterator[bool]:
    """Whether this process got the instance's lock ``name`` (held until the block ends; never waits)."""
    settings.index.mkdir(parents=True, exist_ok=True)
    with (settings.index / name).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
