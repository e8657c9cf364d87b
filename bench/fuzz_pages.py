"""The cleaner on damaged real pages: a campaign longer than the test suite's.

Not a test: it needs the shared pages (``$NEWSDESK_SHARED`` or ``../shared``,
``data/pages/*/html/*.html.gz``) and exits cleanly, saying so, without them.

    .venv/bin/python bench/fuzz_pages.py                  # 10,000 damaged pages
    .venv/bin/python bench/fuzz_pages.py --pages 500 --seed 7
    .venv/bin/python bench/fuzz_pages.py --replay 1234    # one case again, by its number

Each case takes one shared page in turn, damages it one to three ways
(tests/page_mutations.py: truncated, garbled, binary, mixed encodings, tag
soup, deep nesting …; the case number seeds the choice, so ``--replay N``
rebuilds case N exactly), serves it as HTML (nine in ten) or as plain text,
and runs the ingest's path on it: ``clean``, then ``enrich``. The outcome is an
article, or a skip with the cleaner's reason (``ExtractionError``, which the
ingest counts), or anything else: an exception that escaped, or an article
unfit for the index and the feeds (no text, characters XML does not allow, a
language without a name), listed with its page, mutations and case number. Each case is timed; the slowest are listed,
and a case cut off by ``clean_time_limit`` (a hang the timer caught) is counted
apart from other skips.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import random
import re
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from page_mutations import mutate

from search.clean.cleaner import _NOT_XML, clean
from search.decode import received_page
from search.enrich import enrich, load_gazetteer
from search.errors import ExtractionError
from search.language import LANGUAGE_NAMES
from search.records import Article
from search.settings import Settings


def _shared() -> Path:
    return Path(os.environ.get("NEWSDESK_SHARED") or ROOT.parent / "shared")


def _pages(shared: Path) -> list[tuple[str, bytes]]:
    files = sorted((shared / "data" / "pages").glob("*/html/*.html.gz"))
    return [(f"{f.parent.parent.name}/{f.name.removesuffix('.html.gz')}", gzip.decompress(f.read_bytes()))
            for f in files]


def _case(pages: list[tuple[str, bytes]], seed: int, number: int) -> tuple[str, bytes, str, list[str]]:
    rng = random.Random(f"{seed}:{number}")
    name, data = pages[number % len(pages)]
    damaged, mutations = mutate(data, rng, rng.choice((1, 1, 2, 3)))
    content_type = "text/html" if rng.random() < 0.9 else "text/plain"
    return name, damaged, content_type, mutations


def _reason_kind(reason: str) -> str:
    """A skip reason without its figures and details, to count like with like."""
    reason = re.sub(r"\d[\d,.]*", "N", reason.split(":")[0])
    return reason[:70]


def _unusable(article: Article) -> str | None:
    """What makes an article unfit for the index and the feeds, if anything."""
    fields = f"{article.title}{article.text}{article.author or ''}{article.outlet or ''}"
    if not article.text.strip():
        return "no text"
    if _NOT_XML.search(fields):
        return "characters XML does not allow"
    if article.language not in LANGUAGE_NAMES:
        return f"an unnamed language {article.language!r}"
    return None


def _raised_in(error: BaseException) -> str:
    """The file and line an exception came from: ours (search/) or a library's."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    ours = [f for f in frames if "/search/" in f.filename]
    last = frames[-1]
    where = f"{Path(last.filename).name}:{last.lineno} {last.name}"
    return where if not ours or ours[-1] is last else f"{where}, called from {Path(ours[-1].filename).name}:{ours[-1].lineno}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=10_000, help="damaged pages to clean (default 10,000)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--replay", type=int, help="run one case by its number and show its traceback")
    args = parser.parse_args()
    shared = _shared()
    pages = _pages(shared) if (shared / "data" / "pages").is_dir() else []
    if not pages:
        print(f"no shared pages under {shared}/data/pages (set NEWSDESK_SHARED): nothing to fuzz")
        return 0
    settings = Settings()
    gazetteer = load_gazetteer()
    numbers = [args.replay] if args.replay is not None else range(args.pages)
    outcomes: Counter[str] = Counter()
    skips: Counter[str] = Counter()
    mutation_counts: Counter[str] = Counter()
    escaped: list[str] = []
    contained: list[str] = []
    timings: list[tuple[float, str]] = []
    started = time.perf_counter()
    for done, number in enumerate(numbers, 1):
        name, data, content_type, mutations = _case(pages, args.seed, number)
        mutation_counts.update(mutations)
        label = f"case {number}: {name} ({content_type}, {len(data):,} bytes) after {' + '.join(mutations)}"
        start = time.perf_counter()
        try:
            article = enrich(clean(received_page(data=data, origin=name, content_type=content_type), settings),
                             gazetteer, settings.langdetect_seed)
            problem = _unusable(article)
            outcomes["article: " + problem if problem else "article"] += 1
            if problem:
                escaped.append(f"{label}: an article with {problem}")
        except ExtractionError as e:
            timed_out = "took longer than" in e.message
            outcomes["skip: time limit" if timed_out else "skip"] += 1
            skips[_reason_kind(e.message)] += 1
            if e.__cause__ is not None:  # a library's or our own exception, contained by the cleaner
                where = _raised_in(e.__cause__)
                contained.append(f"{label}: {e.message[:200]} (raised in {where})")
                if args.replay is not None:
                    traceback.print_exception(e.__cause__)
        except Exception as e:  # noqa: BLE001  (what the campaign looks for)
            outcomes["exception"] += 1
            escaped.append(f"{label}: {type(e).__name__}: {e}")
            if args.replay is not None:
                traceback.print_exc()
        timings.append((time.perf_counter() - start, label))
        if done % 500 == 0:
            print(f"… {done:,} pages, {outcomes['exception']} exceptions", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    timings.sort(reverse=True)
    ordered = sorted(t for t, _ in timings)
    median = ordered[len(ordered) // 2]
    print(f"Cleaner fuzz campaign ({time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}): {len(timings):,} damaged pages from {len(pages):,} shared pages, "
          f"seed {args.seed}, {elapsed:.0f} s")
    print("Outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items())))
    print("Skip reasons: " + "; ".join(f"{k} {v:,}" for k, v in skips.most_common()))
    print("Mutations applied: " + ", ".join(f"{k} {v:,}" for k, v in sorted(mutation_counts.items())))
    print(f"Time per page: median {median * 1e3:.0f} ms, 99th percentile "
          f"{ordered[int(len(ordered) * 0.99)] * 1e3:.0f} ms, slowest:")
    for seconds, label in timings[:5]:
        print(f"  {seconds:.2f} s  {label}")
    print(f"Exceptions the cleaner contained (skipped with their reason): {len(contained)}")
    for line in contained[:50]:
        print(f"  {line}")
    print(f"Exceptions that escaped, and unusable articles: {len(escaped)}")
    for line in escaped[:50]:
        print(f"  {line}")
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
