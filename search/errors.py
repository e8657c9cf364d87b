"""The one exception hierarchy of Newsdesk, shared by the engine and the web.

Every error a user can cause or meet carries a message meant for them and the
HTTP status the web layer answers with, so views never translate exceptions.
"""

from __future__ import annotations


class NewsdeskError(Exception):
    """Base of every error Newsdesk raises on purpose."""

    status = 500

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class QueryError(NewsdeskError):
    """A query or filter the engine cannot use (bad syntax, too costly)."""

    status = 400


class NotFound(NewsdeskError):
    status = 404


class IndexUnavailable(NewsdeskError):
    """Base for problems with the index as a whole."""

    status = 503


class IndexMissing(IndexUnavailable):
    """No index in the instance directory yet."""


class SchemaMismatch(IndexUnavailable):
    """The index was built by another schema version: rebuild it."""


class IndexBusy(IndexUnavailable):
    """Another process holds the write lock longer than we may wait."""


class DatabaseUnavailable(IndexUnavailable):
    """The PostgreSQL backend's database cannot be reached (down, refusing, wrong address)."""


class ExtractionError(NewsdeskError):
    """A source document could not be turned into an article: an expected rejection
    (no article on it, too big, binary, nested past any sense), skipped with its reason."""

    status = 422


class ExtractorFailed(ExtractionError):
    """The cleaner itself failed on a page (a bug of ours or of a library it drives):
    not a rejection but a failure, logged as an error; ingest exits 1."""

    status = 500


class SettingsError(NewsdeskError):
    """A settings file or variable that cannot be used."""


class CrawlError(NewsdeskError):
    """A crawl that cannot run at all (no sources, unusable sources file).

    Single URLs that fail never raise it: they are counted and reported.
    """


class SourceError(NewsdeskError):
    """A source that cannot be added or found: a bad URL, no feed or sitemap
    at it, an address the web may not reach, a name or URL taken."""

    status = 400


class SourceExists(SourceError):
    status = 409


class CrawlBusy(CrawlError):
    """Another crawl of this instance is running (one at a time: they would share the frontier)."""

    status = 409


class FetchError(NewsdeskError):
    """One URL could not be fetched (network, status, size, type, redirects).

    Raised and caught inside the crawler: the URL is logged, counted and
    backed off; the crawl goes on.
    """

    status = 502


class RobotsDenied(FetchError):
    """robots.txt does not let Newsdesk fetch this URL (or is unreachable)."""

    status = 403


class AccountError(NewsdeskError):
    """An account that cannot be created or used: e-mail taken, weak password, wrong login."""

    status = 400


class AlertError(NewsdeskError):
    """A saved search or alert option that cannot be used: the user's input, to fix."""

    status = 400


class MailError(NewsdeskError):
    """The SMTP server could not be reached or failed for now: nothing the user did wrong.
    The alert runner stops sending and the messages stay pending for its next run."""

    status = 503


class MailRefused(MailError):
    """The SMTP server refused this one message for good (its recipient, or the
    address needs SMTPUTF8 the server lacks): the others still go out. Not the
    user's input either; not "try later" (503) but a refusal from upstream."""

    status = 502


class LoginRequired(AccountError):
    """An anonymous request for something only logged-in users may see."""

    status = 401


class AdminRequired(AccountError):
    """Someone who is not an administrator asked for what only one may do (change the instance's sources)."""

    status = 403


class AccountExists(AccountError):
    """The address already has an account (said to administrators; the web's registration does not tell)."""


class TooManyLogins(AccountError):
    """Log-ins refused for a while: this account or this client failed too often lately."""

    status = 429


class RegistrationClosed(AccountError):
    """Accounts are created by an administrator here (``registration_open`` is off)."""

    status = 403
