"""UTF-16 and UTF-32 pages are text: decoded, not refused as binary.

Their zero bytes are what marks binary data too, so they are recognised by
their byte-order mark or, without one, by where the zeros fall. Each page
re-encoded (with and without a BOM, both byte orders) must give exactly the
article its UTF-8 original gives; binary data stays binary.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest

from conftest import FIXTURES, SEED_ARTICLES
from search.clean.cleaner import clean, extract
from search.decode import decode_html, looks_binary, received_page
from search.errors import ExtractionError

PAGES = sorted((FIXTURES / "pages").glob("*.html")) + [FIXTURES / "balkan-wire.html"]
TEXTS = sorted(SEED_ARTICLES.glob("*.txt"))

ENCODINGS = {
    "utf-16 with BOM (LE)": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-16 with BOM (BE)": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "utf-32 with BOM (LE)": lambda text: codecs.BOM_UTF32_LE + text.encode("utf-32-le"),
    "utf-32 with BOM (BE)": lambda text: codecs.BOM_UTF32_BE + text.encode("utf-32-be"),
    "utf-16le without BOM": lambda text: text.encode("utf-16-le"),
    "utf-16be without BOM": lambda text: text.encode("utf-16-be"),
    "utf-32le without BOM": lambda text: text.encode("utf-32-le"),
}


def _same(a: object, b: object) -> bool:
    return a == b


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_an_html_page_in_utf16_or_utf32_gives_the_article_its_utf8_original_gives(page: Path, encoding: str) -> None:
    text = page.read_text(encoding="utf-8")
    wide = ENCODINGS[encoding](text)
    assert not looks_binary(wide)
    assert decode_html(wide, None) == text.removeprefix("\ufeff")
    original = extract(text.encode("utf-8"), "https://news.example/story")
    again = extract(wide, "https://news.example/story")
    assert (again.title, again.text, again.published, again.language) == (
        original.title, original.text, original.published, original.language)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("dump", TEXTS, ids=lambda p: p.name)
def test_a_plain_text_dump_in_utf16_or_utf32_is_cleaned_like_its_original(dump: Path, encoding: str) -> None:
    text = dump.read_text(encoding="utf-8")
    original = clean(received_page(data=text.encode("utf-8"), origin="a.txt", content_type="text/plain"))
    again = clean(received_page(data=ENCODINGS[encoding](text), origin="a.txt", content_type="text/plain"))
    assert (again.title, again.text, again.author) == (original.title, original.text, original.author)


def test_a_header_naming_utf16_is_honoured_and_a_meta_naming_it_means_utf8() -> None:
    html = "<html><head><meta charset='utf-16'></head><body><p>Dačić и Лавров</p></body></html>"
    assert decode_html(html.encode("utf-16-le"), "text/html; charset=utf-16le") == html
    assert decode_html(html.encode("utf-8"), "text/html") == html  # the <meta> was written, the bytes are UTF-8


def test_binary_data_is_still_binary() -> None:
    for data in (os.urandom(4096), b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, b"%PDF-1.7\n\x00\x01\x02" * 100,
                 codecs.BOM_UTF16_LE + b"\x00\xd8" * 100,  # a lone high surrogate after a BOM
                 b"\x00\x01" * 100):  # valid UTF-16, but control codes
        assert looks_binary(data)
        with pytest.raises(ExtractionError, match="binary"):
            clean(received_page(data=data, origin="x.html", content_type="text/html"))
