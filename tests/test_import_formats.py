"""Importing a collection: JSON Lines and CSV, gzipped or not, one article per record.

Every test writes its own collection, ingests it into a real instance
(Whoosh index and WARC archive in tmp_path) and reads what the index stored.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import json
import logging
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import SEED_ARTICLES, SHARED
from search.errors import SettingsError
from search.index import open_index
from search.ingest import ingest, reindex
from search.records import RECORD_TYPE, RawPage, StatedRecord
from search.settings import Settings
from search.sources import ReadCounts, field_map, open_inputs, read_files
from search.urls import article_id
from web.cli import main

CORPUS = SHARED / "data" / "corpus" / "news-24k.jsonl.gz"

LAVROV_EN = (
    "Russian Foreign Minister Sergey Lavrov met his Serbian counterpart in Belgrade on Friday. "
    "The two ministers discussed the dialogue between Belgrade and Pristina and the energy deal."
)
LAVROV_RU = (
    "Министр иностранных дел России Сергей Лавров встретился в пятницу в Белграде с сербским коллегой. "
    "Министры обсудили диалог между Белградом и Приштиной, а также энергетическое соглашение."
)
PRISTINA_SR = (
    "Ministar spoljnih poslova Srbije razgovarao je u Beogradu sa ruskim kolegom o dijalogu sa Prištinom. "
    "Sastanak je trajao dva sata, a ministri su potpisali plan konsultacija za narednu godinu."
)
#: A text the page-dump cleaner would cut: a headline-shaped first line, furniture words, no paragraph of 15 words.
TERSE = "Markets closed\nSubscribe to our newsletter for more.\nShares fell 2% on Friday."

RECORDS: list[dict[str, Any]] = [
    {"id": "a1", "title": "Lavrov in Belgrade", "body": LAVROV_EN, "outlet": "Herald", "author": "Ana Petrović",
     "date": "2018-09-21T10:30:00+02:00", "lang": "en", "url": "https://herald.example/lavrov?utm_source=x"},
    {"id": "a2", "title": "Лавров в Белграде", "text": LAVROV_RU, "source": "Известия", "published": "2018-09-22"},
    {"id": "a3", "body": PRISTINA_SR, "outlet": "Alo", "date": "21.09.2018", "language": "Serbian"},
    {"id": "a4", "title": "Markets", "body": TERSE, "outlet": "Herald", "date": "2018-09-23"},
]


def stored(settings: Settings) -> dict[str, dict[str, Any]]:
    with open_index(settings).searcher() as s:
        docs = [dict(s.stored_fields(n)) for n in s.reader().all_doc_ids()]
    return {str(d["id"]): {k: v for k, v in d.items() if k not in ("indexed_at",)} for d in docs}


def by_origin_line(settings: Settings) -> dict[int, dict[str, Any]]:
    """The stored articles by the line of the collection each came from."""
    return {int(str(d["origin"]).rsplit(":", 1)[1]): d for d in stored(settings).values()}


def jsonl(path: Path, lines: list[str], bom: bool = False) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    data = codecs.BOM_UTF8 + data if bom else data
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def csv_file(path: Path, header: list[str], rows: list[list[str]], bom: bool = True) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = (codecs.BOM_UTF8 if bom else b"") + out.getvalue().encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def collection_lines() -> list[str]:
    """The four good records, then lines a collection in the wild has: bad JSON, an array, no text, blanks."""
    good = [json.dumps(record, ensure_ascii=False) for record in RECORDS]
    return [*good, '{"title": "cut short", "body": "no closing', "", "[1, 2, 3]",
            json.dumps({"id": "a8", "title": "Headline only", "body": "   "}), "   "]


# --- JSON Lines --------------------------------------------------------------


@pytest.mark.parametrize("name", ["news.jsonl", "news.jsonl.gz", "news.ndjson"])
def test_a_jsonl_collection_becomes_one_article_per_record(fresh: Settings, tmp_path: Path, name: str) -> None:
    path = jsonl(tmp_path / name, collection_lines(), bom=True)
    counts = ReadCounts()
    report = ingest([path], fresh, progress=False, counts=counts)
    assert (report.added, report.updated, report.unchanged, report.duplicate) == (4, 0, 0, 0)
    assert counts == ReadCounts(files=0, collections=1, records=7)  # blank lines are no records
    reasons = {reason.split(":")[0]: reason for _, reason in report.skipped}
    assert set(reasons) == {"line 5", "line 7", "line 8"}
    assert "not valid JSON" in reasons["line 5"] and "not a JSON object" in reasons["line 7"]
    assert "no text" in reasons["line 8"]
    assert all(origin == str(path) for origin, _ in report.skipped)


def test_stated_fields_are_kept_as_stated_with_their_provenance(fresh: Settings, tmp_path: Path) -> None:
    ingest([jsonl(tmp_path / "news.jsonl", collection_lines())], fresh, progress=False)
    docs = by_origin_line(fresh)

    en = docs[1]
    assert (en["title"], en["outlet"], en["author"], en["language"]) == ("Lavrov in Belgrade", "Herald",
                                                                          "Ana Petrović", "en")
    assert en["url"] == "https://herald.example/lavrov"  # normalised: the tracking parameter goes
    assert en["id"] == article_id("https://herald.example/lavrov", b"")
    assert (en["published_iso"], en["published_source"]) == ("2018-09-21T10:30:00+02:00", "record")
    assert en["body"] == LAVROV_EN

    ru = docs[2]  # Cyrillic, "text" and "source" columns, no language stated: detected
    assert (ru["title"], ru["outlet"], ru["language"]) == ("Лавров в Белграде", "Известия", "ru")
    assert (ru["published_iso"], ru["published_source"]) == ("2018-09-22", "record")
    assert ru.get("url") is None and ru["body"] == LAVROV_RU

    sr = docs[3]  # no title stated: the cleaner labels it with its opening words; a date in another format
    assert sr["title"].startswith("Ministar spoljnih poslova Srbije") and sr["language"] == "sr"
    assert (sr["published_iso"], sr["published_source"]) == ("2018-09-21", "record")
    assert sr.get("author") is None


def test_a_stated_plain_text_is_the_article_text_whatever_it_looks_like(fresh: Settings, tmp_path: Path) -> None:
    """The page-dump cleaner would take the first line for a headline and drop the prompt: a record's text is kept."""
    ingest([jsonl(tmp_path / "news.jsonl", collection_lines())], fresh, progress=False)
    terse = by_origin_line(fresh)[4]
    assert terse["title"] == "Markets"
    assert terse["body"] == "Markets closed\nSubscribe to our newsletter for more.\nShares fell 2% on Friday."


