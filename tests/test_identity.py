"""Identity: one URL spelling, one stored copy per outlet, one cluster per story.

URL normalisation and canonical links (``search.urls``, ``search.clean``);
same-outlet duplicates and cross-outlet syndication clusters
(``search.enrich`` SimHash, ``search.index.duplicates``, ``search.index``); the
``cluster`` and ``copies`` of each hit in the API, "also published by" on the
results page and the other copies on the article page. Every index is real,
built in the test's own directory from HTML pages written here.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape
from whoosh.searching import Searcher

from conftest import make_settings
from search.clean import clean
from search.decode import received_page
from search.enrich import Gazetteer, enrich
from search.fingerprint import MIN_FINGERPRINT_WORDS, minhash, shingles, text_minhash
from search.index import IndexReport, open_index, write_articles
from search.index.duplicates import CLUSTER_SIMILARITY, band_terms, estimate, jaccard, sketch_hex, text_key
from search.query import get_article, get_copies, make_query, search
from search.records import Article, PageHints, RawPage, SearchPage
from search.settings import Settings
from search.urls import TRACKING_PARAMETERS, article_id, canonical_url, normalize_url
from web import create_app

# --- fixtures: a wire story, its copies, an unrelated story ------------------

WIRE = [
    ("BELGRADE, June 4 (Wire) - Serbian and Kosovo negotiators agreed on Friday to resume talks on energy and "
     "freedom of movement after a pause of almost five months, the European Union mediator said in Brussels."),
    ("The mediator told reporters that both delegations had accepted a timetable for technical meetings over the "
     "summer, starting with the electricity grid in the north, where unpaid bills have piled up since 2015."),
    ("Officials from Belgrade said the agreement did not change their position on the status of the territory, "
     "while the government in Pristina described the outcome as a small but necessary step towards recognition."),
    ("Diplomats in Brussels have pressed both sides for months to return to the table before the autumn, warning "
     "that a further delay would hurt investment and leave thousands of households without reliable power."),
    ("The talks collapsed in January when a dispute over vehicle licence plates led to roadblocks near the border "
     "crossings of Jarinje and Brnjak, and international peacekeepers increased their patrols in the area."),
    ("Under the new timetable, engineers from both grid operators will meet in Skopje in July to map the lines "
     "that cross the boundary and agree on who bills customers in four northern municipalities."),
    ("A second round on freedom of movement is planned for September, when the two delegations are expected to "
     "discuss identity cards, travel documents and the recognition of university diplomas issued on either side."),
    ("The mediator said the European Union was ready to fund the technical work and would report on progress to "
     "foreign ministers of the member states at their meeting in October."),
]
UNRELATED = [
    ("ZAGREB, June 5 (Staff) - Croatia's tourist board expects a record summer season on the Adriatic coast, with "
     "bookings for July and August running well ahead of last year in Split, Dubrovnik and on the islands."),
    ("Hotel owners said visitors from Germany, Austria and Poland were booking longer stays, while ferry operators "
     "added sailings between the mainland and the islands of Hvar, Brac and Korcula to cope with demand."),
    ("The board warned that a shortage of seasonal workers could limit how many guests restaurants can serve, and "
     "called on the government to speed up work permits for cooks and waiters from outside the European Union."),
    ("Prices for apartments along the coast rose by about a tenth compared with last summer, according to figures "
     "published by the largest booking agencies, and camp sites reported strong demand from families."),
]
# Lightly edited copy: another first paragraph (the outlet's own dateline and
# lead) and one word changed further down.
EDITED = [
    "Negotiators from Serbia and Kosovo will return to the table, the EU said on Friday, ending a five-month pause.",
    *WIRE[1:3],
    WIRE[3].replace("pressed", "urged"),
    *WIRE[4:],
]


def html(title: str, paragraphs: Iterable[str], *, canonical: str | None = None, og_url: str | None = None) -> bytes:
    """A news page as an outlet would serve it: head metadata, furniture, the article."""
    head = [f"<title>{escape(title)} | News</title>"]
    if canonical:
        head.append(f'<link rel="canonical" href="{escape(canonical)}">')
    if og_url:
        head.append(f'<meta property="og:url" content="{escape(og_url)}">')
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>{''.join(head)}</head><body>"
        f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>{escape(title)}</h1>{body}</article>"
        f"<footer>Copyright 2021. All rights reserved.</footer></body></html>"
    ).encode()


def raw(url: str | None, outlet: str, title: str, paragraphs: Iterable[str], **links: str) -> RawPage:
    """A fetched page, the way the crawler hands it on: URL, outlet from the source."""
    return received_page(data=html(title, paragraphs, **links), origin=url or title, content_type="text/html",
                   url=url, hints=PageHints(outlet=outlet))


def write(pages: Iterable[RawPage], settings: Settings, gazetteer: Gazetteer) -> IndexReport:
    """The pipeline after sources: clean → enrich → index."""
    return write_articles((enrich(clean(page), gazetteer) for page in pages), settings)


def stored(settings: Settings) -> list[dict[str, object]]:
    with open_index(settings).searcher() as searcher:
        return [searcher.stored_fields(n) for n in searcher.reader().all_doc_ids()]


def run(settings: Settings, gazetteer: Gazetteer, q: str = "") -> SearchPage:
    with open_index(settings).searcher() as searcher:
        return search(searcher, make_query(q), settings, gazetteer)


@pytest.fixture
def syndicated(fresh: Settings, gazetteer: Gazetteer) -> Settings:
    """The wire story from two outlets (one copy edited) and an unrelated story."""
    report = write([
        raw("https://balkanwire.example/2021/06/04/talks-resume", "Balkan Wire", "Serbia and Kosovo to resume talks",
            WIRE),
        raw("https://dailyobserver.example/world/talks", "Daily Observer", "EU: Belgrade and Pristina back at table",
            EDITED),
        raw("https://dailyobserver.example/travel/season", "Daily Observer", "Record season expected", UNRELATED),
    ], fresh, gazetteer)
    assert (report.added, report.duplicate) == (3, 0)
    return fresh


# --- normalize_url -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM/News/Story", "https://example.com/News/Story"),  # path case is the server's
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a?utm_source=tw&utm_medium=social&id=7", "https://example.com/a?id=7"),
        ("https://example.com/a?fbclid=XYZ&gclid=1&mc_cid=2&mc_eid=3&yclid=4&_ga=5&ref_src=twsrc", "https://example.com/a"),
        ("https://example.com/a?UTM_Campaign=x&FBCLID=y", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1&c=3", "https://example.com/a?a=1&b=2&c=3"),
        ("https://example.com/a?tag=y&tag=x", "https://example.com/a?tag=y&tag=x"),  # repeats keep their order
        ("https://example.com/a?", "https://example.com/a"),
        ("https://example.com/%7Euser/%e2%82%ac", "https://example.com/~user/%E2%82%AC"),
        ("https://example.com/caf\u00e9 bar", "https://example.com/caf%C3%A9%20bar"),
        ("https://example.com/a%2fb", "https://example.com/a%2Fb"),  # an escaped slash is not a slash
        ("https://example.com/100%", "https://example.com/100%25"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://B\u00fccher.example/", "https://xn--bcher-kva.example/"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://[2001:DB8::1]:443/", "https://[2001:db8::1]/"),
        ("  https://example.com/a  ", "https://example.com/a"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected
    assert normalize_url(expected) == expected


def test_the_documented_tracking_parameters_all_go() -> None:
    for name in [*TRACKING_PARAMETERS, "utm_content", "pk_campaign", "mtm_source"]:
        assert normalize_url(f"https://example.com/a?{name}=1&page=2") == "https://example.com/a?page=2", name


def test_parameters_that_choose_content_stay() -> None:
    for query in ("id=7", "p=12", "ref=main", "source=rss", "page=2", "q=kosovo"):
        assert normalize_url(f"https://example.com/a?{query}") == f"https://example.com/a?{query}"


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
_PARAMS = st.lists(st.tuples(st.sampled_from(["a", "b", "page", "utm_source", "fbclid", "Q", "_ga"]), _TEXT),
                   max_size=5)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "HTTPS", "https"]))
    host = draw(st.sampled_from(["example.com", "News.Example.org", "b\u00fccher.example", "127.0.0.1"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = "/".join(draw(st.lists(st.one_of(_TEXT, st.sampled_from([".", "..", "%7E", "%2f", "%"])), max_size=4)))
    query = "&".join(f"{k}={v}" for k, v in draw(_PARAMS))
    fragment = draw(_TEXT)
    return f"{scheme}://{host}{port}/{path}?{query}#{fragment}"


@given(urls())
def test_normalizing_is_idempotent_and_drops_fragments_and_tracking(url: str) -> None:
    once = normalize_url(url)
    assert normalize_url(once) == once
    parts = urlsplit(once)
    assert not parts.fragment and parts.netloc == parts.netloc.lower() and parts.path.startswith("/")
    names = [name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    assert not {"utm_source", "fbclid", "_ga"} & set(names)
    spelled = [parameter.partition("=")[0] for parameter in parts.query.split("&") if parameter]
    assert spelled == sorted(spelled)


@given(st.permutations(["b=2", "a=1", "utm_medium=x", "c=3", "fbclid=9"]))
def test_parameter_order_does_not_matter(parameters: list[str]) -> None:
    assert normalize_url("https://example.com/a?" + "&".join(parameters)) == "https://example.com/a?a=1&b=2&c=3"


# --- canonical links ---------------------------------------------------------


def test_a_relative_canonical_link_is_resolved_against_the_page_and_normalised() -> None:
    page = raw("https://www.balkanwire.example/amp/talks?utm_source=tw", "Balkan Wire", "Talks", WIRE,
               canonical="../2021/06/04/talks-resume?utm_medium=social#top")
    article = clean(page)
    assert article.url == "https://www.balkanwire.example/2021/06/04/talks-resume"
    assert article.id == article_id("https://www.balkanwire.example/2021/06/04/talks-resume", b"")


def test_og_url_counts_when_there_is_no_canonical_link() -> None:
    article = clean(raw("https://balkanwire.example/p?id=1&fbclid=x", "Balkan Wire", "Talks", WIRE,
                        og_url="https://BalkanWire.example/2021/talks#x"))
    assert article.url == "https://balkanwire.example/2021/talks"


@pytest.mark.parametrize(
    ("declared", "page", "expected"),
    [
        # the mobile or AMP rendering of a site speaks for the site
        ("https://balkanwire.example/talks", "https://m.balkanwire.example/talks", "https://balkanwire.example/talks"),
        # a copy pointing at another outlet keeps its own URL: it must not take the original's id
        ("https://balkanwire.example/talks", "https://observer.example/talks", "https://observer.example/talks"),
        # a site-wide canonical to the homepage would give every article one id
        ("https://observer.example/", "https://observer.example/world/talks", "https://observer.example/world/talks"),
        ("mailto:desk@observer.example", "https://observer.example/a", "https://observer.example/a"),
        ("/relative/only", None, None),
        ("https://observer.example/a?utm_source=x", None, "https://observer.example/a"),
    ],
)
def test_which_canonical_url_is_trusted(declared: str, page: str | None, expected: str | None) -> None:
    assert canonical_url(declared, page) == expected


def test_article_ids_are_computed_from_the_normalised_url() -> None:
    assert article_id("HTTPS://Example.com:443/a?utm_source=x#y", b"one") == article_id("https://example.com/a", b"two")
    assert article_id("https://example.com/a", b"") != article_id("https://example.com/b", b"")


# --- one article, one stored copy per outlet ---------------------------------


def test_one_article_reached_by_several_urls_of_an_outlet_is_stored_once(fresh: Settings, gazetteer: Gazetteer) -> None:
    pages = [
        raw("https://balkanwire.example/2021/06/04/talks-resume?utm_source=twitter", "Balkan Wire", "Talks", WIRE),
        raw("https://BalkanWire.example/2021/06/04/talks-resume#comments", "Balkan Wire", "Talks", WIRE),
        raw("https://amp.balkanwire.example/talks.amp", "Balkan Wire", "Talks", WIRE,
            canonical="https://balkanwire.example/2021/06/04/talks-resume"),
    ]
    assert len({clean(page).id for page in pages}) == 1
    write(pages[:1], fresh, gazetteer)
    report = write(pages[1:], fresh, gazetteer)
    assert len(stored(fresh)) == 1
    assert report.added == 0


@pytest.mark.parametrize("same_batch", [True, False])
def test_the_same_text_published_twice_by_an_outlet_is_stored_once(
    fresh: Settings, gazetteer: Gazetteer, same_batch: bool
) -> None:
    first = raw("https://balkanwire.example/2021/06/04/talks-resume", "Balkan Wire", "Talks resume", WIRE)
    again = raw("https://balkanwire.example/politics/serbia-kosovo-talks", "Balkan Wire", "Talks back on", WIRE)
    report = write([first, again], fresh, gazetteer) if same_batch else IndexReport()
    if not same_batch:
        write([first], fresh, gazetteer)
        report = write([again], fresh, gazetteer)
    original = clean(first).id
    assert [d["id"] for d in stored(fresh)] == [original]
    assert report.duplicate == 1
    assert report.duplicates == [("https://balkanwire.example/politics/serbia-kosovo-talks", original)]


def test_a_near_identical_text_of_the_same_outlet_is_a_duplicate_too(fresh: Settings, gazetteer: Gazetteer) -> None:
    fixed = [WIRE[0], *WIRE[1:5], WIRE[5].replace("engineers", "technicians"), *WIRE[6:]]  # a corrected word
    report = write([raw("https://balkanwire.example/a", "Balkan Wire", "Talks", WIRE),
                    raw("https://balkanwire.example/b", "Balkan Wire", "Talks", fixed)], fresh, gazetteer)
    assert (report.added, report.duplicate) == (1, 1)


def test_templated_reports_of_one_outlet_that_differ_in_numbers_are_all_kept(
    fresh: Settings, gazetteer: Gazetteer
) -> None:
    """A daily report in one template: the numbers are the news."""
    updated = [WIRE[0].replace("five months", "six months"), *WIRE[1:4], WIRE[4], WIRE[5].replace("four", "five"),
               *WIRE[6:]]
    updated = [p.replace("2015", "2016") for p in updated]
    report = write([raw("https://balkanwire.example/a", "Balkan Wire", "Talks", WIRE),
                    raw("https://balkanwire.example/b", "Balkan Wire", "Talks", updated)], fresh, gazetteer)
    assert (report.added, report.duplicate) == (2, 0)


def test_different_outlets_are_never_merged_and_unknown_is_not_an_outlet(fresh: Settings, gazetteer: Gazetteer) -> None:
    report = write([raw("https://a.example/x", "Outlet A", "Talks", WIRE),
                    raw("https://b.example/x", "Outlet B", "Talks", WIRE),
                    raw(None, "", "Talks (saved copy one)", WIRE),
                    raw(None, "", "Talks (saved copy two)", WIRE)], fresh, gazetteer)
    assert (report.added, report.duplicate) == (4, 0)
    assert len({d["cluster"] for d in stored(fresh)}) == 1


# --- syndication clusters ----------------------------------------------------


def test_a_wire_story_in_two_outlets_is_two_hits_in_one_cluster(syndicated: Settings, gazetteer: Gazetteer) -> None:
    page = run(syndicated, gazetteer, "Kosovo negotiators")
    assert page.total == 2
    wire, observer = sorted(page.hits, key=lambda hit: hit.outlet)
    assert (wire.outlet, observer.outlet) == ("Balkan Wire", "Daily Observer")
    assert wire.cluster == observer.cluster == wire.id  # the first article names the cluster
    assert wire.copies == observer.copies == 2
    assert (wire.also, observer.also) == (("Daily Observer",), ("Balkan Wire",))


def test_an_unrelated_article_has_its_own_cluster(syndicated: Settings, gazetteer: Gazetteer) -> None:
    hits = {hit.title: hit for hit in run(syndicated, gazetteer).hits}
    travel = hits["Record season expected"]
    assert travel.cluster == travel.id and travel.copies == 1 and travel.also == ()
    assert len({hit.cluster for hit in hits.values()}) == 2


def test_the_cluster_field_finds_every_copy(syndicated: Settings, gazetteer: Gazetteer) -> None:
    cluster = run(syndicated, gazetteer, "Kosovo").hits[0].cluster
    page = run(syndicated, gazetteer, f"cluster:{cluster}")
    assert {hit.outlet for hit in page.hits} == {"Balkan Wire", "Daily Observer"}


def test_a_deleted_copy_is_no_longer_counted(syndicated: Settings, gazetteer: Gazetteer) -> None:
    observer = next(h for h in run(syndicated, gazetteer, "Kosovo").hits if h.outlet == "Daily Observer")
    writer = open_index(syndicated).writer()
    writer.delete_by_term("id", observer.id)
    writer.commit()
    (wire,) = run(syndicated, gazetteer, "Kosovo").hits
    assert (wire.copies, wire.also) == (1, ())


def test_the_article_lists_its_other_copies(syndicated: Settings, gazetteer: Gazetteer) -> None:
    with open_index(syndicated).searcher() as searcher:
        wire = get_article(searcher, clean(raw("https://balkanwire.example/2021/06/04/talks-resume", "", "", WIRE)).id,
                           gazetteer)
        copies = get_copies(searcher, wire, gazetteer)
    assert wire.copies == 2
    assert [(c.outlet, c.title) for c in copies] == [("Daily Observer", "EU: Belgrade and Pristina back at table")]


def test_the_seeds_are_five_clusters(searcher: Searcher, seeded: Settings, gazetteer: Gazetteer) -> None:
    page = search(searcher, make_query(""), seeded, gazetteer)
    assert page.total == 5
    assert len({hit.cluster for hit in page.hits}) == 5
    assert all(hit.copies == 1 for hit in page.hits)


def test_short_texts_are_grouped_only_when_identical(fresh: Settings, gazetteer: Gazetteer) -> None:
    brief = (  # 45 words: one changed at the end would still leave 0.95 of the shingles shared
        "Serbia and Kosovo agreed on Friday to resume talks on energy and freedom of movement after a pause of "
        "almost five months, the European Union mediator said in Brussels, adding that technical meetings on the "
        "electricity grid in the north would begin in the summer in Skopje."
    )
    changed = brief.replace("Skopje", "Ohrid")
    assert len(brief.split()) < MIN_FINGERPRINT_WORDS
    write([raw("https://a.example/1", "Outlet A", "Brief", [brief]),
           raw("https://b.example/1", "Outlet B", "Brief", [brief]),
           raw("https://c.example/1", "Outlet C", "Brief", [changed])], fresh, gazetteer)
    clusters = {d["outlet"]: d["cluster"] for d in stored(fresh)}
    assert clusters["Outlet A"] == clusters["Outlet B"] != clusters["Outlet C"]


def test_a_short_placeholder_text_does_not_make_articles_one(fresh: Settings) -> None:
    """'More to follow.' under two headlines is two articles, not a duplicate."""
    placeholder = "This story is developing. More to follow."
    report = write_articles([
        Article(id="a1", title="Earthquake hits central Serbia", text=placeholder, origin="a1", outlet="Outlet A"),
        Article(id="a2", title="Kosovo assembly elects speaker", text=placeholder, origin="a2", outlet="Outlet A"),
    ], fresh)
    assert (report.added, report.duplicate) == (2, 0)
    assert len({d["cluster"] for d in stored(fresh)}) == 2


def test_similarity_is_measured_on_the_words_not_only_on_the_sketch(fresh: Settings, gazetteer: Gazetteer) -> None:
    """A follow-up reusing most paragraphs of a story, whose sketch happens to
    look like a copy's, is not a copy: the shingles decide."""
    follow_up = [*WIRE[:6], UNRELATED[0]]
    ours, theirs = (shingles("\n\n".join(t)) or set() for t in (WIRE, follow_up))
    assert jaccard(ours, theirs) < CLUSTER_SIMILARITY <= estimate(sketch_hex(minhash(ours)), sketch_hex(minhash(theirs)))
    write([raw("https://a.example/1", "Outlet A", "Talks", WIRE),
           raw("https://b.example/1", "Outlet B", "Talks follow-up", follow_up)], fresh, gazetteer)
    assert len({d["cluster"] for d in stored(fresh)}) == 2


