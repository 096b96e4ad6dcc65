"""MQTT payload models: the agent/dashboard contract rejects what it should."""

from datetime import datetime

import pytest
from pydantic import ValidationError

from edge_agent.events import CameraStats, CameraStatus, ViolationEvent, dump, is_jpeg, utcnow

BASE = {"site": "hq", "agent": "pi-1", "camera": "door"}


def _event(**kw):
    data = {**BASE, "time": "2026-01-02T03:04:05Z", "event_id": "e1", "track_id": 3, "verdict": "without_mask",
            "confidence": 0.9, "box": [1, 2, 30, 40], "frame_size": [640, 480], "votes": 3}
    data.update(kw)
    return data


def test_event_round_trip_with_schema_field():
    ev = ViolationEvent.model_validate(_event())
    raw = dump(ev)
    assert b'"schema":"maskwatch.violation/1"' in raw
    assert ViolationEvent.model_validate_json(raw) == ev


@pytest.mark.parametrize(
    "change",
    [
        {"verdict": "with_mask"},  # not a violation
        {"confidence": 1.5},
        {"time": "2026-01-02T03:04:05"},  # naive time
        {"camera": "a/b"},
        {"schema": "maskwatch.violation/2"},
        {"extra_field": 1},
        {"box": [1, 2, 3]},
        {"votes": 0},
    ],
)
def test_event_rejects_bad_payloads(change):
    with pytest.raises(ValidationError):
        ViolationEvent.model_validate(_event(**change))


def test_stats_fill_every_label():
    s = CameraStats(**BASE, time=utcnow(), interval_s=60, people={"without_mask": 2}, frames=10, fps=5,
                    inference_ms=20, dropped_frames=0)
    assert s.people == {"with_mask": 0, "without_mask": 2, "mask_incorrect": 0}
    with pytest.raises(ValidationError):
        CameraStats(**BASE, time=utcnow(), interval_s=60, people={"with_mask": -1}, frames=1, fps=1,
                    inference_ms=1, dropped_frames=0)


def test_status_and_time_normalised_to_utc():
    st = CameraStatus(**BASE, time=datetime.fromisoformat("2026-01-02T05:00:00+02:00"), state="offline",
                      reason="read timeout")
    assert st.time.utcoffset().total_seconds() == 0 and st.time.hour == 3


def test_is_jpeg():
    assert is_jpeg(b"\xff\xd8\xff\xe0rest")
    assert not is_jpeg(b"GIF89a")
    assert not is_jpeg(b"\xff\xd8\xff" + b"0" * 3_000_000)
