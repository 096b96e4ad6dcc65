"""Login for people (session cookie) and bearer tokens for machines; users are created with the CLI or on the
admin's user page (dashboard/admin.py). Roles and sites: dashboard/access.py.

Passwords are hashed with werkzeug.security (scrypt); tokens are random and only their SHA-256 is stored.
Every view requires a login and an access rule: ``init_app`` installs a ``before_request`` guard, so a new view
cannot forget. A disabled user can neither log in nor keep a session or use a token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import deque
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from dashboard import access
from dashboard.db_session import get_db
from dashboard.models import ApiToken, User, UserSite

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
PUBLIC_ENDPOINTS = access.PUBLIC_ENDPOINTS
SITE_NAME = re.compile(r"^(\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$")
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 10
TOKEN_PREFIX = "mw_"
# a real hash to compare against when the user does not exist, so timing does not reveal user names
_DUMMY_HASH = generate_password_hash("not-a-password-" + secrets.token_hex(8))


class UserError(ValueError):
    """Bad user name or password for create_user."""


# ------------------------------------------------------------------ user and token management (CLI)
def create_user(db: Session, name: str, password: str | None = None, *, update: bool = False,
                role: str | None = None, sites: list[str] | None = None) -> str:
    """Create (or with ``update`` re-password) a user; returns the password (generated when None).

    ``role``: viewer (the default for a new user), operator or admin; ``sites``: the sites a non-admin may see
    (``*``: all). With ``update``, a role or sites given replace the user's; those not given are kept."""
    if not USER_NAME.match(name):
        raise UserError(gettext("user name %(name)s: use 1-64 letters, digits, '_', '.', '@', '-'", name=repr(name)))
    if password is None:
        password = secrets.token_urlsafe(15)
    if len(password) < MIN_PASSWORD:
        raise UserError(gettext("password too short: at least %(num)s characters", num=MIN_PASSWORD))
    user = db.scalar(select(User).where(User.name == name))
    if user is not None and not update:
        raise UserError(gettext("user %(name)s exists (use --update to set a new password)", name=repr(name)))
    if user is None:
        user = User(name=name, created_at=datetime.now(UTC), password_hash="", role="viewer")
        db.add(user)
    set_password(db, user, password)
    set_access(user, role, sites)
    db.commit()
    return password


def set_access(user: User, role: str | None = None, sites: list[str] | None = None) -> None:
    """Set a user's role and/or sites (None: unchanged); raises UserError naming the bad value."""
    if role is not None:
        if role not in access.ROLES:
            raise UserError(gettext("role %(role)s: must be one of %(roles)s", role=repr(role), roles=", ".join(access.ROLES)))
        user.role = role
    if sites is not None:
        clean = sorted({s.strip() for s in sites if s.strip()})
        for site in clean:
            if not SITE_NAME.match(site):
                raise UserError(gettext("site %(site)s: a site name (letters, digits, '_', '.', '-') or '*' for all sites",
                                        site=repr(site)))
        user.site_rows = [UserSite(site=site) for site in clean]


def set_password(db: Session, user: User, password: str | None = None) -> str:
    """A new password (generated when None); returns it."""
    if password is None:
        password = secrets.token_urlsafe(15)
    if len(password) < MIN_PASSWORD:
        raise UserError(gettext("password too short: at least %(num)s characters", num=MIN_PASSWORD))
    user.password_hash = generate_password_hash(password)
    return password


def delete_user(db: Session, name: str) -> None:
    """Remove a user and their API tokens (their open sessions end at the next request)."""
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user {name!r}")
    db.delete(user)
    db.commit()


def create_token(db: Session, user_name: str, token_name: str) -> str:
    user = db.scalar(select(User).where(User.name == user_name))
    if user is None:
        raise UserError(f"no user {user_name!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(user=user, name=token_name[:64], token_sha256=_sha256(token), created_at=datetime.now(UTC)))
    db.commit()
    return token


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(db: Session, name: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    ok = check_password_hash(user.password_hash, password)
    return user if ok and not user.disabled else None


# ------------------------------------------------------------------ flask-login wiring
@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    try:
        user = get_db().get(User, int(user_id))
    except ValueError:
        return None
    return None if user is None or user.disabled else user


@login_manager.request_loader
def _load_token(req) -> User | None:  # type: ignore[no-untyped-def]
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    db = get_db()
    tok = db.scalar(select(ApiToken).where(ApiToken.token_sha256 == _sha256(header[7:].strip())))
    if tok is None or tok.user.disabled:
        return None
    now = datetime.now(UTC)
    if tok.last_used is None or (now - tok.last_used).total_seconds() > 60:
        tok.last_used = now
        db.commit()
    return tok.user


@login_manager.unauthorized_handler
def _unauthorized():  # type: ignore[no-untyped-def]
    if request.path.startswith("/api/"):
        return jsonify(error="authentication required: log in or send 'Authorization: Bearer <token>'"), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.extensions["maskwatch_login_throttle"] = LoginThrottle(
        app.config.get("LOGIN_MAX_FAILURES", 5), app.config.get("LOGIN_MAX_FAILURES_PER_USER", 20),
        app.config.get("LOGIN_FAILURE_WINDOW_S", 300.0))
    login_manager.session_protection = "strong"

    @app.before_request
    def _require_login():  # type: ignore[no-untyped-def]
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        access.check_request()
        return None


# ------------------------------------------------------------------ login throttle
class LoginThrottle:
    """Failed logins per (address, user) and per user in a sliding window; in memory, per process."""

    def __init__(self, per_client: int = 5, per_user: int = 20, window_s: float = 300.0) -> None:
        self.limits = {"client": per_client, "user": per_user}
        self.window_s = window_s
        self._fails: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(addr: str, user: str) -> list[tuple[str, str]]:
        return [("client", f"{addr}|{user.lower()}"), ("user", user.lower())]

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def retry_after(self, addr: str, user: str) -> float:
        """Seconds until a login may be tried again (0: now)."""
        now = time.monotonic()
        with self._lock:
            waits = [self.window_s - (now - q[0]) for kind, key in self._keys(addr, user)
                     if len(q := self._recent((kind, key), now)) >= self.limits[kind]]
        return max(waits, default=0.0)

    def failed(self, addr: str, user: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._fails) > 10_000:  # bound memory under a spray of names
                self._fails.clear()
            for key in self._keys(addr, user):
                self._recent(key, now).append(now)

    def succeeded(self, addr: str, user: str) -> None:
        with self._lock:
            self._fails.pop(self._keys(addr, user)[0], None)


# ------------------------------------------------------------------ views
class LoginForm(FlaskForm):
    username = StringField("User", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("views.overview")


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    if form.validate_on_submit():
        throttle: LoginThrottle = current_app.extensions["maskwatch_login_throttle"]
        name, addr = form.username.data or "", request.remote_addr or "?"
        wait = throttle.retry_after(addr, name)
        if wait > 0:
            flash(ngettext("Too many failed logins; try again in %(num)s minute.",
                           "Too many failed logins; try again in %(num)s minutes.", int(wait) // 60 + 1), "error")
            return render_template("login.html", form=form), 429
        db = get_db()
        user = authenticate(db, name, form.password.data or "")
        if user is not None:
            throttle.succeeded(addr, name)
            user.last_login = datetime.now(UTC)
            db.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        throttle.failed(addr, name)
        flash(gettext("Wrong user name or password."), "error")
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    return redirect(url_for("auth.login"))
