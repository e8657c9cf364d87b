"""The ``newsdesk`` command: the pipeline, the index and the web server from a terminal.

A shell on top of both packages, like the Flask app beside it: it lives in
``web`` so that the engine (``search``) never imports the web package.

    newsdesk ingest PATH... [--index DIR] [--rebuild] [--manifest FILE] [--map FIELD=COLUMN] [--workers N]
    newsdesk search QUERY [--outlet O] [--actor ID] [--year Y] [--language L] [--sort date] [--json]
                    [--from DATE] [--to DATE] [--range 24h|week|month|year|all] [--dated yes|no]
                    [--certainty certain|uncertain]
    newsdesk serve [--index DIR] [--host H] [--port P]
    newsdesk reindex [--index DIR] [--workers N]
    newsdesk delete URL|ID [--index DIR]
    newsdesk crawl [--sources FILE] [--due | --loop] [--index DIR]
    newsdesk sources [--index DIR]  |  sources add URL [--name N] | remove NAME|URL | list | import FILE.opml | export
    newsdesk extract FILE [--url URL]
    newsdesk actors candidates [--index DIR] [--min-articles N]
    newsdesk actors promote NAME --id ID [--type person] [--alias A ...] [--role R ...]
    newsdesk users add EMAIL [--timezone TZ]          (password from standard input)
    newsdesk users list | users remove EMAIL | users passwd EMAIL
    newsdesk alerts add --user EMAIL --name NAME --query Q [--outlet O] [--actor ID] [--year Y]
                        --frequency instant|daily|weekly [--email] [--feed]   (prints the id last)
    newsdesk alerts list [--user EMAIL] | alerts remove ID | alerts feed-url ID | alerts run

Every command takes ``--index DIR`` (the instance directory; default
``index/`` or ``NEWSDESK_INDEX``). Errors print one line and exit 1; no
traceback for anything a user can cause.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from search.errors import NewsdeskError
from search.settings import Settings, listening_url, load_settings
from web.cli_accounts import alert_commands, user_commands
from web.cli_migrate import migrate_command
from web.cli_options import add_date_options, date_options, plural
from web.cli_sources import source_commands
from web.cli_worker import worker_commands

if TYPE_CHECKING:  # the commands import their stages lazily: start-up stays quick
    from search.index import IndexReport

log = logging.getLogger("newsdesk")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        settings = load_settings(index=args.index, options=_options(args))
        command: Callable[[argparse.Namespace, Settings], int] = args.command
        code = command(args, settings)
        sys.stdout.flush()  # here, not at exit: a reader gone away is a BrokenPipeError we can handle
        return code
    except NewsdeskError as e:
        print(f"newsdesk: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("newsdesk: interrupted; committed batches are kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`newsdesk search … | head`): stop quietly, and
        # point stdout at /dev/null so the interpreter's final flush does not fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command the pipe ended


def _options(args: argparse.Namespace) -> dict[str, object]:
    """Settings given on the command line (``serve --host/--port``, ``--workers``): the last layer of ``load_settings``."""
    return {name: getattr(args, name, None) for name in ("host", "port", "workers")}


_WORKERS_HELP = "processes that clean and enrich the pages (default: the workers setting, every core)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsdesk", description="Newsdesk: search engine over news sources.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", metavar="DIR", help="instance directory (default: index/ or $NEWSDESK_INDEX)")
    common.add_argument("-v", "--verbose", action="store_true", help="log progress and skipped files")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    _ingest_command(commands, common)
    _search_command(commands, common)

    serve = commands.add_parser("serve", parents=[common], help="serve the web UI and API (waitress)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.set_defaults(command=_serve)

    rebuild = commands.add_parser("reindex", parents=[common], help="rebuild the index from the archive (no network)")
    rebuild.add_argument("--workers", type=int, metavar="N", help=_WORKERS_HELP)
    rebuild.set_defaults(command=_reindex)
    delete = commands.add_parser("delete", parents=[common], help="remove an article from the index and the archive")
    delete.add_argument("key", metavar="URL|ID", help="the article's id or URL")
    delete.set_defaults(command=_delete)
    migrate_command(commands, common)

    source_commands(commands, common)
    _extract_command(commands, common)
    _actor_commands(commands, common)
    user_commands(commands, common)
    alert_commands(commands, common)
    worker_commands(commands, common)
    return parser


def _ingest_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    ingest = commands.add_parser("ingest", parents=[common], help="add files, folders and collections to the index")
    ingest.add_argument(
        "paths", nargs="+", metavar="PATH",
        help="pages (.txt, .html, .html.gz), collections (.jsonl, .ndjson, .csv, gzipped or not; .warc, .warc.gz) "
             "or folders of them",
    )
    ingest.add_argument("--rebuild", action="store_true", help="start from an empty index")
    ingest.add_argument(
        "--manifest", action="append", default=[], metavar="FILE",
        help="metadata for the files, matched by SHA-256 (as seeds/manifest.toml; repeatable)",
    )
    ingest.add_argument("--workers", type=int, metavar="N", help=_WORKERS_HELP)
    ingest.add_argument(
        "--map", action="append", default=[], metavar="FIELD=COLUMN", dest="field_map",
        help="the column of a .jsonl or .csv collection holding FIELD (id, url, title, outlet, author, published, "
             "language, text, html), when not its common name (repeatable)",
    )
    ingest.set_defaults(command=_ingest)


def _search_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    find = commands.add_parser("search", parents=[common], help="search the index")
    find.add_argument("q", nargs="?", default="", metavar="QUERY")
    for facet in ("outlet", "actor", "year", "language"):
        find.add_argument(f"--{facet}", action="append", default=[], help=f"filter by {facet} (repeatable: OR)")
    find.add_argument("--sort", choices=("relevance", "date"), default="relevance")
    find.add_argument("--page", type=int, default=1)
    find.add_argument("--per-page", type=int, default=10)
    find.add_argument("--json", action="store_true", help="print the /api/search JSON")
    find.add_argument("--collapse", choices=("story", "none"),
                      help="story: the copies of one text as one result (and counted as stories unless --count)")
    find.add_argument("--count", choices=("articles", "stories"), help="what the total and the facets count")
    add_date_options(find)
    find.set_defaults(command=_search)


def _extract_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    extract = commands.add_parser("extract", parents=[common], help="print the article the cleaner finds in one page")
    extract.add_argument("file", metavar="FILE", help="a .html, .html.gz or .txt page")
    extract.add_argument("--url", help="the page's address (for its date, outlet and canonical URL)")
    extract.set_defaults(command=_extract)


def _actor_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    actors = commands.add_parser("actors", help="candidate actors: titled people the gazetteer does not know")
    actions = actors.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("candidates", parents=[common], help="list candidates, most articles first")
    listing.add_argument("--min-articles", type=int, default=1, metavar="N", help="only those in N articles or more")
    listing.set_defaults(command=_candidates)
    promote = actions.add_parser("promote", parents=[common], help="add a candidate to seeds/actors_additions.toml")
    promote.add_argument("name", metavar="NAME", help="the candidate's name, as listed")
    promote.add_argument("--id", required=True, dest="actor_id", help="its new actor id (a Wikidata id or a slug)")
    promote.add_argument("--type", default="person", choices=("person", "organisation", "country"))
    promote.add_argument("--alias", action="append", default=[], help="another full name (repeatable)")
    promote.add_argument("--role", action="append", default=[], help='a dated role: "Foreign Minister of X 2024–"')
    promote.set_defaults(command=_promote)


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from search.ingest import ingest
    from search.sources import ReadCounts, field_map, load_manifest

    fields = field_map(args.field_map)  # a mistake in --map is reported before anything is read
    manifest = load_manifest()
    for path in args.manifest:
        manifest.update(load_manifest(Path(path), required=True))
    counts = ReadCounts()
    report = ingest(args.paths, settings, rebuild=args.rebuild, manifest=manifest, fields=fields, counts=counts)
    read = None
    if counts.collections:  # each record is one of the outcomes counted below
        read = (f"read {plural(counts.records, 'record')} from {plural(counts.collections, 'collection')}"
                f" and {plural(counts.files, 'page file')}")
    return _print_report(report, settings, read=read)


def _print_report(report: IndexReport, settings: Settings, removed: bool = False, read: str | None = None) -> int:
    """What an ingest or a reindex did: each failed, skipped or duplicate source, then what was
    ``read`` (when given) and the counts; the exit status, 1 when the cleaner failed on any page."""
    for origin, reason in report.failed:
        print(f"failed {origin}: {reason}", file=sys.stderr)
    _listed("skipped", [f"{origin}: {reason}" for origin, reason in report.skipped],
            [_reason_kind(reason) for _, reason in report.skipped])
    _listed("duplicate", [f"{origin}: same text as article {original}" for origin, original in report.duplicates],
            ["same text as an article of its outlet"] * len(report.duplicates))
    if read:
        print(read)
    counts = (
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"skipped {len(report.skipped)}, duplicate {report.duplicate}"
    )
    failed = f", failed {len(report.failed)} (a fault of the cleaner: please report it)" if report.failed else ""
    print(f"{counts}{f', removed {report.removed}' if removed else ''}{failed} — index: {settings.index}")
    return 1 if report.failed else 0


#: Skips and duplicates listed one by one up to this many; past it, the first few and a count per reason
#: (an archive of a site skips every image and stylesheet: thousands of lines, each already in the log).
_LISTED = 20
_LISTED_WHEN_MANY = 5


def _listed(what: str, lines: list[str], kinds: list[str]) -> None:
    if len(lines) <= _LISTED:
        for line in lines:
            print(f"{what} {line}")
        return
    for line in lines[:_LISTED_WHEN_MANY]:
        print(f"{what} {line}")
    print(f"… {len(lines) - _LISTED_WHEN_MANY:,} more {what} (each one is in the log above); all {len(lines):,} by reason:")
    for kind, count in Counter(kinds).most_common():
        print(f"  {count:>8,}  {kind}")


def _reason_kind(reason: str) -> str:
    """A skip's reason without where in its file it was (``line 231: no text`` → ``no text``)."""
    return _WHERE.sub("", reason)


