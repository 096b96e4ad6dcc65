"""Core owns the label vocabulary; the payloads, dashboard, trainer and front end derive it (issue 15)."""

from __future__ import annotations

import html as html_lib
import json
import re
from dataclasses import fields
from pathlib import Path
from typing import get_args

import pytest
from dashboard_support import add_user, event, login, make_app, raw, stats, status, topic

from dashboard.ingest import Ingester, Received
from dashboard.models import HourlyCount, StatSample
from dashboard.statistics import Tally
from dashboard.vocabulary import COLOURS, EVENT_COLS, HOURLY_COLS, PEOPLE_COLS, vocabulary
from edge_agent.core.labels import (
    DISPLAY_NAMES,
    LABEL_IDS,
    LABELS,
    VIOLATION_LABELS,
    VIOLATIONS,
    check_labels,
)
from edge_agent.core.topics import AVAILABILITY_VALUES, NAME_PATTERN
from edge_agent.events import CameraStats, ViolationEvent
from edge_agent.model_card import ModelCard
from trainer.options import TrainerOptions

REPO = Path(__file__).resolve().parents[2]


def test_core_definitions_agree():
    assert {label: i for i, label in enumerate(LABELS)} == LABEL_IDS
    assert VIOLATION_LABELS == ("without_mask", "mask_incorrect") and set(VIOLATION_LABELS) == VIOLATIONS
    assert set(DISPLAY_NAMES) == set(LABELS) == set(COLOURS)
    assert AVAILABILITY_VALUES == ("online", "offline", "stopped")


def test_payload_literals_are_the_core_labels():
    assert get_args(ViolationEvent.model_fields["verdict"].annotation) == VIOLATION_LABELS
    assert get_args(get_args(CameraStats.model_fields["people"].annotation)[0]) == LABELS
    assert json.loads((REPO / "edge_agent/schemas/violation.schema.json").read_text()
                      )["properties"]["camera"]["pattern"] == NAME_PATTERN


@pytest.mark.parametrize("labels", [["with_mask"], ["with_mask", "with_mask"], ["with_mask", "beard"]])
def test_one_label_validation_for_model_card_and_trainer(labels):
    with pytest.raises(ValueError) as core_err:
        check_labels(labels)
    card = {"model_file": "m.tflite", "labels": labels, "crop": {"size": 64, "margin": 0.1}, "input_size": 64}
    with pytest.raises(ValueError, match=re.escape(str(core_err.value))):
        ModelCard.model_validate(card)
    with pytest.raises(ValueError, match=re.escape(str(core_err.value))):
        TrainerOptions.model_validate({"labels": labels})
    assert TrainerOptions().labels == list(LABELS)


def test_roll_up_columns_follow_the_labels():
    hourly = {c.name for c in HourlyCount.__table__.columns} - {"id", "camera_id", "hour"}
    assert hourly == set(HOURLY_COLS) == {f"people_{x}" for x in LABELS} | {f"events_{x}" for x in VIOLATION_LABELS}
    assert set(LABELS) <= {c.name for c in StatSample.__table__.columns}
    t = Tally()
    assert set(t.people_by) == set(PEOPLE_COLS) and set(t.events_by) == set(EVENT_COLS)
    assert [f.name for f in fields(Tally)] == ["people_by", "events_by"]


def test_pages_take_display_names_from_the_core(tmp_path):
    app = make_app(tmp_path)
    add_user(app)
    Ingester(app.extensions["maskwatch"]["engine"], tmp_path / "snapshots", "maskwatch", name="t").process([
        Received(topic("event"), raw(event("e1", verdict="mask_incorrect"))),
        Received(topic("stats"), raw(stats(people={"with_mask": 3, "without_mask": 1}))),
    ])
    client = app.test_client()
    assert login(client).status_code == 302
    page = client.get("/violations").get_data(as_text=True)
    blob = re.search(r'<script type="application/json" id="maskwatch-vocab">(.*?)</script>', page, re.S)
    assert blob and json.loads(html_lib.unescape(blob.group(1))) == vocabulary()
    assert f'<span class="verdict mask_incorrect">{DISPLAY_NAMES["mask_incorrect"]}</span>' in page
    for v in VIOLATION_LABELS:  # the verdict filter lists the core's violations by their display names
        assert re.search(rf'<option value="{v}"\s*>{DISPLAY_NAMES[v]}</option>', page)
    stats_page = client.get("/statistics").get_data(as_text=True)
    assert DISPLAY_NAMES["without_mask"].capitalize() in stats_page


def test_front_end_holds_no_copy_of_the_labels():
    for path in [*(REPO / "dashboard/static").glob("*.js"), *(REPO / "dashboard/templates").glob("*.html")]:
        text = path.read_text()
        for name in DISPLAY_NAMES.values():
            if name != "mask":  # "mask" is also ordinary prose
                assert f'"{name}"' not in text and f"'{name}'" not in text and f">{name}<" not in text, path.name


