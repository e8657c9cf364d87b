"""Accounts on the web: register, log in, log out, the account page, and the login gate.

Flask-Login keeps a session token in the signed session cookie; each request
finds the session, and its ``User``, in the state database
(``search.alerts.accounts.session_user``), so logging out (or a password change, or
deleting the account) ends the session on the server too: a copied cookie
stops working. Failed log-ins are counted per account and per client address
(``search.alerts.accounts.authenticate``); past the limit the login page answers 429. Every form is a Flask-WTF form, so
every POST carries the CSRF token ``web.create_app`` checks.

With ``search_requires_login`` on, one ``before_app_request`` hook closes the
whole app to anonymous users except the pages needed to get in (log in,
register), static files and the token-authorised feeds and unsubscribe links:
pages redirect to the login page, ``/api/...`` and Atom answer 401.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TypeVar, cast
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import flask_login
from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField
from wtforms.validators import DataRequired, EqualTo, Length

from search.alerts import (
    MIN_PASSWORD,
    authenticate,
    close_session,
    open_session,
    session_user,
    set_password,
    set_timezone,
)
from search.alerts import register as register_account
from search.errors import AccountError, LoginRequired, NewsdeskError, NotFound, RegistrationClosed
from search.records import User
from web.readers import get_settings

bp = Blueprint("accounts", __name__)
login_manager = LoginManager()

#: Endpoints open to anonymous users even when searching requires login:
#: the way in, the stylesheet, and links authorised by their own signed token.
OPEN_ENDPOINTS = frozenset({"accounts.login", "accounts.register", "static"})
OPEN_BLUEPRINTS = frozenset({"feeds"})


View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def login_required(view: View) -> View:
    """``flask_login.login_required``, keeping the view's type (flask_login ships no type hints)."""
    return cast(View, flask_login.login_required(view))


class Account(UserMixin):  # type: ignore[misc]  # flask_login ships no type hints
    """The logged-in user as Flask-Login sees it: a thin wrapper around the ``User`` record."""

    def __init__(self, user: User, session_token: str) -> None:
        self.user = user
        self.session_token = session_token

    def get_id(self) -> str:
        # What the cookie carries: the session's token, not the user's id, so
        # closing the session on the server logs the cookie out.
        return self.session_token

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def timezone(self) -> str:
        return self.user.timezone

    @property
    def admin(self) -> bool:
        # Read with the session on every request: a right taken away on the command line ends at once.
        return self.user.admin


def current_account() -> User:
    """The logged-in user's record (call only behind ``login_required``)."""
    account: Account = current_user._get_current_object()
    return account.user


# --- forms ------------------------------------------------------------------


class LoginForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("E-mail address", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


class RegisterForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("E-mail address", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(min=MIN_PASSWORD, message=f"At least {MIN_PASSWORD} characters.")]
    )
    confirm = PasswordField("Password again", validators=[EqualTo("password", message="The passwords differ.")])


class PasswordForm(FlaskForm):  # type: ignore[misc]
    current = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=MIN_PASSWORD, message=f"At least {MIN_PASSWORD} characters.")]
    )
    confirm = PasswordField("New password again", validators=[EqualTo("password", message="The passwords differ.")])


class AccountForm(FlaskForm):  # type: ignore[misc]
    timezone = SelectField("Time zone for digests", validators=[DataRequired()])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = time_zones()


@cache
def time_zones() -> list[str]:
    # Scanning the zoneinfo directories takes a while: once per process.
    return sorted(available_timezones())


