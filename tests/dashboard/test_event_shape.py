"""The event shape is owned by ``edge_agent.events.ViolationEvent``: the dashboard's row, its JSON API and the
openapi schema derive from it (dashboard/event_shape.py, dashboard/api_schema.py), checked here both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import NoneType
from typing import get_args

from dashboard_support import event, raw, topic
from sqlalchemy import inspect

from dashboard.api_schema import event_schema
from dashboard.event_shape import BY_CAMERA, DASHBOARD_COLUMNS, NOT_STORED, STORED, event_row
from dashboard.ingest import Received
from dashboard.models import Event
from edge_agent.events import ViolationEvent, dump

FULL = ViolationEvent(site="hq", agent="pi-1", camera="door", time=datetime.now(UTC) - timedelta(minutes=1),
                      event_id="full", track_id=7, verdict="mask_incorrect", confidence=0.75, box=(10, 20, 110, 140),
                      frame_size=(1280, 720), votes=4, snapshot="maskwatch/hq/camera/door/snapshot/full", revision=2,
                      snapshot_region=(0, 0, 640, 360))


def test_every_payload_field_has_a_column_or_a_reason():
    fields = set(ViolationEvent.model_fields)
    assert set(NOT_STORED) <= fields and all(len(why) > 20 for why in NOT_STORED.values())
    assert set(STORED) == fields - set(NOT_STORED)
    columns = {c.name: c for c in inspect(Event).columns}
    row = event_row(FULL)
    assert set(row) <= set(columns), set(row) - set(columns)
    assert set(BY_CAMERA) <= set(STORED) and "camera_id" in columns
    # every column is a payload field's or the dashboard's own, never both, never neither
    assert set(row).isdisjoint(DASHBOARD_COLUMNS)
    assert set(row) | set(DASHBOARD_COLUMNS) == set(columns)


def _changed(v):  # type: ignore[no-untyped-def]
    """Another value of ``v``'s type (model_copy does not validate, so it need not be a valid one)."""
    if isinstance(v, datetime):
        return v - timedelta(days=1)
    if isinstance(v, tuple):
        return tuple(x + 1 for x in v)
    return v + ("x" if isinstance(v, str) else 1)


def columns_of(name: str) -> set[str]:
    """The columns payload field ``name`` fills: those that change when only that field does."""
    before, after = event_row(FULL), event_row(FULL.model_copy(update={name: _changed(getattr(FULL, name))}))
    return {c for c in before if before[c] != after[c]}


def test_each_stored_field_fills_its_own_columns_nullable_where_the_field_may_be_none():
    columns = {c.name: c for c in inspect(Event).columns}
    filled: set[str] = set()
    for name in STORED:
        if name in BY_CAMERA:
            continue
        cols = columns_of(name)
        assert cols and cols.isdisjoint(filled), name
        filled |= cols
        optional = NoneType in get_args(ViolationEvent.model_fields[name].annotation)
        assert all(columns[c].nullable == optional for c in cols), (name, cols)
    assert filled == set(event_row(FULL))


def test_the_api_serves_every_stored_payload_field_as_the_agent_sent_it(client, ingester):
    lean = event("lean")  # the test builder's: the payload's defaults
    ingester.process([Received(topic("event"), dump(FULL)), Received(topic("event"), raw(lean))])
    for sent in (FULL, ViolationEvent.model_validate(lean)):
        got = client.get(f"/api/v1/events/{sent.event_id}").get_json()
        assert set(got) == set(event_schema()["properties"])
        assert datetime.fromisoformat(got["time"]) == sent.time
        want = sent.model_dump(mode="json", exclude={"time", *NOT_STORED})
        assert {k: got[k] for k in want} == want


def test_the_openapi_event_schema_is_the_payloads_stored_fields_and_the_dashboards():
    schema = event_schema()
    payload = ViolationEvent.model_json_schema()
    assert [p for p in schema["properties"] if p in payload["properties"]] == list(STORED)
    assert set(schema["properties"]) - set(STORED) == {"camera_id", "received_at", "snapshot_url", "review"}
    assert set(payload["required"]) <= set(schema["required"])
