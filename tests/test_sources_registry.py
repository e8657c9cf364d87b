"""The instance's own sources (``search.sources.registry``) and OPML, the feed readers' lists (``search.sources.opml``).

The registry is tried on a real state database in ``tmp_path``; OPML on
documents shaped the way feed readers write them (FreshRSS, Miniflux:
nested categories, ``type="rss"``, ``xmlUrl``, ``htmlUrl``, ``title``,
``text``) and on hostile ones (not XML, entity bombs, external entities).
"""

from __future__ import annotations

import datetime as dt
from contextlib import closing
from pathlib import Path

import pytest
from lxml import etree

from search.errors import NotFound, SourceError, SourceExists
from search.records import Source
from search.settings import Settings
from search.sources import add_source, instance_sources, read_opml, registered_sources, remove_source, write_opml
from search.sources.opml import MAX_OPML_BYTES, OpmlUnreadable
from search.state import open_state, state_path

WIRE = Source(name="Balkan Wire", url="https://balkanwire.example/", feeds=("https://balkanwire.example/rss",))
OBSERVER = Source(name="daily Observer", url="https://observer.example/", sitemaps=("https://observer.example/sm.xml",))


# --- the registry -----------------------------------------------------------------


def test_reading_an_instance_without_sources_gives_none_and_creates_nothing(fresh: Settings) -> None:
    assert registered_sources(fresh) == [] and instance_sources(fresh) == []
    assert not fresh.index.exists()
    fresh.index.mkdir(parents=True)
    with closing(open_state(fresh)):
        pass  # a state database other stages made, without the sources table
    assert registered_sources(fresh) == []


def test_added_sources_are_listed_by_name_whatever_the_case_with_who_added_them(fresh: Settings) -> None:
    before = dt.datetime.now(dt.UTC)
    add_source(fresh, WIRE)
    add_source(fresh, OBSERVER, added_by="ana@example.org")
    add_source(fresh, Source(name="Agence", url="https://agence.example/", public_only=True), added_by="OPML file x")

    listed = registered_sources(fresh)
    assert [item.source.name for item in listed] == ["Agence", "Balkan Wire", "daily Observer"]
    assert [item.added_by for item in listed] == ["OPML file x", "command line", "ana@example.org"]
    assert all(before <= item.added_at <= dt.datetime.now(dt.UTC) for item in listed)
    assert listed[1].source == WIRE  # every field kept as given
    assert [source.public_only for source in instance_sources(fresh)] == [True, False, False]
    assert instance_sources(fresh) == [item.source for item in listed]


def test_urls_are_normalised_and_a_name_tidied_before_they_are_kept(fresh: Settings) -> None:
    kept = add_source(fresh, Source(
        name="  Balkan \t Wire ", url="HTTPS://BalkanWire.example:443",
        feeds=("https://balkanwire.example/rss?utm_source=x&b=2&a=1#top", "https://BALKANWIRE.example/rss?a=1&b=2"),
        sitemaps=("http://balkanwire.example:80/a/../sitemap.xml",),
    ))
    expected = Source(name="Balkan Wire", url="https://balkanwire.example/", feeds=("https://balkanwire.example/rss?a=1&b=2",),
                      sitemaps=("http://balkanwire.example/sitemap.xml",))
    assert kept == expected
    assert instance_sources(fresh) == [expected]


@pytest.mark.parametrize("clash", [
    Source(name="BALKAN WIRE", url="https://elsewhere.example/"),  # the name, in another case
    Source(name="Balkan   Wire", url="https://elsewhere.example/"),  # the name, spaced out
    Source(name="Another", url="https://BALKANWIRE.example:443/#front"),  # the homepage, spelled otherwise
])
def test_a_name_or_homepage_already_kept_is_source_exists_and_nothing_changes(fresh: Settings, clash: Source) -> None:
    add_source(fresh, WIRE)
    with pytest.raises(SourceExists) as refused:
        add_source(fresh, clash)
    assert refused.value.status == 409
    assert "already kept" in refused.value.message
    assert instance_sources(fresh) == [WIRE]


