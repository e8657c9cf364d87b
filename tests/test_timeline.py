"""Attention over time, checked against plain Python over the stored articles.

A generated corpus is ingested for real (several commits, some articles
taken down, dates at day, week, month and year boundaries, with offsets
east and west of UTC, undated ones); the timeline of every article, and of
one outlet's, must equal counting the stored ``published`` moments by hand:
per UTC day, ISO week (Monday), month and year, undated ones apart, with
every bucket between the first and the last listed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from whoosh.searching import Searcher

from conftest import make_settings
from search.errors import QueryError
from search.index import open_index
from search.ingest import ingest
from search.query import columns, facets, matches
from search.query.timeline import INTERVALS, OTHER, Timeline, choose_interval, timeline
from search.settings import Settings
from search.takedown import take_down

OUTLETS = ("Alpha Daily", "Beta News", "Gamma Wire", "Delta Post", "Epsilon", "Zeta", "Eta Times")
#: Moments at awkward places: midnight either side of UTC, a Sunday night/Monday morning, month and year ends.
AWKWARD = ("2019-12-31T23:30:00-02:00", "2020-01-01T00:30:00+03:00", "2021-03-07T23:59:59+00:00",
           "2021-03-08T00:00:00+00:00", "2020-02-29T12:00:00Z", "2022-12-31T23:59:59+01:00")


def _record(rng: random.Random, n: int) -> dict[str, str]:
    fields = {"url": f"https://news.example/{n}", "title": f"Story {n}",
              "text": f"Envoys met in Brussels about story {n} and the talks {rng.random()}.",
              "outlet": rng.choice(OUTLETS)}
    roll = rng.random()
    if roll < 0.15:
        return fields  # undated
    if roll < 0.3:
        fields["published"] = rng.choice(AWKWARD)
    else:
        moment = dt.datetime(2019, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randrange(4 * 365 * 86400))
        offset = dt.timezone(dt.timedelta(hours=rng.choice((-8, -2, 0, 3, 9))))
        fields["published"] = moment.astimezone(offset).isoformat()
    return fields


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_corpus(tmp_path_factory.mktemp("timeline"))


def build_corpus(folder: Path) -> Settings:
    """450 generated articles in three commits, one taken down and four changed (deleted documents remain)."""
    settings = make_settings(folder / "instance", workers=1, batch_size=60)
    rng = random.Random(18)
    for part in range(3):  # several commits: several segments, and deleted documents in them
        path = folder / f"part{part}.jsonl"
        path.write_text("".join(json.dumps(_record(rng, part * 150 + n)) + "\n" for n in range(150)))
        ingest([path], settings, progress=False)
    take_down(settings, "https://news.example/3")
    # Changed articles: the old versions stay in their segments as deleted documents, the new ones move date.
    changed = folder / "changed.jsonl"
    changed.write_text("".join(json.dumps({**_record(rng, n), "text": f"Changed story {n}, the talks resumed."}) + "\n"
                               for n in (10, 160, 310, 311)))
    ingest([changed], settings, progress=False)
    with open_index(settings).searcher() as searcher:
        assert not all(leaf.live.all() for leaf in columns.index_columns(searcher).leaves)  # what the tests rely on
    return settings


@pytest.fixture
def searcher(corpus: Settings) -> Iterator[Searcher]:
    with open_index(corpus).searcher() as found:
        yield found


def _stored(searcher: Searcher) -> list[dict[str, object]]:
    return [fields for _, fields in searcher.iter_docs()]


def _day(fields: dict[str, object]) -> dt.date | None:
    published = fields.get("published")
    if published is None:
        return None
    assert isinstance(published, dt.datetime)
    moment = published if published.tzinfo is None else published.astimezone(dt.UTC)
    return moment.date()


def _bucket(day: dt.date, interval: str) -> dt.date:
    return {"day": day, "week": day - dt.timedelta(days=day.weekday()), "month": day.replace(day=1),
            "year": day.replace(month=1, day=1)}[interval]


def _following(start: dt.date, interval: str) -> dt.date:
    if interval == "day":
        return start + dt.timedelta(days=1)
    if interval == "week":
        return start + dt.timedelta(days=7)
    if interval == "month":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start.replace(year=start.year + 1)


def _expected(stored: list[dict[str, object]], interval: str) -> tuple[list[dt.date], list[int], int]:
    days = [_day(fields) for fields in stored]
    counted = Counter(_bucket(day, interval) for day in days if day is not None)
    starts = [min(counted)]
    while starts[-1] < max(counted):
        starts.append(_following(starts[-1], interval))
    return starts, [counted.get(start, 0) for start in starts], sum(day is None for day in days)


def _all(searcher: Searcher, outlet: str | None = None) -> tuple[columns.IndexColumns, list[columns.Mask]]:
    index = columns.index_columns(searcher)
    found = matches.everything(index)
    chosen = facets.selections(index, {"outlet": (outlet,)} if outlet else {})
    return index, facets.narrowed(found.masks, chosen)


@pytest.mark.parametrize("interval", INTERVALS)
def test_counts_per_bucket_equal_counting_the_stored_dates(searcher: Searcher, interval: str) -> None:
    stored = _stored(searcher)
    starts, counts, undated = _expected(stored, interval)
    found = timeline(*_all(searcher), interval)
    assert (list(found.starts), list(found.counts), found.undated) == (starts, counts, undated)
    assert sum(found.counts) + found.undated == len(stored)  # every live article once: the deleted ones in none


@pytest.mark.parametrize("interval", INTERVALS)
def test_one_outlets_timeline_counts_only_its_articles(searcher: Searcher, interval: str) -> None:
    stored = [fields for fields in _stored(searcher) if fields.get("outlet") == "Gamma Wire"]
    starts, counts, undated = _expected(stored, interval)
    found = timeline(*_all(searcher, "Gamma Wire"), interval)
    assert (list(found.starts), list(found.counts), found.undated) == (starts, counts, undated)


def test_split_by_outlet_gives_the_top_outlets_and_the_rest_with_their_whole_output(searcher: Searcher) -> None:
    stored = _stored(searcher)
    index = columns.index_columns(searcher)
    # The search: articles whose title number is even (a mask over the same documents, built by hand).
    wanted = {fields["id"] for fields in stored if int(str(fields["title"]).split()[-1]) % 2 == 0}
    ids = [np.array([searcher.stored_fields(leaf.offset + n)["id"] in wanted if leaf.live[n] else False
                     for n in range(leaf.columns.size)]) for leaf in index.leaves]
    found = timeline(index, ids, "year", split=True, top=3)
    matched = [fields for fields in stored if fields["id"] in wanted and _day(fields) is not None]
    by_outlet = Counter(str(fields["outlet"]) for fields in matched)
    top = sorted(by_outlet, key=lambda name: (-by_outlet[name], name))[:3]
    assert [series.outlet for series in found.series] == [*top, OTHER]
    for series in found.series:
        members = {series.outlet} if series.outlet != OTHER else set(OUTLETS) - set(top)
        for i, start in enumerate(found.starts):
            in_bucket = [f for f in stored if _day(f) is not None and _bucket(_day(f), "year") == start  # type: ignore[arg-type]
                         and f["outlet"] in members]
            assert series.counts[i] == sum(f["id"] in wanted for f in in_bucket)
            assert series.output[i] == len(in_bucket)
            assert series.share(i) == (series.counts[i] / series.output[i] if series.output[i] else None)
    assert [sum(column) for column in zip(*(s.counts for s in found.series), strict=True)] == list(found.counts)


def test_the_interval_is_chosen_from_the_span() -> None:
    day = dt.date(2020, 1, 1)
    assert choose_interval(day, day + dt.timedelta(days=30)) == "day"
    assert choose_interval(day, day + dt.timedelta(days=365)) == "week"
    assert choose_interval(day, day + dt.timedelta(days=5 * 365)) == "month"
    assert choose_interval(day, day + dt.timedelta(days=40 * 365)) == "year"


def test_nothing_matched_is_an_empty_timeline_with_the_undated_counted(searcher: Searcher) -> None:
    index, masks = _all(searcher)
    none = [np.zeros_like(mask) for mask in masks]
    assert timeline(index, none, "month") == Timeline("month", (), (), 0)


def test_the_json_lists_buckets_and_undated_apart(searcher: Searcher) -> None:
    found = timeline(*_all(searcher), "year").as_json()
    assert found["interval"] == "year"
    assert all(set(bucket) == {"start", "count"} for bucket in found["buckets"])
    assert [bucket["start"][5:] for bucket in found["buckets"]] == ["01-01"] * len(found["buckets"])
    assert isinstance(found["undated"], int) and "series" not in found


def test_too_many_buckets_is_a_query_error_with_a_hint(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "instance", workers=1)
    path = tmp_path / "wide.jsonl"
    path.write_text("".join(json.dumps({"url": f"https://wide.example/{n}", "title": f"T {n}", "outlet": "W",
                                        "text": f"Words about the talks number {n}.", "published": day}) + "\n"
                            for n, day in enumerate(("1900-01-01", "2020-01-01"))))
    ingest([path], settings, progress=False)
    with open_index(settings).searcher() as wide:
        with pytest.raises(QueryError) as refused:
            timeline(*_all(wide), "day")
        assert refused.value.status == 400 and "coarser interval" in (refused.value.hint or "")
        assert timeline(*_all(wide)).interval == "year"  # chosen, not asked: fine
