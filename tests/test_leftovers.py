"""Leftover rules: the furniture that leaks into an extracted body goes, and
the article's own lines that merely look like furniture stay."""

from __future__ import annotations

import pytest

from search.clean.leftovers import drop_leftovers, is_furniture

FURNITURE = [
    "Read more: Kosovo and Serbia trade accusations over border crossing",
    "Related: Lavrov meets Vučić in Belgrade",
    "Sign up for our morning newsletter to get the day's headlines in your inbox.",
    "Thank you for subscribing to our daily newsletter.",
    "We use cookies to give you the best experience on our website.",
    "Share on Facebook",
    "Advertisement",
    "- Advertisement -",
    "Photo: Adriatic Herald / Ana Berisha",
    "(Photo by Jane Roe/Getty Images)",
    "3 min read",
    "Comments",
    "Published: 14.03.2022 at 11:20",
    "Објављено: 14.03.2022. у 11:20",
    "Podelite na Fejsbuku",
    "* * *",
    "Products are chosen independently by our editors. Purchases made through our links may earn us a commission.",
    "We earn commissions from links on our site, enabling us to deliver independent reviews.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.",
]

ARTICLE = [
    "A spokeswoman for the ministry declined to comment.",
    "I also identified 28 newsletters, a small subset of the newsletters I subscribe to, as the test set.",
    "- No subscription discounts",
    "(415) 358-2000",
    "$39.99",
    "Аккаунт: @zygonema",
    "FROM orders",
    "| 1 | 2 |",
    "Who the State of AI Newsletter is for",
    "In 1999, NATO began its air campaign against Yugoslavia.",
    "The European Commission will earn no Commission fees from the links between the two grids.",
    "Officials said the agency would receive a commission to review the links.",
]


@pytest.mark.parametrize("line", FURNITURE)
def test_furniture_is_recognised(line: str) -> None:
    assert is_furniture(line, "latin"), line


@pytest.mark.parametrize("line", ARTICLE)
def test_the_articles_own_lines_stay(line: str) -> None:
    assert not is_furniture(line, "latin"), line


def test_the_repeated_headline_and_byline_go() -> None:
    lines = ["EU envoy returns to Pristina", "By Mira Kovač", "Mira Kovač", "PRISTINA — The envoy returned on Monday."]
    kept = drop_leftovers(lines, title="EU envoy returns to Pristina", authors=["Mira Kovač"], keep_repeats=True)
    assert kept == ["PRISTINA — The envoy returned on Monday."]


def test_repeated_paragraphs_stay_in_an_html_body_but_not_in_a_page_dump() -> None:
    lines = ["Breakfast: oats with berries and a cup of green tea, every day of the week.",
             "Lunch: a salad.",
             "Breakfast: oats with berries and a cup of green tea, every day of the week."]
    assert drop_leftovers(lines, keep_repeats=True) == lines
    assert drop_leftovers(lines) == lines[:2]


def test_a_standfirst_repeated_after_the_dateline_is_kept_once() -> None:
    standfirst = "Russia's foreign ministry said Kosovo's independence would cause instability in the Balkans."
    lines = [standfirst, f"MOSCOW, November 21 (RIA Novosti) - {standfirst} It said so on Wednesday."]
    assert drop_leftovers(lines, keep_repeats=True) == lines[1:]


def test_a_closing_author_bio_goes_but_the_author_quoted_in_the_text_stays() -> None:
    lines = ["PRISTINA — The envoy returned on Monday.", "Mira Kovač said the talks would resume.",
             "The next round is due in June.", "Mira Kovač is the Herald's Balkans correspondent, based in Pristina."]
    kept = drop_leftovers(lines, authors=["Mira Kovač"], keep_repeats=True)
    assert kept == lines[:3]
    assert drop_leftovers(lines[:3], authors=["Mira Kovač"], keep_repeats=True) == lines[:3]
    assert drop_leftovers([*lines[:3], "Mira has covered the region since 2015."], authors=["Mira Kovač"],
                          keep_repeats=True) == lines[:3]


STORY = ["BELGRADE — The foreign minister met the envoy on Monday.", "Brazil is the world's largest coffee producer.",
         "The views of the two sides do not necessarily reflect the public mood, analysts said.",
         "Jovana Petrović is a reporter who covers the talks; she said the next round is due in June."]


@pytest.mark.parametrize("note", [
    "Mira Kovač is a freelance travel writer and the editor of two guides to the Balkans.",
    "Disclosure: some of the links in this post are affiliate links.",
    "The information on this site is for general informational purposes only and is not legal advice.",
    "This article is not intended as a substitute for professional medical advice.",
    "The views expressed by the authors are their own and do not necessarily reflect the views of the institute.",
    "The Review is a non-profit project kept alive by reader donations. Please consider supporting us.",
])
def test_a_closing_note_goes_and_the_story_before_it_stays(note: str) -> None:
    """The byline's bio, a disclaimer or an appeal for support that closes
    the page is not the article; the same words inside the story are, and so
    is a closing line about someone else (STORY's last: a reporter in the news)."""
    assert drop_leftovers([*STORY, note], authors=["Mira Kovač"], keep_repeats=True) == STORY
    appeal = "Please consider supporting our reporting."  # several notes may close it
    assert drop_leftovers([*STORY, note, appeal], authors=["Mira Kovač"], keep_repeats=True) == STORY


def test_at_most_three_closing_notes_go_and_a_short_text_keeps_two_lines() -> None:
    notes = ["Disclosure: we earn nothing.", "Not a substitute for medical advice.", "Donate today to keep us free."] * 2
    assert drop_leftovers([*STORY, *notes], keep_repeats=True) == [*STORY, *notes[:3]]
    assert drop_leftovers([STORY[0], notes[0], notes[1]], keep_repeats=True) == [STORY[0], notes[0]]
