"""The stored document (search/index/document.py): an Article through a real index and back, every field kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index

from search.index import QUERY_FIELDS, build_schema, open_index, write_articles
from search.index.document import articles_after, from_stored, search_fields, searched_fields, to_fields, word_fields
from search.query import make_query, matching
from search.records import FACETS, Article, StoredArticle
from search.settings import Settings

BELGRADE = dt.timezone(dt.timedelta(hours=2))


def full_article(**changes: Any) -> Article:
    """An article with every field set, a zoned moment and a sketch among them."""
    fields: dict[str, Any] = {
        "id": "a1b2c3d4e5f6a7b8c9d0",
        "title": "Lavrov in Belgrade",
        "text": "Sergey Lavrov met Aleksandar Vučić.\n\nTalks on Kosovo.",
        "origin": "seeds/x.txt",
        "url": "https://example.org/news/1",
        "outlet": "RksNews",
        "author": "Ana Petrović",
        "published": dt.datetime(2019, 10, 16, 14, 5, tzinfo=BELGRADE),
        "published_source": "manifest",
        "language": "en",
        "actors": ["Q58217", "Q1095"],
        "minhash": tuple(range(64)),
    }
    return Article(**(fields | changes))


def bare_article() -> Article:
    """An article stating nothing but its text."""
    return Article(id="00000000000000000000", title="", text="Short.", origin="o")


def stored(settings: Settings, article_id: str) -> dict[str, Any]:
    with open_index(settings).searcher() as searcher:
        document = searcher.document(id=article_id)
    assert document is not None
    return dict(document)


def test_an_article_comes_back_from_the_index_with_every_field(fresh: Settings) -> None:
    article = full_article()
    write_articles([article], fresh)
    back = from_stored(stored(fresh, article.id))
    assert back == StoredArticle(
        id=article.id, url=article.url, title=article.title, text=article.text, origin=article.origin,
        outlet="RksNews", author="Ana Petrović",
        published=article.published, published_utc=dt.datetime(2019, 10, 16, 12, 5),
        published_source="manifest", year="2019", language="en", actors=("Q58217", "Q1095"),
        cluster=article.id, seq=1, indexed_at=back.indexed_at,
        fingerprint=to_fields(article)["fingerprint"], text_key=to_fields(article)["text_key"],
        minhash=article.minhash,
    )
    assert isinstance(back.published, dt.datetime) and back.published.utcoffset() == dt.timedelta(hours=2)
    assert back.indexed_at is not None and abs(dt.datetime.now(dt.UTC).replace(tzinfo=None) - back.indexed_at) < (
        dt.timedelta(minutes=5))


def test_what_an_article_does_not_state_comes_back_unknown_or_none(fresh: Settings) -> None:
    write_articles([bare_article()], fresh)
    back = from_stored(stored(fresh, bare_article().id))
    assert (back.url, back.author, back.published, back.published_utc, back.published_source) == (None,) * 5
    assert (back.outlet, back.year, back.language) == ("unknown",) * 3
    assert (back.actors, back.minhash, back.cluster, back.seq) == ((), None, bare_article().id, 1)


def test_a_date_without_a_time_comes_back_a_date(fresh: Settings) -> None:
    article = full_article(published=dt.date(2018, 9, 3))
    write_articles([article], fresh)
    back = from_stored(stored(fresh, article.id))
    assert back.published == dt.date(2018, 9, 3) and not isinstance(back.published, dt.datetime)
    assert back.published_utc == dt.datetime(2018, 9, 3)


class _Reads(dict[str, Any]):
    """Stored fields that remember which of them were asked for."""

    def __init__(self, fields: dict[str, Any]) -> None:
        super().__init__(fields)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        self.read.add(name)
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return super().get(name, default)


def test_every_stored_field_of_the_schema_is_read_back(fresh: Settings) -> None:
    """A field added to the schema and the writer but not to ``from_stored`` fails here."""
    write_articles([full_article()], fresh)
    fields = _Reads(stored(fresh, full_article().id))
    from_stored(fields)
    stored_names = {name for name, field in build_schema().items() if field.stored}
    assert stored_names - fields.read == set()
    assert stored_names == set(fields), "the full article should fill every stored field"


def test_the_stored_document_is_the_one_schema_5_writes() -> None:
    """Pinned: a change to what is stored changes every fingerprint, and the next ingest rewrites every article.

    (Schema 5 dropped the band terms from the document, hence the full article's new fingerprint.)
    """
    full, bare = to_fields(full_article()), to_fields(bare_article())
    assert full["fingerprint"] == "f663b97b8f8abbf727ed67b8d5245d83b157261c028a2b39a397a21946239c62"
    assert bare["fingerprint"] == "a8d0e272a6245a7097d67b912ea9de6f992aaaa1d9cf0fe71bed7f07146b9909"
    assert (full["date_key"], bare["date_key"]) == (20191016120500, 0)
    assert full["published_iso"] == "2019-10-16T14:05:00+02:00" and full["actor"] == "Q58217,Q1095"
    assert word_fields(full) == {"title_words": full["title"], "body_words": full["body"],
                                 "author_words": full["author"]}
    assert "author_words" not in bare and "url" not in bare and "minhash" not in bare
    assert "minhash_bands" not in full  # the copy finder's keys are not index terms


def test_a_saved_query_searches_fields_of_the_schema_only() -> None:
    names = build_schema().names()
    assert set(searched_fields()) <= set(names)
    assert set(FACETS) <= set(QUERY_FIELDS) <= set(searched_fields())
    assert {"title_words", "body_words", "author_words"} <= set(searched_fields())


def test_search_fields_are_the_stored_values_of_the_searched_fields(fresh: Settings) -> None:
    for article in (full_article(), bare_article()):
        write_articles([article], fresh)
        document = stored(fresh, article.id)
        values = search_fields(from_stored(document))
        expected = {name: document[name] for name in QUERY_FIELDS if document.get(name) is not None}
        assert values == expected | word_fields(expected)
    assert set(search_fields(from_stored(stored(fresh, full_article().id)))) == set(searched_fields())


def test_new_articles_come_in_ingest_order(fresh: Settings) -> None:
    first, second, third = (full_article(id=f"{n:020d}", title=f"Story {n}", text=f"Text number {n}.")
                            for n in (3, 1, 2))
    write_articles([first, second], fresh)
    write_articles([third], fresh)
    with open_index(fresh).searcher() as searcher:
        assert [a.id for a in articles_after(searcher, 0)] == [first.id, second.id, third.id]
        assert [(a.id, a.seq) for a in articles_after(searcher, 2)] == [(third.id, 3)]
        assert articles_after(searcher, 3) == []


@pytest.mark.parametrize("q, filters", [
    ("lavrov", {}),
    ("negotiat* OR kosov*", {}),
    ("title:belgrade", {"actor": ["Q58217"]}),
    ("published:2019-10", {"outlet": ["RksNews"], "language": ["en"]}),
    ("author:petrović", {"year": ["2019"]}),
    ("", {"actor": ["Q1095"]}),
])
def test_an_index_of_just_the_search_fields_matches_as_the_index_does(
    fresh: Settings, tmp_path: Path, q: str, filters: dict[str, list[str]]
) -> None:
    """What an alert run does: an index of just the new articles' search fields finds what the index finds."""
    articles = [
        full_article(),
        full_article(id="b" * 20, title="Negotiations resume", text="Kosovo and Serbia negotiate again.",
                     actors=["Q1095"], outlet="Alo", published=dt.date(2019, 11, 2), author=None),
        bare_article(),
    ]
    write_articles(articles, fresh)
    request = make_query(q, **filters)
    with open_index(fresh).searcher() as searcher:
        expected = matching(searcher, request, fresh)
        fields = [search_fields(article) for article in articles_after(searcher, 0)]
    (tmp_path / "new").mkdir()
    new = whoosh_index.create_in(str(tmp_path / "new"), build_schema())
    with new.writer() as writer:
        for document in fields:
            writer.add_document(**document)
    with new.searcher() as searcher:
        assert matching(searcher, request, fresh) == expected
    assert expected, "each case should match something"
