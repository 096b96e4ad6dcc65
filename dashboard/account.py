"""The account page ``/account``: change password, log out everywhere, own API tokens (create, list, revoke).

Every action is a POST with a CSRF token; a password change and "log out everywhere" end every session of
the user (this one too: the page asks to log in again)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from dashboard import access
from dashboard.auth import (
    TOKEN_SCOPES,
    UserError,
    create_token,
    create_user,
    end_sessions,
    list_tokens,
    revoke_token,
)
from dashboard.db_session import get_db

bp = Blueprint("account", __name__, url_prefix="/account")
# one's own account, for every role: a token carries its user's role and sites (dashboard/access.py)
for _endpoint in ("account.page", "account.password", "account.logout_everywhere", "account.new_token",
                  "account.revoke"):
    access.allow(_endpoint, "viewer")
EXPIRY_DAYS = {"7": 7.0, "30": 30.0, "90": 90.0, "365": 365.0, "never": None}


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    scope = SelectField(_l("Scope"), choices=list(TOKEN_SCOPES), default="read")
    expires = SelectField(_l("Expires after (days)"), choices=list(EXPIRY_DAYS), default="90",
                          validators=[Optional()])


def _render(**extra):  # type: ignore[no-untyped-def]
    return render_template("account.html", tokens=list_tokens(get_db(), current_user.name),
                           pw_form=extra.pop("pw_form", PasswordForm()), token_form=extra.pop("token_form",
                                                                                              TokenForm()), **extra)


@bp.route("")
def page():  # type: ignore[no-untyped-def]
    return _render()


@bp.route("/password", methods=["POST"])
def password():  # type: ignore[no-untyped-def]
    form = PasswordForm()
    if not form.validate_on_submit() or not check_password_hash(current_user.password_hash, form.current.data or ""):
        flash(_("The current password is wrong."), "error")
        return _render(pw_form=form), 400
    try:
        create_user(get_db(), current_user.name, form.new.data, update=True)  # ends every session
    except UserError as err:
        flash(str(err), "error")
        return _render(pw_form=form), 400
    return _logged_out(_("Password changed; every session ended. Log in with the new password."))


@bp.route("/logout-everywhere", methods=["POST"])
def logout_everywhere():  # type: ignore[no-untyped-def]
    db = get_db()
    end_sessions(db, current_user.id)
    db.commit()
    return _logged_out(_("Logged out everywhere."))


def _logged_out(message: str):  # type: ignore[no-untyped-def]
    logout_user()
    session.clear()
    flash(message, "info")
    return redirect(url_for("auth.login"))


@bp.route("/tokens", methods=["POST"])
def new_token():  # type: ignore[no-untyped-def]
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("Give the token a name."), "error")
        return _render(token_form=form), 400
    token = create_token(get_db(), current_user.name, form.name.data or "api", scope=form.scope.data or "read",
                         days=EXPIRY_DAYS.get(form.expires.data or "90", 90.0))
    return _render(new_token=token)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke(token_id: int):  # type: ignore[no-untyped-def]
    try:
        tok = revoke_token(get_db(), token_id, user_id=current_user.id)
    except UserError:
        flash(_("No token %(id)s of yours.", id=token_id), "error")
        return redirect(url_for("account.page"), 303)
    flash(_("Token %(name)s revoked.", name=repr(tok.name)), "info")
    return redirect(url_for("account.page"), 303)


