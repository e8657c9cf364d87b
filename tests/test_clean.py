"""The cleaner: page furniture goes, the article's own first and last sentences stay."""

from __future__ import annotations

import datetime as dt
import gzip

import pytest

from conftest import FIXTURES, SEED_ARTICLES
from search.clean.cleaner import clean, extract_text
from search.decode import received_page
from search.errors import ExtractionError
from search.records import PageHints, RawPage
from search.urls import article_id

# Each seed: the real first and last sentence of the article, and furniture
# strings that were on the page and must not reach the index.
SEEDS = {
    "000_201a3ed35fd8cfdd.txt": (
        "Albanian Prime Minister Edi Rama is currently on a visit to Russia",
        "Both sides pledged to do more to maintain friendly relationships between the two nations.",
        ["From:"],
    ),
    "001_8846359a12f6299a.txt": (
        "MOSCOW, November 21 (RIA Novosti) - A Russian Foreign Ministry spokesman said on Wednesday",
        "within the framework of the Organization for Security and Cooperation in Europe and the Council of Europe.",
        ["Sputnik International", "Stay tuned", "Subscribe", "Newsfeed", "To participate in the discussion",
         "log in or register", "loader", "Chats", "Заголовок"],
    ),
    "002_dca27ddd5f2f899a.txt": (
        "PRISTINA, Serbia – The leader of the illegally declared",
        "as a sign that deep disputes may end.",
        ["Advertisement", "Subscribe to our newsletter", "Sign up here", "special offers"],
    ),
    "003_c73c9fc6f3745f3a.txt": (
        "Russian Foreign Minister Sergei Lavrov stated on Tuesday that Moscow is communicating",
        "aimed at normalizing relations between the two sides.",
        ["Min Read", "RksNews"],
    ),
    "004_e24ddcc5355f9506.txt": (
        "First Deputy Prime Minister and Minister of Foreign Affairs of the Republic of Serbia Ivica Dacic met today",
        "construction of a Serbia-Russia church and cultural centre.",
        ["continued and profession, 21 September 2018"],
    ),
}


def _seed(name: str) -> RawPage:
    path = SEED_ARTICLES / name
    return received_page(data=path.read_bytes(), origin=str(path), content_type="text/plain")


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_text_keeps_the_article_and_drops_the_furniture(name: str) -> None:
    first, last, furniture = SEEDS[name]
    article = clean(_seed(name))
    paragraphs = article.text.split("\n\n")
    assert paragraphs[0].startswith(first)
    assert paragraphs[-1].endswith(last)
    for leftover in furniture:
        assert leftover not in article.text, leftover


def test_the_duplicated_standfirst_is_kept_once() -> None:
    text = clean(_seed("001_8846359a12f6299a.txt")).text
    assert text.count("A Russian Foreign Ministry spokesman said on Wednesday") == 1


def test_section_headings_inside_the_article_are_kept() -> None:
    text = clean(_seed("003_c73c9fc6f3745f3a.txt")).text
    assert "\n\nRegional Concerns Over Russian Influence\n\n" in text
    assert "\n\nU.S. and EU Policy in the Balkans\n\n" in text


def test_titles_come_from_the_headline_line() -> None:
    assert clean(_seed("001_8846359a12f6299a.txt")).title == "Russia says Kosovo's independence will cause instability"
    assert clean(_seed("003_c73c9fc6f3745f3a.txt")).title.startswith("Lavrov: Russia Ready to Communicate")


def test_a_page_without_headline_is_labelled_by_its_opening_words() -> None:
    title = clean(_seed("004_e24ddcc5355f9506.txt")).title
    assert title.startswith("First Deputy Prime Minister") and title.endswith("…")


def test_a_leading_from_line_is_the_author() -> None:
    article = clean(_seed("000_201a3ed35fd8cfdd.txt"))
    assert article.author == "Alice Elizabeth Taylor"
    assert "Alice" not in article.text


def test_furniture_rules_are_general_not_per_page() -> None:
    page = """\
Daily Balkan Digest
Serbia and Kosovo agree on energy roadmap in Brussels talks
By: John Smith
3 min read
Share on Facebook
Officials from Belgrade and Pristina agreed on Monday to a roadmap for implementing an energy deal, the EU said.
- Advertisement -
The deal covers electricity distribution in the north of Kosovo and had been stalled for years.
Sign up for our newsletter to get the latest updates in your inbox.
Comments
Читать далее
"""
    article = extract_text(page)
    assert article.title == "Serbia and Kosovo agree on energy roadmap in Brussels talks"
    assert article.text.split("\n\n") == [
        "Officials from Belgrade and Pristina agreed on Monday to a roadmap for implementing an energy deal, the EU said.",
        "The deal covers electricity distribution in the north of Kosovo and had been stalled for years.",
    ]


def test_manifest_hints_override_guesses_and_say_where_the_date_came_from() -> None:
    hints = PageHints(outlet="RksNews", published=dt.date(2024, 1, 23), published_source="manifest")
    raw = received_page(data=b"A headline about Serbia and Kosovo talks\n\n" + b"word " * 30, origin="x.txt",
                  content_type="text/plain", hints=hints)
    article = clean(raw)
    assert (article.outlet, article.published, article.published_source) == ("RksNews", dt.date(2024, 1, 23), "manifest")


