"""The PostgreSQL writer: enriched ``Article`` records in, rows of the PostgreSQL backend's schema out.

Last stage of the ingest pipeline for the PostgreSQL backend (issue 19), the
counterpart of search/index/store.py's ``write_articles`` for the Whoosh
index, and held to it (tests/test_pg_writer.py writes the same articles to
both): the same document (search/index/document.py's ``to_fields``, one
column per stored field), the same skip of an unchanged fingerprint, the
same copy decisions (search/index/duplicates.py: exact copies by
``text_key``, near copies by the 16 MinHash band keys and then their
sketches and shingles, compared by ``duplicates.copies_among``), the same
``IndexReport``, and ingest numbers by search/index/sequence.py's rules
from a SEQUENCE every writer shares (0002_writing.sql). The schema is
search/index/postgres.py's; the text vectors search/index/lexemes.py's.

Each batch of ``batch_size`` articles is one transaction. Several writer
processes may write at once, overlapping ids included. What can run side by
side does: making each row (the document, its two vectors — the bulk of the
time, in Python) happens before the transaction. The transaction itself
takes one advisory lock (``_WRITE_LOCK``) for its length, because three
things need every writer's commits in one order, not just each id's:

* ingest numbers — alerts read "numbered above what I saw", so a number
  must not become visible after a higher one (sequence.py's rule that
  numbers are taken under the write lock, in commit order);
* copies — a same-outlet duplicate written by two writers at once under two
  ids would be stored twice, which a lock per id cannot prevent;
* ``words_seen`` — counts of shared words updated by two transactions in
  different orders would deadlock.

So the database writes of batches are serial, their preparation is not.
Inside the lock an article's stored version is found through
``article_months`` (its month, hence its partition), replaced by a delete
and an insert (which moves it when its month changed) and ``words_seen``
changed by the difference of the two versions' distinct words.

A month's partition is made (``ensure_month``) before the batch transaction,
each in a short transaction of its own: making one locks ``articles`` whole,
which must not be held while a batch waits for the write lock.

Candidates for copies are the stored articles sharing the text key or a
band key, as in the Whoosh index; within a key they come in ingest order,
where the Whoosh index gives them segment by segment — the same articles,
the same clusters, and the same duplicate reported unless one outlet has two
stored near copies of the incoming text (then either may be named).

The connection must be in autocommit mode: each batch is its own transaction,
committed before the next one starts.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from psycopg import sql

from search.index.duplicates import MAX_CANDIDATES, band_terms, copies_among, duplicate_of, nearest
from search.index.lexemes import Vectors, vectors
from search.index.postgres import MONTH_VALUE, Connection, ensure_month, month_of
from search.index.store import IndexReport, PreparedArticle, batches
from search.records import Article
from search.settings import Settings

__all__ = ["ROW_COLUMNS", "delete_articles_pg", "stored_fields", "write_articles_pg"]

#: The advisory lock a batch's transaction holds (see the module docstring).
_WRITE_LOCK = zlib.crc32(b"newsdesk:write")
#: The columns of ``articles`` a row is read back by (``stored_fields``): all but the vectors.
ROW_COLUMNS = ("id", "url", "title", "body", "author", "outlet", "year", "language", "actors", "published_utc",
               "published_iso", "published_source", "origin", "cluster", "seq", "indexed_at", "fingerprint",
               "text_key", "minhash")
#: A document's field → its column, where the two differ (``published``: the moment, not the indexed day).
_COLUMN_OF = {"_stored_published": "published_utc"}

_INSERT = sql.SQL("INSERT INTO articles (month, {columns}, lexemes, words) VALUES ({month}, {values}, "
                  "%s::tsvector, %s::tsvector)").format(
    columns=sql.SQL(", ").join(map(sql.Identifier, ROW_COLUMNS)), month=MONTH_VALUE,
    values=sql.SQL(", ").join(sql.Placeholder() for _ in ROW_COLUMNS))
_MONTH = sql.SQL("INSERT INTO article_months (id, month) VALUES (%s, {})").format(MONTH_VALUE)
#: The stored version of articles, found through article_months (the partition it is in).
_STORED = """SELECT m.id, a.fingerprint, a.seq FROM article_months m
             JOIN articles a ON a.month = m.month AND a.id = m.id WHERE m.id = ANY(%s)"""
#: The distinct unstemmed words of articles, each with the number of them holding it.
_WORDS = """SELECT word, count(*) FROM article_months m JOIN articles a ON a.month = m.month AND a.id = m.id,
            unnest(tsvector_to_array(a.words)) word WHERE m.id = ANY(%s) GROUP BY word"""
#: Stored articles holding one of the text keys or one of the band keys: the candidates for copies.
_CANDIDATES = """SELECT a.id, a.outlet, a.cluster, a.text_key, a.minhash, a.body, a.seq FROM articles a
                 WHERE a.text_key = ANY(%(keys)s)
                 UNION
                 SELECT a.id, a.outlet, a.cluster, a.text_key, a.minhash, a.body, a.seq FROM article_bands b
                 JOIN article_months m ON m.id = b.id JOIN articles a ON a.month = m.month AND a.id = m.id
                 WHERE b.band = ANY(%(bands)s)"""

Document = dict[str, Any]


def write_articles_pg(
    connection: Connection,
    articles: Iterable[Article | PreparedArticle],
    report: IndexReport | None = None,
    batch_size: int = Settings.batch_size,
    on_commit: Callable[[], None] | None = None,
) -> IndexReport:
    """Add or update articles by id, one transaction per ``batch_size`` articles, as ``write_articles`` does.

    An unchanged fingerprint is counted and not rewritten; a new article
    with the text of one its outlet already has is a duplicate, counted and
    not stored; copies across outlets share a cluster. ``on_commit`` runs
    after each batch is committed.
    """
    _require_autocommit(connection)
    report = report or IndexReport()
    made: set[dt.date | None] = {None}  # the undated partition is there from the first migration
    # The Whoosh writer's own batching (each document made by document.py's to_fields, an id's first copy in a
    # run kept): both writers read the same documents in the same batches.
    for batch in batches(articles, batch_size):
        # Outside the transaction, so that no lock is held meanwhile: the partitions, then the vectors of
        # whatever does not look unchanged (checked again under the lock).
        for month in sorted({_month(prepared.document) for prepared in batch} - made, key=str):
            with connection.transaction():
                ensure_month(connection, month)
            made.add(month)
        stored = {str(row[0]): str(row[1]) for row in connection.execute(
            _STORED, ([prepared.article.id for prepared in batch],))}
        computed = {prepared.article.id: _vectors(prepared.document) for prepared in batch
                    if stored.get(prepared.article.id) != prepared.document["fingerprint"]}
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
            _write_batch(connection, batch, report, computed)
        if on_commit is not None:
            on_commit()
    return report


def delete_articles_pg(connection: Connection, ids: Iterable[str]) -> int:
    """Delete articles by id in one transaction; how many were stored. Their numbers stay theirs (sequence.py)."""
    _require_autocommit(connection)
    wanted = sorted(set(ids))
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
        found = [str(row[0]) for row in connection.execute(
            "SELECT id FROM article_months WHERE id = ANY(%s)", (wanted,))]
        if not found:
            return 0
        words = Counter[str]()
        words.subtract(_word_counts(connection, found))
        _remove(connection, found)
        _count_words(connection, words)
    return len(found)


def stored_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of ``articles`` (``ROW_COLUMNS`` by name) as the stored fields of a Whoosh document, which
    search/index/document.py's ``from_stored`` reads: the read side's one way from a row to a ``StoredArticle``."""
    fields = {name: row[name] for name in ROW_COLUMNS if row[name] is not None}
    fields["actor"] = ",".join(fields.pop("actors", ()))
    if "published_utc" in fields:
        fields["published"] = fields.pop("published_utc")
    return fields


