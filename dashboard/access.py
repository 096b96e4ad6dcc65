"""Roles and per-site access, enforced in one place: the ``POLICY`` table, checked before every request.

- Roles are ordered: viewer (read-only) < operator (review and acknowledge events) < admin (users, cameras,
  settings, tokens, audit log). A route names the least role that may use it.
- Sites: an admin sees every site; anyone else sees the sites assigned to them (``*``: all). A route whose URL
  names one object (a camera, an event, a snapshot) names how to find that object's site; a user who may not
  see the site gets 404, exactly as if the object did not exist. List pages, CSV exports and API lists filter
  by :func:`visible_sites`.
- An endpoint missing from ``POLICY`` is refused (403) for everybody: a new route must be added here, and
  ``tests/dashboard/test_access.py`` checks every route of the url_map against every role.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, g, request
from flask_login import current_user
from sqlalchemy import select

from dashboard.db_session import get_db
from dashboard.models import Camera, Event, Snapshot

ROLES = ("viewer", "operator", "admin")  # least to most
RANK = {r: i for i, r in enumerate(ROLES)}
ALL_SITES = "*"
PUBLIC_ENDPOINTS = {"auth.login", "static", "i18n.set_language",
                    "alerts.healthz"}  # healthz: ok/degraded only, for probes

SiteOf = Callable[[dict[str, Any]], "str | None"]


def camera_site(args: dict[str, Any]) -> str | None:
    """``site_of`` for routes with a ``camera_id`` URL argument (through the views' few-second cache of camera
    names: the live view polls several times a second per viewer)."""
    from dashboard.views import _camera_names  # the views import this module

    return _camera_names(args["camera_id"])[0]


def event_site(args: dict[str, Any]) -> str | None:
    """``site_of`` for routes with an ``event_id`` URL argument (an event, or a snapshot without one yet)."""
    db = get_db()
    e = db.scalar(select(Event).where(Event.event_id == args["event_id"]))
    if e is not None:
        return e.camera.site
    snap = db.get(Snapshot, args["event_id"])
    if snap is None:
        return None
    cam = db.get(Camera, snap.camera_id)
    return None if cam is None else cam.site


@dataclass(frozen=True, slots=True)
class Rule:
    role: str  # the least role allowed
    site_of: SiteOf | None = None  # the site of the object the URL names (None: not site-bound)


def rule(role: str, site_of: SiteOf | None = None) -> Rule:
    if role not in RANK:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return Rule(role, site_of)


# Every endpoint the app serves, with who may use it. Other modules add their routes with ``allow``.
POLICY: dict[str, Rule] = {
    "auth.logout": rule("viewer"),
    "views.overview": rule("viewer"),
    "views.camera": rule("viewer", camera_site),
    "views.live_jpg": rule("viewer", camera_site),
    "views.violations": rule("viewer"),
    "views.violations_csv": rule("viewer"),
    "views.event": rule("viewer", event_site),
    "views.snapshot": rule("viewer", event_site),
    "views.review_event": rule("operator", event_site),
    "views.stats_page": rule("viewer"),
    "api.cameras": rule("viewer"),
    "api.events": rule("viewer"),
    "api.event": rule("viewer", event_site),
    "api.stats": rule("viewer"),
    "api.ingest": rule("admin"),
    "api.openapi": rule("viewer"),
}


def allow(endpoint: str, role: str, site_of: SiteOf | None = None) -> None:
    """Declare who may use ``endpoint`` (for blueprints outside this table: call next to the route)."""
    POLICY[endpoint] = rule(role, site_of)


def has_role(user: Any, role: str) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and RANK.get(getattr(user, "role", ""), -1) >= RANK[role]


def visible_sites(user: Any = None) -> tuple[str, ...] | None:
    """The sites ``user`` (default: the current user) may see; None: all of them."""
    user = current_user if user is None else user
    if getattr(user, "role", None) == "admin":
        return None
    sites = tuple(getattr(user, "sites", ()))
    return None if ALL_SITES in sites else sites


def may_see_site(site: str, user: Any = None) -> bool:
    sites = visible_sites(user)
    return sites is None or site in sites


def check_request() -> None:
    """The before-request guard (after the login check): role, then the site of the object in the URL."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
        return
    r = POLICY.get(endpoint)
    if r is None:
        abort(403, description=f"no access rule for {endpoint}")
    if not has_role(current_user, r.role):
        abort(403, description=f"this needs the {r.role} role")
    if r.site_of is not None:
        site = r.site_of(dict(request.view_args or {}))
        if site is None or not may_see_site(site):
            abort(404)
    g.visible_sites = visible_sites()
