"""The review loop end to end: events with face crops arrive at the ingest (real SQLite), an operator reviews
them on the event page (confirm / false positive / relabel; who and when recorded), statistics apply the
reviews, `maskwatch dashboard export-reviewed` writes a class-folder data set and `maskwatch train`'s
folder importer trains a tiny model on it with no code change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from dashboard_support import add_user, csrf_from, event, login, make_app, maskwatch, raw, topic, write_config
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.ingest import Ingester, Received
from dashboard.models import Event
from dashboard.statistics import report
from edge_agent.sources.demo import draw_mask, packaged_faces

pytestmark = pytest.mark.timeout(300)
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)


def face_jpegs(label: str, n: int, seed: int) -> list[bytes]:
    """``n`` photos of a real face wearing ``label``, each a little different (scale, shift, light, mirror)."""
    rng = np.random.default_rng(seed)
    out = []
    faces = packaged_faces()
    for i in range(n):
        face = faces[i % len(faces)]
        img = draw_mask(face, label)
        x1, y1, x2, y2 = face.box
        side = max(x2 - x1, y2 - y1)
        m = int(side * rng.uniform(0.35, 0.6))
        dx, dy = (int(v) for v in rng.integers(-side // 10, side // 10 + 1, 2))
        h, w = img.shape[:2]
        crop = img[max(0, y1 - m + dy):min(h, y2 + m + dy), max(0, x1 - m + dx):min(w, x2 + m + dx)]
        crop = np.clip(crop.astype(np.float32) * rng.uniform(0.75, 1.2), 0, 255).astype(np.uint8)
        if i % 2:
            crop = crop[:, ::-1]
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(crop), [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        out.append(buf.tobytes())
    return out


# (agent's verdict, what the operator says, true label) x count
PLAN = [("without_mask", "confirmed", "without_mask", 8), ("mask_incorrect", "relabelled", "with_mask", 8),
        ("without_mask", "relabelled", "mask_incorrect", 8), ("without_mask", "false_positive", None, 2),
        ("without_mask", None, None, 2)]


@pytest.fixture
def reviewed(tmp_path: Path):
    app = make_app(tmp_path)
    engine = app.extensions["maskwatch"]["engine"]
    ing = Ingester(engine, tmp_path / "snapshots", "maskwatch", name="test")
    msgs, plan = [], []
    for k, (verdict, action, truth, n) in enumerate(PLAN):
        true_face = truth or verdict
        for j, jpeg in enumerate(face_jpegs(true_face, n, seed=k)):
            eid = f"ev{k}x{j}"
            t = (HOUR + timedelta(minutes=k * 5 + j)).isoformat()
            msgs += [Received(topic("event"), raw(event(eid, verdict=verdict, time=t))),
                     Received(f"maskwatch/hq/camera/door/face/{eid}", jpeg)]
            plan.append((eid, action, truth))
    ing.process(msgs)
    add_user(app, "operator1")
    client = app.test_client()
    login(client, "operator1")
    for eid, action, truth in plan:
        if action is None:
            continue
        page = client.get(f"/events/{eid}")
        assert page.status_code == 200
        r = client.post(f"/events/{eid}/review", data={"review": action, "label": truth or "",
                                                       "csrf_token": csrf_from(page.get_data(as_text=True))})
        assert r.status_code == 302, r.get_data(as_text=True)
    return app, engine, plan, tmp_path


def test_reviews_record_who_and_when_and_show_on_the_page(reviewed) -> None:
    app, engine, plan, _ = reviewed
    with Session(engine) as db:
        events = {e.event_id: e for e in db.scalars(select(Event))}
    for eid, action, truth in plan:
        e = events[eid]
        assert (e.review, e.review_label) == (action, truth if action == "relabelled" else None)
        assert (e.reviewed_by is None) == (action is None)
        if action:
            assert e.reviewed_by == "operator1" and datetime.now(UTC) - e.reviewed_at < timedelta(minutes=5)
    client = app.test_client()
    login(client, "operator1")
    html = client.get("/events/ev1x0").get_data(as_text=True)
    assert "relabelled as" in html and "operator1" in html
    doc = client.get("/api/v1/events/ev1x0").get_json()
    assert doc["review"]["action"] == "relabelled" and doc["review"]["label"] == "with_mask"
    assert doc["review"]["by"] == "operator1" and doc["revision"] == 0
    from dashboard.models import AccessLog

    with Session(engine) as db:  # the audit trail (access log until the team dashboard's audit log)
        rows = list(db.scalars(select(AccessLog).where(AccessLog.action == "review")))
    assert len(rows) == sum(1 for _, a, _ in plan if a) and {r.user for r in rows} == {"operator1"}
    assert any("ev1x0: relabelled as with_mask" in r.target for r in rows)


@pytest.mark.parametrize(("form", "word"), [({"review": "maybe"}, "confirmed, false_positive, relabelled"),
                                            ({"review": "relabelled", "label": "hat"}, "with_mask"),
                                            ({"review": "relabelled", "label": "without_mask"}, "already")])
def test_a_bad_review_is_refused_naming_the_allowed_values(reviewed, form, word) -> None:
    app, *_ = reviewed
    client = app.test_client()
    login(client, "operator1")
    page = client.get("/events/ev0x0")
    r = client.post("/events/ev0x0/review", data={**form, "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert r.status_code == 400 and word in r.get_data(as_text=True)


def test_review_needs_a_login(reviewed) -> None:
    app, engine, *_ = reviewed
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))  # a valid form, but nobody logged in
    r = client.post("/events/ev4x0/review", data={"review": "confirmed", "csrf_token": token})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    with Session(engine) as db:
        assert db.scalar(select(Event.review).where(Event.event_id == "ev4x0")) is None


def test_statistics_apply_the_reviews(reviewed) -> None:
    _, engine, _, _ = reviewed
    with Session(engine) as db:
        from dashboard.models import Camera

        cams = list(db.scalars(select(Camera)))
        args = (db, "UTC", "day", HOUR - timedelta(days=1), HOUR + timedelta(days=1), cams)
        agents, corrected = report(*args, apply_reviews=False), report(*args)
    assert agents.events == {"without_mask": 20, "mask_incorrect": 8}
    # 8 mask_incorrect were with_mask (out), 8 without_mask were mask_incorrect (moved), 2 false positives out
    assert corrected.events == {"without_mask": 10, "mask_incorrect": 8}


def test_export_reviewed_then_train_on_it(reviewed) -> None:
    app, _, plan, tmp = reviewed
    cfg = write_config(tmp / "config.yaml", db_url=app.config["DATABASE_URL"], snapshot_dir=tmp / "snapshots")
    out = tmp / "export"
    r = maskwatch("dashboard", "export-reviewed", "--out", str(out), "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "exported 24 reviewed faces" in r.stdout
    counts = {d.name: len(list(d.glob("*.jpg"))) for d in out.iterdir()}
    assert counts == {"without_mask": 8, "with_mask": 8, "mask_incorrect": 8}
    from dashboard.models import AccessLog

    with Session(app.extensions["maskwatch"]["engine"]) as db:
        (row,) = db.scalars(select(AccessLog).where(AccessLog.action == "export_reviewed"))
    assert row.user.startswith("cli:") and "24 faces" in row.target
    again = maskwatch("dashboard", "export-reviewed", "--out", str(out), "--config", str(cfg))
    assert again.returncode == 0 and {d.name: len(list(d.glob("*.jpg"))) for d in out.iterdir()} == counts

    pytest.importorskip("tensorflow")
    from trainer.options import parse_options
    from trainer.pipeline import run_training

    opts = parse_options({
        "sources": [{"type": "folders", "path": str(out)}], "architecture": "tiny", "input_size": 32,
        "epochs": 1, "batch_size": 8, "runs_dir": str(tmp / "runs"), "cache_dir": str(tmp / "cache"),
        "representative_per_class": 4, "val_fraction": 0.2, "test_fraction": 0.2,
    })
    run_dir = run_training(opts, "reviewed")
    card = json.loads((run_dir / "model_card.json").read_text())
    assert card["labels"] == ["with_mask", "without_mask", "mask_incorrect"]
    assert (run_dir / "mask_classifier_int8.tflite").is_file()
    (source,) = card["datasets"]
    assert source["files"] == 24 and sum(source["faces"].values()) >= 22, source  # faces found in the crops
    assert card["metrics"]["int8"]["test"]["n"] > 0
