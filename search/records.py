"""The typed records that flow between pipeline stages.

sources → ``RawPage`` → clean → ``Article`` → enrich → ``Article`` → index;
a collection's record travels as a ``RawPage`` of type ``RECORD_TYPE`` holding
its ``StatedRecord``, a page from a web archive with its ``Fetched`` answer;
the index gives back ``StoredArticle`` (search/index/document.py) to query and alerts;
query: ``SearchQuery`` → search → ``SearchPage`` (→ HTML, JSON, Atom); an actor →
``actor_page`` → ``ActorPage`` (→ HTML, JSON).

Records are plain dataclasses so every stage can be tested on its own and
nothing passes loose dicts across a stage boundary.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

#: Facet bucket for a value the article does not state (outlet, year,
#: language). Counted like any other value, never dropped.
UNKNOWN = "unknown"

#: The facets, in the order the UI and the API list them.
FACETS: tuple[str, ...] = ("outlet", "actor", "year", "language")

Published = dt.date | dt.datetime


@dataclass(frozen=True)
class RawPage:
    """A source document as received, and its text, before any cleaning.

    ``data`` is the bytes as received: what the archive keeps, and what the
    article id is hashed from when no canonical URL is known. ``text`` is
    those bytes decoded once, where the page was acquired
    (``search.decode.received_page``); the cleaner reads only the text. Bytes
    with no text (binary data, an encoding nobody can tell) still make a page,
    so the archive keeps them for a better reader: ``unreadable`` says why, and
    the cleaner skips the page with that reason.
    ``hints`` carries metadata stated outside the document itself, e.g. by a
    manifest, a feed entry or a sitemap.
    """

    data: bytes
    text: str
    origin: str  # where it came from: a file path or a fetched URL
    content_type: str  # "text/plain", "text/html" or RECORD_TYPE
    url: str | None = None
    hints: PageHints = field(default_factory=lambda: PageHints())
    unreadable: str | None = None  # why ``data`` has no text; ``text`` is then empty
    # How the page was fetched, when it came from a web archive (a WARC
    # ``response`` record): the archive keeps it as a response with its
    # capture date, as if the crawler had fetched it then.
    fetched: Fetched | None = None


@dataclass(frozen=True)
class Fetched:
    """An HTTP answer a page came in: status, headers (as received) and the moment of capture."""

    status: int
    headers: tuple[tuple[str, str], ...]
    at: dt.datetime


#: The content type of a page that is one record of a collection (a line of
#: JSON Lines, a row of CSV), as ``StatedRecord.as_bytes`` writes it.
RECORD_TYPE = "application/vnd.newsdesk.record+json"

#: The fields a record can state, in the order they are written.
RECORD_FIELDS: tuple[str, ...] = ("id", "url", "title", "outlet", "author", "published", "language", "text", "html")


@dataclass(frozen=True)
class StatedRecord:
    """One article as a collection states it: a JSON Lines line or a CSV row,
    its columns mapped to these fields (``search.sources``), values as stated.

    ``text`` is the article's plain text, ``html`` a page the cleaner extracts
    the article from; at least one of them is given. The record's bytes
    (``as_bytes``: sorted keys, compact) are what the archive keeps and, when
    it states no URL, what its article id is hashed from, so the same record
    read again, from JSON Lines or CSV, is the same article.
    """

    text: str | None = None
    html: str | None = None
    id: str | None = None  # the collection's own id: kept, not the article id (unique only in its collection)
    url: str | None = None
    title: str | None = None
    outlet: str | None = None
    author: str | None = None
    published: str | None = None  # as stated; the cleaner reads it
    language: str | None = None  # as stated; the cleaner maps it to a code

    def as_bytes(self) -> bytes:
        stated = {name: getattr(self, name) for name in RECORD_FIELDS if getattr(self, name) is not None}
        return json.dumps(stated, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_text(cls, text: str) -> StatedRecord:
        """The record ``as_bytes`` wrote (decoded); ``ValueError`` when it is not one."""
        data = json.loads(text)
        if not isinstance(data, dict) or not set(data) <= set(RECORD_FIELDS):
            raise ValueError("not a Newsdesk record")
        if not all(isinstance(value, str) for value in data.values()):
            raise ValueError("a Newsdesk record holds strings only")
        return cls(**data)


@dataclass(frozen=True)
class Skipped:
    """A page that could not be acquired (unreadable, binary, undecodable), and why: counted, never fatal."""

    origin: str
    reason: str


@dataclass(frozen=True)
class Source:
    """One outlet to crawl, as a ``[[source]]`` table of a sources file.

    ``name`` becomes the outlet of every article found through it. ``allow``
    and ``deny`` are regular expressions searched (``re.search``) in each
    discovered absolute URL: a URL is crawled when it matches no ``deny``
    pattern and, if ``allow`` is given, at least one ``allow`` pattern.
    """

    name: str
    url: str  # the homepage: feeds are discovered from it when none are listed
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    language: str | None = None
    country: str | None = None
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    #: Added on the web: the crawler reaches only public addresses for it
    #: (``search.crawl.addresses``), unless ``allow_private_sources`` is set.
    public_only: bool = False

    def admits(self, url: str) -> bool:
        """Whether the allow / deny patterns let ``url`` be crawled."""
        if any(re.search(pattern, url) for pattern in self.deny):
            return False
        return not self.allow or any(re.search(pattern, url) for pattern in self.allow)


@dataclass(frozen=True)
class PageHints:
    """Metadata about a page known from outside its text (manifest, feed)."""

    outlet: str | None = None
    author: str | None = None
    published: Published | None = None
    published_source: str | None = None
    url: str | None = None


@dataclass
class Article:
    """One news article: the cleaner fills the text fields, enrich the rest."""

    id: str
    title: str
    text: str  # paragraphs separated by blank lines
    origin: str
    url: str | None = None
    outlet: str | None = None
    author: str | None = None
    published: Published | None = None
    published_source: str | None = None  # e.g. "manifest", "htmldate"
    language: str | None = None
    actors: list[str] = field(default_factory=list)  # actor ids, first mention first
    # MinHash sketch of the text (enrich); None for a text too short to
    # compare by anything but equality.
    minhash: tuple[int, ...] | None = None
    # Why the page holds no article (all navigation, an interstitial), or
    # None. A rejected page keeps what its metadata says (title, date) but
    # has no text, and the pipeline skips it with this reason.
    rejected: str | None = None

    @property
    def year(self) -> str:
        return str(self.published.year) if self.published else UNKNOWN


@dataclass(frozen=True)
class StoredArticle:
    """One article as the index gives it back: what the read side (results,
    an article's page, alerts) reads instead of Whoosh's stored fields.

    Made by ``search.index.document.from_stored``, the one place that reads them:
    an article's fields as written (``outlet``, ``year`` and ``language``
    "unknown" when not stated) plus what the index stage added.
    """

    id: str
    url: str | None
    title: str
    text: str
    origin: str
    outlet: str
    author: str | None
    published: Published | None  # as the article gave it: a date, or a moment with its zone
    published_utc: dt.datetime | None  # the same moment, naive UTC: what date ranges compare
    published_source: str | None
    year: str
    language: str
    actors: tuple[str, ...]  # actor ids, first mention first
    cluster: str  # its syndication cluster's id (search/index/duplicates.py): its own id when alone
    seq: int  # when it first entered this instance (search/index/sequence.py)
    indexed_at: dt.datetime | None  # when this version was written (naive UTC)
    fingerprint: str  # of its content: an unchanged article is not written again
    text_key: str  # hash of its folded words: exact copies share it
    minhash: tuple[int, ...] | None  # the sketch near copies are found by; None for a short text


#: The date filter's parameters: the ``SearchQuery`` field each is kept in, by its URL name.
DATE_PARAMETERS: dict[str, str] = {
    "from": "date_from", "to": "date_to", "range": "date_range", "dated": "dated", "certainty": "certainty",
}


@dataclass(frozen=True)
class SearchQuery:
    """What a user asked for: parsed from a URL, a form or the command line.

    The date filter is kept as asked (checked and normalised by
    ``search.query.make_query``, resolved to moments by
    ``search.query.parse.date_filter``), so a saved search keeps a preset
    relative and a date fixed.
    """

    q: str = ""
    outlet: tuple[str, ...] = ()
    actor: tuple[str, ...] = ()  # actor ids
    year: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    sort: str = "relevance"  # or "date"
    page: int = 1
    per_page: int = 10
    facet_limit: int = 10
    # A day, month or year (whole, in UTC: "2018-09-14", "2018-09", "2018") or a moment with its offset
    # ("2018-09-14T08:00:00+02:00"); "" leaves that end open.
    date_from: str = ""
    date_to: str = ""
    date_range: str = ""  # a preset counted back from ``now``: "24h", "week", "month", "year"; "" none
    dated: str = ""  # "yes": dated articles only, "no": undated only, "" either
    certainty: str = ""  # "certain" / "uncertain": by where the date came from (``CERTAIN_DATE_SOURCES``)
    now: dt.datetime | None = None  # the moment a preset counts back from, taken once per request
    # "story": the copies of one text (a syndication cluster) listed as one result, its first in the order
    # asked for (search/query/stories.py); "": every article listed.
    collapse: str = ""
    # What the total, the facets and the undated count count: "articles", or "stories" (a story with copies in
    # three outlets counts once in the total, once under each outlet).
    count: str = "articles"
    # A cursor from the page before (search/query/cursor.py): the page lists the results after the one it
    # names, and ``page`` is the number it carries; "" pages by number (``page``).
    after: str = ""

    def filters(self) -> dict[str, tuple[str, ...]]:
        return {name: getattr(self, name) for name in FACETS}

    def dates(self) -> dict[str, str]:
        """The date filter's parameters that are set, by URL name (``from``, ``to``, ``range``, …)."""
        return {name: getattr(self, attr) for name, attr in DATE_PARAMETERS.items() if getattr(self, attr)}


