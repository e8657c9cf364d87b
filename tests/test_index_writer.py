"""The index writer (search/index/writer.py) writes what Whoosh's own writer writes, read back through Whoosh.

Oracle: the same documents written with Whoosh's plain ``SegmentWriter`` into
an index of the same schema, in the same commits. Every term of every field
must have the same postings (documents, weights, values), the same term
statistics, every document the same field lengths, columns and stored
fields — across segments, after merges, after deletions — and every search
the same hits and scores. Then the other way: Whoosh's own writer merges an
index this writer wrote, and nothing changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import multiprocessing
import random
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.index import FileIndex
from whoosh.qparser import QueryParser
from whoosh.reading import IndexReader, SegmentReader

from conftest import make_settings
from search.enrich import Gazetteer, enrich
from search.index import build_schema, create_index, open_index, prepare_article, write_articles
from search.index.codec import Codec
from search.index.document import to_fields
from search.index.writer import open_writer
from search.records import Article
from search.settings import Settings

WORDS = (
    "kosovo", "serbia", "talks", "talking", "talked", "negotiations", "negotiate", "negotiator", "economy",
    "economies", "the", "of", "a", "Thaçi", "Thaci", "Vučić", "Вучић", "Лавров", "Лаврова", "Лавровым",
    "Переговоры", "переговорах", "Приштина", "Đorđe", "Ђорђе", "straße", "U.S.", "2018", "ъ", "sanctions",
)
#: Words of the even-numbered articles: no Cyrillic (a Russian stem beside a word makes the stemmed
#: field's length differ from the twin's) and no word that folds to nothing.
LATIN = tuple(word for word in WORDS if word.isascii() and word != "ъ") + ("Belgrade",)
BATCH = 13  # many small commits: many segments, and Whoosh's merge policy merging them


def _articles(count: int, seed: int) -> list[Article]:
    rng = random.Random(seed)

    def text(low: int, high: int, words: tuple[str, ...] = WORDS) -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(low, high)))

    # "kosovo" in every body: a term with more postings than a block holds (128).
    return [Article(id=f"{seed:02d}{n:05d}", title=text(1, 5),
                    text=f"kosovo {text(0, 60)}." if n % 2 else f"kosovo Belgrade {text(0, 60, LATIN)}.",
                    origin=f"t:{n}",
                    outlet=rng.choice(["A", "B", None]), author=text(1, 2) if n % 3 else None,
                    published=None if n % 7 == 0 else dt.date(2018, 1 + n % 12, 1 + n % 28))
            for n in range(count)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, gazetteer: Gazetteer) -> tuple[Settings, Path]:
    """The same articles through ``write_articles`` (this writer) and through Whoosh's writer, commit for commit."""
    root = tmp_path_factory.mktemp("writers")
    ours = make_settings(root / "ours", batch_size=BATCH)
    articles = [enrich(article, gazetteer, 0) for article in _articles(300, 1)]
    for at in range(0, len(articles), BATCH):
        write_articles(articles[at:at + BATCH], ours)
    # Some updated: deletions in older segments, then one more commit.
    changed = [dataclasses.replace(article, text=article.text + " talks resumed") for article in articles[5:60:9]]
    write_articles(changed, ours)
    with open_index(ours).searcher() as searcher:
        written = {fields["id"]: fields for fields in searcher.all_stored_fields()}
    theirs = root / "theirs"
    theirs.mkdir()
    ix = whoosh_index.create_in(str(theirs), build_schema())
    for at in range(0, len(articles), BATCH):
        _plain_commit(ix, articles[at:at + BATCH], written)
    _plain_commit(ix, changed, written)
    return ours, theirs


def _plain_commit(ix: FileIndex, articles: list[Article], written: dict[str, dict[str, Any]]) -> None:
    writer = ix.writer()
    for article in articles:
        document = to_fields(article)
        document.update(cluster=written[article.id]["cluster"], seq=written[article.id]["seq"],
                        indexed_at=written[article.id]["indexed_at"])
        writer.update_document(**document)
    writer.commit()


