"""``/sources``: every source's health for everyone, and the instance's sources managed by administrators.

The page shows the rows of ``web.source_health.source_rows`` — each source
kept, crawled or only ingested, with its latest article, articles a day,
failures, next crawl and how completely its articles are described — and
the crawler's hosts, so "no results" can be told from "no coverage". It
reads the state database read-only and works without an index (the article
columns are then left empty).

Administrators (``User.admin``, ``newsdesk users admin``) also get forms:
add a source by its homepage or feed (``search.crawl.find_source``, then
``search.sources.add_source``), remove one (asked first, then a POST), and
import a feed reader's OPML file. ``/sources.opml`` gives the kept sources
back as OPML, to anyone who may see the page.

**Only public addresses** unless ``allow_private_sources``: an address
typed here, or listed in an uploaded file, whose host is private, loopback
or link-local is refused before anything is fetched, and the sources added
here keep ``public_only`` so the crawler checks every address it connects
to (``search.crawl.addresses``): the page must not become a way to read the
server's own network.

Every POST is checked by the app's CSRF protection before it reaches a
view; a POST from anyone but an administrator answers 403 whether its token
was good or not (``_refused_form``), so the answer never says more than
"not yours to change". The network and the OPML parser are imported only
when an administrator uses them: the server does not load the crawler to
show the page (tests/test_server_memory.py).
"""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional

from search.crawl import crawl_health
from search.crawl.addresses import is_public
from search.errors import AdminRequired, IndexUnavailable, NewsdeskError, NotFound, SourceError, SourceExists
from search.query import Reader
from search.query.coverage import DEFAULT_WINDOW
from search.records import Source
from search.sources import add_source, instance_sources, registered_sources
from search.sources.opml import MAX_OPML_BYTES
from search.sources.registry import MAX_NAME
from web.accounts import current_account, error_text
from web.readers import get_reader, get_settings
from web.source_health import SourceRow, source_rows

if TYPE_CHECKING:
    from search.crawl.finder import FoundSource

bp = Blueprint("sources", __name__)

#: What ``/sources.opml`` is served as: OPML's registered media type (IANA, text/x-opml) and its file name.
OPML_TYPE = "text/x-opml; charset=utf-8"
OPML_FILE = "newsdesk-sources.opml"
#: Largest request accepted by this page's forms: an OPML file at its limit and the form around it.
MAX_UPLOAD = MAX_OPML_BYTES + 64 * 1024
_URL_MAX = 2000


# --- forms ------------------------------------------------------------------------


class AddSourceForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    # Text, not type=url: the finder says what is wrong with an address, in the page's own words.
    url = StringField("Homepage or feed address", validators=[DataRequired(), Length(max=_URL_MAX)])
    name = StringField("Name (optional)", validators=[Optional(), Length(max=MAX_NAME)])


class ImportForm(FlaskForm):  # type: ignore[misc]
    opml = FileField("OPML file from a feed reader", validators=[FileRequired("Choose an OPML file.")])


class RemoveForm(FlaskForm):  # type: ignore[misc]
    name = HiddenField(validators=[DataRequired()])


# --- what the forms did, for the page -------------------------------------------------


@dataclass(frozen=True)
class Added:
    """A source found and kept from an address typed on the page."""

    source: Source
    found: FoundSource


@dataclass
class Imported:
    """What an OPML file gave: the sources added, those already kept, and the outlines refused (where, why)."""

    file: str
    added: list[Source] = field(default_factory=list)
    kept: list[tuple[Source, str]] = field(default_factory=list)  # already kept: the source, why
    skipped: list[tuple[str, str]] = field(default_factory=list)


# --- views ------------------------------------------------------------------------


@bp.route("/sources")
def index() -> ResponseReturnValue:
    return _page()


