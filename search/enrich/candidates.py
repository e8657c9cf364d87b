"""Candidate actors: titled people the gazetteer does not know yet.

Sits beside enrichment (stage 3, ``search.enrich``): where the gazetteer
finds the actors it knows, this finds people an article introduces by a
title — "Foreign Minister Marko Petrović", "Kosovo's Acting Prime Minister
X Y", "министр иностранных дел X Y" — whose name the gazetteer does not
know. Ingest and reindex record them (``record_candidates``) in the
instance's state (``state.sqlite``, or PostgreSQL), one row per (name, article, title), so ingesting
an article twice never counts it twice. ``newsdesk actors candidates`` and
``/actors/candidates`` list them; ``newsdesk actors promote`` appends one to
``seeds/actors_additions.toml``, the hand-curated source of the gazetteer.

Only article bodies are read, never headlines: English headlines are in
Title Case, so "Minister Marko Petrović Meets Lavrov" would make "Meets" part
of a name.
"""

from __future__ import annotations

import json
import re
import time
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.enrich.actors import Gazetteer
from search.errors import NewsdeskError
from search.folding import fold
from search.records import Article
from search.settings import Settings, seeds_dir
from search.state import Row, StateConnection, ensure_tables, is_sqlite, open_state, read_state

# ------------------------------------------------------------------ detection

#: Titles that introduce a person by name. English titles are matched with
#: their capital (a lower-case "president" is mostly not before a name);
#: Serbian (both scripts) and Russian ones in lower case, as those languages
#: write them mid-sentence.
TITLES = (
    "President", "Vice President", "Vice-President", "Prime Minister", "Deputy Prime Minister",
    "Foreign Minister", "Minister of Foreign Affairs", "Defence Minister", "Defense Minister",
    "Minister of Defence", "Minister of Defense", "Interior Minister", "Minister of the Interior",
    "Minister of Interior", "Finance Minister", "Minister of Finance", "Justice Minister",
    "Minister of Justice", "Economy Minister", "Energy Minister", "Trade Minister", "Health Minister",
    "Minister", "Ambassador", "Envoy", "Special Envoy", "Spokesperson", "Spokesman", "Spokeswoman",
    "Secretary-General", "Secretary General", "Secretary of State", "High Representative", "Speaker",
    "Chancellor", "King", "Queen", "Patriarch", "Mayor", "Commissioner", "Governor", "Senator",
    "Chairman", "Chairwoman",
    # Serbian Latin, Serbian Cyrillic, Russian
    "predsednik", "predsednica", "premijer", "premijerka", "ministar spoljnih poslova", "ministar",
    "ambasador", "председник", "председница", "премијер", "премијерка", "министар спољних послова",
    "министар", "амбасадор", "президент", "премьер-министр", "министр иностранных дел", "министр",
    "посол",
)
# Serbian and Russian titles also open a sentence: "Predsednik Srbije ...".
_TITLE_FORMS = TITLES + tuple(title[0].upper() + title[1:] for title in TITLES if title[0].islower())
_QUALIFIERS = ("Acting", "Deputy", "First Deputy", "Former", "Outgoing", "Interim", "Caretaker")
# Who the title belongs to: "Kosovo's", "Serbia’s", a demonym ("Russian",
# "Montenegrin", "Serbian", "Albanian", "Chinese", "British", "Turkish",
# "Czech", "Iraqi") or an acronym ("EU", "UN", "U.S.").
_OWNER = r"(?:[A-Z][\w.-]*(?:'s|’s)|[A-Z][a-z]+(?:an|in|ese|ish|ch|i)|[A-Z](?:\.?[A-Z]){1,4}\.?)"


def _alternatives(words: Iterable[str]) -> str:
    # Longest first, so "Foreign Minister" wins over "Minister".
    return "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in sorted(words, key=len, reverse=True))


