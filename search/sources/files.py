"""Page files: plain-text page dumps and saved pages, and the manifests that describe them.

Part of the sources stage (``search.sources``). A page file (``.txt``,
``.html``, ``.htm``, ``.html.gz``) becomes a ``RawPage`` holding the bytes
exactly as read and their text, decoded here once (``search.decode``; a
binary or undecodable file is archived, then skipped by the cleaner with the
reason). Metadata stated outside the document (a manifest such as
``seeds/manifest.toml``) rides along as ``PageHints``, matched by the SHA-256
of the bytes so it follows the file wherever it is ingested from.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tomllib
import zlib
from pathlib import Path

from search.decode import received_page
from search.errors import SettingsError
from search.records import PageHints, RawPage, Skipped
from search.settings import seeds_dir
from search.timeparse import parse_iso

_TYPES = {".txt": "text/plain", ".text": "text/plain", ".html": "text/html", ".htm": "text/html"}
#: Files larger than this are not news articles; reading them would only hurt.
MAX_FILE_BYTES = 20 * 1024 * 1024

Manifest = dict[str, PageHints]


def read_page(path: Path, manifest: Manifest) -> RawPage | Skipped:
    """One page file as a ``RawPage``, or a ``Skipped`` saying why it was not read."""
    content_type = _content_type(path)
    if content_type is None:
        return Skipped(str(path), "not a .txt, .html or .html.gz page, nor a .jsonl, .ndjson, .csv or .warc collection")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return Skipped(str(path), f"larger than {MAX_FILE_BYTES // 2**20} MiB")
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gunzip(data, MAX_FILE_BYTES)
    except (OSError, EOFError, zlib.error) as e:
        return Skipped(str(path), f"cannot read: {e}")
    hints = manifest.get(hashlib.sha256(data).hexdigest(), PageHints())
    return received_page(data, str(path), content_type, hints.url, hints)


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress at most ``limit`` bytes: a small gzip bomb must not fill memory."""
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
        out = f.read(limit + 1)
    if len(out) > limit:
        raise OSError(f"decompresses to more than {limit // 2**20} MiB")
    return out


def _content_type(path: Path) -> str | None:
    suffixes = path.suffixes
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _TYPES.get(suffixes[-1].lower()) if suffixes else None


def load_manifest(path: Path | None = None, required: bool = False) -> Manifest:
    """Read a manifest (default ``seeds/manifest.toml``): sha256 → hints."""
    path = path or seeds_dir() / "manifest.toml"
    if not path.is_file():
        if required:
            raise SettingsError(f"no manifest at {path}")
        return {}
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("article", [])
        return {entry["sha256"]: _hints(entry) for entry in entries}
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as e:
        raise SettingsError(f"cannot read manifest {path}: {e!r}") from e


def _hints(entry: dict[str, str]) -> PageHints:
    published = parse_iso(entry.get("published"))
    return PageHints(
        outlet=entry.get("outlet"),
        author=entry.get("author"),
        url=entry.get("url"),
        published=published,
        published_source=entry.get("published_source", "manifest") if published else None,
    )