def test_a_record_without_url_is_named_by_its_own_bytes(tmp_path: Path) -> None:
    """Its id is hashed from the record as stated (sorted keys, compact JSON), not from the line:
    the same record is the same article in JSON Lines, gzipped, re-spaced or as CSV."""
    record = {"id": "x", "title": "T", "body": LAVROV_EN, "outlet": "Herald"}
    spaced = jsonl(tmp_path / "spaced.jsonl", [json.dumps(record, indent=None, separators=(" , ", " : "))])
    table = csv_file(tmp_path / "same.csv", list(record), [list(record.values())])
    pages = [next(read_files([path], manifest={})) for path in (spaced, table)]
    assert all(isinstance(page, RawPage) and page.content_type == RECORD_TYPE for page in pages)
    expected = StatedRecord(id="x", title="T", text=LAVROV_EN, outlet="Herald").as_bytes()
    assert [page.data for page in pages if isinstance(page, RawPage)] == [expected, expected]


def test_reimporting_a_collection_updates_the_same_articles(fresh: Settings, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "news.jsonl.gz", collection_lines())
    ingest([path], fresh, progress=False)
    first = stored(fresh)
    again = ingest([path], fresh, progress=False)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
    assert stored(fresh) == first

    # A corrected export: one title changed, the others as they were. A record with a URL keeps its id.
    fixed = [dict(RECORDS[0], title="Lavrov meets Dačić in Belgrade"), *RECORDS[1:]]
    jsonl(path, [json.dumps(record, ensure_ascii=False) for record in fixed])
    report = ingest([path], fresh, progress=False)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 3)
    assert stored(fresh)[article_id("https://herald.example/lavrov", b"")]["title"] == "Lavrov meets Dačić in Belgrade"
    assert len(stored(fresh)) == 4


