"""The authors of a news page, as person names.

A helper of the cleaner (stage 2 of the pipeline: sources → **clean** → enrich → index), for the
metadata reader (``search/clean/metadata.py``), which calls :func:`choose_authors` with the page's ``<meta>``
and JSON-LD as read once.

JSON-LD ``author``, then ``<meta>`` (``author``, ``article:author``, ``citation_author`` …), then byline
elements; all go through :func:`normalise_authors` (no "By", roles, credentials, e-mails, dates,
furniture or outlet names; "A and B" split; one spelling per person). It works on plain-text bylines as
well as HTML ones.

Exports :func:`choose_authors` and :func:`normalise_authors`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import lxml.html
from lxml import etree

from search.clean.linked_data import LinkedData
from search.clean.meta_tags import MetaTags
from search.clean.page_strings import repair, squash, text_key


def choose_authors(tree: lxml.html.HtmlElement, meta: MetaTags, linked: LinkedData,
                   outlet_names: list[str]) -> tuple[str, ...]:
    """Names from the first source that gives any: JSON-LD, ``<meta>``, bylines in the page.

    A source that gives only user handles ("jdoe", "j.doe") yields to a later
    one that gives a name written out.
    """
    sources = (lambda: linked.authors, lambda: _meta_authors(meta), lambda: _byline_authors(tree))
    fallback: tuple[str, ...] = ()
    for source in sources:
        names = normalise_authors(source(), outlet_names)
        if names and not all(_is_handle(name) for name in names):
            return names
        fallback = fallback or names
    return fallback


def _meta_authors(meta: MetaTags) -> list[str]:
    found = [value for key in _META_AUTHOR_KEYS for value in meta.all(key)] + meta.labelled(_AUTHOR_LABELS)
    # Scholarly pages list one author a tag, family name first: "Roy, Aniruddha".
    found += [" ".join(reversed(name.split(",", 1))) for name in meta.all("citation_author")]
    return found


# twitter:creator is left out: it holds a handle, not a name.
_META_AUTHOR_KEYS = ("author", "article:author", "og:article:author", "parsely-author", "sailthru.author",
                     "dc.creator", "dcterms.creator", "byl")
# Slack-style "twitter:label1: Written by / twitter:data1: Jane Doe" pairs.
_AUTHOR_LABELS = frozenset({"written by", "author", "authors", "by"})


# Elements a page marks as a byline or an author's name, then links to an author's page.
_BYLINE_XPATH = etree.XPath(
    "//@class[contains(., 'uthor') or contains(., 'yline') or contains(., 'YLINE') or contains(., 'UTHOR')]/.."
    " | //@itemprop[contains(., 'uthor')]/.. | //@rel[. = 'author']/.."
    " | //a[contains(@href, '/author/') or contains(@href, '/authors/')]"
)
# Texts that may open with a byline word; short ones only (a "By 2030, …" sentence is long).
# The first letter (or a space re's \s knows and XPath's does not) is tested
# in XPath, so that only these few texts become Python strings: half the time.
_BYLINE_FIRST = "bBwWpPvVaA\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\x85"
_BYLINE_TEXTS = etree.XPath(
    f"//body//text()[string-length() < 120][normalize-space()][contains('{_BYLINE_FIRST}', substring(normalize-space(), 1, 1))]"
)
_BYLINE_START = re.compile(r"\s*(?:by|written by|posted by|von|par|por|authors?)\b", re.IGNORECASE)
# Bylines in these parts of a page belong to other articles or to readers.
_ELSEWHERE = re.compile(r"comment|related|recommend|sidebar|widget|footer|newsletter|popular|trending|reply",
                        re.IGNORECASE)


def _byline_authors(tree: lxml.html.HtmlElement) -> list[str]:
    """The names in the first byline-like element that names someone: first
    the elements a page marks as bylines, then short texts opening with "By".

    Only names written like names (capitalised words) count here: a byline
    class or a "By" also catches prose, widgets and category links.
    """
    marked = _BYLINE_XPATH(tree)[:40]
    for index, element in enumerate(marked):
        if names := _byline_names(element):
            return _innermost(element, names, marked[index + 1:])
    for text in _BYLINE_TEXTS(tree):
        if _BYLINE_START.match(text):
            # A tail text ("<i></i> By Jane") belongs to the element around it.
            holder = text.getparent() if not text.is_tail else text.getparent().getparent()
            if holder is not None and (names := _byline_names(holder)):
                return names
    return []


def _innermost(element: lxml.html.HtmlElement, names: list[str], later: list[lxml.html.HtmlElement]) -> list[str]:
    """The names of the byline elements inside ``element`` when they say less: a byline box
    also holds links and buttons ("Jane Doe About the author Close"), its name element does not."""
    inside = [name for other in later if element in other.iterancestors() for name in _byline_names(other)]
    inner_words = {w for name in inside for w in name.split()}
    outer_words = {w for name in names for w in name.split()}
    return list(dict.fromkeys(inside)) if inside and inner_words < outer_words else names


def _byline_names(element: lxml.html.HtmlElement) -> list[str]:
    if element.tag in _NOT_BYLINE_TAGS or _is_elsewhere(element):
        return []
    text = _visible_text(element)
    if _PREFIX.fullmatch(text) is not None and element.getnext() is not None:
        text = _visible_text(element.getnext())  # a "Written by" label, the name beside it
    if not 0 < len(text) <= 120 or text.rstrip(": ").endswith("says"):
        return []
    return [name for name in normalise_authors([text]) if _is_written_name(name)]


def _is_written_name(name: str) -> bool:
    words = name.split()
    return all(w[0].isupper() or w in _PARTICLES or (i == 0 and w == "the") for i, w in enumerate(words))


_NOT_BYLINE_TAGS = frozenset({"meta", "link", "img", "script", "style", "html", "body", "head", "article", "main"})


def _is_elsewhere(element: lxml.html.HtmlElement) -> bool:
    """Inside comments, related stories, sidebars or the page footer."""
    for ancestor in element.iterancestors():
        if ancestor.tag in ("body", "html"):
            return False  # body classes describe the whole page ("comments-open")
        if ancestor.tag in ("nav", "form"):
            return True
        if _ELSEWHERE.search(f"{ancestor.get('class', '')} {ancestor.get('id', '')}"):
            return True
    return False


def _visible_text(element: lxml.html.HtmlElement) -> str:
    """Text of ``element``; where two nodes touch without a space ("By" +
    "Jane Doe", "Jane Doe" + "Dec 18"), a separator goes between them."""
    text = ""
    for piece in element.xpath(".//text()[not(ancestor::script or ancestor::style)]"):
        if text and piece and text[-1].isalnum() and piece[0].isalnum():
            text += " · "
        text += piece
    return squash(text)


_PREFIX = re.compile(
    r"^(?:(?:written|posted|published|reported|created|words|text|story|reporting|article|photos?)\s+by"
    r"|by|von|par|por|door|autor(?:in)?|authors?|auteur|written|posted)\b\s*[:\-–]?\s*",
    re.IGNORECASE,
)
# Who checked or edited a story is not who wrote it.
_NOT_AUTHOR = re.compile(r"^\W*(?:medically\s+)?(?:reviewed|fact[- ]?checked|edited|updated)\s+by\b", re.IGNORECASE)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_URL = re.compile(r"(?:https?://|www\.)\S*", re.IGNORECASE)
_SPLIT = re.compile(r"\s*(?:[,;&|/•·]|\s[-–—]\s|\s(?:and|und|et|y|e|i|og|och|en|и)\s)\s*", re.IGNORECASE)
_BIO = re.compile(r"\s(?:is|was)\s(?:a|an|the)\s.*")
# "Jane Doe for Reuters", "Jane Doe at Acme": cut only after a full name (two words).
_AFFILIATION = re.compile(r"^(\S+\s+\S+.*?)\s(?:on behalf of|for|in|at|from|on)\s.*")
_PARENTHESIS = re.compile(r"\s*\([^)]*\)?")
# "Interview: Jane Doe", "Fotos: John Roe": a label before the name.
_LABEL = re.compile(r"^(?:interview|text|texte|fotos?|photos?|bild|video|reportage|words|story|reporting)\s*:\s*",
                    re.IGNORECASE)
_WRITTEN_BY = re.compile(r"^.*?\b(?:written|posted|authored|reported)\s+by\s+", re.IGNORECASE)
_FURNITURE = frozenset({"read", "min", "mins", "minute", "minutes", "comments", "comment", "views", "disclosure",
                        "advertiser", "sponsored", "checked", "reviewed", "subscribe", "profile", "posts", "bio"})
# Month names (English, and the other languages of the corpus with a month before a number).
_MONTH = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|januar|februar|märz|juni|juli|oktober|dezember"
          r"|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre")
_DATE = re.compile(
    rf"\b(?:{_MONTH})\.?\s+\d|\b\d|\d{{1,4}}[./-]\d{{1,2}}[./-]\d"
    r"|\b(?:last\s+)?(?:updated?|published|posted|modified|ago)\b|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b",
    re.IGNORECASE,
)
# What is left before a date: "BeauHD on", "Jane Doe |".
_DANGLING = re.compile(r"(?:\s+(?:on|at|in|from|the|originally)|\W)+$", re.IGNORECASE)
_ROLES = frozenset({
    "writer", "editor", "correspondent", "reporter", "contributor", "columnist", "journalist", "producer",
    "analyst", "expert", "director", "ceo", "cto", "founder", "co-founder", "cofounder", "manager", "president",
    "officer", "specialist", "intern", "photographer", "consultant", "strategist", "blogger", "attorney", "lawyer",
    "coordinator", "assistant", "advisor", "adviser", "nurse", "physician", "dietitian", "nutritionist",
    "therapist", "coach", "trainer", "certified", "licensed", "registered",
    # words that open a role: "Senior Writer", "Former McKinsey Consultant"
    "senior", "chief", "former", "contributing", "executive", "managing", "deputy", "associate", "freelance",
    "guest", "head",
})
# A byline ending in one of these names a group ("Podium Staff", "News Desk"), not a role.
_GROUPS = frozenset({"staff", "team", "desk", "editors", "newsroom", "bureau"})
# What is left of "Acme Editorial Team" without "Acme" names nobody.
_GROUP_WORDS = _GROUPS | {"the", "our", "editorial", "news", "content", "editor", "editors", "writers"}
_CREDENTIALS = frozenset({
    "md", "phd", "ms", "msc", "ma", "mba", "rd", "rdn", "cpa", "cfp", "dvm", "jd", "rn", "np", "dds", "esq",
    "mph", "lcsw", "cfa", "pharmd", "ldn", "edd", "facs", "faan", "cpt", "sr", "jr",
})
_NOT_NAMES = frozenset({
    "admin", "administrator", "webmaster", "editor", "staff", "unknown", "anonymous", "guest", "undefined",
    "null", "none", "name", "user", "author", "share", "follow", "email", "reply", "facebook", "twitter",
    "linkedin", "instagram", "more", "menu", "home", "by", "the", "the author", "sign in", "log in", "login",
    "register", "subscribe", "category", "categories", "tags", "about the author", "contributors",
    # "the editors" in other languages, as "Staff" above
    "redaktion", "rédaction", "redacción", "redazione", "redactie", "redakcja", "redakcija", "редакция", "редакција",
})


def normalise_authors(raw: Iterable[str], outlet_names: Iterable[str] = ()) -> tuple[str, ...]:
    """Person names from author strings or bylines, each once, in order.

    Strips "By"/"Von"/"Par"/"Por", e-mails, URLs, dates, roles ("Staff
    Writer") and credentials ("MD"); splits "A, B and C"; drops site
    furniture ("Admin") and an outlet's own name given as author, unless that
    name reads like a person's (a one-person site). Title-cases a name only
    when it is all capitals. Works on plain-text bylines as well as HTML ones.
    """
    outlets = [name for name in outlet_names if text_key(name)]
    outlet_keys = {text_key(name) for name in outlets}
    names: dict[str, str] = {}
    for text in raw:
        if not text or _URL.fullmatch(text.strip()):
            continue
        whole = _PREFIX.sub("", squash(text))
        if text_key(whole) in outlet_keys and not _reads_as_person(whole):
            continue  # the outlet as a whole ("Morgan & Morgan" is not two Morgans)
        for found in _names_in(text):
            name = _without_outlet(found, outlets)
            if name:
                names.setdefault(text_key(name), name)
    kept = list(names.values())
    # "Doe" beside "Jane Doe": keep the fullest spelling only.
    words = [{text_key(w) for w in name.split()} for name in kept]
    return tuple(n for n, w in zip(kept, words, strict=True)
                 if not any(w < other for other in words))


def _names_in(text: str) -> Iterator[str]:
    """The names in one author string, in order."""
    text = squash(_URL.sub(" · ", _EMAIL.sub(" · ", repair(text))))
    text = _WRITTEN_BY.sub("", text)
    named = described = False
    for index, part in enumerate(_SPLIT.split(text)):
        if _NOT_AUTHOR.match(part):
            return  # "Reviewed by …, Attorney at …": the rest is about someone else
        if index and _is_credential(part):
            continue  # "Jane Doe, MD, RD"
        if named and _has_role(part):
            described = True  # "Jane Doe, Home and Security Expert, Hardware": a description follows
            continue
        name = _clean_name(part)
        if name and not (described and " " not in name):
            named = True
            yield name


def _has_role(part: str) -> bool:
    return any(w.lower().strip(".,") in _ROLES for w in part.split())


def _is_credential(part: str) -> bool:
    """"MD", "Ph.D.", "RD": letters after a name. "Ma" (a surname) is not one: credentials are not
    written in title case."""
    words = part.replace(".", "").split()
    return bool(words) and all((w.lower() in _CREDENTIALS and w != w.capitalize()) or (w.isupper() and 2 <= len(w) <= 5)
                               for w in words)


def _clean_name(part: str) -> str | None:
    """One person's name from one byline segment, or ``None`` if it is not one."""
    previous = None
    while previous != part:
        previous, part = part, _LABEL.sub("", _PREFIX.sub("", part.strip(" \t\"'“”‘’«».,:;()[]*-–—")))
    part = _AFFILIATION.sub(r"\1", _BIO.sub("", _PARENTHESIS.sub("", part)))
    if date := _DATE.search(part):
        part = _DANGLING.sub("", part[: date.start()])
    part = part.strip(" \t\"'“”‘’«».,:;()[]*-–—")
    words = _without_initials(_without_roles(part.split()))
    while len(words) > 1 and words[-1].replace(".", "").lower() in _CREDENTIALS and words[-1] != words[-1].capitalize():
        words.pop()
    part = " ".join(words)
    if not part or len(words) > 5 or part.casefold() in _NOT_NAMES or not any(ch.isalpha() for ch in part):
        return None
    if any(w.lower() in _FURNITURE for w in words):
        return None  # "5 min read", "Advertiser Disclosure"
    if len(words) == 1 and len(part) <= 2:
        return None  # initials on an avatar
    return part.title() if part.isupper() and len(part) > 3 and len(words) > 1 else part


def _without_roles(words: list[str]) -> list[str]:
    """"Jane Doe Senior Writer" → "Jane Doe"; a group byline ("Podium Staff") stays whole."""
    lower = [w.lower().strip(".,") for w in words]
    if lower and lower[-1] in _GROUPS and not any(w in _ROLES for w in lower):
        return words
    cut = next((i for i, w in enumerate(lower) if w in _ROLES), len(words))
    if cut < len(words):  # "Jane Doe Content Marketing Manager": the department goes too
        while cut and lower[cut - 1] in _DEPARTMENTS:
            cut -= 1
    # One word before a role is a department ("Marketing Director"), not a name.
    return [] if cut == 1 < len(words) else words[:cut]


_DEPARTMENTS = frozenset({
    "content", "marketing", "sales", "communications", "digital", "product", "social", "media", "seo",
    "operations", "engineering", "growth", "brand", "editorial", "research", "business", "technology", "tech",
    "hr", "pr", "finance", "development", "community", "news", "sports", "politics", "travel", "food",
})


def _without_initials(words: list[str]) -> list[str]:
    """"JD Jane Doe" → "Jane Doe": the initials an avatar shows before the name."""
    if len(words) >= 3 and words[0].isupper() and words[0] == "".join(w[0] for w in words[1:]).upper():
        return words[1:]
    return words


def _without_outlet(name: str, outlets: list[str]) -> str | None:
    """``name`` without the outlet's own name: "Jane Doe USA TODAY" → "Jane Doe"; "USA TODAY" → None."""
    for outlet in outlets:
        if text_key(name) == text_key(outlet):
            return name if _reads_as_person(name) else None
        suffixes = [f" {outlet}", *(f" {outlet} {group}" for group in _GROUPS)]  # "Jane Doe Acme Staff"
        trimmed_ends = [name[: -len(end)] for end in suffixes if name.casefold().endswith(end.casefold())]
        for trimmed in (*trimmed_ends, name.removeprefix(f"{outlet} ")):
            trimmed = trimmed.strip(" -–|,")
            if trimmed == name or not trimmed:
                continue
            if len(trimmed.split()) < 2:
                continue  # "Acme Staff" is a byline of its own
            if all(w.lower() in _GROUP_WORDS for w in trimmed.split()):
                return None  # "Acme Editorial Team": the outlet again
            if trimmed[0].isupper():
                return trimmed
    return name


def _reads_as_person(name: str) -> bool:
    """Two to four capitalised words and none that names an organisation."""
    words = name.split()
    if not 2 <= len(words) <= 4 or name.isupper() or words[0].lower() == "the":
        return False
    return all((w[0].isupper() or w in _PARTICLES) and w.lower() not in _ORG_WORDS for w in words)


_PARTICLES = frozenset({"van", "von", "der", "den", "de", "da", "di", "du", "la", "le", "del", "bin", "al"})
_ORG_WORDS = frozenset({
    "news", "media", "team", "staff", "desk", "inc", "inc.", "llc", "ltd", "gmbh", "corp", "company", "group",
    "press", "times", "post", "daily", "magazine", "online", "journal", "network", "agency", "services",
    "solutions", "blog", "tv", "radio", "foundation", "institute", "university", "association", "editors",
})


def _is_handle(name: str) -> bool:
    """A user name rather than a written-out name: "jdoe", "j.doe", "jane_doe42"."""
    return " " not in name and (name.islower() or any(ch in "._-@" or ch.isdigit() for ch in name))