def _contents(reader: IndexReader) -> dict[str, Any]:
    """Everything a reader gives: each term's statistics and postings, each document's lengths, columns, stored fields."""
    schema = reader.schema
    terms = {}
    for fieldname, btext in reader.all_terms():
        matcher = reader.postings(fieldname, btext)
        postings = []
        while matcher.is_active():
            postings.append((matcher.id(), matcher.weight(), matcher.value()))
            matcher.next()
        info = reader.term_info(fieldname, btext)
        terms[fieldname, btext] = (postings, info.weight(), info.doc_frequency(), info.min_length(),
                                   info.max_length(), info.max_weight(), info.min_id(), info.max_id())
    documents = {}
    for docnum in reader.all_doc_ids():
        stored = dict(reader.stored_fields(docnum))
        lengths = {name: reader.doc_field_length(docnum, name) for name in schema.scorable_names()}
        columns = {name: reader.column_reader(name)[docnum] for name in schema.names() if reader.has_column(name)}
        documents[docnum] = (stored, lengths, columns)
    return {"terms": terms, "documents": documents, "count": reader.doc_count(),
            "lengths": {name: reader.field_length(name) for name in schema.scorable_names()}}


def _plain(path: Path) -> FileIndex:
    return FileIndex(FileStorage(str(path)))


def test_every_posting_statistic_and_document_is_what_whoosh_writes(built: tuple[Settings, Path]) -> None:
    ours, theirs = built
    with open_index(ours).reader() as mine, _plain(theirs).reader() as whoosh:
        assert len(mine.leaf_readers()) == len(whoosh.leaf_readers()) > 1  # segments, and merges, alike
        got, want = _contents(mine), _contents(whoosh)
    assert got["terms"].keys() == want["terms"].keys()
    assert got == want


def test_searches_score_alike(built: tuple[Settings, Path]) -> None:
    ours, theirs = built
    queries = ["kosovo", "talks", "lavrov", "вучић", '"kosovo serbia"', "thaci OR economy", "negot*", "title:the"]
    with open_index(ours).searcher() as mine, _plain(theirs).searcher() as whoosh:
        for text in queries:
            query = QueryParser("body", mine.schema).parse(text)
            found = [(hit["id"], hit.score) for hit in mine.search(query, limit=None)]
            assert found == [(hit["id"], hit.score) for hit in whoosh.search(query, limit=None)], text
            assert found or text == "title:the"


def test_twin_terms_share_the_stemmed_fields_postings_where_they_are_the_same(built: tuple[Settings, Path]) -> None:
    """A word that is the only form of its stem (Belgrade, stem belgrad, only in bodies without Cyrillic)
    shares its postings; most inflected words (talks, talking, talked: stem talk) and Russian ones (a
    second stem beside) keep their own. That the shared ones read as their own would is the first test's."""
    ours, _ = built
    shared = own = checked = 0
    with open_index(ours).reader() as reader:
        for segment, _ in reader.leaf_readers():
            assert isinstance(segment, SegmentReader)
            terms = segment._terms
            if ("body_words", b"belgrade") in terms:
                belgrade = _extent(terms.term_info("body_words", b"belgrade"))
                assert belgrade == _extent(terms.term_info("body", b"belgrad"))
                checked += 1
            stemmed = {_extent(info) for (fieldname, _), info in terms.items() if fieldname in ("body", "title")}
            for (fieldname, _), info in terms.items():
                if fieldname in ("body_words", "title_words"):
                    is_shared = _extent(info) in stemmed
                    shared, own = shared + is_shared, own + (not is_shared)
    assert shared and own and checked


def _extent(info: W3TermInfo) -> tuple[int, int]:
    offset, length = info.extent()
    return offset, length[0] if isinstance(length, tuple) else length


