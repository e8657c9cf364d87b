"""Query fuzzing campaign: many generated queries through the real web app, counted by answer.

Not a test (``make test`` never runs it): a long run done by hand after a
change to query parsing, to find what the suite's property tests
(tests/test_query_fuzz.py) are too short to meet.

    .venv/bin/python bench/fuzz_queries.py                       # 100,000 queries, 3,000 corpus articles
    .venv/bin/python bench/fuzz_queries.py --queries 5000 --articles 500   # a smoke run
    .venv/bin/python bench/fuzz_queries.py --out /tmp/results.md

The index is built through the project's own path (corpus record →
``Article`` → ``enrich`` → ``write_articles``, as bench/ingest_search.py
does) from the shared corpus, or from seeds/articles when it is absent.
Each query goes through Flask's test client to ``/api/search`` (mostly),
``/`` or ``/search.atom`` with random paging, sorting and facet parameters,
some repeated. Every answer is counted by status; a 5xx, an exception
logged by the app, a parser failure caught by its safety net
(``the query parser failed``), a 4xx without a hint or an answer slower
than the time limit plus a second is recorded with its URL in a JSON lines
file, and the figures are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from ingest_search import find_corpus, machine, read_records, to_article

from search.enrich import enrich, load_gazetteer
from search.index import write_articles
from search.ingest import ingest
from search.settings import Settings

SEED = 13
FIELDS = ("title", "body", "author", "outlet", "actor", "year", "language", "published", "url", "id", "cluster",
          "Title", "PUBLISHED", "color", "title_words", "body_words", "x", "_", "q")
OPERATORS = ("AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "and", "or", "not", "+", "-", "&&", "||", "!")
PUNCT = list("()[]{}\"'*?~^:<>=!+-/\\|&,;.@#$%`") + ["<=", ">=", "=>", "=<", " to ", " TO ", "*:*", "**", "?*"]
DATES = ("2018", "2018-09", "2018-09-14", "20180914", "201809", "2018-13", "2018-02-30", "0000", "9999", "99999",
         "2018-9-1", "18-09-14", "2018/09/14", "2018-09-14T10:00", "yesterday", "a", "x", "-1", "2018.09")
UNICODE = "ЛавровДачићđčćžšçëñßøæœıİ̇ΣσςЯ語中文😀\u200b\u00a0\u0301\ufeff\u202e\U0010ffff\x00\x7f\t\n\r"
PARAMS = ("page", "per_page", "facet_limit", "sort")
ODD_NUMBERS = ("0", "1", "2", "10", "100", "101", "1000", "1001", "-1", "1e3", "x", "", " 3", "3.5", "99999999999999999999",
               "١٢", "0x10")


class Generator:
    """Random queries over a vocabulary of the corpus's own words, syntax and garbage."""

    def __init__(self, words: list[str], outlets: list[str], rng: random.Random) -> None:
        self.words, self.outlets, self.rng = words, outlets, rng

    def word(self) -> str:
        r = self.rng.random()
        if r < 0.7:
            return self.rng.choice(self.words)
        if r < 0.85:
            return "".join(self.rng.choice(UNICODE) for _ in range(self.rng.randint(1, 4)))
        return "".join(_char(self.rng.randint(1, 0x2FFFF)) for _ in range(self.rng.randint(1, 3)))

    def wildcard(self) -> str:
        w = self.rng.choice(self.words)
        cut = self.rng.randint(0, len(w))
        return self.rng.choice([w[:cut] + "*", w[:cut] + "?" + w[cut + 1:], "*" + w[cut:], w[:cut] + "*" + w[cut:],
                                "?" * self.rng.randint(1, 4), "*", w + "~", w + "~2", w + "^3"])

    def date(self) -> str:
        d = self.rng.choice(DATES)
        r = self.rng.random()
        if r < 0.4:
            return f"published:{d}"
        if r < 0.7:
            other = self.rng.choice((*DATES, ""))
            to = self.rng.choice((" to ", " TO ", " ", "to", " - "))
            b1, b2 = self.rng.choice("[{"), self.rng.choice("]}")
            return f"published:{b1}{self.rng.choice((d, ''))}{to}{other}{b2}"
        rel = self.rng.choice(("<", ">", "<=", ">=", "=<", "=>", "=", "<>", "><"))
        return f"published:{rel}{self.rng.choice((d, '', ' ' + d))}"

    def atom(self, depth: int) -> str:
        r = self.rng.random()
        if r < 0.35:
            return self.word()
        if r < 0.5:
            return self.wildcard()
        if r < 0.6:
            return self.date()
        if r < 0.7:
            return f"{self.rng.choice(FIELDS)}:{self.rng.choice((self.word(), self.wildcard(), '', self.date()))}"
        if r < 0.78:
            return '"' + " ".join(self.word() for _ in range(self.rng.randint(0, 4))) + self.rng.choice(('"', '"~2', ""))
        if r < 0.86 and depth < 6:
            return "(" + self.query(depth + 1) + self.rng.choice((")", ")", ")", "", "))"))
        if r < 0.93:
            return self.rng.choice(OPERATORS)
        return self.rng.choice(PUNCT)

    def query(self, depth: int = 0) -> str:
        r = self.rng.random()
        if depth == 0 and r < 0.02:
            return self.rng.choice(("(" * 300 + "a" + ")" * 300, "a " * 600, "x" * 1001, "a* " * 300, "*", "",
                                    " ".join(self.rng.choice(OPERATORS) for _ in range(50)), "NOT " * 100 + "a"))
        parts = [self.atom(depth) for _ in range(self.rng.randint(1, 6))]
        return self.rng.choice((" ", " ", "", "  ")).join(parts)

    def url(self) -> str:
        path = self.rng.choices(("/api/search", "/", "/search.atom"), weights=(8, 1, 1))[0]
        params: list[tuple[str, str]] = [("q", self.query())]
        if self.rng.random() < 0.1:
            params.append(("q", self.query()))  # repeated: the first one counts
        for name in PARAMS:
            if self.rng.random() < 0.15:
                value = self.rng.choice(("relevance", "date", "random", "")) if name == "sort" else \
                    self.rng.choice(ODD_NUMBERS)
                params.append((name, value))
        for facet in ("outlet", "year", "language", "actor"):
            if self.rng.random() < 0.08:
                params.append((facet, self.rng.choice((*self.outlets, "2018", "unknown", "en", "Q58217", "", "\x00"))))
        url = f"{path}?{urlencode(params)}"
        if self.rng.random() < 0.01:
            url += "&q=%ff%fe%c0" if self.rng.random() < 0.5 else "&page=%00"  # not UTF-8, or a NUL
        return url


