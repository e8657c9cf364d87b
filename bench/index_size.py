"""What a Newsdesk index holds, field by field, and what writing it costs, against raw Whoosh on the same texts.

Not a test. Enriches N articles of the shared corpus once (untimed: enrichment
is not the index stage), then builds, batch by batch in turn (the order
alternating), a Newsdesk index through ``write_articles`` and the raw Whoosh
baseline of bench/ingest_search.py (title and body stored, Whoosh's stemming
analyzer with positions, outlet sortable), each batch one commit. Times are
CPU seconds of this process (``time.process_time``), so other work on the
machine weighs less; both indexes share every burst of load.

Reported, and appended to bench/RESULTS.md:

* index-stage CPU per article, Newsdesk and raw, and their ratio;
* size on disk, segment count, and the same after merging each index to one
  segment (``--optimized``), which takes the number of segments out of the
  comparison;
* per field: terms (one per segment holding the term), the term-table bytes
  of its entries (key and term info; the table's hash slots come on top),
  postings bytes (a twin's postings shared with its stemmed field counted
  once, with the stemmed field), stored bytes (what leaving the field out of
  each document's compressed stored record would save) and column bytes.

    .venv/bin/python bench/index_size.py                     # 8,000 articles
    .venv/bin/python bench/index_size.py --limit 24000 --optimized
    .venv/bin/python bench/index_size.py --limit 2000 --profile   # and the top of a cProfile of write_articles
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import logging
import pickle
import pstats
import shlex
import shutil
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from ingest_search import (
    add_raw,
    create_raw_index,
    find_corpus,
    machine,
    md_table,
    read_records,
    to_article,
)
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.filedb.filestore import FileStorage
from whoosh.index import FileIndex
from whoosh.reading import SegmentReader

from search.enrich import enrich, load_gazetteer
from search.index import create_index, open_index, write_articles
from search.index.writer import open_writer
from search.records import Article
from search.settings import Settings

log = logging.getLogger("bench")
DEFAULT_OUT = REPO / "bench" / "RESULTS.md"
_ENTRY_OVERHEAD = 8  # the term table's two length words per entry


@dataclass
class Layout:
    """One index's bytes: files, and per field terms, term-table entries, postings, stored, columns."""

    megabytes: float = 0.0
    segments: int = 0
    documents: int = 0
    files: Counter[str] = field(default_factory=Counter)
    terms: Counter[str] = field(default_factory=Counter)
    term_bytes: Counter[str] = field(default_factory=Counter)
    postings: Counter[str] = field(default_factory=Counter)
    stored: Counter[str] = field(default_factory=Counter)
    columns: Counter[str] = field(default_factory=Counter)

    def fields(self) -> list[str]:
        every = self.term_bytes + self.postings + self.stored + self.columns
        return [name for name, _ in every.most_common()]



def layout(path: Path) -> Layout:
    """Walk every segment of the index in ``path``: its files, its term table, its postings and stored records."""
    storage = FileStorage(str(path))
    toc = FileIndex(storage)._read_toc()
    found = Layout(megabytes=sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6,
                   segments=len(toc.segments))
    for segment in toc.segments:
        found.documents += segment.doc_count()
        files = segment.open_compound_file(storage) if segment.is_compound() else storage
        prefix = segment.segment_id()
        for name in files.list():
            if not name.startswith(prefix):
                continue
            extension, size = name[len(prefix):], files.file_length(name)
            if extension.endswith(".col"):
                column = extension[1:-4]
                found.columns["(stored record)" if column == "_stored" else column.strip("_")] += size
            else:
                found.files[extension] += size
        reader = SegmentReader(storage, toc.schema, segment)
        try:
            _terms(reader, found)
            _stored(reader, found)
        finally:
            reader.close()
    return found


