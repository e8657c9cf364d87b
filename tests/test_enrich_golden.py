"""Clean and enrich give the very articles they gave before they were made fast.

``Pipeline.process`` (the cleaner, language, actors, MinHash) runs on the seed
articles and on pages generated here (plain text and HTML, English, Serbian
in both scripts, Croatian, Albanian, Russian, Macedonian, German: actors in
their case forms, demonyms and capitals, agency credits, acronyms, wire
tables, furniture, bylines, dates, look-alike letters, declared languages
right and wrong, manifest hints), ``enrich`` on bare articles as the
benchmark feeds it, and ``detect_language`` with declared languages. Every
field of every result is compared with ``fixtures/enrich/golden.json``,
written by the code as it stood before the speed work (the text and the
MinHash as digests).

A change that alters any result fails here. If it is meant to (a better
cleaner, a new actor), write the file again from the new code and say why in
the commit::

    python tests/test_enrich_golden.py --write tests/fixtures/enrich/golden.json
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "fixtures" / "enrich" / "golden.json"


class _Draw:
    """Deterministic choices from BLAKE2b of a counter: the same pages on every
    Python (``random``'s algorithms are not promised to stay the same)."""

    def __init__(self, seed: str) -> None:
        self.seed, self.n = seed, 0

    def below(self, n: int) -> int:
        self.n += 1
        digest = hashlib.blake2b(f"{self.seed}/{self.n}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % n

    def pick(self, items: tuple[str, ...] | list[str]) -> str:
        return items[self.below(len(items))]


# Sentences written for this test; {a} and {b} take actors' names in the
# language's forms, {c} a capital or a demonym in a state context.
_SENTENCES = {
    "en": (
        "{a} met {b} in Brussels on Monday to discuss the next round of talks on energy and freedom of movement.",
        "{c} said on Tuesday that it would not accept any agreement that ignored the rights of the minority.",
        "The European Union mediator told reporters that both delegations had agreed on a timetable for meetings.",
        "Officials said the talks would resume after the summer, when engineers from both sides meet in Skopje.",
        "{a} told parliament that the government would press ahead with the reform despite the protests.",
        "NATO-led peacekeepers of KFOR increased their patrols near the border crossings, the U.S. embassy said.",
        "Diplomats warned that a further delay would hurt investment and leave thousands without reliable power.",
        "Serbian President {a} and Russian Foreign Minister {b} held a joint news conference in the capital.",
    ),
    "sr": (
        "Predsednik {a} sastao se sa {b} u Beogradu i razgovarao o saradnji i bezbednosti u regionu.",
        "{c} je saopštio da neće prihvatiti predlog koji ne uvažava interese građana na severu.",
        "Ministarstvo spoljnih poslova saopštilo je da su uslovi za nastavak dijaloga i dalje nepovoljni.",
        "Prema rečima ministra, opštine uz granicu dobiće dodatnih hiljadu evra po stanovniku tokom godine.",
        "Takođe je najavio da će sednica skupštine biti održana u četvrtak, a poslanici će razgovarati o budžetu.",
        "Kako saznajemo, delegacija će posle sastanka u Briselu otputovati u Vašington na nove razgovore.",
    ),
    "sr-cyrl": (
        "Председник {a} састао се са {b} у Београду и разговарао о сарадњи и безбедности у региону.",
        "Министарство спољних послова Републике Србије најоштрије осуђује јучерашњи напад на припаднике заједнице.",
        "Позивамо међународну заједницу да предузме хитне мере како би се обезбедила безбедност грађана.",
        "Србија ће и даље да се залаже за мир, дијалог и сарадњу у региону, рекао је министар.",
    ),
    "hr": (
        "Predsjednik Vlade izjavio je u srijedu da će Hrvatska tijekom idućeg tjedna uputiti prosvjednu notu.",
        "Ministarstvo vanjskih i europskih poslova priopćilo je kako su uvjeti za nastavak suradnje nepovoljni.",
        "Prema riječima ministra, općine uz granicu dobit će dodatnih tisuću eura po stanovniku.",
    ),
    "sq": (
        "Kryeministri {a} tha se Kosova do të vazhdojë dialogun me Serbinë në Bruksel javën e ardhshme.",
        "Ai u takua me {b} në Prishtinë dhe diskutuan për marrëveshjen e energjisë dhe lirinë e lëvizjes.",
        "Beogradi zyrtar nuk ka reaguar ende ndaj deklaratave të bëra gjatë konferencës për shtyp.",
        "Sipas ministrit, komunat në veri do të marrin mjete shtesë për infrastrukturën gjatë këtij viti.",
    ),
    "ru": (
        "Министр иностранных дел России {b} провёл в Москве переговоры с президентом Сербии {a}.",
        "Официальный представитель МИД России заявила, что Евросоюз несёт ответственность за эскалацию.",
        "Москва заявила, что не признаёт независимость и будет защищать позицию Белграда в Совете Безопасности ООН.",
        "По словам министра, сотрудничество с соседними странами остаётся приоритетом внешней политики.",
    ),
    "mk": (
        "Министерството за надворешни работи денеска соопшти дека ќе биде отворен нов конзулат.",
        "Министерот изјави дека соработката со соседните земји е многу важна и дека разговорите ќе продолжат.",
    ),
    "de": (
        "Der Außenminister traf sich am Montag in Brüssel mit seinem Amtskollegen, um über die Lage zu sprechen.",
        "Die Gespräche sollen nach dem Sommer fortgesetzt werden, teilte das Ministerium in Berlin mit.",
    ),
}
_NAMES = {
    "en": ("Aleksandar Vucic", "Albin Kurti", "Edi Rama", "Sergei Lavrov", "Vladimir Putin", "Hashim Thaci"),
    "sr": ("Aleksandrom Vučićem", "Albinom Kurtijem", "Edijem Ramom", "Sergejem Lavrovom", "Vučić", "Dačić"),
    "sr-cyrl": ("Александром Вучићем", "Албином Куртијем", "Сергејем Лавровом", "Вучић"),
    "hr": ("Vučić", "Kurti"),
    "sq": ("Albin Kurti", "Edi Ramën", "Aleksandar Vuçiq", "Hashim Thaçi", "Kurtit"),
    "ru": ("Александаром Вучичем", "Сергей Лавров", "Владимир Путин", "Альбин Курти"),
    "mk": ("Вучиќ",),
    "de": ("Olaf Scholz",),
}
_STATE = {
    "en": ("Belgrade", "Moscow", "Official Pristina", "The Serbian government", "Washington"),
    "sr": ("Zvanični Beograd", "Beograd", "Srpska vlada", "Moskva"),
    "sr-cyrl": ("Београд",), "hr": ("Zagreb",), "sq": ("Beogradi zyrtar",), "ru": ("Москва",),
    "mk": ("Скопје",), "de": ("Berlin",),
}
_TITLES = {
    "en": "Talks on {x} to resume after the summer", "sr": "Nastavak razgovora o {x} posle leta",
    "sr-cyrl": "Наставак разговора о {x}", "hr": "Nastavak razgovora o {x} nakon ljeta",
    "sq": "Bisedimet për {x} rifillojnë pas verës", "ru": "Переговоры о {x} возобновятся летом",
    "mk": "Разговорите за {x} продолжуваат", "de": "Gespräche über {x} nach dem Sommer",
}
_TOPICS = ("energy", "energiji", "borders", "trade", "NATO", "KFOR", "EU", "U.S. aid")
_FURNITURE = (
    "Subscribe to our newsletter", "Read more:", "Share this article", "Advertisement", "Comments (12)",
    "Published: 14.03.2022. at 11:20", "Photo: Reuters", "5 min read", "Objavljeno: 14.03.2022. u 11:20",
    "Podelite", "Komente", "By Jane Roe", "From: Alice Elizabeth Taylor", "Read more: Talks resume",
    "All rights reserved", "Related articles", "Pretplatite se",
)
_DATELINES = (
    "BELGRADE, June 4 (Reuters) - ", "MOSCOW (Reuters) - ", "BEOGRAD (Tanjug) – ", "МОСКВА, 14 сентября. /ТАСС/. ",
    "PRISTINA, March 3 - ", "", "", "",
)
_WIRE_TABLE = "ACME CORP <ACM> 4TH QTR NET\n\nShr 45 cts vs 58 cts\n\nNet 1.1 mln vs 829,000\n\nSales 7.9 mln vs 9.4 mln"
_DECLARED = ("en", "en-US", "sr", "sr-Latn", "sq", "ru", "de", "hr", "bs", "mk", None, None)


def _text(draw: _Draw, lang: str) -> tuple[str, str]:
    """A title and a body of paragraphs in ``lang``, with furniture, a dateline and odd letters about."""
    sentences, names, states = _SENTENCES[lang], _NAMES[lang], _STATE[lang]
    paragraphs = []
    for n in range(2 + draw.below(7)):
        words = [draw.pick(sentences).format(a=draw.pick(names), b=draw.pick(names), c=draw.pick(states))
                 for _ in range(1 + draw.below(3))]
        paragraph = " ".join(words)
        if n == 0:
            paragraph = draw.pick(_DATELINES) + paragraph
        paragraphs.append(paragraph)
        if draw.below(4) == 0:
            paragraphs.append(draw.pick(_FURNITURE))
        if draw.below(12) == 0:
            paragraphs.append(paragraph)  # a repeated paragraph
    if draw.below(10) == 0:
        paragraphs.append("Контакт: redakcija@example.rs https://example.rs/vesti?id=12 Ministаrstvо")  # look-alikes
    if draw.below(8) == 0:
        paragraphs = [_WIRE_TABLE]
    title = _TITLES[lang].format(x=draw.pick(_TOPICS))
    if draw.below(6) == 0:
        title = title.upper()
    return title, "\n\n".join(paragraphs)


def _html(title: str, body: str, declared: str | None, date: bool) -> str:
    lang = f' lang="{declared}"' if declared else ""
    stamp = '<meta property="article:published_time" content="2019-05-17T08:30:00+02:00">' if date else ""
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
    return (f"<!doctype html><html{lang}><head><title>{title} | Daily Planet</title>{stamp}</head><body>"
            f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article><h1>{title}</h1>{paragraphs}"
            f"</article><footer>All rights reserved</footer></body></html>")


def _pages() -> Iterator[tuple[str, bytes, str, dict[str, str]]]:
    """(name, bytes, content type, manifest hints) of every page the test runs."""
    for path in sorted((ROOT / "seeds" / "articles").glob("*.txt")):
        yield f"seed/{path.name}", path.read_bytes(), "text/plain", {}
    draw = _Draw("enrich-golden")
    langs = tuple(_SENTENCES)
    for n in range(240):
        lang = langs[n % len(langs)] if n % 3 else draw.pick(("en", "sr", "sq"))
        title, body = _text(draw, lang)
        hints = {}
        if draw.below(3) == 0:
            hints = {"outlet": "Wire", "published": f"2019-05-1{draw.below(10)}T10:00:00",
                     "url": f"https://wire.example/{n}"}
        if n % 8 == 0:  # HTML: the other cleaner, declared languages, the date in the page
            page = _html(title, body, draw.pick(_DECLARED), date=draw.below(2) == 0)
            yield f"gen/{n}.html", page.encode(), "text/html", hints
        else:
            yield f"gen/{n}.txt", f"{title}\n\n{body}\n".encode(), "text/plain", hints


def _fields(article: Any) -> list[Any]:
    return [article.id, article.title, _digest(article.text), article.url, article.outlet, article.author,
            str(article.published), article.published_source, article.language, list(article.actors),
            _digest(repr(article.minhash))]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def outputs() -> dict[str, Any]:
    """Every result the test compares, by page: the code under test imported as it is found."""
    from search.decode import received_page
    from search.enrich import enrich, load_gazetteer
    from search.errors import ExtractionError
    from search.language import detect_language
    from search.pipeline import load_pipeline
    from search.records import Article, PageHints
    from search.settings import Settings
    from search.timeparse import parse_iso

    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        gazetteer = load_gazetteer()
        pipeline = load_pipeline(Settings(index=Path(tmp)), gazetteer, sources=())
        for name, data, content_type, given in _pages():
            published = parse_iso(given.get("published"))
            hints = PageHints(outlet=given.get("outlet"), url=given.get("url"), published=published,
                              published_source="manifest" if published else None)
            page = received_page(data, name, content_type, hints.url, hints)
            try:
                found[f"process {name}"] = _fields(pipeline.process(page))
            except ExtractionError as e:
                found[f"process {name}"] = ["skipped", e.message]
            if content_type == "text/plain":
                title, _, text = page.text.partition("\n\n")
                bare = enrich(Article(id=name, title=title, text=text, origin=name), gazetteer, 0)
                found[f"enrich {name}"] = _fields(bare)
                found[f"language {name}"] = [detect_language(page.text, declared, 0)
                                             for declared in ("en", "sr", "ru", "de")]
    return found


def test_clean_and_enrich_give_what_they_gave() -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    now = outputs()
    assert now.keys() == golden.keys()
    changed = {key: (golden[key], now[key]) for key in golden if golden[key] != now[key]}
    assert not changed, f"{len(changed)} results changed, e.g. {next(iter(changed.items()))}"


def test_the_golden_file_covers_what_it_says() -> None:
    """The pages reach the paths they are meant to: languages, actors, skips, manifest dates, HTML."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    processed = [value for key, value in golden.items() if key.startswith("process ")]
    languages = {value[8] for value in processed if value[0] != "skipped"}
    assert {"en", "sr", "hr", "sq", "ru", "mk", "de"} <= languages
    assert sum(1 for value in processed if value[0] == "skipped") >= 1
    assert sum(1 for value in processed if value[0] != "skipped" and value[9]) >= 100  # actors found
    assert any(value[7] == "manifest" for value in processed)
    assert sum(1 for key in golden if key.startswith("process gen/") and key.endswith(".html")) == 30


if __name__ == "__main__":
    if sys.argv[1:2] != ["--write"] or len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} --write PATH")
    import search

    print(f"results of the code in {Path(search.__file__).parent}", file=sys.stderr)
    target = Path(sys.argv[2])
    target.parent.mkdir(parents=True, exist_ok=True)
    results = sorted(outputs().items())
    lines = (f"{json.dumps(key, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}" for key, value in results)
    target.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
