"""Reading the index through memory maps: Whoosh's file storage without private copies.

Part of the index stage: search/index/store.py opens every index through
``MappedStorage`` (``open_index``, ``create_index``); nothing above the
index stage sees it. Exports ``MappedStorage`` and ``MappedFile``.

Why: Whoosh's ``CompoundStorage`` maps a segment's file, then wraps each
file inside it in a ``BufferFile``, whose ``BytesIO(buf)`` copies it: opening
a searcher copied every segment's postings, terms and stored fields into
the process's private memory (about 0.75× the index, paid again by every
searcher, and most of the time it takes to open one). Here each file is
mapped once, read-only, and its sub-files are ``MappedFile`` windows on that
map: a read copies only the bytes asked for, and the pages stay the page
cache's, shared by every searcher and every process.

What stays Whoosh's: writing (``create_file`` is untouched, and a writer's
scratch files live in a plain ``FileStorage``), locks, the directory
listing. Only reading goes through maps.

Files that change: Whoosh never rewrites a segment or TOC file in place (a
commit writes new files, a merge deletes old ones, a reindex swaps the whole
directory), so a map never sees its file shrink; a map keeps a deleted or
swapped-away file alive until it is closed, so a searcher opened before a
reindex reads the old index to its end.

One map per file per process: every searcher that opens a file shares the
map already made for it (the server keeps a searcher per thread). Resident
size counts a page once per map that holds it, so eight maps of one index
counted it eight times (a 263 MB index showed as 922 MB of RSS at 24k
articles, though the kernel held it once). Files are known by device and
inode: a live map keeps its inode from being reused, so a key cannot name
two files while its map is open.

Stored fields are the exception: they are read with ``pread``, not
through the map. A page of a map once touched stays in the process's
resident size, and the kernel reads ahead ~64 KB around every fault, so
reading ten articles' stored fields per results page kept most of the
stored-fields file resident (130 of 137 MB at 113k articles); a ``pread``
copies just the bytes asked for and leaves the pages to the page cache.

Closing: each file that opened a map holds one reference to it; the last
``close`` unmaps it (a compound segment's file is closed with its reader,
so with the searcher). Windows only borrow the map and export no buffer
from it, so the unmap never fails on a view still alive; reading a window
after that raises.
"""

from __future__ import annotations

import mmap
import os
import threading
import weakref
from array import array
from collections.abc import Callable
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.system import IS_LITTLE

__all__ = ["MappedFile", "MappedStorage"]

#: The column of stored fields, read with ``pread`` (see above).
_PREAD_SUFFIX = "._stored.col"


class MappedStorage(FileStorage):  # type: ignore[misc]  # whoosh ships no type hints
    """A directory of index files whose files are read through read-only memory maps.

    ``supports_mmap`` is False on purpose: it is what tells Whoosh's
    ``CompoundStorage`` to map the file again and copy its parts; it takes
    our files' ``subset`` instead, which copies nothing.
    """

    supports_mmap = False

    def __init__(self, path: str, readonly: bool = False) -> None:
        super().__init__(path, supports_mmap=False, readonly=readonly)

    def open_file(self, name: str, **kwargs: Any) -> MappedFile:
        path = self._fpath(name)
        if name.endswith(_PREAD_SUFFIX):
            source: _Source = _Pread(path, 0, os.path.getsize(path))
        else:
            with open(path, "rb") as f:  # the map keeps the file open; the descriptor can go
                source = _shared_map(f)
        return MappedFile(_Window(source, 0, len(source)), name=name, path=path, **kwargs)


class _Pread:
    """Bytes ``[base, base + length)`` of a file, sliced like a map but read with ``os.pread``.

    ``pread`` takes its offset with each call, so threads share the descriptor
    safely; the descriptor is closed with ``close`` or when this is collected.
    """

    __slots__ = ("__weakref__", "_base", "_close", "_fd", "_length")

    def __init__(self, path: str, base: int, length: int) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self._base, self._length = base, length
        self._close = weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, where: slice) -> bytes:
        start, stop, _ = where.indices(self._length)
        return os.pread(self._fd, stop - start, self._base + start) if stop > start else b""

    def find(self, sub: bytes, start: int, end: int) -> int:
        """Where ``sub`` (one byte: a newline, for ``readline``) first is in ``[start, end)``, or -1."""
        for chunk_start in range(start, end, 4096):
            found = self[chunk_start : min(chunk_start + 4096, end)].find(sub)
            if found >= 0:
                return chunk_start + found
        return -1

    def close(self) -> None:
        self._close()


_Source = mmap.mmap | _Pread | bytes  # bytes: an empty file, which cannot be mapped


#: (device, inode) → [map, references]: the maps open in this process.
_MAPS: dict[tuple[int, int], list[Any]] = {}
#: Re-entrant: a file dropped unclosed is released by its finalizer, which
#: garbage collection may run in this very thread while it holds the lock.
_MAPS_LOCK = threading.RLock()


