"""The actor dictionary: who can be named, by which aliases, and how text is folded to meet them.

Pipeline: sources → clean → **enrich** → index. The enricher's actor matcher
(``search.enrich.actors``) is built on this module: ``read_actors`` reads the
``[[actor]]`` tables of ``seeds/actors.toml`` (``default_path()``) into
``Actor`` records, ``validate`` checks each, and every alias is keyed by its
folded form (``fold_key``), which the case forms (``search.enrich.inflection``) and
the metonyms (``search.enrich.metonyms``) share.

Aliases and text are folded alike (``Folded.of``): ``search.folding.fold``
(case, diacritics, Cyrillic → Latin) plus curly apostrophes → ``'`` and
whitespace runs → one space. ``Folded`` keeps where each folded character came
from, so the matcher can check an acronym's case in the original text.

Exports: ``Actor``, ``Entry`` (what one folded key stands for),
``read_actors``, ``validate``, ``default_path``, ``aliases_of``,
``is_acronym``, ``fold_key``, ``squash_spaces``, ``Folded``.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy

from search.errors import SettingsError
from search.folding import fold
from search.settings import seeds_dir

if TYPE_CHECKING:
    from numpy.typing import NDArray

_TYPES = frozenset({"person", "organisation", "country"})
_TOML_KEYS = frozenset({"id", "name", "type", "aliases", "short", "roles", "demonyms", "capitals", "source"})
_ACRONYM_MAX_LETTERS = 5


@dataclass(frozen=True)
class Actor:
    """One entry of the gazetteer. ``short`` aliases need a full one nearby."""

    id: str
    name: str
    type: str  # "person" | "organisation" | "country"
    aliases: tuple[str, ...]
    short: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()  # "Minister of Foreign Affairs of Russia 2004-03-09–": shown, never matched
    # Count only in a state context (search.enrich.metonyms); "srpsk*" is a stem.
    demonyms: tuple[str, ...] = ()  # "Serbian", "srpsk*", "сербск*"
    capitals: tuple[str, ...] = ()  # "Belgrade", "Beograd", "Белград": nominatives only


@dataclass(frozen=True)
class Entry:
    """What one folded key in the automaton stands for."""

    actor_id: str
    short: bool
    # Original spellings the text must show at the match; empty = any case.
    exact: frozenset[str]
    # An inflected form: the text must spell it with a capital first letter.
    capital: bool = False


def default_path() -> Path:
    """seeds/actors.toml: in $NEWSDESK_SEEDS if set, else beside the package."""
    return seeds_dir() / "actors.toml"


def read_actors(path: Path) -> Iterator[Actor]:
    """The actors of a TOML file of ``[[actor]]`` tables (see seeds/actors.toml).

    The file is read now; each table becomes an ``Actor`` as the caller
    iterates (``Gazetteer`` checks each with ``validate`` as it goes).
    """
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise SettingsError(
            f"cannot read the actor file {path}",
            hint="set NEWSDESK_SEEDS to a directory holding actors.toml",
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"the actor file {path} is not valid TOML", hint=str(exc)) from exc
    tables = data.get("actor", [])
    if not isinstance(tables, list):
        raise SettingsError(f"{path}: 'actor' must be an array of tables ([[actor]])")
    return (_actor_from_table(table, path, n) for n, table in enumerate(tables, 1))


def validate(actor: Actor) -> None:
    """Refuse an actor the index or the matcher could not use."""
    if not actor.id or "," in actor.id:
        # Ids are stored comma-joined in the index's actor field.
        raise SettingsError(f"actor id {actor.id!r} must be non-empty and without commas")
    if not actor.name:
        raise SettingsError(f"actor {actor.id!r} has no name")
    for word in (*actor.demonyms, *actor.capitals):
        if not any(ch.isalpha() for ch in word.removesuffix("*")):
            raise SettingsError(f"actor {actor.id!r}: demonym or capital {word!r} has no letters")
    if actor.type not in _TYPES:
        raise SettingsError(
            f"actor {actor.id!r} has type {actor.type!r}",
            hint="one of " + ", ".join(sorted(_TYPES)),
        )


def _actor_from_table(table: Any, path: Path, n: int) -> Actor:
    where = f"{path}, actor #{n}"
    if not isinstance(table, dict):
        raise SettingsError(f"{where}: not a table")
    unknown = set(table) - _TOML_KEYS
    if unknown:
        raise SettingsError(f"{where}: unknown keys {sorted(unknown)}")
    strings = {key: table.get(key) for key in ("id", "name", "type")}
    for key, value in strings.items():
        if not isinstance(value, str):
            raise SettingsError(f"{where}: {key!r} must be a string")
    return Actor(
        id=str(strings["id"]),
        name=str(strings["name"]),
        type=str(strings["type"]),
        aliases=_string_list(table.get("aliases", []), f"{where}: 'aliases'"),
        short=_string_list(table.get("short", []), f"{where}: 'short'"),
        roles=_string_list(table.get("roles", []), f"{where}: 'roles'"),
        demonyms=_string_list(table.get("demonyms", []), f"{where}: 'demonyms'"),
        capitals=_string_list(table.get("capitals", []), f"{where}: 'capitals'"),
    )


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingsError(f"{where} must be a list of strings")
    return tuple(value)


def aliases_of(actor: Actor) -> list[tuple[str, bool]]:
    """(alias, short) pairs: the name and ``aliases`` are full, ``short`` is short."""
    full = [(alias, False) for alias in (actor.name, *actor.aliases)]
    return full + [(alias, True) for alias in actor.short]


def fold_key(alias: str) -> str:
    """The folded form an alias is keyed by in the matcher's automata."""
    return Folded.of(alias).text.strip()


