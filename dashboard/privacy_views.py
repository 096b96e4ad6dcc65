"""Privacy pages (docs/privacy.md): the settings summary (what is captured, how long it is kept), the access
log, and erasure on request. The access log and erasure are admin pages (dashboard/access.py)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from dashboard import access, access_log
from dashboard.db_session import get_db
from dashboard.erasure import Erasure, ErasureError, erase, parse_time
from dashboard.models import AccessLog
from dashboard.queries import cameras
from dashboard.settings import DEFAULTS, RetentionConfig
from dashboard.views import site_tz
from edge_agent.config import PRIVACY_MODES

bp = Blueprint("privacy", __name__, url_prefix="/privacy")
access.allow("privacy.settings", "viewer")
access.allow("privacy.access_log_page", "admin")
access.allow("privacy.erase_page", "admin")
PER_PAGE = 100
MODE_TEXT = {
    "blur_bystanders": _l("every face but the violator’s is blurred in snapshots and previews"),
    "blur_all": _l("every face is blurred, the violator’s too (compliance statistics only)"),
    "no_images": _l("no snapshot and no preview leaves the device"),
}
assert set(MODE_TEXT) == set(PRIVACY_MODES)


def retention() -> RetentionConfig:
    return current_app.config.get("RETENTION") or DEFAULTS["RETENTION"]


@bp.route("/")
def settings():  # type: ignore[no-untyped-def]
    privacy = current_app.config.get("PRIVACY") or DEFAULTS["PRIVACY"]
    return render_template("privacy.html", privacy=privacy, modes=MODE_TEXT, r=retention(),
                           preview_dir=current_app.extensions["maskwatch"]["previews"].directory)


@bp.route("/access-log")
def access_log_page():  # type: ignore[no-untyped-def]
    db = get_db()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    q = select(AccessLog)
    user = request.args.get("user") or None
    if user:
        q = q.where(AccessLog.user == user)
    total = db.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = db.scalars(q.order_by(AccessLog.time.desc(), AccessLog.id.desc())
                      .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    return render_template("access_log.html", rows=rows, total=total, page=page, pages=max(1, -(-total // PER_PAGE)),
                           user=user, actions=access_log.ACTIONS, r=retention(), failures=access_log.failures)


@bp.route("/erase", methods=["GET", "POST"])
def erase_page():  # type: ignore[no-untyped-def]
    """GET: the form. POST: ``preview`` counts what would go (a dry run); ``erase`` (with the confirmation
    box ticked) erases it."""
    result: Erasure | None = None
    form = {k: request.form.get(k, "") for k in ("camera", "since", "until")}
    if request.method == "POST":
        site = form["camera"].split("/", 1)[0] if "/" in form["camera"] else None
        tz = site_tz(site) if site else str(current_app.config["TIMEZONE"])  # the camera's site's zone
        do_it = request.form.get("action") == "erase"
        try:
            if do_it and request.form.get("confirm") != "yes":
                raise ErasureError(_("tick the confirmation box to erase"))
            result = erase(current_app.extensions["maskwatch"]["engine"], Path(current_app.config["SNAPSHOT_DIR"]),
                           form["camera"], parse_time(form["since"], tz), parse_time(form["until"], tz),
                           user=current_user.name, dry_run=not do_it)
            flash(result.summary, "ok" if do_it else "info")
        except ErasureError as err:
            flash(str(err), "error")
    return render_template("erase.html", cameras=cameras(get_db()), form=form, result=result)