# One line break at most: wire copy breaks lines mid-sentence, but a name
# never runs across paragraphs.
_SPACE = r"(?:[ \u00a0]*\n[ \u00a0]*|[ \u00a0]+)"
_WORD_RE = r"[^\W\d_][\w'’-]*"
_TITLED = re.compile(
    rf"(?<![\w'’-])(?P<title>(?:{_OWNER}{_SPACE})?"
    rf"(?:(?i:{_alternatives(_QUALIFIERS)}){_SPACE})*"
    rf"(?:{_alternatives(_TITLE_FORMS)}))"
    # A lookahead: the words after a title may hold the next title ("President
    # X Y and Prime Minister Z W"), so the match ends with the title.
    rf"(?={_SPACE}(?P<name>{_WORD_RE}(?:{_SPACE}{_WORD_RE}){{0,4}}))"
)
_MIN_NAME_WORDS, _MAX_NAME_WORDS = 2, 3
_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
#: Capitalised words that are not names: function words at a clause start
#: or in a Title Case phrase ("President Of The Republic"), days, months.
_NOT_NAMES = frozenset({
    "a", "an", "the", "of", "and", "or", "for", "to", "in", "on", "at", "by", "with", "from", "as", "but",
    "if", "this", "that", "these", "those", "he", "she", "it", "they", "we", "his", "her", "its", "their",
    "said", "says", "told", "who", "which", "when", "while", "after", "before", "during", "about", "also",
    "has", "had", "was", "is", "are", "would", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "january", "february", "march", "april", "june", "july", "august", "september",
    "october", "november", "december",
})


@dataclass(frozen=True)
class Candidate:
    """A titled mention of a person the gazetteer does not know."""

    name: str  # as written: "Marko Petrović"
    title: str  # the title phrase as written: "Montenegrin Foreign Minister"

    @property
    def key(self) -> str:
        return name_key(self.name)


def name_key(name: str) -> str:
    """The folded form one person's spellings share (case, diacritics, script)."""
    return " ".join(fold(name).replace("’", "'").split())


def find_candidates(text: str, gazetteer: Gazetteer) -> list[Candidate]:
    """Titled mentions in ``text`` of people the gazetteer does not know, each once."""
    found: dict[tuple[str, str], Candidate] = {}
    for match in _TITLED.finditer(text):
        name = _name(match.group("name").split(), gazetteer)
        if name and not _known_person(name, gazetteer):
            title = " ".join(match.group("title").split())
            found.setdefault((name_key(name), title), Candidate(name, title))
    return list(found.values())


def _name(words: list[str], gazetteer: Gazetteer) -> str | None:
    """The person's name at the start of ``words``: 2–3 capitalised words,
    after a place the gazetteer knows ("predsednik Srbije Aleksandar Vučić")."""
    run: list[str] = []
    for word in words:
        if not word[0].isupper() or word.isupper() or word.casefold() in _NOT_NAMES:
            break
        run.append(word)
        if _POSSESSIVE.search(word):  # "Marko Petrović's visit": the name ends here
            break
    run = _without_place(run, gazetteer)
    if not _MIN_NAME_WORDS <= len(run) <= _MAX_NAME_WORDS:
        return None
    run[-1] = _POSSESSIVE.sub("", run[-1])
    return " ".join(run)


def _without_place(run: list[str], gazetteer: Gazetteer) -> list[str]:
    for size in (1, 2):  # "Srbije Aleksandar Vučić", "Crne Gore Jakov Milatović"
        ids = gazetteer.find(" ".join(run[:size])) if len(run) >= size else []
        if ids and not any(_is_person(gazetteer, actor_id) for actor_id in ids):
            return run[size:]
    return run


def _known_person(name: str, gazetteer: Gazetteer) -> bool:
    return any(_is_person(gazetteer, actor_id) for actor_id in gazetteer.find(name))


def _is_person(gazetteer: Gazetteer, actor_id: str) -> bool:
    actor = gazetteer.get(actor_id)
    return actor is not None and actor.type == "person"


# -------------------------------------------------------------------- storage

_DDL = """
CREATE TABLE IF NOT EXISTS candidate_mention (
    key TEXT NOT NULL,          -- name_key(name): one person's spellings share it
    article_id TEXT NOT NULL,
    title TEXT NOT NULL,
    name TEXT NOT NULL,         -- as written in that article
    published TEXT,             -- the article's date (ISO), NULL when undated
    recorded REAL NOT NULL,     -- when ingest or reindex saw it (Unix time)
    PRIMARY KEY (key, article_id, title)
);
"""


