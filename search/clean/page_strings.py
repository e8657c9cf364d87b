"""The small string helpers of the cleaner's metadata readers.

A helper of the cleaner (stage 2 of the pipeline: sources → **clean** →
enrich → index), shared by the readers of what a page says about itself:
its JSON-LD (``search/clean/linked_data.py``), its ``<meta>`` (``search/clean/metadata.py``),
its title and its authors. Metadata strings come from templates, so they
carry template habits: runs of whitespace, entities escaped twice, UTF-8
read as Latin-1.

Exports :func:`squash` (what a reader sees), :func:`text_key` (for comparing
spellings) and :func:`repair` (entities and mojibake undone).
"""

from __future__ import annotations

import html
import re
import unicodedata

_SPACE = re.compile(r"\s+")


def squash(text: str) -> str:
    """Whitespace collapsed and trimmed; what a reader sees."""
    return _SPACE.sub(" ", text).strip()


def text_key(text: str) -> str:
    """A comparison key: case, accents of width, punctuation and spaces ignored."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def repair(text: str) -> str:
    """``text`` with HTML entities a template escaped twice ("&#8217;") resolved and
    UTF-8 read as Latin-1 or cp1252 ("Investorâ€™s") read again as UTF-8."""
    if "&" in text:
        text = html.unescape(text)
    if _MOJIBAKE.search(text):
        for codec in ("cp1252", "latin-1"):
            try:
                return text.encode(codec).decode("utf-8")
            except UnicodeError:
                continue
    return text


# The lead bytes of two- and three-byte UTF-8 sequences as Latin-1/cp1252 show
# them, followed by a continuation byte.
_CONTINUATION = "\x80-\xbf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"  # bytes 0x80-0xbf as Latin-1 and as cp1252
_MOJIBAKE = re.compile(f"[ÂÃÄÅÆÇÐÑ][{_CONTINUATION}]|â[{_CONTINUATION}]")