def test_a_changed_article_keeps_or_leaves_its_cluster_with_its_text(
    syndicated: Settings, gazetteer: Gazetteer
) -> None:
    rewritten = raw("https://dailyobserver.example/world/talks", "Daily Observer", "Talks", UNRELATED[::-1])
    report = write([rewritten], syndicated, gazetteer)
    assert report.updated == 1
    observer = next(d for d in stored(syndicated) if d["url"] == "https://dailyobserver.example/world/talks")
    assert observer["cluster"] != clean(raw("https://balkanwire.example/2021/06/04/talks-resume", "", "", WIRE)).id


# --- the fingerprint ---------------------------------------------------------


def test_copies_share_most_shingles_and_other_stories_almost_none() -> None:
    wire, edited, other = (shingles("\n\n".join(t)) or set() for t in (WIRE, EDITED, UNRELATED))
    assert jaccard(wire, edited) >= CLUSTER_SIMILARITY > 0.1 > jaccard(wire, other)


def test_the_sketch_estimates_the_similarity() -> None:
    words = [f"w{n}" for n in range(3000)]
    a, b = set(words[:2000]), set(words[1000:])  # Jaccard 1/3
    estimated = estimate(sketch_hex(minhash(a)), sketch_hex(minhash(b)))
    assert abs(estimated - jaccard(a, b)) < 0.15
    assert estimate(sketch_hex(minhash(a)), sketch_hex(minhash(set(words[2000:])))) < 0.1
    assert minhash(a) == minhash(sorted(a, reverse=True))  # the same in every run and order


