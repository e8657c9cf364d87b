"""The ``newsdesk crawl`` and ``newsdesk sources`` commands: outlets to follow, and crawling them.

Part of the command line (``web/cli.py`` builds the parser and runs a
command); the stages are imported lazily, so start-up stays quick.

    newsdesk crawl [--sources FILE] [--due | --loop]
    newsdesk sources                          each source's and host's health
    newsdesk sources add URL [--name N]       a homepage (its feeds found) or a feed
    newsdesk sources remove NAME|URL
    newsdesk sources list
    newsdesk sources import FILE.opml | sources export

Sources added here may be anywhere, loopback included (only those entered on
the web are kept to public addresses).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from search.settings import Settings

if TYPE_CHECKING:
    from search.crawl import CrawlReport, Turn


def source_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    crawl = commands.add_parser("crawl", parents=[common],
                                help="fetch new articles from the instance's sources (or a sources file's)")
    crawl.add_argument("--sources", metavar="FILE", help="crawl the outlets of this sources file instead")
    when = crawl.add_mutually_exclusive_group()
    when.add_argument("--due", action="store_true", help="only the sources whose next crawl time has come")
    when.add_argument("--loop", action="store_true",
                      help="keep crawling each source when it is due, until Ctrl-C (what `serve` does in the background)")
    crawl.set_defaults(command=_crawl)

    sources = commands.add_parser("sources", parents=[common],
                                  help="the instance's sources: health (no action), add, remove, list, import, export")
    sources.set_defaults(command=_health)
    actions = sources.add_subparsers(required=False, metavar="ACTION")
    add = actions.add_parser("add", parents=[common],
                             help="add an outlet by its homepage (its feeds and sitemaps are found and checked) or feed")
    add.add_argument("url", metavar="URL")
    add.add_argument("--name", help="the outlet's name (default: the name the site gives itself)")
    add.add_argument("--language", help="the outlet's language code, when its pages do not say")
    add.set_defaults(command=_add)
    remove = actions.add_parser("remove", parents=[common], help="stop crawling a source (its articles stay)")
    remove.add_argument("key", metavar="NAME|URL")
    remove.set_defaults(command=_remove)
    actions.add_parser("list", parents=[common], help="list the sources kept").set_defaults(command=_list)
    load = actions.add_parser("import", parents=[common], help="add the feeds of an OPML file (from a feed reader)")
    load.add_argument("file", metavar="FILE.opml")
    load.set_defaults(command=_import)
    actions.add_parser("export", parents=[common], help="print the sources kept as OPML") \
        .set_defaults(command=_export)


# --- crawling -------------------------------------------------------------------


def _crawl(args: argparse.Namespace, settings: Settings) -> int:
    from search.crawl import crawl, crawl_due, crawl_loop
    from search.crawl.loop import sources_to_crawl
    from search.errors import CrawlError

    sources_file = Path(args.sources) if args.sources else None
    if args.loop:
        print(f"crawling each source when it is due, until Ctrl-C — index: {settings.index}", flush=True)
        crawl_loop(settings, sources_file, on_turn=_print_turn)
        return 0
    if args.due:
        turn = crawl_due(settings, sources_file, progress=None)
        if turn.report is None:
            print("no source is due")
            return 0
        _print_report(turn.report, settings)
        return 0
    sources = sources_to_crawl(settings, sources_file)
    if not sources:
        raise CrawlError(f"no sources to crawl in {settings.index}",
                         hint=f"add one with `newsdesk sources add URL --index {settings.index}`")
    _print_report(crawl(sources, settings), settings)
    return 0  # URLs that failed are reported; the crawl itself ran


def _print_turn(turn: Turn) -> None:
    if turn.report is not None:
        stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
        print(f"{stamp} {', '.join(turn.crawled)}: fetched {turn.report.fetched}, failed {turn.report.failed}; "
              f"articles added {turn.report.added}, updated {turn.report.updated}", flush=True)


def _print_report(report: CrawlReport, settings: Settings) -> None:
    for url, reason in report.failures:
        print(f"failed {url}: {reason}")
    print(
        f"sources {report.sources}, discovered {report.discovered}, fetched {report.fetched}, "
        f"not modified {report.not_modified}, skipped by robots.txt {report.robots}, failed {report.failed}, "
        f"noindex {report.noindex}, no article found {report.unextractable}; "
        f"articles added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"duplicate {report.duplicate} — index: {settings.index}"
    )


# --- managing sources -----------------------------------------------------------


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from search.crawl import find_source
    from search.sources import add_source

    found = find_source(args.url, settings, args.name)
    source = add_source(settings, replace(found.source, language=args.language or found.source.language))
    print(f"added {source.name} ({source.url})")
    for check in found.checks:
        print(f"  {check.kind} {check.url}: {check.pages} pages listed")
    for note in found.notes:
        print(f"  not used: {note}")
    print(f"due now: `newsdesk serve` crawls it in the background, or `newsdesk crawl --index {settings.index}`")
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    from search.crawl import stop_following

    source = stop_following(settings, args.key)
    print(f"removed {source.name} ({source.url}); its articles stay in the index (`newsdesk delete` removes one)")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from search.crawl import source_schedules
    from search.sources import registered_sources

    kept = registered_sources(settings)
    if not kept:
        print(f"no sources kept in {settings.index}: newsdesk sources add URL --index {settings.index}")
        return 0
    schedules = source_schedules(settings, [item.source.name for item in kept])
    print("name\thomepage\tfeeds\tsitemaps\tadded\tby\tnext crawl")
    for item in kept:
        source, schedule = item.source, schedules.get(item.source.name)
        next_crawl = _when(schedule.next_crawl_at) if schedule is not None else "due now"
        print(f"{source.name}\t{source.url}\t{' '.join(source.feeds) or '-'}\t{' '.join(source.sitemaps) or '-'}\t"
              f"{item.added_at:%Y-%m-%d %H:%M UTC}\t{item.added_by}\t{next_crawl}")
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from search.errors import SourceError
    from search.sources import OpmlUnreadable, add_source, read_opml

    path = Path(args.file)
    try:
        found = read_opml(path.read_bytes())
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror or e}") from None
    except OpmlUnreadable as e:
        raise SourceError(f"{path} is not an OPML file: {e}") from None
    added = kept = 0
    for source in found.sources:
        try:
            add_source(settings, source, added_by=f"OPML file {path.name}")
            added += 1
        except SourceError as e:
            print(f"not added {source.name}: {e}")
            kept += 1
    for where, reason in found.skipped:
        print(f"skipped {where}: {reason}")
    print(f"added {added}, not added {kept}, skipped {len(found.skipped)} — index: {settings.index}")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from search.sources import instance_sources, write_opml

    data = write_opml(instance_sources(settings), f"Newsdesk sources ({settings.index})", dt.datetime.now(dt.UTC))
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    return 0


def _health(args: argparse.Namespace, settings: Settings) -> int:
    """Every source the instance knows (kept, crawled or only ingested), then every host crawled."""
    from search.crawl import crawl_health
    from search.errors import IndexUnavailable
    from search.query import Reader, open_readers
    from web.source_health import source_rows

    crawled, hosts = crawl_health(settings)
    reader: Reader | None
    try:
        reader = open_readers(settings).snapshot()
    except IndexUnavailable:
        reader = None  # the article columns are then unknown, not 0
    try:
        rows = source_rows(settings, reader, dt.datetime.now(dt.UTC), crawled=crawled)
    finally:
        if reader is not None:
            reader.close()
    if not rows:
        print(f"no sources in {settings.index} yet: newsdesk sources add URL --index {settings.index}, "
              f"or newsdesk ingest FILE --index {settings.index}")
        return 0
    print("source\tstatus\tarticles\tper day\tdated\tauthor\tlanguage\tlast new article\tfailures\t"
          "next crawl\tlatest failure")
    for row in rows:
        failure = f"{_when(row.last_failure)}: {row.last_error}" if row.last_error else "-"
        print(f"{row.name}\t{row.status}\t{_count(row.articles)}\t{_rate(row.per_day)}\t{_share(row.dated_share)}\t"
              f"{_share(row.authored_share)}\t{_share(row.languaged_share)}\t{_when(row.last_new_article)}\t"
              f"{row.failures}\t{row.next_crawl_text}{f' ({row.interval_text})' if row.interval_text else ''}\t"
              f"{failure}")
    if hosts:
        print("\nhost\trequests\tfailing now\tlast success\tlast failure\tlast error")
    for h in hosts:
        print(f"{h.host}\t{h.requests}\t{h.failures}\t{_when(h.last_success)}\t{_when(h.last_failure)}\t"
              f"{h.last_error or '-'}")
    return 0


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"  # None: the index could not be read


def _rate(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _when(moment: float | dt.datetime | None) -> str:
    if isinstance(moment, float | int) and moment:
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if isinstance(moment, dt.datetime) else "never"
