"""The index read through memory maps (search/index/mapped.py): the same answers as Whoosh's own storage, no copies.

``open_index`` reads segment files through read-only maps instead of
Whoosh's ``BufferFile`` copies. These tests compare every answer the query
stage gives (totals, hits, snippets, facet counts, stored fields) with the
same index opened through Whoosh's plain ``FileStorage``, on the seeds and
on a generated corpus of several segments; under threads; across a refresh,
a merge and a reindex swap; and count the maps a searcher leaves behind.
No test measures time or memory.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import threading
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.filedb.structfile import BufferFile
from whoosh.index import FileIndex
from whoosh.searching import Searcher

from conftest import make_settings
from search.enrich import Gazetteer, enrich
from search.index import delete_articles, open_index, replace_index, write_articles
from search.index.mapped import MappedFile, MappedStorage, _Pread
from search.query import columns, make_query, search
from search.records import Article, SearchPage, SearchQuery
from search.settings import Settings

_WORDS = ("Kosovo", "talks", "border", "trade", "election", "energy", "Belgrade", "Pristina", "summit", "grain")
_OUTLETS = ("Tanjug", "RT", "Koha", "Reuters")
_TEXTS = (
    "Sergey Lavrov and Aleksandar Vučić met on day {n} to discuss {a} and {b}.",
    "Albin Kurti spoke about {a} in Pristina on day {n}; the {b} question stays open.",
    "Ministers agreed on {a} after {b} talks, a statement said on day {n}.",
)


def _corpus(gazetteer: Gazetteer, first: int, count: int) -> list[Article]:
    """Varied articles: outlets, years, actors, and a copy of every seventh text in another outlet (clusters)."""
    articles = []
    for n in range(first, first + count):
        k = n // 7 * 7 if n % 7 == 6 else n  # syndicated copy of article k's text
        text = _TEXTS[k % 3].format(n=k, a=_WORDS[k % 10], b=_WORDS[(k * 3 + 1) % 10])
        articles.append(enrich(Article(
            id=f"{n:020x}", title=f"{_WORDS[k % 10]} {_WORDS[(k + 4) % 10]} {k}", origin=f"test:{n}",
            outlet=_OUTLETS[n % 4], text=text + "\n\n" + " ".join(_WORDS[(k + i) % 10] for i in range(n % 5 + 3)),
            published=dt.date(2015 + n % 6, 1 + n % 12, 1 + n % 28) if n % 9 else None,
        ), gazetteer, 0))
    return articles


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, gazetteer: Gazetteer) -> Settings:
    """An index of 240 generated articles committed 40 at a time: several segments."""
    settings = make_settings(tmp_path_factory.mktemp("generated"), batch_size=40, facet_cache_size=0)
    write_articles(_corpus(gazetteer, 0, 240), settings)
    return settings


def _plain(settings: Settings) -> FileIndex:
    """The same index through Whoosh's own storage, which copies each file when a searcher opens."""
    return whoosh_index.open_dir(str(settings.index_dir))


def _requests(front: SearchPage) -> list[SearchQuery]:
    """Texts of every kind, both sorts, a second page, and each facet's top values as filters."""
    texts = ["", "Lavrov", "Kosovo talks", '"met on day"', "talk*", "Kosovo -Lavrov", "energy OR grain", "nothingatall"]
    requests = [make_query(q) for q in texts] + [make_query(q, sort="date") for q in texts[:4]]
    requests += [make_query("", page=2, per_page=5), make_query("talks", page=3, per_page=4)]
    for name, values in front.facets.items():
        for value in values[:2]:
            requests += [make_query("", **{name: [value.value]}), make_query("Kosovo", **{name: [value.value]})]
    return requests


def _pages(ix: FileIndex, settings: Settings, gazetteer: Gazetteer, requests: list[SearchQuery]) -> list[SearchPage]:
    # The actor lists are kept per segment id, the same for both storages: forget them, so each reads its own.
    columns._SHARED._items.clear()
    with ix.searcher() as searcher:
        return [search(searcher, request, settings, gazetteer) for request in requests]


def _stored(ix: FileIndex) -> list[dict[str, object]]:
    with ix.searcher() as searcher:
        return list(searcher.all_stored_fields())


def _maps(settings: Settings) -> int:
    """Lines of this process's memory maps that map a file of the index directory."""
    folder = str(settings.index_dir.resolve()) + "/"
    return sum(folder in line for line in Path("/proc/self/maps").read_text().splitlines())


def _both(settings: Settings, gazetteer: Gazetteer) -> tuple[list[SearchPage], list[SearchPage]]:
    """Every request's page through Whoosh's storage, then through the maps."""
    requests = _requests(_pages(_plain(settings), settings, gazetteer, [make_query("")])[0])
    plain = _pages(_plain(settings), settings, gazetteer, requests)
    return plain, _pages(open_index(settings), settings, gazetteer, requests)


