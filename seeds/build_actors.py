"""Regenerate seeds/actors.toml from the shared gazetteer sources and the hand additions.

Run from the repository root::

    .venv/bin/python seeds/build_actors.py [--shared DIR] [--out FILE]

``--shared`` is the shared data directory (default: ``$NEWSDESK_SHARED``, else
``<repo>/../shared``); the sources are read from ``DIR/data/gazetteer/``:

* ``petrarch2/Phoenix.*.actors.txt`` — Phoenix / PETRARCH2 CAMEO actor
  dictionaries (MIT). Entries are ``NAME_WITH_UNDERSCORES_ [CODE]`` lines,
  followed by ``+ALIAS`` lines and dated role lines such as
  ``[RUSGOV 991231-080507]``, ``[RUSGOV >20040309]`` or ``[YUGKSV <920428]``
  (dates YYMMDD or YYYYMMDD); ``#`` starts a comment.
* ``everypolitician/*.csv`` — EveryPolitician / Wikidata officeholders (CC0):
  Wikidata ids, names, positions and their start (and end) dates.
* ``newsmap/*.yml`` — newsmap country dictionaries (MIT): country names in
  English, French, German and Russian; from the English list also the
  demonym (``Serbian*``, taken as the adjective "Serbian") and the capital
  (``NEWSMAP_METONYMS``), which go to ``demonyms`` and ``capitals``, not to
  the aliases: they count only in a state context (search/enrich/actors.py).

Nothing is taken wholesale: the constants below name exactly which Phoenix
entries (and, for countries and organisations, which of their aliases), which
Wikidata ids and which newsmap country codes are used, and for which actor.
``seeds/actors_additions.toml`` (hand-curated, every entry citing its source)
adds what the frozen sources miss and decides display names, ``short`` forms
and notes. The output is sorted (countries, organisations, people; by name
within each) and byte-for-byte reproducible; ``tests/test_actor_data.py``
checks that the committed file is what this script writes.

Dated roles (``roles``) come from EveryPolitician and the additions, written
"Office of Place start–end" and merged when two name one office and start
year (the one with an end date, then the more precise, wins). Phoenix's role
codes ("SRBGOV 2012-07-27–") are for event coding, not for readers: they
are left out.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
ADDITIONS = SEEDS / "actors_additions.toml"
OUTPUT = SEEDS / "actors.toml"
TYPES = ("country", "organisation", "person")
KEYS = frozenset({"id", "name", "type", "aliases", "short", "source", "roles", "note", "demonyms", "capitals"})

# ----------------------------------------------------------------- selection


@dataclass(frozen=True)
class Pick:
    """Phoenix entries that make up one actor.

    ``take`` lists the aliases to use (the entry names count as aliases); when
    it is None (people only) every alias is used except those in ``drop``.
    Single-word aliases of people become ``short`` unless the additions list
    them as full aliases.
    """

    actor_id: str
    file: str  # "Countries" | "International"
    entries: tuple[str, ...]
    type: str
    name: str = ""  # default: the first entry, title-cased
    take: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()


def _country(actor_id: str, entries: tuple[str, ...], take: tuple[str, ...]) -> Pick:
    return Pick(actor_id, "Countries", entries, "country", take=take)


def _org(actor_id: str, file: str, entries: tuple[str, ...], take: tuple[str, ...] = ()) -> Pick:
    return Pick(actor_id, file, entries, "organisation", take=take)


def _person(actor_id: str, entries: tuple[str, ...], drop: tuple[str, ...] = (), file: str = "Countries") -> Pick:
    return Pick(actor_id, file, entries, "person", drop=drop)


PHOENIX: tuple[Pick, ...] = (
    # Countries and entities: only names of the state, not demonyms, cities or typos.
    _country("Q159", ("RUSSIAN_FEDERATION_",), ("RUSSIA_",)),
    _country("Q403", ("SERBIA",), ("REPUBLIC_OF_SERBIA_", "REPUBLIKA_SRBIJA")),
    _country("Q1246", ("KOSOVO",), ("KOSOVA", "REPUBLIC_OF_KOSOVO_")),
    _country("Q222", ("ALBANIA_",), ("SHQIPERIA_", "SHQIPERISE_")),
    _country("Q30", ("UNITED_STATES_OF_AMERICA_",), ("US_", "U.S.", "USA_", "U.S.A._", "UNITED_STATES_")),
    _country("Q41", ("GREECE_",), ("HELLENIC_REPUBLIC_",)),
    _country("Q221", ("MACEDONIA_",), ("FYROM_",)),
    _country(
        "Q225",
        ("BOSNIA_AND_HERZEGOVINA",),
        ("BIH_", "BOSNIA_", "BOSNIA_AND_HERCEGOVINA_", "BOSNIA-HERZEGOVINA", "BOSNIA-HERCEGOVINA"),
    ),
    _country("Q236", ("MONTENEGRO_",), ()),
    _country("Q224", ("CROATIA_",), ("HRVATSKA_", "REPUBLIC_OF_CROATIA_", "REPUBLIKA_HRVATSKA_")),
    _country("republika-srpska", ("REPUBLICA_SRPSKA",), ("REPUBLIC_OF_SRPSKA_", "REPUBLIKA_SRPSKA_")),
    _country("yugoslavia", ("SERBIA_AND_MONTENEGRO",), ("SERBIA_MONTENEGRO", "YUGOSLAV_FEDERAL_REPUBLIC")),
    # Organisations.
    _org("Q458", "International", ("THE_EUROPEAN_UNION_",), ("EUROPEAN_UNION", "THE_EU_")),
    _org("Q1065", "International", ("UNITED_NATIONS_", "THE_UN_", "U.N._")),
    _org("unsc", "International", ("UN_SECURITY_COUNCIL_", "U.N._SECURITY_COUNCIL")),
    _org("Q7184", "International", ("NATO_",), ("NORTH_ATLANTIC_TREATY_ORGANIZATION_",)),
    _org(
        "osce",
        "International",
        (
            "ORGANISATION_FOR_SECURITY_AND_COOPERATION_IN_EUROPE_",
            "ORGANISATION_FOR_SECURITY_AND_CO-OPERATION_IN_EUROPE_",
            "ORGANIZATION_FOR_SECURITY_AND_COOPERATION_IN_EUROPE_",
            "ORGANIZATION_FOR_SECURITY_AND_CO-OPERATION_IN_EUROPE_",
        ),
    ),
    _org("council-of-europe", "International", ("COUNCIL_OF_EUROPE_",)),
    _org("reuters", "International", ("REUTERS",)),
    _org("kremlin", "Countries", ("KREMLIN_",)),
    _org("kosovo-security-force", "Countries", ("KOSOVA_SECURITY_FORCE",), ("KOSOVO_SECURITY_FORCE",)),
    # Russia.
    _person("Q7747", ("VLADIMIR_PUTIN_",)),
    # DMITR_MEDVEDEV_ holds the roles; it and two of its aliases are misspelt.
    _person("dmitry-medvedev", ("DMITRY_MEDVEDEV_", "DMITR_MEDVEDEV_"),
            drop=("DMITR_MEDVEDEV_", "DMITRI_A_.MEDVEDEV_", "DIMITR_ANATOLYEVICH_MEDVEDEV_")),
    _person("Q58217", ("SERGEY_LAVROV_",)),
    _person("igor-ivanov", ("IGOR_IVANOV_",)),
    _person("mikhail-kasyanov", ("MIKHAIL_KASYANOV_",)),
    _person("mikhail-fradkov", ("MIKHAIL_FRADKOV_",)),
    _person("viktor-zubkov", ("VIKTOR_ZUBKOV_",)),
    # Serbia.
    _person("Q222031", ("ALEKSANDAR_VUCIC_",)),
    _person("tomislav-nikolic", ("TOMISLAV_NIKOLIC_",)),
    # Kosovo.
    _person("hashim-thaci", ("HASHIM_THACI_",)),
    _person("Q441633", ("ALBIN_KURTI_",)),
    _person("ibrahim-rugova", ("IBRAHIM_RUGOVA",)),
    _person("fatmir-sejdiu", ("FATMIR_SEJDIU_",)),
    _person("behgjet-pacolli", ("BEHGJET_PACOLLI_",)),
    _person("atifete-jahjaga", ("ATIFETE_JAHJAGA_",)),
    _person("bajram-rexhepi", ("BAJRAM_REXHEPI_",)),
    # Albania.
    _person("sali-berisha", ("SALI_BERISHA_",)),
    _person("alfred-moisiu", ("ALFRED_MOISIU_",)),
    _person("bamir-topi", ("BAMIR_TOPI_",)),
    _person("bujar-nishani", ("BUJAR_NISHANI_",)),
    _person("Q727132", ("ILIR_META_",)),
    _person("fatos-nano", ("FATOS_NANO_",)),
    _person("lulzim-basha", ("LULZIM_BASHA_",)),
    # Montenegro.
    _person("Q200305", ("MILO_DUKANOVIC_",)),
    _person("filip-vujanovic", ("FILIP_VUJANOVIC_",)),
    # North Macedonia, Croatia.
    _person("boris-trajkovski", ("BORIS_TRAJKOVSKI_",)),
    _person("branko-crvenkovski", ("BRANKO_CRVENKOVSKI_",)),
    _person("vlado-buckovski", ("VLADO_BUCKOVSKI_",)),
    _person("antonio-milososki", ("ANTONIO_MILOSOSKI_",)),
    _person("bujar-osmani", ("BUJAR_OSMANI_",)),
    _person("gjorge-ivanov", ("GJORGE_IVANOV_",)),
    _person("nikola-gruevski", ("NIKOLA_GRUEVSKI_",)),
    _person("nikola-dimitrov", ("NIKOLA_DIMITROV_",)),
    _person("Q57687", ("ZORAN_MILANOVIC_",)),
    _person("stipe-mesic", ("STIPE_MESIC_",)),
    _person("ivo-josipovic", ("IVO_JOSIPOVIC_",)),
    _person("kolinda-grabar-kitarovic", ("KOLINDA_GRABAR_KITAROVIC_",)),
    _person("ivo-sanader", ("IVO_SANADER_",)),
    _person("jadranka-kosor", ("JADRANKA_KOSOR_",)),
    # United States. "President Bush" and "Governor Bush" fit two (or three) Bushes.
    _person("george-w-bush", ("GEORGE_W._BUSH_",), drop=("PRESIDENT_BUSH_", "PRESIDENT_GEORGE_BUSH_", "GOVERNOR_BUSH",
                                                       "US_PRESIDENT_GEORGE_BUSH", "U.S._PRESIDENT_GEORGE_BUSH",
                                                       "AMERICAN_PRESIDENT_GEORGE_BUSH", "US_PREsident George Bush")),
    _person("bill-clinton", ("BILL_CLINTON_",), drop=("MR_CLINTON",)),
    _person("barack-obama", ("BARACK_OBAMA",)),
    _person("Q6279", ("JOE_BIDEN_",)),
    _person("colin-powell", ("COLIN_POWELL_",)),
    _person("condoleezza-rice", ("CONDOLEEZZA_RICE_",), drop=("SECRETARY_RICE", "SECRETARY_OF_STATE_RICE")),
    _person("hillary-clinton", ("HILLARY_CLINTON_",), drop=("SECRETARY_CLINTON_", "SECRETARY_OF_STATE_CLINTON")),
    _person("john-kerry", ("JOHN_KERRY_",), drop=("SECRETARY_KERRY_", "SECRETARY_OF_STATE_KERRY_", "SENATOR_KERRY_")),
    # The EU's leadership.
    _person("javier-solana", ("JAVIER_SOLANA_",), file="International"),
    _person("catherine-ashton", ("CATHERINE_ASHTON",), file="International"),
    _person("josep-borrell", ("JOSEP_BORRELL_",), file="International"),
    _person("miroslav-lajcak", ("MIROSLAV_LAJCAK_",)),
    _person("jean-claude-juncker", ("JEAN_CLAUDE_JUNCKER_",)),
    _person("donald-tusk", ("DONALD_TUSK_",)),
    _person("ursula-von-der-leyen", ("URSULA_VON_DER_LEYEN_",)),
    _person("charles-michel", ("CHARLES_MICHEL_",)),
    _person("herman-van-rompuy", ("HERMAN_VAN_ROMPUY_",)),
    _person("jose-manuel-barroso", ("JOSE_MANUEL_DURAO_BARROSO_",)),
    _person("romano-prodi", ("ROMANO_PRODI_",)),
)

# Wikidata ids of the EveryPolitician tables used, for people (the actor id is
# the Wikidata id unless ACTOR_IDS says otherwise) and for countries (from
# world-leaders' countryid/country columns).
WIKIDATA_PEOPLE: tuple[str, ...] = (
    "Q7747", "Q4298520", "Q58217",  # Russia: Putin, Mishustin, Lavrov
    "Q222031", "Q26258815", "Q7438681", "Q57843",  # Serbia: Vučić, Brnabić, Selaković, Dačić
    "Q13047644", "Q441633", "Q106119866",  # Kosovo: Osmani, Kurti, Gërvalla-Schwarz
    "Q107422711", "Q316901", "Q727132", "Q13043722",  # Albania: Begaj, Rama, Meta, Xhaçka
    "Q12752078",  # Bosnia and Herzegovina: Tegeltija
    "Q11685764", "Q57687",  # Croatia: Plenković, Milanović
    "Q200305", "Q97999161", "Q16353146",  # Montenegro: Đukanović, Krivokapić, Abazović
    "Q15967423", "Q220579", "Q110288715",  # North Macedonia: Pendarovski, Zaev, Kovačevski
    "Q6279",  # United States: Biden
)
WIKIDATA_COUNTRIES: tuple[str, ...] = ("Q159", "Q403", "Q1246", "Q222", "Q225", "Q224", "Q236", "Q221", "Q30")
# The cabinet tables do not name their country.
CABINET_FILES: dict[str, str] = {
    "albania-cabinet.current.csv": "Albania",
    "kosovo-cabinet.current.csv": "Kosovo",
    "russia-cabinet.current.csv": "Russia",
    "serbia-ministers.current.csv": "Serbia",
}

# newsmap country code → actor id; entries with "*" are patterns and skipped.
NEWSMAP: dict[str, str] = {
    "RU": "Q159", "RS": "Q403", "KV": "Q1246", "AL": "Q222", "BA": "Q225", "HR": "Q224",
    "ME": "Q236", "MK": "Q221", "GR": "Q41", "US": "Q30",
}
NEWSMAP_LANGUAGES = ("english", "french", "german", "russian")
# Capitals, cities, regions, demonyms and typos in those lists: not country names.
NEWSMAP_SKIP = frozenset({
    "Moscow", "Moscou", "Moskau", "St Petersburg", "Belgrade", "Belgrad", "Serbe", "Pristina", "Tirana",
    "Sarajevo", "Herzegovina", "Herzegovine", "Bonsie-Herzégovine", "Zagreb", "Podgorica", "Skopje", "Скопье",
    "Athens", "Athènes", "Athen", "Grec", "Grecs", "Washington", "New York", "Amerikas", "Mazekoniens",
})
# From english.yml, per country code: the demonym pattern (its adjective is
# the pattern without "*": "Russians" names people, not the state) and the
# capital. The build fails if the list no longer has them.
NEWSMAP_METONYMS: dict[str, tuple[str, str]] = {
    "RU": ("Russian*", "Moscow"), "RS": ("Serbian*", "Belgrade"), "KV": ("Kosovan*", "Pristina"),
    "AL": ("Albanian*", "Tirana"), "BA": ("Bosnian*", "Sarajevo"), "HR": ("Croatian*", "Zagreb"),
    "ME": ("Montenegrin*", "Podgorica"), "MK": ("Macedonian*", "Skopje"), "GR": ("Greek*", "Athens"),
    "US": ("American*", "Washington"),
}

# -------------------------------------------------------------------- model


@dataclass
class Draft:
    """One actor while it is being put together."""

    id: str
    name: str
    type: str
    aliases: list[str] = field(default_factory=list)
    short: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    demonyms: list[str] = field(default_factory=list)
    capitals: list[str] = field(default_factory=list)


class BuildError(Exception):
    """The sources or the additions do not fit the selection."""


def key(alias: str) -> str:
    """A rough fold (case, accents, spaces) to spot duplicate spellings."""
    decomposed = unicodedata.normalize("NFKD", alias.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def is_acronym(alias: str) -> bool:
    """Like search/enrich/actors.py: short and mostly capitals, so matched case-sensitively."""
    letters = [ch for ch in alias if ch.isalpha()]
    return len(letters) <= 5 and sum(ch.isupper() for ch in letters) >= 2


def add_unique(target: list[str], values: Iterable[str]) -> None:
    """Append values not yet present, spelling-insensitively except for acronyms."""
    for value in values:
        value = " ".join(value.split())
        if not value or value in target:
            continue
        if not is_acronym(value) and any(key(value) == key(old) and not is_acronym(old) for old in target):
            continue
        target.append(value)


# ------------------------------------------------------------------ Phoenix

_KEEP_UPPER = frozenset({"US", "U.S.", "UN", "U.N.", "EU", "USA", "U.S.A.", "NATO", "BIH", "FYROM"})
_LOWER = frozenset({"of", "and", "the", "for", "in", "on", "von", "der", "van", "de"})
_ROLE = re.compile(r"\[([A-Z]+)\s*([<>]?)\s*(\d{6,8})?(?:-(\d{6,8}))?\s*\]")


@dataclass
class PhoenixEntry:
    name: str
    aliases: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)


def phoenix_text(raw: str) -> str:
    """``SERGEY_V._LAVROV_`` → ``Sergey V. Lavrov``; acronyms stay in capitals."""
    words = raw.replace("_", " ").split()
    out = []
    for n, word in enumerate(words):
        if n and word.lower() in _LOWER:
            out.append(word.lower())
        elif word.upper() in _KEEP_UPPER:
            out.append("BiH" if word.upper() == "BIH" else word.upper())
        else:
            out.append("-".join(part[:1].upper() + part[1:].lower() for part in word.split("-")))
    return " ".join(out)


def _date(raw: str) -> str:
    if len(raw) == 6:
        century = "20" if int(raw[:2]) <= 30 else "19"
        raw = century + raw
    return f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"


def _roles(text: str) -> list[str]:
    body, _, comment = text.partition("#")
    roles = []
    for code, sign, first, second in _ROLE.findall(body):
        if not first:
            continue  # undated
        if second:
            span = f"{_date(first)}–{_date(second)}"
        elif sign == "<":
            span = f"–{_date(first)}"
        else:
            span = f"{_date(first)}–"
        note = comment.split("#")[0].strip()
        roles.append(f"{code} {span}" + (f" (Phoenix: {note})" if note and "CountryInfo" not in note else ""))
    return roles


def read_phoenix(path: Path) -> dict[str, list[PhoenixEntry]]:
    """Every entry of one dictionary by its raw name (a name may occur more than once)."""
    entries: dict[str, list[PhoenixEntry]] = {}
    current: PhoenixEntry | None = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("+"):
            if current is not None:
                alias = re.split(r"[\[#]", stripped[1:], maxsplit=1)[0].strip()
                if alias:
                    current.aliases.append(alias)
        elif stripped.startswith("["):
            if current is not None:
                current.roles.extend(_roles(stripped))
        elif not line[0].isspace():
            name = re.split(r"[\s\[#]", stripped, maxsplit=1)[0]
            current = PhoenixEntry(name, roles=_roles(stripped[len(name):]))
            entries.setdefault(name, []).append(current)
    return entries


def from_phoenix(directory: Path) -> dict[str, Draft]:
    files = {
        name: read_phoenix(directory / f"Phoenix.{name}.actors.txt") for name in ("Countries", "International")
    }
    drafts: dict[str, Draft] = {}
    for pick in PHOENIX:
        found = [entry for raw in pick.entries for entry in files[pick.file].get(raw, [])]
        missing = [raw for raw in pick.entries if raw not in files[pick.file]]
        if missing:
            raise BuildError(f"Phoenix.{pick.file}.actors.txt has no entry {missing} (for {pick.actor_id})")
        available = [entry.name for entry in found] + [alias for entry in found for alias in entry.aliases]
        if pick.take is None:
            unknown = set(pick.drop) - set(available)
            # "The Obama administration" is not the person.
            chosen = [alias for alias in available if alias not in pick.drop and "ADMINISTRATION" not in alias.upper()]
        else:
            unknown = set(pick.take) - set(available)
            chosen = list(pick.entries) + list(pick.take)
        if unknown:
            raise BuildError(f"Phoenix entries {list(pick.entries)} have no aliases {sorted(unknown)}")
        draft = drafts.setdefault(
            pick.actor_id, Draft(pick.actor_id, pick.name or phoenix_text(pick.entries[0]), pick.type)
        )
        for alias in map(phoenix_text, chosen):
            if pick.type == "person" and " " not in alias:
                add_unique(draft.short, [alias])
            else:
                add_unique(draft.aliases, [alias])
        draft.sources.append(f"Phoenix.{pick.file}.actors.txt ({', '.join(pick.entries)})")
        if pick.type == "person":
            add_unique(draft.roles, [role for entry in found for role in entry.roles])
    return drafts


# ----------------------------------------------------------- EveryPolitician


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def from_everypolitician(directory: Path) -> dict[str, Draft]:
    drafts: dict[str, Draft] = {}

    def person(qid: str, name: str, role: str, source: str) -> None:
        if qid not in WIKIDATA_PEOPLE:
            return
        draft = drafts.setdefault(qid, Draft(qid, name, "person"))
        add_unique(draft.aliases, [name])
        add_unique(draft.roles, [role])
        if source not in draft.sources:
            draft.sources.append(source)

    world = "world-leaders-2021.wikidata.csv"
    for row in _read_csv(directory / world):
        start, end = row["start_year"], row["end_year"]
        role = f"{row['positionLabel'][:1].upper()}{row['positionLabel'][1:]} {start}–{end}"
        person(row["officeholder"], row["officeholderLabel"], role, f"everypolitician {world}")
        if row["countryid"] in WIKIDATA_COUNTRIES:
            draft = drafts.setdefault(row["countryid"], Draft(row["countryid"], row["country"], "country"))
            add_unique(draft.aliases, [row["country"]])
            if f"everypolitician {world}" not in draft.sources:
                draft.sources.append(f"everypolitician {world}")
    for file, country in CABINET_FILES.items():
        for row in _read_csv(directory / file):
            role = f"{row['position']} ({country}) {row['start']}–{row.get('end') or ''}"
            person(row["personID"], row["person"], role, f"everypolitician {file}")
    missing = set(WIKIDATA_PEOPLE) - set(drafts)
    if missing:
        raise BuildError(f"no EveryPolitician table has {sorted(missing)}")
    return drafts


# -------------------------------------------------------------------- newsmap

_NEWSMAP_LINE = re.compile(r"^\s*'([A-Z]{2})':\s*\[(.*)\]\s*$")


def from_newsmap(directory: Path) -> dict[str, Draft]:
    drafts: dict[str, Draft] = {}
    for language in NEWSMAP_LANGUAGES:
        for line in (directory / f"{language}.yml").read_text(encoding="utf-8").splitlines():
            match = _NEWSMAP_LINE.match(line)
            if not match or match.group(1) not in NEWSMAP:
                continue
            code, actor_id = match.group(1), NEWSMAP[match.group(1)]
            names = [item.strip() for item in match.group(2).split(",")]
            names = [n for n in names if n and "*" not in n and n not in NEWSMAP_SKIP]
            draft = drafts.setdefault(actor_id, Draft(actor_id, "", "country"))
            add_unique(draft.aliases, names)
            draft.sources.append(f"newsmap {language}.yml '{code}'")
            if language == "english":
                _add_metonyms(draft, code, match.group(2))
    for draft in drafts.values():
        languages = [s.split()[1].removesuffix(".yml") for s in draft.sources]
        code = draft.sources[0].split("'")[1]
        draft.sources = [f"newsmap {'/'.join(languages)} '{code}'"]
    return drafts


def _add_metonyms(draft: Draft, code: str, listed: str) -> None:
    """The selected demonym and capital of one english.yml line."""
    items = {item.strip() for item in listed.split(",")}
    demonym, capital = NEWSMAP_METONYMS.get(code, ("", ""))
    if code in NEWSMAP_METONYMS and not {demonym, capital} <= items:
        raise BuildError(f"newsmap english.yml '{code}' lacks {demonym!r} or {capital!r}")
    if demonym:
        add_unique(draft.demonyms, [demonym.removesuffix("*")])
        add_unique(draft.capitals, [capital])


# ------------------------------------------------------------------ additions


def read_additions(path: Path) -> list[dict[str, Any]]:
    with open(path, "rb") as handle:
        tables = tomllib.load(handle).get("actor", [])
    seen: set[str] = set()
    for n, table in enumerate(tables, 1):
        where = f"{path.name}, actor #{n} ({table.get('id')!r})"
        unknown = set(table) - KEYS
        if unknown:
            raise BuildError(f"{where}: unknown keys {sorted(unknown)}")
        if not isinstance(table.get("id"), str) or not table["id"] or "," in table["id"]:
            raise BuildError(f"{where}: 'id' must be a non-empty string without commas")
        if table["id"] in seen:
            raise BuildError(f"{where}: listed twice")
        seen.add(table["id"])
        if not table.get("source"):
            raise BuildError(f"{where}: every addition must cite its 'source'")
        if "type" in table and table["type"] not in TYPES:
            raise BuildError(f"{where}: type must be one of {TYPES}")
    return list(tables)


def merge(generated: Sequence[dict[str, Draft]], additions: list[dict[str, Any]]) -> list[Draft]:
    """Sources first (in the order given), then the additions on top."""
    merged: dict[str, Draft] = {}
    for part in generated:
        for actor_id, draft in part.items():
            into = merged.get(actor_id)
            if into is None:
                merged[actor_id] = Draft(actor_id, draft.name, draft.type)
                into = merged[actor_id]
            into.name = into.name or draft.name
            if draft.type != into.type:
                raise BuildError(f"{actor_id}: sources disagree on the type ({into.type}, {draft.type})")
            add_unique(into.aliases, draft.aliases)
            add_unique(into.short, draft.short)
            add_unique(into.roles, draft.roles)
            add_unique(into.demonyms, draft.demonyms)
            add_unique(into.capitals, draft.capitals)
            into.sources.extend(s for s in draft.sources if s not in into.sources)
    for table in additions:
        actor_id = table["id"]
        hand = merged.get(actor_id)
        if hand is None:
            if not table.get("name") or not table.get("type"):
                raise BuildError(f"addition {actor_id!r} is in no source, so it needs a name and a type")
            hand = merged[actor_id] = Draft(actor_id, table["name"], table["type"])
        elif table.get("type", hand.type) != hand.type:
            raise BuildError(f"addition {actor_id!r}: type {table['type']!r}, the sources say {hand.type!r}")
        hand.name = table.get("name") or hand.name
        full = list(table.get("aliases", []))
        add_unique(full, hand.aliases)
        hand.aliases = full
        short = list(table.get("short", []))
        add_unique(short, hand.short)
        hand.short = short
        add_unique(hand.demonyms, table.get("demonyms", []))  # after the sources' English ones
        add_unique(hand.capitals, table.get("capitals", []))
        add_unique(hand.roles, table.get("roles", []))
        hand.sources.append(table["source"])
        if table.get("note"):
            hand.notes.append(table["note"])
    for draft in merged.values():
        if not draft.name:
            raise BuildError(f"{draft.id}: no display name (give one in the additions)")
        names = {key(alias) for alias in (draft.name, *draft.aliases)}
        draft.short = [alias for alias in draft.short if key(alias) not in names]
    _check_collisions(merged.values())
    order = {kind: n for n, kind in enumerate(TYPES)}
    return sorted(merged.values(), key=lambda d: (order[d.type], key(d.name), d.id))


def _check_collisions(drafts: Iterable[Draft]) -> None:
    owners: dict[str, str] = {}
    for draft in drafts:
        for alias in (draft.name, *draft.aliases, *draft.short, *draft.demonyms, *draft.capitals):
            previous = owners.setdefault(key(alias), draft.id)
            if previous != draft.id:
                raise BuildError(f"alias {alias!r} belongs to {previous} and {draft.id}: drop it from one of them")


# --------------------------------------------------------------------- output

HEADER = """\
# Newsdesk actor gazetteer: the people, organisations and countries/territories
# that enrichment recognises in article text (search/enrich/actors.py reads this file).
#
# GENERATED by seeds/build_actors.py from the shared sources and the hand-curated
# seeds/actors_additions.toml; do not edit it by hand. Change the selection in
# the script or the additions file and run:
#     .venv/bin/python seeds/build_actors.py [--shared DIR]
# (DIR defaults to $NEWSDESK_SHARED, else ../shared), then review the diff.
#
# Sources (see seeds/ATTRIBUTION.md for the full notices):
#   - Phoenix / PETRARCH2 CAMEO actor dictionaries, Open Event Data Alliance, MIT
#     licence ("Phoenix.Countries.actors.txt", "Phoenix.International.actors.txt").
#   - EveryPolitician / Wikidata officeholder tables, CC0 ("everypolitician ...").
#     Wikidata ids (Q...) come from these tables; where no table had the entity,
#     a Q-id is used only when certain, otherwise a stable slug ("osce").
#   - newsmap geographical dictionaries, Kohei Watanabe, MIT ("newsmap ...").
#   - Hand additions (seeds/actors_additions.toml): Serbian (Cyrillic and
#     Latin), Russian and Albanian forms, the seed articles' own spellings and
#     people and bodies the frozen sources miss, each citing where the fact
#     comes from ("hand: ...").
# Only facts (names, spellings, ids) are taken from the sources; the selection
# and this file are the project's own.
#
# Fields of each [[actor]]:
#   id       Wikidata Q-id or slug; never contains a comma (ids are stored
#            comma-joined in the index).
#   name     display name; always matched as an alias too.
#   type     "person" | "organisation" | "country" (countries include
#            territories and entities such as Kosovo or Republika Srpska).
#   aliases  full names: each one alone is enough to say the actor is named.
#   short    optional bare surnames or generic short forms ("Rama", "Kurti",
#            "Security Council"): they count only in a text that also names the
#            actor by one of its full aliases. A bare surname goes in `aliases`
#            instead only when it means this one person in practically all news
#            (Putin, Lavrov, Stalin, Vučić, Thaçi); single-word aliases from the
#            sources go to `short` unless the additions list them as aliases.
#   source   where the facts come from.
#   roles    offices held, with dates where a source gives them
#            ("Minister of Foreign Affairs of Russia 2004-03-09–").
#   demonyms optional (countries): adjectives of nationality ("Serbian";
#            "srpsk*", "сербск*" are stems: srpski, srpskog, сербского).
#   capitals optional (countries): the capital in the nominative ("Belgrade",
#            "Beograd", "Белград").
#
# Matching is on folded text (case, diacritics and Cyrillic→Latin folded away,
# see search/folding.py), so "Thaci" meets "Thaçi" and "Лавров" meets "Lavrov";
# a Serbian name needs one spelling per script at most. Acronyms (at most five
# letters, two or more of them capitals: UN, EU, US, U.S., KSF, OSCE, НАТО,
# BiH) are matched case-sensitively: the text must spell them exactly as
# listed, so "us" and "Us" are not the United States and Serbian "bih"
# ("I would") is not BiH; "Nato" is accepted because it is listed itself.
#
# Demonyms and capitals are NOT aliases: they name the country only where they
# stand for the state or its government, never for a people or a place
# (search/enrich/actors.py has the full rule and its word lists). A demonym counts
# before a state noun, after at most two modifiers: "Serbian Foreign Minister",
# "Russian officials", "srpske vlasti", "российский МИД"; not "Kosovo
# Albanians", "ethnic Albanian officials", "Russian-speaking", "the Serbian
# people", "Serbian Orthodox Church", "the Albanian side". A capital counts as
# the subject of a verb of saying or acting or before "'s" and a stance word:
# "Belgrade offered", "Moscow said", "Москва заявила", "Belgrade's position";
# not "the meeting in Belgrade", "arrived in Moscow"; and named as "official"
# anywhere: "official Belgrade", "zvanični Beograd", "Beogradi zyrtar". Such a
# use is a full mention of the country. "Kremlin" is an organisation's alias
# and counts anywhere; "Brussels" is nobody's capital here. Albanian demonyms
# ("qeveria serbe") are not matched yet.
#
# People's names need no inflected forms here: the matcher derives their
# Serbian and Russian case forms (Лаврову, Vučića, Dačićem, see
# search/enrich/actors.py). Countries list their frequent Serbian, Russian and
# Albanian forms; Albanian case forms of people (Kurtit, Ramës) are not yet
# matched.
"""

_SECTIONS = {"country": "countries", "organisation": "organisations", "person": "people"}
_WIDTH = 100


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string


def _array(name: str, values: Sequence[str]) -> list[str]:
    one_line = f"{name} = [{', '.join(map(_string, values))}]"
    if len(one_line) <= _WIDTH:
        return [one_line]
    lines, line = [f"{name} = ["], "   "
    for value in values:
        item = f" {_string(value)},"
        if len(line) + len(item) > _WIDTH and line.strip():
            lines.append(line)
            line = "   "
        line += item
    lines.append(line)
    lines.append("]")
    return lines


def _redundant_article(alias: str, aliases: Sequence[str]) -> bool:
    """"The UN" beside "UN": the article adds nothing to a match, and starting
    earlier it would beat a longer name that follows ("The UN Security
    Council" must find the Security Council)."""
    first, _, rest = alias.partition(" ")
    return first.casefold() == "the" and rest in aliases


_CODED_ROLE = re.compile(r"^[A-Z]{3,}\S* ")  # Phoenix: "SRBGOV 2012-07-27–"
_PLACE_IN_BRACKETS = re.compile(r"^(?P<office>.+) \((?P<place>[^)]+)\) (?P<span>\S+)$")  # EveryPolitician


def readable_roles(roles: Iterable[str]) -> list[str]:
    """Roles as readers say them, one per office and start year."""
    kept: dict[tuple[str, str], str] = {}
    for role in roles:
        if _CODED_ROLE.match(role):
            continue
        bracketed = _PLACE_IN_BRACKETS.match(role)
        if bracketed:
            role = f"{bracketed['office']} of {bracketed['place']} {bracketed['span']}"
        office, _, span = role.rpartition(" ")
        key = (office.casefold(), span[:4])
        if key not in kept or _precision(role) > _precision(kept[key]):
            kept[key] = role
    return list(kept.values())


def _precision(role: str) -> tuple[bool, int]:
    span = role.rpartition(" ")[2]
    return (not span.endswith("–"), len(span))


def render(drafts: Sequence[Draft]) -> str:
    out = [HEADER.rstrip("\n")]
    section = ""
    for draft in drafts:
        if draft.type != section:
            section = draft.type
            title = f" {_SECTIONS[section]}"
            out += ["", f"# {'-' * (76 - len(title))}{title}"]
        out += ["", "[[actor]]", f"id = {_string(draft.id)}", f"name = {_string(draft.name)}",
                f"type = {_string(draft.type)}"]
        for note in draft.notes:
            out += [f"# {line}".rstrip() for line in note.strip().splitlines()]
        aliases = [
            alias for alias in draft.aliases
            if alias != draft.name
            and (alias.casefold() != draft.name.casefold() or is_acronym(alias) or is_acronym(draft.name))
            and not _redundant_article(alias, draft.aliases)
        ]
        if aliases:
            out += _array("aliases", [draft.name, *aliases])
        if draft.short:
            out += _array("short", draft.short)
        if draft.demonyms:
            out += _array("demonyms", draft.demonyms)
        if draft.capitals:
            out += _array("capitals", draft.capitals)
        roles = readable_roles(draft.roles)
        if roles:
            out += _array("roles", roles)
        out.append(f"source = {_string('; '.join(draft.sources))}")
    return "\n".join(out) + "\n"


def build(shared: Path, additions: Path = ADDITIONS) -> str:
    gazetteer = shared / "data" / "gazetteer"
    if not gazetteer.is_dir():
        raise BuildError(f"{gazetteer} does not exist (pass --shared or set NEWSDESK_SHARED)")
    generated = [
        from_phoenix(gazetteer / "petrarch2"),
        from_everypolitician(gazetteer / "everypolitician"),
        from_newsmap(gazetteer / "newsmap"),
    ]
    return render(merge(generated, read_additions(additions)))


def default_shared() -> Path:
    return Path(os.environ.get("NEWSDESK_SHARED") or REPO.parent / "shared")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--shared", type=Path, default=default_shared(), help="shared data directory")
    parser.add_argument("--additions", type=Path, default=ADDITIONS, help="hand-curated additions (TOML)")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="where to write (default seeds/actors.toml)")
    args = parser.parse_args(argv)
    try:
        text = build(args.shared, args.additions)
    except (BuildError, OSError, tomllib.TOMLDecodeError) as exc:
        print(f"build_actors: {exc}", file=sys.stderr)
        return 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count(chr(10) + '[[actor]]' + chr(10))} actors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
