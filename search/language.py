"""The language of an article: langdetect, the page's declared language, and a
rule for Serbian.

Used by the cleaner (stage 2, which knows the page's ``<html lang>``) and by
enrichment (stage 3): sources → clean → **enrich** → index. The answer is an
ISO 639-1 code, or ``UNKNOWN`` when the text is too short or too mixed to say.

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
3. **The South Slavic rule.** langdetect has profiles for hr, sl, mk, bg and
   ru but none for Serbian or Bosnian, so it calls Serbian ``hr`` (Latin
   script) or ``mk``/``bg``/``ru`` (Cyrillic). On top of it:

   *Cyrillic.* Serbian and Macedonian share ј љ њ џ; only Serbian has ђ ћ;
   only Macedonian has ѓ ќ ѕ; neither has the Russian, Bulgarian, Ukrainian
   and Belarusian letters й щ ъ ь ы э ю я ё є і ї ґ ў. When the text has
   Serbian/Macedonian letters and fewer of those others: ђ/ћ without ѓ/ќ/ѕ →
   ``sr``; ѓ/ќ/ѕ without ђ/ћ → ``mk`` (both decisive, whatever langdetect or
   the page says). Otherwise (only the shared letters: a short text) words
   decide — Serbian је, у, су, није, када, где, данас … against Macedonian во,
   е, со, кога, каде, денес … — and a tie goes to the page's ``sr`` or
   ``mk``, else to ``sr`` (langdetect's ``mk`` is no evidence: it is its
   answer for all Serbian Cyrillic).

   *Latin.* When langdetect says ``hr`` (or ``sl`` and the text has more
   Serbo-Croatian function words — i, su, što, koji … — than Slovenian ones
   — in, ki, tudi, kot …), distinctive words are counted on each side
   (``_SERBIAN_WORDS``/``_SERBIAN_STEMS`` against ``_CROATIAN_WORDS``/
   ``_CROATIAN_STEMS``). The strongest signal is the old vowel jat: Serbian
   is ekavian (dete, mleko, reč, lepo, vreme, predsednik, uspeh, gde, posle),
   Croatian ijekavian (dijete, mlijeko, riječ, lijepo, vrijeme, predsjednik,
   uspjeh, gdje, poslije). Then vocabulary (hiljada/tisuća, opština/općina,
   saradnja/suradnja, bezbednost, uslovi/uvjeti, sistem/sustav,
   porodica/obitelj, fudbal/nogomet, evropski/europski, tokom/tijekom,
   takođe/također, šta/tko, the month names), verbs in -ovati/-isati against
   -irati (reagovao/reagirao), and constructions: Serbian's fused future
   (uradićemo against Croatian "uradit ćemo", whose "bit", "imat" count for
   Croatian), "da li", "može da"/"počeo da"/"pokušala da"/"odbio je da" + present where Croatian takes the
   infinitive, "sa" before words Croatian gives "s". Topic words such as
   Beograd or Srbija are deliberately not counted: Croatian media write them
   too. The side with at least ``DECISIVE_HITS`` hits and at least twice the
   other's wins outright; a narrower lead wins unless the page declares
   another South Slavic language; no lead leaves langdetect's ``hr``.
   Bosnian and Montenegrin mix the two signals (ijekavian with hiljada,
   uslovi, historija): a page declaring ``bs`` gets ``bs``; otherwise they come
   out ``sr`` or ``hr``, whichever their words lean to. Slovenian shares many
   ekavian forms (predsednik, uspeh, cena, mesto), hence the function-word
   gate before a text langdetect calls ``sl`` is reconsidered.

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

Determinism: langdetect samples n-grams at random. Each call makes its own
``Detector`` from a private factory and gives it the seed; the detector
draws from its own ``random.Random`` (langdetect 1.0.9), so nothing touches
the process-wide ``random`` module or ``DetectorFactory.seed`` and threads do
not disturb each other. Same text, same seed → same answer.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

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
#: Hits the leading side of the Serbian/Croatian count needs to win outright
#: (with twice the other side's hits), whatever the page declares.
DECISIVE_HITS = 2

_SERBIAN_ONLY = "ђћЂЋ"
_MACEDONIAN_ONLY = "ѓќѕЃЌЅ"
_SHARED_SR_MK = "јљњџЈЉЊЏ"
_NOT_SR_MK = "йщъьыэюяёєіїґўЙЩЪЬЫЭЮЯЁЄІЇҐЎ"

# Runs, not single letters: findall then builds a short list (5x faster).
_WORD = re.compile(r"[^\W\d_]+")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]+")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]+")
_UPPER = re.compile(r"[A-Z\u00C0-\u00DE\u0400-\u042F]+")

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
#: Written in Cyrillic (Serbian also in Latin).
_CYRILLIC_LANGUAGES = frozenset(
    {"ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "mn", "tg", "tt", "ba", "cv", "ce", "os"}
)
#: Never written in Latin script: a declaration of one of these on a Latin text is wrong.
_NON_LATIN_LANGUAGES = (_CYRILLIC_LANGUAGES - {"sr"}) | frozenset(
    {
        "el", "ar", "fa", "ur", "ps", "he", "yi", "hi", "mr", "ne", "bn", "pa", "gu", "ta", "te",
        "kn", "ml", "si", "th", "lo", "km", "my", "ka", "hy", "am", "zh", "ja", "ko", "dv", "bo",
    }
)  # fmt: skip
#: English names of the ISO 639-1 codes (CLDR's, as Babel gives them), and of
#: ``UNKNOWN``: the language facet shows codes, its labels these names. Every
#: code ``detect_language`` can answer is here: langdetect's (through
#: ``_ALIASES``), the rules', and a declared language only when it is one of
#: these (``_declared``).
LANGUAGE_NAMES: dict[str, str] = {
    "aa": "Afar", "ab": "Abkhazian", "ae": "Avestan", "af": "Afrikaans", "ak": "Akan", "am": "Amharic",
    "an": "Aragonese", "ar": "Arabic", "as": "Assamese", "av": "Avaric", "ay": "Aymara", "az": "Azerbaijani",
    "ba": "Bashkir", "be": "Belarusian", "bg": "Bulgarian", "bi": "Bislama", "bm": "Bambara", "bn": "Bangla",
    "bo": "Tibetan", "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "ce": "Chechen", "ch": "Chamorro",
    "co": "Corsican", "cr": "Cree", "cs": "Czech", "cu": "Church Slavic", "cv": "Chuvash", "cy": "Welsh",
    "da": "Danish", "de": "German", "dv": "Divehi", "dz": "Dzongkha", "ee": "Ewe", "el": "Greek", "en": "English",
    "eo": "Esperanto", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "ff": "Fula",
    "fi": "Finnish", "fj": "Fijian", "fo": "Faroese", "fr": "French", "fy": "Western Frisian", "ga": "Irish",
    "gd": "Scottish Gaelic", "gl": "Galician", "gn": "Guarani", "gu": "Gujarati", "gv": "Manx", "ha": "Hausa",
    "he": "Hebrew", "hi": "Hindi", "ho": "Hiri Motu", "hr": "Croatian", "ht": "Haitian Creole", "hu": "Hungarian",
    "hy": "Armenian", "hz": "Herero", "ia": "Interlingua", "id": "Indonesian", "ie": "Interlingue", "ig": "Igbo",
    "ii": "Sichuan Yi", "ik": "Inupiaq", "io": "Ido", "is": "Icelandic", "it": "Italian", "iu": "Inuktitut",
    "ja": "Japanese", "jv": "Javanese", "ka": "Georgian", "kg": "Kongo", "ki": "Kikuyu", "kj": "Kuanyama",
    "kk": "Kazakh", "kl": "Kalaallisut", "km": "Khmer", "kn": "Kannada", "ko": "Korean", "kr": "Kanuri",
    "ks": "Kashmiri", "ku": "Kurdish", "kv": "Komi", "kw": "Cornish", "ky": "Kyrgyz", "la": "Latin",
    "lb": "Luxembourgish", "lg": "Ganda", "li": "Limburgish", "ln": "Lingala", "lo": "Lao", "lt": "Lithuanian",
    "lu": "Luba-Katanga", "lv": "Latvian", "mg": "Malagasy", "mh": "Marshallese", "mi": "Māori",
    "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "ms": "Malay", "mt": "Maltese",
    "my": "Burmese", "na": "Nauru", "nb": "Norwegian Bokmål", "nd": "North Ndebele", "ne": "Nepali",
    "ng": "Ndonga", "nl": "Dutch", "nn": "Norwegian Nynorsk", "no": "Norwegian", "nr": "South Ndebele",
    "nv": "Navajo", "ny": "Nyanja", "oc": "Occitan", "oj": "Ojibwa", "om": "Oromo", "or": "Odia", "os": "Ossetic",
    "pa": "Punjabi", "pi": "Pali", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese", "qu": "Quechua",
    "rm": "Romansh", "rn": "Rundi", "ro": "Romanian", "ru": "Russian", "rw": "Kinyarwanda", "sa": "Sanskrit",
    "sc": "Sardinian", "sd": "Sindhi", "se": "Northern Sami", "sg": "Sango", "sh": "Serbo-Croatian",
    "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian", "sm": "Samoan", "sn": "Shona", "so": "Somali",
    "sq": "Albanian", "sr": "Serbian", "ss": "Swati", "st": "Southern Sotho", "su": "Sundanese", "sv": "Swedish",
    "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "tg": "Tajik", "th": "Thai", "ti": "Tigrinya", "tk": "Turkmen",
    "tl": "Tagalog", "tn": "Tswana", "to": "Tongan", "tr": "Turkish", "ts": "Tsonga", "tt": "Tatar", "tw": "Twi",
    "ty": "Tahitian", "ug": "Uyghur", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "ve": "Venda",
    "vi": "Vietnamese", "vo": "Volapük", "wa": "Walloon", "wo": "Wolof", "xh": "Xhosa", "yi": "Yiddish",
    "yo": "Yoruba", "za": "Zhuang", "zh": "Chinese", "zu": "Zulu",
    UNKNOWN: "Unknown",
}  # fmt: skip
#: Deprecated or regional codes → the code langdetect answers with.
_ALIASES = {"nb": "no", "nn": "no", "iw": "he", "in": "id", "ji": "yi", "zh-cn": "zh", "zh-tw": "zh"}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- Cyrillic: Serbian against Macedonian words (when only ј љ њ џ show) ---
_SERBIAN_CYRILLIC_WORDS = _words("је у су није нису када где данас сада још године који које веома шта са између")
_MACEDONIAN_WORDS = _words("во е со кога каде денес сега уште година тоа оваа овој тие многу беше ние вие кој кое")

# --- Latin: is it Serbo-Croatian at all, or Slovenian? (function words) ---
_SERBO_CROATIAN_FUNCTION_WORDS = _words("i su će što kao koji koja koje već nije sa")
_SLOVENIAN_FUNCTION_WORDS = _words("in ki tudi kot ter ker zelo kaj so bo bodo smo še vendar ampak")

# --- Latin: Serbian against Croatian. Whole words, then word beginnings. ---
# Each entry was checked against the other language (and against Bosnian and
# Slovenian where it matters): forms both use (vremena, sigurnost, avion,
# muzika, dečko, biće, neko, svet, Sjedinjene …) are left out on purpose.
_SERBIAN_WORDS = _words("""
    dete deca dece deci decu deteta detetu mleko hleb reč reči rečima reka reke reku
    lep lepa lepo lepe lepi lepu lepog lepom telo tela telu telom beli bela belo belu bele belog
    vreme mesto mesta mestu mestom cena cene cenu cenom celo cela celu celog celom celoj cele celi
    deo delu delom delova vest vesti veka veku vekova veče juče mera mere
    gde ovde negde nigde posle pre uvek dve dvema hteo htela hteli želeo želela želeli voleo volela voleli
    živeo živela živeli videti sedmica
    veoma takođe tokom uprkos šta ko niko objekat kafa kafu
    preti pretio pretila plata
    """)
_SERBIAN_STEMS = (
    "predsedn", "bezbedn", "evrop", "uspeh", "uspeš", "saopšt", "opšt", "uopšt", "sarad", "učestvov",
    "učešć", "obezbe", "izvešt", "obavešt", "pesm", "peva", "devojk", "devojč", "dečak", "dečj", "dečij",
    "lekar", "lekov", "lečen", "mesec", "meseč", "sled", "posled", "primer", "promen", "izmen", "zamen",
    "menja", "pobed", "uveren", "veruj", "verova", "celokup", "svetsk", "svetl", "sever", "nedelj", "lepot",
    "lepš", "razume", "hiljad", "milion", "procen", "porodic", "univerzitet", "fudbal",
    "istorij", "tačn", "tačk", "srećn", "srećan", "ličn", "sopstven", "ubistv", "uhapš", "hapš",
    "tužilaštv", "tužilac", "tužioc", "advokat", "poslanik", "spoljn", "ambasad", "savet",
    "vazduh", "vazdušn", "bioskop", "pozorišt", "hemij", "naučn", "sekretar", "uslov", "čove",
    "pretnj", "porekl", "gledalac", "gledaoc", "čitalac", "čitaoc", "slušalac", "slušaoc",
    "posmatra", "zvaničn", "autoput", "stoleć", "sednic", "sedišt", "sistem", "pratilac", "pratioc",
    "računar", "takmič", "ćerk", "belež", "rečnik", "prover", "letnj", "podel", "dodel", "videl", "nemač",
    "nemc", "reditelj", "rasvetl", "nezvanič", "celost", "privred", "primet", "sused", "najlepš",
    "januar", "februar", "avgust", "septemb", "oktob", "novemb", "decemb",
    "komentarisa", "komentariš", "reagova", "reaguj", "organizova", "organizuj", "kritikova", "kritikuj",
    "informisa", "informiš", "definisa", "definiš", "kontrolisa", "kontroliš", "regulisa", "reguliš",
    "funkcionisa", "funkcioniš", "finansir", "kandidova", "protestova", "bombardova",
    "povređ", "odbran", "uhaps",
)  # fmt: skip
_CROATIAN_WORDS = _words("""
    dijete djeca djece djeci djecu djeteta djetetu mlijeko kruh riječ riječi riječima
    tijelo tijela tijelu tijelom vrijeme dio dijela dijelu dijelom dijelova vijest vijesti
    gdje ovdje negdje nigdje poslije prije uvijek dvije dvjema htio htjela htjeli želio željela željeli
    volio voljela voljeli živjela živjeli vidio vidjeti
    također tijekom usprkos unatoč tko netko nitko svatko itko jučer večer
    kava kavu kave vlak vlaka vlakom vlaku objekt bit imat morat trebat
    tužitelj tužitelja tužitelju tužiteljem tužitelji tajnik tajnica
    bijeli bijela bijelo bijelu bijele bijelog bijelom bijeloj bijelim bijelih
    sretan sretna sretno sretnog sretnoj sretnim sretnih
    """)
_CROATIAN_STEMS = (
    "predsjedn", "europ", "uspjeh", "uspješ", "priopć", "opć", "uopć", "surad", "sudjelov", "izvješ",
    "izvijest", "obavijest", "obavješt", "pjesm", "pjeva", "djevoj", "dječ", "liječ", "lijek", "mjesec",
    "mjeseč", "mjest", "mjer", "sljed", "posljed", "slijed", "primjer", "promjen", "izmjen", "zamjen",
    "mijenj", "pobjed", "pobijed", "uvjer", "uvjet", "vjeruj", "vjerova", "vjeroja", "cijen", "cijel",
    "svjetsk", "svijet", "svjetl", "sjever", "nedjelj", "tjed", "lijep", "ljepot", "ljepš",
    "razumij", "razumje", "tisuć", "milijun", "postot", "procjen", "obitelj", "sveučilišt", "nogomet",
    "momčad", "izbornik", "povijest", "točn", "osobn", "ubojstv", "uhić",
    "tužiteljstv", "odvjetni", "vanjsk", "veleposlan", "savjet", "zrakoplov",
    "zračn", "kazališt", "kemij", "znanost", "znanstv", "prijetnj", "podrijetl", "porijekl",
    "gledatelj", "čitatelj", "slušatelj", "promatra", "autocest", "stoljeć", "sjednic", "sjedišt",
    "sustav", "pratitelj", "skladatelj", "računal", "natjec", "utrk", "prosvjed", "ravnatelj", "glazb",
    "čovje",
    "siječ", "veljač", "ožuj", "travanj", "travnj", "svibanj", "svibnj", "lipanj", "lipnj", "srpanj",
    "srpnj", "rujan", "rujn", "listopad", "prosinac", "prosinc",
    "komentira", "reagira", "organizira", "kritizira", "informira", "definira", "kontrolira", "regulira",
    "funkcionira", "financir", "kandidira", "bombardira", "povrijeđ", "obran",
    "bilješ", "bilježi", "rječnik", "provjer", "ljetn", "ljeto", "ljeta", "ljetu", "podijel", "podjel", "dodjel",
    "dodijel", "vidjel", "njemač", "nijem", "redatelj", "rasvjetl", "cjelo", "gospodarstv", "primijet",
    "primjet", "susjed", "uhit", "najljepš", "mjenj", "njezin",
)  # fmt: skip
#: Serbian writes the future of -ti verbs as one word (uradićemo, videćete,
#: pitaćeš); Croatian writes "uradit ćemo". Only the 1st/2nd person plural and
#: 2nd singular, and only in words of 7 letters or more: -aće/-iće/-eće also
#: end nouns (plaće, piće, proljeće), and nećemo, hoćemo are both languages'.
_FUSED_FUTURE_ENDINGS = tuple(f"{v}će{p}" for v in "aie" for p in ("mo", "te", "š"))
_FUSED_FUTURE_MIN = 7
#: Serbian constructions, counted in the lower-cased sample.
_SERBIAN_PATTERNS = (
    # The question "da li" (Croatian: "je li", or "li" after the verb).
    re.compile(r"\bda li\b"),
    # "da" and the present after a modal or phasal verb (može da kaže, počeo
    # da radi); Croatian takes the infinitive (može reći, počeo raditi).
    re.compile(
        r"\b(?:mo(?:že|žeš|žemo|žete|gu|gao|gla|gli|glo|ći)|poč(?:eo|ela|eli|inje|inju)|nastavlja(?:ju)?)\s+da\b"
    ),
    # The same after trying and refusing (pokušala da se odbrani, odbio da
    # kaže; Croatian: pokušala se obraniti, odbio reći).
    re.compile(r"\b(?:pokuša(?:o|la|li|le|va|vaju|ti)|odbi(?:o|la|li|le|ja|jaju))\s+(?:je\s+|su\s+)?da\b"),
    # "sa" before any word: Croatian writes "s", keeping "sa" for words
    # starting with s, z, š, ž (and "sa mnom").
    re.compile(r"\bsa\s+(?![szšžm])[^\W\d_]"),
)


@dataclass(frozen=True)
class _Letters:
    """What the sample is written in."""

    total: int
    latin: int
    cyrillic: int

    @property
    def script(self) -> str:
        if self.cyrillic * 2 > self.total:
            return "cyrillic"
        if self.latin * 2 > self.total:
            return "latin"
        return "other"


class _Guess(NamedTuple):
    lang: str
    prob: float


def detect_language(text: str, html_lang: str | None = None, seed: int = 0) -> str:
    """ISO 639-1 code of the text's language, or "unknown".

    ``html_lang`` is the page's declared language (``<html lang>`` or
    Content-Language: "en-US", "sr-Latn", …) or None; it is a prior, not the
    answer (see the module docstring). ``seed`` makes langdetect repeatable.
    """
    sample = _without_homoglyphs(text[:LANGUAGE_SAMPLE])
    letters = _count_letters(sample)
    if letters.total == 0:
        return UNKNOWN
    declared = _declared(html_lang, letters)
    if too_short(sample, letters):
        # Serbian and Macedonian are told by letters and words, not statistics.
        slavic = _serbian_or_macedonian(sample, declared, tie=None) if letters.script == "cyrillic" else None
        return slavic[0] if slavic is not None else declared or UNKNOWN
    if declared is not None and _confirmed(sample, declared, seed):
        return declared
    guesses = _langdetect(sample, letters, seed)
    label = (
        _ALIASES.get(guesses[0].lang, guesses[0].lang) if guesses and guesses[0].prob >= MIN_PROBABILITY else UNKNOWN
    )
    top = guesses[0].lang if guesses else UNKNOWN
    slavic = _south_slavic(sample, letters, top, label, declared)
    if slavic is not None:
        label, decisive = slavic
        if decisive:
            return label
    return _with_prior(label, declared, letters)


def too_short(sample: str, letters: _Letters | None = None) -> bool:
    """Whether the text is too short for langdetect to judge (see ``MIN_JUDGED_LETTERS``)."""
    letters = letters or _count_letters(sample)
    if letters.script == "other":
        return letters.total < MIN_LETTERS
    return judged_letters(sample) < MIN_JUDGED_LETTERS


def judged_letters(sample: str) -> int:
    """Letters of the sample's distinct words (case-folded): what langdetect
    has to go by. A table repeating "vs", "cts", "mln" counts them once."""
    return sum(map(len, {word.casefold() for word in _WORD.findall(sample)}))


def _without_homoglyphs(sample: str) -> str:
    """Cyrillic look-alikes inside Latin words made Latin ("Ministаrstvо" with
    a Cyrillic а and о): copied or obfuscated text, whose words no rule and
    no n-gram of langdetect would recognise otherwise."""
    if not _MIXED_WORD.search(sample):
        return sample
    return _MIXED_WORD.sub(_latin_word, sample)


def _latin_word(match: re.Match[str]) -> str:
    word = match.group()
    # A Cyrillic word with a stray Latin letter stays as it is.
    return word.translate(_HOMOGLYPHS) if _letters(_LATIN, word) * 2 >= len(word) else word


#: Cyrillic letters drawn like Latin ones.
_HOMOGLYPHS = str.maketrans("аеорсхуіјАВЕКМНОРСТХІЈ", "aeopcxyijABEKMHOPCTXIJ")
#: A word with a Latin letter next to a Cyrillic look-alike (either order).
_MIXED_WORD = re.compile(
    r"\b\w*(?:[A-Za-z\u00C0-\u024F][аеорсхуіјАВЕКМНОРСТХІЈ]|[аеорсхуіјАВЕКМНОРСТХІЈ][A-Za-z\u00C0-\u024F])\w*"
)


def _confirmed(sample: str, declared: str, seed: int) -> bool:
    """Whether langdetect, on the sample's opening only, is sure of the declared
    language. Most of langdetect's time goes into reading n-grams, so a short
    look settles the common case; languages it confuses, and the South Slavic
    ones (whose rule reads the whole sample), always get the full look."""
    if declared in _NEVER_CONFIRMED:
        return False
    opening = sample[:CONFIRM_SAMPLE]
    guesses = _langdetect(opening, _count_letters(opening), seed, CONFIRM_TRIALS)
    return bool(guesses) and guesses[0].lang == declared and guesses[0].prob >= CONFIRM_PROBABILITY


def _with_prior(label: str, declared: str | None, letters: _Letters) -> str:
    """The declared language where the text does not clearly say otherwise."""
    if declared is None or label == declared:
        return label
    if letters.total < SHORT_LETTERS or label == UNKNOWN:
        return declared
    if any(label in group and declared in group for group in _CONFUSABLE):
        return declared
    return label


def _declared(html_lang: str | None, letters: _Letters) -> str | None:
    """The primary subtag of the declared language, if the text's script allows it."""
    if not html_lang:
        return None
    primary = re.split(r"[-_]", html_lang.strip().lower(), maxsplit=1)[0]
    primary = _ALIASES.get(primary, primary)
    if primary not in LANGUAGE_NAMES or primary in {"sh", UNKNOWN}:
        return None  # "sh" (Serbo-Croatian) names no one language; 3-letter codes are not ISO 639-1
    script = letters.script
    if script == "cyrillic":
        return primary if primary in _CYRILLIC_LANGUAGES else None
    if script == "latin":
        return primary if primary not in _NON_LATIN_LANGUAGES else None
    return primary if primary in _NON_LATIN_LANGUAGES - _CYRILLIC_LANGUAGES else None