def test_html_pages_take_body_date_and_metadata_from_the_page() -> None:
    data = (FIXTURES / "balkan-wire.html").read_bytes()
    article = clean(received_page(data=data, origin="balkan-wire.html", content_type="text/html"))
    assert article.title == "Lavrov and Vučić discuss Kosovo talks"
    assert article.url == "https://balkanwire.example/news/2021/06/04/lavrov-vucic-kosovo"
    assert article.outlet == "Balkan Wire"
    assert article.author == "Jane Roe"
    assert article.published == dt.datetime(2021, 6, 4, 10, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert article.published_source == "meta"
    assert article.language == "en"
    assert article.text.startswith("BELGRADE — Russian Foreign Minister Sergey Lavrov met")
    assert "since 2008." in article.text
    for leftover in ("Subscribe", "cookies", "Advertisement", "Related stories", "Copyright", "football"):
        assert leftover not in article.text, leftover


def test_article_id_comes_from_the_canonical_url_when_known() -> None:
    data = (FIXTURES / "balkan-wire.html").read_bytes()
    article = clean(received_page(data=data, origin="a.html", content_type="text/html"))
    assert article.id == article_id("https://balkanwire.example/news/2021/06/04/lavrov-vucic-kosovo", b"")
    assert article.id.isalnum()


def test_article_id_comes_from_the_raw_bytes_otherwise() -> None:
    raw = _seed("002_dca27ddd5f2f899a.txt")
    assert clean(raw).id == article_id(None, raw.data)
    assert clean(raw).id == clean(raw).id


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "no article text"),
        (b"\x00\x01\x02binary\x00" * 50, "binary"),
        (b"Home\nNews\nSubscribe\nLog in\n", "no article text"),
    ],
)
def test_pages_without_an_article_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ExtractionError, match=reason):
        clean(received_page(data=data, origin="bad.txt", content_type="text/plain"))


def test_text_in_a_legacy_encoding_is_decoded() -> None:
    text = "Министр иностранных дел России Сергей Лавров встретился с президентом Сербии в Белграде в пятницу."
    article = clean(received_page(data=(text + "\n") .encode("cp1251") * 3, origin="ru.txt", content_type="text/plain"))
    assert "Лавров" in article.text


def test_gzip_is_read_by_sources_not_the_cleaner(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from search.sources import read_files

    path = tmp_path / "page.html.gz"
    path.write_bytes(gzip.compress((FIXTURES / "balkan-wire.html").read_bytes()))
    [page] = list(read_files([path], manifest={}))
    assert isinstance(page, RawPage) and page.content_type == "text/html"
    assert clean(page).outlet == "Balkan Wire"


def test_a_saved_html_page_is_decoded_by_its_meta_charset() -> None:
    text = "Министр иностранных дел России Сергей Лавров встретился с президентом Сербии в Белграде в пятницу."
    html = f'<html><head><meta charset="windows-1251"><title>Лавров в Белграде</title></head><body><article><p>{text}</p><p>{text}</p></article></body></html>'
    article = clean(received_page(data=html.encode("cp1251"), origin="ru.html", content_type="text/html"))
    assert "Сергей Лавров" in article.text


# Written for this test: a tabloid page dump, its headline in capitals and ending in "!".
_TABLOID_BODY = (
    "Ruski ministar spoljnih poslova rekao je danas u Moskvi da su Sjedinjene Američke Države direktno odgovorne "
    "za eskalaciju sukoba u regionu.\n"
    "On je dodao da je Moskva spremna za razgovore, ali samo pod uslovima koji uvažavaju bezbednost svih strana."
)
_TABLOID_BODY_CYRILLIC = (
    "Руски министар спољних послова рекао је данас у Москви да су Сједињене Америчке Државе директно одговорне "
    "за ескалацију сукоба у региону.\n"
    "Он је додао да је Москва спремна за разговоре, али само под условима који уважавају безбедност свих страна."
)


@pytest.mark.parametrize(
    ("headline", "body"),
    [
        ("LAVROV DIREKTNO OPTUŽIO SAD!", _TABLOID_BODY),
        ("ЛАВРОВ ДИРЕКТНО ОПТУЖИО САД!", _TABLOID_BODY_CYRILLIC),
        ("Lavrov direktno optužio SAD!", _TABLOID_BODY),
        ("DA LI JE OVO KRAJ PREGOVORA?", _TABLOID_BODY),
    ],
    ids=["capitals-latin", "capitals-cyrillic", "exclamation", "question"],
)
def test_the_publishers_headline_is_kept_as_written(headline: str, body: str) -> None:
    article = extract_text(f"Alo\nPolitika\n{headline}\n{body}")
    assert article.title == headline
    assert article.text == body.replace("\n", "\n\n")


def test_a_short_exclamation_in_the_header_is_not_a_headline() -> None:
    article = extract_text(f"Alo\nBravo!\n{_TABLOID_BODY}")
    assert article.title.startswith("Ruski ministar spoljnih poslova") and article.title.endswith("…")
