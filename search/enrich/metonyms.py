"""Demonyms and capitals standing for their state, for the actor matcher.

Pipeline: sources → clean → **enrich** → index. The matcher
(``search.enrich.actors``) adds ``Metonyms(actors).candidates(folded)`` to the aliases
it finds: the demonyms and capitals of the gazetteer's countries
(``search.enrich.gazetteer``) where their context makes them the state.

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
* "the Kremlin" is an organisation's own alias and counts wherever it occurs.

A demonym or capital that counts is a full mention of its country; the
matcher weighs it against the aliases it overlaps (see ``search.enrich.actors``).

Exports: ``Metonyms``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick  # untyped (no stubs): pyproject sets ignore_missing_imports

from search.enrich.gazetteer import Actor, Entry, Folded, fold_key
from search.errors import SettingsError

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


class Metonyms:
    """Demonyms and capitals of the gazetteer, and the contexts in which they
    stand for their state (see the module docstring). An automaton finds the
    words; the context is read only around what it finds."""

    def __init__(self, actors: Iterable[Actor]) -> None:
        self._automaton = ahocorasick.Automaton()
        guards = set(_DEMONYM_GUARDS)
        for actor in actors:
            if actor.type == "country":
                guards.update(fold_key(alias) for alias in (actor.name, *actor.aliases) if " " not in alias)
            for word, capital in [(d, False) for d in actor.demonyms] + [(c, True) for c in actor.capitals]:
                key = self._add(word, _Metonym(actor.id, capital, stem=word.endswith("*")))
                if not capital and not word.endswith("*"):
                    guards.add(key)
        if len(self._automaton):
            self._automaton.make_automaton()
        self._guards = frozenset(guards)

    def _add(self, word: str, metonym: _Metonym) -> str:
        key = fold_key(word.removesuffix("*"))
        if self._automaton.get(key, (0, metonym))[1] != metonym:
            # Like aliases: one spelling cannot stand for two states.
            raise SettingsError(f"demonym or capital {word!r} (folded) belongs to several actors")
        self._automaton.add_word(key, (len(key), metonym))
        return key

    def candidates(self, folded: Folded) -> list[tuple[int, int, Entry]]:
        """Demonyms before a state noun and capitals acting as subjects, as full mentions."""
        if len(self._automaton) == 0:
            return []
        found = []
        for last, (length, metonym) in self._automaton.iter(folded.text):
            start, end = last - length + 1, _word_end(folded.text, last + 1, metonym.stem)
            if end is None or (start and (folded.text[start - 1].isalnum() or folded.text[start - 1] == "-")):
                continue
            if self._counts(folded, start, end, metonym):
                found.append((start, end, Entry(metonym.actor_id, short=False, exact=frozenset())))
        return found

    def _counts(self, folded: Folded, start: int, end: int, metonym: _Metonym) -> bool:
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


def _official(folded: Folded, start: int, end: int) -> bool:
    """"Official Belgrade", "zvanični Beograd", "официальная Москва", Albanian
    "Beogradi zyrtar": the capital named as its government, whatever follows."""
    if not folded.original(start, start + 1).isupper():
        return False
    return _previous_word(folded.text, start) in _OFFICIAL_BEFORE or bool(_OFFICIAL_AFTER.match(folded.text, end))


def _capital_acts(folded: Folded, start: int) -> bool:
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