def _count_letters(sample: str) -> _Letters:
    return _Letters(
        total=_letters(_WORD, sample),
        latin=_letters(_LATIN, sample),
        cyrillic=_letters(_CYRILLIC, sample),
    )


def _letters(pattern: re.Pattern[str], sample: str) -> int:
    return sum(map(len, pattern.findall(sample)))


# --- langdetect ---

_factory: DetectorFactory | None = None
_factory_lock = threading.Lock()


def _detector_factory() -> DetectorFactory:
    """langdetect's profiles, loaded once (0.25 s, ~70 MB) into a factory of our own."""
    global _factory
    with _factory_lock:
        if _factory is None:
            factory = DetectorFactory()
            factory.load_profile(PROFILES_DIRECTORY)
            _factory = factory
        return _factory


def _langdetect(sample: str, letters: _Letters, seed: int, trials: int = TRIALS) -> list[_Guess]:
    """langdetect's guesses, most probable first (empty when it finds no features)."""
    detector = _detector_factory().create()
    # Per detector, not DetectorFactory.seed: the class attribute is shared
    # by every thread and every other user of langdetect.
    detector.seed = seed
    detector.n_trial = trials
    detector.append(_uncapitalised(sample, letters))
    try:
        return [_Guess(g.lang, g.prob) for g in detector.get_probabilities()]
    except LangDetectException:
        return []