@bp.route("/sources.opml")
def export() -> Response:
    """The kept sources as OPML 2.0, for a feed reader or another instance (``/sources`` imports it)."""
    from search.sources import write_opml  # lxml: loaded by those who ask for it

    data = write_opml(instance_sources(get_settings()), "Newsdesk sources", dt.datetime.now(dt.UTC))
    response = Response(data, content_type=OPML_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{OPML_FILE}"'
    return response


@bp.route("/sources/add", methods=["POST"])
def add() -> ResponseReturnValue:
    _require_admin()
    form = AddSourceForm()
    if not form.validate_on_submit():
        return _page(add_form=form, status=400)
    settings = get_settings()
    url, name = form.url.data.strip(), (form.name.data or "").strip() or None
    try:
        _check_name_free(name)
        public_only = not settings.allow_private_sources
        if public_only:
            _refuse_private(url)
        from search.crawl import find_source  # the fetcher, the feed parsers: loaded by administrators' requests

        found = find_source(url, settings, name, public_only=public_only)
        source = add_source(settings, replace(found.source, public_only=public_only),
                            added_by=current_account().email)
    except NewsdeskError as e:  # SourceError and SourceExists above all; never a 500 for what the network did
        form.form_errors.append(error_text(e))
        return _page(add_form=form, status=e.status)
    return _page(added=Added(source, found))


@bp.route("/sources/import", methods=["POST"])
def import_opml() -> ResponseReturnValue:
    _require_admin()
    form = ImportForm()
    if not form.validate_on_submit():
        return _page(import_form=form, status=400)
    from search.sources import OpmlUnreadable, read_opml  # lxml: loaded by administrators' requests

    upload = form.opml.data
    file = _file_name(upload.filename)
    try:
        listed = read_opml(upload.read(MAX_OPML_BYTES + 1))
    except OpmlUnreadable as e:
        form.opml.errors.append(f"{file} is not an OPML file ({e}).")
        return _page(import_form=form, status=400)
    return _page(imported=_import(listed.sources, listed.skipped, file))


@bp.route("/sources/remove", methods=["GET", "POST"])
def remove() -> ResponseReturnValue:
    """GET asks (the source, what removing it does), POST removes."""
    _require_admin()
    settings = get_settings()
    asked = {"name": request.args.get("name", "")}
    form = RemoveForm() if request.method == "POST" else RemoveForm(formdata=None, data=asked)
    name = (form.name.data or "").strip()
    if request.method == "POST" and form.validate_on_submit():
        from search.crawl import stop_following  # its schedule goes with it

        try:
            removed = stop_following(settings, name)
        except NotFound as e:
            return _page(message=error_text(e), status=e.status)
        flash(f"Removed {removed.name}: it is no longer crawled. Its articles stay in the index.")
        return redirect(url_for("sources.index"))
    kept = next((item for item in registered_sources(settings) if item.source.name.casefold() == name.casefold()), None)
    if kept is None:
        return _page(message=f"No source named “{name}” is kept by this instance.", status=404)
    form.name.data = kept.source.name
    return render_template("source_remove.html", kept=kept, form=form), 400 if form.is_submitted() else 200


# --- the page -------------------------------------------------------------------------


def _page(*, add_form: AddSourceForm | None = None, import_form: ImportForm | None = None,
          added: Added | None = None, imported: Imported | None = None, message: str | None = None,
          status: int = 200) -> ResponseReturnValue:
    settings = get_settings()
    crawled, hosts = crawl_health(settings)
    reader, unreadable = _reader()
    rows = source_rows(settings, reader, dt.datetime.now(dt.UTC), crawled=crawled)
    admin = is_admin()
    return render_template(
        "sources.html", rows=rows, crawled=[row for row in rows if row.crawl is not None], hosts=hosts,
        unreadable=unreadable, admin=admin, message=message, added=added, imported=imported,
        add_form=add_form or (AddSourceForm(formdata=None) if admin else None),
        import_form=import_form or (ImportForm(formdata=None) if admin else None),
        allow_private=settings.allow_private_sources, window_days=round(DEFAULT_WINDOW / dt.timedelta(days=1)),
        when=_when, moment=_moment, percent=_percent, search_url=_search_url,
    ), status


def _reader() -> tuple[Reader | None, str | None]:
    """The index's reader, or None and why: the page still shows what the crawler knows."""
    try:
        return get_reader(), None
    except IndexUnavailable as e:
        return None, e.message


def is_admin() -> bool:
    """Whether the request comes from a logged-in administrator (read with the session, on every request)."""
    return bool(current_user.is_authenticated and current_user.admin)


def _require_admin() -> None:
    if not is_admin():
        raise AdminRequired("only an administrator may change this instance's sources",
                            hint="an administrator grants the right with: newsdesk users admin EMAIL")


@bp.errorhandler(CSRFError)
def _refused_form(error: CSRFError) -> ResponseReturnValue:
    """A POST whose CSRF token was missing or wrong (checked before any view runs).

    To anyone but an administrator the answer is the one a good token gets,
    403; an administrator is shown the page again and asked to try again.
    """
    if not is_admin():
        refusal = AdminRequired("only an administrator may change this instance's sources")
        return render_template("error.html", status=refusal.status, message=refusal.message, hint=None), 403
    return _page(message="The form had expired or did not come from this page: nothing was changed. Try again.",
                 status=400)


@bp.url_value_preprocessor
def _limit_uploads(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Runs before the app's CSRF check reads the form: a body past the limit is refused (413) unread.
    request.max_content_length = MAX_UPLOAD


# --- adding -----------------------------------------------------------------------


def _check_name_free(name: str | None) -> None:
    """A name already kept is refused before anything is fetched."""
    if name is None:
        return
    for item in registered_sources(get_settings()):
        if item.source.name.casefold() == " ".join(name.split()).casefold():
            raise SourceExists(f"a source named {item.source.name!r} is already kept",
                               hint="remove it first to replace it, or give another name")


def _refuse_private(url: str) -> None:
    """``SourceError`` when ``url``'s host is a private or local address (its name resolved, nothing fetched)."""
    problem = _private_address(url)
    if problem:
        raise SourceError(f"{problem}: refused for a source added on the web",
                          hint="the server's operator can allow such addresses with the setting allow_private_sources")


def _private_address(url: str) -> str | None:
    """Why ``url``'s host may not be reached for a source added on the web, else None.

    A name that cannot be resolved now is let through: the crawler checks
    the address of every connection it makes for such a source, so a name
    that resolves later to a private address is refused then.
    """
    parts = urlsplit(url.strip())
    host = parts.hostname
    if not host:
        return None  # no web address at all: the finder or the registry says so
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        return None
    private = sorted({str(info[4][0]) for info in found if not is_public(str(info[4][0]))})
    return f"{host} is a private or local address ({', '.join(private)})" if private else None


def _import(sources: list[Source], skipped: list[tuple[str, str]], file: str) -> Imported:
    """Keep each source of an OPML file, as far as it may be kept; nothing is fetched."""
    settings = get_settings()
    public_only = not settings.allow_private_sources
    report = Imported(file, skipped=list(skipped))
    resolved: dict[str, str | None] = {}  # one look-up per host and port: a reader's list repeats hosts
    for source in sources:
        if public_only:
            for url in (source.url, *source.feeds):
                if (where := urlsplit(url).netloc) not in resolved:
                    resolved[where] = _private_address(url)
            problem = next((found for url in (source.url, *source.feeds) if (found := resolved[urlsplit(url).netloc])),
                           None)
            if problem:
                report.skipped.append((source.name, f"{problem}: refused for a source added on the web"))
                continue
        try:
            report.added.append(add_source(settings, replace(source, public_only=public_only),
                                           added_by=f"OPML file {file}"))
        except SourceExists as e:
            report.kept.append((source, e.message))
        except SourceError as e:
            report.skipped.append((source.name, e.message))
    return report


def _file_name(name: str | None) -> str:
    """The uploaded file's own name, without a folder any system put before it."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name.strip()
    return base[:100] or "upload.opml"


# --- formatting -------------------------------------------------------------------


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%-d %b %Y, %H:%M UTC") if moment is not None else "never"


def _moment(unix: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(unix, dt.UTC) if unix else None


def _percent(share: float | None) -> str:
    return f"{round(share * 100)} %" if share is not None else "—"


def _search_url(row: SourceRow) -> str | None:
    """The results page filtered by the source's outlet (each spelling the index holds); None without articles."""
    if not row.outlets:
        return None
    return url_for("results.index", outlet=list(row.outlets))
