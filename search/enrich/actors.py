"""Actor matching: which people, organisations and countries an article names.

Pipeline: sources → clean → **enrich** → index. Enrichment asks the gazetteer
(``load_gazetteer()``, read from ``seeds/actors.toml``) to ``find`` the actors
in an article's text and stores their ids in ``Article.actors``, first mention
first; the index keeps them as the ``actor`` facet and the UI shows
``label(id)``.

This module is the matcher and the stage's entry point: ``Gazetteer`` and
``load_gazetteer``, with the dictionary's ``Actor`` and ``default_path``
(``search.enrich.gazetteer``: reading ``seeds/actors.toml``, folding). Persons' case
forms come from ``search.enrich.inflection``, demonyms and capitals that stand for
their state from ``search.enrich.metonyms``.

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
  A hyphen is a word boundary, so an acronym with an Albanian case suffix
  still matches ("NATO-ja", "OKB-së", "KFOR-it", "UNMIK-ut"), its acronym
  part in the listed case ("Okb-së" does not), while "NATOja" and "BEKO" run
  on and do not.
* ``short`` aliases (bare surnames such as "Rama", generic forms such as
  "Security Council") count only when the same text also names that actor by a
  full alias, anywhere in the text.
* Persons' names also match in their Serbian (both scripts), Russian and
  Albanian case forms ("Albina Kurtija", "Сергея Лаврова", "Edi Ramës"); the
  rules and their guards are in ``search.enrich.inflection``.
* Demonyms and capitals name their country only where they stand for the
  state or its government ("Serbian President", "official Belgrade", "Moscow
  said"; the rules are in ``search.enrich.metonyms``).
* A demonym or capital that counts is a full mention of its country, as
  "Serbia" would be: it says as much as the name. It competes in the
  leftmost-longest rule like any alias ("Russian Foreign Ministry" is the
  ministry only), except that a person's alias that opens with a title
  ("Russian President Vladimir Putin", "US President Bill Clinton") still
  names the country: a title is no part of the name.

An agency's credit in a dateline names the outlet, not an actor of the story:
whatever the text names inside "(…)" or "/…/" right after a dateline's place
and date and before the dash ("MOSCOW (Reuters) -", "BELGRADE, Sept 14
(Reuters) —", "MOSCOW, November 21 (RIA Novosti) -", "BEOGRAD (Tanjug) –",
"МОСКВА, 14 сентября. /ТАСС/.") is not counted (``_credit_spans``). The same
agency named in the story ("Reuters reported", "according to Reuters") counts.
A dateline opens a line: nothing before the credit, or a place whose first
word is in capitals (as datelines are set) or a place with a date (a digit);
so "The Serbian Progressive Party (SNS) - which …" keeps its SNS.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

import ahocorasick  # untyped (no stubs): pyproject sets ignore_missing_imports

from search.enrich.gazetteer import (
    Actor,
    Entry,
    Folded,
    aliases_of,
    default_path,
    fold_key,
    is_acronym,
    read_actors,
    squash_spaces,
    validate,
)
from search.enrich.inflection import inflected_entries
from search.enrich.metonyms import Metonyms
from search.errors import SettingsError

__all__ = ["Actor", "Gazetteer", "default_path", "load_gazetteer"]


class Gazetteer:
    """A set of actors and the automaton that finds them in text."""

    def __init__(self, actors: Iterable[Actor]) -> None:
        self._actors: dict[str, Actor] = {}
        for actor in actors:
            validate(actor)
            if actor.id in self._actors:
                raise SettingsError(f"actor id {actor.id!r} is listed twice")
            self._actors[actor.id] = actor
        self._automaton = _build_automaton(self._actors.values())
        self._metonyms = Metonyms(self._actors.values())

    @classmethod
    def from_file(cls, path: Path) -> Gazetteer:
        """Read a TOML file of ``[[actor]]`` tables (see seeds/actors.toml)."""
        return cls(read_actors(path))

    def find(self, text: str) -> list[str]:
        """Ids of the actors named in ``text``, in order of first mention, each once."""
        if not text or len(self._actors) == 0:
            return []
        folded = Folded.of(text)
        candidates = self._candidates(folded) + self._metonyms.candidates(folded)
        credits = _credit_spans(text)
        if credits:
            candidates = [c for c in candidates if not _in_spans(folded.source_offset(c[0]), credits)]
        matches = self._with_titles(_leftmost_longest(candidates), candidates)
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

    def _with_titles(
        self, chosen: list[tuple[int, int, Entry]], candidates: list[tuple[int, int, Entry]]
    ) -> list[Entry]:
        """The chosen entries, each person preceded by the country its alias opens
        with: a title is no part of a name, so "Russian President Vladimir Putin"
        (a Phoenix alias of Putin) names Russia too, like "Serbian Foreign
        Minister Ivica Dačić" does."""
        entries = []
        for start, end, entry in chosen:
            if self._type(entry) == "person":
                entries += [
                    title
                    for at, until, title in candidates
                    if at == start and until < end and self._type(title) == "country" and not title.short
                ][:1]
            entries.append(entry)
        return entries

    def _type(self, entry: Entry) -> str:
        return self._actors[entry.actor_id].type

    def _candidates(self, folded: Folded) -> list[tuple[int, int, Entry]]:
        """Every alias occurrence on word boundaries, acronyms in the right case."""
        found: list[tuple[int, int, Entry]] = []
        if len(self._automaton) == 0:
            return found
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


