"""HTML pages: overview, camera (live view by polling), violations (filters, pages, CSV), event snapshot, statistics."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from dashboard import access, access_log, reports, review, statistics
from dashboard.db_session import get_db, previews
from dashboard.models import Camera, Event, IngestCounter, Snapshot
from dashboard.queries import EventFilter, FilterError, cameras, events_for_export, events_page, overview
from dashboard.zones import SiteZones
from edge_agent.core.evidence import context_region
from edge_agent.core.labels import LABELS

bp = Blueprint("views", __name__)
RANGES = {"1": 1, "7": 7, "30": 30, "90": 90, "365": 365}


def _tz() -> str:
    return str(current_app.config["TIMEZONE"])


def site_tz(site: str) -> str:
    """The time zone of ``site`` (dashboard.site_timezones, else dashboard.timezone: dashboard.zones)."""
    return SiteZones(_tz(), current_app.config.get("SITE_TIMEZONES") or {}).of(site)


def sites() -> tuple[str, ...] | None:
    """The sites the current user may see (None: all); set by dashboard.access before each request (computed
    here where it was not, e.g. on a public page: an anonymous user sees no site)."""
    return g.visible_sites if "visible_sites" in g else access.visible_sites()


@bp.app_template_filter("local")
def _local(t: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S", tz: str | None = None) -> str:
    """Machine-readable local time (form values, ISO-like labels); pages show times with ``when``."""
    return "" if t is None else t.astimezone(ZoneInfo(tz or _tz())).strftime(fmt)


@bp.app_context_processor
def _zones():  # type: ignore[no-untyped-def]
    return {"site_tz": site_tz}


def _camera_or_404(camera_id: int) -> Camera:
    cam = get_db().get(Camera, camera_id)
    if cam is None:
        abort(404)
    return cam


@bp.route("/", endpoint="overview")
def overview_page():  # type: ignore[no-untyped-def]
    rows = overview(get_db(), site_tz, sites=sites())
    live = {r.camera.id for r in rows if previews().version(r.camera.site, r.camera.name) is not None}
    return render_template("overview.html", rows=rows, live=live,
                           rejections=rejections() if current_user.role == "admin" else {})


def rejections() -> dict[str, int]:
    """Messages the ingest workers refused, by reason (their ``rejected_<reason>`` counters, summed over
    workers): shown to admins on the overview so that a refusal is seen, not only counted."""
    q = (select(IngestCounter.name, func.sum(IngestCounter.value))
         .where(IngestCounter.name.startswith("rejected_", autoescape=True))
         .group_by(IngestCounter.name).order_by(IngestCounter.name))
    return {name.removeprefix("rejected_"): int(n) for name, n in get_db().execute(q) if n}


@bp.route("/cameras/<int:camera_id>")
def camera(camera_id: int):  # type: ignore[no-untyped-def]
    cam = _camera_or_404(camera_id)
    recent = events_page(get_db(), EventFilter(camera_id=cam.id, per_page=10))
    has_live = previews().version(cam.site, cam.name) is not None
    return render_template("camera.html", cam=cam, recent=recent, has_live=has_live,
                           live_max_fps=current_app.config["LIVE_MAX_FPS"])


@bp.route("/cameras/<int:camera_id>/live.jpg")
def live_jpg(camera_id: int):  # type: ignore[no-untyped-def]
    """The latest preview frame. The live view polls this with ``If-None-Match`` (an unchanged frame costs a
    304 of a few bytes) at an adaptive rate, so no request thread is held per viewer (docs/dashboard.md)."""
    site, name = _camera_names(camera_id)
    store = previews()
    version = store.version(site, name)
    if version is None:
        abort(404)
    access_log.record_view(access_log.LIVE, f"{site}/{name}", dedup_s=access_log.LIVE_DEDUP_S)  # polled often
    etag = f"{version[0]:x}-{version[1]:x}"
    if etag in request.if_none_match:
        resp = Response(status=304)
    else:
        frame = store.get(site, name)
        if frame is None:
            abort(404)
        etag = f"{frame.version[0]:x}-{frame.version[1]:x}"
        resp = Response(frame.jpeg, mimetype="image/jpeg")
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "no-cache, private"
    return resp


_NAMES: dict[tuple[str, int], tuple[float, str, str]] = {}
NAMES_TTL_S = 10.0


def _camera_names(camera_id: int) -> tuple[str, str]:
    """(site, name) of a camera, remembered for a few seconds: each live viewer asks several times a second.
    Keyed by database too (several apps in one process, as in tests)."""
    now = time.monotonic()
    key = (str(current_app.config["DATABASE_URL"]), camera_id)
    hit = _NAMES.get(key)
    if hit is not None and now - hit[0] < NAMES_TTL_S:
        return hit[1], hit[2]
    cam = _camera_or_404(camera_id)
    if len(_NAMES) > 10_000:
        _NAMES.clear()
    _NAMES[key] = (now, cam.site, cam.name)
    return cam.site, cam.name


def event_filter(per_page: int) -> EventFilter:
    """The URL's filter, limited to the sites the user may see (times without an offset: the camera's site's
    zone when one camera is chosen, else the dashboard's)."""
    tz = _tz()
    cam = request.args.get("camera", "").strip()
    if cam.isdigit():
        c = get_db().get(Camera, int(cam))
        tz = site_tz(c.site) if c is not None else tz
    try:
        f = EventFilter.from_args(request.args, tz, per_page)
    except FilterError as err:
        abort(400, description=str(err))
    return replace(f, sites=sites())