def _require_autocommit(connection: Connection) -> None:
    if not connection.autocommit:
        raise ValueError("the PostgreSQL writer needs a connection in autocommit mode: each batch is its own "
                         "transaction (psycopg.connect(url, autocommit=True))")


def _month(document: Mapping[str, Any]) -> dt.date | None:
    return month_of(document.get("_stored_published"))


def _vectors(document: Mapping[str, Any]) -> Vectors:
    return vectors({"title": document["title"], "author": document.get("author"), "body": document["body"]})


def _write_batch(connection: Connection, batch: list[PreparedArticle], report: IndexReport,
                 computed: dict[str, Vectors]) -> None:
    """Decide each article of the batch as store.py's ``_write_batch`` does, then write the decisions."""
    ids = [prepared.article.id for prepared in batch]
    stored = {str(row[0]): (str(row[1]), int(str(row[2]))) for row in connection.execute(_STORED, (ids,))}
    bands = {prepared.article.id: band_terms(prepared.article.minhash) for prepared in batch
             if prepared.article.minhash is not None}
    candidates = _Candidates(connection, [str(p.document["text_key"]) for p in batch],
                             sorted({band for keys in bands.values() for band in keys}))
    written: dict[str, Document] = {}  # id → document, in the order decided: the batch's own candidates
    for prepared in batch:
        article, document = prepared.article, dict(prepared.document)
        old = stored.get(article.id)
        if old is not None and old[0] == document["fingerprint"]:
            report.unchanged += 1
            continue
        copies = copies_among(document, candidates.of(document, bands.get(article.id, []), written))
        if old is None:
            original = duplicate_of(copies)
            if original is not None:
                report.duplicate += 1
                report.duplicates.append((article.origin, original.id))
                continue
            report.added += 1
        else:
            report.updated += 1
        closest = nearest(copies)  # a changed text may leave or join a cluster
        document["cluster"] = closest.cluster if closest else article.id
        written[article.id] = document
        candidates.add(document, bands.get(article.id, []))
    if not written:
        return
    numbers = _numbers(connection, [i for i in written if i not in stored], {i: old[1] for i, old in stored.items()})
    replaced = [i for i in stored if i in written]
    words = Counter[str]()
    words.subtract(_word_counts(connection, replaced))
    _remove(connection, replaced)
    indexed_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # when written, not when prepared
    rows = []
    for article_id, document in written.items():
        document["seq"], document["indexed_at"] = numbers[article_id], indexed_at
        found = computed.get(article_id) or _vectors(document)  # changed since looked at before the lock
        rows.append(_row(document, found))
    with connection.cursor() as cursor:
        cursor.executemany(_INSERT, rows)
        cursor.executemany(_MONTH, [(i, _month(document)) for i, document in written.items()])
        cursor.executemany("INSERT INTO article_bands (band, id) VALUES (%s, %s)",
                           [(band, i) for i in written for band in bands.get(i, [])])
    words.update(_word_counts(connection, list(written)))
    _count_words(connection, words)


