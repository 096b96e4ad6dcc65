"""The weekly report per site: a printable page (``/reports/weekly``) and the same figures as CSV."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _

from dashboard import access, reports
from dashboard.db_session import get_db
from dashboard.queries import cameras
from dashboard.views import site_tz, sites
from edge_agent.core.labels import LABELS

bp = Blueprint("reports", __name__, url_prefix="/reports")
access.allow("reports.weekly", "viewer")
access.allow("reports.weekly_csv", "viewer")


def _report() -> reports.WeeklyReport:
    cams = cameras(get_db(), sites())
    names = sorted({c.site for c in cams})
    site = request.args.get("site") or (names[0] if names else None)
    if site is None or site not in names:
        abort(404)
    tz = site_tz(site)
    try:
        monday = reports.parse_week(request.args.get("week"), tz)
    except ValueError as err:
        abort(400, description=str(err))
    return reports.weekly(get_db(), site, tz, monday, cams)


@bp.route("/weekly")
def weekly():  # type: ignore[no-untyped-def]
    rep = _report()
    names = sorted({c.site for c in cameras(get_db(), sites())})
    return render_template("weekly.html", rep=rep, site_names=names, delta=reports.delta)


@bp.route("/weekly.csv")
def weekly_csv():  # type: ignore[no-untyped-def]
    rep = _report()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["site", "timezone", "camera", "date", "people", *LABELS, "compliance", "violation_events"])

    def line(camera: str, day: str, t) -> None:  # type: ignore[no-untyped-def]
        w.writerow([rep.site, rep.timezone, camera, day, t.people, *(t.people_by[label] for label in LABELS),
                    "" if t.compliance is None else f"{t.compliance:.4f}", t.violations])

    for row in rep.rows:
        for d, t in zip(rep.days, row.days, strict=True):
            line(row.camera, d.isoformat(), t)
    for d, t in zip(rep.days, rep.day_totals, strict=True):
        line(_("all cameras"), d.isoformat(), t)
    line(_("all cameras"), _("week"), rep.total)
    name = f"maskwatch-weekly-{rep.site}-{rep.monday.isocalendar()[0]}-W{rep.monday.isocalendar()[1]:02d}.csv"
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
