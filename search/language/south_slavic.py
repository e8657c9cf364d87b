"""The South Slavic rule of the language detector: Serbian, Croatian, Bosnian, Macedonian.

Pipeline: sources → clean → **enrich** → index. The detector
(``search.language.detector``) asks ``south_slavic`` for a label after langdetect's
guess, and ``serbian_or_macedonian`` for a Cyrillic text too short for
langdetect to judge. Exports: ``south_slavic``, ``serbian_or_macedonian``,
``DECISIVE_HITS``.

langdetect has profiles for hr, sl, mk, bg and ru but none for Serbian or
Bosnian, so it calls Serbian ``hr`` (Latin script) or ``mk``/``bg``/``ru``
(Cyrillic). On top of it:

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
"""

from __future__ import annotations

import re
from collections import Counter

from search.language.scripts import WORD, Letters
from search.records import UNKNOWN

#: Hits the leading side of the Serbian/Croatian count needs to win outright
#: (with twice the other side's hits), whatever the page declares.
DECISIVE_HITS = 2

_SERBIAN_ONLY = "ђћЂЋ"
_MACEDONIAN_ONLY = "ѓќѕЃЌЅ"
_SHARED_SR_MK = "јљњџЈЉЊЏ"
_NOT_SR_MK = "йщъьыэюяёєіїґўЙЩЪЬЫЭЮЯЁЄІЇҐЎ"


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


def south_slavic(
    sample: str, letters: Letters, top: str, label: str, declared: str | None
) -> tuple[str, bool] | None:
    """(label, decisive) when the Serbian rule applies to the text, else None.

    ``top`` is langdetect's best guess even below ``MIN_PROBABILITY``;
    ``label`` its answer. Decisive answers are not overridden by the page.
    """
    script = letters.script
    if script == "cyrillic":
        return serbian_or_macedonian(sample, declared)
    if script == "latin" and top in {"hr", "sl"}:
        return _serbian_or_croatian(sample, top, label, declared)
    return None


def serbian_or_macedonian(sample: str, declared: str | None, tie: str | None = "sr") -> tuple[str, bool] | None:
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
    words = Counter(WORD.findall(sample.lower()))
    sr = sum(n for w, n in words.items() if w in _SERBIAN_CYRILLIC_WORDS)
    mk = sum(n for w, n in words.items() if w in _MACEDONIAN_WORDS)
    if sr != mk:
        return ("sr" if sr > mk else "mk"), False
    if declared in {"sr", "mk"}:
        return declared, False
    return (tie, False) if tie is not None else None


def _serbian_or_croatian(sample: str, top: str, label: str, declared: str | None) -> tuple[str, bool] | None:
    lowered = sample.lower()
    words = Counter(WORD.findall(lowered))
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
        side = _SIDES.get(word)
        if side is None:
            side = _SIDE_OF_WORD.get(word) or _side_of_stem(word) or _fused_future(word)
            if len(_SIDES) >= _SIDES_SIZE:
                _SIDES.clear()
            _SIDES[word] = side
        if side > 0:
            sr += n
        elif side < 0:
            hr += n
    return sr, hr


#: Each word's side (+1 Serbian, -1 Croatian, 0 neither), as found by the
#: lookups above: the same words come back in every article.
_SIDES: dict[str, int] = {}
_SIDES_SIZE = 100_000


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
