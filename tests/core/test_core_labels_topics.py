"""Core: canonical labels and the MQTT topic layout (table-driven)."""

import pytest

from edge_agent.core.labels import (
    LABELS,
    MASK_INCORRECT,
    WITH_MASK,
    WITHOUT_MASK,
    UnknownLabelError,
    canonical_label,
)
from edge_agent.core.topics import ParsedTopic, Topics, check_name, needs_custody, parse_topic


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("with_mask", WITH_MASK),
        ("WithMask", WITH_MASK),
        ("mask", WITH_MASK),
        ("without_mask", WITHOUT_MASK),
        ("WithoutMask", WITHOUT_MASK),
        ("no_mask", WITHOUT_MASK),
        ("mask_weared_incorrect", MASK_INCORRECT),
        ("incorrect_mask", MASK_INCORRECT),
        ("Mask worn incorrectly", MASK_INCORRECT),
    ],
)
def test_canonical_label(name, expected):
    assert canonical_label(name) == expected


@pytest.mark.parametrize("name", ["", "cat", "___", "helmet"])
def test_unknown_label_names_allowed_values(name):
    with pytest.raises(UnknownLabelError, match="with_mask"):
        canonical_label(name)


def test_labels_order_is_the_contract():
    assert LABELS == ("with_mask", "without_mask", "mask_incorrect")


def test_topics_round_trip():
    t = Topics("maskwatch", "hq")
    cases = [
        (t.available("pi-1"), ParsedTopic("hq", "available", agent="pi-1")),
        (t.camera("door", "event"), ParsedTopic("hq", "event", camera="door")),
        (t.camera("door", "stats"), ParsedTopic("hq", "stats", camera="door")),
        (t.camera("door", "status"), ParsedTopic("hq", "status", camera="door")),
        (t.camera("door", "preview"), ParsedTopic("hq", "preview", camera="door")),
        (t.snapshot("door", "abc123"), ParsedTopic("hq", "snapshot", camera="door", event_id="abc123")),
    ]
    for topic, parsed in cases:
        assert parse_topic("maskwatch", topic) == parsed
    assert t.available("pi-1") == "maskwatch/hq/agent/pi-1/available"
    assert t.snapshot("door", "e1") == "maskwatch/hq/camera/door/snapshot/e1"
    assert t.site_filter() == "maskwatch/hq/#"


@pytest.mark.parametrize(
    "topic",
    [
        "other/hq/camera/door/event",
        "maskwatch/hq/camera/door/unknown",
        "maskwatch/hq/camera/door",
        "maskwatch/hq/agent/pi/online",
        "maskwatch/h q/camera/door/event",
        "maskwatch/hq/camera/door/snapshot",
        "maskwatch/hq/camera/door/snapshot/../x",
        "maskwatch",
    ],
)
def test_parse_topic_rejects_foreign_or_malformed(topic):
    assert parse_topic("maskwatch", topic) is None


def test_multi_level_prefix():
    t = Topics("acme/maskwatch", "hq")
    assert parse_topic("acme/maskwatch", t.camera("c1", "event")) == ParsedTopic("hq", "event", camera="c1")


@pytest.mark.parametrize("bad", ["", "a/b", "a+b", "#", "with space", "-lead", "x" * 65])
def test_bad_names_rejected(bad):
    with pytest.raises(ValueError, match="not a valid name"):
        check_name("camera", bad)


def test_topic_kind_checked():
    with pytest.raises(ValueError, match="kind"):
        Topics("maskwatch", "hq").camera("door", "snapshot")
    with pytest.raises(ValueError, match="prefix"):
        Topics("maskwatch/", "hq")


def test_only_events_snapshots_and_face_crops_need_custody() -> None:
    t = Topics("maskwatch", "hq")
    assert needs_custody("maskwatch", t.camera("door", "event"))
    assert needs_custody("maskwatch", t.snapshot("door", "e1"))
    assert needs_custody("maskwatch", t.snapshot("door", "e1", revision=2))
    assert needs_custody("maskwatch", t.face("door", "e1"))
    for best_effort in (t.camera("door", "preview"), t.camera("door", "stats"), t.camera("door", "status"),
                        t.available("pi-1"), "other/hq/camera/door/event", "maskwatch/hq/camera/door/event/x/y/z"):
        assert not needs_custody("maskwatch", best_effort), best_effort


@pytest.mark.parametrize(("topic", "kind"), [
    ("maskwatch/hq/camera/door/event", "event"),
    ("a/b/hq/camera/door/snapshot/e1", "snapshot"),  # a prefix of two levels
    ("maskwatch/hq/camera/door/snapshot/e1/1", "snapshot"),  # a revision
    ("maskwatch/hq/camera/door/face/e1", "face"),
    ("maskwatch/hq/agent/pi/available", "available"),
    ("maskwatch/hq/camera/door/enabled/state", "switch"),
    ("maskwatch/hq/camera/camera/stats", "stats"),  # a camera named "camera"
    ("t/1", None),
    ("maskwatch/hq/camera/door/snapshot", None),  # no event id
])
def test_topic_kind_without_knowing_the_prefix(topic: str, kind: str | None) -> None:
    from edge_agent.core.topics import topic_kind

    assert topic_kind(topic) == kind


def test_ingest_filters_derive_from_the_kinds() -> None:
    from paho.mqtt.client import topic_matches_sub

    from dashboard.ingest import subscriptions
    from edge_agent.core.topics import CAMERA_KINDS, Kind, kind_filter

    assert subscriptions("maskwatch", "g") == ["$share/g/maskwatch/#", "maskwatch/+/camera/+/status",
                                               "maskwatch/+/agent/+/available"]
    assert subscriptions("maskwatch", None) == ["maskwatch/#"]
    t = Topics("maskwatch", "hq")
    made = {Kind.AVAILABLE: t.available("pi"), Kind.SNAPSHOT: t.snapshot("door", "e1", 1), Kind.FACE: t.face("door", "e1")}
    made |= {k: t.camera("door", k) for k in CAMERA_KINDS if k not in made}
    for kind, topic in made.items():
        assert [k for k in made if topic_matches_sub(kind_filter("maskwatch", k), topic)] == [kind]
