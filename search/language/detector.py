"""The language of an article: langdetect, the page's declared language, and a
rule for Serbian.

Used by the cleaner (stage 2, which knows the page's ``<html lang>``) and by
enrichment (stage 3): sources → clean → **enrich** → index. The answer is an
ISO 639-1 code, or ``UNKNOWN`` when the text is too short or too mixed to say.

This module is the detector (``detect_language``, ``too_short``,
``judged_letters`` and the tunables below). It stands on
``search.language.names`` (the codes and their names), ``search.language.scripts``
(what a sample is written in) and ``search.language.south_slavic`` (the Serbian rule).

How a text is labelled (``detect_language``):

1. **Sample.** The first ``LANGUAGE_SAMPLE`` characters: enough to decide,
   more only costs time, with Cyrillic look-alikes inside Latin words (an а
   or о typed into "Ministаrstvо") made Latin. No letters → unknown. A text too short for
   langdetect to judge → the declared language if it fits the script, else
   unknown (``too_short``): in Latin or Cyrillic script, fewer than
   ``MIN_JUDGED_LETTERS`` letters counted once per distinct word, so a wire
   table ("Shr 45 cts vs 58 cts, Net 1.1 mln vs 829,000 …") is as short as
   the few words it repeats; in other scripts fewer than ``MIN_LETTERS``
   letters. The Serbian/Macedonian rule for Cyrillic (below) still decides a
   short text when its letters or words lean one way: it needs no statistics.
2. **A quick confirmation.** When the page declares a language that
   langdetect does not confuse with a neighbour (not South Slavic, not in
   ``_CONFUSABLE``) and langdetect names it with probability
   ``CONFIRM_PROBABILITY`` on the first ``CONFIRM_SAMPLE`` characters, that is
   the answer, after one trial (``CONFIRM_TRIALS``): reading n-grams is most
   of langdetect's time (measured: the same label on all 1,336 shared test
   pages, 2.2 → 0.8 ms a page).
   Otherwise:
   **langdetect**, seeded: its best guess when its probability is at least
   ``MIN_PROBABILITY``, else unknown. A text nearly all in capitals (a wire
   headline) is lower-cased first: langdetect skips words in capitals as
   acronyms and would decide on the few letters left.
3. **The South Slavic rule** (``search.language.south_slavic``). langdetect has no
   profile for Serbian or Bosnian, so it calls Serbian ``hr`` (Latin script)
   or ``mk``/``bg``/``ru`` (Cyrillic). On top of it, letters and words
   decide between Serbian and Macedonian (Cyrillic) and between Serbian,
   Croatian and Bosnian (Latin); a decisive answer stands whatever the page
   declares.

4. **The declared language** (``html_lang``: ``<html lang>`` or
   Content-Language, only its primary subtag, only an ISO 639-1 code
   (``LANGUAGE_NAMES``: the facet names every language it shows), and only when it is possible
   for the text's script — many sites declare ``en`` on every page, so a
   Russian text under ``lang="en"`` stays ``ru``) is a prior: it is the answer
   when the text is short (under ``SHORT_LETTERS`` letters), when langdetect
   is unsure, or when langdetect's answer is in the same confusable group
   (``_CONFUSABLE``: hr/sr/bs/sl, mk/bg/sr, cs/sk, be/ru, be/uk, da/no,
   id/ms, gl/pt, gl/es).
   Otherwise the text wins.

Determinism: langdetect samples n-grams at random. Its algorithm runs here
on its own profiles (``search.language.profiles``, the same answers as
langdetect 1.0.9 to the last bit, several times faster); each call draws
from its own ``random.Random`` given the seed, so nothing touches the
process-wide ``random`` module or ``DetectorFactory.seed`` and threads do
not disturb each other. Same text, same seed → same answer.
"""

from __future__ import annotations

import re

from search.language.names import ALIASES, LANGUAGE_NAMES
from search.language.profiles import Guess, langdetect_guesses
from search.language.scripts import (
    CYRILLIC_LANGUAGES,
    NON_LATIN_LANGUAGES,
    UPPER,
    WORD,
    Letters,
    count_letters,
    letter_count,
    without_homoglyphs,
)
from search.language.south_slavic import serbian_or_macedonian, south_slavic
from search.records import UNKNOWN

