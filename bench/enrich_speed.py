#!/usr/bin/env python3
"""Benchmark: the clean and enrich stages of ingest, old code against new, and against raw Whoosh.

What ``newsdesk ingest`` does to a file before the index writes it: decode
the bytes (``received_page``), clean the page (``clean``: the plain-text
cleaner, the date, and the language, which the cleaner detects), then enrich
it (``enrich``: actors, the MinHash fingerprint; the language only when the
cleaner left it open). ``Pipeline.process`` is the unit: clean + enrich.

Corpus records (the shared ``news-24k.jsonl.gz``, spread evenly by
``--limit``) are made into ``.txt`` pages as a plain-text dump of each
article would be: the title, a blank line, the body's paragraphs separated
by blank lines (Reuters' hard-wrapped lines joined into their paragraphs;
``--as-is`` keeps them, and the cleaner then finds no paragraph in many
wire stories); outlet, date and URL ride along as a manifest's hints would.
The enrich stage is also timed as ``bench/ingest_search.py`` feeds it: an
``Article`` made straight from the record, language not yet known.

Two worker processes run the stages: one imports ``search`` from this
checkout, one from ``--old PATH`` (a checkout, e.g. ``git worktree add``
of main) or ``--old-rev REV`` (exported with ``git archive``). Batch by
batch, each stage runs in one and then the other, in alternating order, so
machine noise falls on both alike; each worker measures its own CPU time
(``time.process_time``), not wall time. Raw Whoosh (title and body stored,
its ``StemmingAnalyzer``, one writer, ``procs=1``, one commit per batch, as
in ``bench/ingest_search.py``) indexes the same records in the new worker,
interleaved the same way: it is the yardstick of issue 16's ingest target.

Every stage's output is compared article by article between old and new
(language, actors, MinHash, title, text, date, author, outlet, id, skip
reason); the run says how many differ and exits 1 if any does.
``--end-to-end`` also times ``ingest()`` itself (files on disk, manifest,
archive, index, alerts) in both workers against raw Whoosh.

Run: ``python bench/enrich_speed.py --old-rev main --limit 4000``. Prints a
Markdown section and appends it to ``bench/RESULTS.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import logging
import os
import pickle
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "RESULTS.md"
STAGES = ("decode", "clean", "language", "actors", "fingerprint", "enrich", "pipeline")
STAGE_NAMES = {
    "decode": "decode (bytes → RawPage)",
    "clean": "clean (incl. language)",
    "language": "  language (detect_language)",
    "actors": "  actors (Gazetteer.find)",
    "fingerprint": "  fingerprint (text_minhash)",
    "enrich": "enrich (record → Article, as ingest_search)",
    "pipeline": "**Pipeline.process (clean + enrich)**",
}


@dataclass(frozen=True)
class Page:
    """One corpus record as a ``.txt`` file and its manifest hints (plain data for the workers)."""

    name: str
    data: bytes
    outlet: str | None
    url: str | None
    date: str | None
    record: dict[str, Any]


def txt_page(record: dict[str, Any], as_is: bool) -> str:
    """The record as a plain-text dump: title, blank line, paragraphs."""
    title, body = record.get("title") or "", record.get("body") or ""
    if not as_is:
        # A line that opens with white space opens a paragraph (Reuters'
        # indented paragraphs, Lajmi.net's " \n "); other line breaks are wrapping.
        paragraphs = (" ".join(part.split()) for part in re.split(r"\n(?=\s)", body))
        body = "\n\n".join(p for p in paragraphs if p)
    return f"{title}\n\n{body}\n"


def pages_of(records: Sequence[dict[str, Any]], as_is: bool) -> list[Page]:
    return [
        Page(name=f"{record['id']}.txt", data=txt_page(record, as_is).encode(), outlet=record.get("outlet"),
             url=record.get("url"), date=record.get("date"), record=record)
        for record in records
    ]


# --- the worker: one process per checkout --------------------------------------------------------


class _Worker:
    """Runs the stages with the ``search`` package of one checkout, keeping
    each stage's products for the next (pages for clean, articles for enrich)."""

    def __init__(self, pages: list[Page], tmp: Path) -> None:
        from search.enrich import load_gazetteer
        from search.pipeline import load_pipeline
        from search.settings import Settings

        self.pages = pages
        self.tmp = tmp
        self.settings = Settings(index=tmp / "instance")
        self.gazetteer = load_gazetteer()
        self.pipeline = load_pipeline(self.settings, self.gazetteer, sources=())
        self.raw: list[Any] = [None] * len(pages)
        self.articles: list[Any] = [None] * len(pages)
        self.records = [_record_article(page.record) for page in pages]  # made untimed, as in ingest_search
        self.warm_up()

    def warm_up(self) -> None:
        """Load what a run loads once (langdetect's profiles, the gazetteer), untimed."""
        from search.decode import received_page

        for page in self.pages[:20]:
            raw = received_page(page.data, page.name, "text/plain")
            try:
                self.pipeline.process(raw)
            except Exception:  # noqa: BLE001, S110 - a skipped page warms up as well
                pass

    def run(self, stage: str, start: int, end: int) -> tuple[float, list[Any]]:
        method: Callable[[range], list[Any]] = getattr(self, f"stage_{stage}")
        begun = time.process_time()
        out = method(range(start, end))
        return time.process_time() - begun, out

    def stage_decode(self, indices: range) -> list[Any]:
        from search.decode import received_page
        from search.records import PageHints
        from search.timeparse import parse_iso

        for i in indices:
            page = self.pages[i]
            published = parse_iso(page.date)
            hints = PageHints(outlet=page.outlet, url=page.url, published=published,
                              published_source="manifest" if published else None)
            self.raw[i] = received_page(page.data, page.name, "text/plain", hints.url, hints)
        return [(self.raw[i].text, self.raw[i].unreadable) for i in indices]

    def stage_clean(self, indices: range) -> list[Any]:
        from search.clean import clean
        from search.errors import ExtractionError

        out = []
        for i in indices:
            try:
                self.articles[i] = clean(self.raw[i], self.settings, self.pipeline.outlets)
                out.append(_fields(self.articles[i]))
            except ExtractionError as e:
                self.articles[i] = None
                out.append(("skipped", e.message))
        return out

    def _cleaned(self, indices: range) -> Iterator[Any]:
        return (self.articles[i] for i in indices if self.articles[i] is not None)

    def stage_language(self, indices: range) -> list[Any]:
        from search.language import detect_language

        seed = self.settings.langdetect_seed
        return [detect_language(f"{a.title}\n\n{a.text}", None, seed) for a in self._cleaned(indices)]

    def stage_actors(self, indices: range) -> list[Any]:
        return [self.gazetteer.find(f"{a.title}\n\n{a.text}") for a in self._cleaned(indices)]

    def stage_fingerprint(self, indices: range) -> list[Any]:
        from search.fingerprint import text_minhash

        return [text_minhash(a.text) for a in self._cleaned(indices)]

    def stage_enrich(self, indices: range) -> list[Any]:
        from search.enrich import enrich

        seed = self.settings.langdetect_seed
        return [_fields(enrich(self.records[i], self.gazetteer, seed)) for i in indices]

    def stage_pipeline(self, indices: range) -> list[Any]:
        from search.errors import ExtractionError

        out = []
        for i in indices:
            try:
                out.append(_fields(self.pipeline.process(self.raw[i])))
            except ExtractionError as e:
                out.append(("skipped", e.message))
        return out

    def stage_raw(self, indices: range) -> list[Any]:
        """Raw Whoosh: the record's title and body, one writer, ``procs=1``, one commit."""
        writer = self._raw_index().writer(procs=1)
        for i in indices:
            record = self.pages[i].record
            writer.add_document(title=record.get("title") or "", body=record.get("body") or "",
                                outlet=record.get("outlet") or "unknown")
        writer.commit()
        return [None] * len(indices)

    def _raw_index(self) -> Any:
        from whoosh import fields, index
        from whoosh.analysis import StemmingAnalyzer

        path = self.tmp / "raw"
        if path.exists():
            return index.open_dir(str(path))
        path.mkdir()
        analyzer = StemmingAnalyzer(expression=r"\w+(\.?\w+)*")  # as bench/ingest_search.py
        schema = fields.Schema(title=fields.TEXT(stored=True, analyzer=analyzer),
                               body=fields.TEXT(stored=True, analyzer=analyzer),
                               outlet=fields.ID(stored=True, sortable=True))
        return index.create_in(str(path), schema)

    def stage_ingest(self, indices: range) -> list[Any]:
        """``ingest()`` over the batch's files, written to disk with a manifest (untimed)."""
        folder = self.tmp / f"files-{indices.start}"
        return self._ingest(folder) if folder.exists() else ["missing"]

    def _ingest(self, folder: Path) -> list[Any]:
        from search.ingest import ingest
        from search.sources import load_manifest

        manifest = load_manifest(folder / "manifest.toml", required=True)
        report = ingest([folder / "pages"], self.settings, manifest=manifest, gazetteer=self.gazetteer,
                        progress=False)
        files = len(list((folder / "pages").iterdir()))
        return [(report.added, len(report.skipped), len(report.failed))] + [None] * (files - 1)