def load_gazetteer(path: Path | None = None) -> Gazetteer:
    """The gazetteer at ``path`` (default: ``default_path()``), read once per path."""
    return _load_cached(Path(path if path is not None else default_path()).resolve())


@functools.lru_cache(maxsize=8)
def _load_cached(path: Path) -> Gazetteer:
    return Gazetteer.from_file(path)


# --------------------------------------------------------------- building


def _build_automaton(actors: Iterable[Actor]) -> ahocorasick.Automaton:
    """One automaton over every folded alias and inflected form of a person's
    alias; values are (key length, Entry)."""
    actors = list(actors)
    spellings = _spellings(actors)
    entries = {key: _entry_for(key, uses) for key, uses in spellings.items()}
    entries.update(inflected_entries(actors, taken=spellings.keys()))
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
        for alias, short in aliases_of(actor):
            key = fold_key(alias)
            if not any(ch.isalnum() for ch in key):
                raise SettingsError(f"actor {actor.id!r}: alias {alias!r} has no letters")
            spellings.setdefault(key, []).append((actor.id, short, alias))
    return spellings


def _entry_for(key: str, uses: list[tuple[str, bool, str]]) -> Entry:
    owners = sorted({actor_id for actor_id, _, _ in uses})
    if len(owners) > 1:
        # One spelling cannot name two actors: the data must decide.
        raise SettingsError(f"alias {key!r} (folded) belongs to several actors: {owners}")
    aliases = {alias for _, _, alias in uses}
    case_sensitive = any(is_acronym(alias) for alias in aliases)
    return Entry(
        actor_id=owners[0],
        short=all(short for _, short, _ in uses),  # a full use wins over a short one
        exact=frozenset(squash_spaces(alias) for alias in aliases) if case_sensitive else frozenset(),
    )


# --------------------------------------------------------------- matching


#: A dateline and its agency credit, at a line's start: the place and date
#: (checked in ``_credit_spans``; no dash between words in it: "BEOGRAD -
#: Predsednik (SNS) -" has its dateline before the first dash), then
#: "(Agency)" and a dash, or "/Agency/" and a full stop or a dash (the Russian
#: agencies' style).
_DATELINE_CREDIT = re.compile(
    r"[ \t]*(?P<place>[^\W\d_](?:(?![ \t]-[ \t])[^\n()/\u2013\u2014]){0,60}?)?[ \t]*"
    r"(?:\((?P<paren>[^()\n]{1,60})\)[ \t]*[-\u2013\u2014]|/(?P<slash>[^/\n]{1,60})/[ \t]*[.\-\u2013\u2014]?[ \t])",
)
_FIRST_WORD = re.compile(r"[^\W\d_]+")
_CREDIT_CLOSE = re.compile(r"\)[ \t]*[-\u2013\u2014]|/[ \t]*[.\-\u2013\u2014]?[ \t]")


def _credit_spans(text: str) -> list[tuple[int, int]]:
    """Where the text credits an agency in a dateline (module docstring), as (start, end) in ``text``."""
    spans = []
    # A closing ")" and a dash, or a "/" and a space, is rare: only lines
    # holding one are read in full (measured on 3,013 corpus articles: the
    # whole matcher took 31% longer when every line was tried).
    lines = {text.rfind("\n", 0, at) + 1 for at in _credit_closes(text)}
    for line_start in sorted(lines):
        match = _DATELINE_CREDIT.match(text, line_start)
        if match is None:
            continue
        place = (match.group("place") or "").strip()
        first = _FIRST_WORD.match(place)
        if place and not (first and len(first.group()) >= 2 and first.group().isupper()) and not any(
            ch.isdigit() for ch in place
        ):
            continue
        group = "paren" if match.group("paren") is not None else "slash"
        spans.append((match.start(group), match.end(group)))
    return spans


def _credit_closes(text: str) -> Iterable[int]:
    """Where a ")" and a dash, or a "/" and a space, stand: found by str.find,
    ten times faster than a regular expression's scan of the whole text."""
    for mark in ")/":
        at = text.find(mark)
        while at >= 0:
            if _CREDIT_CLOSE.match(text, at):
                yield at
            at = text.find(mark, at + 1)


def _in_spans(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _on_word_boundaries(text: str, start: int, end: int) -> bool:
    before_ok = start == 0 or not text[start - 1].isalnum()
    after_ok = end == len(text) or not text[end].isalnum()
    return before_ok and after_ok


def _leftmost_longest(candidates: list[tuple[int, int, Entry]]) -> list[tuple[int, int, Entry]]:
    """Non-overlapping matches, the longest at each leftmost start, in text order."""
    chosen = []
    taken_until = 0
    for start, end, entry in sorted(candidates, key=lambda c: (c[0], -c[1])):
        if start >= taken_until:
            chosen.append((start, end, entry))
            taken_until = end
    return chosen