def test_merges_are_what_whoosh_merges_whichever_writer_wrote_the_segments(
        built: tuple[Settings, Path], tmp_path: Path) -> None:
    """Oracle: Whoosh's writer merging Whoosh's segments. This writer merging them, and Whoosh's merging
    this writer's, give the same index."""
    ours, theirs = built
    merged = {}
    for name, source, merge in (("oracle", theirs, "whoosh"), ("ours merging theirs", theirs, "ours"),
                                ("whoosh merging ours", ours.index_dir, "whoosh")):
        copy = tmp_path / name
        shutil.copytree(source, copy)
        writer = _plain(copy).writer() if merge == "whoosh" else open_writer(_plain(copy), timeout=1, limitmb=16)
        writer.commit(optimize=True)
        with _plain(copy).reader() as reader:
            assert reader.is_atomic()  # one segment
            merged[name] = _contents(reader)
    assert merged["ours merging theirs"] == merged["oracle"]
    assert merged["whoosh merging ours"] == merged["oracle"]


def test_an_empty_commit_and_a_fresh_index_still_work(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "instance")
    ix = create_index(settings)
    open_writer(ix, timeout=1, limitmb=16).commit()
    assert open_index(settings).doc_count() == 0


def test_articles_prepared_in_another_process_make_the_same_index(tmp_path: Path, gazetteer: Gazetteer) -> None:
    """Documents made and analysed in worker processes (``prepare_article``), then written by the one
    writer, give the index that writing the articles themselves gives: every term, posting,
    statistic and stored field (but the moment each was written)."""
    articles = [enrich(article, gazetteer, 0) for article in _articles(120, 2)]
    changed = [dataclasses.replace(article, text=article.text + " talks resumed") for article in articles[3:40:7]]
    direct, prepared = make_settings(tmp_path / "direct", batch_size=BATCH), make_settings(tmp_path / "prepared",
                                                                                            batch_size=BATCH)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        made = list(pool.map(prepare_article, articles + changed, chunksize=8))
    assert all(item.analysed for item in made)  # the analysis really was done over there
    for at in range(0, len(articles), BATCH):
        write_articles(articles[at:at + BATCH], direct)
        write_articles(made[at:at + BATCH], prepared)
    write_articles(changed, direct)
    write_articles(made[len(articles):], prepared)

    def contents(settings: Settings) -> dict[str, Any]:
        with open_index(settings).reader() as reader:
            found = _contents(reader)
        for stored, _, _ in found["documents"].values():
            assert stored.pop("indexed_at")
        return found

    assert contents(prepared) == contents(direct)


class _Format:
    """A postings format as the postings writer asks it: only the size of its values."""

    def __init__(self, fixed: int | None) -> None:
        self.fixed = fixed

    def fixed_value_size(self) -> int | None:
        return self.fixed


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(
    docnum=st.integers(0, 2**31 - 1) | st.integers(0, 300),
    weight=st.floats(-1e6, 1e6) | st.integers(0, 2**25).map(float),
    value=st.binary(max_size=80) | st.binary(min_size=250, max_size=300),
    length=st.none() | st.integers(0, 120_000),
    fixed=st.sampled_from([None, -1, 0, 4]),
)
def test_a_one_posting_term_is_written_byte_for_byte_as_the_general_path_writes_it(
    docnum: int, weight: float, value: bytes, length: int | None, fixed: int | None
) -> None:
    """Most terms have one posting, so the writer spells their block out by hand; the bytes in the postings
    file and the term info must be the general path's (and so read by Whoosh as before)."""
    fast, general = (Codec().postings_writer(StructFile(io.BytesIO())) for _ in range(2))
    written = fast.write_term(_Format(fixed), [docnum], [weight], [value], [length])
    expected = general._write_blocks(fixed, [docnum], [weight], [value], [length])
    assert written == expected
    assert fast._postfile.file.getvalue() == general._postfile.file.getvalue()