def _record_article(record: dict[str, Any]) -> Any:
    """The ``Article`` that ``bench/ingest_search.py`` hands to ``enrich``."""
    import json

    from search.records import Article
    from search.timeparse import parse_iso
    from search.urls import article_id

    data = json.dumps(record, ensure_ascii=False).encode()
    return Article(id=article_id(record.get("url"), data), title=record.get("title") or "",
                   text=record.get("body") or "", origin=f"news-24k:{record['id']}", url=record.get("url"),
                   outlet=record.get("outlet"), author=record.get("author"), published=parse_iso(record.get("date")),
                   published_source="corpus" if record.get("date") else None)


def _fields(article: Any) -> tuple[Any, ...]:
    """Every field of an article, the text as a digest (what is compared between old and new)."""
    return (article.id, article.title, hashlib.sha256(article.text.encode()).hexdigest(), article.origin,
            article.url, article.outlet, article.author, str(article.published), article.published_source,
            article.language, tuple(article.actors), article.minhash, article.rejected)


def worker_main(root: str, tmp: str) -> None:
    """``--worker ROOT TMP``: import ``search`` from ROOT, then answer (stage, start, end) requests."""
    sys.path.insert(0, root)
    import search

    if not Path(search.__file__).resolve().is_relative_to(Path(root).resolve()):
        sys.exit(f"worker: search imported from {search.__file__}, not from {root}")
    logging.basicConfig(level=logging.ERROR)  # ingest logs every skipped file; the figures are the point here
    channel_in = os.fdopen(os.dup(0), "rb")
    channel_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, not into the channel
    pages: list[Page] = pickle.load(channel_in)
    state = _Worker(pages, Path(tmp))
    pickle.dump("ready", channel_out)
    channel_out.flush()
    while (request := pickle.load(channel_in)) is not None:
        pickle.dump(state.run(*request), channel_out)
        channel_out.flush()