def test_short_texts_get_no_sketch() -> None:
    words = [f"word{n}" for n in range(MIN_FINGERPRINT_WORDS)]
    assert text_minhash(" ".join(words[:-1])) is None
    assert text_minhash(" ".join(words)) is not None


def test_text_key_ignores_case_accents_script_and_spacing() -> None:
    assert text_key("Vučić met Лавров.\n\nThe talks") == text_key("VUCIC met  Lavrov the TALKS")
    assert text_key("Vučić met Lavrov") != text_key("Vučić met Putin")


_SKETCHES = st.lists(st.integers(0, 2**32 - 1), min_size=64, max_size=64)


@given(_SKETCHES, st.dictionaries(st.integers(0, 63), st.integers(0, 2**32 - 1), max_size=15))
def test_sketches_differing_in_at_most_15_bins_always_share_a_band_term(
    sketch: list[int], changes: dict[int, int]
) -> None:
    """16 bands of 4 bins: 15 changed bins cannot touch every band."""
    other = [changes.get(i, value) for i, value in enumerate(sketch)]
    assert set(band_terms(sketch)) & set(band_terms(other))


def test_band_terms_of_unrelated_sketches_do_not_meet() -> None:
    rng = random.Random(0)
    sketches = [[rng.getrandbits(32) for _ in range(64)] for _ in range(500)]
    terms = [set(band_terms(sketch)) for sketch in sketches]
    assert all(not terms[0] & other for other in terms[1:])
    assert len(set().union(*terms)) == 500 * 16


