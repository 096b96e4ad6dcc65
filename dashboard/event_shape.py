"""The violation event as the dashboard keeps and serves it, derived from the one payload model,
:class:`edge_agent.events.ViolationEvent`: which ``events`` column holds each payload field (or why none does), the
row the ingest stores, the payload part of an event in the JSON API and its schema in ``openapi.yaml``.

Each payload field is stored and served as it is, unless :data:`ENCODE` / :data:`DECODE` say otherwise, so a new
payload field reaches the row and the API without another list to edit. A field that is not stored needs a
reason in :data:`NOT_STORED`; ``tests/test_event_shape.py`` fails until it has one, or a column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from edge_agent.events import ViolationEvent

#: payload fields the dashboard does not keep, and why
NOT_STORED: dict[str, str] = {
    "schema_": "the payload's version: checked when the message is parsed; rows have no version of their own",
    "snapshot": "the snapshot's topic: the JPEG is kept by event_id in the snapshots table (it may come first), "
                "and the API serves its URL (snapshot_url)",
}
#: payload fields the camera row holds (``events.camera_id``): the ingest finds or creates it by (site, camera)
BY_CAMERA = ("site", "camera")
#: the payload fields of an event row, in the payload's order
STORED: tuple[str, ...] = tuple(f for f in ViolationEvent.model_fields if f not in NOT_STORED)
#: columns of the ``events`` table that are the dashboard's own (not from a payload field)
DASHBOARD_COLUMNS: dict[str, str] = {
    "id": "primary key",
    "camera_id": "the camera row of (site, camera)",
    "received_at": "when the ingest stored it: retention's time basis",
    "agent_time": "the agent's time stamp when it was out of bounds (dashboard.clock_bounds)",
    "review": "an operator's review (dashboard.review)", "review_label": "the right label when relabelled",
    "reviewed_by": "who reviewed", "reviewed_at": "when",
}


def _join(v: Sequence[int] | None) -> str | None:
    return None if v is None else ",".join(str(int(x)) for x in v)


def _split(v: str | None) -> list[int] | None:
    return None if v is None else [int(x) for x in v.split(",")]


def _iso(v: datetime) -> str:
    return v.isoformat()


#: payload field -> its columns, where it is not one column of the same name
ENCODE: dict[str, Callable[[Any], dict[str, Any]]] = {
    "box": lambda v: {"box": _join(v)},  # "x1,y1,x2,y2"
    "frame_size": lambda v: {"frame_w": v[0], "frame_h": v[1]},
    "snapshot_region": lambda v: {"snapshot_region": _join(v)},
}
#: payload field -> its JSON value read back from an ``Event`` row, where it is not the column's value
DECODE: dict[str, Callable[[Any], Any]] = {
    "site": lambda e: e.camera.site,
    "camera": lambda e: e.camera.name,
    "time": lambda e: _iso(e.time),
    "box": lambda e: _split(e.box),
    "frame_size": lambda e: [e.frame_w, e.frame_h],
    "snapshot_region": lambda e: _split(e.snapshot_region),
}


def event_row(e: ViolationEvent) -> dict[str, Any]:
    """The ``events`` columns that come from the payload (``camera_id`` and ``received_at`` are the ingest's)."""
    row: dict[str, Any] = {}
    for name in STORED:
        if name not in BY_CAMERA:
            value = getattr(e, name)
            row.update(ENCODE[name](value) if name in ENCODE else {name: value})
    return row


def payload_json(e: Any) -> dict[str, Any]:
    """The payload's fields of an ``Event`` row (with its camera), as the JSON API serves them."""
    return {name: DECODE[name](e) if name in DECODE else getattr(e, name) for name in STORED}