def _row(document: Mapping[str, Any], found: Vectors) -> tuple[Any, ...]:
    """The values of ``_INSERT``: the month, the document's fields in ``ROW_COLUMNS`` order, the two vectors."""
    columns = {_COLUMN_OF.get(name, name): value for name, value in document.items()}
    columns["actors"] = [actor for actor in document["actor"].split(",") if actor]
    return (_month(document), *(columns.get(name) for name in ROW_COLUMNS), found.lexemes, found.words)


def _numbers(connection: Connection, new: list[str], stored: dict[str, int]) -> dict[str, int]:
    """Each written article's ingest number: the stored version's; else the one it was first given (kept
    through a takedown); else the next of the shared sequence, in the order the articles came."""
    numbers = dict(stored)
    given = {str(row[0]): int(str(row[1])) for row in connection.execute(
        "SELECT id, seq FROM article_numbers WHERE id = ANY(%s)", (new,))}
    numbers.update(given)
    fresh = [article_id for article_id in new if article_id not in given]
    if fresh:
        drawn = sorted(int(str(row[0])) for row in connection.execute(
            "SELECT nextval('article_seq') FROM generate_series(1, %s)", (len(fresh),)))
        numbers.update(zip(fresh, drawn, strict=True))
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO article_numbers (id, seq) VALUES (%s, %s)", list(zip(fresh, drawn)))
    return numbers


