"""search.language.detector: langdetect, the declared language as a prior, the Serbian rule.

The fixtures are written for these tests (no article text is copied here).
"""

from __future__ import annotations

import gzip
import json
import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import SHARED
from search.language import detect_language
from search.records import UNKNOWN

SERBIAN_CYRILLIC = (
    "Министарство спољних послова Републике Србије најоштрије осуђује јучерашњи напад на припаднике српске "
    "заједнице у општини на северу Косова и Метохије. Позивамо међународну заједницу да предузме хитне мере "
    "како би се обезбедила безбедност грађана. Србија ће и даље да се залаже за мир, дијалог и сарадњу у "
    "региону, али неће дозволити да се угрожавају права њених грађана."
)
# No ђ or ћ: only ј, so the words decide (је, су, у).
SERBIAN_CYRILLIC_SHORT = "Министар је рекао да су преговори били корисни и да се нада новом састанку у јуну."
SERBIAN_LATIN = (
    "Predsednik Vlade izjavio je u sredu da će Srbija tokom naredne nedelje uputiti protestnu notu susednoj "
    "državi. Ministarstvo spoljnih poslova saopštilo je da su uslovi za nastavak saradnje i dalje nepovoljni. "
    "Prema rečima ministra, opštine uz granicu dobiće dodatnih hiljadu evra po stanovniku. Takođe je najavio "
    "da će sednica skupštine biti održana u četvrtak, a poslanici će razgovarati o bezbednosti na granici."
)
SERBIAN_LATIN_TABLOID = (
    "Pevačica je juče na svom profilu podelila fotografiju sa ćerkom i napisala da je ovo najlepši dan u "
    "njenom životu. Fanovi su odmah počeli da komentarišu, a mnogi su primetili da devojčica mnogo liči na "
    "oca. Kako saznajemo, porodica će leto provesti na moru, gde će pevačica uživati pre nego što krene na "
    "turneju po Evropi."
)
CROATIAN = (
    "Predsjednik Vlade izjavio je u srijedu da će Hrvatska tijekom idućeg tjedna uputiti prosvjednu notu "
    "susjednoj državi. Ministarstvo vanjskih i europskih poslova priopćilo je kako su uvjeti za nastavak "
    "suradnje i dalje nepovoljni. Prema riječima ministra, općine uz granicu dobit će dodatnih tisuću eura po "
    "stanovniku. Također je najavio da će se sjednica Sabora održati u četvrtak. Tko bi rekao, dodao je."
)
CROATIAN_EVERYDAY = (
    "Djeca su jučer u vrtiću pekla kruh i pila mlijeko, a roditelji su ih došli vidjeti poslije podne. "
    "Vrijeme je bilo lijepo, pa su se igrali vani sve do večeri. Odgojiteljica kaže kako je uvijek lijepo "
    "vidjeti dijete koje se veseli. Obitelj iz susjedstva donijela je kolače, a djevojčice su pjevale pjesme."
)
MACEDONIAN = (
    "Министерството за надворешни работи денеска соопшти дека ќе биде отворен нов конзулат во главниот "
    "град. Министерот изјави дека соработката со соседните земји е многу важна и дека разговорите ќе "
    "продолжат следната недела. Тоа ќе придонесе за подобрување на односите во регионот, рече тој."
)
RUSSIAN = (
    "Министерство иностранных дел России заявило в четверг, что переговоры будут продолжены на следующей "
    "неделе. По словам министра, сотрудничество с соседними странами остаётся приоритетом внешней политики, "
    "а новые встречи уже запланированы."
)
BULGARIAN = (
    "Министерството на външните работи на България съобщи днес, че ще бъде открито ново консулство. "
    "Министърът заяви, че сътрудничеството със съседните страни е много важно и че разговорите ще "
    "продължат следващата седмица."
)
ENGLISH = (
    "The foreign minister said on Thursday that talks with neighbouring countries would resume next week, "
    "adding that cooperation in the region remained a priority for the government and its partners."
)
ALBANIAN = (
    "Ministri i Punëve të Jashtme deklaroi të enjten se bisedimet me vendet fqinje do të vazhdojnë javën e "
    "ardhshme. Ai shtoi se bashkëpunimi në rajon mbetet përparësi për qeverinë dhe partnerët e saj."
)
# Slovenian shares ekavian forms with Serbian (predsednik, uspeh): it must stay sl.
SLOVENIAN = (
    "Predsednik vlade je v sredo povedal, da bo Slovenija v prihodnjem tednu poslala protestno noto sosednji "
    "državi. Ministrstvo za zunanje zadeve je sporočilo, da so pogoji za nadaljevanje sodelovanja še vedno "
    "neugodni, vendar upajo na uspeh pogovorov, ki bodo tudi v Ljubljani."
)
# Serbo-Croatian without a distinctive word: langdetect says hr, nothing says otherwise.
AMBIGUOUS_SOUTH_SLAVIC = (
    "Vlada je danas usvojila zakon o radu, a ministar je rekao da je to dobar korak za sve građane. "
    "Sindikati su pozdravili odluku, a poslodavci su rekli da će zakon pažljivo proučiti."
)
# Bosnian: ijekavian (predsjednik, prije) with Serbian-like vocabulary (hiljade, uslovi, saradnja).
BOSNIAN = (
    "Predsjednik Predsjedništva izjavio je prije sastanka da su uslovi za saradnju sa susjedima bolji nego "
    "prošle godine. Hiljade građana okupilo se ispred zgrade, a policija je saopćila da je skup protekao mirno."
)