def test_removing_by_name_in_any_case_or_by_homepage_spelled_otherwise(fresh: Settings) -> None:
    add_source(fresh, WIRE)
    add_source(fresh, OBSERVER)
    assert remove_source(fresh, "balkan WIRE") == WIRE
    assert remove_source(fresh, "HTTPS://observer.example") == OBSERVER
    assert registered_sources(fresh) == []
    with pytest.raises(NotFound) as missing:
        remove_source(fresh, "Balkan Wire")
    assert missing.value.status == 404


@pytest.mark.parametrize(("source", "message"), [
    (Source(name=" ", url="https://a.example/"), "needs a name"),
    (Source(name="x" * 201, url="https://a.example/"), "needs a name"),
    (Source(name="A", url="ftp://a.example/"), "not a web address"),
    (Source(name="A", url="https:///no-host"), "not a web address"),
    (Source(name="A", url="https://a.example/", feeds=("/rss",)), "not a web address: '/rss'"),
    (Source(name="A", url="https://a.example/", sitemaps=("javascript:alert(1)",)), "not a web address"),
    (Source(name="A", url="https://a.example/", allow=("news/(",)), "bad pattern 'news/('"),
    (Source(name="A", url="https://a.example/", deny=("*video",)), "bad pattern '*video'"),
])
def test_a_source_that_cannot_be_crawled_is_refused_with_the_reason(fresh: Settings, source: Source,
                                                                    message: str) -> None:
    with pytest.raises(SourceError) as refused:
        add_source(fresh, source)
    assert message in refused.value.message
    assert refused.value.status == 400 and not isinstance(refused.value, SourceExists)
    assert registered_sources(fresh) == []


def test_names_outside_ascii_are_unique_without_regard_to_case_too(fresh: Settings) -> None:
    add_source(fresh, Source(name="Вести", url="https://vesti.example/"))
    assert remove_source(fresh, "вести").name == "Вести"
    add_source(fresh, Source(name="Вести", url="https://vesti.example/"))
    with pytest.raises(SourceExists):
        add_source(fresh, Source(name="ВЕСТИ", url="https://other.example/"))


# --- OPML: reading ----------------------------------------------------------------

#: A feed reader's export, shaped as FreshRSS and Miniflux write it: categories holding feeds.
READER_EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>FreshRSS export</title><dateCreated>Mon, 03 Jun 2024 10:00:00 +0000</dateCreated></head>
  <body>
    <outline text="Balkans">
      <outline text="Balkan Wire" type="rss" xmlUrl="https://balkanwire.example/rss" htmlUrl="https://balkanwire.example/"
               title="Balkan Wire" description="News from the region" language="en"/>
      <outline text="Regional">
        <outline type="rss" title="&#x412;&#x435;&#x441;&#x442;&#x438;" text="&#x412;&#x435;&#x441;&#x442;&#x438;"
                 xmlUrl="https://vesti.example/feed/" htmlUrl="https://vesti.example/"/>
      </outline>
    </outline>
    <outline text="World">
      <outline title="Observer (title only)" type="rss" xmlUrl="https://observer.example/world.xml"/>
      <outline type="rss" xmlUrl="https://untitled.example/feed.xml"/>
    </outline>
  </body>