def _remove(connection: Connection, ids: list[str]) -> None:
    """Delete these articles' rows (each from the partition article_months names), their month and band keys."""
    connection.execute("""DELETE FROM articles a USING article_months m
                          WHERE m.id = ANY(%s) AND a.month = m.month AND a.id = m.id""", (ids,))
    connection.execute("DELETE FROM article_months WHERE id = ANY(%s)", (ids,))
    connection.execute("DELETE FROM article_bands WHERE id = ANY(%s)", (ids,))


def _word_counts(connection: Connection, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    return {str(row[0]): int(str(row[1])) for row in connection.execute(_WORDS, (ids,))}


def _count_words(connection: Connection, change: Counter[str]) -> None:
    """Apply the change of each word's count of articles to ``words_seen``; a word no article holds goes."""
    up = sorted((word, n) for word, n in change.items() if n > 0)
    down = sorted((word, -n) for word, n in change.items() if n < 0)
    if up:
        connection.execute(
            """INSERT INTO words_seen (word, articles) SELECT * FROM unnest(%s::text[], %s::int[])
               ON CONFLICT (word) DO UPDATE SET articles = words_seen.articles + excluded.articles""",
            ([word for word, _ in up], [n for _, n in up]))
    if down:
        connection.execute(
            """UPDATE words_seen w SET articles = w.articles - d.n FROM unnest(%s::text[], %s::int[]) d(word, n)
               WHERE w.word = d.word""", ([word for word, _ in down], [n for _, n in down]))
        connection.execute("DELETE FROM words_seen WHERE word = ANY(%s) AND articles = 0",
                           ([word for word, _ in down],))


class _Candidates:
    """The possible copies of the batch's articles: stored ones holding one of their lookup keys (read once
    for the batch), and the batch's own written before them, in the order duplicates.CopyFinder gives them."""

    def __init__(self, connection: Connection, text_keys: list[str], bands: list[str]) -> None:
        self._stored: dict[str, Document] = {}
        by_key: dict[str, list[tuple[int, str]]] = {}
        cursor = connection.cursor()
        for row in cursor.execute(_CANDIDATES, {"keys": text_keys, "bands": bands}):
            document: Document = dict(zip(("id", "outlet", "cluster", "text_key", "minhash", "body", "seq"), row,
                                          strict=True))
            self._stored[document["id"]] = document
            by_key.setdefault(f"text:{document['text_key']}", []).append((document["seq"], document["id"]))
        for band, article_id in cursor.execute("SELECT band, id FROM article_bands WHERE band = ANY(%s)", (bands,)):
            if str(article_id) in self._stored:
                by_key.setdefault(f"band:{band}", []).append((self._stored[str(article_id)]["seq"], str(article_id)))
        # Within a key, in the order the articles entered: as a Whoosh index's documents lie.
        self._by_key = {key: [article_id for _, article_id in sorted(found)] for key, found in by_key.items()}
        self._written: dict[str, list[str]] = {}

    def of(self, document: Mapping[str, Any], bands: Sequence[str],
           written: Mapping[str, Document]) -> list[Document]:
        """The candidates for ``document`` (whose band keys are ``bands``): the batch's written before it,
        then up to ``MAX_CANDIDATES`` stored ones, skipping those the batch has rewritten."""
        keys = [f"text:{document['text_key']}", *(f"band:{band}" for band in bands)]
        pending = dict.fromkeys(i for key in keys for i in self._written.get(key, ()))
        found = [written[i] for i in pending]
        stored = list(dict.fromkeys(i for key in keys for i in self._by_key.get(key, ())))[:MAX_CANDIDATES]
        found += [self._stored[i] for i in stored if i not in written]
        return found

    def add(self, document: Mapping[str, Any], bands: Sequence[str]) -> None:
        """A document written in this batch: a candidate for the ones after it."""
        for key in [f"text:{document['text_key']}", *(f"band:{band}" for band in bands)]:
            self._written.setdefault(key, []).append(document["id"])