#: Enough text to decide; more only costs time. Measured: 1,000 characters
#: gave the same label as 2,000 on all 1,326 real test pages and on 4,017
#: corpus articles, and Alo's Serbian share 2005/2019 (2,000: 2006; 5,000:
#: 2004), in two thirds of the time (2.9 ms against 4.3 a page).
LANGUAGE_SAMPLE = 1000
#: langdetect's random trials, each a walk over the sample's n-grams (its
#: default is 7). Measured on 4,017 corpus articles against their labels: 205
#: wrong with 7 trials and 205 with 3, in 70% of the time (2.7 → 1.9 ms); the
#: same label on all 1,336 shared test pages.
TRIALS = 3
#: A declared language that langdetect names with at least this probability
#: on the first ``CONFIRM_SAMPLE`` characters is taken without a longer look.
CONFIRM_SAMPLE = 300
CONFIRM_PROBABILITY = 0.99
#: One trial confirms: on 24,097 corpus articles declared in their own
#: language, 46 fewer wrong labels than with ``TRIALS`` (wire tables that the
#: longer look called Swedish or German); the same label on all 1,336 shared
#: test pages; on 27,152 articles declared in a wrong language, 30 more
#: taken at their word (2,042 against 2,012). 1.3 → 0.8 ms a page at the median.
CONFIRM_TRIALS = 1
#: langdetect is unreliable below this share; the article is then "unknown".
MIN_PROBABILITY = 0.5
#: In scripts other than Latin and Cyrillic (each with few languages, told
#: apart by their letters), fewer letters than this are not judged at all
#: (unmeasured here: the shared corpus has none; kept from the first version).
MIN_LETTERS = 20
#: In Latin and Cyrillic script, fewer letters than this, counting each
#: distinct word once, are not judged. Measured (``bench/language.py
#: --bands``, on the 70% of the shared corpus kept for tuning): langdetect's
#: best guess is right at least 95% of the time in every 20-letter band from
#: 100 on (96.0% at 100-119, 98.6% or more from 120), but only 79-93% below
#: it (wire tables and headlines alone: 82% at 40-59, 93% at 80-99). Plain
#: prose cut at 100 letters is labelled right 99.7% of the time (English)
#: and 100% (Albanian).
MIN_JUDGED_LETTERS = 100
#: Below this many letters langdetect is still wrong about one time in ten, and
#: overconfident (a three-word title gets 0.99999): a declared language wins.
SHORT_LETTERS = 60

#: Languages langdetect cannot tell apart reliably, or that it has no profile
#: for (sr, bs, be, ms, gl: it answers with a neighbour): within a group, the
#: page's declaration settles it. Not ru/uk, da/sv and the like: langdetect
#: separates those, and a site-wide declaration must not override the text.
_CONFUSABLE: tuple[frozenset[str], ...] = (
    frozenset({"hr", "sr", "bs", "sl"}),
    frozenset({"mk", "bg", "sr"}),
    frozenset({"cs", "sk"}),
    frozenset({"be", "ru"}),
    frozenset({"be", "uk"}),
    frozenset({"da", "no"}),
    frozenset({"id", "ms"}),
    frozenset({"gl", "pt"}),
    frozenset({"gl", "es"}),
)
#: Declared languages never taken on a short look (see ``_confirmed``).
_NEVER_CONFIRMED = frozenset().union(*_CONFUSABLE, {"hr", "sr", "bs", "sl", "mk", "bg", "ru", "uk", "be"})


def detect_language(text: str, html_lang: str | None = None, seed: int = 0) -> str:
    """ISO 639-1 code of the text's language, or "unknown".

    ``html_lang`` is the page's declared language (``<html lang>`` or
    Content-Language: "en-US", "sr-Latn", …) or None; it is a prior, not the
    answer (see the module docstring). ``seed`` makes langdetect repeatable.
    """
    sample = without_homoglyphs(text[:LANGUAGE_SAMPLE])
    letters = count_letters(sample)
    if letters.total == 0:
        return UNKNOWN
    declared = _declared(html_lang, letters)
    if too_short(sample, letters):
        # Serbian and Macedonian are told by letters and words, not statistics.
        slavic = serbian_or_macedonian(sample, declared, tie=None) if letters.script == "cyrillic" else None
        return slavic[0] if slavic is not None else declared or UNKNOWN
    if declared is not None and _confirmed(sample, declared, seed):
        return declared
    guesses = _langdetect(sample, letters, seed)
    label = (
        ALIASES.get(guesses[0].lang, guesses[0].lang) if guesses and guesses[0].prob >= MIN_PROBABILITY else UNKNOWN
    )
    top = guesses[0].lang if guesses else UNKNOWN
    slavic = south_slavic(sample, letters, top, label, declared)
    if slavic is not None:
        label, decisive = slavic
        if decisive:
            return label
    return _with_prior(label, declared, letters)