def test_reindex_rebuilds_records_from_the_archive_with_their_stated_fields(fresh: Settings, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "news.jsonl", collection_lines())
    ingest([path], fresh, progress=False)
    before = stored(fresh)
    path.unlink()  # the archive alone
    shutil.rmtree(fresh.index_dir)
    report = reindex(fresh, progress=False)
    assert report.added == 4 and not report.skipped
    after = stored(fresh)
    assert after.keys() == before.keys()
    for article, doc in after.items():
        for name in ("title", "outlet", "author", "published_iso", "published_source", "language", "url", "body"):
            assert doc.get(name) == before[article].get(name), (article, name)


def test_an_html_record_is_extracted_and_its_stated_fields_win(fresh: Settings, tmp_path: Path) -> None:
    html = (
        "<html lang='en'><head><title>Page title | Herald</title>"
        "<meta property='og:site_name' content='The Herald'></head><body><nav>Home · World · Sport</nav>"
        f"<article><h1>Lavrov in Belgrade</h1><p>{LAVROV_EN}</p><p>{LAVROV_EN}</p></article>"
        "<footer>Subscribe to our newsletter</footer></body></html>"
    )
    path = jsonl(tmp_path / "pages.jsonl", [
        json.dumps({"html": html, "title": "Stated title", "outlet": "Stated outlet", "date": "2018-09-21"}),
        json.dumps({"html": html, "url": "https://herald.example/a"}),
    ])
    assert ingest([path], fresh, progress=False).added == 2
    docs = by_origin_line(fresh)
    assert (docs[1]["title"], docs[1]["outlet"], docs[1]["published_source"]) == ("Stated title", "Stated outlet",
                                                                                   "record")
    assert LAVROV_EN in docs[1]["body"] and "Home · World" not in docs[1]["body"]
    assert docs[2]["outlet"] == "The Herald" and docs[2]["title"] != "Stated title"  # what the page says
    assert docs[2]["id"] == article_id("https://herald.example/a", b"")


# --- CSV -------------------------------------------------------------------------


CSV_HEADER = ["id", "title", "body", "outlet", "author", "date", "lang", "url"]
CSV_ROWS = [
    ["c1", "Lavrov in Belgrade", f"{LAVROV_EN}\n\nA second paragraph, \"quoted\", after a blank line.", "Herald",
     "Ana Petrović", "2018-09-21", "en", ""],
    ["c2", "Лавров в Белграде", LAVROV_RU, "Известия", "", "2018-09-22T08:00:00Z", "", ""],
    ["c3", "Too few fields", "body"],
    ["c4", "", "", "Herald", "", "", "", ""],
    ["c5", "Pristina", PRISTINA_SR, "Alo", "", "", "sr", "https://alo.example/c5"],
]


@pytest.mark.parametrize("name", ["news.csv", "news.csv.gz"])
def test_a_csv_collection_becomes_one_article_per_row(fresh: Settings, tmp_path: Path, name: str) -> None:
    path = csv_file(tmp_path / name, CSV_HEADER, CSV_ROWS)
    with path.open("ab") as f:  # a row that is not CSV, then a good one after it
        good = io.StringIO()
        csv.writer(good, lineterminator="\r\n").writerow(["c7", "After", LAVROV_EN, "Herald", "", "", "", ""])
        tail = b'c6,"bad"quote,x,y,z,1,2,3\r\n' + good.getvalue().encode()
        f.write(gzip.compress(tail) if name.endswith(".gz") else tail)
    report = ingest([path], fresh, progress=False)
    assert report.added == 4
    reasons = sorted(reason for _, reason in report.skipped)
    assert reasons == [
        "line 6: 3 fields where the header has 8",  # the first row spans lines 2-4: a quoted field holds two line breaks
        "line 7: no text (no body, text or html field, or it is empty)",
        "line 9: not a CSV row (',' expected after '\"')",
    ]
    docs = {doc["title"]: doc for doc in stored(fresh).values()}
    first = docs["Lavrov in Belgrade"]
    assert first["body"] == f"{LAVROV_EN}\n\nA second paragraph, \"quoted\", after a blank line."
    assert (first["author"], first["published_iso"], first["language"]) == ("Ana Petrović", "2018-09-21", "en")
    assert first["origin"] == f"{path}:2"  # the line the row starts on, the header being line 1
    assert docs["Лавров в Белграде"]["published_iso"] == "2018-09-22T08:00:00+00:00"
    assert docs["Лавров в Белграде"]["language"] == "ru" and docs["Лавров в Белграде"].get("author") is None
    assert docs["Pristina"]["url"] == "https://alo.example/c5" and docs["Pristina"]["origin"] == f"{path}:8"
    assert docs["After"]["origin"] == f"{path}:10"