def test_topic_kinds_key_payloads_and_schema_files():
    from edge_agent.core.topics import Kind, Topics, parse_topic
    from edge_agent.events import JSON_PAYLOADS
    from edge_agent.schemas import FILES, load

    assert set(JSON_PAYLOADS) == set(FILES) == {Kind.EVENT, Kind.STATS, Kind.STATUS}
    assert all(isinstance(k, Kind) for k in JSON_PAYLOADS)
    assert JSON_PAYLOADS["event"] is JSON_PAYLOADS[Kind.EVENT]  # a kind equals its topic level string
    assert load("stats") == load(Kind.STATS)
    parsed = parse_topic("maskwatch", Topics("maskwatch", "hq").camera("door", "stats"))
    assert parsed is not None and parsed.kind is Kind.STATS


def test_the_api_document_lists_the_core_labels():
    """dashboard/openapi.yaml: the Event schema is generated (dashboard.api_schema), the rest hand-written; its label
    lists must match."""
    import yaml

    spec = yaml.safe_load((REPO / "dashboard/openapi.yaml").read_text())
    schemas = spec["components"]["schemas"]
    verdict_params = [p for path in spec["paths"].values() for op in path.values() if isinstance(op, dict)
                      for p in op.get("parameters", []) if p.get("name") == "verdict"]
    assert verdict_params and all(p["schema"]["enum"] == list(VIOLATION_LABELS) for p in verdict_params)
    assert schemas["Event"]["properties"]["verdict"]["enum"] == list(VIOLATION_LABELS)
    assert schemas["Stats"]["properties"]["people"]["required"] == list(LABELS)
    assert schemas["Stats"]["properties"]["events"]["required"] == list(VIOLATION_LABELS)
    today = schemas["Camera"]["properties"]["today"]
    assert [k for k in today["required"] if k in LABELS] == list(LABELS)


def test_home_assistant_count_sensors_follow_the_labels():
    from dashboard.homeassistant import COUNTS, LABEL_SENSORS

    assert set(LABEL_SENSORS) == set(LABELS)
    assert [key for key, _, _ in COUNTS if key not in LABELS] == ["people", "violations"]
    assert [key for key, _, _ in COUNTS if key in LABELS] == list(LABELS)


@pytest.mark.parametrize("availability, badge", [("online", "online"), ("offline", "agent offline"),
                                                 ("stopped", "agent stopped")])
def test_availability_values_come_from_the_core(tmp_path, availability, badge):
    """The pages and the API document take the agent availability values from ``edge_agent.core.topics``: an
    agent that is down shows on its cameras' badges whatever the camera last said."""
    import yaml

    vocab = vocabulary()
    assert vocab["availability"] == list(AVAILABILITY_VALUES) and vocab["online"] in AVAILABILITY_VALUES
    assert set(vocab["agent_down"]) == set(AVAILABILITY_VALUES) - {vocab["online"]}
    spec = yaml.safe_load((REPO / "dashboard/openapi.yaml").read_text())
    camera = spec["components"]["schemas"]["Camera"]["properties"]
    assert camera["agent_availability"]["enum"] == [*AVAILABILITY_VALUES, None]
    for path in (REPO / "dashboard/templates").glob("*.html"):
        assert "('offline', 'stopped')" not in path.read_text(), path.name

    app = make_app(tmp_path)
    add_user(app)
    Ingester(app.extensions["maskwatch"]["engine"], tmp_path / "snapshots", "maskwatch", name="t").process([
        Received(topic("status"), raw(status())), Received(topic("available"), availability.encode())])
    client = app.test_client()
    assert login(client).status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert re.search(rf'<span class="badge {"ok" if badge == "online" else "bad"}"[^>]*>{badge}</span>', page), page


def test_one_name_pattern_for_topics_dashboard_sites_and_the_installer():
    """The installer (bash, which cannot import it) states the core's NAME_PATTERN once; the dashboard's site
    restriction is that pattern or "*"."""
    from dashboard.auth import SITE_NAME

    install = (REPO / "deploy/install.sh").read_text()
    assert re.findall(r"^NAME_RE='(.*)'$", install, re.M) == [NAME_PATTERN]
    assert "[A-Za-z0-9][A-Za-z0-9_.-]" not in install.replace(f"NAME_RE='{NAME_PATTERN}'", "")
    for name, ok in [("*", True), ("hq", True), ("a.b-c_1", True), ("x" * 64, True), ("x" * 65, False),
                     ("-hq", False), ("h q", False), ("hq/1", False), ("**", False)]:
        assert bool(SITE_NAME.match(name)) is ok, name