</opml>
"""


def test_a_feed_readers_export_gives_one_source_per_feed_through_nested_categories() -> None:
    found = read_opml(READER_EXPORT)
    assert found.skipped == []
    assert found.sources == [
        Source(name="Balkan Wire", url="https://balkanwire.example/", feeds=("https://balkanwire.example/rss",),
               language="en"),
        Source(name="Вести", url="https://vesti.example/", feeds=("https://vesti.example/feed/",)),
        # no htmlUrl: the feed's site is the homepage; no text: the title names it; neither: the host
        Source(name="Observer (title only)", url="https://observer.example/", feeds=("https://observer.example/world.xml",)),
        Source(name="untitled.example", url="https://untitled.example/", feeds=("https://untitled.example/feed.xml",)),
    ]


def test_outlines_of_one_name_are_one_source_with_several_feeds() -> None:
    found = read_opml(b"""<opml version="1.0"><body>
        <outline text="Sections">
          <outline text="Balkan Wire" xmlUrl="https://balkanwire.example/politics.rss" htmlUrl="https://balkanwire.example/"/>
          <outline text="BALKAN  WIRE" xmlUrl="https://balkanwire.example/economy.rss" language="sr"/>
          <outline text="Balkan Wire" xmlUrl="https://balkanwire.example/politics.rss"/>
        </outline>
      </body></opml>""")
    assert found.sources == [Source(
        name="Balkan Wire", url="https://balkanwire.example/",
        feeds=("https://balkanwire.example/politics.rss", "https://balkanwire.example/economy.rss"), language="sr",
    )]


def test_a_link_outline_is_a_source_known_by_its_homepage_alone() -> None:
    found = read_opml(b"""<opml version="2.0"><body>
        <outline type="link" text="Daily Observer" url="https://observer.example/"/>
        <outline type="link" text="Not a link" xmlUrl="https://feeds.example/a.rss"/>
      </body></opml>""")
    assert found.sources == [
        Source(name="Daily Observer", url="https://observer.example/"),
        Source(name="Not a link", url="https://feeds.example/", feeds=("https://feeds.example/a.rss",)),
    ]


def test_outlines_that_are_no_source_are_skipped_each_with_where_and_why() -> None:
    found = read_opml(b"""<opml version="2.0"><body>
        <outline text="Good" xmlUrl="https://good.example/rss"/>
        <outline text="Relative" xmlUrl="/feed.xml"/>
        <outline text="Script" xmlUrl="javascript:alert(1)"/>
        <outline text="FTP home" xmlUrl="https://ftp.example/rss" htmlUrl="ftp://ftp.example/"/>
        <outline text="Nothing to read"/>
        <outline text="An empty category"><outline text="Inside" type="link" url="mailto:a@b.example"/></outline>
      </body></opml>""")
    assert [source.name for source in found.sources] == ["Good"]
    assert found.skipped == [
        ("outline 2 (Relative)", "not a web address: '/feed.xml'"),
        ("outline 3 (Script)", "not a web address: 'javascript:alert(1)'"),
        ("outline 4 (FTP home)", "not a web address: 'ftp://ftp.example/'"),
        ("outline 5 (Nothing to read)", "no xmlUrl (feed) or url (homepage)"),
        ("outline 7 (Inside)", "not a web address: 'mailto:a@b.example'"),
    ]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "not XML"),
    (b"Balkan Wire, https://balkanwire.example/rss", "not XML"),
    (b'<opml version="2.0"><body><outline text="cut short"', "not XML"),
    (b"<html><body><a href='https://balkanwire.example/rss'>feed</a></body></html>", "no <opml>"),
    (b'<?xml version="1.0"?><rss version="2.0"><channel><title>A feed</title></channel></rss>', "no <opml>"),
])
def test_what_is_not_opml_is_opml_unreadable(data: bytes, message: str) -> None:
    with pytest.raises(OpmlUnreadable, match=message):
        read_opml(data)


def test_an_opml_file_larger_than_the_limit_is_refused_unparsed() -> None:
    padding = b"<!--" + b"x" * MAX_OPML_BYTES + b"-->"
    with pytest.raises(OpmlUnreadable, match="larger than 20 MB"):
        read_opml(b'<opml version="2.0">' + padding + b"<body/></opml>")


def test_an_opml_without_a_body_lists_nothing() -> None:
    found = read_opml(b'<opml version="2.0"><head><title>Empty</title></head></opml>')
    assert found.sources == [] and found.skipped == []


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<opml version="2.0"><body><outline text="&lol9;" xmlUrl="https://lol.example/rss"/></body></opml>
"""


def test_an_entity_bomb_is_refused_not_expanded() -> None:
    """A billion "lol"s (3 GB) from under 1 KB: refused before it is parsed, as is any entity declaration."""
    with pytest.raises(OpmlUnreadable, match="declares entities"):
        read_opml(BILLION_LAUGHS)


def test_an_external_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the server's secret", encoding="utf-8")
    data = (f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY leak SYSTEM "file://{secret}">]>'
            '<opml version="2.0"><body><outline text="&leak;" xmlUrl="https://leak.example/rss"/>'
            '<outline text="Leak">&leak;</outline></body></opml>').encode()
    try:
        found = read_opml(data)
    except OpmlUnreadable:
        return  # refused: nothing read
    assert "secret" not in repr(found)


