"""Alert pages: the notification delivery log with a "send test" button and camera switches (admins), and the
public /healthz."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select, text

from dashboard import access, audit
from dashboard.alerts_settings import NotificationsConfig
from dashboard.db_session import get_db
from dashboard.models import Camera, IngestCounter, Notification, NotificationAttempt
from edge_agent.core.topics import OFF, ON, SWITCHES

bp = Blueprint("alerts", __name__)
# admins only (dashboard/access.py); healthz is public (access.PUBLIC_ENDPOINTS)
access.allow("alerts.notifications", "admin")
access.allow("alerts.switch", "admin", access.camera_site)
access.allow("alerts.send_test", "admin")
INGEST_STALE_S = 300  # an ingester flushes its counters every 10 s


def notifications_config() -> NotificationsConfig:
    cfg = current_app.config.get("NOTIFICATIONS")
    return cfg if isinstance(cfg, NotificationsConfig) else NotificationsConfig()


@bp.route("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """Public (no login, on purpose): ``ok`` or ``degraded`` and nothing else, for uptime checkers."""
    ok = True
    try:
        db = get_db()
        db.execute(text("SELECT 1"))
        newest = db.scalar(select(func.max(IngestCounter.updated_at)))
        if newest is not None and datetime.now(UTC) - newest > timedelta(seconds=INGEST_STALE_S):
            ok = False  # an ingester ran once and has stopped writing
    except Exception:
        current_app.logger.exception("health check: database unavailable")
        ok = False
    resp = Response("ok\n" if ok else "degraded\n", status=200 if ok else 503, mimetype="text/plain")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/notifications")
def notifications():  # type: ignore[no-untyped-def]
    db = get_db()
    rows = db.scalars(select(Notification).order_by(Notification.id.desc()).limit(200)).all()
    counts = dict(db.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())
    last_try = dict(db.execute(select(NotificationAttempt.notification_id, func.max(NotificationAttempt.time))
                               .where(NotificationAttempt.notification_id.in_([r.id for r in rows]))
                               .group_by(NotificationAttempt.notification_id)).all())
    cfg = notifications_config()
    return render_template("notifications.html", rows=rows, counts=counts, last_try=last_try, cfg=cfg,
                           channels=sorted(cfg.channels))


@bp.route("/cameras/<int:camera_id>/switch/<name>", methods=["POST"])
def switch(camera_id: int, name: str):  # type: ignore[no-untyped-def]
    from dashboard.switches import SwitchError, send_switch

    cam = get_db().get(Camera, camera_id)
    value = request.form.get("value", "")
    if cam is None or name not in SWITCHES or value not in (ON, OFF):
        abort(404 if cam is None or name not in SWITCHES else 400)
    try:
        send_switch(current_app.config, cam.site, cam.name, name, value == ON)
        audit.record(get_db(), current_user.name, f"camera.switch.{name}", cam.label, value, commit=True)
        flash(_("%(switch)s %(value)s sent to %(camera)s; the agent confirms within a second.", switch=name,
                value=value, camera=cam.label), "ok")
    except SwitchError as err:
        flash(_("Could not send the command: %(error)s", error=err), "error")
    return redirect(url_for("views.camera", camera_id=camera_id))


@bp.route("/notifications/test", methods=["POST"])
def send_test():  # type: ignore[no-untyped-def]
    from dashboard.notifier import enqueue_test

    cfg = notifications_config()
    if not cfg.channels:
        flash(_("No notification channels are configured (notifications.channels in config.yaml)."), "error")
    elif not cfg.enabled:
        flash(_("Notifications are off (notifications.enabled in config.yaml): nothing would send a test. "
                "`maskwatch dashboard notify-test` sends one from the command line."), "error")
    else:
        engine = current_app.extensions["maskwatch"]["engine"]
        enqueue_test(engine, cfg, who=current_user.name, zones=str(current_app.config["TIMEZONE"]))
        audit.record(get_db(), current_user.name, "notifications.test", ",".join(sorted(cfg.channels)), commit=True)
        flash(ngettext("Test message queued for %(num)s channel; the ingest process sends it within a second. "
                       "Results appear below.",
                       "Test message queued for %(num)s channels; the ingest process sends it within a second. "
                       "Results appear below.", len(cfg.channels)), "ok")
    return redirect(url_for("alerts.notifications"))
