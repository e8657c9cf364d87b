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
  A hyphen is a word boundary, so an acronym with an Albanian case suffix
  still matches ("NATO-ja", "OKB-së", "KFOR-it", "UNMIK-ut"), its acronym
  part in the listed case ("Okb-së" does not), while "NATOja" and "BEKO" run
  on and do not.
* ``short`` aliases (bare surnames such as "Rama", generic forms such as
  "Security Council") count only when the same text also names that actor by a
  full alias, anywhere in the text.
* Persons' names also match in their Serbian (both scripts) and Russian case
  forms: each word of a one- or two-word alias, and the last word of a longer
  one, gets the endings of its class after folding (``_CASE_RULES``: Vučić →
  Vučića, Vučiću, Vučićem; Лавров → Лаврова, Лавровым; Kurti → Kurtija;
  Rama → Rame, Ramom), so "Albina Kurtija" and "Сергея Лаврова" are full names.
  Albanian definite forms are added the same way (``_ALBANIAN_RULES``, by the
  folded word's ending, ë folded to e): -i, -u take -t, -n (Kurti → Kurtit,
  Kurtin; Thaçi → Thaçit); -j takes -i, -t, -n (Haradinaj → Haradinajt,
  Haradinajn); -k, -g take -u, -ut, -un (Dodik → Dodikut); other consonants
  take -i, -it, -in (Putin → Putini, Putinit, Putinin; Lavrov → Lavrovit;
  Vučić → Vučićit); -a becomes -ë, -ës, -ën (Rama → Ramës, Ramën, folded
  "rames", "ramen"). So "Albin Kurtit", "Edi Ramës" and, with the title
  inflected, "Kryeministrit Kurti" are full names.
  A form keeps its alias's full or short standing ("Kurtija" alone, like
  "Kurti", needs the full name). Guards: the form must begin with a capital in
  the text (the she-wolf "vučica" folds to Vučić's genitive "vucica"); words
  under three letters are not inflected; a form that is any actor's alias, a
  form of two actors' aliases, or a stop form (``_STOP_FORMS``) is dropped.
  Countries list their own frequent forms and organisations are mostly
  acronyms, so only persons are inflected.

Demonyms and capitals (a country's ``demonyms`` and ``capitals``) name the
country only where they stand for the state or its government, never where
they name a people, a language or a place. Precision comes first: the context
is read from the words around the match, and a use the rules miss is left out.

* A demonym ("Serbian", "Albanian"; Serbian "srpsk*" and Russian "российск*"
  are stems, so "srpskog", "российские" match too) counts when the next word,
  or the one after at most two modifiers ("Deputy Foreign", "former"), is a
  state noun (``_STATE_HEADS``): president, prime minister, ministry,
  government, authorities, officials, diplomat, ambassador, embassy, army,
  police, parliament, counterpart ...; "srpski predsednik", "srpske vlasti",
  "российский МИД". Not: "Russian-speaking", "pro-Russian authorities" (a
  hyphen either side), "the Serbian people", "Albanian language", "Serbian
  Orthodox Church" (the church is not the state), "ethnic Albanian
  officials" or "Kosovo Albanian officials" (after "ethnic" or a country's
  name or demonym, it is a people). Words often used of an ethnic group's own
  representatives ("the Albanian side", "delegation", "leader(s)",
  "negotiators", "forces") are left out on purpose. Plural people nouns
  ("Albanians", "Serbs") are other words and never match.
* A capital named as "official" counts wherever it stands: "official
  Belgrade", "zvanični Beograd", "официальная Москва", and Albanian
  "Beogradi zyrtar", "Prishtina zyrtare" (``_OFFICIAL_BEFORE``,
  ``_OFFICIAL_AFTER``).
* A capital counts as the subject of a verb of saying or acting
  (``_CAPITAL_VERBS``: "Belgrade offered", "Moscow has warned", "Москва
  заявила", "Beograd je saopštio") or with "'s" before a stance word
  ("Belgrade's position", ``_CAPITAL_STANCES``). Not after a locative
  ("officials in Moscow said", "arrived in Moscow", "flew to Pristina") nor
  after another capitalised word ("George Washington said"); only the
  nominative is listed, so "u Beogradu", "в Москве" never match.
* Albanian (adjectives follow the noun: "qeveria serbe") is not covered yet.
* A demonym or capital that counts is a full mention of its country, as
  "Serbia" would be: it says as much as the name. It competes in the
  leftmost-longest rule like any alias ("Russian Foreign Ministry" is the
  ministry only), except that a person's alias that opens with a title
  ("Russian President Vladimir Putin", "US President Bill Clinton") still
  names the country: a title is no part of the name.
* "the Kremlin" is an organisation's own alias and counts wherever it occurs.

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
    # Count only in a state context (module docstring); "srpsk*" is a stem.
    demonyms: tuple[str, ...] = ()  # "Serbian", "srpsk*", "сербск*"
    capitals: tuple[str, ...] = ()  # "Belgrade", "Beograd", "Белград": nominatives only


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
        self._metonyms = _Metonyms(self._actors.values())

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
        if not text or len(self._actors) == 0:
            return []
        folded = _Folded.of(text)
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
        self, chosen: list[tuple[int, int, _Entry]], candidates: list[tuple[int, int, _Entry]]
    ) -> list[_Entry]:
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

    def _type(self, entry: _Entry) -> str:
        return self._actors[entry.actor_id].type

    def _candidates(self, folded: _Folded) -> list[tuple[int, int, _Entry]]:
        """Every alias occurrence on word boundaries, acronyms in the right case."""
        found: list[tuple[int, int, _Entry]] = []
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
# Albanian definite forms (nominative, genitive/dative/ablative, accusative),
# after folding (ë → e), applied besides the Slavic rules, the first that
# applies winning: Putin → Putini, Putinit, Putinin; Kurti → Kurtit, Kurtin;
# Rama → Ramës, Ramën (folded "rames", "ramen"); Haradinaj → Haradinajt.
_ALBANIAN_RULES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    # -i, -u: Kurti → Kurtit, Kurtin; Thaçi → Thaçit; Shoigu → Shoigut, Shoigun.
    (re.compile(r"(?<=[iu])$"), ("t", "n")),
    # -j: Haradinaj → Haradinaji, Haradinajt, Haradinajn.
    (re.compile(r"(?<=j)$"), ("i", "t", "n")),
    # -k, -g: Dodik → Dodiku, Dodikut, Dodikun (like UNMIK-ut).
    (re.compile(r"(?<=[kg])$"), ("u", "ut", "un")),
    # Other consonants: Lavrov → Lavrovi, Lavrovit, Lavrovin; Vuçiq → Vuçiqit.
    (re.compile(r"(?<=[bcdfhlmnpqrstvwxz])$"), ("i", "it", "in")),
    # -a, -ë: Rama → Ramë, Ramës, Ramën; Vjosa → Vjosës.
    (re.compile(r"a$"), ("e", "es", "en")),
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
# (Doug Christie, not Krišto), Krista (Christ's, Croatian); and of the
# Albanian forms, Tacit (English, "Tacit Rainbow"; Tači's, but Albanian spells
# him Thaçi). No Albanian word collided in the 500 Lajmi.net articles.
_STOP_FORMS = frozenset({"rami", "kristi", "krista", "tacit"})


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
            for form in _inflections(alias) | _albanian_spelling(alias):
                by_actor = owners.setdefault(form, {})
                by_actor[actor.id] = by_actor.get(actor.id, True) and short  # full wins
    taken = set(taken)
    return {
        form: _Entry(actor_id, short, exact=frozenset(), capital=True)
        for form, by_actor in owners.items()
        if len(by_actor) == 1 and form not in taken and _usable_form(form)
        for actor_id, short in by_actor.items()
    }


# Albanian writes South Slavic names in its own letters: Vučić is Vuçiq,
# Dačić Daçiq, Đinđić Gjingjiq, Koštunica Koshtunica. Digraphs first.
_ALBANIAN_LETTERS = (("dž", "xh"), ("Dž", "Xh"), ("ć", "q"), ("č", "ç"), ("đ", "gj"), ("Đ", "Gj"),
                     ("š", "sh"), ("Š", "Sh"), ("ž", "zh"), ("Ž", "Zh"), ("Ć", "Q"), ("Č", "Ç"))


def _albanian_spelling(alias: str) -> set[str]:
    """The alias as Albanian spells it, folded, with its case forms ("Vuçiqit")."""
    spelled = alias
    for letter, albanian in _ALBANIAN_LETTERS:
        spelled = spelled.replace(letter, albanian)
    if spelled == alias:
        return set()
    return {_fold_key(spelled), *_inflections(spelled)}


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
    for pattern, endings in _ALBANIAN_RULES:
        match = pattern.search(folded)
        if match:
            forms += [folded[: match.start()] + ending for ending in endings]
            break
    if _FLEETING_A.search(folded):
        forms += [folded[:-2] + ending for ending in _FLEETING_ENDINGS]
    return forms


# --------------------------------------------------------------- metonyms

# A demonym stands for its state only before a state noun: at most two
# modifiers ("Deputy Foreign"), then the head ("Minister"). Words are folded.
# Left out as too often ethnic (Kosovo's Albanians, Macedonia's Albanian
# parties): leader(s), leadership, side, delegation, negotiators, forces.
_STATE_MODIFIERS = (
    r"foreign|defen[cs]e|interior|deputy|prime|former|acting|military|state|top|senior|chief|justice|finance"
    r"|economy|trade|health|then|new|outgoing|interim|caretaker|first|federal|bivs\w*|byvs\w*"
)
_STATE_HEADS = (
    # English
    r"presidents?|presidency|premier|ministers?|ministry|ministries|governments?|cabinet|authorities"
    r"|officials?|diplomats?|diplomacy|envoys?|ambassadors?|embass(?:y|ies)|consulate|army|military|troops"
    r"|navy|armed forces|security (?:forces|services?)|secret services?|intelligence|police|parliament"
    r"|lawmakers|counterparts?"
    # Serbian (folded: č, ć → c, š → s, ž → z, đ → d); noun forms only, so
    # "albanske parlamentarne stranke" (parties) is no "parliament".
    r"|predsj?edni(?:k|ka|ku|kom|ci|ke|cima|ca|ce|cu|com)|premijer(?:a|u|om|i|e|ima|ka|ke|ki|ku|kom)?"
    r"|ministar|ministr(?:a|u|om|i|e|ima|ka|ke|ki|ku|kom)|ministarstv(?:o|a|u|om|ima)"
    r"|vlad(?:a|e|i|u|om|ama)|vlast(?:i|ima)?|diplomat(?:a|e|i|u|om|ama)?"
    r"|ambasad(?:a|e|i|u|om|or|ora|oru|orom|ori|ore|orima)|vojsk(?:a|e|u|om)|vojsci"
    r"|policij(?:a|e|i|u|om)|skupstin(?:a|e|i|u|om)|parlament(?:a|u|om|i|e)?"
    # Russian (folded: я → ya, ы → y, ь dropped)
    r"|prezident(?:a|u|om|e|y|ov)?|premer|ministr(?:y|ov)?|mid(?:a|u|om|e)?"
    r"|ministerstv(?:o|a|u|om|e)|pravitelstv(?:o|a|u|om|e)|vlast(?:ey|yam|yami|yah)"
    r"|posol|posl(?:a|u|om|e|y|ov)|posolstv(?:o|a|u|om|e)|armi(?:ya|i|yu|ey)|polici(?:ya|i|yu|ey)"
)
_DEMONYM_CONTEXT = rf" (?:(?:{_STATE_MODIFIERS}) ){{0,2}}(?:{_STATE_HEADS})(?!\w)"
# A capital stands for its government only as the subject of a verb of saying
# or acting (after at most two auxiliaries or adverbs), or with "'s" before a
# word for a stance. Only the nominative is listed, so Serbian "u Beogradu"
# and Russian "в Москве" never match.
_CAPITAL_AUXILIARIES = (
    r"has|have|had|will|would|is|was|does|did|not|also|again|long|repeatedly|already|now|still|then"
    r"|je|nije|ce|nece|ne|vec|takode|uze|takze|ranee"
)
_CAPITAL_VERBS = (
    # English
    r"says?|said|offer(?:s|ed)?|demand(?:s|ed)?|reject(?:s|ed)?|warn(?:s|ed)?|insist(?:s|ed)?"
    r"|accuse[sd]?|announce[sd]?|respond(?:s|ed)?|want(?:s|ed)?|refuse[sd]?|recogni[sz]e[sd]?"
    r"|den(?:y|ies|ied)|claim(?:s|ed)?|call(?:s|ed)|urge[sd]?|argue[sd]?|condemn(?:s|ed)?"
    r"|protest(?:s|ed)|repl(?:y|ies|ied)|agree[sd]?|back(?:s|ed)|support(?:s|ed)|oppose[sd]?"
    r"|threaten(?:s|ed)?|expel(?:s|led)?|recall(?:s|ed)|summon(?:s|ed)|accept(?:s|ed)|maintain(?:s|ed)?"
    r"|consider(?:s|ed)?|believe[sd]?|blame[sd]?|vow(?:s|ed)|promise[sd]?|propose[sd]?|decide[sd]?"
    r"|order(?:s|ed)|impose[sd]?|welcome[sd]?|critici[sz]e[sd]?|object(?:s|ed)|dismiss(?:es|ed)?"
    r"|stated?|declare[sd]?|confirm(?:s|ed)?|react(?:s|ed)|retaliate[sd]?|signed|sent|asked|hopes|fears"
    r"|offering|demanding|rejecting|refusing|insisting|warning|accusing|claiming|urging|threatening|saying"
    # Serbian
    r"|saopst\w*|poruc\w*|odbi\w*|zatraz\w*|trazi\w*|upozor\w*|ponud\w*|nudi|optuz\w*|odgovor\w*"
    r"|insistir\w*|tvrdi|smatra\w*|prizna\w*|zahte\w*|osudi\w*|izjavi\w*|najavi\w*|podrza\w*"
    # Russian
    r"|zayav\w*|schita\w*|trebu\w*|otverg\w*|predupre\w*|nastaiva\w*|prizva\w*|prizyva\w*|obvin\w*"
    r"|otveti\w*|otveca\w*|predloz\w*|predlaga\w*|otkaz\w*|osudi\w*|osuzda\w*|napravi\w*|podderz\w*"
)
_CAPITAL_STANCES = (
    r"position|response|stance|decision|reaction|refusal|demands?|offer|proposal|policy|objections?"
    r"|recognition|view|plans?|claims?|insistence|support|opposition|envoy|ambassador|negotiators?"
    r"|allies|ally|interests|influence|backing"
)
_CAPITAL_CONTEXT = rf"(?:'s (?:{_CAPITAL_STANCES})| (?:(?:{_CAPITAL_AUXILIARIES}) ){{0,2}}(?:{_CAPITAL_VERBS}))(?!\w)"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The word just before: a demonym after these is an ethnic group or a region
# ("ethnic Albanian officials", "Latin American governments"; a country's own
# name or demonym is added per gazetteer: "Kosovo Albanian negotiators"), and a
# capital after these is a place ("officials in Moscow said", "arrived in
# Belgrade"). "North Macedonian" is a demonym of its own, so "north" may stay.
_DEMONYM_GUARDS = _words("ethnic etnicki etnicke etnickih etniceskie etniceskih latin north south central native anglo")
_LOCATIVES = _words(
    "in at to from near into via visit visits visited visiting toward towards outside around across through of"
    " u iz za do ka kroz oko v vo na po k cerez okolo"
)
# Capitalised words a capital may follow at the start of a sentence; after any
# other capitalised word it is part of a name ("George Washington said").
_SENTENCE_OPENERS = _words("the but and yet so now then today meanwhile however instead still ali a i no sada")
# "Official" before a capital (English, Serbian and Russian adjective forms,
# folded) or after it (Albanian, which puts adjectives after the noun).
_OFFICIAL_BEFORE = _words(
    "official zvanicni zvanicna zvanicnog zvanicnom zvanicnim zvanicnu oficijelni oficijalni"
    " oficialnaya oficialnyy oficialnyi oficialnoy oficialnogo oficialnomu oficialnym oficialnuyu"
)
_OFFICIAL_AFTER = re.compile(r" zyrtar(?:e|i|it|in|et|eve)?(?!\w)")
_STEM_LETTERS = 4  # "srpsk*" is srpski, srpskog, srpskoj ... (a stem plus at most four letters)
_DEMONYM_FOLLOWS = re.compile(_DEMONYM_CONTEXT)
_CAPITAL_FOLLOWS = re.compile(_CAPITAL_CONTEXT)


@dataclass(frozen=True)
class _Metonym:
    """What one folded demonym, stem or capital in the metonym automaton stands for."""

    actor_id: str
    capital: bool  # else a demonym
    stem: bool


class _Metonyms:
    """Demonyms and capitals of the gazetteer, and the contexts in which they
    stand for their state (see the module docstring). An automaton finds the
    words; the context is read only around what it finds."""

    def __init__(self, actors: Iterable[Actor]) -> None:
        self._automaton = ahocorasick.Automaton()
        guards = set(_DEMONYM_GUARDS)
        for actor in actors:
            if actor.type == "country":
                guards.update(_fold_key(alias) for alias in (actor.name, *actor.aliases) if " " not in alias)
            for word, capital in [(d, False) for d in actor.demonyms] + [(c, True) for c in actor.capitals]:
                key = self._add(word, _Metonym(actor.id, capital, stem=word.endswith("*")))
                if not capital and not word.endswith("*"):
                    guards.add(key)
        if len(self._automaton):
            self._automaton.make_automaton()
        self._guards = frozenset(guards)

    def _add(self, word: str, metonym: _Metonym) -> str:
        key = _fold_key(word.removesuffix("*"))
        if self._automaton.get(key, (0, metonym))[1] != metonym:
            # Like aliases: one spelling cannot stand for two states.
            raise SettingsError(f"demonym or capital {word!r} (folded) belongs to several actors")
        self._automaton.add_word(key, (len(key), metonym))
        return key

    def candidates(self, folded: _Folded) -> list[tuple[int, int, _Entry]]:
        """Demonyms before a state noun and capitals acting as subjects, as full mentions."""
        if len(self._automaton) == 0:
            return []
        found = []
        for last, (length, metonym) in self._automaton.iter(folded.text):
            start, end = last - length + 1, _word_end(folded.text, last + 1, metonym.stem)
            if end is None or (start and (folded.text[start - 1].isalnum() or folded.text[start - 1] == "-")):
                continue
            if self._counts(folded, start, end, metonym):
                found.append((start, end, _Entry(metonym.actor_id, short=False, exact=frozenset())))
        return found

    def _counts(self, folded: _Folded, start: int, end: int, metonym: _Metonym) -> bool:
        if metonym.capital:
            return _official(folded, start, end) or (
                bool(_CAPITAL_FOLLOWS.match(folded.text, end)) and _capital_acts(folded, start))
        follows = _DEMONYM_FOLLOWS.match(folded.text, end)
        return bool(follows) and _previous_word(folded.text, start) not in self._guards


def _word_end(text: str, end: int, stem: bool) -> int | None:
    """Where the word ending at ``end`` (a stem: after at most a few more
    letters) stops, or None if it runs on."""
    if stem:
        limit = min(len(text), end + _STEM_LETTERS)
        while end < limit and text[end].isalpha():
            end += 1
    return end if end == len(text) or not text[end].isalnum() else None


def _previous_word(text: str, start: int) -> str | None:
    """The word just before ``start`` when only spaces separate them, else None."""
    match = re.search(r"(\w+) +$", text[max(0, start - 40) : start])
    return match.group(1) if match else None


def _official(folded: _Folded, start: int, end: int) -> bool:
    """"Official Belgrade", "zvanični Beograd", "официальная Москва", Albanian
    "Beogradi zyrtar": the capital named as its government, whatever follows."""
    if not folded.original(start, start + 1).isupper():
        return False
    return _previous_word(folded.text, start) in _OFFICIAL_BEFORE or bool(_OFFICIAL_AFTER.match(folded.text, end))


def _capital_acts(folded: _Folded, start: int) -> bool:
    """Not after a locative ("in Moscow said"), nor after a capitalised word
    that makes it part of a name ("George Washington said")."""
    if not folded.original(start, start + 1).isupper():
        return False
    previous = _previous_word(folded.text, start)
    if previous is None:
        return True
    if previous in _LOCATIVES:
        return False
    at = len(folded.text[:start].rstrip()) - len(previous)
    return previous in _SENTENCE_OPENERS or not folded.original(at, at + 1).isupper()


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


def _leftmost_longest(candidates: list[tuple[int, int, _Entry]]) -> list[tuple[int, int, _Entry]]:
    """Non-overlapping matches, the longest at each leftmost start, in text order."""
    chosen = []
    taken_until = 0
    for start, end, entry in sorted(candidates, key=lambda c: (c[0], -c[1])):
        if start >= taken_until:
            chosen.append((start, end, entry))
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

    def source_offset(self, index: int) -> int:
        """Where folded character ``index`` came from in the original."""
        return index if self.offsets is None else self.offsets[index]

    def original(self, start: int, end: int) -> str:
        """The original text behind folded ``[start, end)``, spaces squashed."""
        if self.offsets is None:
            return self.source[start:end]
        return _squash_spaces(self.source[self.offsets[start] : self.offsets[end - 1] + 1])
