"""The ``Event`` schema of ``dashboard/openapi.yaml``, generated from the payload model: the payload's fields as
:mod:`dashboard.event_shape` serves them (their JSON Schema from :class:`edge_agent.events.ViolationEvent`) and
the dashboard's own. ``python -m edge_agent.schemas`` rewrites the block between the markers; the schemas-current
test fails when it is stale. The rest of openapi.yaml is written by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dashboard.event_shape import STORED
from edge_agent.core.labels import LABELS
from edge_agent.events import ViolationEvent

OPENAPI = Path(__file__).parent / "openapi.yaml"
INDENT = "    "  # components.schemas.<name>
BEGIN = f"{INDENT}# BEGIN generated from edge_agent.events.ViolationEvent by `python -m edge_agent.schemas`; do not edit\n"
END = f"{INDENT}# END generated\n"

#: descriptions that differ in the API from the payload's (the dashboard keeps the highest revision)
API_DESCRIPTIONS = {"revision": "Highest revision received (a better snapshot, docs/mqtt.md)"}


def _dashboard_properties() -> dict[str, Any]:
    from dashboard.review import ACTIONS

    return {
        "camera_id": {"type": "integer"},
        "received_at": {"type": "string", "format": "date-time"},
        "snapshot_url": {"type": ["string", "null"], "description": "Snapshot JPEG (same authentication); null if none"},
        "review": {
            "type": ["object", "null"],
            "description": "An operator's review (confirmed / false_positive / relabelled), who and when",
            "required": ["action", "label", "by", "at"],
            "properties": {
                "action": {"type": "string", "enum": list(ACTIONS)},
                "label": {"type": ["string", "null"], "enum": [*LABELS, None]},
                "by": {"type": ["string", "null"]},
                "at": {"type": ["string", "null"], "format": "date-time"},
            },
        },
    }


def _plain(schema: Any) -> Any:
    """Pydantic's schema without its noise: no titles or defaults (the API always sends every key), and a tuple of
    one type (``box``) as ``items`` rather than one ``prefixItems`` entry per position."""
    if isinstance(schema, list):
        return [_plain(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _plain(v) for k, v in schema.items() if k not in ("title", "default")}
    prefix = out.get("prefixItems")
    if prefix and all(p == prefix[0] for p in prefix):
        out["items"] = out.pop("prefixItems")[0]
    return out


def event_schema() -> dict[str, Any]:
    """The API's event: every stored payload field (required where the payload requires it) and the dashboard's."""
    model = ViolationEvent.model_json_schema(mode="serialization")
    props: dict[str, Any] = {}
    for name in STORED:
        prop = _plain(model["properties"][name])
        if name in API_DESCRIPTIONS:
            prop["description"] = API_DESCRIPTIONS[name]
        props[name] = prop
    required = [n for n in STORED if n in model.get("required", [])] + ["camera_id", "received_at"]
    return {"type": "object", "required": required, "properties": {**props, **_dashboard_properties()}}


def render(text: str) -> str:
    """``text`` (openapi.yaml) with the generated block replaced by the current schema."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"{OPENAPI.name}: the generated-block markers are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = yaml.safe_dump({"Event": event_schema()}, sort_keys=False, default_flow_style=None, width=110)
    return head + BEGIN + "".join(INDENT + line + "\n" for line in body.splitlines()) + END + tail


def expected_files(repo_root: Path) -> dict[Path, str]:
    """For ``edge_agent.schemas``: the generated files this module owns and their expected content."""
    return {OPENAPI: render(OPENAPI.read_text(encoding="utf-8"))}