def _shared_map(f: Any) -> _Source:
    """The process's map of open file ``f``, made on first use; one more reference to it."""
    status = os.fstat(f.fileno())
    if not status.st_size:
        return b""
    key = (status.st_dev, status.st_ino)
    with _MAPS_LOCK:
        entry = _MAPS.get(key)
        if entry is None or entry[0].closed:  # closed: its last reference released by a collection just now
            entry = _MAPS[key] = [mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), 0]
        entry[1] += 1
        source: mmap.mmap = entry[0]
        return source


def _release(source: mmap.mmap) -> None:
    """Drop one reference to ``source``; the last one unmaps it."""
    with _MAPS_LOCK:
        for key, entry in list(_MAPS.items()):
            if entry[0] is source:
                entry[1] -= 1
                if entry[1] == 0:
                    del _MAPS[key]
                    source.close()
                return
    source.close()  # not shared (cannot happen, but never leak a map)


class _Window:
    """A read-only file object over bytes ``[start, end)`` of a map: read, readline, seek, tell.

    Positions are kept absolute in the map (``_pos``) so a read is one slice.
    No ``fileno``: Whoosh would then read arrays with ``fromfile`` and map it again.
    """

    __slots__ = ("__weakref__", "_end", "_parent", "_pos", "_source", "_start", "_unmap", "closed")

    def __init__(self, source: _Source, start: int, end: int, parent: _Window | None = None) -> None:
        self._source, self._start, self._end, self._pos = source, start, end, start
        # The window that opened the map holds a reference to it, released on
        # close or, for a file dropped unclosed, when it is collected; a
        # borrowing window keeps that one alive, so the map outlives it.
        self._parent = parent
        self._unmap: Callable[[], object] | None = None
        if parent is None and isinstance(source, mmap.mmap):
            self._unmap = weakref.finalize(self, _release, source)
        elif parent is None and isinstance(source, _Pread):
            self._unmap = source.close  # its own finalizer closes it if this is never closed
        self.closed = False

    def read(self, size: int | None = -1) -> bytes:
        pos = self._pos
        end = self._end if size is None or size < 0 else min(self._end, pos + size)
        if end <= pos:
            return b""
        self._pos = end
        return self._source[pos:end]

    def readline(self, size: int | None = -1) -> bytes:
        pos = self._pos
        newline = self._source.find(b"\n", pos, self._end)
        end = self._end if newline < 0 else newline + 1
        if size is not None and size >= 0:
            end = min(end, pos + size)
        if end <= pos:
            return b""
        self._pos = end
        return self._source[pos:end]

    def seek(self, where: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            base = self._start
        elif whence == os.SEEK_CUR:
            base = self._pos
        elif whence == os.SEEK_END:
            base = self._end
        else:
            raise ValueError(f"invalid whence {whence!r}")
        self._pos = max(self._start, base + where)
        return self._pos - self._start

    def tell(self) -> int:
        return self._pos - self._start

    def window(self, position: int, length: int) -> _Window:
        """A borrowing window on ``length`` bytes from ``position`` (relative to this one), clipped to it."""
        start = min(self._start + position, self._end)
        return _Window(self._source, start, min(start + length, self._end), parent=self._parent or self)

    def close(self) -> None:
        if self._unmap is not None:
            self._unmap()  # once: a finalizer runs at most once
        self.closed = True


class MappedFile(StructFile):  # type: ignore[misc]  # whoosh ships no type hints
    """Whoosh's ``StructFile`` over a window on a map: ``BufferFile``'s reads without its copy.

    ``get`` and ``get_array`` read at a position without moving the file's
    position, as ``BufferFile``'s do; ``subset`` is a window on the same map.
    """

    def __init__(
        self, window: _Window, name: str | None = None, onclose: Callable[[Any], None] | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(window, name=name, onclose=onclose)
        self._window, self._path = window, path
        self._source, self._start, self._end = window._source, window._start, window._end
        # Straight to the window: StructFile's own methods add a call per read,
        # and Whoosh reads variable-length integers a byte at a time.
        self.read = window.read
        self.readline = window.readline
        self.seek = window.seek
        self.tell = window.tell

    def subset(self, position: int, length: int, name: str | None = None) -> MappedFile:
        if name is not None and name.endswith(_PREAD_SUFFIX) and self._path and isinstance(self._source, mmap.mmap):
            start = min(self._start + position, self._end)  # a file inside a compound segment file
            pread = _Pread(self._path, start, min(start + length, self._end) - start)
            return MappedFile(_Window(pread, 0, len(pread)), name=name, path=self._path)
        return MappedFile(self._window.window(position, length), name=name or self._name, path=self._path)

    def get(self, position: int, length: int) -> bytes:
        start = self._start + position  # inline, not the window's: Whoosh calls this for every block and value
        return self._source[start : min(start + length, self._end)]

    def get_array(self, position: int, typecode: str, length: int) -> array[Any]:
        values = array(typecode)
        values.frombytes(self.get(position, length * values.itemsize))
        if IS_LITTLE:  # stored big-endian, as StructFile writes them
            values.byteswap()
        return values
