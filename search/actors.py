"""Actor matching: which people, organisations and countries an article names.

Pipeline: sources → clean → **enrich** → index. Enrichment asks the gazetteer
(``load_gazetteer()``, read from ``seeds/actors.toml``) to ``find`` the actors
in an article's text and stores their ids in ``Article.actors``, first mention
first; the index keeps them as the ``actor`` facet and the UI shows
``label(id)``.

How a text is matched:

* Aliases and text are folded alike (``search.folding.fold``: case, diacritics,
  Cyrillic → Latin; also curly apostrophes → ``'`` and whitespace runs → one
  space), so "Thaci" meets "Thaçi" and "Лавров" meets "Lavrov". One
  Aho-Corasick automaton over all folded aliases is built per gazetteer.
* A match counts only on word boundaries: the characters just before and after
  it are not letters or digits ("Kosovo" is not found in "Kosovoland").
* Overlapping matches resolve leftmost-longest: "UN Security Council" is the
  Security Council, not the UN.
* Acronyms (aliases of at most five letters, two or more of them capitals:
  UN, EU, US, U.S., KSF, НАТО, BiH) are case-sensitive: the original text at
  the match must be spelt exactly like one of the aliases that fold to that
  key (so "Nato" counts only because it is listed itself). The folded
  match is mapped back to the original text through an offset table built
  while folding, so "us" and "Us" are not the United States but "US" is.
* ``short`` aliases (bare surnames such as "Rama", generic forms such as
  "Security Council") count only when the same text also names that actor by a
  full alias, anywhere in the text.
* Persons' names also match in their Serbian (both scripts) and Russian case
  forms: each word of a one- or two-word alias, and the last word of a longer
  one, gets the endings of its class after folding (``_CASE_RULES``: Vučić →
  Vučića, Vučiću, Vučićem; Лавров → Лаврова, Лавровым; Kurti → Kurtija;
  Rama → Rame, Ramom), so "Albina Kurtija" and "Сергея Лаврова" are full names.
  A form keeps its alias's full or short standing ("Kurtija" alone, like
  "Kurti", needs the full name). Guards: the form must begin with a capital in
  the text (the she-wolf "vučica" folds to Vučić's genitive "vucica"); words
  under three letters are not inflected; a form that is any actor's alias, a
  form of two actors' aliases, or a stop form (``_STOP_FORMS``) is dropped.
  Countries list their own frequent forms and organisations are mostly
  acronyms, so only persons are inflected.
"""

from __future__ import annotations

import functools
import itertools
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick  # untyped (no stubs): pyproject sets ignore_missing_imports

from search.errors import SettingsError
from search.folding import fold
from search.settings import seeds_dir

_TYPES = frozenset({"person", "organisation", "country"})
_TOML_KEYS = frozenset({"id", "name", "type", "aliases", "short", "roles", "source"})
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


@dataclass(frozen=True)
class _Entry:
    """What one folded key in the automaton stands for."""

    actor_id: str
    short: bool
    # Original spellings the text must show at the match; empty = any case.
    exact: frozenset[str]
    # An inflected form: the text must spell it with a capital first letter.
    capital: bool = False


class Gazetteer:
    """A set of actors and the automaton that finds them in text."""

    def __init__(self, actors: Iterable[Actor]) -> None:
        self._actors: dict[str, Actor] = {}
        for actor in actors:
            _validate(actor)
            if actor.id in self._actors:
                raise SettingsError(f"actor id {actor.id!r} is listed twice")
            self._actors[actor.id] = actor
        self._automaton = _build_automaton(self._actors.values())

    @classmethod
    def from_file(cls, path: Path) -> Gazetteer:
        """Read a TOML file of ``[[actor]]`` tables (see seeds/actors.toml)."""
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
        return cls(_actor_from_table(table, path, n) for n, table in enumerate(tables, 1))

    def find(self, text: str) -> list[str]:
        """Ids of the actors named in ``text``, in order of first mention, each once."""
        if not text or len(self._automaton) == 0:
            return []
        matches = _leftmost_longest(self._candidates(_Folded.of(text)))
        named_in_full = {entry.actor_id for entry in matches if not entry.short}
        found: dict[str, None] = {}  # insertion-ordered set
        for entry in matches:
            if entry.actor_id in named_in_full:
                found.setdefault(entry.actor_id)
        return list(found)

    def get(self, actor_id: str) -> Actor | None:
        return self._actors.get(actor_id)

    def label(self, actor_id: str) -> str:
        """Display name, or the id itself for an actor this gazetteer lacks."""
        actor = self._actors.get(actor_id)
        return actor.name if actor else actor_id

    def __len__(self) -> int:
        return len(self._actors)

    def _candidates(self, folded: _Folded) -> list[tuple[int, int, _Entry]]:
        """Every alias occurrence on word boundaries, acronyms in the right case."""
        found = []
        for last, (length, entry) in self._automaton.iter(folded.text):
            start, end = last - length + 1, last + 1
            if not _on_word_boundaries(folded.text, start, end):
                continue
            if entry.exact and folded.original(start, end) not in entry.exact:
                continue
            if entry.capital and not folded.original(start, start + 1).isupper():
                continue
            found.append((start, end, entry))
        return found