FIXTURES = [
    pytest.param(SERBIAN_CYRILLIC, "sr", id="serbian-cyrillic"),
    pytest.param(SERBIAN_CYRILLIC_SHORT, "sr", id="serbian-cyrillic-without-dj-tj"),
    pytest.param(SERBIAN_LATIN, "sr", id="serbian-latin"),
    pytest.param(SERBIAN_LATIN_TABLOID, "sr", id="serbian-latin-tabloid"),
    pytest.param(CROATIAN, "hr", id="croatian"),
    pytest.param(CROATIAN_EVERYDAY, "hr", id="croatian-everyday"),
    pytest.param(MACEDONIAN, "mk", id="macedonian"),
    pytest.param(RUSSIAN, "ru", id="russian"),
    pytest.param(BULGARIAN, "bg", id="bulgarian"),
    pytest.param(ENGLISH, "en", id="english"),
    pytest.param(ALBANIAN, "sq", id="albanian"),
    pytest.param(SLOVENIAN, "sl", id="slovenian"),
]


@pytest.mark.parametrize(("text", "expected"), FIXTURES)
def test_fixture_gets_its_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(("text", "expected"), FIXTURES)
def test_a_site_wide_english_declaration_does_not_override_clear_text(text: str, expected: str) -> None:
    assert detect_language(text, html_lang="en") == expected


def test_declared_russian_text_under_lang_en_is_russian() -> None:
    assert detect_language(RUSSIAN, html_lang="en-US") == "ru"


def test_declared_serbian_settles_ambiguous_south_slavic_text() -> None:
    assert detect_language(AMBIGUOUS_SOUTH_SLAVIC) == "hr"
    assert detect_language(AMBIGUOUS_SOUTH_SLAVIC, html_lang="sr-Latn") == "sr"
    assert detect_language(AMBIGUOUS_SOUTH_SLAVIC, html_lang="sr_RS") == "sr"
    assert detect_language(AMBIGUOUS_SOUTH_SLAVIC, html_lang="hr-HR") == "hr"


def test_clear_serbian_wins_over_a_croatian_declaration() -> None:
    # Serbian Latin-script sites have long used Croatian locales (WordPress had no sr-Latn).
    assert detect_language(SERBIAN_LATIN, html_lang="hr") == "sr"
    assert detect_language(CROATIAN, html_lang="sr-Latn") == "hr"


