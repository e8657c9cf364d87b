"""Benchmark: the cleaner against the anchors, on real pages with gold labels.

Runs ``search.clean.extract`` (body, title, date, author in one call) and,
in the same run over the same pages, the anchors the issue names:
trafilatura's ``extract`` (body), trafilatura's ``bare_extraction`` with
metadata (title, author, date) and htmldate's ``find_date(original_date=True)``
(date). Pages: ``data/pages/{aeb,wcxb,htmldate}`` in the shared directory
(``$NEWSDESK_SHARED`` or ``../shared``). Scored with the shared scorers
(``tools/eval_extraction.py``: 4-gram shingle P/R/F1, the AEB metric;
``tools/eval_metadata.py``: exact date day, title, author set), imported,
not copied. Appends a section to ``bench/RESULTS.md``.

    .venv/bin/python bench/extraction.py [--limit N] [--sets aeb,wcxb,htmldate] [--out FILE]

Timing is per page, wall clock, each extractor on the page in turn (so
machine noise hits all alike); the median is reported and the ratio to
trafilatura's body extraction in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from ingest_search import append_results, machine, md_table  # the sibling benchmark's report helpers

#: Body targets (F1) and date targets (accuracy) from the issue, per set.
BODY_TARGETS = {"aeb": 0.965, "wcxb": 0.945}
DATE_TARGETS = {"htmldate": 0.92, "wcxb": 0.86}
#: The time target: a median of 25 ms a page, stated where trafilatura took
#: about 16 ms; on another machine, 25/16 of trafilatura's median in the same run.
TIME_TARGET_MS, TIME_TARGET_RATIO = 25.0, 25.0 / 16.0
log = logging.getLogger("bench.extraction")
Extractor = Callable[[str, "str | None"], dict[str, Any]]


def shared_dir() -> Path:
    shared = os.environ.get("NEWSDESK_SHARED")
    base = Path(shared) if shared else REPO.parent / "shared"
    if not (base / "tools" / "eval_extraction.py").is_file():
        sys.exit(f"bench: shared data not found at {base}; set NEWSDESK_SHARED to the shared/ directory")
    return base


# --- the extractors, each returning the fields the scorers read -----------


def newsdesk(html: str, url: str | None) -> dict[str, Any]:
    from search.clean.cleaner import extract
    from search.errors import ExtractionError

    try:
        article = extract(html, url)
    except ExtractionError:
        return {"text": "", "title": None, "author": None, "date": None}
    return {"text": article.text, "title": article.title, "author": article.author, "date": article.published}


def trafilatura_body(html: str, url: str | None) -> dict[str, Any]:
    import trafilatura

    return {"text": trafilatura.extract(html, url=url) or ""}


def trafilatura_metadata(html: str, url: str | None) -> dict[str, Any]:
    import trafilatura

    found = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    doc = found.as_dict() if found is not None and not isinstance(found, dict) else (found or {})
    return {"title": doc.get("title"), "author": doc.get("author"), "date": doc.get("date")}


def htmldate_date(html: str, url: str | None) -> dict[str, Any]:
    from htmldate import find_date

    return {"date": find_date(html, original_date=True, url=url)}


EXTRACTORS: dict[str, Extractor] = {
    "newsdesk extract": newsdesk,
    "trafilatura extract": trafilatura_body,
    "trafilatura metadata": trafilatura_metadata,
    "htmldate": htmldate_date,
}


@dataclass
class SetRun:
    name: str
    pages: int
    outputs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # extractor → page → fields
    times: dict[str, list[float]] = field(default_factory=dict)


def run_set(data: Path, limit: int | None) -> SetRun:
    import eval_extraction as ee

    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)[:limit]
    run = SetRun(data.name, len(ids))
    for extractor in EXTRACTORS:
        run.outputs[extractor], run.times[extractor] = {}, []
    for n, key in enumerate(ids, start=1):
        html = ee.read_page(ee.find_page(data / "html", key))
        url = truth[key].get("url")
        for extractor, function in EXTRACTORS.items():
            started = time.perf_counter()
            run.outputs[extractor][key] = function(html, url)
            run.times[extractor].append(time.perf_counter() - started)
        if n % 100 == 0 or n == len(ids):
            log.info("%s: %d/%d pages", data.name, n, len(ids))
    return run


# --- scoring with the shared scorers ----------------------------------------


def body_scores(data: Path, run: SetRun) -> dict[str, dict[str, float]]:
    import eval_extraction as ee

    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    golds = {key: truth[key].get("articleBody") for key in run.outputs["newsdesk extract"]}
    scores = {}
    for extractor in ("newsdesk extract", "trafilatura extract"):
        predictions = {key: out.get("text") or "" for key, out in run.outputs[extractor].items()}
        scores[extractor] = ee.score(golds, predictions, 4, n_boot=0)
    return scores


def metadata_scores(data: Path, run: SetRun) -> dict[str, dict[str, dict[str, Any] | None]]:
    import eval_metadata as em

    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    keys = list(run.outputs["newsdesk extract"])
    scores: dict[str, dict[str, dict[str, Any] | None]] = {}
    for extractor in ("newsdesk extract", "trafilatura metadata", "htmldate"):
        scores[extractor] = {}
        for name in em.FIELDS:
            golds = {key: truth[key].get(name) for key in keys}
            if any(em.present(name, gold) for gold in golds.values()):
                scores[extractor][name] = em.score_field(name, run.outputs[extractor], golds)
    return scores


def median_ms(times: list[float]) -> float:
    return 1000 * statistics.median(times) if times else float("nan")


# --- report -------------------------------------------------------------------


def report(runs: list[SetRun], shared: Path, argv: list[str]) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## {now} — `python bench/extraction.py{' ' + ' '.join(argv) if argv else ''}`", ""]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    lines += [f"- pages: {', '.join(f'{run.name} {run.pages}' for run in runs)} (the development half in shared/)", ""]
    lines += ["### Body (4-gram shingle P/R/F1, the AEB metric)", "", _body_table(runs, shared), ""]
    lines += ["### Date, title, author (shared `eval_metadata` scorer)", "", _metadata_table(runs, shared), ""]
    lines += ["### Time per page", "", _time_table(runs), ""]
    lines += _verdicts(runs, shared)
    return "\n".join(lines) + "\n"


def _body_table(runs: list[SetRun], shared: Path) -> str:
    rows = []
    for run in runs:
        if run.name not in BODY_TARGETS:
            continue
        scores = body_scores(shared / "data" / "pages" / run.name, run)
        for extractor, s in scores.items():
            rows.append((f"{run.name}: {extractor}", f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"**{s['f1']:.3f}**",
                         s["empty_predictions"], f"{BODY_TARGETS[run.name]:.3f}" if extractor.startswith("newsdesk") else ""))
    return md_table(("set: extractor", "precision", "recall", "F1", "empty", "target"), rows)


def _metadata_table(runs: list[SetRun], shared: Path) -> str:
    rows = []
    for run in runs:
        scores = metadata_scores(shared / "data" / "pages" / run.name, run)
        for extractor, fields in scores.items():
            for name, s in fields.items():
                if s is None:
                    continue
                extra = f"{s['title_acc_sitestrip']:.3f}" if "title_acc_sitestrip" in s else ""
                rows.append((f"{run.name}: {extractor}", name, s["n_gold"], f"**{s['accuracy']:.3f}**",
                             f"{s['f1']:.3f}", f"{s['spurious']:.3f}", extra))
    return md_table(("set: extractor", "field", "gold", "accuracy", "F1", "spurious", "title acc. if a suffix may go"), rows)


def _time_table(runs: list[SetRun]) -> str:
    rows = []
    for run in runs:
        base = median_ms(run.times["trafilatura extract"])
        for extractor, times in run.times.items():
            ms = median_ms(times)
            rows.append((f"{run.name}: {extractor}", f"{ms:.1f}", f"{1000 * sum(times) / len(times):.1f}",
                         f"{ms / base:.2f}"))
    return md_table(("set: extractor", "median ms", "mean ms", "median ÷ trafilatura extract"), rows)


def _verdicts(runs: list[SetRun], shared: Path) -> list[str]:
    lines = []
    for run in runs:
        data = shared / "data" / "pages" / run.name
        if run.name in BODY_TARGETS:
            ours = body_scores(data, run)["newsdesk extract"]["f1"]
            lines.append(f"- {run.name} body F1 {ours:.3f} against target {BODY_TARGETS[run.name]:.3f}: "
                         f"**{'met' if ours >= BODY_TARGETS[run.name] else 'not met'}**")
        if run.name in DATE_TARGETS:
            date = metadata_scores(data, run)["newsdesk extract"].get("date")
            if date is not None:
                met = date["accuracy"] >= DATE_TARGETS[run.name]
                lines.append(f"- {run.name} date accuracy {date['accuracy']:.3f} against target "
                             f"{DATE_TARGETS[run.name]:.2f}: **{'met' if met else 'not met'}**")
        lines += _metadata_verdicts(run, data) + [_time_verdict(run)]
    return lines


def _metadata_verdicts(run: SetRun, data: Path) -> list[str]:
    """Title accuracy and author F1 against trafilatura's, where the set has them."""
    scores = metadata_scores(data, run)
    lines = []
    for name, measure in (("title", "accuracy"), ("author", "f1")):
        ours, theirs = scores["newsdesk extract"].get(name), scores["trafilatura metadata"].get(name)
        if ours and theirs and ours["n_gold"]:
            met = ours[measure] > theirs[measure]
            lines.append(f"- {run.name} {name} {measure} {ours[measure]:.3f} against trafilatura's "
                         f"{theirs[measure]:.3f}: **{'met' if met else 'not met'}**")
    return lines


def _time_verdict(run: SetRun) -> str:
    ms = median_ms(run.times["newsdesk extract"])
    ratio = ms / median_ms(run.times["trafilatura extract"])
    return (f"- {run.name} median {ms:.1f} ms against {TIME_TARGET_MS:.0f} ms: "
            f"**{'met' if ms <= TIME_TARGET_MS else 'not met'}**; {ratio:.2f}× trafilatura's median against "
            f"{TIME_TARGET_RATIO:.2f}×: **{'met' if ratio <= TIME_TARGET_RATIO else 'not met'}**")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="aeb,wcxb,htmldate", help="comma-separated page sets")
    parser.add_argument("--limit", type=int, help="only the first N pages of each set (a smoke run)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("trafilatura", "htmldate", "charset_normalizer"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    shared = shared_dir()
    sys.path.insert(0, str(shared / "tools"))
    runs = [run_set(shared / "data" / "pages" / name, args.limit) for name in args.sets.split(",")]
    section = report(runs, shared, argv)
    print(section)
    append_results(args.out, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