def default_path() -> Path:
    """seeds/actors.toml: in $NEWSDESK_SEEDS if set, else beside the package."""
    return seeds_dir() / "actors.toml"


def load_gazetteer(path: Path | None = None) -> Gazetteer:
    """The gazetteer at ``path`` (default: ``default_path()``), read once per path."""
    return _load_cached(Path(path if path is not None else default_path()).resolve())


@functools.lru_cache(maxsize=8)
def _load_cached(path: Path) -> Gazetteer:
    return Gazetteer.from_file(path)


# --------------------------------------------------------------- building


def _validate(actor: Actor) -> None:
    if not actor.id or "," in actor.id:
        # Ids are stored comma-joined in the index's actor field.
        raise SettingsError(f"actor id {actor.id!r} must be non-empty and without commas")
    if not actor.name:
        raise SettingsError(f"actor {actor.id!r} has no name")
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
    )


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingsError(f"{where} must be a list of strings")
    return tuple(value)


def _build_automaton(actors: Iterable[Actor]) -> ahocorasick.Automaton:
    """One automaton over every folded alias and inflected form of a person's
    alias; values are (key length, _Entry)."""
    actors = list(actors)
    spellings = _spellings(actors)
    entries = {key: _entry_for(key, uses) for key, uses in spellings.items()}
    entries.update(_inflected_entries(actors, taken=spellings.keys()))
    automaton = ahocorasick.Automaton()
    for key, entry in entries.items():
        automaton.add_word(key, (len(key), entry))
    if len(automaton):
        automaton.make_automaton()
    return automaton


def _spellings(actors: Iterable[Actor]) -> dict[str, list[tuple[str, bool, str]]]:
    """Folded alias → every (actor id, short, alias) that folds to it."""
    spellings: dict[str, list[tuple[str, bool, str]]] = {}
    for actor in actors:
        for alias, short in _aliases_of(actor):
            key = _fold_key(alias)
            if not any(ch.isalnum() for ch in key):
                raise SettingsError(f"actor {actor.id!r}: alias {alias!r} has no letters")
            spellings.setdefault(key, []).append((actor.id, short, alias))
    return spellings


def _aliases_of(actor: Actor) -> list[tuple[str, bool]]:
    """(alias, short) pairs: the name and ``aliases`` are full, ``short`` is short."""
    full = [(alias, False) for alias in (actor.name, *actor.aliases)]
    return full + [(alias, True) for alias in actor.short]


def _fold_key(alias: str) -> str:
    return _Folded.of(alias).text.strip()


def _entry_for(key: str, uses: list[tuple[str, bool, str]]) -> _Entry:
    owners = sorted({actor_id for actor_id, _, _ in uses})
    if len(owners) > 1:
        # One spelling cannot name two actors: the data must decide.
        raise SettingsError(f"alias {key!r} (folded) belongs to several actors: {owners}")
    aliases = {alias for _, _, alias in uses}
    case_sensitive = any(_is_acronym(alias) for alias in aliases)
    return _Entry(
        actor_id=owners[0],
        short=all(short for _, short, _ in uses),  # a full use wins over a short one
        exact=frozenset(_squash_spaces(alias) for alias in aliases) if case_sensitive else frozenset(),
    )


def _is_acronym(alias: str) -> bool:
    """Short and mostly capitals: UN, U.S., НАТО, and mixed ones like BiH
    (whose folded form "bih" is the Serbian "I would")."""
    letters = [ch for ch in alias if ch.isalpha()]
    capitals = sum(ch.isupper() for ch in letters)
    return len(letters) <= _ACRONYM_MAX_LETTERS and capitals >= 2


