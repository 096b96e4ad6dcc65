"""JSON API ``/api/v1``: cameras, events, stats, ingest counters. Documented in ``dashboard/openapi.yaml``.

Same login as the pages (session cookie), or ``Authorization: Bearer <token>`` for machine clients
(tokens from ``maskwatch dashboard create-token``). Read-only, so CSRF does not apply.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, jsonify
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from dashboard import views
from dashboard.db_session import get_db
from dashboard.models import Event, IngestCounter, Snapshot
from dashboard.queries import camera_json, event_json, events_page, overview

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = Path(__file__).parent / "openapi.yaml"


@bp.errorhandler(HTTPException)
def _json_error(err: HTTPException):  # type: ignore[no-untyped-def]
    return jsonify(error=err.description), err.code


@bp.route("/cameras")
def cameras():  # type: ignore[no-untyped-def]
    rows = overview(get_db(), views.site_tz, sites=views.sites())
    return jsonify(items=[{**camera_json(r.camera, r.today, r.last_violation, r.agent_availability),
                           "timezone": views.site_tz(r.camera.site)} for r in rows])


@bp.route("/events")
def events():  # type: ignore[no-untyped-def]
    page = events_page(get_db(), views.event_filter(50))
    return jsonify(items=[event_json(e, has) for e, has in page.items], total=page.total, page=page.page,
                   per_page=page.per_page, pages=page.pages)


@bp.route("/events/<event_id>")
def event(event_id: str):  # type: ignore[no-untyped-def]
    db = get_db()
    e = db.scalar(select(Event).where(Event.event_id == event_id))
    if e is None:
        abort(404, description=f"no event {event_id!r}")
    return jsonify(event_json(e, db.get(Snapshot, event_id) is not None))


@bp.route("/stats")
def stats():  # type: ignore[no-untyped-def]
    bucket, days, camera_id, site = views.stats_params()
    _, tz = views.selected_cameras(camera_id, site)
    rep = views.build_report(bucket, days, camera_id, site)
    return jsonify(bucket=rep.bucket, days=days, timezone=tz, labels=rep.labels,
                   series=rep.series, people=rep.people, events=rep.events, busiest_hours=rep.busiest_hours,
                   compliance=rep.total.compliance)


@bp.route("/ingest")
def ingest():  # type: ignore[no-untyped-def]
    out: dict[str, dict[str, object]] = {}
    for c in get_db().scalars(select(IngestCounter)):
        d = out.setdefault(c.ingester, {"updated_at": c.updated_at.isoformat(), "counters": {}})
        d["counters"][c.name] = c.value  # type: ignore[index]
        d["updated_at"] = max(str(d["updated_at"]), c.updated_at.isoformat())
    return jsonify(ingesters=out)


@bp.route("/openapi.yaml")
def openapi():  # type: ignore[no-untyped-def]
    return Response(OPENAPI.read_text(encoding="utf-8"), mimetype="application/yaml")
