"""The archive: every page as received, in WARC files, so the index can be rebuilt without the network.

Where it sits: beside the pipeline's first step (``search.pipeline`` archives
each page before the cleaner sees it; the crawler's writer archives each
response). It keeps bytes, never cleaned text, and knows pages by their URL
and the article ids made from it (``search.urls``), so it imports no stage.

Exports: ``open_archive`` and the ``Archive`` it opens (add, link, replay,
delete). Taking an article down from archive and index alike is a runner's
job, above both: ``search.takedown``. Read-only, for the web app, which
never opens the archive for writing: ``locate_original`` and
``read_original``, the page an article was made from (``Located``,
``Original``).

Modules: ``store`` (the archive and its catalogue database), ``warc`` (the
record format), ``catalogue`` (the catalogue's tables and queries),
``reader`` (the read-only reader).
"""

from __future__ import annotations

from search.archive.reader import Located, Original, locate_original, read_original
from search.archive.store import Archive, open_archive

__all__ = [
    "Archive",
    "Located",
    "Original",
    "locate_original",
    "open_archive",
    "read_original",
]