def too_short(sample: str, letters: Letters | None = None) -> bool:
    """Whether the text is too short for langdetect to judge (see ``MIN_JUDGED_LETTERS``)."""
    letters = letters or count_letters(sample)
    if letters.script == "other":
        return letters.total < MIN_LETTERS
    return judged_letters(sample) < MIN_JUDGED_LETTERS


def judged_letters(sample: str) -> int:
    """Letters of the sample's distinct words (case-folded): what langdetect
    has to go by. A table repeating "vs", "cts", "mln" counts them once."""
    # ASCII case-folds to its lower case, letters staying letters: one call for the whole sample.
    words = WORD.findall(sample.lower()) if sample.isascii() else map(str.casefold, WORD.findall(sample))
    return sum(map(len, set(words)))


def _confirmed(sample: str, declared: str, seed: int) -> bool:
    """Whether langdetect, on the sample's opening only, is sure of the declared
    language. Most of langdetect's time goes into reading n-grams, so a short
    look settles the common case; languages it confuses, and the South Slavic
    ones (whose rule reads the whole sample), always get the full look."""
    if declared in _NEVER_CONFIRMED:
        return False
    opening = sample[:CONFIRM_SAMPLE]
    guesses = _langdetect(opening, count_letters(opening), seed, CONFIRM_TRIALS)
    return bool(guesses) and guesses[0].lang == declared and guesses[0].prob >= CONFIRM_PROBABILITY


def _with_prior(label: str, declared: str | None, letters: Letters) -> str:
    """The declared language where the text does not clearly say otherwise."""
    if declared is None or label == declared:
        return label
    if letters.total < SHORT_LETTERS or label == UNKNOWN:
        return declared
    if any(label in group and declared in group for group in _CONFUSABLE):
        return declared
    return label


def _declared(html_lang: str | None, letters: Letters) -> str | None:
    """The primary subtag of the declared language, if the text's script allows it."""
    if not html_lang:
        return None
    primary = re.split(r"[-_]", html_lang.strip().lower(), maxsplit=1)[0]
    primary = ALIASES.get(primary, primary)
    if primary not in LANGUAGE_NAMES or primary in {"sh", UNKNOWN}:
        return None  # "sh" (Serbo-Croatian) names no one language; 3-letter codes are not ISO 639-1
    script = letters.script
    if script == "cyrillic":
        return primary if primary in CYRILLIC_LANGUAGES else None
    if script == "latin":
        return primary if primary not in NON_LATIN_LANGUAGES else None
    return primary if primary in NON_LATIN_LANGUAGES - CYRILLIC_LANGUAGES else None


# --- langdetect ---


def _langdetect(sample: str, letters: Letters, seed: int, trials: int = TRIALS) -> list[Guess]:
    """langdetect's guesses, most probable first (empty when it finds no features).

    langdetect's own algorithm on its own profiles, without its loops over
    characters and languages in Python (``search.language.profiles``): the
    same guesses and probabilities, several times faster. Each call draws
    from its own seeded generator, so threads do not disturb each other."""
    return langdetect_guesses(_uncapitalised(sample, letters), seed, trials)


def _uncapitalised(sample: str, letters: Letters) -> str:
    """The sample in lower case when it is mostly capitals and has too few
    other letters to go by: langdetect skips words in capitals (as acronyms),
    which would leave it a handful of letters of a wire headline. A capitals
    headline over a real body stays as it is: the body decides, and names
    in capitals (a table of countries, of towns) would mislead."""
    upper = letter_count(UPPER, sample)
    return sample.lower() if upper * 2 > letters.total and letters.total - upper < SHORT_LETTERS else sample