@pytest.mark.parametrize("which", ["seeds", "generated"])
def test_mapped_storage_gives_the_same_pages_and_stored_fields(
    which: str, seeded: Settings, generated: Settings, gazetteer: Gazetteer
) -> None:
    settings = replace(seeded, facet_cache_size=0) if which == "seeds" else generated
    plain, mapped = _both(settings, gazetteer)
    assert mapped == plain
    assert any(page.total for page in plain) and any(page.hits and page.hits[0].snippet for page in plain)
    assert _stored(open_index(settings)) == _stored(_plain(settings))


def test_a_searcher_reads_every_file_through_a_map_not_a_copy(generated: Settings) -> None:
    ix = open_index(generated)
    assert isinstance(ix.storage, MappedStorage)
    with ix.searcher() as searcher:
        leaves = [leaf.reader() for leaf, _ in searcher.leaf_searchers()]
        assert len(leaves) > 1  # several segments, each a compound file
        for reader in leaves:
            storage = reader.storage()
            for name in storage.list():
                with storage.open_file(name) as f:
                    assert isinstance(f, MappedFile) and not isinstance(f, BufferFile)


def test_opening_and_closing_searchers_leaves_no_map_behind(generated: Settings, gazetteer: Gazetteer) -> None:
    gc.collect()
    before = _maps(generated)
    ix = open_index(generated)
    for _ in range(40):
        with ix.searcher() as searcher:
            search(searcher, make_query("Kosovo"), generated, gazetteer)
            assert _maps(generated) > before  # read through maps indeed
    assert _maps(generated) == before
    for _ in range(10):  # a searcher dropped without close: its maps go with it
        open_index(generated).searcher().document(id=f"{1:020x}")
    gc.collect()
    assert _maps(generated) == before


def test_searchers_of_one_index_share_one_map_per_file(generated: Settings, gazetteer: Gazetteer) -> None:
    """A server keeps a searcher per thread: the files are mapped once, not once per searcher
    (resident size counts a page once per map holding it)."""
    gc.collect()
    before = _maps(generated)
    first = open_index(generated).searcher()
    one = _maps(generated)
    others = [open_index(generated).searcher() for _ in range(7)]
    assert _maps(generated) == one > before
    expected = search(first, make_query("Kosovo"), generated, gazetteer)
    first.close()  # the others still read the shared maps
    assert all(search(s, make_query("Kosovo"), generated, gazetteer) == expected for s in others)
    assert _maps(generated) == one
    for searcher in others:
        searcher.close()
    assert _maps(generated) == before


def test_stored_fields_are_read_with_pread_and_leave_no_descriptor_open(
    generated: Settings, gazetteer: Gazetteer
) -> None:
    """Stored fields are read with ``pread``, not through the map: map pages once read stay resident
    (with the kernel's read-ahead, most of the stored-fields file at 113k articles)."""
    gc.collect()
    descriptors = len(os.listdir("/proc/self/fd"))
    ix = open_index(generated)
    for _ in range(20):
        with ix.searcher() as searcher:
            assert search(searcher, make_query("Kosovo"), generated, gazetteer).hits
            for leaf, _ in searcher.leaf_searchers():
                stored = leaf.reader()._perdoc._colfiles["_stored"][0]  # read by the page's hits
                assert isinstance(stored, MappedFile) and isinstance(stored._source, _Pread)
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == descriptors
    assert _stored(ix) == _stored(_plain(generated))


def test_threads_each_with_their_own_searcher_agree(generated: Settings, gazetteer: Gazetteer) -> None:
    requests = _requests(_pages(_plain(generated), generated, gazetteer, [make_query("")])[0])
    expected = _pages(_plain(generated), generated, gazetteer, requests)
    ix = open_index(generated)
    start = threading.Barrier(6)

    def answer(n: int) -> bool:
        start.wait(timeout=10)
        with ix.searcher() as searcher:
            order = requests[n:] + requests[:n]  # threads ask in different orders
            pages = [search(searcher, request, generated, gazetteer) for request in order]
        return pages == expected[n:] + expected[:n]

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(answer, range(6))) == [True] * 6


def test_a_searcher_refreshed_after_writes_sees_them(tmp_path: Path, gazetteer: Gazetteer) -> None:
    settings = make_settings(tmp_path / "instance", batch_size=30, facet_cache_size=0)
    write_articles(_corpus(gazetteer, 0, 60), settings)
    searcher: Searcher = open_index(settings).searcher()
    before = search(searcher, make_query("Kosovo"), settings, gazetteer)
    write_articles(_corpus(gazetteer, 60, 90), settings)  # new segments, some merged with the old ones
    searcher = searcher.refresh()
    try:
        after = search(searcher, make_query("Kosovo"), settings, gazetteer)
    finally:
        searcher.close()
    assert _maps(settings) == 0  # unmapped on close, the old searcher's segments too
    columns._SHARED._items.clear()
    with _plain(settings).searcher() as plain:
        assert after == search(plain, make_query("Kosovo"), settings, gazetteer)
    assert after.total > before.total