# --- the parent -------------------------------------------------------------------------------------


@dataclass
class Side:
    """One worker process and the CPU seconds and docs it has spent per stage."""

    name: str
    root: Path
    process: subprocess.Popen[bytes]
    cpu: dict[str, float] = field(default_factory=dict)
    docs: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, list[Any]] = field(default_factory=dict)

    def ask(self, stage: str, start: int, end: int) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        _send(self.process.stdin, (stage, start, end))
        cpu, out = pickle.load(self.process.stdout)
        self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu
        self.docs[stage] = self.docs.get(stage, 0) + len(out)
        self.outputs.setdefault(stage, []).extend(out)

    def rate(self, stage: str) -> float:
        return self.docs[stage] / self.cpu[stage] if self.cpu.get(stage) else float("nan")


def _send(pipe: IO[bytes], message: object) -> None:
    pickle.dump(message, pipe)
    pipe.flush()


def start_worker(name: str, root: Path, pages: list[Page], tmp: Path) -> Side:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", str(root), str(tmp)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=root, env=env)
    assert process.stdin is not None and process.stdout is not None
    _send(process.stdin, pages)
    if pickle.load(process.stdout) != "ready":
        sys.exit(f"the {name} worker did not start")
    return Side(name, root, process)


def export_rev(rev: str, into: Path) -> Path:
    """The tree of ``rev`` (``git archive``), with the seeds it needs."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def write_ingest_folders(pages: list[Page], batches: list[tuple[int, int]], tmp: Path) -> None:
    """Each batch's files and a manifest giving their outlet, date and URL, for ``--end-to-end``."""
    for start, end in batches:
        folder = tmp / f"files-{start}"
        (folder / "pages").mkdir(parents=True)
        entries = []
        for page in pages[start:end]:
            (folder / "pages" / page.name).write_bytes(page.data)
            entry = [f'sha256 = "{hashlib.sha256(page.data).hexdigest()}"']
            entry += [f"{key} = {_toml_string(value)}" for key, value in
                      (("outlet", page.outlet), ("url", page.url), ("published", page.date)) if value]
            entries.append("[[article]]\n" + "\n".join(entry))
        (folder / "manifest.toml").write_text("\n\n".join(entries) + "\n", encoding="utf-8")


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def compare(old: Side, new: Side, stages: Sequence[str]) -> dict[str, int]:
    """Articles whose output differs between old and new, per stage; the first few are printed."""
    differences = {}
    for stage in stages:
        pairs = list(zip(old.outputs.get(stage, []), new.outputs.get(stage, []), strict=True))
        bad = [(i, a, b) for i, (a, b) in enumerate(pairs) if a != b]
        differences[stage] = len(bad)
        for i, a, b in bad[:3]:
            print(f"DIFFERENT {stage} #{i}:\n  old {a!r}\n  new {b!r}", file=sys.stderr)
    return differences