def _squash_spaces(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------- inflection

# Case endings of Serbian (both scripts) and Russian names, after folding
# (so Russian ы is "y" and Serbian ć is "c"). Each rule: what the folded word
# ends with (the part matched is replaced) and the endings put in its place.
# The first rule that applies wins. Over-generating is cheap (a form nobody
# writes is never found), so a class lists every ending either language uses.
_CASE_RULES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    # Adjectival: Gruevski, Зеленский → Gruevskog, Зеленского, Gruevskim.
    (re.compile(r"(?<=[sc]k)(?:iy|ij|i|y)$"), ("og", "ogo", "om", "omu", "im")),
    # Russian -й: Сергей → Сергея, Сергею, Сергеем (folds to "sergeem").
    (re.compile(r"(?<=[aeiou])y$"), ("ya", "yu", "em", "e")),
    # -ić / -ич: Vučić → Vučića, Vučiću, Vučićem; Вучич → о Вучиче.
    (re.compile(r"(?<=ic)$"), ("a", "u", "em", "e")),
    # Russian possessive surnames: Лавров → Лаврова, Лаврову, Лавровым, о Лаврове;
    # Serbian Lavrovom, Putinom.
    (re.compile(r"(?<=ov|ev|in|yn)$"), ("a", "u", "om", "ym", "e")),
    # Other consonants: Tramp → Trampa, Trampu, Trampom; Haradinaj → Haradinajem.
    (re.compile(r"(?<=[bcdfghjklmnpqrstvwxz])$"), ("a", "u", "om", "em", "e")),
    # -i: Kurti → Kurtija, Kurtiju, Kurtijem (Russian leaves Курти undeclined).
    (re.compile(r"(?<=i)$"), ("ja", "ju", "jem")),
    # Russian -ия: Мария → Марии, Марию, Марией.
    (re.compile(r"(?<=i)ya$"), ("i", "yu", "ey")),
    # -a: Rama → Rame, Rami, Ramu, Ramom; Рамы, Рамой; Захарова → Захаровой, Zaharovoj.
    (re.compile(r"a$"), ("e", "i", "u", "om", "oj", "y", "oy", "ey")),
    # -o (Serbian first names): Vlado → Vlade, Vladi, Vladu, Vladom; Milo → Mila.
    (re.compile(r"o$"), ("a", "e", "i", "u", "om")),
)
# Serbian fleeting a, tried besides the rules: Aleksandar → Aleksandra, Petar → Petra.
_FLEETING_A = re.compile(r"(?<=[bcdfghjklmnpqrstvwxz])ar$")
_FLEETING_ENDINGS = ("ra", "ru", "rom", "re")
# Russian soft sign (folded away): Мишель → Мишеля, Мишелю, Мишелем.
_SOFT_ENDINGS = ("ya", "yu", "em", "e")
_MIN_INFLECTED_LETTERS = 3  # no forms of Xi, Li, PM
_MAX_ALL_INFLECTED_TOKENS = 2  # longer aliases ("Prime Minister Kurti") inflect the last token only
# Folded words an inflected form must not be, though capitalised: found by
# listing every generated one-word form that occurs capitalised in
# news-24k.jsonl.gz (Reuters en, Alo sr, Lajmi.net sq) and reading each.
# Most forms never occur but as the person ("Vučića", "Trampa", "Edija Rame");
# these do as other names: Rami (a given name, not Rama's dative), Kristi
# (Doug Christie, not Krišto), Krista (Christ's, Croatian).
_STOP_FORMS = frozenset({"rami", "kristi", "krista"})


def _inflected_entries(actors: Iterable[Actor], taken: Iterable[str]) -> dict[str, _Entry]:
    """Inflected forms of every person's aliases, keyed by folded form.

    A form that is some actor's own alias, or a form of two actors' aliases,
    or a stop form, is dropped: inflection never makes a spelling ambiguous.
    """
    owners: dict[str, dict[str, bool]] = {}  # form → actor id → short
    for actor in actors:
        if actor.type != "person":  # countries list their forms; bodies are acronyms
            continue
        for alias, short in _aliases_of(actor):
            for form in _inflections(alias):
                by_actor = owners.setdefault(form, {})
                by_actor[actor.id] = by_actor.get(actor.id, True) and short  # full wins
    taken = set(taken)
    return {
        form: _Entry(actor_id, short, exact=frozenset(), capital=True)
        for form, by_actor in owners.items()
        if len(by_actor) == 1 and form not in taken and _usable_form(form)
        for actor_id, short in by_actor.items()
    }


