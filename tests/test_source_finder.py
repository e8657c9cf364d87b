"""Adding an outlet by its address: ``find_source`` finds the feeds and sitemaps, and checks each once.

Real HTTP servers on loopback play the outlets; what is found is what a
crawl will read, fetched with the crawler's manners (robots.txt first).
Sources entered on the web reach public addresses only: the same finder and
the crawler refuse private and local ones for them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from conftest import make_settings
from loopback import Reply, Site, Web, html, rss
from search.crawl import crawl, find_source
from search.crawl.addresses import is_public, require_public, require_public_peer
from search.errors import FetchError, SourceError
from search.records import Source
from search.settings import Settings
from search.sources import instance_sources
from web.cli import main


@pytest.fixture
def web() -> Iterator[Web]:
    servers = Web()
    yield servers
    servers.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "instance", crawl_min_gap=0.0, crawl_retries=0)


def _feed(site: Site, count: int = 2) -> Reply:
    items = [(site.url(f"/news/{n}"), f"News {n}", None) for n in range(count)]
    return Reply(body=rss(items), headers={"Content-Type": "application/rss+xml"})


def _homepage(head: str = "", title: str = "Daily Fixture | Home") -> Reply:
    return Reply(body=f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>{head}</head>'
                      f"<body><p>Front page</p></body></html>".encode())


def test_a_homepage_gives_its_announced_feed_and_its_own_name(web: Web, settings: Settings) -> None:
    site = web.site()
    site.routes["/"] = lambda: _homepage('<meta property="og:site_name" content="Daily Fixture">'
                                         '<link rel="alternate" type="application/rss+xml" href="/rss">')
    site.routes["/rss"] = lambda: _feed(site, 3)
    found = find_source(site.url("/"), settings)
    assert found.source.name == "Daily Fixture"
    assert found.source.url == site.url("/")
    assert found.source.feeds == (site.url("/rss"),)
    assert [(c.kind, c.pages) for c in found.checks] == [("feed", 3)]
    assert not found.source.public_only
    # Manners: robots.txt was asked first.
    assert web.requests()[0].path == "/robots.txt"


def test_a_feed_address_gives_the_feed_and_its_site(web: Web, settings: Settings) -> None:
    site = web.site()
    body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire Fixture</title>'
            f"<link>{site.url('/')}</link><item><title>A</title><link>{site.url('/a')}</link></item>"
            f"</channel></rss>").encode()
    site.routes["/feed.xml"] = lambda: Reply(body=body, headers={"Content-Type": "application/rss+xml"})
    found = find_source(site.url("/feed.xml"), settings, name="The Wire")
    assert found.source.name == "The Wire"  # a name given wins
    assert found.source.url == site.url("/")
    assert found.source.feeds == (site.url("/feed.xml"),)


def test_a_homepage_without_an_announced_feed_is_tried_at_the_usual_paths(web: Web, settings: Settings) -> None:
    site = web.site()
    site.routes["/"] = lambda: _homepage(title="Home - Plain Press")
    site.routes["/rss.xml"] = lambda: _feed(site)
    found = find_source(site.url("/"), settings)
    assert found.source.feeds == (site.url("/rss.xml"),)
    assert found.source.name == "Plain Press"  # "Home" is not a name


def test_sitemaps_named_in_robots_txt_are_kept(web: Web, settings: Settings) -> None:
    site = web.site()
    sitemap = (f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
               f"<url><loc>{site.url('/news/1')}</loc></url></urlset>").encode()
    site.routes["/robots.txt"] = lambda: Reply(body=f"User-agent: *\nAllow: /\nSitemap: {site.url('/sitemap.xml')}\n"
                                               .encode(), headers={"Content-Type": "text/plain"})
    site.routes["/"] = lambda: _homepage()
    site.routes["/sitemap.xml"] = lambda: Reply(body=sitemap, headers={"Content-Type": "application/xml"})
    found = find_source(site.url("/"), settings)
    assert found.source.feeds == ()
    assert found.source.sitemaps == (site.url("/sitemap.xml"),)


def test_a_site_with_nothing_to_follow_is_refused_saying_why(web: Web, settings: Settings) -> None:
    site = web.site()
    site.routes["/"] = lambda: _homepage('<link rel="alternate" type="application/rss+xml" href="/broken">')
    site.routes["/broken"] = lambda: Reply(500, b"down")
    with pytest.raises(SourceError) as refused:
        find_source(site.url("/"), settings)
    assert "no feed or sitemap found" in str(refused.value) and "HTTP 500" in str(refused.value)
    assert "feed" in (refused.value.hint or "")


def test_an_unreachable_or_forbidden_site_is_refused(web: Web, settings: Settings) -> None:
    site = web.site()
    site.routes["/robots.txt"] = lambda: Reply(body=b"User-agent: *\nDisallow: /\n", headers={"Content-Type": "text/plain"})
    with pytest.raises(SourceError, match="robots.txt disallows"):
        find_source(site.url("/"), settings)
    with pytest.raises(SourceError, match="cannot read"):
        find_source("http://127.0.0.1:9/", settings)  # nothing listens on the discard port
    with pytest.raises(SourceError, match="not a web address"):
        find_source("ftp://example.org/", settings)


def test_sources_add_on_the_command_line_keeps_a_loopback_source(web: Web, settings: Settings) -> None:
    site = web.site()
    site.routes["/"] = lambda: _homepage('<link rel="alternate" type="application/rss+xml" href="/rss">')
    site.routes["/rss"] = lambda: _feed(site)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["sources", "add", site.url("/"), "--name", "Loopback Daily", "--index", str(settings.index)]) == 0
    assert "added Loopback Daily" in out.getvalue()
    [kept] = instance_sources(settings)
    assert kept.feeds == (site.url("/rss"),) and not kept.public_only


# --- public addresses only, for sources entered on the web -------------------------------------


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "::1", "fc00::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1", "not an address",
])
def test_private_local_and_odd_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_internet_addresses_are_public(address: str) -> None:
    assert is_public(address)


def test_loopback_names_are_refused_before_and_after_connecting() -> None:
    with pytest.raises(FetchError, match="private or local"):
        require_public("http://localhost:8000/feed")
    with pytest.raises(FetchError, match="private or local"):
        require_public("http://127.0.0.1/")
    with pytest.raises(FetchError, match="private or local"):
        require_public_peer(("127.0.0.1", 80))
    require_public_peer(("8.8.8.8", 443))


def test_a_web_entered_address_on_loopback_is_refused_unless_allowed(web: Web, settings: Settings) -> None:
    site = web.site()
    site.routes["/"] = lambda: _homepage('<link rel="alternate" type="application/rss+xml" href="/rss">')
    site.routes["/rss"] = lambda: _feed(site)
    with pytest.raises(SourceError, match="private or local address"):
        find_source(site.url("/"), settings, public_only=True)
    assert web.requests() == []  # not even robots.txt was asked
    found = find_source(site.url("/"), settings, public_only=False)
    assert found.source.feeds == (site.url("/rss"),)


def test_the_crawler_keeps_a_web_entered_source_off_private_addresses(web: Web, tmp_path: Path) -> None:
    site = web.site()
    site.routes["/rss"] = lambda: _feed(site, 1)
    site.routes["/news/0"] = lambda: Reply(body=html("News 0", "the dialogue").encode())
    source = Source(name="Entered on the web", url=site.url("/"), feeds=(site.url("/rss"),), public_only=True)
    refused = crawl([source], make_settings(tmp_path / "a", crawl_min_gap=0.0), progress=False)
    assert refused.added == 0 and refused.failed == 1
    assert "private or local address" in refused.failures[0][1]
    assert web.requests() == []
    allowed = crawl([source], make_settings(tmp_path / "b", crawl_min_gap=0.0, allow_private_sources=True),
                    progress=False)
    assert allowed.added == 1
