"""MaskWatch dashboard: Flask app factory, MQTT ingest, statistics. See docs/dashboard.md."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from dashboard.switches import mqtt_settings
from edge_agent.config import DASHBOARD_SECTIONS, Config, ConfigError, DashboardSecurityConfig, load_config


def load_dashboard_config(path: Path | None = None) -> Config:
    """The config file as the dashboard and the ingest read it: ``${VAR}``s outside their sections (a camera's
    password in ``cameras``, which only the agent's env file holds) may be unset (docs/deploy.md)."""
    return load_config(path, own_sections=lambda k: k in DASHBOARD_SECTIONS)


def settings_from_config(cfg: Config) -> dict[str, Any]:
    """Flask settings from the one config schema (``dashboard`` and ``mqtt`` sections)."""
    d = cfg.dashboard
    return {
        "DATABASE_URL": d.database_url,
        "SNAPSHOT_DIR": str(d.snapshot_dir),
        "SECRET_KEY": d.secret_key.get_secret_value() if d.secret_key else None,
        "TIMEZONE": d.timezone,
        "SITE_TIMEZONES": dict(d.site_timezones),
        "PREVIEW_DIR": str(d.preview_dir) if d.preview_dir else None,
        "RETENTION": d.retention,
        "PRIVACY": {"mode": cfg.privacy.mode, "cameras": {c.name: cfg.privacy_mode(c) for c in cfg.cameras}},
        "TOPIC_PREFIX": cfg.mqtt.topic_prefix,
        "NOTIFICATIONS": cfg.notifications,
        **mqtt_settings(cfg),
        **security_settings(d.security),
    }


def security_settings(sec: Any) -> dict[str, Any]:
    """Flask settings from ``dashboard.security`` (a DashboardSecurityConfig)."""
    return {
        "TRUSTED_PROXIES": list(sec.trusted_proxies),
        "LOGIN_MAX_FAILURES": sec.login_max_failures,
        "LOGIN_MAX_FAILURES_PER_ADDRESS": sec.login_max_failures_per_address,
        "LOGIN_WINDOW_S": sec.login_window_minutes * 60,
        "PERMANENT_SESSION_LIFETIME": int(sec.session_lifetime_h * 3600),
        "COOKIE_SECURE": sec.cookie_secure,
    }


DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": "sqlite:///var/dashboard.sqlite3",
    "SNAPSHOT_DIR": "var/snapshots",
    "SECRET_KEY": None,
    "TIMEZONE": "UTC",
    "SITE_TIMEZONES": {},  # site -> IANA zone; others use TIMEZONE
    "PREVIEW_DIR": None,  # default: "live" beside SNAPSHOT_DIR (dashboard.previews.default_preview_dir)
    "RETENTION": None,  # dashboard.retention (RetentionConfig); None: its defaults
    "PRIVACY": None,  # {"mode": privacy.mode, "cameras": {name: mode}} for the privacy page
    "TOPIC_PREFIX": "maskwatch",
    "LIVE_MAX_FPS": 8,  # the camera page polls live.jpg at most this often (while frames change)
    "PER_PAGE": 50,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # True (MASKWATCH_COOKIE_SECURE=1): always; else COOKIE_SECURE decides
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead
    "SESSION_REFRESH_EACH_REQUEST": False,  # the session's lifetime is kept server side (user_sessions)
    **security_settings(DashboardSecurityConfig()),
}


def create_app(test_config: Mapping[str, Any] | None = None, *, config: Config | None = None) -> Flask:
    """App factory. ``config``: the validated MaskWatch config; without it and without ``test_config`` the
    config file is found as the CLI does ($MASKWATCH_CONFIG, ./config.yaml, /etc/maskwatch/config.yaml).
    ``test_config`` overrides settings (``TESTING``, ``DATABASE_URL``, ``SNAPSHOT_DIR``, ...)."""
    import os

    from dashboard import (
        account,
        admin,
        alerts_views,
        api,
        auth,
        db_session,
        i18n,
        privacy_views,
        report_views,
        views,
        vocabulary,
    )
    from dashboard.security import init_security
    from dashboard.throttle import trusted_proxy_middleware

    app = Flask(__name__)
    app.config.update(DEFAULTS)
    if config is None and test_config is None:
        config = load_dashboard_config()
    if config is not None:
        app.config.update(settings_from_config(config))
    if test_config is not None:
        app.config.update(test_config)
    if os.environ.get("MASKWATCH_COOKIE_SECURE") == "1":
        app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = True
    if not app.config.get("SECRET_KEY"):
        if not app.testing:
            raise ConfigError(
                "dashboard.secret_key is not set: set MASKWATCH_SECRET_KEY (for example to the output of "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`); the dashboard refuses to start without it"
            )
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    db_session.init_app(app)
    init_security(app)
    auth.init_app(app)
    vocabulary.init_app(app)
    i18n.init_app(app)  # after vocabulary: translates its display names per request
    app.register_blueprint(auth.bp)
    app.register_blueprint(i18n.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(report_views.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(alerts_views.bp)
    app.register_blueprint(privacy_views.bp)
    app.wsgi_app = trusted_proxy_middleware(app.wsgi_app, app.config["TRUSTED_PROXIES"])  # type: ignore[method-assign]
    return app