def test_serbian_cyrillic_letters_win_over_any_declaration() -> None:
    assert detect_language(SERBIAN_CYRILLIC, html_lang="mk") == "sr"
    assert detect_language(SERBIAN_CYRILLIC, html_lang="ru") == "sr"
    assert detect_language(MACEDONIAN, html_lang="sr") == "mk"


def test_declared_bosnian_is_kept() -> None:
    assert detect_language(BOSNIAN, html_lang="bs-BA") == "bs"
    assert detect_language(BOSNIAN) in {"sr", "hr"}  # documented: no Bosnian without a declaration


def test_declared_language_within_a_confusable_group_wins() -> None:
    assert detect_language(BULGARIAN, html_lang="mk") == "mk"
    assert detect_language(RUSSIAN, html_lang="be") == "be"  # langdetect has no Belarusian


def test_declared_language_langdetect_tells_apart_does_not_override() -> None:
    assert detect_language(RUSSIAN, html_lang="uk") == "ru"
    assert detect_language(ENGLISH, html_lang="de") == "en"


def test_declared_language_of_another_script_is_ignored() -> None:
    assert detect_language(ENGLISH, html_lang="ru") == "en"
    assert detect_language(RUSSIAN, html_lang="de") == "ru"


def test_short_text_takes_the_declared_language() -> None:
    title = "Talks resume next week in Brussels"  # under SHORT_LETTERS: langdetect is guessing
    assert detect_language(title, html_lang="en-GB") == "en"
    assert detect_language("Sastanak u Briselu", html_lang="sr-Latn") == "sr"
    assert detect_language("Sastanak u Briselu") == UNKNOWN  # under MIN_LETTERS


@pytest.mark.parametrize("text", ["", "   \n\t ", "12 345 — 6.7%", "Ok.", "Vučić", "Да."])
def test_empty_or_very_short_text_is_unknown(text: str) -> None:
    assert detect_language(text) == UNKNOWN


def test_empty_text_is_unknown_whatever_the_page_declares() -> None:
    assert detect_language("", html_lang="en") == UNKNOWN
    assert detect_language("2019", html_lang="sr") == UNKNOWN


def test_malformed_declarations_are_ignored() -> None:
    for html_lang in ("", "  ", "x", "english", "sh", "cnr", "12"):
        assert detect_language(ENGLISH, html_lang=html_lang) == "en"
        assert detect_language(SERBIAN_LATIN, html_lang=html_lang) == "sr"


def test_wire_headline_in_capitals_is_read() -> None:
    # langdetect skips words in capitals; the sample is lower-cased first.
    headline = (
        "PRESIDENT SAYS ALLIES MUST HONOR THE ACCORDS ON EXCHANGE RATE STABILITY AND TRADE. "
        "FINANCE MINISTERS WILL MEET IN PARIS NEXT MONTH TO REVIEW THE CURRENCY AGREEMENT, OFFICIALS SAID."
    )
    assert detect_language(headline) == "en"


def test_same_text_same_answer() -> None:
    for text in (SERBIAN_LATIN, CROATIAN, MACEDONIAN, ENGLISH, AMBIGUOUS_SOUTH_SLAVIC):
        assert detect_language(text) == detect_language(text)
        assert detect_language(text, seed=7) == detect_language(text, seed=7)


@pytest.mark.parametrize(("text", "expected"), FIXTURES)
def test_seed_does_not_flip_a_clear_case(text: str, expected: str) -> None:
    assert {detect_language(text, seed=seed) for seed in range(5)} == {expected}


def test_threads_do_not_disturb_each_other() -> None:
    jobs = [(text, seed) for text in (SERBIAN_LATIN, CROATIAN, AMBIGUOUS_SOUTH_SLAVIC, ENGLISH) for seed in range(4)]
    alone = [detect_language(text, seed=seed) for text, seed in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda job: detect_language(job[0], seed=job[1]), jobs * 4))
    assert together == alone * 4


