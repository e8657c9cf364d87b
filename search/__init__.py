"""Newsdesk's engine: sources → clean → enrich → index → query (→ alerts).

One module per pipeline stage, each with one public entry function; the
records passing between them are in ``search.records``.
"""

__version__ = "0.1.0"
