"""The analysis filters' old address, kept for indexes built before ``search/`` had stage packages.

Whoosh pickles the schema into every index's TOC file, and an index written by
the flat layout names its analysis filters as ``search.analysis.*``. Without
this module such an index would fail to open with ``ModuleNotFoundError``
instead of working (tests/test_old_index.py opens one). An index written
since names ``search.index.analysis``. Drop this module with the next
``SCHEMA_VERSION`` change, which makes every older index ask for ``reindex``
before Whoosh unpickles anything.
"""

from search.index.analysis import FoldingFilter, StemmingFilter

__all__ = ["FoldingFilter", "StemmingFilter"]
