"""Login for people (session cookie) and bearer tokens for machines; users are created with the CLI or on the
admin's user page (dashboard/admin.py). Roles and sites: dashboard/access.py.

Passwords are hashed with werkzeug.security (scrypt); tokens are random and only their SHA-256 is stored.
Every view requires a login and an access rule: ``init_app`` installs a ``before_request`` guard, so a new view
cannot forget. A disabled user can neither log in nor keep a session or use a token.

Sessions are server side (``user_sessions``): the signed cookie carries a random id whose row is checked on
every request, so logout, a password change and "log out everywhere" end a session even if its cookie was
copied. Tokens expire and have a scope ("read": GET/HEAD only). Failed logins go to the database-backed
throttle in :mod:`dashboard.throttle`; bookkeeping (last login, last use) is written off the request path
(:mod:`dashboard.bookkeeping`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext, ngettext
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from dashboard import access
from dashboard.bookkeeping import Bookkeeper
from dashboard.db_session import get_db
from dashboard.models import ApiToken, User, UserSession, UserSite
from dashboard.throttle import LoginThrottle
from edge_agent.core.topics import NAME_PATTERN

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
PUBLIC_ENDPOINTS = access.PUBLIC_ENDPOINTS
SITE_NAME = re.compile(rf"^(\*|{NAME_PATTERN.removeprefix('^').removesuffix('$')})$")  # "*" or a topic-level name
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 10
TOKEN_PREFIX = "mw_"
TOKEN_SCOPES = ("read", "write")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SESSION_KEY = "mw_sid"
# a real hash to compare against when the user does not exist, so timing does not reveal user names
_DUMMY_HASH = generate_password_hash("not-a-password-" + secrets.token_hex(8))


class UserError(ValueError):
    """Bad user name or password for create_user."""


# ------------------------------------------------------------------ user and token management (CLI)
def create_user(db: Session, name: str, password: str | None = None, *, update: bool = False,
                role: str | None = None, sites: list[str] | None = None) -> str:
    """Create (or with ``update`` re-password) a user; returns the password (generated when None).

    A new password ends every session of the user. ``role``: viewer (the default for a new user), operator or
    admin; ``sites``: the sites a non-admin may see (``*``: all). With ``update``, a role or sites given
    replace the user's; those not given are kept."""
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
            raise UserError(gettext("role %(role)s: must be one of %(roles)s", role=repr(role),
                                    roles=", ".join(access.ROLES)))
        user.role = role
    if sites is not None:
        clean = sorted({s.strip() for s in sites if s.strip()})
        for site in clean:
            if not SITE_NAME.match(site):
                raise UserError(gettext("site %(site)s: a site name (letters, digits, '_', '.', '-') or '*' for all "
                                        "sites", site=repr(site)))
        user.site_rows = [UserSite(site=site) for site in clean]


def set_password(db: Session, user: User, password: str | None = None) -> str:
    """A new password (generated when None); it ends every session of the user. Returns it."""
    if password is None:
        password = secrets.token_urlsafe(15)
    if len(password) < MIN_PASSWORD:
        raise UserError(gettext("password too short: at least %(num)s characters", num=MIN_PASSWORD))
    if user.id is not None:
        end_sessions(db, user.id)
    user.password_hash = generate_password_hash(password)
    return password


def delete_user(db: Session, name: str) -> None:
    """Remove a user, their API tokens and their sessions."""
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user {name!r}")
    db.delete(user)
    db.commit()


def user_by_name(db: Session, name: str) -> User:
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user {name!r}")
    return user