@dataclass(frozen=True)
class ActorRef:
    id: str
    name: str


#: Where a date is certain (``published_source``, search/clean/dates.py): stated by the outlet in its URL, feed,
#: ``<meta>`` tags or the stamp by the headline, or by a corpus's own metadata. On the htmldate and WCXB pages
#: (1,116 with a gold date) the dates the cleaner took from ``url``, ``page`` and ``meta`` were right to the day
#: 0.99, 0.96 and 0.92 of the time; from ``time`` 0.82 (any ``<time>`` element), ``htmldate`` 0.71 (its own
#: search, the last resort) and ``json-ld`` 0.68 (often a page's or site's date, not the article's). Those,
#: ``sitemap`` (a ``lastmod``: often a modification date), ``dateline`` (its year may come from elsewhere) and a
#: source not recorded are weak signals: such a date is shown as uncertain and filtered by ``certainty``.
CERTAIN_DATE_SOURCES = frozenset({"url", "feed", "page", "meta", "manifest", "record"})


def date_uncertain(published: Published | None, source: str | None) -> bool | None:
    """Whether a date came only from a weak signal; None for no date."""
    return None if published is None else source not in CERTAIN_DATE_SOURCES


@dataclass(frozen=True)
class Hit:
    """One result: the article's metadata and a snippet (safe HTML)."""

    id: str
    url: str | None
    title: str
    outlet: str
    author: str | None
    published: Published | None
    year: str
    language: str
    actors: tuple[ActorRef, ...]
    snippet: str  # article text escaped, matches wrapped in <mark>
    text: str | None = None  # full text, only when one article is asked for
    published_source: str | None = None
    # Syndication: the copies of one text (a wire story in several outlets)
    # share a cluster id; ``copies`` counts them (1 when alone); ``also``
    # names the other outlets among them, for "also published by".
    cluster: str = ""
    copies: int = 1
    also: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        """The API's hit object; with ``text`` for one article."""
        data: dict[str, object] = {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "outlet": self.outlet,
            "author": self.author,
            "published": self.published.isoformat() if self.published else None,
            "year": self.year,
            "language": self.language,
            "actors": [{"id": a.id, "name": a.name} for a in self.actors],
            "snippet": self.snippet,
            "cluster": self.cluster,
            "copies": self.copies,
            "also": list(self.also),
        }
        data["published_source"] = self.published_source if self.published else None
        data["date_uncertain"] = self.date_uncertain
        if self.text is not None:
            data["text"] = self.text
        return data

    @property
    def date_uncertain(self) -> bool | None:
        """Whether the date came only from a weak signal (``CERTAIN_DATE_SOURCES``); None when undated."""
        return date_uncertain(self.published, self.published_source)


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class SearchPage:
    """One page of results: what every renderer (HTML, JSON, Atom) reads."""

    query: SearchQuery
    total: int
    hits: tuple[Hit, ...]
    facets: dict[str, tuple[FacetValue, ...]]
    # Matches a date filter left out for having no date (0 without a date filter that excludes them).
    undated: int = 0
    # The date filter's first and last moment (naive UTC, to the second), None for an open end; None: no date filter.
    date_bounds: tuple[dt.datetime | None, dt.datetime | None] | None = None
    # What ``total``, the facets and ``undated`` count (``query.count``): "articles" or "stories". ``articles``
    # is the articles matched either way; ``stories`` the stories they belong to, when the page lists or counts
    # stories (None otherwise: not counted).
    counted: str = "articles"
    articles: int = 0
    stories: int | None = None
    # The cursor of the page after this one (search/query/cursor.py), None on the last page.
    next: str | None = None

    @property
    def listed(self) -> int:
        """How many results the pages list: stories when copies are collapsed, else articles."""
        return self.stories if self.query.collapse and self.stories is not None else self.articles

    @property
    def pages(self) -> int:
        return max(1, -(-self.listed // self.query.per_page))

    def as_json(self) -> dict[str, object]:
        """The ``/api/search`` contract (documented in the README)."""
        return {
            "query": self.query.q,
            "total": self.total,
            "counted": self.counted,
            "articles": self.articles,
            "stories": self.stories,
            "undated": self.undated,
            "dates": self._dates_json(),
            "page": self.query.page,
            "per_page": self.query.per_page,
            "next": self.next,
            "hits": [hit.as_json() for hit in self.hits],
            "facets": {
                name: [{"value": f.value, "label": f.label, "count": f.count, "selected": f.selected} for f in values]
                for name, values in self.facets.items()
            },
        }

    def _dates_json(self) -> dict[str, object] | None:
        """The date filter as asked and as resolved (a preset's moments), or None without one."""
        if self.date_bounds is None:
            return None
        low, high = self.date_bounds
        return {**self.query.dates(), "first": _utc_text(low), "last": _utc_text(high)}


def _utc_text(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment else None


@dataclass(frozen=True)
class ActorPage:
    """One actor and its coverage: what ``/actors/<id>`` and its JSON twin read."""

    id: str
    name: str
    type: str  # "person" | "organisation" | "country"; "unknown" once dropped from the gazetteer
    aliases: tuple[str, ...]  # other names the matcher knows, short forms included
    roles: tuple[str, ...]
    total: int  # articles naming the actor
    years: tuple[tuple[str, int], ...]  # (year, articles), newest first, "unknown" last
    latest: tuple[Hit, ...]  # newest first, undated last

    def as_json(self) -> dict[str, object]:
        """The ``/api/actors/<id>`` contract (documented in the README)."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "aliases": list(self.aliases),
            "roles": list(self.roles),
            "total": self.total,
            "years": [{"year": year, "count": count} for year, count in self.years],
            "latest": [hit.as_json() for hit in self.latest],
        }


# --- accounts, saved searches, alerts (search/alerts/accounts.py, search/alerts/saved.py, search/alerts/runner.py) ---

#: How often an alert is evaluated: after every ingest commit, or as a digest.
FREQUENCIES: tuple[str, ...] = ("instant", "daily", "weekly")


@dataclass(frozen=True)
class User:
    id: int
    email: str
    timezone: str = "UTC"  # IANA name; digests go out at their hour in this zone
    created: dt.datetime | None = None
    admin: bool = False  # manages the instance's sources on /sources


@dataclass(frozen=True)
class SavedSearch:
    """A query with its facet filters, saved by one user, and its alert options.

    ``watermark`` is the ingest number (search/index/sequence.py) up to which new
    articles have been considered: a new saved search starts at the current
    number, so it never backfills old articles.
    """

    id: int
    user_id: int
    name: str
    query: SearchQuery  # q and the facet filters; paging and sorting are not saved
    frequency: str = "instant"  # one of FREQUENCIES
    hour: int = 8  # digests: local hour of delivery (0–23)
    weekday: int = 0  # weekly digests: 0 = Monday
    email: bool = True  # deliver by email
    feed: bool = True  # deliver to the saved search's Atom feed
    first_of_cluster: bool = False  # only the first article of each syndication cluster
    watermark: int = 0
    feed_nonce: str = ""  # part of the signed feed token; a new nonce revokes the old URL
    created: dt.datetime | None = None
    last_run: dt.datetime | None = None  # when the alert was last evaluated (UTC)

    @property
    def alerting(self) -> bool:
        return self.email or self.feed
