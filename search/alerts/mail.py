"""Alert e-mail: one message of new articles for a saved search, built and sent with the stdlib.

The last step of the alert runner (search/alerts/runner.py), which decides what goes
out and records it; this module only turns a list of articles into a
multipart message (plain text and HTML) and hands it to the SMTP server of
the settings. Subject and parts are Jinja templates, files in
``templates/mail/`` beside this module (shipped as package data);
everything taken from an article is escaped in the HTML part (autoescape).
Each message carries a ``Message-ID`` the runner stores before sending, so
a message sent again after a crash is recognisably the same message, and
RFC 8058 one-click unsubscribe headers.

Headers go out as mail clients parse them: ``List-Unsubscribe`` is the URL
verbatim in angle brackets (RFC 2369), which the stdlib would otherwise fold
into RFC 2047 encoded words once the line passes 78 characters, leaving a
header no client can use; non-ASCII text (the subject) in encoded words.
The footer avoids the phrasing spam filters score ("stop these e-mails" is
SpamAssassin's ``END_FUTURE_EMAILS``).
"""

from __future__ import annotations

import datetime as dt
import re
import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from search.errors import MailError, MailRefused
from search.records import Hit, SavedSearch, User
from search.settings import Settings

#: Seconds to connect to the SMTP server and between its answers: an ingest
#: runs instant alerts after each commit and must not hang on a dead server.
SMTP_TIMEOUT = 30.0

#: CRLF line ends, and a header stored raw (``set_raw``) is written as given:
#: headers set the ordinary way are still folded and encoded by the policy.
_POLICY = policy.SMTP.clone(refold_source="none")


@dataclass(frozen=True)
class Reason:
    """Why an article matched a saved search: query words found, actor and outlet filters it satisfied."""

    words: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()  # display names
    outlets: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = []
        if self.words:
            parts.append("words: " + ", ".join(f"“{word}”" for word in self.words))
        if self.actors:
            parts.append("actor: " + ", ".join(self.actors))
        if self.outlets:
            parts.append("outlet: " + ", ".join(self.outlets))
        return "; ".join(parts) or "every new article"


@dataclass(frozen=True)
class MailItem:
    """One article of a message: what the index holds of it, its link here, why it matched."""

    hit: Hit
    link: str
    why: Reason


@dataclass(frozen=True)
class Letter:
    """Everything one message says, apart from its transport headers."""

    saved: SavedSearch
    user: User
    items: tuple[MailItem, ...]
    message_id: str
    unsubscribe: str  # the one-click unsubscribe URL


def message_id(settings: Settings, saved_id: int, first: int, last: int) -> str:
    """A Message-ID stable for one saved search's delivery of ingest numbers ``first``…``last``."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<alert.{saved_id}.{first}-{last}@{domain}>"


def article_link(settings: Settings, article_id: str) -> str:
    return f"{settings.base_url.rstrip('/')}/articles/{article_id}"


def build_message(settings: Settings, letter: Letter) -> EmailMessage:
    """The multipart (text, HTML) message of a letter, with its headers."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = settings.mail_from
    message["To"] = letter.user.email
    context = {"letter": letter, "digest": letter.saved.frequency != "instant",
               "manage": f"{settings.base_url.rstrip('/')}/saved"}
    message["Subject"] = _render("subject.txt", context).rstrip("\n")  # the template file's own line end
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = letter.message_id
    # Raw: a URL has no white space to fold at, and an encoded word is not a URL.
    message.set_raw("List-Unsubscribe", f"<{letter.unsubscribe}>")
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message.set_content(_render("body.txt", context))
    message.add_alternative(_render("body.html", context), subtype="html")
    return message


def send_message(settings: Settings, message: EmailMessage) -> None:
    """Hand the message to the SMTP server of the settings: ``MailRefused`` when it refuses this message for
    good, ``MailError`` when it cannot be reached or fails for now."""
    try:
        with _connect(settings) as smtp:
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPNotSupportedError) as e:
        if _permanent(e):
            raise MailRefused(f"{settings.smtp_host}:{settings.smtp_port} refused the message to "
                              f"{message['To']}: {_smtp_reason(e)}") from e
        raise MailError(f"cannot send mail through {settings.smtp_host}:{settings.smtp_port}: {e}") from e
    except OSError as e:  # smtplib.SMTPException is an OSError
        raise MailError(f"cannot send mail through {settings.smtp_host}:{settings.smtp_port}: {e}") from e


def _permanent(error: smtplib.SMTPException) -> bool:
    """Whether the server refused this message for good (a 5xx reply about it, or an
    internationalised address it cannot take) rather than for now (4xx): the
    difference between "record it and go on" and "the server is down, stop"."""
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return True  # SMTPUTF8 needed, not offered: the same on every try
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in error.recipients.values())
    return 500 <= getattr(error, "smtp_code", 0) < 600


def _smtp_reason(error: smtplib.SMTPException) -> str:
    text: bytes | str
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
    elif isinstance(error, smtplib.SMTPResponseException):
        code, text = error.smtp_code, error.smtp_error
    else:
        return str(error)
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def _connect(settings: Settings) -> smtplib.SMTP:
    if settings.smtp_tls == "ssl":
        return smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT,
                                context=ssl.create_default_context())
    return smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT)


def _lead(hit: Hit) -> str:
    """The hit's snippet as plain text (the HTML template escapes it again)."""
    return re.sub(r"\s+", " ", Markup(hit.snippet).striptags()).strip()


def _date(hit: Hit) -> str:
    return hit.published.isoformat()[:10] if hit.published else "undated"


#: The message's templates, files beside this module (``templates/mail/``):
#: the HTML part autoescaped (everything taken from an article is escaped),
#: the subject and the plain text part as written. A file's last line end is
#: kept (the text part ends with one; the subject drops it).
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "mail"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
    keep_trailing_newline=True,
)
_TEMPLATES.globals.update(date=_date, lead=_lead)


def _render(name: str, context: dict[str, object]) -> str:
    return _TEMPLATES.get_template(name).render(context)
