"""Best-shot revisions at the ingest (real SQLite): a higher revision of an event or of its snapshot replaces
the stored one, a lower or equal one never does, in any order, and the statistics count the event once."""

from __future__ import annotations

import itertools

import pytest
from dashboard_support import event, jpeg, raw, topic
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.ingest import Received
from dashboard.models import Event, FaceCrop, HourlyCount, Snapshot
from dashboard.retention import purge

SNAP0, SNAP1, SNAP2 = jpeg((0, 0, 200)), jpeg((0, 200, 0)), jpeg((200, 0, 0))
pytestmark = pytest.mark.ingester(bare=True, snapshots="snaps", name="test")


def rows(ingester, model):
    with Session(ingester.engine) as db:
        return list(db.scalars(select(model)))


def messages() -> list[Received]:
    snap = topic("snapshot", event_id="e1")
    return [
        Received(snap, SNAP0),
        Received(topic("event"), raw(event("e1", box=[0, 150, 55, 261], snapshot_region=[0, 0, 277, 483]))),
        Received(snap + "/1", SNAP1),
        Received(topic("event"), raw(event("e1", revision=1, box=[300, 150, 411, 261],
                                           snapshot_region=[78, 0, 633, 483]))),
        Received(snap + "/2", SNAP2),
        Received(topic("event"), raw(event("e1", revision=2, box=[500, 150, 611, 261],
                                           snapshot_region=[278, 0, 833, 483]))),
    ]


@pytest.mark.parametrize("order", list(itertools.permutations(range(6)))[::37])  # 20 orders of 720
def test_the_highest_revision_wins_in_any_order(ingester, tmp_path, order) -> None:
    msgs = messages()
    for i in order:  # one message per batch: each arrives on its own
        ingester.process([msgs[i]])
    ingester.process(msgs)  # and a replay of everything in one batch changes nothing
    (e,) = rows(ingester, Event)
    assert (e.revision, e.box, e.snapshot_region) == (2, "500,150,611,261", "278,0,833,483")
    (s,) = rows(ingester, Snapshot)
    assert s.revision == 2 and (tmp_path / "snaps" / s.path).read_bytes() == SNAP2
    files = [p for p in (tmp_path / "snaps").rglob("*.jpg")]
    assert files == [tmp_path / "snaps" / s.path], "replaced snapshots are deleted from the disk"
    assert sum(h.events_without_mask for h in rows(ingester, HourlyCount)) == 1
    assert ingester.counters["event"] == 1


def test_revision_counters(ingester) -> None:
    msgs = messages()
    ingester.process(msgs[:2])
    ingester.process(msgs[2:4])
    ingester.process(msgs[:2])  # a replay of revision 0
    c = ingester.counters
    assert (c["event"], c["event_revision"], c["event_duplicate"]) == (1, 1, 1)
    assert (c["snapshot"], c["snapshot_revision"], c["snapshot_duplicate"]) == (1, 1, 1)


def test_face_crops_are_stored_beside_snapshots_and_purged_with_them(ingester, tmp_path) -> None:
    face = "maskwatch/hq/camera/door/face/e1"
    ingester.process([Received(face, SNAP0), Received(topic("snapshot", event_id="e1"), SNAP1),
                      Received(topic("event"), raw(event("e1")))])
    (f,) = rows(ingester, FaceCrop)
    (s,) = rows(ingester, Snapshot)
    assert f.path != s.path and (tmp_path / "snaps" / f.path).read_bytes() == SNAP0
    ingester.process([Received(face + "/1", SNAP2)])
    (f,) = rows(ingester, FaceCrop)
    assert f.revision == 1 and (tmp_path / "snaps" / f.path).read_bytes() == SNAP2
    from datetime import UTC, datetime, timedelta

    out = purge(ingester.engine, tmp_path / "snaps", 1, now=datetime.now(UTC) + timedelta(days=3))
    assert (out["snapshots"], out["face_crops"]) == (1, 1)
    assert not list((tmp_path / "snaps").rglob("*.jpg"))