def _terms(reader: SegmentReader, found: Layout) -> None:
    terms = reader._terms  # Whoosh's W3 term table: (field, term) → term info
    extents: set[tuple[int, int]] = set()
    # Stemmed fields first, so a twin's shared postings count with the field that wrote them.
    entries = sorted(terms._tindex.items(), key=lambda item: terms._keydecoder(item[0])[0].endswith("_words"))
    for key, value in entries:
        name = terms._keydecoder(key)[0]
        found.terms[name] += 1
        found.term_bytes[name] += len(key) + len(value) + _ENTRY_OVERHEAD
        info = W3TermInfo.from_bytes(value)
        if info.is_inlined():
            continue
        offset, length = info.extent()
        length = length[0] if isinstance(length, tuple) else length  # Whoosh's reader gives a 1-tuple
        if (offset, length) not in extents:
            extents.add((offset, length))
            found.postings[name] += length


def _stored(reader: SegmentReader, found: Layout) -> None:
    """Each field's share of the compressed stored records: the record's size less its size without the field."""
    for docnum in range(reader.doc_count_all()):
        record = reader.stored_fields(docnum)
        whole = len(zlib.compress(pickle.dumps(record, 2), 3))  # as Whoosh's stored column writes it
        for name in record:
            rest = {other: value for other, value in record.items() if other != name}
            found.stored[name] += whole - len(zlib.compress(pickle.dumps(rest, 2), 3))


@dataclass
class Build:
    articles: int = 0
    newsdesk_cpu: float = 0.0
    raw_cpu: float = 0.0
    newsdesk_documents: int = 0


def build(articles: list[Article], root: Path, profile: cProfile.Profile | None) -> tuple[Settings, Path, Build]:
    settings = Settings(index=root / "newsdesk", facet_cache_size=0)
    create_index(settings)
    raw_path = root / "raw"
    raw = create_raw_index(raw_path)
    timed = Build(articles=len(articles))
    batch = settings.batch_size

    def newsdesk(chunk: list[Article]) -> None:
        start = time.process_time()
        if profile:
            profile.enable()
        report = write_articles(chunk, settings)
        if profile:
            profile.disable()
        timed.newsdesk_cpu += time.process_time() - start
        timed.newsdesk_documents += report.added + report.updated

    def plain(chunk: list[Article]) -> None:
        start = time.process_time()
        add_raw(raw, chunk)
        timed.raw_cpu += time.process_time() - start

    for n, at in enumerate(range(0, len(articles), batch)):
        chunk = articles[at:at + batch]
        for step in (newsdesk, plain) if n % 2 == 0 else (plain, newsdesk):
            step(chunk)
        if n % 10 == 9:
            log.info("indexed %d/%d", at + len(chunk), len(articles))
    return settings, raw_path, timed


def optimized(settings: Settings, raw_path: Path, root: Path) -> tuple[Layout, Layout, float, float]:
    """Both indexes merged to one segment (copies), with the CPU each merge took."""
    newsdesk_copy, raw_copy = root / "newsdesk-optimized", root / "raw-optimized"
    shutil.copytree(settings.index, newsdesk_copy)
    shutil.copytree(raw_path, raw_copy)
    copy = Settings(index=newsdesk_copy)
    start = time.process_time()
    writer = open_writer(open_index(copy), copy.write_timeout, limitmb=128)
    writer.commit(optimize=True)
    newsdesk_s = time.process_time() - start
    start = time.process_time()
    FileIndex(FileStorage(str(raw_copy))).writer().commit(optimize=True)
    raw_s = time.process_time() - start
    return layout(copy.index_dir), layout(raw_copy), newsdesk_s, raw_s


