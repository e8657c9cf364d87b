"""Case forms of persons' names, for the actor matcher.

Pipeline: sources → clean → **enrich** → index. The matcher
(``search.enrich.actors``) keys its automaton by every folded alias of the gazetteer
(``search.enrich.gazetteer``) and by ``inflected_entries(actors, taken)``: the case
forms of persons' aliases, each standing for its person.

Persons' names also match in their Serbian (both scripts) and Russian case
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

Exports: ``inflected_entries``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

from search.enrich.gazetteer import Actor, Entry, aliases_of, fold_key, is_acronym

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


def inflected_entries(actors: Iterable[Actor], taken: Iterable[str]) -> dict[str, Entry]:
    """Inflected forms of every person's aliases, keyed by folded form.

    A form that is some actor's own alias, or a form of two actors' aliases,
    or a stop form, is dropped: inflection never makes a spelling ambiguous.
    """
    owners: dict[str, dict[str, bool]] = {}  # form → actor id → short
    for actor in actors:
        if actor.type != "person":  # countries list their forms; bodies are acronyms
            continue
        for alias, short in aliases_of(actor):
            for form in _inflections(alias) | _albanian_spelling(alias):
                by_actor = owners.setdefault(form, {})
                by_actor[actor.id] = by_actor.get(actor.id, True) and short  # full wins
    taken = set(taken)
    return {
        form: Entry(actor_id, short, exact=frozenset(), capital=True)
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
    return {fold_key(spelled), *_inflections(spelled)}


def _usable_form(form: str) -> bool:
    return sum(ch.isalpha() for ch in form) > _MIN_INFLECTED_LETTERS and form not in _STOP_FORMS


def _inflections(alias: str) -> set[str]:
    """Folded case forms of an alias, without the alias itself.

    Two-word aliases inflect both words ("Albina Kurtija", "Сергея Лаврова");
    longer ones only the last, and acronyms not at all.
    """
    tokens = alias.split()
    if is_acronym(alias) or not tokens:
        return set()
    if len(tokens) <= _MAX_ALL_INFLECTED_TOKENS:
        choices = [_word_forms(token) for token in tokens]
    else:
        choices = [[fold_key(token)] for token in tokens[:-1]] + [_word_forms(tokens[-1])]
    forms = {" ".join(words) for words in itertools.product(*choices)}
    forms.discard(fold_key(alias))
    return forms


def _word_forms(word: str) -> list[str]:
    """A word folded, then its case forms if it is a name-like word."""
    folded = fold_key(word)
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

