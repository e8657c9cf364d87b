"""Benchmark: actor matching quality and speed (issue 5, item 6).

Measures ``search.enrich.actors.Gazetteer.find`` (the gazetteer in seeds/actors.toml)
three ways and appends a section to ``bench/RESULTS.md``:

1. **Reuters**: document-level precision/recall/F1 of people and organisations
   (and, beyond the brief, countries) against the ``gold_people`` /
   ``gold_orgs`` / ``gold_places`` index tags of the Reuters part of
   ``data/corpus/news-24k.jsonl.gz`` in the shared directory. The tags are
   slugs (``james-baker``, ``ec``), not mentions: an explicit table below maps
   the few that are actors of the gazetteer, and the scores are restricted to
   that mapped universe (see ``score_reuters``).
2. **Fixtures**: P/R/F1 per language and actor type against the project's own
   labelled articles in ``tests/fixtures/actors/`` (English, Serbian in both
   scripts, Russian, Albanian; see the README there for how the gold was set).
3. **Speed**: articles/s of ``find`` on corpus articles spread over every
   outlet, against two baselines in the same run on the same texts.

    .venv/bin/python bench/actors.py [--speed-limit N] [--rounds R] [--out FILE]

Shared path: ``$NEWSDESK_SHARED``, else ``../shared`` beside the checkout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import ahocorasick  # untyped; the raw-automaton baseline
from ingest_search import append_results, find_corpus, machine, md_table, read_records, spread

from search.enrich.actors import Gazetteer, default_path, load_gazetteer

FIXTURES = REPO / "tests" / "fixtures" / "actors"
TYPES = {"people": "person", "orgs": "organisation", "countries": "country"}
LANGUAGES = ("en", "sr-Latn", "sr-Cyrl", "ru", "sq", "all")  # table order
Record = dict[str, Any]

# --- Reuters slug → actor id --------------------------------------------------------------
# Every slug that names an actor of seeds/actors.toml, decided by hand. The
# Reuters stories are from 1987; the gazetteer is about today's Balkans, so
# the overlap is tiny and that is the honest finding, not a bug in the table.

#: No Reuters person tag is a gazetteer person. The one surname that matches,
#: ``rubio``, is Mariano Rubio (Bank of Spain, 1987), not Marco Rubio;
#: ``mikulic`` (Branko Mikulić, Yugoslav prime minister) is not in the gazetteer.
PEOPLE: dict[str, str] = {}
#: The UN is the UN. ``ec`` (European Communities) is mapped only in the
#: variant row "EC as EU": the EU succeeded the EC in 1993/2009 and a reader
#: filtering on the EU may want 1987 EC stories, but the EC is not the EU and
#: the gazetteer has none of its names ("European Community", "EC").
ORGS: dict[str, str] = {"un": "Q1065"}
EC_AS_EU: dict[str, str] = {"ec": "Q458"}
#: ``ussr`` is not Russia (the Soviet Union is not in the gazetteer).
COUNTRIES: dict[str, str] = {"usa": "Q30", "greece": "Q41", "yugoslavia": "yugoslavia"}


@dataclass
class Counts:
    """Micro-averaged true positives, false positives, false negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: set[str], predicted: set[str]) -> None:
        self.tp += len(gold & predicted)
        self.fp += len(predicted - gold)
        self.fn += len(gold - predicted)

    def __iadd__(self, other: Counts) -> Self:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        return self

    def cells(self) -> tuple[str, str, str]:
        """Precision, recall, F1 as table cells ('–' where undefined)."""
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else None
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else None
        f = 2 * p * r / (p + r) if p is not None and r is not None and p + r else None
        return tuple("–" if x is None else f"{x:.3f}" for x in (p, r, f))  # type: ignore[return-value]


def of_type(gazetteer: Gazetteer, ids: Iterable[str], actor_type: str) -> set[str]:
    return {i for i in ids if (actor := gazetteer.get(i)) is not None and actor.type == actor_type}


