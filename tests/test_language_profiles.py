"""search.language.profiles: langdetect's algorithm without its Python loops, against langdetect itself.

Every guess must be langdetect's own to the last bit of its probability, for
any text, seed and number of trials: the languages the index stores depend on
it. langdetect (its ``Detector``) is the reference here, run on the same text.
"""

from __future__ import annotations

import gzip
import json
import random

import pytest
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from conftest import SHARED
from search.language.profiles import _appended, _cleaned, _loaded, _ngram_rows, langdetect_guesses


@pytest.fixture(scope="module")
def factory() -> DetectorFactory:
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    return factory


def reference(factory: DetectorFactory, text: str, seed: int, trials: int) -> list[tuple[str, float]]:
    """langdetect 1.0.9 itself, as the detector used it before."""
    detector = factory.create()
    detector.seed = seed
    detector.n_trial = trials
    detector.append(text)
    try:
        return [(guess.lang, guess.prob) for guess in detector.get_probabilities()]
    except LangDetectException:
        return []


def fast(text: str, seed: int, trials: int) -> list[tuple[str, float]]:
    return [(guess.lang, guess.prob) for guess in langdetect_guesses(text, seed, trials)]


# Words of many scripts and shapes: capitals (langdetect skips words in
# capitals), digits and punctuation (spaces to it), Latin-1 and Latin
# Extended letters, Vietnamese marks written apart (its normaliser), Arabic,
# Han, kana, Hangul (its own normalisations), URLs and addresses (removed).
_LINES = (
    "the of minister said talks Belgrade NATO U.S. EU's Pristina Reuters 1987 4TH QTR NET mln dlrs vs cts",
    "predsednik je rekao da će Srbija sledeće nedelje ČEKA Đorđe ŠTA ćerka džep",
    "kryeministri tha se Kosova është më Thaçi ZYRTAR",
    "Министерство иностранных дел России заявило МИД ООН Вучич Ђоковић ЈЕ",
    "Der Außenminister größere Straße Ærø São Paulo naïve façade Ştefan Țara",
    "Vie\u0301t Nam Hà Nội phở",
    "外交部 发言人 周四 表示 ひらがな カタカナ 한국어 뉴스",
    "وزير الخارجية ی",
    "http://example.com/a?b=c mail.me@example.org — … « » ” 12:30 $45 % & * ( ) ! ?",
)
_WORDS = [word for line in _LINES for word in line.split()]


def generated(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(0, 220))]
    seps = [rng.choice([" ", " ", " ", "  ", "\n", "\n\n", ", ", ". ", "-", ""]) for _ in words]
    return "".join(w + s for w, s in zip(words, seps, strict=True))


_FIXED = [
    "",
    " ",
    "1234 5678",
    "A",
    "IN CAPITALS ONLY HEADLINE",
    "The foreign ministers met in Brussels on Monday to discuss the next round of talks.",
    "Predsednik Vlade izjavio je u sredu da će Srbija tokom naredne nedelje uputiti protestnu notu.",
    "Министерство иностранных дел России заявило в четверг, что переговоры будут продолжены.",
    "Kryeministri Albin Kurti tha se Kosova do të vazhdojë dialogun me Serbinë në Bruksel.",
    "外交部发言人周四表示, 中方愿同各方一道努力.",
    "Tiếng Việt có dấu: Hà Nội, phở, người",
]


@pytest.mark.parametrize("trials", [1, 3, 7])
def test_the_same_guesses_as_langdetect_on_fixed_and_generated_texts(factory: DetectorFactory, trials: int) -> None:
    rng = random.Random(trials)
    texts = _FIXED + [generated(rng) for _ in range(150)]
    for text in texts:
        for seed in (0, 1987):
            assert fast(text, seed, trials) == reference(factory, text, seed, trials), text


def test_the_same_ngrams_in_the_same_order_as_langdetect(factory: DetectorFactory) -> None:
    """The n-gram list langdetect draws from: its order decides which n-gram a draw picks."""
    model = _loaded()
    names = list(model.row_of)
    rng = random.Random(5)
    for text in _FIXED + [generated(rng) for _ in range(200)]:
        detector = factory.create()
        detector.append(text)
        detector.cleaning_text()
        assert _cleaned(_appended(text)) == detector.text
        assert [names[row] for row in _ngram_rows(detector.text, model)] == detector._extract_ngrams()


def test_the_profiles_are_langdetects_own(factory: DetectorFactory) -> None:
    model = _loaded()
    assert list(model.langs) == factory.langlist
    for gram in random.Random(3).sample(sorted(factory.word_lang_prob_map), 2000):
        assert model.matrix[model.row_of[gram]].tolist() == factory.word_lang_prob_map[gram]


_CORPUS = SHARED / "data" / "corpus" / "news-24k.jsonl.gz"


@pytest.mark.skipif(not _CORPUS.is_file(), reason="the shared corpus (../shared or $NEWSDESK_SHARED) is absent")
def test_the_same_guesses_as_langdetect_on_corpus_articles(factory: DetectorFactory) -> None:
    from search.language.detector import LANGUAGE_SAMPLE, TRIALS

    with gzip.open(_CORPUS, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    for record in records[:: len(records) // 400]:  # every outlet: the file is sorted by outlet
        text = f"{record['title']}\n\n{record['body']}"[:LANGUAGE_SAMPLE]
        assert fast(text, 0, TRIALS) == reference(factory, text, 0, TRIALS), record["id"]


def test_draws_made_with_choice_itself_give_the_same_guesses(
    factory: DetectorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The path taken on a Python whose ``random`` draws ``choice`` otherwise."""
    from search.language import profiles

    monkeypatch.setattr(profiles, "_DRAWS_LIKE_CHOICE", False)
    rng = random.Random(11)
    for text in _FIXED + [generated(rng) for _ in range(40)]:
        assert fast(text, 0, 3) == reference(factory, text, 0, 3), text