# --- API and pages -----------------------------------------------------------


@pytest.fixture
def syndicated_client(syndicated: Settings) -> FlaskClient:
    return create_app({"TESTING": True, "NEWSDESK_SETTINGS": syndicated}).test_client()


def test_api_hits_carry_cluster_and_copies(syndicated_client: FlaskClient) -> None:
    hits = syndicated_client.get("/api/search?per_page=100").get_json()["hits"]
    by_outlet = {(h["outlet"], h["copies"]) for h in hits}
    assert by_outlet == {("Balkan Wire", 2), ("Daily Observer", 2), ("Daily Observer", 1)}
    wire = [h for h in hits if h["copies"] == 2]
    assert wire[0]["cluster"] == wire[1]["cluster"]
    article = syndicated_client.get(f"/api/articles/{wire[1]['id']}").get_json()
    assert (article["cluster"], article["copies"]) == (wire[0]["cluster"], 2)


def test_results_page_says_also_published_by_and_links_to_the_cluster(syndicated_client: FlaskClient) -> None:
    # The page lists the story once, by its first copy, and names the other outlet.
    html_page = syndicated_client.get("/?q=Kosovo+negotiators").get_data(as_text=True)
    assert html_page.count('class="copies"') == 1
    assert "<strong>2</strong> articles in 1 story" in html_page
    also = re.search(r'Also published by\s*<a href="([^"]+)">(Daily Observer|Balkan Wire)</a>', html_page)
    assert also is not None
    cluster_link = re.search(r'<a href="([^"]+)" data-copies="2">all 2 copies</a>', html_page)
    assert cluster_link is not None
    # Every copy, each with its own card naming the other.
    cluster_page = syndicated_client.get(cluster_link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "<strong>2</strong> articles" in cluster_page and cluster_page.count('class="copies"') == 2
    assert ">Daily Observer</a>" in cluster_page and ">Balkan Wire</a>" in cluster_page
    outlet_page = syndicated_client.get(also.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "<strong>1</strong> article" in outlet_page and "EU: Belgrade and Pristina back at table" in outlet_page


def test_an_article_alone_shows_no_copies(syndicated_client: FlaskClient) -> None:
    html_page = syndicated_client.get("/?q=tourist").get_data(as_text=True)
    assert "<strong>1</strong> article" in html_page and 'class="copies"' not in html_page


def test_the_article_page_lists_the_other_copies(syndicated_client: FlaskClient) -> None:
    hits = syndicated_client.get("/api/search?q=Kosovo+negotiators").get_json()["hits"]
    wire = next(h for h in hits if h["outlet"] == "Balkan Wire")
    observer = next(h for h in hits if h["outlet"] == "Daily Observer")
    html_page = syndicated_client.get(f"/articles/{wire['id']}").get_data(as_text=True)
    assert "Other copies" in html_page
    assert f'href="/articles/{observer["id"]}">EU: Belgrade and Pristina back at table</a>' in html_page
    alone = next(h for h in syndicated_client.get("/api/search").get_json()["hits"] if h["copies"] == 1)
    assert "Other copies" not in syndicated_client.get(f"/articles/{alone['id']}").get_data(as_text=True)


def test_the_ingest_command_reports_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from web.cli import main

    folder = tmp_path / "pages"
    folder.mkdir()
    for name in ("one.html", "two.html"):
        (folder / name).write_bytes(html("Talks", WIRE).replace(b"<title>", b'<meta property="og:site_name" '
                                                                b'content="Balkan Wire"><title>'))
        html_text = (folder / name).read_text()
        (folder / name).write_text(html_text.replace("<nav>", f"<nav data-file='{name}'>"))  # different bytes
    assert main(["ingest", str(folder), "--index", str(tmp_path / "instance")]) == 0
    out = capsys.readouterr().out
    assert "added 1, updated 0, unchanged 0, skipped 0, duplicate 1" in out
    assert re.search(r"duplicate .*two\.html: same text as article [0-9a-f]{20}", out)
    assert make_settings(tmp_path / "instance").index_dir.exists()