def _usable_form(form: str) -> bool:
    return sum(ch.isalpha() for ch in form) > _MIN_INFLECTED_LETTERS and form not in _STOP_FORMS


def _inflections(alias: str) -> set[str]:
    """Folded case forms of an alias, without the alias itself.

    Two-word aliases inflect both words ("Albina Kurtija", "Сергея Лаврова");
    longer ones only the last, and acronyms not at all.
    """
    tokens = alias.split()
    if _is_acronym(alias) or not tokens:
        return set()
    if len(tokens) <= _MAX_ALL_INFLECTED_TOKENS:
        choices = [_word_forms(token) for token in tokens]
    else:
        choices = [[_fold_key(token)] for token in tokens[:-1]] + [_word_forms(tokens[-1])]
    forms = {" ".join(words) for words in itertools.product(*choices)}
    forms.discard(_fold_key(alias))
    return forms


def _word_forms(word: str) -> list[str]:
    """A word folded, then its case forms if it is a name-like word."""
    folded = _fold_key(word)
    if len(folded) < _MIN_INFLECTED_LETTERS or not folded.isalpha():
        return [folded]  # "V.", "Буш-младший", "O'Brien": left as they are
    if word[-1] in "ьЬ":
        return [folded, *(folded + ending for ending in _SOFT_ENDINGS)]
    return [folded, *_case_forms(folded)]


def _case_forms(folded: str) -> list[str]:
    forms = []
    for pattern, endings in _CASE_RULES:
        match = pattern.search(folded)
        if match:
            forms += [folded[: match.start()] + ending for ending in endings]
            break
    if _FLEETING_A.search(folded):
        forms += [folded[:-2] + ending for ending in _FLEETING_ENDINGS]
    return forms


# --------------------------------------------------------------- matching


def _on_word_boundaries(text: str, start: int, end: int) -> bool:
    before_ok = start == 0 or not text[start - 1].isalnum()
    after_ok = end == len(text) or not text[end].isalnum()
    return before_ok and after_ok


def _leftmost_longest(candidates: list[tuple[int, int, _Entry]]) -> list[_Entry]:
    """Non-overlapping matches, the longest at each leftmost start, in text order."""
    chosen = []
    taken_until = 0
    for start, end, entry in sorted(candidates, key=lambda c: (c[0], -c[1])):
        if start >= taken_until:
            chosen.append(entry)
            taken_until = end
    return chosen


# Characters worth folding one by one: anything non-ASCII, and whitespace that
# is not a single plain space (it collapses to one space, so "Sergey\nLavrov"
# still meets "Sergey Lavrov"). Plain ASCII runs only need lower-casing.
_SPECIAL = re.compile(r"\s{2,}|[^\S ]|[^\x00-\x7f\s]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


@functools.lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    return fold(ch).translate(_APOSTROPHES)


@dataclass(frozen=True)
class _Folded:
    """Folded text plus where each folded character came from in the original.

    ``fold`` works character by character (casefold, a translation table,
    then dropping combining marks), so folding piecewise gives the same text
    as folding the whole, and lets us keep an offset table to check the case
    of acronym matches in the original.
    """

    text: str
    source: str
    offsets: list[int] | None  # None: same length, offsets are identity

    @classmethod
    def of(cls, source: str) -> _Folded:
        if not _SPECIAL.search(source):
            return cls(source.lower(), source, None)  # ASCII lower == fold
        pieces: list[str] = []
        offsets: list[int] = []
        position = 0
        for match in _SPECIAL.finditer(source):
            pieces.append(source[position : match.start()].lower())
            offsets.extend(range(position, match.start()))
            if match.group().isspace():
                pieces.append(" ")
                offsets.append(match.start())
            else:
                for index in range(match.start(), match.end()):
                    folded = _fold_char(source[index])
                    pieces.append(folded)
                    offsets.extend([index] * len(folded))
            position = match.end()
        pieces.append(source[position:].lower())
        offsets.extend(range(position, len(source)))
        return cls("".join(pieces), source, offsets)

    def original(self, start: int, end: int) -> str:
        """The original text behind folded ``[start, end)``, spaces squashed."""
        if self.offsets is None:
            return self.source[start:end]
        return _squash_spaces(self.source[self.offsets[start] : self.offsets[end - 1] + 1])
