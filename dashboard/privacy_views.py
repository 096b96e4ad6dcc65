"""Privacy pages (docs/privacy.md): the settings summary (what is captured, how long it is kept), the access
log, and erasure on request. The access log and erasure are admin pages (:func:`admin_required`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, render_template, request
from flask_login import current_user
from sqlalchemy import func, select

from dashboard import access_log
from dashboard.db_session import get_db
from dashboard.erasure import Erasure, ErasureError, erase, parse_time
from dashboard.models import AccessLog
from dashboard.queries import cameras
from edge_agent.config import PRIVACY_MODES, RetentionConfig

bp = Blueprint("privacy", __name__, url_prefix="/privacy")
PER_PAGE = 100
MODE_TEXT = {
    "blur_bystanders": "every face but the violator's is blurred in snapshots and previews",
    "blur_all": "every face is blurred, the violator's too (compliance statistics only)",
    "no_images": "no snapshot and no preview leaves the device",
}
assert set(MODE_TEXT) == set(PRIVACY_MODES)


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Admin-only pages. HOOK for issue 19 (roles): until roles exist every logged-in user may open them
    (the global login guard of dashboard.auth already ran); 19's merge replaces this check with its admin
    role check."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            abort(401)
        return view(*args, **kwargs)

    return wrapped


def retention() -> RetentionConfig:
    return current_app.config.get("RETENTION") or RetentionConfig()


@bp.route("/")
def settings():  # type: ignore[no-untyped-def]
    privacy = current_app.config.get("PRIVACY") or {"mode": "blur_bystanders", "cameras": {}}
    return render_template("privacy.html", privacy=privacy, modes=MODE_TEXT, r=retention(),
                           preview_dir=current_app.extensions["maskwatch"]["previews"].directory)


@bp.route("/access-log")
@admin_required
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
@admin_required
def erase_page():  # type: ignore[no-untyped-def]
    """GET: the form. POST: ``preview`` counts what would go (a dry run); ``erase`` (with the confirmation
    box ticked) erases it."""
    result: Erasure | None = None
    form = {k: request.form.get(k, "") for k in ("camera", "since", "until")}
    if request.method == "POST":
        tz = str(current_app.config["TIMEZONE"])
        do_it = request.form.get("action") == "erase"
        try:
            if do_it and request.form.get("confirm") != "yes":
                raise ErasureError("tick the confirmation box to erase")
            result = erase(current_app.extensions["maskwatch"]["engine"], Path(current_app.config["SNAPSHOT_DIR"]),
                           form["camera"], parse_time(form["since"], tz), parse_time(form["until"], tz),
                           user=current_user.name, dry_run=not do_it)
            flash(result.summary, "ok" if do_it else "info")
        except ErasureError as err:
            flash(str(err), "error")
    return render_template("erase.html", cameras=cameras(get_db()), form=form, result=result)
