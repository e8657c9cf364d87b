"""Which column of a collection holds which field of an article.

Part of the sources stage (``search.sources``). A record of JSON Lines or CSV
names its fields as its producer chose; ``FieldMap`` finds the common names
without options (``DEFAULT_COLUMNS``) and takes others from ``--map
field=column``. ``stated_record`` turns one record (a dict of column →
value) into the ``StatedRecord`` the pipeline carries: values as stated,
only blanks dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from search.errors import SettingsError
from search.records import RECORD_FIELDS, StatedRecord

#: Column names each field is found under without options, in order of
#: preference; matched without regard to case or surrounding spaces.
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "url": ("url",),
    "title": ("title",),
    "outlet": ("outlet", "source"),
    "author": ("author",),
    "published": ("published", "date"),
    "language": ("language", "lang"),
    "text": ("body", "text"),
    "html": ("html",),
}
#: ``--map body=…`` means the plain text, as the ``body`` column does.
_ALIASES = {"body": "text"}


@dataclass(frozen=True)
class FieldMap:
    """Field → the column names it is read from (``--map`` first, then the defaults).

    A mapped column may be a dotted path into a JSON object (``outlet=source.name``).
    """

    columns: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_COLUMNS))

    def record(self, values: Mapping[str, object]) -> StatedRecord:
        """The fields a record states; a blank or unusable value counts as not stated."""
        folded = {key.strip().lower(): value for key, value in values.items() if isinstance(key, str)}
        stated: dict[str, str] = {}
        for name in RECORD_FIELDS:
            for column in self.columns[name]:
                value = _text(_lookup(values, folded, column), ", " if name == "author" else "\n\n")
                if value is not None:
                    stated[name] = value
                    break
        return StatedRecord(**stated)


def field_map(pairs: Iterable[str] = ()) -> FieldMap:
    """A ``FieldMap`` from ``--map field=column`` options; ``SettingsError`` for one it cannot use."""
    columns = dict(DEFAULT_COLUMNS)
    for pair in pairs:
        name, sep, column = pair.partition("=")
        name = _ALIASES.get(name.strip().lower(), name.strip().lower())
        if not sep or not column.strip():
            raise SettingsError(f"--map {pair!r}: write it as field=column, e.g. --map published=pub_date")
        if name not in columns:
            raise SettingsError(f"--map {pair!r}: no field {name!r}; the fields are {', '.join(RECORD_FIELDS)}")
        columns[name] = (column.strip(), *DEFAULT_COLUMNS[name])
    return FieldMap(columns)


def _lookup(values: Mapping[str, object], folded: Mapping[str, object], column: str) -> object:
    if column in values:
        return values[column]
    key = column.strip().lower()
    if key in folded:
        return folded[key]
    head, dot, rest = column.partition(".")
    if dot:
        inner = values.get(head, folded.get(head.strip().lower()))
        if isinstance(inner, Mapping):
            return _lookup(inner, {str(k).strip().lower(): v for k, v in inner.items()}, rest)
    return None


def _text(value: object, joiner: str) -> str | None:
    """A stated value as text: strings stripped, numbers written out, a list of strings
    joined (authors by commas, paragraphs by blank lines)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        value = joiner.join(item.strip() for item in value if item.strip())
    if isinstance(value, str):
        return value.strip() or None
    return None
