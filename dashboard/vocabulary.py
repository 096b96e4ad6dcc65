"""The dashboard's view of the core's label vocabulary (``edge_agent.core.labels``), derived, never restated.

- the roll-up columns (``hourly_counts.people_<label>`` for every label, ``events_<label>`` for every
  violation; ``stat_samples.<label>``), used by the store, the roll-up rebuild and the statistics;
- what the front end needs (label ids in order, the violation set, display names, chart colours; the agent
  availability values of ``edge_agent.core.topics``, and which of them mean the agent is down), given to every
  template as the global ``vocab`` and rendered once into ``base.html`` as JSON for ``static/*.js``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from flask import Flask

from edge_agent.core.labels import (
    DISPLAY_NAMES,
    LABELS,
    MASK_INCORRECT,
    VIOLATION_LABELS,
    WITH_MASK,
    WITHOUT_MASK,
)
from edge_agent.core.topics import AVAILABILITY_VALUES, OFFLINE, ONLINE, STOPPED

#: ``hourly_counts`` column of the people counted per label.
PEOPLE_COLS: Mapping[str, str] = MappingProxyType({label: f"people_{label}" for label in LABELS})
#: ``hourly_counts`` column of the violation events counted per violation label.
EVENT_COLS: Mapping[str, str] = MappingProxyType({label: f"events_{label}" for label in VIOLATION_LABELS})
#: Every counter column of ``hourly_counts``, people first.
HOURLY_COLS: tuple[str, ...] = (*PEOPLE_COLS.values(), *EVENT_COLS.values())
#: ``stat_samples`` holds one column per label, named as the label.
SAMPLE_COLS: tuple[str, ...] = LABELS

#: Chart colour per label (presentation only; one entry per core label, checked by a test).
COLOURS: Mapping[str, str] = MappingProxyType({WITH_MASK: "#1a7f37", WITHOUT_MASK: "#c62828", MASK_INCORRECT: "#b26a00"})


def vocabulary() -> dict[str, Any]:
    """What pages and scripts know about labels: ``labels`` (ids in order), ``violations``, ``names``, ``colours``;
    and about availability: ``availability`` (the values), ``online`` and ``agent_down`` (an agent's camera
    badge then shows the agent's state instead of the camera's last one)."""
    return {
        "labels": list(LABELS),
        "violations": list(VIOLATION_LABELS),
        "names": dict(DISPLAY_NAMES),
        "colours": {label: COLOURS[label] for label in LABELS},
        "availability": list(AVAILABILITY_VALUES),
        "online": ONLINE,
        "agent_down": [OFFLINE, STOPPED],
    }


def init_app(app: Flask) -> None:
    """``vocab`` as a template global (globals reach imported macros, context processors do not)."""
    app.jinja_env.globals["vocab"] = vocabulary()
