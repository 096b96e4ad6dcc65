"""MaskWatch dashboard: Flask app factory, MQTT ingest, statistics. See docs/dashboard.md."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from edge_agent.config import ConfigError

if TYPE_CHECKING:  # Flask is imported by create_app: dashboard.settings must load without it (config check)
    from flask import Flask

    from dashboard.settings import Settings


def create_app(config: Settings | None = None, test_config: Mapping[str, Any] | None = None) -> Flask:
    """App factory (flaskr's): it reads no file. ``config``: the validated settings, as
    :func:`dashboard.settings.load_settings` reads them from the config file (the CLI does); None: the model's
    defaults (an empty config file). ``test_config`` overrides Flask settings (``TESTING``, ``PER_PAGE``, ...)."""
    import os

    from flask import Flask

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
    from dashboard.settings import DEFAULTS, FLASK_ONLY, flask_settings
    from dashboard.throttle import trusted_proxy_middleware

    app = Flask(__name__)
    app.config.update(DEFAULTS if config is None else {**FLASK_ONLY, **flask_settings(config)})
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
