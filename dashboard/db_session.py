"""Per-app engine and per-request SQLAlchemy session (``get_db()``), closed at the end of each request."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from dashboard.db import make_engine, session_factory
from dashboard.previews import PreviewStore, default_preview_dir


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["maskwatch"] = {
        "engine": engine,
        "sessions": session_factory(engine),
        "previews": PreviewStore(Path(app.config.get("PREVIEW_DIR") or default_preview_dir(app.config["SNAPSHOT_DIR"]))),
    }
    app.teardown_appcontext(_close)


def get_db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["maskwatch"]["sessions"]()
    return g.db  # type: ignore[no-any-return]


def previews() -> PreviewStore:
    return current_app.extensions["maskwatch"]["previews"]  # type: ignore[no-any-return]


def _close(_exc: BaseException | None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()