def article_text(record: Record) -> str:
    return f"{record.get('title') or ''}\n{record.get('body') or ''}"


# --- 1. Reuters ------------------------------------------------------------------------------


@dataclass
class ReutersRow:
    label: str
    docs_tagged: int  # documents with any tag of this kind
    tags: int  # tag occurrences
    mapped_tags: int
    distinct: int
    mapped_distinct: int
    docs_scored: int  # documents with a mapped gold tag
    counts: Counts


def score_reuters(gazetteer: Gazetteer, predicted: list[list[str]], records: list[Record]) -> list[ReutersRow]:
    """Document-level P/R/F1 per tag kind, restricted to the mapped universe.

    Precision counts only predicted actors inside the universe (the actor ids
    the table maps to): the tags cover a fixed 1987 list of people and bodies,
    so a found actor outside it (say the United States in a story tagged only
    with ``usa`` as a place) is not evidence of an error. Recall is over the
    mapped tags only; the share of tags that could be mapped is the coverage.
    """
    specs = [
        ("people", "gold_people", PEOPLE),
        ("orgs", "gold_orgs", ORGS),
        ("orgs, EC as EU", "gold_orgs", ORGS | EC_AS_EU),
        ("countries (gold_places)", "gold_places", COUNTRIES),
    ]
    return [_reuters_row(label, field, table, predicted, records) for label, field, table in specs]


def _reuters_row(
    label: str, field: str, table: dict[str, str], predicted: list[list[str]], records: list[Record]
) -> ReutersRow:
    universe = set(table.values())
    tags = Counter(tag for record in records for tag in record.get(field) or [])
    counts = Counts()
    docs_scored = 0
    for record, found in zip(records, predicted, strict=True):
        gold = {table[tag] for tag in record.get(field) or [] if tag in table}
        docs_scored += bool(gold)
        counts.add(gold, set(found) & universe)
    return ReutersRow(
        label=label,
        docs_tagged=sum(bool(record.get(field)) for record in records),
        tags=sum(tags.values()),
        mapped_tags=sum(n for tag, n in tags.items() if tag in table),
        distinct=len(tags),
        mapped_distinct=sum(tag in table for tag in tags),
        docs_scored=docs_scored,
        counts=counts,
    )


def reuters_table(rows: list[ReutersRow]) -> str:
    body = [
        (row.label, row.docs_tagged, f"{row.mapped_distinct}/{row.distinct}",
         f"{row.mapped_tags}/{row.tags} ({row.mapped_tags / row.tags:.1%})" if row.tags else "0",
         row.docs_scored, row.counts.tp, row.counts.fp, row.counts.fn, *row.counts.cells())
        for row in rows
    ]
    header = ("tags", "docs tagged", "slugs mapped", "tag uses mapped (coverage)", "docs scored",
              "TP", "FP", "FN", "precision", "recall", "F1")
    return md_table(header, body)


def unscored_people(gazetteer: Gazetteer, predicted: list[list[str]], top: int = 10) -> tuple[int, str]:
    """Reuters documents where ``find`` names a person, and the commonest such people.

    No Reuters person tag maps, so these cannot be scored; they are 2020s
    Balkan figures found in 1987 wire copy and worth a look by eye.
    """
    people = Counter(p for found in predicted for p in of_type(gazetteer, found, "person"))
    docs = sum(bool(of_type(gazetteer, found, "person")) for found in predicted)
    listed = ", ".join(f"{gazetteer.label(p)} {n}" for p, n in people.most_common(top)) or "none"
    return docs, listed


# --- 2. fixtures -----------------------------------------------------------------------------


def load_fixtures(folder: Path = FIXTURES) -> list[dict[str, Any]]:
    articles: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as handle:
            articles.extend(tomllib.load(handle)["article"])
    return articles


