"""search.enrich.gazetteer.Folded: the folded text the actor matcher reads, and its offset table.

``Folded.of`` is on the path of every article; it is held here against the
definition it was first written as (fold each special run character by
character, grow the offset table position by position): the same text and
the same offsets, whatever the input.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from search.enrich.gazetteer import Folded, _fold_char, fold_key

_SPECIAL = re.compile(r"\s{2,}|[^\S ]|[^\x00-\x7f\s]+")


def _reference(source: str) -> tuple[str, list[int]]:
    if not _SPECIAL.search(source):
        return source.lower(), list(range(len(source)))
    pieces: list[str] = []
    offsets: list[int] = []
    position = 0
    for match in _SPECIAL.finditer(source):
        pieces.append(source[position : match.start()].lower())
        offsets.extend(range(position, match.start()))
        if match.group().isspace():
            pieces.append(" ")
            offsets.append(match.start())
        else:
            for index in range(match.start(), match.end()):
                folded = _fold_char(source[index])
                pieces.append(folded)
                offsets.extend([index] * len(folded))
        position = match.end()
    pieces.append(source[position:].lower())
    offsets.extend(range(position, len(source)))
    return "".join(pieces), offsets


def _offsets(folded: Folded) -> list[int]:
    return list(range(len(folded.source))) if folded.offsets is None else folded.offsets.tolist()


_ALPHABET = st.sampled_from(sorted(set(
    "abc XYZ.,-'’‘ʼ\n\t\r\u00a0\u2009\x1c" "e\u0301 ﬁ ß đ Đ ъ й ё Σ İ ＡＢＣ ½ ℌ ¨ čćšž Вучич Лавров Thaçi Ramës ﷺ"
)))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=200) | st.text(max_size=120))
def test_folded_text_and_offsets_are_the_definitions(source: str) -> None:
    folded = Folded.of(source)
    text, offsets = _reference(source)
    assert folded.text == text
    assert _offsets(folded) == offsets
    assert len(offsets) == len(folded.text)


def test_the_original_behind_a_match_is_found_through_the_offsets() -> None:
    source = "Predsednik  Vučić\nje rekao:\u00a0NATO-ja i ĐOKOVIĆ"
    folded = Folded.of(source)
    assert folded.text == "predsednik vucic je rekao: nato-ja i djokovic"
    start = folded.text.index("nato")
    assert folded.original(start, start + 4) == "NATO"
    start = folded.text.index("djokovic")
    assert folded.original(start, start + len("djokovic")) == "ĐOKOVIĆ"
    assert folded.source_offset(folded.text.index("vucic")) == source.index("Vučić")
    assert fold_key("  Сергей\nЛавров ") == "sergey lavrov"