def test_a_searcher_open_across_a_merge_reads_the_deleted_files(tmp_path: Path, gazetteer: Gazetteer) -> None:
    settings = make_settings(tmp_path / "instance", batch_size=30, facet_cache_size=0)
    write_articles(_corpus(gazetteer, 0, 90), settings)
    with open_index(settings).searcher() as old:
        before = [search(old, request, settings, gazetteer) for request in _requests(search(
            old, make_query(""), settings, gazetteer))]
        files = set(settings.index_dir.iterdir())
        assert delete_articles(settings, [f"{3:020x}"]) == 1  # merges every segment into a new one
        assert not files & set(settings.index_dir.glob("*.seg"))  # the files the searcher maps are gone
        again = [search(old, request, settings, gazetteer) for request in _requests(before[0])]
        assert again == before
    gc.collect()
    assert _maps(settings) == 0


def test_a_searcher_open_across_a_reindex_swap_reads_the_old_index(tmp_path: Path, gazetteer: Gazetteer) -> None:
    settings = make_settings(tmp_path / "instance", facet_cache_size=0)
    write_articles(_corpus(gazetteer, 0, 50), settings)
    with open_index(settings).searcher() as old:
        before = search(old, make_query(""), settings, gazetteer)
        staging = tmp_path / "instance" / "whoosh.new"
        write_articles(_corpus(gazetteer, 100, 20), settings, directory=staging)
        replace_index(settings, staging)  # the old directory is exchanged, then removed
        assert not staging.exists()
        assert search(old, make_query(""), settings, gazetteer) == before
    with open_index(settings).searcher() as new:
        assert search(new, make_query(""), settings, gazetteer).total == 20


def test_a_mapped_file_reads_as_whoosh_buffer_file_does(tmp_path: Path) -> None:
    storage = MappedStorage(str(tmp_path))
    with storage.create_file("data") as out:
        out.write_int(7)
        out.write_varint(300)
        out.write_pickle({"a": [1, 2]})
        out.write(b"line one\nline two\n")
        out.write_array(array("i", [5, -6, 7]))
    data = (tmp_path / "data").read_bytes()
    storage.create_file("empty").close()
    mapped, buffered = storage.open_file("data"), BufferFile(memoryview(data))
    try:
        for f in (mapped, buffered):
            f.seek(0)
        assert [mapped.read_int(), mapped.read_varint(), mapped.read_pickle()] == [7, 300, {"a": [1, 2]}]
        assert [buffered.read_int(), buffered.read_varint(), buffered.read_pickle()] == [7, 300, {"a": [1, 2]}]
        assert mapped.readline() == buffered.readline() == b"line one\n"
        assert mapped.tell() == buffered.tell()
        end = len(data) - 12
        assert mapped.get_array(end, "i", 3) == buffered.get_array(end, "i", 3) == array("i", [5, -6, 7])
        assert mapped.get(end - 9, 9) == buffered.get(end - 9, 9) == b"line two\n"
        part = mapped.subset(end - 18, 18)
        assert part.read() == b"line one\nline two\n" and part.read(5) == b""
        assert part.seek(-4, os.SEEK_END) == 14 and part.read(100) == b"two\n"
        assert mapped.seek(0, os.SEEK_END) == len(data) and mapped.read(1) == b""
    finally:
        mapped.close()
    with pytest.raises(ValueError):  # unmapped on close: a window left over cannot read freed memory
        part.get(0, 4)
    with storage.open_file("empty") as empty:
        assert empty.read() == b"" and empty.get(0, 4) == b""


def test_an_index_opened_while_a_commit_deletes_its_table_of_contents_opens_the_newer_one(
        tmp_path: Path, gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening lists the directory, then reads the newest ``_MAIN_<n>.toc``; a commit finishing in
    between writes ``<n+1>`` and deletes ``<n>``. The commit is injected exactly there: opening the
    index (as the server does once a commit is seen) must then read the newer one, not fail."""
    settings = make_settings(tmp_path / "instance")
    write_articles(_corpus(gazetteer, 0, 5), settings)
    read = MappedStorage.open_file
    injected: list[str] = []

    def commit_first(storage: MappedStorage, name: str, **kwargs: object) -> MappedFile:
        if name.endswith(".toc") and not injected:
            injected.append(name)
            write_articles(_corpus(gazetteer, 5, 5), settings)  # the concurrent commit, now
        return read(storage, name, **kwargs)

    monkeypatch.setattr(MappedStorage, "open_file", commit_first)
    ix = open_index(settings)
    assert injected and not (settings.index_dir / injected[0]).exists()  # the file it listed did vanish
    with ix.searcher() as searcher:
        assert searcher.doc_count() == 10