def render(args: argparse.Namespace, argv: list[str], timed: Build, ours: Layout, raw: Layout,
           merged: tuple[Layout, Layout, float, float] | None, profile_text: str) -> str:
    info = machine()
    per_ours = 1000 * timed.newsdesk_cpu / timed.articles
    per_raw = 1000 * timed.raw_cpu / timed.articles
    lines = [
        (f"## Index size and index-stage time — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — "
         f"`python {shlex.join(['bench/index_size.py', *argv])}`"),
        "",
        *([f"- {args.note}", ""] if args.note else []),
        (f"Machine: {info['host']}, {info['CPU']}, {info['cores']} cores, {info['RAM']}, Python {info['Python']}, "
         f"Whoosh {info['Whoosh']}, load {info['load average at start']}. {timed.articles:,} articles of the shared "
         f"corpus, enriched once (untimed), then indexed {Settings().batch_size} per commit into both indexes in "
         "turn, the order alternating; CPU time of this process."),
        "",
        md_table(["index", "articles written", "CPU s", "CPU ms / article", "MB", "segments"], [
            ("Newsdesk `write_articles`", f"{timed.newsdesk_documents:,}", f"{timed.newsdesk_cpu:.1f}",
             f"{per_ours:.2f}", f"{ours.megabytes:.1f}", ours.segments),
            ("raw Whoosh (bench/ingest_search.py's baseline)", f"{timed.articles:,}", f"{timed.raw_cpu:.1f}",
             f"{per_raw:.2f}", f"{raw.megabytes:.1f}", raw.segments),
        ]),
        "",
        f"- Newsdesk / raw: CPU per article **{per_ours / per_raw:.2f}**, size **{ours.megabytes / raw.megabytes:.2f}**",
    ]
    if merged:
        ours_one, raw_one, ours_s, raw_s = merged
        lines.append(
            f"- merged to one segment each: Newsdesk {ours_one.megabytes:.1f} MB, raw {raw_one.megabytes:.1f} MB, "
            f"**{ours_one.megabytes / raw_one.megabytes:.2f}** (merge CPU {ours_s:.1f} s against {raw_s:.1f} s)")
    lines += ["", "Files, MB: " + "; ".join(
        f"{name} Newsdesk {ours.files[ext] / 1e6:.2f}, raw {raw.files[ext] / 1e6:.2f}"
        for name, ext in (("term tables (.trm)", ".trm"), ("postings (.pst)", ".pst")))
        + f"; columns with stored records Newsdesk {sum(ours.columns.values()) / 1e6:.2f}, "
          f"raw {sum(raw.columns.values()) / 1e6:.2f}.", ""]
    rows = []
    for name in ours.fields():
        rows.append((f"`{name}`", _pair(ours.terms[name], raw.terms[name], "{:,}"),
                     *(_pair(getattr(ours, part)[name], getattr(raw, part)[name], "{:.2f}", 1e6)
                       for part in ("term_bytes", "postings", "stored", "columns"))))
    lines += [("Per field, Newsdesk / raw Whoosh where raw has the field (MB; term-table entries without the "
               "table's hash slots; stored: the field's share of the compressed records):"), "",
              md_table(["field", "terms", "term entries", "postings", "stored", "column"], rows)]
    if profile_text:
        lines += ["", "Top of the profile of `write_articles` (cumulative):", "", "```", profile_text.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def _pair(ours: int, raw: int, form: str, unit: float | None = None) -> str:
    if not ours and not raw:
        return ""

    def shown(value: int) -> str:
        return form.format(value / unit if unit else value)

    return shown(ours) + (" / " + shown(raw) if raw else "")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=8000, help="articles spread evenly over the corpus")
    parser.add_argument("--optimized", action="store_true", help="also compare both indexes merged to one segment")
    parser.add_argument("--profile", action="store_true", help="profile write_articles (slows it: ratio off)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--note", default="", help="a line saying what was measured (e.g. which commit)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    gazetteer = load_gazetteer()
    articles = [enrich(to_article(record), gazetteer, 0) for record in read_records(find_corpus(), args.limit)]
    profile = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory(prefix="newsdesk-index-size-") as tmp:
        root = Path(tmp)
        settings, raw_path, timed = build(articles, root, profile)
        log.info("measuring the layout")
        ours, raw = layout(settings.index_dir), layout(raw_path)
        merged = optimized(settings, raw_path, root) if args.optimized else None
    profile_text = ""
    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
        profile_text = "\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip())
    text = render(args, argv, timed, ours, raw, merged, profile_text)
    with args.out.open("a", encoding="utf-8") as results:
        results.write("\n" + text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
