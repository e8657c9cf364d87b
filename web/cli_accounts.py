"""The ``newsdesk users`` and ``newsdesk alerts`` commands: accounts and saved searches from a terminal.

Part of the command line (``web/cli.py`` builds the parser and runs a
command); the stages are imported lazily, so start-up stays quick.
"""

from __future__ import annotations

import argparse
import sys

from search.errors import AccountError, MailError
from search.records import FREQUENCIES
from search.settings import Settings
from web.cli_options import add_date_options, date_options


def user_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    users = commands.add_parser("users", help="accounts: who may log in, save searches and get alerts")
    actions = users.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="create an account (password read from standard input)")
    add.add_argument("email", metavar="EMAIL")
    add.add_argument("--timezone", default="UTC", help="IANA time zone for digests (default UTC)")
    add.add_argument("--admin", action="store_true", help="an administrator: manages the sources on /sources")
    add.set_defaults(command=_add_user)
    admin = actions.add_parser("admin", parents=[common], help="make an account an administrator (--off: no longer)")
    admin.add_argument("email", metavar="EMAIL")
    admin.add_argument("--off", action="store_true", help="take the administrator's rights away")
    admin.set_defaults(command=_set_admin)
    passwd = actions.add_parser("passwd", parents=[common],
                                help="set an account's password (read from standard input) and log out its sessions")
    passwd.add_argument("email", metavar="EMAIL")
    passwd.set_defaults(command=_set_password)
    actions.add_parser("list", parents=[common], help="list accounts").set_defaults(command=_list_users)
    remove = actions.add_parser("remove", parents=[common], help="delete an account and its saved searches")
    remove.add_argument("email", metavar="EMAIL")
    remove.set_defaults(command=_remove_user)


def alert_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    alerts = commands.add_parser("alerts", help="saved searches and their alerts")
    actions = alerts.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="save a search with alerts; prints its id last")
    add.add_argument("--user", required=True, metavar="EMAIL", help="the owner's account")
    add.add_argument("--name", required=True)
    add.add_argument("--query", default="", metavar="Q", help="query text, as in the search box")
    for facet in ("outlet", "actor", "year", "language"):
        add.add_argument(f"--{facet}", action="append", default=[], help=f"filter by {facet} (repeatable: OR)")
    add.add_argument("--frequency", choices=FREQUENCIES, default="instant")
    add.add_argument("--hour", type=int, default=8, help="digests: local hour of delivery (default 8)")
    add.add_argument("--weekday", type=int, default=0, help="weekly digests: 0 = Monday (default)")
    add.add_argument("--email", action="store_true", help="deliver by e-mail")
    add.add_argument("--feed", action="store_true", help="deliver to the Atom feed (neither flag: both)")
    add.add_argument("--first-of-cluster", action="store_true", help="only the first copy of a syndicated story")
    add_date_options(add)
    add.set_defaults(command=_add_alert)
    listing = actions.add_parser("list", parents=[common], help="list saved searches")
    listing.add_argument("--user", metavar="EMAIL", help="only this account's")
    listing.set_defaults(command=_list_alerts)
    remove = actions.add_parser("remove", parents=[common], help="delete a saved search")
    remove.add_argument("saved_id", type=int, metavar="ID")
    remove.set_defaults(command=_remove_alert)
    feed = actions.add_parser("feed-url", parents=[common], help="print a saved search's Atom feed address")
    feed.add_argument("saved_id", type=int, metavar="ID")
    feed.set_defaults(command=_feed_url)
    run = actions.add_parser("run", parents=[common], help="evaluate due alerts and send them (safe from cron)")
    run.set_defaults(command=_run_alerts)


def _read_password() -> str:
    """Typed twice on a terminal; otherwise the first line of standard input (a script's pipe)."""
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise AccountError("the two passwords differ")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def _add_user(args: argparse.Namespace, settings: Settings) -> int:
    from search.alerts import add_user

    user = add_user(settings, args.email, _read_password(), args.timezone, admin=args.admin)
    print(f"added {user.email} (user {user.id}{', administrator' if user.admin else ''})")
    return 0