_WHERE = re.compile(r"^(?:line|record|row|offset|byte) [\d,]+: ")


def _search(args: argparse.Namespace, settings: Settings) -> int:
    from search.query import make_query, open_readers

    request = make_query(
        args.q, args.outlet, args.actor, args.year, args.language, args.sort, args.page, args.per_page,
        settings=settings, **date_options(args), collapse=args.collapse, count=args.count,
    )
    reader = open_readers(settings).snapshot()
    try:
        page = reader.search(request)
    finally:
        reader.close()
    if args.json:
        print(json.dumps(page.as_json(), ensure_ascii=False, indent=2))
        return 0
    if page.counted == "stories":
        print(f"{page.total} {'story' if page.total == 1 else 'stories'} ({page.articles} articles)")
    else:
        told = "" if page.stories is None else f" in {page.stories} {'story' if page.stories == 1 else 'stories'}"
        print(f"{page.total} articles{told}")
    for hit in page.hits:
        date = hit.published.isoformat() if hit.published else "undated"
        also = f"\n  also published by {', '.join(hit.also)}" if request.collapse and hit.also else ""
        print(f"\n{hit.title}\n  {hit.outlet} · {date} · {hit.id}{also}")
    return 0


def _extract(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from search.clean import clean
    from search.errors import ExtractionError
    from search.records import Skipped
    from search.sources import read_files

    page = next(read_files([args.file], manifest={}))
    if isinstance(page, Skipped):
        raise ExtractionError(f"{page.origin}: {page.reason}")
    article = clean(replace(page, url=args.url or page.url), settings)
    published = article.published.isoformat() if article.published else None
    fields = {"url": article.url, "title": article.title, "text": article.text, "published": published,
              "published_source": article.published_source, "author": article.author,
              "outlet": article.outlet, "language": article.language}
    print(json.dumps(fields, ensure_ascii=False, indent=2))
    return 0


def _candidates(args: argparse.Namespace, settings: Settings) -> int:
    from search.enrich import list_candidates, load_gazetteer

    found = list_candidates(settings, load_gazetteer(), args.min_articles)
    if not found:
        print(f"no candidates in {settings.index}: ingest or reindex records them")
        return 0
    print("name\ttitles\tarticles\tlast seen")
    for c in found:
        print(f"{c.name}\t{'; '.join(c.titles)}\t{c.articles}\t{c.last_seen or 'undated'}")
    return 0


def _promote(args: argparse.Namespace, settings: Settings) -> int:
    from search.enrich import find_candidate, promote

    candidate = find_candidate(settings, args.name)
    path = promote(candidate, args.actor_id, actor_type=args.type, aliases=args.alias, roles=args.role)
    print(f"added {args.actor_id} ({candidate.name}) to {path}")
    print("now run `.venv/bin/python seeds/build_actors.py` to regenerate seeds/actors.toml, "
          "then `newsdesk reindex` to apply it")
    return 0


def _reindex(args: argparse.Namespace, settings: Settings) -> int:
    from search.ingest import reindex

    return _print_report(reindex(settings), settings, removed=True)


def _delete(args: argparse.Namespace, settings: Settings) -> int:
    from search.takedown import take_down

    done = take_down(settings, args.key)
    for article_id, title in done.articles:
        print(f"removed from the index: {article_id} {title}")
    print(f"removed from the archive: {done.archived} page(s)")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import waitress

    from search.alerts import start_scheduler
    from search.crawl import start_background_crawler
    from web import create_app
    from web.memory import limit_malloc_arenas

    limit_malloc_arenas()  # before any thread of the server starts (web/memory.py says why)
    # SIGTERM (a service manager stopping the server) ends it as Ctrl-C does: through the `finally` below,
    # so the background crawl commits what it fetched and every process under the server exits.
    signal.signal(signal.SIGTERM, _stop)
    app = create_app({"NEWSDESK_SETTINGS": settings})
    scheduler = start_scheduler(settings)  # alert catch-up and digests, beside the web threads
    crawler = start_background_crawler(settings)  # each source when it is due; instant alerts follow
    print(f"Newsdesk on {listening_url(settings.host, settings.port)}/ (index: {settings.index}; "
          f"links point to {settings.base_url}/; crawling sources in the background: "
          f"{'on' if crawler else 'off'})", flush=True)
    try:
        # ident="": no Server header; naming the server and its version helps only an attacker.
        waitress.serve(app, host=settings.host, port=settings.port, threads=settings.threads, ident="")
    finally:
        if crawler is not None:
            crawler.shutdown()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
    return 0


def _stop(number: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
