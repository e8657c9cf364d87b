"""The ``newsdesk`` command: the pipeline and the index from a terminal.

    newsdesk ingest PATH... [--index DIR] [--rebuild]
    newsdesk search QUERY [--outlet O] [--actor ID] [--year Y] [--language L] [--sort date] [--json]
    newsdesk serve [--index DIR] [--host H] [--port P]

Every command takes ``--index DIR`` (the instance directory; default
``index/`` or ``NEWSDESK_INDEX``). Errors print one line and exit 1; no
traceback for anything a user can cause.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from search.errors import NewsdeskError
from search.settings import Settings, load_settings

log = logging.getLogger("newsdesk")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        settings = load_settings(index=args.index)
        command: Callable[[argparse.Namespace, Settings], int] = args.command
        return command(args, settings)
    except NewsdeskError as e:
        print(f"newsdesk: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("newsdesk: interrupted; committed batches are kept", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsdesk", description="Newsdesk: search engine over news sources.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", metavar="DIR", help="instance directory (default: index/ or $NEWSDESK_INDEX)")
    common.add_argument("-v", "--verbose", action="store_true", help="log progress and skipped files")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", parents=[common], help="add files and folders to the index")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help=".txt, .html, .html.gz files or folders of them")
    ingest.add_argument("--rebuild", action="store_true", help="start from an empty index")
    ingest.add_argument(
        "--manifest", action="append", default=[], metavar="FILE",
        help="metadata for the files, matched by SHA-256 (as seeds/manifest.toml; repeatable)",
    )
    ingest.set_defaults(command=_ingest)

    find = commands.add_parser("search", parents=[common], help="search the index")
    find.add_argument("q", nargs="?", default="", metavar="QUERY")
    for facet in ("outlet", "actor", "year", "language"):
        find.add_argument(f"--{facet}", action="append", default=[], help=f"filter by {facet} (repeatable: OR)")
    find.add_argument("--sort", choices=("relevance", "date"), default="relevance")
    find.add_argument("--page", type=int, default=1)
    find.add_argument("--per-page", type=int, default=10)
    find.add_argument("--json", action="store_true", help="print the /api/search JSON")
    find.set_defaults(command=_search)

    serve = commands.add_parser("serve", parents=[common], help="serve the web UI and API (waitress)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.set_defaults(command=_serve)
    return parser


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from search.ingest import ingest
    from search.sources import load_manifest

    manifest = load_manifest()
    for path in args.manifest:
        manifest.update(load_manifest(Path(path), required=True))
    report = ingest(args.paths, settings, rebuild=args.rebuild, manifest=manifest)
    for origin, reason in report.skipped:
        print(f"skipped {origin}: {reason}")
    print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"skipped {len(report.skipped)} — index: {settings.index}"
    )
    return 0


def _search(args: argparse.Namespace, settings: Settings) -> int:
    from search.actors import load_gazetteer
    from search.index import open_index
    from search.query import make_query, search

    request = make_query(
        args.q, args.outlet, args.actor, args.year, args.language, args.sort, args.page, args.per_page,
        settings=settings,
    )
    with open_index(settings).searcher() as searcher:
        page = search(searcher, request, settings, load_gazetteer())
    if args.json:
        print(json.dumps(page.as_json(), ensure_ascii=False, indent=2))
        return 0
    print(f"{page.total} articles")
    for hit in page.hits:
        date = hit.published.isoformat() if hit.published else "undated"
        print(f"\n{hit.title}\n  {hit.outlet} · {date} · {hit.id}")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import waitress

    from web import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    app = create_app({"NEWSDESK_SETTINGS": settings})
    print(f"Newsdesk on http://{host}:{port}/ (index: {settings.index})", flush=True)
    waitress.serve(app, host=host, port=port, threads=settings.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
