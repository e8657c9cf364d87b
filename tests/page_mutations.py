"""Ways a fetched or saved page arrives damaged, for fuzzing the cleaner.

Shared by the property tests (tests/test_clean_fuzz.py) and the longer campaign
(bench/fuzz_pages.py). Each mutation takes the page's bytes and a
``random.Random`` and returns new bytes: the same generator state gives the
same page, so a failure is reproduced from its mutation name and seed.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable

Mutation = Callable[[bytes, random.Random], bytes]

_ENCODINGS = ("cp1251", "cp1252", "latin-1", "iso-8859-5", "koi8-r", "utf-16", "utf-16-be", "cp1250", "gb18030")
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"%PDF-1.4\n", b"\xff\xd8\xff\xe0", b"PK\x03\x04", b"\x1f\x8b\x08\x00", b"GIF89a")


def truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut anywhere: a download that stopped (often inside a tag or a UTF-8 sequence)."""
    return data[: rng.randrange(len(data) + 1)]


def truncate_in_character(data: bytes, rng: random.Random) -> bytes:
    """Cut inside a multi-byte UTF-8 character, where there is one."""
    inside = [i for i, byte in enumerate(data) if 0x80 <= byte < 0xC0]
    return data[: rng.choice(inside)] if inside else truncate(data, rng)


def garble(data: bytes, rng: random.Random) -> bytes:
    """Overwrite a few to a few hundred bytes with random ones (a damaged transfer or disk)."""
    out = bytearray(data)
    for _ in range(rng.choice((1, 3, 10, 50, 300))):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def binary_block(data: bytes, rng: random.Random) -> bytes:
    """A run of random bytes in the middle of the page (an image or archive pasted in)."""
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.randbytes(rng.choice((16, 256, 4096))) + data[at:]


def binary_file(data: bytes, rng: random.Random) -> bytes:
    """Not a page at all: a file header and random bytes, or the page gzipped and not unpacked."""
    if rng.random() < 0.5:
        return gzip.compress(data, mtime=0)
    return rng.choice(_MAGIC) + rng.randbytes(rng.choice((0, 100, 5000)))


def mixed_encoding(data: bytes, rng: random.Random) -> bytes:
    """A stretch of the page re-encoded in another encoding (a template in one, the story in another)."""
    text = data.decode("utf-8", errors="replace")
    start = rng.randrange(len(text) + 1)
    end = rng.randrange(start, len(text) + 1)
    encoding = rng.choice(_ENCODINGS)
    return text[:start].encode() + text[start:end].encode(encoding, errors="replace") + text[end:].encode()


def wrong_declared_charset(data: bytes, rng: random.Random) -> bytes:
    """The whole page in another encoding, its <meta charset> (if any) left saying the old one."""
    text = data.decode("utf-8", errors="replace")
    return text.encode(rng.choice(_ENCODINGS), errors="replace")


def control_characters(data: bytes, rng: random.Random) -> bytes:
    """NULs, form feeds, BOMs and bidi controls sprinkled through the page."""
    out = bytearray(data)
    for _ in range(rng.choice((1, 10, 100))):
        at = rng.randrange(len(out) + 1)
        out[at:at] = rng.choice((b"\x00", b"\x0c", b"\x1b", b"\xef\xbb\xbf", "\u202e".encode(), "\ufffd".encode()))
    return bytes(out)


def broken_markup(data: bytes, rng: random.Random) -> bytes:
    """Angle brackets and quotes dropped or doubled: tag soup."""
    out = bytearray(data)
    marks = [i for i, byte in enumerate(out) if byte in b'<>"']
    for i in sorted(rng.sample(marks, min(len(marks), rng.choice((1, 5, 50)))), reverse=True):
        if rng.random() < 0.5:
            del out[i]
        else:
            out.insert(i, out[i])
    return bytes(out)


def deep_nesting(data: bytes, rng: random.Random) -> bytes:
    """Thousands of unclosed elements around the story (a broken template, or a hostile page)."""
    at = data.find(b"<p>")
    at = at if at >= 0 else rng.randrange(len(data) + 1)
    depth = rng.choice((300, 3000, 60_000))
    return data[:at] + rng.choice((b"<div>", b"<span>", b"<b><i>", b"<table><tr><td>")) * depth + data[at:]


def spliced(data: bytes, rng: random.Random) -> bytes:
    """The page's tail pasted before its head (two partial downloads joined)."""
    at = rng.randrange(len(data) + 1)
    return data[at:] + data[:at]


MUTATIONS: dict[str, Mutation] = {
    mutation.__name__: mutation
    for mutation in (
        truncate, truncate_in_character, garble, binary_block, binary_file, mixed_encoding,
        wrong_declared_charset, control_characters, broken_markup, deep_nesting, spliced,
    )
}  # fmt: skip


def mutate(data: bytes, rng: random.Random, rounds: int = 1) -> tuple[bytes, list[str]]:
    """``rounds`` mutations chosen by ``rng``, applied in turn; their names."""
    names = [rng.choice(sorted(MUTATIONS)) for _ in range(rounds)]
    for name in names:
        data = MUTATIONS[name](data, rng)
    return data, names
