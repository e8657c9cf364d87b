"""The scale benchmark's peers answer the benchmark's questions: checked against plain Python over the articles.

bench/scale.py times tantivy and SQLite FTS5 beside Newsdesk on the same
articles and queries. A peer that answered a different question (an OR for an
AND, a facet counted per value instead of per article, the front page in
another order) would make its figures meaningless, so here both run on a
generated corpus and every total, facet count, hit and front page is compared
with a plain Python reading of the same articles. tantivy is a benchmark
extra (``pip install -e '.[bench]'``), not a test one: without it this skips.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import ROOT
from search.index import create_index, write_articles
from search.records import Article
from search.settings import Settings

pytest.importorskip("tantivy", reason="tantivy is a benchmark extra: pip install -e '.[bench]'")


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "bench" / "scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


BENCH = _bench()
TITLE_WORDS = ["harbour", "minister", "škola", "vote", "strike", "flood", "Ëlection", "market"]
BODY_WORDS = ["river", "council", "budget", "tariff", "grain", "Priština", "police", "school", "rain", "bank",
              "port", "court", "oil", "wheat", "talks"]
OUTLETS = ["Wire", "Alo", "Lajmi.net", "Daily"]
ACTORS = [f"Q{n}" for n in range(1, 9)]


def _corpus(n: int = 200, seed: int = 16) -> list[Any]:
    rng = random.Random(seed)
    dates = rng.sample(range(1, 5000), n)  # distinct: the front page's order is then one order
    docs = []
    for i in range(n):
        title = " ".join(rng.choices(TITLE_WORDS, k=3)).capitalize()
        body = ". ".join(" ".join(rng.choices(BODY_WORDS, k=8)) for _ in range(rng.randint(1, 4))) + "."
        when = dt.datetime(2001, 1, 1) + dt.timedelta(days=dates[i])
        docs.append(BENCH.PeerDoc(
            id=f"doc{i:03d}", title=title, body=body, outlet=rng.choice(OUTLETS), year=str(when.year),
            language=rng.choice(["en", "sr", "sq"]), actors=tuple(sorted(set(rng.sample(ACTORS, rng.randint(0, 3))))),
            date_key=int(when.strftime("%Y%m%d%H%M%S")) if i % 17 else 0,  # a few undated: last on the front page
        ))
    return docs


def _words(text: str) -> list[str]:
    """Lower case, diacritics folded, split on anything not a letter or digit: what both peers are given."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
    return re.findall(r"\w+", folded)


def _matches(doc: Any, q: str) -> bool:
    """Every word and every "phrase" of ``q``, each in the title or in the body."""
    fields = [_words(doc.title), _words(doc.body)]
    for part in re.findall(r'"[^"]*"|\S+', q):
        wanted = _words(part)
        if not any(_contains(words, wanted) for words in fields):
            return False
    return True


def _contains(words: list[str], run: list[str]) -> bool:
    return any(words[i:i + len(run)] == run for i in range(len(words) - len(run) + 1))


def _facets(docs: list[Any]) -> dict[str, dict[str, int]]:
    return {
        "outlet": dict(Counter(d.outlet for d in docs)),
        "actor": dict(Counter(a for d in docs for a in d.actors)),
        "year": dict(Counter(d.year for d in docs)),
        "language": dict(Counter(d.language for d in docs)),
    }


QUERIES = ["river", "harbour", "council budget", '"grain tariff"', "skola", "Priština", "pristina", "school vote",
           "absentword", '"wheat oil" court']


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Any:
    docs = _corpus()
    root = tmp_path_factory.mktemp("peers")
    builds = [BENCH.TantivyPeer.build(docs, root / "tantivy", 50), BENCH.SqlitePeer.build(docs, root / "fts5.db", 50)]
    assert [b.docs for b in builds] == [len(docs), len(docs)]
    opened = [BENCH.TantivyPeer(root / "tantivy"), BENCH.SqlitePeer(root / "fts5.db")]
    yield docs, opened
    for peer in opened:
        peer.close()


@pytest.mark.parametrize("q", QUERIES)
def test_each_peer_counts_what_plain_python_counts(peers: Any, q: str) -> None:
    docs, opened = peers
    matched = [d for d in docs if _matches(d, q)]
    assert matched or q == "absentword"  # the corpus exercises the query
    for peer in opened:
        page = peer.page(q)
        assert page.total == len(matched), peer.name
        assert page.facets == _facets(matched), peer.name
        assert len(page.ids) == min(10, len(matched)), peer.name
        assert set(page.ids) <= {d.id for d in matched}, peer.name
        assert len(peer.keyword(q)) == min(10, len(matched)), peer.name


def test_snippets_mark_the_matched_word(peers: Any) -> None:
    _, opened = peers
    for peer in opened:
        snippets = peer.page("council").snippets
        assert snippets and all("<b>council</b>" in s.casefold() for s in snippets), peer.name


def test_the_front_page_is_everything_newest_first(peers: Any) -> None:
    docs, opened = peers
    newest = [d.id for d in sorted(docs, key=lambda d: -d.date_key)[:10]]
    for peer in opened:
        page = peer.page("")
        assert (page.total, list(page.ids), page.facets) == (len(docs), newest, _facets(docs)), peer.name


def test_the_peers_agree_with_each_other(peers: Any) -> None:
    _, opened = peers
    assert BENCH.peers_agree(opened, QUERIES) == (len(QUERIES) + 1, len(QUERIES) + 1, [])


def test_fts_expressions_quote_every_word_and_phrase() -> None:
    assert BENCH.fts_match('grain "wheat oil" AND') == '"grain" "wheat oil" "AND"'
    assert BENCH.fts_match('say "it"s"') == '"say" "it" "s"'


def test_the_peers_index_what_newsdesk_stored(tmp_path: Path) -> None:
    settings = Settings(index=tmp_path)
    create_index(settings)
    published = dt.datetime(2019, 5, 4, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    articles = [
        Article(id="a1", title="Harbour strike", text="The port closed for a week of talks.", origin="test",
                outlet="Wire", published=published, language="en", actors=["Q2", "Q1"]),
        Article(id="a2", title="Rain", text="No date and no outlet are stated for this one.", origin="test",
                language="sr"),
    ]
    write_articles(articles, settings)
    docs = {d.id: d for d in BENCH.peer_docs(settings)}
    assert docs["a1"] == BENCH.PeerDoc("a1", "Harbour strike", "The port closed for a week of talks.", "Wire",
                                       "2019", "en", ("Q2", "Q1"), 20190504103000)
    assert (docs["a2"].outlet, docs["a2"].year, docs["a2"].actors, docs["a2"].date_key) == ("unknown", "unknown", (), 0)
