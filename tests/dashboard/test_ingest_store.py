"""Ingest core on a real SQLite file: validation (table-driven), idempotency, snapshots, status, roll-up, purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dashboard_support import event, jpeg, raw, stats, status, topic
from sqlalchemy import func, select

from dashboard.db import make_engine, upgrade
from dashboard.ingest import Ingester, Received
from dashboard.messages import EventMsg, PreviewMsg, Rejected, SnapshotMsg, StatsMsg, classify
from dashboard.models import Agent, Camera, Event, HourlyCount, Snapshot, StatSample
from dashboard.retention import purge
from dashboard.rollup import rebuild_hourly

JPEG = jpeg()
# these tests replay fixed historic times to test storage; the time bounds are tested with `bounded`
pytestmark = pytest.mark.ingester(bare=True, snapshots="snaps", name="test", time_bounds=False)


@pytest.fixture
def bounded(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    return Ingester(engine, tmp_path / "snaps", "maskwatch", name="test")


def rows(ingester, model):
    from sqlalchemy.orm import Session

    with Session(ingester.engine) as db:
        return list(db.scalars(select(model)))


@pytest.mark.parametrize(
    ("topic_", "payload", "expected"),
    [
        (topic("event"), raw(event()), EventMsg),
        (topic("stats"), raw(stats()), StatsMsg),
        (topic("snapshot", event_id="e1"), JPEG, SnapshotMsg),
        (topic("preview"), JPEG, PreviewMsg),
        ("other/hq/camera/door/event", raw(event()), "unknown_topic"),
        ("maskwatch/hq/camera/door/unknown", raw(event()), "unknown_topic"),
        ("maskwatch/hq/camera/do+or/event", raw(event()), "unknown_topic"),
        ("maskwatch/hq/camera/door/snapshot/../x", JPEG, "unknown_topic"),
        (topic("event"), b"{not json", "invalid_json"),
        (topic("event"), b"", "invalid_json"),
        (topic("event"), raw(event(verdict="with_mask")), "invalid_payload"),
        (topic("event"), raw(event(confidence=2)), "invalid_payload"),
        (topic("event"), raw(event(time="2026-01-01T00:00:00")), "invalid_payload"),
        (topic("event"), raw({**event(), "extra": 1}), "invalid_payload"),
        (topic("event"), raw(event(camera="lobby")), "topic_mismatch"),
        (topic("event"), raw(event(site="other")), "topic_mismatch"),
        (topic("event"), raw(event(track_id=2**40)), "out_of_range"),
        (topic("stats"), raw(stats(people={"with_mask": 2**33})), "out_of_range"),
        (topic("status"), raw(status(state="offline", reason="bad\x00byte")), "out_of_range"),
        (topic("event"), b"{" + b" " * 70_000 + b"}", "too_large"),
        (topic("snapshot", event_id="e1"), b"GIF89a", "invalid_jpeg"),
        (topic("preview"), b"\xff\xd8", "invalid_jpeg"),
        (topic("available"), b"maybe", "invalid_payload"),
    ],
)
def test_classify(topic_, payload, expected):
    got = classify("maskwatch", topic_, payload)
    if isinstance(expected, str):
        assert isinstance(got, Rejected) and got.reason == expected, got
    else:
        assert isinstance(got, expected)


def test_events_are_idempotent_and_counted(ingester):
    batch = [Received(topic("event"), raw(event(f"e{i}"))) for i in range(20)]
    ingester.process(batch)
    ingester.process(batch)  # the agent re-sends its backlog after an outage
    ingester.process(batch[:5] + batch[:5])  # and duplicates inside one batch
    assert len(rows(ingester, Event)) == 20
    assert ingester.counters["event"] == 20
    assert ingester.counters["event_duplicate"] == 30
    hourly = rows(ingester, HourlyCount)
    assert sum(h.events_without_mask for h in hourly) == 20  # the roll-up counted each event once


def test_snapshot_before_or_after_event_and_on_disk(ingester, tmp_path):
    ingester.process([Received(topic("snapshot", event_id="early"), jpeg((0, 0, 255)))])
    ingester.process([Received(topic("event"), raw(event("early"))), Received(topic("event"), raw(event("late")))])
    ingester.process([Received(topic("snapshot", event_id="late"), JPEG)] * 2)
    snaps = {s.event_id: s for s in rows(ingester, Snapshot)}
    assert set(snaps) == {"early", "late"}
    for s in snaps.values():
        path = tmp_path / "snaps" / s.path
        assert path.read_bytes()[:3] == b"\xff\xd8\xff" and path.stat().st_size == s.size
    assert ingester.counters["snapshot"] == 2 and ingester.counters["snapshot_duplicate"] == 1


def test_stats_roll_up_and_replay(ingester):
    t = datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    msgs = [Received(topic("stats"), raw(stats(time=(t + timedelta(minutes=m)).isoformat(),
                                               people={"with_mask": 3, "without_mask": 1})))
            for m in range(0, 90, 15)]  # 10:15 .. 11:30 -> 3 in hour 10, 3 in hour 11
    ingester.process(msgs)
    ingester.process(msgs)
    assert len(rows(ingester, StatSample)) == 6
    hourly = {h.hour: h for h in rows(ingester, HourlyCount)}
    assert hourly[t.replace(minute=0)].people_with_mask == 9
    assert hourly[t.replace(hour=11, minute=0)].people_without_mask == 3


def test_incremental_roll_up_equals_rebuild(ingester):
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    batch = []
    for i in range(200):
        t = (t0 + timedelta(minutes=7 * i)).isoformat()
        cam = ("door", "lobby")[i % 2]
        batch.append(Received(topic("event", camera=cam), raw(event(f"x{i}", camera=cam, time=t,
                                                                    verdict=("without_mask", "mask_incorrect")[i % 3 == 0]))))
        batch.append(Received(topic("stats", camera=cam), raw(stats(camera=cam, time=t, people={"with_mask": i % 5}))))
    ingester.process(batch[:150])
    ingester.process(batch[100:])  # overlap: replays must not double-count
    live = {(h.camera_id, h.hour): (h.people_with_mask, h.events_without_mask, h.events_mask_incorrect)
            for h in rows(ingester, HourlyCount)}
    rebuild_hourly(ingester.engine)
    rebuilt = {(h.camera_id, h.hour): (h.people_with_mask, h.events_without_mask, h.events_mask_incorrect)
               for h in rows(ingester, HourlyCount)}
    assert live == rebuilt and len(live) > 10


def test_status_newest_wins_and_availability(ingester):
    t = datetime(2026, 3, 1, 12, tzinfo=UTC)
    new = Received(topic("status"), raw(status(state="offline", time=t.isoformat(), reason="no frames")))
    old = Received(topic("status"), raw(status(state="online", time=(t - timedelta(minutes=5)).isoformat())))
    ingester.process([new])
    ingester.process([old])  # a retained message re-delivered late must not overwrite the newer state
    (cam,) = rows(ingester, Camera)
    assert (cam.state, cam.reason, cam.width, cam.height) == ("offline", "no frames", 640, 480)
    ingester.process([Received(topic("available"), b"online")])
    ingester.process([Received(topic("available"), b"offline")])
    (agent,) = rows(ingester, Agent)
    assert agent.availability == "offline"


def test_preview_keeps_latest_frame_per_camera(ingester):
    a, b = jpeg((255, 0, 0)), jpeg((0, 255, 0))
    ingester.process([Received(topic("preview"), a), Received(topic("preview"), b)])
    frame = ingester.previews.get("hq", "door")
    assert frame is not None and frame.jpeg == b
    assert rows(ingester, Event) == []


def test_purge_deletes_old_rows_and_files_but_keeps_roll_up(ingester, tmp_path):
    old = datetime.now(UTC) - timedelta(days=40)
    # received 40 days ago (retention goes by the receive time: docs/mqtt.md, dashboard/clock_bounds.py)
    ingester.store.write([classify("maskwatch", topic("event"), raw(event("old", time=old.isoformat())))], now=old)
    ingester.process([Received(topic("event"), raw(event("new"))),
                      Received(topic("stats"), raw(stats(time=old.isoformat())))])
    ingester.store.write([classify("maskwatch", topic("snapshot", event_id="old"), JPEG)], now=old)
    ingester.process([Received(topic("snapshot", event_id="new"), JPEG)])
    old_file = tmp_path / "snaps" / next(s.path for s in rows(ingester, Snapshot) if s.event_id == "old")
    assert old_file.exists()
    out = purge(ingester.engine, tmp_path / "snaps", 30)
    assert (out["events"], out["stat_samples"], out["snapshots"]) == (1, 1, 1)
    assert [e.event_id for e in rows(ingester, Event)] == ["new"]
    assert [s.event_id for s in rows(ingester, Snapshot)] == ["new"]
    assert not old_file.exists() and not old_file.parent.exists()
    assert sum(h.events_without_mask for h in rows(ingester, HourlyCount)) == 2
    with pytest.raises(ValueError, match="retention_days"):
        purge(ingester.engine, tmp_path / "snaps", 0)


def test_rejections_are_counted_and_store_nothing(ingester):
    ingester.process([Received("maskwatch/hq/camera/door/event", b"[]"), Received("x", b"y"),
                      Received(topic("event"), raw(event(camera="elsewhere")))])
    assert ingester.counters["rejected"] == 3
    assert ingester.counters["rejected_topic_mismatch"] == 1
    from sqlalchemy.orm import Session

    with Session(ingester.engine) as db:
        assert db.scalar(select(func.count()).select_from(Camera)) == 0
    ingester.flush_counters()
    ingester.flush_counters()  # second flush updates, does not duplicate


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def test_a_status_stamped_2099_does_not_freeze_the_camera(bounded):
    """A wrong agent clock: the 2099 status is stored with its receive time, so a later real one wins."""
    bounded.process([Received(topic("status"), raw(status(state="online", time="2099-01-01T00:00:00Z")))])
    bounded.process([Received(topic("status"), raw(status(state="offline")))])
    (cam,) = rows(bounded, Camera)
    assert cam.state == "offline"
    assert bounded.counters["time_clamped"] == 1


def test_events_stamped_far_from_their_receive_time_are_flagged_and_kept_by_retention(bounded, tmp_path):
    now = datetime.now(UTC)
    bounded.process([
        Received(topic("event"), raw(event("old", time=_iso(now - timedelta(days=40))))),
        Received(topic("event"), raw(event("future", time=_iso(now + timedelta(days=400))))),
        Received(topic("event"), raw(event("backlog", time=_iso(now - timedelta(days=3))))),  # a real backlog
    ])
    events = {e.event_id: e for e in rows(bounded, Event)}
    assert events["old"].agent_time is not None and abs((events["old"].time - now).total_seconds()) < 60
    assert events["future"].agent_time is not None and events["future"].time < now + timedelta(minutes=1)
    assert events["backlog"].agent_time is None  # within the outbox's age bound: trusted
    assert bounded.counters["time_clamped"] == 2
    assert purge(bounded.engine, tmp_path / "snaps", 30)["events"] == 0  # nothing purged at once
    later = purge(bounded.engine, tmp_path / "snaps", 30, now=now + timedelta(days=31))
    assert later["events"] == 3  # ...and the future-dated one is purged like the others