def test_global_random_state_is_untouched() -> None:
    random.seed(12345)
    expected = random.random()
    random.seed(12345)
    detect_language(SERBIAN_LATIN)
    assert random.random() == expected


def test_chinese_is_an_iso_639_1_code() -> None:
    assert detect_language("外交部发言人周四表示，与邻国的会谈将于下周恢复，地区合作仍然是政府的优先事项。") == "zh"


# --- the shared corpus (skipped when absent) ---

_CORPUS = SHARED / "data" / "corpus" / "news-24k.jsonl.gz"
#: Share of a fixed sample of 300 Alo articles labelled sr when measured
#: (search/language/detector.py as first written: 300 of 300; 0.993 over all 2,019).
_ALO_MEASURED = 1.0


@pytest.mark.skipif(not _CORPUS.is_file(), reason="the shared corpus (../shared or $NEWSDESK_SHARED) is absent")
def test_alo_articles_are_serbian() -> None:
    with gzip.open(_CORPUS, "rt", encoding="utf-8") as lines:
        alo = [record for record in map(json.loads, lines) if record.get("outlet") == "Alo"]
    sample = random.Random(2019).sample(alo, min(300, len(alo)))
    labels = [detect_language(f"{record['title']}\n\n{record['body']}") for record in sample]
    assert labels.count("sr") / len(labels) >= _ALO_MEASURED - 0.02


def test_a_declared_language_the_opening_confirms_is_taken_without_a_longer_look() -> None:
    from search.language.detector import _confirmed

    english = ("The foreign ministers met in Brussels on Monday to discuss the next round of talks between "
               "Belgrade and Pristina, and agreed that the energy agreement must be implemented first. ") * 4
    assert _confirmed(english, "en", seed=0)
    assert not _confirmed(english, "de", seed=0)  # the text says otherwise: the full look decides
    assert detect_language(english, "de") == "en"
    assert not _confirmed(english, "hr", seed=0)  # confusable and South Slavic languages always get it


# --- every language the facet can show has a name ---


def test_every_language_langdetect_knows_has_a_name() -> None:
    import os

    from langdetect.detector_factory import PROFILES_DIRECTORY

    from search.language.names import ALIASES, LANGUAGE_NAMES

    profiles = os.listdir(PROFILES_DIRECTORY)
    assert len(profiles) == 55  # langdetect 1.0.9: a new version with new profiles must be looked at
    unnamed = {code for code in profiles if ALIASES.get(code, code) not in LANGUAGE_NAMES}
    assert unnamed == set()


def test_every_language_the_rules_give_has_a_name() -> None:
    from search.language import LANGUAGE_NAMES
    from search.language.detector import _CONFUSABLE
    from search.language.scripts import CYRILLIC_LANGUAGES, NON_LATIN_LANGUAGES

    given = {"sr", "hr", "bs", "mk", UNKNOWN}.union(*_CONFUSABLE, CYRILLIC_LANGUAGES, NON_LATIN_LANGUAGES)
    assert given - LANGUAGE_NAMES.keys() == set()


@pytest.mark.parametrize("text", [ENGLISH[:60], RUSSIAN[:60], "外交部发言人周四表示"], ids=["latin", "cyrillic", "han"])
def test_any_declared_code_comes_back_named_or_not_at_all(text: str) -> None:
    from itertools import product
    from string import ascii_lowercase

    from search.language import LANGUAGE_NAMES

    for a, b in product(ascii_lowercase, repeat=2):
        for declared in (a + b, f"{a}{b}-XX", f"{a}{b}x"):
            assert detect_language(text, html_lang=declared) in LANGUAGE_NAMES