def _filter() -> EventFilter:
    return event_filter(int(current_app.config["PER_PAGE"]))


@bp.route("/violations")
def violations():  # type: ignore[no-untyped-def]
    f = _filter()
    return render_template("violations.html", page=events_page(get_db(), f), f=f, cameras=cameras(get_db(), sites()))


@bp.route("/violations.csv")
def violations_csv():  # type: ignore[no-untyped-def]
    f = _filter()
    db = get_db()
    zones: dict[str, ZoneInfo] = {}
    access_log.record_view(access_log.EXPORT_CSV, "violations.csv?" + request.query_string.decode("ascii", "replace"))

    def rows() -> Iterator[str]:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["event_id", "time_utc", "time_local", "timezone", "site", "camera", "agent", "verdict",
                    "confidence", "track_id", "votes", "box", "frame_w", "frame_h"])
        for e in events_for_export(db, f):
            site = e.camera.site
            zone = zones.get(site) or zones.setdefault(site, ZoneInfo(site_tz(site)))
            w.writerow([e.event_id, e.time.isoformat(), e.time.astimezone(zone).isoformat(), zone.key, site,
                        e.camera.name, e.agent, e.verdict, f"{e.confidence:.3f}", e.track_id, e.votes, e.box,
                        e.frame_w, e.frame_h])
            if buf.tell() > 64_000:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(stream_with_context(rows()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="violations-{stamp}.csv"'})


@bp.route("/events/<event_id>")
def event(event_id: str):  # type: ignore[no-untyped-def]
    db = get_db()
    e = db.scalar(select(Event).where(Event.event_id == event_id))
    if e is None:
        abort(404)
    snap = db.get(Snapshot, event_id)
    box = [int(v) for v in e.box.split(",")]
    # where the snapshot lies in the frame, so the face box can be drawn over it (older agents did not say:
    # their snapshots used the same rule)
    region = ([int(v) for v in e.snapshot_region.split(",")] if e.snapshot_region
              else list(context_region(box, e.frame_w, e.frame_h)))
    return render_template("event.html", e=e, snap=snap, box=box, region=region, labels=LABELS,
                           actions=review.ACTIONS)


@bp.route("/events/<event_id>/review", methods=["POST"])
def review_event(event_id: str):  # type: ignore[no-untyped-def]
    """Confirm / false positive / relabel: operators and admins (dashboard/access.py); recorded in the audit log."""
    db = get_db()
    e = db.scalar(select(Event).where(Event.event_id == event_id))
    if e is None:
        abort(404)
    try:
        review.review_event(db, e, request.form.get("review", ""), current_user.name,
                            request.form.get("label") or None)
    except review.ReviewError as err:
        abort(400, description=str(err))
    flash(_("Review saved."), "ok")
    return redirect(url_for("views.event", event_id=event_id))


@bp.route("/snapshots/<event_id>.jpg")
def snapshot(event_id: str):  # type: ignore[no-untyped-def]
    snap = get_db().get(Snapshot, event_id)
    if snap is None:
        abort(404)
    base = Path(current_app.config["SNAPSHOT_DIR"]).resolve()
    path = (base / snap.path).resolve()
    if base not in path.parents or not path.is_file():
        abort(404)
    access_log.record_view(access_log.SNAPSHOT, event_id)
    resp = send_file(path, mimetype="image/jpeg", max_age=0)
    resp.headers["Cache-Control"] = "private, no-store"  # every view comes here, so every view is logged
    return resp


def stats_params() -> tuple[str, int, int | None, str | None]:
    bucket = request.args.get("bucket", "hour")
    if bucket not in statistics.BUCKETS:
        abort(400, description=f"bucket must be one of {', '.join(statistics.BUCKETS)}")
    days = RANGES.get(request.args.get("days", "7"))
    if days is None:
        abort(400, description=f"days must be one of {', '.join(RANGES)}")
    cam = request.args.get("camera") or None
    try:
        camera_id = int(cam) if cam else None
    except ValueError:
        abort(400, description="camera must be a camera id")
    site = request.args.get("site") or None
    return bucket, days, camera_id, site


def selected_cameras(camera_id: int | None, site: str | None) -> tuple[list[Camera], str]:
    """The cameras a statistics request covers (only sites the user may see; 404 for anything else) and the
    time zone it is bucketed in: the one site's zone, or the dashboard's when sites in several zones mix."""
    cams = cameras(get_db(), sites())
    if camera_id is not None:
        cams = [c for c in cams if c.id == camera_id]
    if site is not None:
        cams = [c for c in cams if c.site == site]
    if (camera_id is not None or site is not None) and not cams:
        abort(404)
    zones = {site_tz(c.site) for c in cams}
    return cams, zones.pop() if len(zones) == 1 else _tz()


def build_report(bucket: str, days: int, camera_id: int | None, site: str | None = None) -> statistics.Report:
    cams, tz = selected_cameras(camera_id, site)
    end = reports.hour_end(datetime.now(UTC))
    return statistics.report(get_db(), tz, bucket, end - timedelta(days=days), end, cams,
                             apply_reviews=request.args.get("reviews") != "ignore")


@bp.route("/statistics")
def stats_page():  # type: ignore[no-untyped-def]
    bucket, days, camera_id, site = stats_params()
    cams, tz = selected_cameras(camera_id, site)
    end = reports.hour_end(datetime.now(UTC))
    span = timedelta(days=days)
    rep = statistics.report(get_db(), tz, bucket, end - span, end, cams)
    prev = statistics.report(get_db(), tz, bucket, end - 2 * span, end - span, cams)
    heat = reports.heatmap(get_db(), tz, end - span, end, cams)
    data = {"labels": rep.labels, "series": rep.series, "people": rep.people, "events": rep.events,
            "busiest_hours": rep.busiest_hours,
            # the sites' lines of the previous period, bucket by bucket, drawn faintly under this period's
            "previous": {k: v for k, v in prev.series.items() if k.startswith("site ") and any(x is not None for x in v)}}
    all_cams = cameras(get_db(), sites())
    return render_template("statistics.html", rep=rep, prev=prev, heat=heat, data=data, bucket=bucket, days=days,
                           camera_id=camera_id, site=site, cameras=all_cams,
                           site_names=sorted({c.site for c in all_cams}), ranges=RANGES, tz=tz)
