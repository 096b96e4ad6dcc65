"""Ingest partitions (``dashboard.ingest_partition``): every message belongs to exactly one worker, chosen by
its camera or agent, the same on every host; a worker stores its share and skips (counts) the rest. The
scale-out across a broker restart is tests/faults/test_faults_scaleout.py."""

from __future__ import annotations

import pytest
from dashboard_support import event, jpeg, raw, stats, status, topic
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard.db import make_engine, upgrade
from dashboard.ingest import Ingester, Received
from dashboard.ingest_partition import Partition
from dashboard.models import Event, Snapshot
from dashboard.settings import parse_settings
from edge_agent.config import ConfigError


def test_every_topic_belongs_to_exactly_one_worker_and_a_camera_keeps_its_worker() -> None:
    parts = [Partition(i, 3) for i in range(3)]
    topics = [topic(k, camera=f"cam{n}", event_id="e1") for n in range(30) for k in ("event", "snapshot", "status")]
    for t in topics:
        assert sum(p.owns(t) for p in parts) == 1, t
    for n in range(30):  # events, snapshots and status of one camera: one worker, in order
        assert len({parts[0].of(topic(k, camera=f"cam{n}", event_id="x")) for k in ("event", "snapshot", "status",
                                                                                    "stats")}) == 1
    assert {parts[0].of(t) for t in topics} == {0, 1, 2}, "30 cameras spread over the 3 workers"
    assert Partition(0, 1).owns("anything/at/all") and Partition.parse(" 1/2 ") == Partition(1, 2)


@pytest.mark.parametrize(("spec", "error"), [("2/2", "0..1"), ("a/2", "expected 'I/N'"), ("0/0", "0..-1")])
def test_a_bad_partition_is_refused(spec: str, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace(".", r"\.")):
        Partition.parse(spec)


@pytest.mark.parametrize(("dashboard", "error"), [
    ({"ingest_partition": "2/2"}, "index must be 0..1"),
    ({"ingest_partition": "first"}, "ingest_partition"),
    ({"ingest_partition": "0/2", "ingest_group": "g"}, "exclude each other"),
])
def test_the_config_names_a_bad_partition(dashboard: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_settings({"dashboard": dashboard})


def test_a_worker_stores_its_partition_and_counts_what_it_skips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    cams = ("door", "gate")  # partitions 1 and 0 of 2
    assert [Partition(0, 2).of(topic("event", camera=c)) for c in cams] == [1, 0]
    batch = [Received(topic("event", camera=c), raw(event(f"{c}-{i}", camera=c))) for c in cams for i in range(5)]
    batch += [Received(topic("snapshot", camera=c, event_id=f"{c}-0"), jpeg()) for c in cams]
    batch += [Received(topic("stats", camera=c), raw(stats(camera=c))) for c in cams]
    batch += [Received(topic("status", camera=c), raw(status(camera=c))) for c in cams]
    workers = [Ingester(engine, tmp_path / "snaps", "maskwatch", name=f"w{i}", partition=Partition(i, 2))
               for i in range(2)]
    for w in workers:
        w.process(batch)
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Event)) == 10
        assert db.scalar(select(func.count()).select_from(Snapshot)) == 2
    assert [w.counters["event"] for w in workers] == [5, 5]
    assert [w.counters["event_duplicate"] for w in workers] == [0, 0], "nothing stored twice"
    assert [w.counters["partition_skipped"] for w in workers] == [8, 8]