def run(args: argparse.Namespace) -> str:
    sys.path.insert(0, str(REPO / "bench"))
    from ingest_search import find_corpus, machine, md_table, read_records

    records = read_records(find_corpus(), args.limit or None)
    pages = pages_of(records, args.as_is)
    batches = [(start, min(start + args.batch, len(pages))) for start in range(0, len(pages), args.batch)]
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="enrich-speed-") as tmp_name:
        tmp = Path(tmp_name)
        old_root = Path(args.old).resolve() if args.old else export_rev(args.old_rev, tmp / "old-tree")
        for name in ("old", "new"):
            (tmp / name).mkdir()
            if args.end_to_end:
                write_ingest_folders(pages, batches, tmp / name)
        old = start_worker("old", old_root, pages, tmp / "old")
        new = start_worker("new", REPO, pages, tmp / "new")
        wall = time.perf_counter()
        try:
            for n, (start, end) in enumerate(batches):
                for stage in STAGES:
                    for side in (old, new) if n % 2 == 0 else (new, old):
                        side.ask(stage, start, end)
                    if stage == "pipeline":
                        new.ask("raw", start, end)
                if args.end_to_end:
                    for side in (old, new) if n % 2 == 0 else (new, old):
                        side.ask("ingest", start, end)
                print(f"batch {n + 1}/{len(batches)}: pipeline old {old.rate('pipeline'):.0f}/s, "
                      f"new {new.rate('pipeline'):.0f}/s, raw Whoosh {new.rate('raw'):.0f}/s", file=sys.stderr)
        finally:
            for side in (old, new):
                if side.process.stdin is not None:
                    _send(side.process.stdin, None)
                side.process.wait()
        wall = time.perf_counter() - wall
    differences = compare(old, new, STAGES)
    context = {
        "started": started, "command": " ".join(shlex.quote(a) for a in ["bench/enrich_speed.py", *sys.argv[1:]]),
        "machine": machine(), "wall": wall, "records": len(records), "old": args.old or f"git rev {args.old_rev}",
    }
    return render(old, new, differences, context, args, md_table)


