"""Sources: where documents come from. First stage of the pipeline.

For ``newsdesk ingest`` a source is a file or a folder of files
(``open_inputs``, ``read_files``): page files — plain-text page dumps
(``.txt``) and saved pages (``.html``, ``.htm``, ``.html.gz``), each one
``RawPage`` with manifest hints matched by its SHA-256 — and collections,
many articles to a file: JSON Lines and CSV, gzipped or not, one record per
article (``RawPage`` of type ``RECORD_TYPE`` holding the ``StatedRecord``,
columns mapped by ``FieldMap`` / ``field_map``), and WARC web archives, one
page per HTML capture.

For ``newsdesk crawl`` a source is an outlet listed in a sources file
(``seeds/sources.toml`` by default): ``load_sources`` reads it into
``Source`` records for ``search.crawl``.

Reference data in ``seeds/`` is located from the package, so commands work
from any working directory (``NEWSDESK_SEEDS`` points elsewhere).

Modules: ``inputs`` (walking the paths, progress, counts), ``files`` (page
files, manifests), ``tables`` (JSON Lines, CSV), ``fields`` (columns →
fields), ``warcs`` (WARC), ``outlets`` (the sources file).
"""

from __future__ import annotations

from search.sources.fields import DEFAULT_COLUMNS, FieldMap, field_map
from search.sources.files import MAX_FILE_BYTES, Manifest, gunzip, load_manifest
from search.sources.inputs import Inputs, ReadCounts, collection_kind, count_files, open_inputs, read_files
from search.sources.outlets import load_sources, outlets_by_host

__all__ = [
    "DEFAULT_COLUMNS",
    "MAX_FILE_BYTES",
    "FieldMap",
    "Inputs",
    "Manifest",
    "ReadCounts",
    "collection_kind",
    "count_files",
    "field_map",
    "gunzip",
    "load_manifest",
    "load_sources",
    "open_inputs",
    "outlets_by_host",
    "read_files",
]