def is_acronym(alias: str) -> bool:
    """Short and mostly capitals: UN, U.S., НАТО, and mixed ones like BiH
    (whose folded form "bih" is the Serbian "I would")."""
    letters = [ch for ch in alias if ch.isalpha()]
    capitals = sum(ch.isupper() for ch in letters)
    return len(letters) <= _ACRONYM_MAX_LETTERS and capitals >= 2


def squash_spaces(text: str) -> str:
    """Whitespace runs as single spaces, ends trimmed."""
    return " ".join(text.split())


# Characters worth folding one by one: anything non-ASCII, and whitespace that
# is not a single plain space (it collapses to one space, so "Sergey\nLavrov"
# still meets "Sergey Lavrov"). Plain ASCII runs only need lower-casing.
_SPECIAL = re.compile(r"\s{2,}|[^\S ]|[^\x00-\x7f\s]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def _fold_char(ch: str) -> str:
    """One character folded as aliases and text are: ``fold``, curly apostrophes straight."""
    return fold(ch).translate(_APOSTROPHES)


def _fold_run(run: str) -> tuple[str, bytes]:
    """A run of non-ASCII characters folded, and how many folded characters
    each one gives (0 for a combining mark, 2 for đ or ß); kept per run,
    since the same letters (č, ć, ё, a Cyrillic word) come back all the time."""
    found = _RUN_CACHE.get(run)
    if found is None:
        pieces = [_fold_char(ch) for ch in run]
        found = ("".join(pieces), bytes(map(len, pieces)))
        if len(_RUN_CACHE) >= _RUN_CACHE_SIZE:
            _RUN_CACHE.clear()
        _RUN_CACHE[run] = found
    return found


_RUN_CACHE: dict[str, tuple[str, bytes]] = {}
_RUN_CACHE_SIZE = 100_000


@dataclass(frozen=True)
class Folded:
    """Folded text plus where each folded character came from in the original.

    ``fold`` works character by character (casefold, a translation table,
    then dropping combining marks), so folding piecewise gives the same text
    as folding the whole, and lets us keep an offset table to check the case
    of acronym matches in the original.
    """

    text: str
    source: str
    # How many folded characters each original one gives (0 for a combining
    # mark or the rest of a whitespace run, 2 for đ or ß); None: one each.
    lengths: bytes | None

    @classmethod
    def of(cls, source: str) -> Folded:
        if not _SPECIAL.search(source):
            return cls(source.lower(), source, None)  # ASCII lower == fold
        pieces: list[str] = []
        lengths = bytearray(b"\x01") * len(source)
        position = 0
        for match in _SPECIAL.finditer(source):
            start, end = match.span()
            pieces.append(source[position:start].lower())
            run = match.group()
            if run.isspace():
                pieces.append(" ")  # at the run's start; the rest of it folds to nothing
                lengths[start + 1 : end] = bytes(end - start - 1)
            else:
                folded, counts = _fold_run(run)
                pieces.append(folded)
                lengths[start:end] = counts
            position = end
        pieces.append(source[position:].lower())
        return cls("".join(pieces), source, bytes(lengths))

    @functools.cached_property
    def offsets(self) -> NDArray[numpy.intp] | None:
        """Where each folded character came from (None: the same place):
        made when first asked for, in one numpy call rather than a Python
        list grown position by position."""
        if self.lengths is None:
            return None
        return numpy.repeat(numpy.arange(len(self.source)), numpy.frombuffer(self.lengths, dtype=numpy.uint8))

    def source_offset(self, index: int) -> int:
        """Where folded character ``index`` came from in the original."""
        return index if self.offsets is None else int(self.offsets[index])

    def original(self, start: int, end: int) -> str:
        """The original text behind folded ``[start, end)``, spaces squashed."""
        if self.offsets is None:
            return self.source[start:end]
        return squash_spaces(self.source[int(self.offsets[start]) : int(self.offsets[end - 1]) + 1])
