"""The archive: every page as received, in WARC files, so the index can be rebuilt without the network.

Where it sits: beside the pipeline's first step (``search.pipeline`` archives
each page before the cleaner sees it; the crawler's writer archives each
response). It keeps bytes, never cleaned text, and knows pages by their URL
and the article ids made from it (``search.urls``), so it imports no stage.

Exports: ``open_archive`` and the ``Archive`` it opens (add, link, replay,
delete). Taking an article down from archive and index alike is a runner's
job, above both: ``search.takedown``.

Modules: ``store`` (the archive and its catalogue database), ``warc`` (the
record format), ``catalogue`` (the catalogue's tables and queries).
"""

from __future__ import annotations

from search.archive.store import Archive, open_archive

__all__ = [
    "Archive",
    "open_archive",
]
