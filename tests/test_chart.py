"""The timeline as drawn: bar geometry, labels and links from a ``Timeline``, one panel per series."""

from __future__ import annotations

import datetime as dt

from search.query.timeline import Series, Timeline
from web.chart import AXIS, HEIGHT, WIDTH, bucket_label, draw

MONTHS = (dt.date(2019, 1, 1), dt.date(2019, 2, 1), dt.date(2019, 3, 1))


def narrowed(first: dt.date, last: dt.date, series: int | None = None) -> str:
    return f"/?from={first.isoformat()}&to={last.isoformat()}" + (f"&series={series}" if series is not None else "")


def test_bars_are_as_tall_as_their_counts_and_narrow_the_dates_to_their_bucket() -> None:
    chart = draw(Timeline("month", MONTHS, (4, 0, 2), undated=3), "count", narrowed)
    [panel] = chart.panels
    room = HEIGHT - AXIS
    assert [bar.height for bar in panel.bars] == [room, 0.0, room / 2]
    assert [round(bar.y + bar.height, 2) for bar in panel.bars] == [room] * 3  # all stand on the axis
    assert panel.bars[-1].x + panel.bars[-1].width <= WIDTH
    assert [bar.href for bar in panel.bars] == ["/?from=2019-01-01&to=2019-01-31", "/?from=2019-02-01&to=2019-02-28",
                                                "/?from=2019-03-01&to=2019-03-31"]
    assert [bar.label for bar in panel.bars] == ["January 2019: 4 articles", "February 2019: 0 articles",
                                                 "March 2019: 2 articles"]
    assert "highest: 4 articles in January 2019" in panel.summary
    assert chart.rows == (("January 2019", ("4 articles",)), ("February 2019", ("0 articles",)),
                          ("March 2019", ("2 articles",)))
    assert chart.undated == 3 and chart.measure == "count"


def test_by_outlet_one_panel_each_on_one_scale_and_shares_of_their_own_output() -> None:
    series = (Series("Sputnik", (2, 1, 0), (10, 4, 0)), Series("other", (1, 0, 1), (2, 8, 4)))
    found = Timeline("month", MONTHS, (3, 1, 1), 0, series)
    counts = draw(found, "count", narrowed)
    assert [panel.title for panel in counts.panels] == ["Sputnik (3 matching)", "Other outlets (2 matching)"]
    tallest = max(bar.height for panel in counts.panels for bar in panel.bars)
    assert counts.panels[0].bars[0].height == tallest  # 2 is the top of the common scale
    shares = draw(found, "share", narrowed)
    assert [bar.label for bar in shares.panels[0].bars] == ["January 2019: 20.0%", "February 2019: 25.0%",
                                                            "March 2019: 0.0%"]  # nothing published: no share
    assert shares.panels[1].bars[0].height == HEIGHT - AXIS  # 50 %: the highest share of any
    assert shares.rows[0] == ("January 2019", ("20.0%", "50.0%"))


def test_buckets_are_named_as_people_say_them() -> None:
    day = dt.date(2021, 3, 8)
    assert [bucket_label(day, interval) for interval in ("day", "week", "month", "year")] == [
        "8 Mar 2021", "week of 8 Mar 2021", "March 2021", "2021"]


def test_an_empty_timeline_draws_an_empty_panel() -> None:
    chart = draw(Timeline("month", (), (), 5), "count", narrowed)
    assert chart.panels[0].bars == () and chart.panels[0].summary == "No articles." and chart.undated == 5