def _uncapitalised(sample: str, letters: _Letters) -> str:
    """The sample in lower case when it is mostly capitals and has too few
    other letters to go by: langdetect skips words in capitals (as acronyms),
    which would leave it a handful of letters of a wire headline. A capitals
    headline over a real body stays as it is: the body decides, and names
    in capitals (a table of countries, of towns) would mislead."""
    upper = _letters(_UPPER, sample)
    return sample.lower() if upper * 2 > letters.total and letters.total - upper < SHORT_LETTERS else sample


# --- the South Slavic rule ---


def _south_slavic(
    sample: str, letters: _Letters, top: str, label: str, declared: str | None
) -> tuple[str, bool] | None:
    """(label, decisive) when the Serbian rule applies to the text, else None.

    ``top`` is langdetect's best guess even below ``MIN_PROBABILITY``;
    ``label`` its answer. Decisive answers are not overridden by the page.
    """
    script = letters.script
    if script == "cyrillic":
        return _serbian_or_macedonian(sample, declared)
    if script == "latin" and top in {"hr", "sl"}:
        return _serbian_or_croatian(sample, top, label, declared)
    return None


def _serbian_or_macedonian(sample: str, declared: str | None, tie: str | None = "sr") -> tuple[str, bool] | None:
    """(label, decisive), or None when it is not Serbian or Macedonian; on a
    tie of words the page's sr or mk, else ``tie`` (None: no answer)."""
    serbian = sum(map(sample.count, _SERBIAN_ONLY))
    macedonian = sum(map(sample.count, _MACEDONIAN_ONLY))
    shared = sum(map(sample.count, _SHARED_SR_MK))
    others = sum(map(sample.count, _NOT_SR_MK))
    marked = serbian + macedonian + shared
    if marked == 0 or others >= marked:
        return None  # Russian, Bulgarian, Ukrainian …: langdetect knows those
    if serbian and not macedonian:
        return "sr", True
    if macedonian and not serbian:
        return "mk", True
    words = Counter(_WORD.findall(sample.lower()))
    sr = sum(n for w, n in words.items() if w in _SERBIAN_CYRILLIC_WORDS)
    mk = sum(n for w, n in words.items() if w in _MACEDONIAN_WORDS)
    if sr != mk:
        return ("sr" if sr > mk else "mk"), False
    if declared in {"sr", "mk"}:
        return declared, False
    return (tie, False) if tie is not None else None


