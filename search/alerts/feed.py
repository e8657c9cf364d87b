"""A saved search's Atom feed page: the articles its alert delivered, newest delivery first.

The read side of the alert stage: the deliveries the runner recorded in the
outbox (search/alerts/outbox.py), with each article as the index holds it now. The
web renders it (web/feeds.py, ``/feeds/<token>.atom``). Exports
``feed_page``, ``AlertFeed`` and ``FeedEntry``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from search.alerts.mail import Reason
from search.alerts.outbox import deliveries
from search.query import Reader
from search.records import Hit, SavedSearch
from search.settings import Settings


@dataclass(frozen=True)
class FeedEntry:
    hit: Hit
    delivered: dt.datetime
    why: Reason


@dataclass(frozen=True)
class AlertFeed:
    """A saved search's delivered articles, newest delivery first: what its Atom feed shows."""

    saved: SavedSearch
    entries: tuple[FeedEntry, ...]

    @property
    def updated(self) -> dt.datetime:
        moments = [entry.delivered for entry in self.entries]
        return max(moments, default=self.saved.created or dt.datetime(2000, 1, 1, tzinfo=dt.UTC))


def feed_page(settings: Settings, saved: SavedSearch, reader: Reader, limit: int = 50) -> AlertFeed:
    """The saved search's delivered articles (sent, pending or feed-only), newest delivery first."""
    delivered = deliveries(settings, saved.id, limit)
    # An article taken down since is left out of the feed.
    hits = {hit.id: hit for hit in reader.hits([d.article_id for d in delivered])}
    entries = (FeedEntry(hits[d.article_id], d.created, d.why) for d in delivered if d.article_id in hits)
    return AlertFeed(saved, tuple(entries))
