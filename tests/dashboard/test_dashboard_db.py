"""Schema: Alembic migrations agree with the models; SQLite is in WAL mode; PostgreSQL for real."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from dashboard_support import event, jpeg, raw, stats, status, topic
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dashboard.db import SchemaError, check_schema, downgrade, head_revision, make_engine, upgrade
from dashboard.ingest import Ingester, Received
from dashboard.models import Base, Camera, Event, HourlyCount, Snapshot
from dashboard.retention import purge
from dashboard.rollup import rebuild_hourly
from dashboard.statistics import report


def test_migrations_match_models(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with pytest.raises(SchemaError, match="db-upgrade"):
        check_schema(engine)
    upgrade(engine)
    check_schema(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    downgrade(engine, "base")
    upgrade(engine)
    check_schema(engine)


def test_sqlite_uses_wal(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'db.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.integration
def test_postgresql_for_real(postgres, tmp_path):
    engine = make_engine(postgres.url)
    upgrade(engine)
    check_schema(engine)
    assert engine.dialect.name == "postgresql" and head_revision()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    ing = Ingester(engine, tmp_path / "snaps", "maskwatch", name="pg")
    batch = [Received(topic("event"), raw(event(f"p{i}"))) for i in range(50)]
    batch += [Received(topic("stats"), raw(stats())), Received(topic("status"), raw(status(state="offline"))),
              Received(topic("snapshot", event_id="p1"), jpeg()), Received(topic("available"), b"online")]
    ing.process(batch)
    ing.process(batch)  # replay: nothing new
    assert ing.counters["event"] == 50 and ing.counters["event_duplicate"] == 50
    assert ing.counters["stats"] == 1 and ing.counters["snapshot"] == 1 and not ing.counters["store_error"]
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Event)) == 50
        assert db.scalar(select(Camera.state)) == "offline"
        assert db.get(Snapshot, "p1") is not None
        (h,) = db.scalars(select(HourlyCount))
        assert (h.events_without_mask, h.people_with_mask) == (50, 8)
        cams = list(db.scalars(select(Camera)))
        from datetime import UTC, datetime, timedelta

        now = datetime.now(UTC)
        rep = report(db, "Europe/Berlin", "day", now - timedelta(days=2), now + timedelta(hours=1), cams)
        assert rep.total.violations == 50 and rep.total.compliance == 0.8
    assert rebuild_hourly(engine) == 1
    ing.flush_counters()
    ing.flush_counters()
    assert purge(engine, tmp_path / "snaps", 30)["events"] == 0
    engine.dispose()


@pytest.mark.integration
@pytest.mark.fault
def test_ingest_waits_for_postgresql_to_come_back(postgres, tmp_path):
    """Database down: the batch is kept and retried (not dropped, not acknowledged) until it is back."""
    import threading

    engine = make_engine(postgres.url)
    upgrade(engine)
    ing = Ingester(engine, tmp_path / "snaps", "maskwatch", name="pg-fault")
    ing.process([Received(topic("event"), raw(event("up-1")))])
    postgres.stop()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (ing.process([Received(topic("event"), raw(event("while-down")))]),
                                              done.set()), daemon=True)
    worker.start()
    try:
        from helpers.net import wait_for

        wait_for(lambda: ing.counters["store_retry"] >= 1, 20, what="a retry while PostgreSQL is down")
        assert not done.is_set()
    finally:
        postgres.start_again()
    assert done.wait(60), "the ingest did not store the batch after PostgreSQL came back"
    with Session(engine) as db:
        assert set(db.scalars(select(Event.event_id))) >= {"up-1", "while-down"}
    assert not ing.counters["store_error"]
    engine.dispose()