@dataclass(frozen=True)
class CandidateSummary:
    """One candidate across the articles that name it."""

    key: str
    name: str  # the spelling of its latest article
    titles: tuple[str, ...]
    articles: int
    first_seen: str | None  # earliest and latest article dates (ISO); None when all undated
    last_seen: str | None
    example: str  # the id of its latest article

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "key": self.key, "titles": list(self.titles), "articles": self.articles,
                "first_seen": self.first_seen, "last_seen": self.last_seen, "example": self.example}


def record_candidates(
    articles: Iterable[Article], settings: Settings, gazetteer: Gazetteer, *, replace: bool = False
) -> Iterator[Article]:
    """Pass the articles through, recording the candidates each names.

    ``replace`` (reindex, which replays every article) first forgets what was
    recorded, so names the gazetteer has learnt since, or a better detector
    no longer finds, go away. Articles are recorded ``_GROUP`` at a time, one
    short transaction each, before they are passed on: the archive writes to
    the same database between groups, and a commit per article wrote to the
    database's log for every one.
    """
    connection = open_state(settings)
    if is_sqlite(connection):
        connection.execute("PRAGMA synchronous=NORMAL")  # a lost commit is redone by the next reindex
    try:
        ensure_tables(connection, _DDL)
        if replace:
            with connection:
                connection.execute("DELETE FROM candidate_mention")
        for group in _groups(articles, _GROUP):
            _record(connection, [(article, find_candidates(article.text, gazetteer)) for article in group])
            yield from group
    finally:
        connection.close()


#: Articles recorded in one transaction.
_GROUP = 32