def test_an_internal_entity_is_not_expanded_into_a_source() -> None:
    amplified = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(3))
    data = (f'<?xml version="1.0"?><!DOCTYPE opml [{amplified}]><opml version="2.0"><body>'
            '<outline text="&d;" xmlUrl="https://a.example/rss"/></body></opml>').encode()
    try:
        found = read_opml(data)
    except OpmlUnreadable:
        return
    assert all(len(source.name) < 1000 for source in found.sources)


# --- OPML: writing and reading back --------------------------------------------------

TRICKY = [
    Source(name="Balkan Wire", url="https://balkanwire.example/",
           feeds=("https://balkanwire.example/rss?a=1&b=2", "https://balkanwire.example/atom.xml"), language="en"),
    Source(name="Вести & «Новости»", url="https://vesti.example/", feeds=("https://vesti.example/feed/",), language="sr"),
    Source(name='Tom & Jerry <News> "Daily"', url="https://tj.example/", feeds=("https://tj.example/rss",)),
    Source(name="Čačak Žurnal", url="https://cacak.example/"),  # no feed: the crawler reads its homepage
]


def test_written_opml_is_opml_2_readers_understand() -> None:
    created = dt.datetime(2024, 6, 3, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    data = write_opml(TRICKY, "Newsdesk sources", created)

    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(data)
    assert (root.tag, root.get("version")) == ("opml", "2.0")
    assert root.findtext("head/title") == "Newsdesk sources"
    assert root.findtext("head/dateCreated") == "Mon, 03 Jun 2024 10:30:00 GMT"  # RFC 822, as OPML 2.0 asks
    outlines = [dict(outline.attrib) for outline in root.iterfind("body/outline")]
    assert outlines[0] == {"type": "rss", "text": "Balkan Wire", "title": "Balkan Wire",
                           "xmlUrl": "https://balkanwire.example/rss?a=1&b=2", "htmlUrl": "https://balkanwire.example/",
                           "language": "en"}
    assert [(o["type"], o["text"]) for o in outlines] == [
        ("rss", "Balkan Wire"), ("rss", "Balkan Wire"), ("rss", "Вести & «Новости»"),
        ("rss", 'Tom & Jerry <News> "Daily"'), ("link", "Čačak Žurnal")]
    assert outlines[-1]["url"] == "https://cacak.example/"
    assert b"Tom &amp; Jerry &lt;News&gt; &quot;Daily&quot;" in data and b"<News>" not in data


def test_what_is_written_reads_back_as_the_same_sources() -> None:
    found = read_opml(write_opml(TRICKY, "Newsdesk sources", dt.datetime.now(dt.UTC)))
    assert found.skipped == []
    assert found.sources == TRICKY


def test_a_reader_export_read_written_and_read_again_is_unchanged() -> None:
    once = read_opml(READER_EXPORT).sources
    assert read_opml(write_opml(once, "again", dt.datetime.now(dt.UTC))).sources == once


def test_the_registry_round_trips_through_opml(fresh: Settings, tmp_path: Path) -> None:
    """Export from one instance, import into another: the same sources (sitemaps and patterns have no place in OPML)."""
    for source in TRICKY:
        add_source(fresh, source)
    data = write_opml(instance_sources(fresh), "Newsdesk sources", dt.datetime.now(dt.UTC))
    other = Settings(index=tmp_path / "other")
    for source in read_opml(data).sources:
        add_source(other, source, added_by="OPML file sources.opml")
    assert instance_sources(other) == instance_sources(fresh)
    assert state_path(other).is_file()


def test_two_adds_of_one_source_at_once_keep_one_and_refuse_the_other(fresh: Settings) -> None:
    """The check and the insert are one write transaction: the second add sees the first, never a 500."""
    import threading

    outcomes: list[str] = []
    start = threading.Barrier(8)

    def add(n: int) -> None:
        start.wait()
        try:
            add_source(fresh, Source(name="Racing Daily", url=f"https://racing{n}.example/"))
            outcomes.append("added")
        except SourceExists:
            outcomes.append("exists")

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added"] + ["exists"] * 7
    assert [kept.source.name for kept in registered_sources(fresh)] == ["Racing Daily"]
