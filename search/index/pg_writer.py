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

from search.index.duplicates import MAX_CANDIDATES, band_terms, copies_among, duplicate_of, nearest, sketch_hex
from search.index.lexemes import Vectors, vectors
from search.index.postgres import Connection, ensure_month, month_of
from search.index.store import IndexReport, PreparedArticle, batches
from search.records import Article, StoredArticle
from search.settings import Settings

__all__ = ["ROW_COLUMNS", "copy_articles_pg", "copy_numbers_pg", "delete_articles_pg", "stored_fields",
           "write_articles_pg"]

#: The advisory lock a batch's transaction holds (see the module docstring).
_WRITE_LOCK = zlib.crc32(b"newsdesk:write")
#: The columns of ``articles`` a row is read back by (``stored_fields``): all but the vectors.
ROW_COLUMNS = ("id", "url", "title", "body", "author", "outlet", "year", "language", "actors", "published_utc",
               "published_iso", "published_source", "origin", "cluster", "seq", "indexed_at", "fingerprint",
               "text_key", "minhash")
#: A document's field → its column, where the two differ (``published``: the moment, not the indexed day).
_COLUMN_OF = {"_stored_published": "published_utc"}

#: A batch's rows, months and band keys each in one COPY: one statement, so the table's statement triggers
#: (0005_counting.sql's facet counts) run once a batch, not once an article, and no statement is parsed per row.
_COPY_ROWS = sql.SQL("COPY articles (month, {columns}, lexemes, words) FROM STDIN").format(
    columns=sql.SQL(", ").join(map(sql.Identifier, ROW_COLUMNS)))
_COPY_MONTHS = sql.SQL("COPY article_months (id, month) FROM STDIN")
_COPY_BANDS = sql.SQL("COPY article_bands (band, id) FROM STDIN")
#: How COPY's text format names the undated partition's month (``MONTH_VALUE``'s 'infinity').
_UNDATED = "infinity"
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
    _insert(connection, rows, [(i, _month(document)) for i, document in written.items()],
            [(band, i) for i in written for band in bands.get(i, [])])
    words.update(_word_counts(connection, list(written)))
    _count_words(connection, words)


def _row(document: Mapping[str, Any], found: Vectors) -> tuple[Any, ...]:
    """The values of a row of ``_COPY_ROWS``: the month (None: undated), the document's fields in ``ROW_COLUMNS`` order, the two vectors."""
    columns = {_COLUMN_OF.get(name, name): value for name, value in document.items()}
    columns["actors"] = [actor for actor in document["actor"].split(",") if actor]
    return (_month(document), *(columns.get(name) for name in ROW_COLUMNS), found.lexemes, found.words)


def _insert(connection: Connection, rows: list[tuple[Any, ...]], months: list[tuple[str, dt.date | None]],
            bands: list[tuple[str, str]]) -> None:
    """The rows (``_row``'s), their months and their band keys, each table in one COPY."""
    with connection.cursor() as cursor:
        with cursor.copy(_COPY_ROWS) as copy:
            for row in rows:
                copy.write_row((_UNDATED if row[0] is None else row[0], *row[1:]))
        with cursor.copy(_COPY_MONTHS) as copy:
            for article_id, month in months:
                copy.write_row((article_id, _UNDATED if month is None else month))
        with cursor.copy(_COPY_BANDS) as copy:
            for band_row in bands:
                copy.write_row(band_row)


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


def copy_articles_pg(connection: Connection, articles: Iterable[StoredArticle], batch_size: int = 1000,
                     on_batch: Callable[[int], None] | None = None) -> int:
    """Copy articles another index stored, as they are: each keeps its ingest number, cluster, time written
    and fingerprint (``newsdesk migrate``, search/migrate.py); none is decided again. How many were copied.

    Only into a database without these ids (a copy, not a merge): an id already stored is an error
    (the primary key), raised before anything of its batch is kept. ``on_batch`` gets each batch's size
    once it is committed. The shared sequence is moved past the highest number copied, so the next
    article written gets the next number, as it would have in the index copied from.
    """
    _require_autocommit(connection)
    made: set[dt.date | None] = {None}
    copied = 0
    batch: list[StoredArticle] = []
    for article in [*articles, None]:
        if article is not None:
            batch.append(article)
            if len(batch) < batch_size:
                continue
        if not batch:
            break
        documents = [_copied(article) for article in batch]
        for month in sorted({_month(document) for document in documents} - made, key=str):
            with connection.transaction():
                ensure_month(connection, month)
            made.add(month)
        rows = [_row(document, _vectors(document)) for document in documents]
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
            _insert(connection, rows, [(document["id"], _month(document)) for document in documents],
                    [(band, article.id) for article in batch if article.minhash is not None
                     for band in band_terms(article.minhash)])
            with connection.cursor() as cursor:
                cursor.executemany("INSERT INTO article_numbers (id, seq, indexed) VALUES (%s, %s, %s) "
                                   "ON CONFLICT (id) DO NOTHING",
                                   [(article.id, article.seq, _aware(article.indexed_at)) for article in batch])
            _count_words(connection, Counter(_word_counts(connection, [article.id for article in batch])))
            _follow_numbers(connection)
        copied += len(batch)
        if on_batch is not None:
            on_batch(len(batch))
        batch = []
    return copied


def copy_numbers_pg(connection: Connection, numbers: Iterable[tuple[str, int, dt.datetime | None]]) -> None:
    """Ingest numbers given to articles no longer stored (taken down), kept so that one coming back is not
    new to the alerts again; the sequence moved past them as past every number copied."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO article_numbers (id, seq, indexed) VALUES (%s, %s, %s) "
                               "ON CONFLICT (id) DO NOTHING",
                               [(article_id, seq, _aware(indexed)) for article_id, seq, indexed in numbers])
        _follow_numbers(connection)


def _follow_numbers(connection: Connection) -> None:
    """Move the shared sequence past every number given, never back (inside the writer's lock)."""
    connection.execute("""SELECT setval('article_seq', GREATEST(
                              (SELECT max(seq) FROM article_numbers),
                              (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM article_seq)))
                          WHERE EXISTS (SELECT 1 FROM article_numbers)""")


def _copied(article: StoredArticle) -> Document:
    """A stored article as the document ``_row`` writes: its stored values, none made again."""
    return {
        "id": article.id, "url": article.url, "title": article.title, "body": article.text,
        "author": article.author, "outlet": article.outlet, "year": article.year, "language": article.language,
        "actor": ",".join(article.actors), "_stored_published": article.published_utc,
        "published_iso": article.published.isoformat() if article.published else None,
        "published_source": article.published_source, "origin": article.origin, "cluster": article.cluster,
        "seq": article.seq, "indexed_at": article.indexed_at or dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "fingerprint": article.fingerprint,
        "text_key": article.text_key, "minhash": sketch_hex(article.minhash) if article.minhash else None,
    }


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """A naive UTC moment (as the indexes store them) made explicit, for a timestamptz column."""
    return moment.replace(tzinfo=dt.UTC) if moment is not None and moment.tzinfo is None else moment
