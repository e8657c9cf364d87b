"""Leftovers: page furniture that still leaks into an extracted body.

A helper of the cleaner (stage 2). Both of its paths end here: the body
trafilatura found in an HTML page, and the lines of a plain-text page dump.
What leaks is the same in both — share bars, "Read more" and "Related"
blocks, newsletter and cookie prompts, ad markers, affiliate disclosures,
image credits, the byline or the headline repeated in the body, the author's
bio, a disclaimer or an appeal for donations closing it, a template's "Lorem
ipsum", UI strings in another script — and is
recognised by its shape and vocabulary, never by naming sites or pages.

The rules are deliberately asymmetric: a real sentence that happens to
contain a furniture word ("declined to comment", "the subscription
model") must survive, so the vocabulary rules only fire on short lines, and
on whole sentences only when the furniture phrase opens them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# Words that belong to site furniture rather than to reporting. On a short
# line without a sentence's end, one is enough; on a longer one, two.
_PROMPT = re.compile(
    r"\b(subscribe|subscription|newsletters?|sign (?:up|in)|log ?in|register|inbox|special offers"
    r"|follow us|share (?:this|on)|read more|related (?:articles|stories|news|posts)|comments?"
    r"|discussion|cookies?|advertisement|sponsored|latest news|stay tuned|breaking news"
    r"|updates|all rights reserved|copyright|loader|newsfeed|chats?"
    # the same prompts in the corpus's other languages: Serbian, Russian, Albanian
    r"|podeli(?:te)?|подели(?:те)?|поделиться|komentar(?:i|a)?|коментар(?:и|а)?|комментари(?:и|ев)"
    r"|pretplatite se|претплатите се|подписаться|shpërndaj(?:e)?|komente)\b",
    re.IGNORECASE,
)
# The first word of each phrase above: a line with none of them cannot match,
# and a set lookup is much cheaper than the alternation (kept in step with it).
_PROMPT_FIRST_WORDS = frozenset((
    "subscribe", "subscription", "newsletter", "newsletters", "sign", "log", "login", "register", "inbox",
    "special", "follow", "share", "read", "related", "comment", "comments", "discussion", "cookie", "cookies",
    "advertisement", "sponsored", "latest", "stay", "breaking", "updates", "all", "copyright", "loader",
    "newsfeed", "chat", "chats", "podeli", "podelite", "подели", "поделите", "поделиться", "komentar",
    "komentari", "komentara", "коментар", "коментари", "коментара", "комментарии", "комментариев",
    "pretplatite", "претплатите", "подписаться", "shpërndaj", "shpërndaje", "komente",
))
_WORD = re.compile(r"\w+")
# A line that opens with one of these is a prompt, whatever follows: a
# sentence of reporting does not start "Sign up for" or "Read more:".
_PROMPT_OPENING = re.compile(
    r"^\W*(?:read (?:more|also|next|the full)|related(?: (?:articles?|stories|news|posts|coverage|content))?\s*:"
    r"|see also|recommended(?: for you)?\s*:|more from|more on this|you (?:may|might) also like|also read"
    r"|sign up|subscribe (?:to|now|for|here)|join our|get (?:our|the latest)|don'?t miss|follow us|share (?:this|on)"
    r"|click here|thank you for (?:subscribing|signing up|reading)|we use cookies|this (?:site|website) uses cookies"
    r"|accept (?:all )?cookies|by (?:clicking|signing up|subscribing)|have a (?:news )?tip)(?!\w)",
    re.IGNORECASE,
)
# A line that is only a date stamp, with or without its cue: "Published:
# 14.03.2022. at 11:20", "Објављено: 14.03.2022. у 11:20", "Updated 3 hours ago".
# Possessive quantifiers (*+, ++): the runs overlap (spaces are \W, \s and
# the stamp's own characters), and a backtracking match tried every split of
# a long run of spaces: a garbled page's 85,000-space line took hours
# (found by bench/fuzz_pages.py). The same verdict on 305,487 corpus and seed lines
# (ten lines without a letter, never furniture by this rule, match differently).
_STAMP = re.compile(
    r"^\W*+(?:(?:published|updated|posted|last updated|objavljeno|ažurirano|објављено|ажурирано|опубликовано"
    r"|обновлено|publikuar|përditësuar)\b\W*+)?(?:on\s++)?[\d\s./:,-]++(?:\s*+(?:u|у|at|в|në|h|am|pm)\s*+[\d.:]*+)*+\W*+$",
    re.IGNORECASE,
)
# An affiliate disclosure: "We may earn a commission when you buy through our links."
# Lower case on purpose: the European Commission is news, not furniture.
_AFFILIATE = re.compile(r"\bearns?\b[^.]{0,30}\bcommissions?\b|\baffiliate (?:links?|commissions?|partners?)\b")
# Placeholder text a template left in: never the article.
_PLACEHOLDER = re.compile(r"^\W*lorem ipsum\b", re.IGNORECASE)
_AD_MARKER = re.compile(r"^\W*(advertisement|advertising|sponsored(?: content)?|ad|anzeige|reklama)\W*$", re.IGNORECASE)
_READ_TIME = re.compile(r"\b\d+\s*min(?:ute)?s?\.?\s+read\b", re.IGNORECASE)
# Nothing but punctuation: a separator. Figures alone (a price, a phone
# number, a score) are often the article's own.
_NO_WORDS = re.compile(r"^[\W_]*$")
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
# A line ending ", 21 September 2018." is a caption or a related-story link.
_CAPTION_DATE = re.compile(rf",\s*\d{{1,2}}\s+(?:{_MONTHS})\s+\d{{4}}\.?$", re.IGNORECASE)
_CREDIT = re.compile(
    r"^\W*(?:photo|image|foto|picture|credit|illustration)s?\s*(?:credit|by)?\s*:"
    r"|^\W*\(?(?:photo|image|illustration)s? by\b"
    r"|(?:getty images|shutterstock|ap photo|afp|reuters|epa|istock(?:photo)?)\W{0,3}$",
    re.IGNORECASE,
)
BYLINE = re.compile(r"^(?:by|from\s*:)\s*:?\s+(?P<name>[^\W\d_][^\W\d_.'’ -]*(?:[ .'’-]+[^\W\d_]+){0,5})\.?$", re.IGNORECASE)
#: A line this short with one furniture word is a prompt; longer, it is
#: more likely a heading of the article ("Who this newsletter is for").
_PROMPT_WORDS = 4
_CYRILLIC = re.compile("[\u0400-\u04ff]+")
_LETTER = re.compile(r"[^\W\d_]")
_LETTERS = re.compile(r"[^\W\d_]+")
_NON_WORD = re.compile(r"\W+")
#: What ends a sentence (or a quoted one), Chinese and Japanese stops included.
SENTENCE_END = ".!?…\"”’»)。！？"
#: A caption, a credit or a prompt is short; a line longer than this is prose.
_SHORT_LINE = 20


def drop_leftovers(
    lines: Sequence[str], title: str = "", authors: Iterable[str] = (), *, keep_repeats: bool = False
) -> list[str]:
    """The lines that are the article: furniture, the repeated headline and
    byline, and repeated paragraphs removed. Order is kept.

    ``keep_repeats`` keeps a paragraph that comes back word for word: in an
    extracted HTML body that is the article's own (a meal plan, a refrain),
    while in a page dump it is the page showing one blurb twice."""
    script = dominant_script(" ".join(lines))
    names = {squash(name) for name in authors if name}
    kept = [line for line in lines if not is_furniture(line, script) and not _is_byline(line, names)]
    if kept and title and squash(kept[0]) == squash(title):
        kept = kept[1:]  # the headline repeated as the first line
    kept = _drop_closing_notes(kept, authors)
    return _drop_standfirst(kept) if keep_repeats else drop_repeats(kept)


def is_furniture(line: str, script: str) -> bool:
    """Whether one line is page furniture rather than part of the article."""
    words = len(line.split())
    if _NO_WORDS.match(line):
        return not line.lstrip().startswith("|")  # a table's empty cells are the table's
    if _is_foreign_script(line, script, words) or words <= _SHORT_LINE * 2 and _PROMPT_OPENING.match(line):
        return True
    if _PLACEHOLDER.match(line):
        return True
    if words > 30:  # the vocabulary rules below are for short lines: a long one is prose
        return False
    return bool(
        _AD_MARKER.match(line)
        or _STAMP.match(line) and _LETTER.search(line)
        or words <= 8 and _READ_TIME.search(line)
        or words <= _SHORT_LINE and _CREDIT.search(line)
        or _CAPTION_DATE.search(line) and not _has_two_sentences(line)
        or _AFFILIATE.search(line)
        or is_prompt(line)
    )


def _drop_closing_notes(lines: list[str], authors: Iterable[str]) -> list[str]:
    """The notes that close a page after the article, read from its end:
    the author's bio, opening with the byline's name ("Jane Roe is a reporter
    who covers …", "Jane has written for …"), a disclaimer ("for
    informational purposes only", "do not necessarily reflect the views of
    …") and an appeal for support ("kept alive by reader donations").
    Anyone else's "X is a reporter" may be the story's own last line."""
    forms = tuple(f"{form} " for name in authors if name for form in (name, name.split()[0]))
    end = len(lines)
    while end > 2 and len(lines) - end < _CLOSING_NOTES and _is_closing_note(lines[end - 1], forms):
        end -= 1
    return lines[:end]


def _is_closing_note(line: str, forms: tuple[str, ...]) -> bool:
    opening = next((form for form in forms if line.startswith(form)), None)
    if opening and _BIO_VERB.match(line, len(opening)):
        return True  # the byline's own name opens it: a bio, however long
    if len(line.split()) > _NOTE_WORDS:
        return False
    return bool(_DISCLAIMER.search(line) or _APPEAL.search(line))


#: How many notes may close a page, and how long one may be.
_CLOSING_NOTES, _NOTE_WORDS = 3, 80
_BIO_VERB = re.compile(r"(?:is|was|has|joined|writes|covers|leads|serves)\b")
_DISCLAIMER = re.compile(
    r"^\W*(?:disclaimer|disclosure)s?\s*:"
    r"|\bfor (?:general )?(?:informational|information|educational)(?: and (?:informational|educational))?"
    r" purposes only\b"
    r"|\bnot (?:intended |meant )?(?:to be |as )?(?:a )?substitute for (?:professional|medical|legal|financial|direct)\b"
    r"|\bdo(?:es)? not necessarily (?:reflect|represent) the (?:views?|opinions?|positions?|polic(?:y|ies))\b",
    re.IGNORECASE,
)
_APPEAL = re.compile(
    r"\b(?:reader|your) donations\b|\bplease consider (?:supporting|donating|subscribing|becoming a)\b"
    r"|\bdonate (?:via|to us|now|today)\b",
    re.IGNORECASE,
)


def is_prompt(line: str) -> bool:
    """A short line made of furniture vocabulary ("Comments", "Sign up for our newsletter")."""
    if _PROMPT_FIRST_WORDS.isdisjoint(_WORD.findall(line.lower())):
        return False
    hits = {m.group(0).lower() for m in _PROMPT.finditer(line)}
    if not hits or line.startswith(("- ", "* ", "• ")):  # a list item of the article's own
        return False
    words = len(line.split())
    if _is_sentence(line):  # reporting may name a newsletter; a blurb piles such words up
        return len(hits) >= 2 and words <= _PROMPT_WORDS * 3 or len(hits) >= 3 and words <= 30
    return words <= _PROMPT_WORDS or len(hits) >= 2 and words <= 30


def _is_sentence(line: str) -> bool:
    """Ends like a sentence and has a verb-sized middle: "X declined to comment."."""
    return line.rstrip()[-1:] in ".!?" and len(line.split()) >= 4


def _is_byline(line: str, names: set[str]) -> bool:
    """The byline repeated in the body: "By Jane Roe", or just the author's name."""
    match = BYLINE.match(line)
    if match and len(line.split()) <= 8:
        return True
    # Only a line about as long as a name can be one; squashing is the cost.
    return bool(names) and len(line) <= 2 * max(map(len, names)) + _NAME_SLACK and squash(line) in names


#: Characters a byline may add around a name ("— Jane Roe, Reuters —").
_NAME_SLACK = 20


def _has_two_sentences(line: str) -> bool:
    return bool(re.search(r"[.!?]\s+[A-Z]", line))


def dominant_script(text: str) -> str:
    """"cyrillic" or "latin", by the share of Cyrillic letters."""
    if not _CYRILLIC.search(text):  # most pages: no letter to count
        return "latin"
    cyrillic, letters = _count(_CYRILLIC, text), _count(_LETTERS, text)
    return "cyrillic" if letters and cyrillic / letters > 0.5 else "latin"


def _count(letters: re.Pattern[str], text: str) -> int:
    # Runs of letters, not single ones: a short list of words to measure.
    return sum(map(len, letters.findall(text)))


def _is_foreign_script(line: str, script: str, words: int) -> bool:
    """A short line (of ``words`` words) with no letter of the page's script is
    a stray UI string. Mixed lines ("Аккаунт: @name") stay: they are the page's own."""
    if words > 12 or script == "latin" and not _CYRILLIC.search(line):
        return False
    cyrillic, letters = _count(_CYRILLIC, line), _count(_LETTERS, line)
    if not letters:
        return False
    return cyrillic == letters if script == "latin" else cyrillic == 0


def drop_repeats(lines: Sequence[str]) -> list[str]:
    """Drop repeated paragraphs, and a summary repeated by the next paragraph
    (a standfirst followed by the same sentence after a dateline). Short
    lines ("Pros:", a table's "Yes") may repeat in a real article."""
    kept: list[str] = []
    seen: set[str] = set()
    keys = [squash(line) for line in lines] + [""]  # each line squashed once, not again as the next one's follower
    for i, line in enumerate(lines):
        key, following = keys[i], keys[i + 1]
        long_enough = len(key.split()) >= 5
        if long_enough and key in seen or (len(key) > 40 and key in following and key != following):
            continue
        seen.add(key)
        kept.append(line)
    return kept


def _drop_standfirst(lines: Sequence[str]) -> list[str]:
    """Drop a summary that the next paragraph repeats after a dateline."""
    # A key over 40 characters can only come from a line that long once
    # case-folded (squashing never lengthens it): shorter lines need none.
    keys = [squash(line) if len(line.casefold()) > 40 else "" for line in lines] + [""]
    return [
        line for i, line in enumerate(lines)
        if not (len(keys[i]) > 40 and keys[i] in keys[i + 1] and keys[i] != keys[i + 1])
    ]


def drop_trailing_furniture(lines: list[str]) -> list[str]:
    """After the last sentence, short unpunctuated lines are page chrome."""
    end = len(lines)
    while end and len(lines[end - 1].split()) <= 6 and lines[end - 1][-1] not in SENTENCE_END:
        end -= 1
    return lines[:end]


def squash(line: str) -> str:
    """Case, punctuation and spacing folded away, for comparing lines."""
    return _NON_WORD.sub(" ", line.casefold()).strip()