def test_a_csv_row_with_bytes_that_are_not_utf8_is_skipped_alone(fresh: Settings, tmp_path: Path) -> None:
    path = csv_file(tmp_path / "news.csv", CSV_HEADER, CSV_ROWS[:2], bom=False)
    with path.open("ab") as f:
        f.write(b"c9,Latin-1,Caf\xe9 society " + LAVROV_EN.encode() + b",Herald,,,,\r\n")
    report = ingest([path], fresh, progress=False)
    assert report.added == 2 and [reason for _, reason in report.skipped] == ["line 6: not UTF-8 text"]


def test_other_column_names_are_mapped_with_map(fresh: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = csv_file(tmp_path / "export.csv", ["headline", "content", "site", "pub_date", "written_by"], [
        ["Lavrov in Belgrade", LAVROV_EN, "Herald", "2018-09-21", "Ana Petrović"],
    ])
    args = ["ingest", str(path), "--index", str(fresh.index), "--map", "title=headline", "--map", "body=content",
            "--map", "outlet=site", "--map", "published=pub_date", "--map", "author=written_by"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "read 1 record from 1 collection and 0 page files" in out and "added 1," in out
    [doc] = stored(fresh).values()
    assert (doc["title"], doc["outlet"], doc["author"], doc["published_source"]) == (
        "Lavrov in Belgrade", "Herald", "Ana Petrović", "record")

    # Without the map the same file has no text column: every row is skipped, and says why.
    assert main(["ingest", str(path), "--index", str(tmp_path / "other")]) == 0
    assert "line 2: no text" in capsys.readouterr().out


def test_many_skips_are_listed_by_reason_not_line_by_line(fresh: Settings, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A collection with thousands of unusable records would print thousands of lines (each is in the
    log already): the summary lists the first few, then how many there were of each reason."""
    empty = [json.dumps({"title": f"Item {n}", "url": f"https://example.org/{n}"}) for n in range(40)]
    broken = ["{not json"] * 3
    good = [json.dumps({"title": "Lavrov in Belgrade", "body": LAVROV_EN, "url": "https://example.org/lavrov"})]
    path = jsonl(tmp_path / "mixed.jsonl", [*good, *empty, *broken])
    assert main(["ingest", str(path), "--index", str(fresh.index)]) == 0
    out = capsys.readouterr().out
    listed = [line for line in out.splitlines() if line.startswith("skipped ")]
    assert len(listed) == 5 and listed[0].startswith(f"skipped {path}: line ")
    assert "… 38 more skipped (each one is in the log above); all 43 by reason:" in out
    tally = dict(re.findall(r"^ +([\d,]+)  (.+)$", out, re.MULTILINE))
    assert tally == {"40": "no text (no body, text or html field, or it is empty)",
                     "3": next(reason for reason in tally.values() if reason.startswith("not valid JSON"))}
    assert "skipped 43," in out


def test_map_reaches_into_json_objects_and_refuses_unknown_fields(fresh: Settings, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "api.jsonl", [json.dumps({
        "headline": "Lavrov in Belgrade", "content": LAVROV_EN, "source": {"id": "h", "name": "Herald"},
    })])
    fields = field_map(["title=headline", "text=content", "outlet=source.name"])
    assert ingest([path], fresh, progress=False, fields=fields).added == 1
    [doc] = stored(fresh).values()
    assert (doc["title"], doc["outlet"]) == ("Lavrov in Belgrade", "Herald")
    with pytest.raises(SettingsError, match="no field 'headline'"):
        field_map(["headline=title"])
    with pytest.raises(SettingsError, match="field=column"):
        field_map(["title"])


def test_a_folder_reads_its_collections_beside_its_pages(fresh: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(SEED_ARTICLES, folder)
    jsonl(folder / "more.jsonl", [json.dumps(record, ensure_ascii=False) for record in RECORDS])
    counts = ReadCounts()
    report = ingest([folder], fresh, progress=False, counts=counts)
    assert report.added == 5 + 4 and counts == ReadCounts(files=5, collections=1, records=4)


# --- progress ------------------------------------------------------------------------


@contextlib.contextmanager
def stderr_log() -> Iterator[None]:
    """Warnings to standard error (the test's, so made inside it), as the command line logs them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def _segments(stderr: str) -> list[str]:
    return [part for part in re.split(r"[\r\n]", stderr) if part.strip()]


def test_the_progress_bar_counts_records_and_skip_lines_stay_off_it(
    fresh: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = jsonl(tmp_path / "news.jsonl", collection_lines())
    inputs = open_inputs([path], manifest={})
    assert (inputs.unit, inputs.total) == ("record", 7)  # its non-blank lines, counted before the run
    capsys.readouterr()
    with stderr_log():
        ingest([path], fresh, progress=True)
    segments = _segments(capsys.readouterr().err)
    bars = [s for s in segments if "record" in s and "|" in s]
    assert bars and bars[-1].startswith("ingest: 100%") and "7/7" in bars[-1]
    skips = [s for s in segments if "skipped" in s]
    assert len(skips) == 3 and all(s.startswith("WARNING skipped") for s in skips)  # whole lines, above the bar


def test_a_gzipped_collection_shows_progress_in_bytes_of_the_file(
    fresh: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = jsonl(tmp_path / "news.jsonl.gz", collection_lines())
    size = path.stat().st_size
    inputs = open_inputs([path], manifest={})
    assert (inputs.unit, inputs.total) == ("B", size)
    assert sum(1 for _ in inputs) == 7 and inputs.done == size
    capsys.readouterr()
    ingest([path], fresh, progress=True)
    bars = [s for s in _segments(capsys.readouterr().err) if "B/s" in s or "it/s" in s or "|" in s]
    assert bars[-1].startswith("ingest: 100%") and f"{size}/{size}" in bars[-1].replace(" ", "").replace("B", "")


# --- the shared corpus ----------------------------------------------------------------


@pytest.mark.skipif(not CORPUS.is_file(), reason="the shared corpus is not here")
def test_the_shared_corpus_imports_as_it_is(fresh: Settings, tmp_path: Path) -> None:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        head = [next(lines) for _ in range(200)]
    path = tmp_path / "news-200.jsonl.gz"
    path.write_bytes(gzip.compress("".join(head).encode()))
    records = [json.loads(line) for line in head]
    with_text = [r for r in records if r["body"].strip()]

    report = ingest([path], fresh, progress=False)
    assert report.added + report.duplicate == len(with_text)  # every record with a body: kept or a copy
    assert len(report.skipped) == len(records) - len(with_text) and not report.failed
    docs = by_origin_line(fresh)
    for line, doc in docs.items():
        record = records[line - 1]
        assert doc["title"] == (record["title"] or doc["title"]) and doc["outlet"] == record["outlet"]
        assert doc["language"] == record["lang"] and doc["published_source"] == "record"
        assert doc["published_iso"].startswith(record["date"])
        assert " ".join(doc["body"].split()) == " ".join(record["body"].split())


def test_values_in_other_shapes_are_read_as_the_record_means_them(fresh: Settings, tmp_path: Path) -> None:
    """Column names in any case, paragraphs and authors as lists, a date in epoch seconds, a language by name."""
    path = jsonl(tmp_path / "shapes.jsonl", [json.dumps({
        "Title": "Lavrov in Belgrade", "Body": [LAVROV_EN, "A second paragraph of the report follows here."],
        "Author": ["Ana Petrović", "Marko Marković"], "Date": 1537520000, "Language": "English", "ID": 7,
    })])
    assert ingest([path], fresh, progress=False).added == 1
    [doc] = stored(fresh).values()
    assert doc["body"] == f"{LAVROV_EN}\n\nA second paragraph of the report follows here."
    assert (doc["title"], doc["author"], doc["language"]) == ("Lavrov in Belgrade", "Ana Petrović, Marko Marković",
                                                              "en")
    assert (doc["published_iso"], doc["published_source"]) == ("2018-09-21T08:53:20+00:00", "record")
