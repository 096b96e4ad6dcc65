"""Alembic environment: the engine comes from ``dashboard.db.upgrade`` (config.attributes["engine"])."""

from __future__ import annotations

from alembic import context

from dashboard.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        raise RuntimeError("run migrations through `maskwatch dashboard db-upgrade` (dashboard.db.upgrade)")
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run db-upgrade against the database")
run_migrations_online()