# --- views ------------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
def register() -> ResponseReturnValue:
    settings = get_settings()
    if not settings.registration_open:
        raise RegistrationClosed("registration is closed on this instance",
                                 hint="ask its administrator for an account (newsdesk users add)")
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            register_account(settings, form.email.data, form.password.data)
        except AccountError as e:
            form.email.errors.append(error_text(e))
        else:
            # The same answer whether the address was new or already had an account: registering must not
            # tell anyone which addresses have one. So nobody is logged in here; a new account logs in next.
            flash(f"If {form.email.data.strip()} had no account, it has one now: log in with it below. "
                  "An address that had one keeps its password.")
            return redirect(url_for("accounts.login"))
    return render_template("register.html", form=form), form_status(form)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    target = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        try:
            user = authenticate(get_settings(), form.email.data, form.password.data, client=request.remote_addr)
        except AccountError as e:
            form.form_errors.append(error_text(e))
            status = e.status
        else:
            login_user(Account(user, open_session(get_settings(), user.id)))
            return redirect(target)
    else:
        status = form_status(form)
    return render_template("login.html", form=form, next=target,
                           registration_open=get_settings().registration_open), status


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    if current_user.is_authenticated:
        close_session(get_settings(), current_user.get_id())
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("results.index"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> ResponseReturnValue:
    user = current_account()
    form = AccountForm(data={"timezone": user.timezone})
    if form.validate_on_submit():
        try:
            set_timezone(get_settings(), user.id, form.timezone.data)
        except AccountError as e:
            form.timezone.errors.append(error_text(e))
        else:
            flash(f"Digests now follow {form.timezone.data} time.")
            return redirect(url_for("accounts.account"))
    return render_template("account.html", form=form, password_form=PasswordForm(), user=user), form_status(form)


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password() -> ResponseReturnValue:
    """A new password; every session of the account ends with the old one, and this browser gets a new one."""
    settings, user = get_settings(), current_account()
    form = PasswordForm()
    status = form_status(form)
    if form.validate_on_submit():
        try:
            authenticate(settings, user.email, form.current.data, client=request.remote_addr)
        except AccountError as e:
            form.current.errors.append("Wrong password." if e.status == 400 else error_text(e))
            status = e.status
        else:
            set_password(settings, user.id, form.password.data)
            login_user(Account(user, open_session(settings, user.id)))
            flash("Password changed: every other session is logged out.")
            return redirect(url_for("accounts.account"))
    account_form = AccountForm(data={"timezone": user.timezone})
    return render_template("account.html", form=account_form, password_form=form, user=user), status


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site, never another site (open redirect)."""
    default = url_for("results.index")
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    # Browsers read a backslash as a slash ("/\\evil.example") and drop tabs and newlines.
    if parts.scheme or parts.netloc or "\\" in target or any(c < " " for c in target):
        return default
    return target


def form_status(form: FlaskForm) -> int:
    """200 for a blank form, 400 for one shown again because it was refused."""
    return 400 if form.is_submitted() else 200


def error_text(error: NewsdeskError) -> str:
    """An error as a sentence under a form field."""
    text = error.message
    first = text.split(" ", 1)[0]
    if first.isalpha():  # a plain word; never change the case of what the user typed (an address, a query)
        text = text[:1].upper() + text[1:]
    return f"{text}: {error.hint}." if error.hint else f"{text}."


# --- wiring -----------------------------------------------------------------


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)


def _load_user(session_token: str) -> Account | None:
    try:
        return Account(session_user(get_settings(), session_token), session_token)
    except NotFound:
        return None  # logged out, password changed or account deleted: the cookie logs nobody in


def _unauthorized() -> ResponseReturnValue:
    # Machines (the API, feed readers) cannot follow a login form: tell them so.
    if request.path.startswith("/api/") or request.path.endswith(".atom"):
        raise LoginRequired("log in to use this instance", hint="its searches are open to its users only")
    flash("Log in to continue.")
    path = request.full_path if request.query_string else request.path
    return redirect(url_for("accounts.login", next=path))


@bp.before_app_request
def _require_login() -> ResponseReturnValue | None:
    if not get_settings().search_requires_login or current_user.is_authenticated:
        return None
    if request.endpoint is None:  # no such page: let it answer 404
        return None
    if request.endpoint in OPEN_ENDPOINTS or request.blueprint in OPEN_BLUEPRINTS:
        return None
    result: ResponseReturnValue = login_manager.unauthorized()
    return result
