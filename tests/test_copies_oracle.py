"""Syndicated copies on a results page, checked against plain Python over the stored articles.

Each hit says how many live articles its cluster holds and which other
outlets published it. Clusters here span several segments (one commit per
outlet) and lose members to deletions, the two things a count read from the
index can get wrong.
"""

from __future__ import annotations

import random

from search.enrich import Gazetteer, enrich
from search.index import open_index, write_articles
from search.query import search
from search.records import Article, SearchQuery
from search.settings import Settings

OUTLETS = ("Balkan Wire", "Daily Observer", "Tanjug Digest", "Pristina Post")
WORDS = ["talks", "envoy", "treaty", "border", "vote", "budget", "energy", "bridge", "court", "harbour", "railway", "summit"]


def _story(number: int, rng: random.Random) -> str:
    return " ".join(f"{rng.choice(WORDS)} {number} {rng.choice(WORDS)} {n}." for n in range(40))


def test_every_hit_counts_the_live_copies_of_its_cluster(fresh: Settings, gazetteer: Gazetteer) -> None:
    rng = random.Random(15)
    stories = {number: _story(number, rng) for number in range(14)}
    published = {number: rng.sample(OUTLETS, rng.randint(1, len(OUTLETS))) for number in stories}
    for outlet in OUTLETS:  # one commit per outlet: a cluster's copies sit in different segments
        batch = [
            Article(id=f"{number}-{outlet[:3]}", title=f"Story {number} by {outlet}", text=text, origin="generated",
                    outlet=outlet)
            for number, text in stories.items() if outlet in published[number]
        ]
        write_articles([enrich(article, gazetteer) for article in batch], fresh)
    with open_index(fresh).searcher() as searcher:
        doomed = sorted(fields["id"] for fields in searcher.all_stored_fields())[::5]
    writer = open_index(fresh).writer()
    for article_id in doomed:
        writer.delete_by_term("id", article_id)
    writer.commit()

    with open_index(fresh).searcher() as searcher:
        live = list(searcher.all_stored_fields())
        page = search(searcher, SearchQuery(per_page=100), fresh, gazetteer)
    assert page.total == len(live) > 0
    assert len({hit.cluster for hit in page.hits}) < len(page.hits)  # some stories are syndicated
    for hit in page.hits:
        copies = [fields for fields in live if fields["cluster"] == hit.cluster]
        others = sorted({fields["outlet"] for fields in copies} - {hit.outlet}, key=str.casefold)
        assert (hit.copies, list(hit.also)) == (len(copies), others), hit.id
