"""Sources: where documents come from. First stage of the pipeline.

For ``newsdesk ingest`` a source is a file or a folder of files
(``open_inputs``, ``read_files``): page files — plain-text page dumps
(``.txt``) and saved pages (``.html``, ``.htm``, ``.html.gz``), each one
``RawPage`` with manifest hints matched by its SHA-256 — and collections,
many articles to a file: JSON Lines and CSV, gzipped or not, one record per
article (``RawPage`` of type ``RECORD_TYPE`` holding the ``StatedRecord``,
columns mapped by ``FieldMap`` / ``field_map``), and WARC web archives, one
page per HTML capture.

For ``newsdesk crawl`` a source is an outlet: kept in the instance's state
(``registry``: ``newsdesk sources add|remove``, ``instance_sources``), listed
in a sources file (``load_sources``, ``seeds/sources.toml`` by default) or
in an OPML file from a feed reader (``read_opml``, ``write_opml``), each as
``Source`` records for ``search.crawl``.

Reference data in ``seeds/`` is located from the package, so commands work
from any working directory (``NEWSDESK_SEEDS`` points elsewhere).

Modules: ``inputs`` (walking the paths, progress, counts), ``files`` (page
files, manifests), ``tables`` (JSON Lines, CSV), ``fields`` (columns →
fields), ``warcs`` (WARC), ``outlets`` (the sources file), ``registry`` (the
instance's sources), ``opml`` (OPML).
"""

from __future__ import annotations

from search.sources.fields import DEFAULT_COLUMNS, FieldMap, field_map
from search.sources.files import MAX_FILE_BYTES, Manifest, gunzip, load_manifest
from search.sources.inputs import Inputs, ReadCounts, collection_kind, count_files, open_inputs, read_files
from search.sources.opml import OpmlSources, OpmlUnreadable, read_opml, write_opml
from search.sources.outlets import load_sources, outlets_by_host
from search.sources.registry import (
    RegisteredSource,
    add_source,
    checked_source,
    instance_sources,
    registered_sources,
    remove_source,
)

__all__ = [
    "DEFAULT_COLUMNS",
    "MAX_FILE_BYTES",
    "FieldMap",
    "Inputs",
    "Manifest",
    "OpmlSources",
    "OpmlUnreadable",
    "ReadCounts",
    "RegisteredSource",
    "add_source",
    "checked_source",
    "collection_kind",
    "count_files",
    "field_map",
    "gunzip",
    "instance_sources",
    "load_manifest",
    "load_sources",
    "open_inputs",
    "outlets_by_host",
    "read_files",
    "read_opml",
    "registered_sources",
    "remove_source",
    "write_opml",
]