def _serbian_or_croatian(sample: str, top: str, label: str, declared: str | None) -> tuple[str, bool] | None:
    lowered = sample.lower()
    words = Counter(_WORD.findall(lowered))
    if top == "sl" and not _more_serbo_croatian_than_slovenian(words):
        return None
    if declared == "bs":
        return "bs", True  # Bosnian mixes both signals: only the page can say so
    sr, hr = _serbian_croatian_hits(words)
    sr += sum(len(pattern.findall(lowered)) for pattern in _SERBIAN_PATTERNS)
    lead, trail, leader = (sr, hr, "sr") if sr >= hr else (hr, sr, "hr")
    if lead >= DECISIVE_HITS and lead >= 2 * trail:
        return leader, True
    if lead > trail:
        return leader, False
    # No lead: Serbo-Croatian all the same (langdetect's only profile for it is hr).
    return ("hr" if label != UNKNOWN else UNKNOWN), False


def _more_serbo_croatian_than_slovenian(words: Counter[str]) -> bool:
    sc = sum(n for w, n in words.items() if w in _SERBO_CROATIAN_FUNCTION_WORDS)
    sl = sum(n for w, n in words.items() if w in _SLOVENIAN_FUNCTION_WORDS)
    return sc > sl


def _serbian_croatian_hits(words: Counter[str]) -> tuple[int, int]:
    """Occurrences of distinctively Serbian and distinctively Croatian words."""
    sr = hr = 0
    for word, n in words.items():
        side = _SIDE_OF_WORD.get(word) or _side_of_stem(word) or _fused_future(word)
        if side > 0:
            sr += n
        elif side < 0:
            hr += n
    return sr, hr


def _fused_future(word: str) -> int:
    return 1 if len(word) >= _FUSED_FUTURE_MIN and word.endswith(_FUSED_FUTURE_ENDINGS) else 0


def _side_of_stem(word: str) -> int:
    """+1 when the word starts with a Serbian stem, -1 with a Croatian one, else 0."""
    for length in _STEM_LENGTHS:
        side = _SIDE_OF_STEM.get(word[:length])
        if side is not None:
            # Serbian says čitalac, gledalac for a man but čitateljka,
            # gledateljka for a woman: only the masculine -telj is Croatian.
            return 0 if side < 0 and "teljk" in word else side
    return 0


# One lookup per stem length instead of a startswith() over every stem: a
# third of the rule's time. Serbian entries win a (so far non-existent) tie.
_SIDE_OF_WORD = {**dict.fromkeys(_CROATIAN_WORDS, -1), **dict.fromkeys(_SERBIAN_WORDS, 1)}
_SIDE_OF_STEM = {**dict.fromkeys(_CROATIAN_STEMS, -1), **dict.fromkeys(_SERBIAN_STEMS, 1)}
_STEM_LENGTHS = sorted({len(stem) for stem in _SIDE_OF_STEM})