def score_fixtures(gazetteer: Gazetteer, articles: list[dict[str, Any]]) -> dict[str, dict[str, Counts]]:
    """Language → type (and "all") → counts, plus an "all" language."""
    scores: dict[str, dict[str, Counts]] = {}
    for article in articles:
        found = gazetteer.find(article["text"])
        for lang in (article["lang"], "all"):
            per_type = scores.setdefault(lang, {key: Counts() for key in (*TYPES, "all")})
            for key, actor_type in TYPES.items():
                one = Counts()
                one.add(set(article[key]), of_type(gazetteer, found, actor_type))
                per_type[key] += one
                per_type["all"] += one
    return scores


def fixture_table(articles: list[dict[str, Any]], scores: dict[str, dict[str, Counts]]) -> str:
    sizes = Counter(article["lang"] for article in articles)
    missing = Counter(article["lang"] for article in articles for _ in article.get("missing", []))
    sizes["all"], missing["all"] = len(articles), sum(missing.values())
    rows = []
    for lang in sorted(scores, key=lambda lang: (LANGUAGES + (lang,)).index(lang)):
        for key, counts in scores[lang].items():
            rows.append((f"{lang}: {key}", sizes[lang] if key == "all" else "", counts.tp, counts.fp, counts.fn,
                         *counts.cells(), missing[lang] if key == "all" else ""))
    header = ("language: type", "articles", "TP", "FP", "FN", "precision", "recall", "F1",
              "names not in gazetteer")
    return md_table(header, rows)


def fixture_misses(gazetteer: Gazetteer, articles: list[dict[str, Any]]) -> list[str]:
    """One line per article where ``find`` and the gold disagree."""
    lines = []
    for article in articles:
        found = set(gazetteer.find(article["text"]))
        gold = {i for key in TYPES for i in article[key]}
        missed, extra = gold - found, found - gold
        if missed or extra:
            parts = [f"missed {', '.join(sorted(gazetteer.label(i) for i in missed))}" if missed else "",
                     f"extra {', '.join(sorted(gazetteer.label(i) for i in extra))}" if extra else ""]
            lines.append(f"- {article['id']}: " + "; ".join(p for p in parts if p))
    return lines


# --- 3. speed --------------------------------------------------------------------------------


def naive_matcher() -> Callable[[str], list[str]]:
    """Baseline 1: ``alias in text.lower()`` for every alias (no folding, no boundaries)."""
    aliases = _lower_aliases()

    def match(text: str) -> list[str]:
        lowered = text.lower()
        return [alias for alias in aliases if alias in lowered]

    return match


def raw_automaton() -> Callable[[str], list[str]]:
    """Baseline 2: pyahocorasick over lower-cased aliases on raw lower-cased text.

    The floor for any automaton approach: what ``find`` adds on top is the
    folding, word boundaries, acronym case and leftmost-longest resolution.
    """
    automaton = ahocorasick.Automaton()
    for alias in _lower_aliases():
        automaton.add_word(alias, alias)
    automaton.make_automaton()
    return lambda text: [alias for _, alias in automaton.iter(text.lower())]