def _set_admin(args: argparse.Namespace, settings: Settings) -> int:
    from search.alerts.accounts import set_admin

    user = set_admin(settings, args.email, admin=not args.off)
    print(f"{user.email} is {'now an administrator' if user.admin else 'no longer an administrator'}")
    return 0


def _set_password(args: argparse.Namespace, settings: Settings) -> int:
    from search.alerts import find_user, set_password

    user = find_user(settings, args.email)
    set_password(settings, user.id, _read_password())
    print(f"new password for {user.email}; every session it had is logged out")
    return 0


def _list_users(args: argparse.Namespace, settings: Settings) -> int:
    from search.alerts import list_users

    for user in list_users(settings):
        role = "admin" if user.admin else "user"
        created = f"{user.created:%Y-%m-%d}" if user.created else ""
        print(f"{user.id}\t{user.email}\t{user.timezone}\t{created}\t{role}")
    return 0


def _remove_user(args: argparse.Namespace, settings: Settings) -> int:
    from search.alerts import remove_user

    remove_user(settings, args.email)
    print(f"removed {args.email} and their saved searches")
    return 0


def _add_alert(args: argparse.Namespace, settings: Settings) -> int:
    from search.alerts import find_user, save_search
    from search.query import make_query

    user = find_user(settings, args.user)
    query = make_query(args.query, outlet=args.outlet, actor=args.actor, year=args.year, language=args.language,
                       **date_options(args))
    both = not (args.email or args.feed)
    saved = save_search(settings, user.id, args.name, query, frequency=args.frequency, hour=args.hour,
                        weekday=args.weekday, email=args.email or both, feed=args.feed or both,
                        first_of_cluster=args.first_of_cluster)
    print(f"saved {saved.name!r} for {user.email}; new articles from now on (ingest number {saved.watermark})")
    print(saved.id)
    return 0


def _list_alerts(args: argparse.Namespace, settings: Settings) -> int:
    from search.alerts import find_user, list_saved, list_users

    owners = {user.id: user.email for user in list_users(settings)}
    wanted = find_user(settings, args.user).id if args.user else None
    print("id\tuser\tname\tquery\tfrequency\tdelivery\tlast run")
    for saved in list_saved(settings, wanted):
        delivery = "+".join(name for name, on in (("email", saved.email), ("feed", saved.feed)) if on) or "none"
        filters = " ".join(f"{name}:{v}" for name, values in saved.query.filters().items() for v in values)
        selects = f"{saved.query.q} {filters}".strip()
        print(f"{saved.id}\t{owners.get(saved.user_id)}\t{saved.name}\t{selects}\t{saved.frequency}\t{delivery}"
              f"\t{saved.last_run or 'never'}")
    return 0


def _remove_alert(args: argparse.Namespace, settings: Settings) -> int:
    from search.alerts import delete_saved, saved_by_id

    saved = saved_by_id(settings, args.saved_id)
    delete_saved(settings, saved.user_id, saved.id)
    print(f"removed saved search {saved.id} ({saved.name})")
    return 0


def _feed_url(args: argparse.Namespace, settings: Settings) -> int:
    from search.alerts import feed_url, saved_by_id
    from search.errors import AlertError

    saved = saved_by_id(settings, args.saved_id)
    if not saved.feed:  # its address answers 404: printing it would hand out a dead link
        raise AlertError(f"saved search {saved.id} ({saved.name}) has its feed turned off",
                         hint="turn the feed on in the saved search's options on the web (/saved)")
    print(feed_url(settings, saved))
    return 0


def _run_alerts(args: argparse.Namespace, settings: Settings) -> int:
    from search.alerts import run_alerts

    report = run_alerts(settings)
    if report.locked:
        print("another alert run is under way; nothing done")
        return 0
    print(f"alerts: evaluated {report.evaluated}, matched {report.matched}, sent {report.sent}, "
          f"pending {report.pending}")
    if report.mail_error is not None:  # a mail server down is a failed run (exit 1), though the matches are kept
        raise MailError(report.mail_error, hint=f"{report.pending} e-mail(s) stay pending; the next run sends them")
    return 0
