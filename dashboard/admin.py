"""Admin pages: users (create, disable, reset password, role, sites) and the audit log. Admins only
(dashboard/access.py); every change is recorded with dashboard.audit.record."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from dashboard import access, audit
from dashboard.auth import UserError, create_user, set_access, set_password
from dashboard.db_session import get_db
from dashboard.models import AuditEntry, Camera, User

bp = Blueprint("admin", __name__, url_prefix="/admin")
for _endpoint in ("admin.users", "admin.create", "admin.update", "admin.audit_log"):
    access.allow(_endpoint, "admin")
AUDIT_PAGE = 100


def _sites_from_form() -> list[str]:
    return [s for s in request.form.getlist("sites") + request.form.get("extra_sites", "").split(",") if s.strip()]


@bp.route("/users")
def users():  # type: ignore[no-untyped-def]
    db = get_db()
    known = sorted(set(db.scalars(select(Camera.site).distinct())))
    return render_template("users.html", users=list(db.scalars(select(User).order_by(User.name))),
                           roles=access.ROLES, known_sites=known, new_password=None)


@bp.route("/users", methods=["POST"])
def create():  # type: ignore[no-untyped-def]
    db = get_db()
    name, role = request.form.get("name", "").strip(), request.form.get("role", "viewer")
    try:
        password = create_user(db, name, None, role=role, sites=_sites_from_form())
    except UserError as err:
        db.rollback()
        flash(str(err), "error")
        return redirect(url_for("admin.users"))
    audit.record(db, current_user.name, "user.create", name, f"role={role}", commit=True)
    flash(_("User %(name)s created. Their password (shown once): %(password)s", name=name, password=password),
          "password")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>", methods=["POST"])
def update(user_id: int):  # type: ignore[no-untyped-def]
    db = get_db()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    what = request.form.get("action", "")
    admins = db.scalar(select(func.count()).select_from(User).where(User.role == "admin", User.disabled.is_(False)))
    last_admin = user.role == "admin" and not user.disabled and (admins or 0) <= 1
    try:
        if what == "access":
            role = request.form.get("role", user.role)
            if last_admin and role != "admin":
                raise UserError(_("the last active admin cannot lose the admin role"))
            set_access(user, role, _sites_from_form())
            detail = f"role={user.role} sites={','.join(user.sites) or '-'}"
        elif what in ("disable", "enable"):
            if what == "disable" and (last_admin or user.id == current_user.id):
                raise UserError(_("you cannot disable yourself or the last active admin"))
            user.disabled = what == "disable"
            detail = ""
        elif what == "password":
            password = set_password(db, user)
            detail = ""
            flash(_("New password for %(name)s (shown once): %(password)s", name=user.name, password=password),
                  "password")
        else:
            abort(400, description="action must be access, disable, enable or password")
    except UserError as err:
        db.rollback()
        flash(str(err), "error")
        return redirect(url_for("admin.users"))
    audit.record(db, current_user.name, f"user.{what}", user.name, detail, commit=True)
    if what != "password":
        flash(_("Saved."), "ok")
    return redirect(url_for("admin.users"))


@bp.route("/audit")
def audit_log():  # type: ignore[no-untyped-def]
    page = max(1, request.args.get("page", 1, type=int) or 1)
    action = request.args.get("action") or None
    entries = audit.recent(get_db(), AUDIT_PAGE + 1, (page - 1) * AUDIT_PAGE, action)
    total = get_db().scalar(select(func.count()).select_from(AuditEntry)) or 0
    return render_template("audit.html", entries=entries[:AUDIT_PAGE], more=len(entries) > AUDIT_PAGE,
                           page=page, action=action or "", total=total)