def render(old: Side, new: Side, differences: dict[str, int], context: dict[str, Any],
           args: argparse.Namespace, md_table: Callable[..., str]) -> str:
    raw = new.rate("raw")
    rows = [
        (STAGE_NAMES[stage], f"{new.docs[stage]:,}", f"{old.rate(stage):,.0f}", f"{new.rate(stage):,.0f}",
         f"{new.rate(stage) / old.rate(stage):.2f}×", f"{1000 / old.rate(stage):.3f}", f"{1000 / new.rate(stage):.3f}",
         f"{differences[stage]}")
        for stage in STAGES
    ]
    rows.append(("raw Whoosh index (title + body)", f"{new.docs['raw']:,}", "", f"{raw:,.0f}", "", "",
                 f"{1000 / raw:.3f}", ""))
    per_doc = {side.name: side.cpu["pipeline"] / side.docs["pipeline"] for side in (old, new)}
    raw_per_doc = new.cpu["raw"] / new.docs["raw"]
    bound = {name: raw_per_doc / (raw_per_doc + t) for name, t in per_doc.items()}
    pages = "hard-wrapped as stored" if args.as_is else "paragraphs joined"
    lines = [
        f"## {context['started']:%Y-%m-%d %H:%M} UTC — `{context['command']}` (clean + enrich speed)",
        "\n".join(f"- {key}: {value}" for key, value in context["machine"].items()),
        (f"- {context['records']:,} corpus records as `.txt` pages ({pages}), batches of {args.batch}; "
         f"old code: {context['old']}; wall time {context['wall'] / 60:.1f} min"),
        ("- CPU time of each worker process (`time.process_time`), old and new interleaved batch by batch; "
         "raw Whoosh in the new worker, interleaved the same way"),
        "",
        md_table(("stage", "docs", "old docs/s", "new docs/s", "speed-up", "old ms/doc", "new ms/doc",
                  "outputs differing"), rows),
        "",
        (f"- clean + enrich (`Pipeline.process`): {per_doc['old'] * 1000:.2f} → **{per_doc['new'] * 1000:.2f} ms** "
         f"CPU an article ({per_doc['old'] / per_doc['new']:.2f}× faster); raw Whoosh indexes one in "
         f"{raw_per_doc * 1000:.2f} ms: clean + enrich ÷ raw Whoosh, articles/s: {raw_per_doc / per_doc['old']:.2f} "
         f"→ **{raw_per_doc / per_doc['new']:.2f}**"),
        (f"- ingest ÷ raw Whoosh if the index write cost no more than raw Whoosh's (raw ÷ (raw + clean + enrich)): "
         f"{bound['old']:.2f} → **{bound['new']:.2f}**"),
        f"- articles whose output differs between old and new, all stages: **{sum(differences.values())}**",
    ]
    if args.end_to_end:
        lines.append(
            f"- `ingest()` end to end (files, manifest, archive, clean, enrich, index, alerts): old "
            f"{old.rate('ingest'):,.0f}, new {new.rate('ingest'):,.0f} files/s; ÷ raw Whoosh: "
            f"{old.rate('ingest') / raw:.2f} → **{new.rate('ingest') / raw:.2f}**")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        worker_main(argv[1], argv[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=4000,
                        help="records, spread over the corpus (default 4000; 0: all 24,097)")
    parser.add_argument("--batch", type=int, default=500, help="records per batch (one raw Whoosh commit each)")
    old = parser.add_mutually_exclusive_group()
    old.add_argument("--old", help="a checkout of the old code (its search/ package is imported)")
    old.add_argument("--old-rev", default="main", help="a git revision of the old code, exported (default: main)")
    parser.add_argument("--as-is", action="store_true", help="keep the corpus' hard-wrapped lines in the pages")
    parser.add_argument("--end-to-end", action="store_true", help="also time ingest() of the files, both codes")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="append the section here")
    args = parser.parse_args(argv)
    section = run(args)
    print(section)
    with args.out.open("a", encoding="utf-8") as out:
        out.write("\n" + section)
    return 1 if "differs between old and new, all stages: **0**" not in section else 0


if __name__ == "__main__":
    sys.exit(main())
