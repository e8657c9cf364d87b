"""search.decode.looks_binary: binary data is told from text as its definition says, on any bytes.

Every file ingest reads and every page the crawler fetches passes through it;
its count of control bytes is held here against the byte-by-byte definition.
"""

from __future__ import annotations

import codecs

from hypothesis import given, settings
from hypothesis import strategies as st

from search.decode import decode_wide, looks_binary


def _definition(body: bytes) -> bool:
    head = body[:4096]
    if b"\x00" in head or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return decode_wide(body) is None
    controls = sum(1 for byte in head if byte < 9 or 13 < byte < 32)
    return bool(head) and controls / len(head) > 0.05


_TEXTISH = st.binary(max_size=6000) | st.lists(
    st.sampled_from(list(b"abc \n\t\r\x0b\x0c\x01\x08\x0e\x1f\x7f\xc3\xa9")), max_size=5000
).map(bytes)


@settings(max_examples=400, deadline=None)
@given(_TEXTISH)
def test_binary_is_told_as_the_definition_tells_it(body: bytes) -> None:
    assert looks_binary(body) == _definition(body)


def test_a_few_control_bytes_are_text_and_many_are_not() -> None:
    text = b"A line of text.\n" * 100
    assert not looks_binary(text + b"\x01" * 10)
    assert looks_binary(text + b"\x01" * 200)
    assert not looks_binary(b"")