def test_the_language_facet_labels_codes_with_names(fresh, gazetteer) -> None:
    from search.index import open_index, write_articles
    from search.query import make_query, search
    from search.records import Article

    languages = ["sv", "sr", "sw", UNKNOWN]
    write_articles(
        [Article(id=f"a{i}", title=f"Title {i}", text="Text", origin="test", language=code)
         for i, code in enumerate(languages)],
        fresh,
    )
    with open_index(fresh).searcher() as searcher:
        page = search(searcher, make_query(""), fresh, gazetteer)
    labels = {value.value: value.label for value in page.facets["language"]}
    assert labels == {"sv": "Swedish", "sr": "Serbian", "sw": "Swahili", UNKNOWN: "Unknown"}


# --- too short to judge ---


@pytest.mark.parametrize(
    "text",
    [
        # A wire table: many letters, few words, said over and over (langdetect: Swedish, German, French).
        ("ACME CORP <ACM> 4TH QTR NET\n\nShr 45 cts vs 58 cts\n    Net 1.1 mln vs 829,000\n    Sales 7.9 mln vs "
        "9.4 mln\n    Avg shrs 2,332,397 vs 1,428,000\n    Year\n    Shr 1.45 dlrs vs 1.58 dlrs\n    Net 4.1 mln vs "
        "3.9 mln\n    Sales 31.9 mln vs 29.4 mln\n\n Reuter"),
        # A headline alone.
        "GENERAL FOODS TO SELL CANNED GOODS UNIT FOR 85 MLN DLRS",
        "Sastanak u Briselu odložen za sledeću nedelju",
    ],
    ids=["wire-table", "headline", "serbian-headline"],
)
def test_a_text_too_short_to_judge_is_unknown_unless_the_page_says(text: str) -> None:
    from search.language.detector import MIN_JUDGED_LETTERS, judged_letters

    assert judged_letters(text) < MIN_JUDGED_LETTERS
    assert detect_language(text) == UNKNOWN
    assert detect_language(text, html_lang="en") == "en"


def test_a_text_long_enough_to_judge_is_judged() -> None:
    from search.language.detector import MIN_JUDGED_LETTERS, judged_letters

    assert judged_letters(ENGLISH) >= MIN_JUDGED_LETTERS
    assert detect_language(ENGLISH) == "en"


def test_judged_letters_count_each_word_once() -> None:
    from search.language.detector import judged_letters

    assert judged_letters("Net vs net VS Net 1.1 mln") == len("net") + len("vs") + len("mln")


def test_serbian_cyrillic_letters_decide_a_short_text() -> None:
    assert detect_language("Ђоковић победио у Мелбурну") == "sr"  # ђ, ћ: no statistics needed
    assert detect_language("Министар је рекао да су преговори корисни") == "sr"  # је, су
    assert detect_language("Министерот рече дека ќе дојде") == "mk"  # ќ


# --- Serbian Latin ---


def test_cyrillic_look_alikes_inside_latin_words_are_read_as_latin() -> None:
    # The Serbian fixture with Cyrillic а, е and о typed into its Latin words (a copied or obfuscated text).
    disguised = SERBIAN_LATIN.replace("a", "\u0430").replace("e", "\u0435").replace("o", "\u043e")
    assert disguised != SERBIAN_LATIN
    assert detect_language(disguised) == "sr"
    assert detect_language(RUSSIAN.replace("о", "o", 1)) == "ru"  # a Russian word with a stray Latin o stays Russian


def test_serbian_da_after_trying_and_refusing_counts_for_serbian() -> None:
    # No ekavian or ijekavian word, no vocabulary of either side: only the constructions differ.
    serbian = (
        "Žena je u jednom trenutku pala na zemlju i pokušala da se izvuče, ali to nije bilo moguće. Vozač "
        "kamiona odbio je da razgovara s novinarima, a policija je stigla nakon dvadeset minuta."
    )
    croatian = serbian.replace("pokušala da se izvuče", "pokušala se izvući").replace(
        "odbio je da razgovara", "odbio je razgovarati"
    )
    assert detect_language(serbian) == "sr"
    assert detect_language(croatian) == "hr"