def _groups(articles: Iterable[Article], size: int) -> Iterator[list[Article]]:
    group: list[Article] = []
    for article in articles:
        group.append(article)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def _record(connection: StateConnection, found: Sequence[tuple[Article, Sequence[Candidate]]]) -> None:
    """Replace each article's mentions with those found (an article twice in the group: its last)."""
    now = time.time()
    rows = []
    last = {article.id: (article, candidates) for article, candidates in found}
    for article, candidates in last.values():
        published = article.published.isoformat()[:10] if article.published else None
        rows += [(c.key, article.id, c.title, c.name, published, now) for c in candidates]
    with connection:
        connection.executemany("DELETE FROM candidate_mention WHERE article_id = ?", [(i,) for i in last])
        connection.executemany("INSERT INTO candidate_mention (key, article_id, title, name, published, recorded) "
                               "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)


def list_candidates(
    settings: Settings, gazetteer: Gazetteer | None = None, min_articles: int = 1
) -> list[CandidateSummary]:
    """Candidates by article count (most first); empty when nothing was recorded.

    With a ``gazetteer``, names it has learnt since they were recorded are
    left out, so a promoted candidate goes as soon as the gazetteer is rebuilt.
    """
    def read(db: StateConnection) -> tuple[list[Row], list[Row]]:
        return db.execute(_SUMMARY, (min_articles,)).fetchall(), db.execute(_TITLES).fetchall()

    nothing: tuple[list[Row], list[Row]] = ([], [])  # nothing recorded yet
    rows, title_rows = read_state(settings, read, nothing)
    titles: dict[str, set[str]] = {}
    for row in title_rows:
        titles.setdefault(row["key"], set()).add(row["title"])
    summaries = [_summary(row, titles.get(row["key"], set())) for row in rows]
    return [s for s in summaries if gazetteer is None or not _known_person(s.name, gazetteer)]


# Per candidate: its counts, and the name and id of its latest article (the first by date, the undated last;
# among articles of one date, the highest id). Window functions and NULLS LAST: both engines run it.
_SUMMARY = """
SELECT s.key, latest.name, latest.article_id, s.last_seen, s.first_seen, s.articles
FROM (SELECT key, MAX(published) AS last_seen, MIN(published) AS first_seen, COUNT(DISTINCT article_id) AS articles
      FROM candidate_mention GROUP BY key HAVING COUNT(DISTINCT article_id) >= ?) s
JOIN (SELECT key, name, article_id,
             row_number() OVER (PARTITION BY key ORDER BY published DESC NULLS LAST, article_id DESC) AS place
      FROM candidate_mention) latest ON latest.key = s.key AND latest.place = 1
ORDER BY s.articles DESC, s.last_seen DESC NULLS LAST, s.key
"""
_TITLES = "SELECT DISTINCT key, title FROM candidate_mention"


def _summary(row: Row, titles: set[str]) -> CandidateSummary:
    return CandidateSummary(
        key=row["key"], name=row["name"], titles=tuple(sorted(titles)),
        articles=row["articles"], first_seen=row["first_seen"], last_seen=row["last_seen"],
        example=row["article_id"],
    )


# ------------------------------------------------------------------ promotion


def additions_path() -> Path:
    """seeds/actors_additions.toml (in ``NEWSDESK_SEEDS`` when set)."""
    return seeds_dir() / "actors_additions.toml"


def promote(
    candidate: CandidateSummary,
    actor_id: str,
    *,
    actor_type: str = "person",
    aliases: Sequence[str] = (),
    roles: Sequence[str] = (),
    additions: Path | None = None,
) -> Path:
    """Append the candidate to the additions file as a new ``[[actor]]``; return the file.

    Refuses an id, or a name or alias, that the gazetteer (``actors.toml``)
    or the additions already hold: the build would reject it anyway, later.
    """
    path = additions or additions_path()
    names = list(dict.fromkeys([candidate.name, *aliases]))
    _refuse_taken(actor_id, names, [path, path.with_name("actors.toml")])
    source = f"candidate promoted from {candidate.articles} articles; titles: {', '.join(candidate.titles)}"
    entry = _toml_entry(actor_id, candidate.name, actor_type, names, roles, source)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(entry)
    return path


def find_candidate(settings: Settings, name: str) -> CandidateSummary:
    """The recorded candidate spelt ``name`` (any case, diacritics or script)."""
    key = name_key(name)
    for summary in list_candidates(settings):
        if summary.key == key:
            return summary
    raise NewsdeskError(f"no candidate named {name!r}", hint="newsdesk actors candidates lists them")


def _refuse_taken(actor_id: str, names: Sequence[str], files: Sequence[Path]) -> None:
    ids, keys = _taken(files)
    if actor_id in ids:
        raise NewsdeskError(f"actor id {actor_id!r} already exists")
    if not actor_id or "," in actor_id:
        raise NewsdeskError(f"actor id {actor_id!r} must be non-empty and without commas")
    for name in names:
        if name_key(name) in keys:
            raise NewsdeskError(f"alias {name!r} already names actor {keys[name_key(name)]!r}")


def _taken(files: Sequence[Path]) -> tuple[set[str], dict[str, str]]:
    """Ids, and folded name/alias/short form → id, in the actor files that exist."""
    ids: set[str] = set()
    keys: dict[str, str] = {}
    for path in files:
        if not path.is_file():
            continue
        for table in _tables(path):
            ids.add(table["id"])
            for alias in [table.get("name", ""), *table.get("aliases", []), *table.get("short", [])]:
                keys.setdefault(name_key(alias), table["id"])
    keys.pop("", None)
    return ids, keys


def _tables(path: Path) -> list[dict[str, Any]]:
    try:
        with path.open("rb") as handle:
            tables = tomllib.load(handle).get("actor", [])
    except tomllib.TOMLDecodeError as e:
        raise NewsdeskError(f"{path} is not valid TOML: {e}") from e
    return [table for table in tables if isinstance(table, dict) and isinstance(table.get("id"), str)]


def _toml_entry(
    actor_id: str, name: str, actor_type: str, aliases: Sequence[str], roles: Sequence[str], source: str
) -> str:
    # JSON strings are valid TOML basic strings (same escapes, \uXXXX included).
    def quote(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["", "[[actor]]", f"id = {quote(actor_id)}", f"name = {quote(name)}", f"type = {quote(actor_type)}",
             f"aliases = [{', '.join(quote(a) for a in aliases)}]"]
    if roles:
        lines.append(f"roles = [{', '.join(quote(r) for r in roles)}]")
    lines.append(f"source = {quote(source)}")
    return "\n".join(lines) + "\n"
