"""Alerts: saved searches matched against new articles and delivered by e-mail and Atom, each article once.

Where it sits: the top of the pipeline (``search.pipeline`` calls
``after_commit`` after each index commit), above the query side; below the
web app and the command line. It also holds the accounts that own saved
searches.

Exports: ``run_alerts``, ``after_commit``, ``start_scheduler``;
``feed_page`` and ``delivery_summaries``; saved searches (``save_search``,
``list_saved``, ``update_saved``, …); accounts and sessions
(``add_user``, ``authenticate``, ``open_session``, …); ``secret_key``;
``article_link``.

Modules: ``runner`` (percolation and sending), ``schedule`` (due times, the
background scheduler, the one-run lock), ``outbox`` (matches, pending mail,
refusals), ``mail`` (messages, from ``templates/mail/``), ``feed``,
``saved``, ``accounts``, ``keys``.
"""

from __future__ import annotations

from search.alerts.accounts import (
    MIN_PASSWORD,
    add_user,
    authenticate,
    close_session,
    find_user,
    list_users,
    open_session,
    register,
    remove_user,
    session_user,
    set_password,
    set_timezone,
)
from search.alerts.feed import feed_page
from search.alerts.keys import secret_key
from search.alerts.mail import article_link
from search.alerts.outbox import DeliverySummary, delivery_summaries
from search.alerts.runner import after_commit, run_alerts, start_scheduler
from search.alerts.saved import (
    MAX_NAME,
    delete_saved,
    feed_url,
    get_saved,
    list_saved,
    revoke_feed,
    save_search,
    saved_by_id,
    saved_by_token,
    update_saved,
)

__all__ = [
    "MAX_NAME",
    "MIN_PASSWORD",
    "DeliverySummary",
    "add_user",
    "after_commit",
    "article_link",
    "authenticate",
    "close_session",
    "delete_saved",
    "delivery_summaries",
    "feed_page",
    "feed_url",
    "find_user",
    "get_saved",
    "list_saved",
    "list_users",
    "open_session",
    "register",
    "remove_user",
    "revoke_feed",
    "run_alerts",
    "save_search",
    "saved_by_id",
    "saved_by_token",
    "secret_key",
    "session_user",
    "set_password",
    "set_timezone",
    "start_scheduler",
    "update_saved",
]
