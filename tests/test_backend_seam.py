"""The read side's seam (search/query/backend.py): the web app asks a ``Reader``, never a search engine.

A second backend (PostgreSQL) plugs in below the seam; for that to be a
matter of one new module, nothing above it may reach past it. These tests
hold the line: the web package and the alert stage import no Whoosh, and the embedded backend
answers every question of the seam with the seam's own signature.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from conftest import imported_modules
from search.query import Percolator, Reader, Readers, make_query, open_readers
from search.query.embedded import EmbeddedReader, EmbeddedReaders
from search.query.percolate import RamPercolator
from search.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
#: Everything above the seam: the web app and the command line, and the alert stage.
ABOVE = sorted([*(ROOT / "web").glob("*.py"), *(ROOT / "search" / "alerts").glob("*.py")])


@pytest.mark.parametrize("path", ABOVE, ids=lambda path: str(path.relative_to(ROOT)))
def test_nothing_above_the_seam_knows_the_search_engine(path: Path) -> None:
    engines = {name for name in imported_modules(path)
               if name.split(".")[0] == "whoosh" or name in ("search.query.embedded", "search.query.percolate")}
    assert not engines, f"{path.name} reaches past the seam: {sorted(engines)}"


def questions(protocol: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(protocol).items()
            if callable(member) and not name.startswith("_")}


@pytest.mark.parametrize(("protocol", "backend"), [(Reader, EmbeddedReader), (Readers, EmbeddedReaders),
                                                   (Percolator, RamPercolator)])
def test_the_embedded_backend_answers_every_question_of_the_seam_as_asked(protocol: type, backend: type) -> None:
    asked = questions(protocol)
    assert asked  # the protocol is read, not an empty class
    for name, signature in asked.items():
        answered = getattr(backend, name, None)
        assert answered is not None, f"{backend.__name__} has no {name}"
        assert inspect.signature(answered).parameters.keys() == signature.parameters.keys(), name


def test_an_instance_is_read_through_the_backend_its_settings_name(seeded: Settings) -> None:
    readers = open_readers(seeded)
    reader = readers.current()
    try:
        assert isinstance(reader, EmbeddedReader)
        assert readers.current() is reader  # kept for the thread while nothing is committed
        assert reader.search(make_query("Kosovo")).total == 5
        snapshot = readers.snapshot()
        assert snapshot is not reader  # a snapshot of the caller's own
        snapshot.close()
    finally:
        readers.close()