def _lower_aliases() -> list[str]:
    """Every spelling in seeds/actors.toml, lower-cased (read directly: the
    gazetteer keeps its actors private)."""
    with default_path().open("rb") as handle:
        actors = tomllib.load(handle)["actor"]
    keys = ("name", "aliases", "short")
    return sorted({a.lower() for actor in actors for key in keys for a in _as_list(actor.get(key, []))})


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def time_matchers(matchers: dict[str, Callable[[str], Any]], texts: Sequence[str], rounds: int) -> dict[str, float]:
    """Best-of-``rounds`` articles/s per matcher, matchers interleaved per round
    so machine noise hits all alike."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, match in matchers.items():
            started = time.perf_counter()
            for text in texts:
                match(text)
            rate = len(texts) / (time.perf_counter() - started)
            best[name] = max(best.get(name, 0.0), rate)
    return best


def speed_table(rates: dict[str, float], texts: Sequence[str]) -> str:
    mb = sum(len(text.encode("utf-8")) for text in texts) / 1e6
    base = rates["Gazetteer.find"]
    rows = [(name, f"{rate:,.0f}", f"{rate * mb / len(texts):.2f}", f"{base / rate:.2f}")
            for name, rate in rates.items()]
    return md_table(("matcher", "articles/s", "MB/s", "find articles/s ÷ this"), rows)


# --- report ----------------------------------------------------------------------------------


def report(gazetteer: Gazetteer, reuters: list[Record], speed_texts: list[str], args: argparse.Namespace,
           argv: Sequence[str]) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## {now} — `python bench/actors.py{' ' + ' '.join(argv) if argv else ''}`", ""]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    lines += [f"- gazetteer: {len(gazetteer)} actors (seeds/actors.toml, working tree)", ""]
    lines += _reuters_section(gazetteer, reuters)
    lines += _fixture_section(gazetteer)
    lines += _speed_section(gazetteer, speed_texts, args.rounds)
    return "\n".join(lines) + "\n"


def _reuters_section(gazetteer: Gazetteer, records: list[Record]) -> list[str]:
    predicted = [gazetteer.find(article_text(record)) for record in records]
    docs, people = unscored_people(gazetteer, predicted)
    return [
        f"### Reuters-21578 part ({len(records):,} stories, 1987): document-level tags", "",
        reuters_table(score_reuters(gazetteer, predicted, records)), "",
        "- Predicted = `find(title + body)` of the tag's actor type, restricted to the mapped actor ids; gold = the",
        "  story's tags mapped by the table in bench/actors.py. Unmapped tags (IMF, OPEC, Reagan, …) are left out of",
        "  P/R; their share is the coverage column. People: no tag maps, so nothing can be scored.",
        "- The tags index what a story is *about*, not what it mentions: a passing \"U.S. banks\" or \"the UN in",
        "  Geneva\" is untagged (precision is a lower bound), and most `usa` stories (earnings, commodities) never",
        "  name the country at all (recall is bounded by that). Real errors also hide here, e.g. the ticker",
        "  `<UN.AS>` (Unilever) read as the UN.",
        f"- Unscored: {docs:,} Reuters stories get a person from `find`; commonest: {people}.", "",
    ]


def _fixture_section(gazetteer: Gazetteer) -> list[str]:
    articles = load_fixtures()
    return [
        f"### Project fixtures ({len(articles)} articles, tests/fixtures/actors/): mention-level gold per article", "",
        fixture_table(articles, score_fixtures(gazetteer, articles)), "",
        "Disagreements (gold vs `find`):", "", *fixture_misses(gazetteer, articles), "",
    ]


def _speed_section(gazetteer: Gazetteer, texts: list[str], rounds: int) -> list[str]:
    matchers = {"Gazetteer.find": gazetteer.find, "pyahocorasick, raw lower-cased text": raw_automaton(),
                "`alias in text.lower()` loop": naive_matcher()}
    rates = time_matchers(matchers, texts, rounds)
    return [
        f"### Speed ({len(texts):,} corpus articles spread over all outlets, title + body, best of {rounds})", "",
        speed_table(rates, texts), "",
        "- Single process, gazetteer built before timing. The baselines neither fold, check word boundaries nor",
        "  resolve overlaps, so they are floors for the work, not equivalent matchers.", "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--speed-limit", type=int, default=5000, metavar="N", help="articles timed (default 5000)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds, best kept (default 3)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = parser.parse_args(argv)
    records = read_records(find_corpus(), None)
    gazetteer = load_gazetteer()
    reuters = [record for record in records if record.get("outlet") == "Reuters"]
    speed_texts = [article_text(record) for record in spread(records, args.speed_limit)]
    section = report(gazetteer, reuters, speed_texts, args, argv)
    print(section)
    append_results(args.out, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