def _char(code: int) -> str:
    """The character, or U+FFFD for a surrogate (no client can send one in UTF-8)."""
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)


def build_index(root: Path, articles: int) -> tuple[Settings, list[str], list[str]]:
    """An index of ``articles`` corpus articles (the seeds without the corpus); its title words and outlets."""
    settings = Settings(index=root / "instance")
    try:
        records = read_records(find_corpus(), articles)
    except SystemExit as missing:
        print(f"{missing}; fuzzing over the seeds instead", file=sys.stderr)
        ingest([REPO / "seeds" / "articles"], settings, progress=False)
        records = []
    else:
        gazetteer = load_gazetteer()
        write_articles((enrich(to_article(r), gazetteer, 0) for r in records), settings)
    titles = [r.get("title") or "" for r in records] or ["Kosovo Lavrov Serbia negotiations Thaçi Дачић"]
    words = sorted({w.strip(".,:;!?\"'()") for t in titles for w in t.split() if len(w) > 1})
    outlets = sorted({r.get("outlet") or "unknown" for r in records}) or ["RksNews"]
    return settings, words, outlets


class Recorder(logging.Handler):
    """Keeps every log record at WARNING or above: exceptions and parser failures."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def campaign(settings: Settings, gen: Generator, queries: int, failures_path: Path,
             until: dt.datetime | None = None) -> dict[str, Any]:
    from web import create_app

    app = create_app({"TESTING": False, "NEWSDESK_SETTINGS": settings})
    client = app.test_client()
    recorder = Recorder()
    logging.getLogger().addHandler(recorder)
    statuses: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    slowest: list[tuple[float, int, str]] = []
    hang_after = settings.search_time_limit + 1.0
    started = time.monotonic()
    with failures_path.open("w", encoding="utf-8") as failures:
        done = 0
        for n in range(1, queries + 1):
            if until is not None and dt.datetime.now(dt.UTC) >= until:
                break
            done = n
            url = gen.url()
            del recorder.records[:]
            t0 = time.monotonic()
            response = client.get(url)
            took = time.monotonic() - t0
            statuses[response.status_code] += 1
            slowest = sorted([*slowest, (took, response.status_code, url)], reverse=True)[:10]
            problems = _problems(response, took, hang_after, recorder.records)
            for kind, detail in problems:
                kinds[kind] += 1
                failures.write(json.dumps({"kind": kind, "url": url, "status": response.status_code,
                                           "seconds": round(took, 3), "detail": detail}, ensure_ascii=False) + "\n")
                failures.flush()
            if n % 1000 == 0:
                rate = n / (time.monotonic() - started)
                print(f"{n} queries, {rate:.0f}/s, statuses {dict(statuses)}, problems {dict(kinds)}", flush=True)
    logging.getLogger().removeHandler(recorder)
    return {"queries": done, "asked": queries, "statuses": statuses, "problems": kinds, "slowest": slowest,
            "seconds": time.monotonic() - started}


def _problems(response: Any, took: float, hang_after: float, logged: list[logging.LogRecord]) -> list[tuple[str, str]]:
    found = []
    if response.status_code >= 500:
        found.append(("5xx", response.get_data(as_text=True)[:300]))
    for record in logged:
        kind = "parser safety net" if "query parser failed" in record.getMessage() else "logged error"
        text = logging.Formatter().formatException(record.exc_info) if record.exc_info else record.getMessage()
        found.append((kind, text[-1500:]))
    if 400 <= response.status_code < 500 and response.is_json and not (response.get_json() or {}).get("hint"):
        found.append(("4xx without hint", response.get_data(as_text=True)[:300]))
    if took > hang_after:
        found.append(("slow", f"{took:.1f} s"))
    return found


def render(figures: dict[str, Any], setup: dict[str, Any]) -> str:
    statuses = ", ".join(f"{code}: {count:,}" for code, count in sorted(figures["statuses"].items()))
    problems = ", ".join(f"{kind}: {count:,}" for kind, count in figures["problems"].most_common()) or "none"
    lines = [
        f"\n## Query fuzzing — {setup['date']}\n",
        (f"Machine: {setup['machine']}. Index: {setup['index']}. Seed {setup['seed']}; "
        f"time limit {setup['time_limit']:g} s. `bench/fuzz_queries.py --queries {figures['queries']}`.\n"),
        (f"- {figures['queries']:,} queries in {figures['seconds']:.0f} s "
        f"({figures['queries'] / figures['seconds']:.0f}/s) through the Flask test client "
        "(/api/search 80%, / 10%, /search.atom 10%)"),
        f"- statuses: {statuses}",
        f"- problems (5xx, logged errors, parser safety net, 4xx without hint, slower than the limit + 1 s): {problems}",
        "- slowest answers:",
    ]
    lines += [f"  - {took:.2f} s, {status}: `{url[:160]}`" for took, status, url in figures["slowest"][:5]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=3000, help="corpus articles to index (spread over the file)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--until", type=dt.datetime.fromisoformat, default=None, metavar="ISO-TIME",
                        help="stop asking at this moment (UTC, e.g. 2026-12-04T18:20) and report what was done")
    parser.add_argument("--failures", type=Path, default=Path(tempfile.gettempdir()) / "fuzz_queries_failures.jsonl")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="fuzz-queries-") as tmp:
        t0 = time.monotonic()
        settings, words, outlets = build_index(Path(tmp), args.articles)
        print(f"index built in {time.monotonic() - t0:.0f} s; {len(words)} title words", flush=True)
        gen = Generator(words, outlets, random.Random(args.seed))
        until = args.until.replace(tzinfo=dt.UTC) if args.until and args.until.tzinfo is None else args.until
        figures = campaign(settings, gen, args.queries, args.failures, until)
    info = machine()
    setup = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
             "machine": f"{info['host']}, {info['CPU']}, {info['cores']} cores, {info['RAM']}, Python {info['Python']}, "
                        f"load {info['load average at start']}",
             "index": f"{args.articles:,} articles of the shared corpus" if words else "the seeds",
             "seed": args.seed, "time_limit": settings.search_time_limit}
    text = render(figures, setup)
    with args.out.open("a", encoding="utf-8") as out:
        out.write(text)
    print(text)
    print(f"problems recorded in {args.failures}")
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