def create_token(db: Session, user_name: str, token_name: str, *, scope: str = "read",
                 days: float | None = 90.0) -> str:
    """A new bearer token (printed once; only its SHA-256 is kept). ``days``: lifetime, None = no expiry.
    ``scope``: "read" (GET/HEAD only) or "write"."""
    if scope not in TOKEN_SCOPES:
        raise UserError(f"token scope {scope!r}: use one of {', '.join(TOKEN_SCOPES)}")
    if days is not None and days <= 0:
        raise UserError("token lifetime must be more than 0 days (or no expiry)")
    user = user_by_name(db, user_name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    db.add(ApiToken(user=user, name=token_name[:64], token_sha256=_sha256(token), created_at=now, scope=scope,
                    expires_at=None if days is None else now + timedelta(days=days)))
    db.commit()
    return token


def list_tokens(db: Session, user_name: str | None = None) -> list[ApiToken]:
    q = select(ApiToken).join(ApiToken.user).order_by(User.name, ApiToken.id)
    if user_name is not None:
        q = q.where(User.name == user_name)
    return list(db.scalars(q))


def revoke_token(db: Session, token_id: int, *, user_id: int | None = None) -> ApiToken:
    """Delete a token (``user_id``: only if it belongs to that user)."""
    tok = db.get(ApiToken, token_id)
    if tok is None or (user_id is not None and tok.user_id != user_id):
        raise UserError(f"no token {token_id}")
    db.delete(tok)
    db.commit()
    return tok


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(db: Session, name: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    ok = check_password_hash(user.password_hash, password)
    return user if ok and not user.disabled else None


# ------------------------------------------------------------------ server-side sessions
def start_session(db: Session, user: User, lifetime_s: float) -> str:
    """Record a new session for ``user``; returns the random id the cookie carries."""
    sid = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    db.execute(delete(UserSession).where(UserSession.expires_at <= now))  # anyone's expired ones (indexed)
    db.add(UserSession(id_sha256=_sha256(sid), user_id=user.id, created_at=now,
                       expires_at=now + timedelta(seconds=lifetime_s)))
    db.commit()
    return sid


def end_sessions(db: Session, user_id: int) -> int:
    """End every session of a user (password change, "log out everywhere"); the caller commits."""
    return db.execute(delete(UserSession).where(UserSession.user_id == user_id)).rowcount or 0  # type: ignore[attr-defined]


# ------------------------------------------------------------------ flask-login wiring
@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """A cookie counts only while its session row exists and has not expired (checked on every request)."""
    sid = session.get(SESSION_KEY)
    if not isinstance(sid, str):
        return None
    try:
        uid = int(user_id)
    except ValueError:
        return None
    # one query per request (the live view polls several times a second per viewer)
    return get_db().scalar(select(User).join(UserSession, UserSession.user_id == User.id).where(
        UserSession.id_sha256 == _sha256(sid), User.id == uid, UserSession.expires_at > datetime.now(UTC),
        User.disabled.is_(False)))


def _bearer(header: str) -> str | None:
    scheme, _, value = header.strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


@login_manager.request_loader
def _load_token(req) -> User | None:  # type: ignore[no-untyped-def]
    token = _bearer(req.headers.get("Authorization", ""))
    if token is None:
        return None
    db = get_db()
    tok = db.scalar(select(ApiToken).where(ApiToken.token_sha256 == _sha256(token)))
    now = datetime.now(UTC)
    if tok is None or (tok.expires_at is not None and tok.expires_at <= now) or tok.user.disabled:
        return None
    g.token_scope = tok.scope
    if tok.last_used is None or (now - tok.last_used).total_seconds() > 60:
        bookkeeper().note("token", tok.id, now)  # never a write on the read path
    return tok.user


@login_manager.unauthorized_handler
def _unauthorized():  # type: ignore[no-untyped-def]
    if request.path.startswith("/api/"):
        return jsonify(error="authentication required: log in or send 'Authorization: Bearer <token>'"), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def bookkeeper() -> Bookkeeper:
    return current_app.extensions["maskwatch_bookkeeper"]  # type: ignore[no-any-return]


def throttle() -> LoginThrottle:
    return current_app.extensions["maskwatch_login_throttle"]  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.extensions["maskwatch_login_throttle"] = LoginThrottle(
        int(app.config["LOGIN_MAX_FAILURES"]), int(app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]),
        float(app.config["LOGIN_WINDOW_S"]))
    app.extensions["maskwatch_bookkeeper"] = Bookkeeper(app.extensions["maskwatch"]["engine"])
    app.session_interface = _SessionInterface()
    login_manager.session_protection = "strong"

    @app.before_request
    def _require_login():  # type: ignore[no-untyped-def]
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if g.get("token_scope") == "read" and request.method not in SAFE_METHODS:
            return jsonify(error="this token is read-only (scope 'read')"), 403
        access.check_request()
        return None


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie (it now holds only the session id), ``Secure`` when the request came over
    HTTPS (COOKIE_SECURE "auto"; behind a trusted proxy its X-Forwarded-Proto counts) or always/never."""

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = app.config.get("COOKIE_SECURE", "auto")
        if app.config.get("SESSION_COOKIE_SECURE") or mode == "always":
            return True
        return mode == "auto" and has_request_context() and request.is_secure


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
        name, addr = form.username.data or "", request.remote_addr or "?"
        db = get_db()
        verdict = throttle().check(db, addr, name)
        if verdict.retry_after_s > 0:
            flash(ngettext("Too many failed logins; try again in %(num)s minute.",
                           "Too many failed logins; try again in %(num)s minutes.",
                           int(verdict.retry_after_s) // 60 + 1), "error")
            resp = current_app.make_response((render_template("login.html", form=form), 429))
            resp.headers["Retry-After"] = str(int(verdict.retry_after_s))
            return resp
        user = authenticate(db, name, form.password.data or "")
        if user is not None:
            throttle().succeeded(db, addr, name)
            sid = start_session(db, user, current_app.permanent_session_lifetime.total_seconds())
            session.clear()
            session.permanent = True
            session[SESSION_KEY] = sid
            login_user(user)
            bookkeeper().note("user", user.id, datetime.now(UTC))
            return redirect(_safe_next(request.args.get("next")))
        throttle().failed(db, addr, name)
        flash(gettext("Wrong user name or password."), "error")
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():  # type: ignore[no-untyped-def]
    sid = session.get(SESSION_KEY)
    if isinstance(sid, str):
        db = get_db()
        db.execute(delete(UserSession).where(UserSession.id_sha256 == _sha256(sid)))
        db.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
