"""Newsdesk's engine, one package per pipeline stage over a small ground floor.

    sources → archive → clean → enrich → index → query → alerts

``search.pipeline`` puts the stages in this order once; ``search.ingest``
(files, the archive) and ``search.crawl`` (outlets) are its runners. Each
stage imports only stages below it and the ground floor (``records``,
``errors``, ``settings``, ``state``, ``urls``, ``timeparse``,
``fingerprint``, ``decode``, ``folding``), and exports
its entry points from its ``__init__``:

* ``search.archive``: ``open_archive`` — pages as received, in WARC files;
* ``search.language``: ``detect_language``, ``LANGUAGE_NAMES`` — shared by the cleaner and enrichment;
* ``search.clean``: ``clean`` — a ``RawPage`` to an ``Article``;
* ``search.enrich``: ``enrich``, ``load_gazetteer`` — language, actors, sketch;
* ``search.index``: ``open_index``, ``write_articles`` — the search backend's write side;
* ``search.query``: ``search``, ``matching`` — a ``SearchQuery`` to a ``SearchPage``;
* ``search.alerts``: ``run_alerts``, ``after_commit`` — saved searches delivered once.

The records passing between them are in ``search.records``. Nothing here
imports the web app (``web``), which sits on top with the command line.
This module imports no stage, so importing one stage loads only what it needs.
"""

__version__ = "0.1.0"
