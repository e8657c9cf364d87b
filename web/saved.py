"""A user's saved searches: save from a results page, list, edit, delete, revoke the feed.

A saved search keeps the results page's date filter as asked (``from``,
``to``, ``range``, ``dated``, ``certainty``): a preset stays relative, so an
alert on "past week" takes, at each run, articles published in the week
before it; the edit form lists it beside the facet filters, to untick.

Every view is parse → storage call (``search.alerts.saved``) → render or redirect,
and every one needs a logged-in user. Storage names the owner on each call,
so another user's saved search is ``NotFound`` (404) — the views never check
ownership themselves. The "Save this search" box on the results page is the
``save_search_form`` template global, posted to ``POST /saved``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length

from search.alerts import (
    MAX_NAME,
    DeliverySummary,
    delete_saved,
    delivery_summaries,
    feed_url,
    get_saved,
    list_saved,
    revoke_feed,
    save_search,
    update_saved,
)
from search.errors import AlertError, QueryError
from search.query import facet_label, make_query
from search.records import FACETS, SavedSearch, SearchQuery
from web.accounts import current_account, error_text, form_status, login_required
from web.readers import get_gazetteer, get_settings
from web.results import DATE_TITLES, date_label

bp = Blueprint("saved", __name__)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Choices as {value: label}: WTForms 3.3 deprecates lists of tuples.
FREQUENCY_CHOICES = {"instant": "as soon as new articles arrive", "daily": "daily digest", "weekly": "weekly digest"}
HOUR_CHOICES = {hour: f"{hour:02d}:00" for hour in range(24)}
WEEKDAY_CHOICES = dict(enumerate(WEEKDAYS))
FACET_TITLES = {"outlet": "Outlet", "actor": "Actor", "year": "Year", "language": "Language"}
#: The date filter's parameters, as a saved search's filters show and post them (``from=2018-09-01``, …).
DATE_NAMES = tuple(DATE_TITLES)


class SavedSearchForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type hints
    """Name, query text and alert options; the facet filters travel as repeated ``outlet``/``actor``/… fields."""

    name = StringField("Name", validators=[Length(max=MAX_NAME)])
    q = StringField("Query", validators=[Length(max=10_000)])
    frequency = SelectField("Alert", choices=FREQUENCY_CHOICES, default="instant")
    hour = SelectField("Digest hour", coerce=int, choices=HOUR_CHOICES, default=8)
    weekday = SelectField("Weekly digest on", coerce=int, choices=WEEKDAY_CHOICES, default=0)
    email = BooleanField("by e-mail", default=True)
    feed = BooleanField("in an Atom feed", default=True)
    first_of_cluster = BooleanField("only the first copy of a story several outlets publish", default=False)

    def options(self) -> AlertOptions:
        return AlertOptions(frequency=self.frequency.data, hour=self.hour.data, weekday=self.weekday.data,
                            email=self.email.data, feed=self.feed.data, first_of_cluster=self.first_of_cluster.data)

    def chosen_name(self) -> str:
        """The name typed, else the query text: a blank name is the common case when saving."""
        return (self.name.data or "").strip() or (self.q.data or "").strip() or "All articles"


@dataclass(frozen=True)
class AlertOptions:
    """The alert options of a saved search, as ``search.alerts.saved`` takes them."""

    frequency: str
    hour: int
    weekday: int
    email: bool
    feed: bool
    first_of_cluster: bool


@dataclass(frozen=True)
class Filter:
    """One facet or date filter of a saved search, with its display label (actors are stored by id); ``facet``
    is the parameter it is posted as (``outlet``, ``from``, ``range``, …)."""

    facet: str
    value: str
    label: str
    checked: bool = True

    @property
    def title(self) -> str:
        return FACET_TITLES.get(self.facet, DATE_TITLES.get(self.facet, ""))


@dataclass(frozen=True)
class Listed:
    """One row of the saved-searches page."""

    saved: SavedSearch
    filters: tuple[Filter, ...]
    run_url: str
    feed_url: str
    schedule: str
    delivered: DeliverySummary


# --- views ------------------------------------------------------------------


@bp.route("/saved")
@login_required
def index() -> ResponseReturnValue:
    user = current_account()
    searches = list_saved(get_settings(), user.id)
    delivered = delivery_summaries(get_settings(), [saved.id for saved in searches])
    rows = [_listed(saved, delivered[saved.id]) for saved in searches]
    return render_template("saved.html", rows=rows, user=user)


@bp.route("/saved", methods=["POST"])
@login_required
def create() -> ResponseReturnValue:
    form = SavedSearchForm()
    if form.validate_on_submit():
        try:
            saved = save_search(get_settings(), current_account().id, form.chosen_name(), _posted_query(form),
                                **asdict(form.options()))
        except (AlertError, QueryError) as e:
            form.form_errors.append(error_text(e))
        else:
            flash(f"Saved “{saved.name}”.")
            return redirect(url_for("saved.index"))
    return render_template("saved_form.html", form=form, filters=_posted_filters(), saved=None), 400


@bp.route("/saved/<int:saved_id>/edit", methods=["GET", "POST"])
@login_required
def edit(saved_id: int) -> ResponseReturnValue:
    settings, user = get_settings(), current_account()
    saved = get_saved(settings, user.id, saved_id)  # NotFound (404) for another user's
    form = SavedSearchForm(data={"name": saved.name, "q": saved.query.q, **asdict(_options_of(saved))})
    if form.validate_on_submit():
        try:
            saved = update_saved(settings, user.id, saved_id, name=form.chosen_name(), query=_posted_query(form),
                                 **asdict(form.options()))
        except (AlertError, QueryError) as e:
            form.form_errors.append(error_text(e))
        else:
            flash(f"Updated “{saved.name}”.")
            return redirect(url_for("saved.index"))
    filters = _posted_filters(_filters(saved.query)) if form.is_submitted() else _filters(saved.query)
    return render_template("saved_form.html", form=form, filters=filters, saved=saved), form_status(form)


@bp.route("/saved/<int:saved_id>/delete", methods=["POST"])
@login_required
def delete(saved_id: int) -> ResponseReturnValue:
    settings, user = get_settings(), current_account()
    name = get_saved(settings, user.id, saved_id).name
    delete_saved(settings, user.id, saved_id)
    flash(f"Deleted “{name}”.")
    return redirect(url_for("saved.index"))


@bp.route("/saved/<int:saved_id>/revoke-feed", methods=["POST"])
@login_required
def revoke(saved_id: int) -> ResponseReturnValue:
    saved = revoke_feed(get_settings(), current_account().id, saved_id)
    flash(f"“{saved.name}” has a new feed address; the old one and old unsubscribe links no longer work.")
    return redirect(url_for("saved.index"))


@bp.app_template_global()
def save_search_form(query: SearchQuery) -> SavedSearchForm:
    """The "Save this search" form of a results page, named after its query by default."""
    return SavedSearchForm(formdata=None, data={"name": query.q, "q": query.q})


# --- request → records, records → rows ---------------------------------------


def _posted_query(form: SavedSearchForm) -> SearchQuery:
    """The query text and the facet filters posted with the form (saving checks that the query can run)."""
    posted, one = request.form.getlist, request.form.get
    return make_query(q=form.q.data or "", outlet=posted("outlet"), actor=posted("actor"), year=posted("year"),
                      language=posted("language"), settings=get_settings(), date_from=one("from"),
                      date_to=one("to"), date_range=one("range"), dated=one("dated"), certainty=one("certainty"))


def _posted_filters(offered: list[Filter] | None = None) -> list[Filter]:
    """The filters to show again with a refused form: those offered (else those posted), ticked as posted."""
    posted = [(name, value) for name in (*FACETS, *DATE_NAMES) for value in request.form.getlist(name) if value]
    if offered is None:
        offered = [Filter(name, value, _label(name, value)) for name, value in posted]
    return [replace(f, checked=(f.facet, f.value) in posted) for f in offered]


def _filters(query: SearchQuery) -> list[Filter]:
    facets = [Filter(name, value, _label(name, value)) for name, values in query.filters().items() for value in values]
    return facets + [Filter(name, value, date_label(name, value)) for name, value in query.dates().items()]


def _label(facet: str, value: str) -> str:
    return date_label(facet, value) if facet in DATE_NAMES else facet_label(facet, value, get_gazetteer())


def _options_of(saved: SavedSearch) -> AlertOptions:
    return AlertOptions(frequency=saved.frequency, hour=saved.hour, weekday=saved.weekday, email=saved.email,
                        feed=saved.feed, first_of_cluster=saved.first_of_cluster)


def _listed(saved: SavedSearch, delivered: DeliverySummary) -> Listed:
    filters = {name: list(values) for name, values in saved.query.filters().items() if values}
    filters |= {name: [value] for name, value in saved.query.dates().items()}
    return Listed(
        saved=saved,
        filters=tuple(_filters(saved.query)),
        run_url=url_for("results.index", q=saved.query.q, **filters),  # type: ignore[arg-type]  # repeated params
        feed_url=_feed_link(saved),
        schedule=_schedule(saved),
        delivered=delivered,
    )


def _feed_link(saved: SavedSearch) -> str:
    return feed_url(get_settings(), saved)  # from base_url, like every absolute link and id


def _schedule(saved: SavedSearch) -> str:
    if saved.frequency == "instant":
        return "as soon as new articles arrive"
    if saved.frequency == "daily":
        return f"daily at {saved.hour:02d}:00"
    return f"weekly on {WEEKDAYS[saved.weekday]} at {saved.hour:02d}:00"
