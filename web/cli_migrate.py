"""The ``newsdesk migrate --to postgres`` command: an embedded instance copied into PostgreSQL (``search.migrate``).

Part of the command line (``web/cli.py`` builds the parser and runs a
command); the copy itself is imported lazily, so start-up stays quick and
psycopg is needed only by whoever migrates.
"""

from __future__ import annotations

import argparse

from search.errors import SettingsError
from search.settings import Settings
from web.cli_options import plural


def migrate_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    move = commands.add_parser("migrate", parents=[common],
                               help="copy this embedded instance (Whoosh and SQLite) into PostgreSQL")
    move.add_argument("--to", required=True, choices=("postgres",), help="the backend to copy into")
    move.add_argument("--database-url", metavar="URL",
                      help="the empty database to copy into (default: the database_url setting)")
    move.set_defaults(command=_migrate)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from search.migrate import migrate_to_postgres

    url = args.database_url or settings.database_url
    if not url:
        raise SettingsError("migrate needs the database to copy into",
                            hint="--database-url postgresql://user@host/newsdesk, or set database_url")
    report = migrate_to_postgres(settings, url)
    print(f"copied {plural(report.articles, 'article')} (ingest numbers up to {report.last_number:,}; "
          f"{plural(report.numbers, 'number')} of articles taken down kept)")
    for table, rows in report.state.items():
        print(f"copied {plural(rows, 'row')} of {table}")
    print(f"now set backend = \"postgres\" and database_url in {settings.index / 'newsdesk.toml'} "
          "(or NEWSDESK_BACKEND=postgres and NEWSDESK_DATABASE_URL)")
    return 0

