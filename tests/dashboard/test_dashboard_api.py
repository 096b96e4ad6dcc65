"""JSON API: token auth, filters, and every response checked against dashboard/openapi.yaml."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from dashboard_support import login

from dashboard.auth import create_token
from dashboard.db import session_factory
from dashboard.ingest import Ingester
from tests.dashboard.test_dashboard_web import seed

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "dashboard" / "openapi.yaml").read_text())


def check(instance, ref):
    schema = {"$ref": f"#/components/schemas/{ref}", "components": SPEC["components"]}
    jsonschema.validate(instance, schema, cls=jsonschema.Draft202012Validator)


def check_response(path, status, body):
    op = SPEC["paths"][path]["get"]
    resp = op["responses"][str(status)]
    if "$ref" in resp:
        resp = SPEC["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
    schema = {**resp["content"]["application/json"]["schema"], "components": SPEC["components"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


def seed_events(app, tmp_path) -> None:  # noqa: ANN001
    seed(Ingester(app.extensions["maskwatch"]["engine"], tmp_path / "snapshots", "maskwatch", name="t"))


pytestmark = pytest.mark.app(seed=seed_events)


@pytest.fixture
def token(app):
    with session_factory(app.extensions["maskwatch"]["engine"])() as db:
        return create_token(db, "manager", "ci")


def test_openapi_documents_exactly_the_api_routes(app):
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule) for r in app.url_map.iter_rules()
              if r.rule.startswith("/api/")}
    assert routes == set(SPEC["paths"])
    jsonschema.Draft202012Validator.check_schema({"components": SPEC["components"]})


def test_token_auth(app, token):
    c = app.test_client()
    assert c.get("/api/v1/cameras", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert c.get("/api/v1/cameras", headers={"Authorization": "Bearer mw_wrong"}).status_code == 401
    assert c.get("/api/v1/cameras", headers={"Authorization": token}).status_code == 401
    assert not token.startswith("mw_") or len(token) > 30


def test_token_is_stored_hashed(app, token):
    db_file = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    assert token.encode() not in db_file.read_bytes()


def test_responses_match_the_openapi_document(app, token):
    c = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    cams = c.get("/api/v1/cameras", headers=h).get_json()
    check_response("/api/v1/cameras", 200, cams)
    assert {x["name"]: x["state"] for x in cams["items"]} == {"door": "online", "lobby": "offline"}
    door = next(x for x in cams["items"] if x["name"] == "door")
    assert door["today"]["compliance"] == 0.75 and door["today"]["people"] == 40
    ev = c.get("/api/v1/events?per_page=7&page=2&verdict=without_mask", headers=h).get_json()
    check_response("/api/v1/events", 200, ev)
    assert ev["total"] == 80 and len(ev["items"]) == 7 and ev["pages"] == 12
    one = c.get("/api/v1/events/e0", headers=h).get_json()
    check_response("/api/v1/events/{event_id}", 200, one)
    assert one["snapshot_url"] == "/snapshots/e0.jpg"
    for q in ("", "?bucket=day&days=30", "?bucket=week&days=365&camera=1"):
        st = c.get("/api/v1/stats" + q, headers=h).get_json()
        check_response("/api/v1/stats", 200, st)
    assert st["people"]["with_mask"] == 30 and sum(st["busiest_hours"]) == 40
    check_response("/api/v1/ingest", 200, c.get("/api/v1/ingest", headers=h).get_json())
    bad = c.get("/api/v1/events?since=yesterday", headers=h)
    assert bad.status_code == 400 and "since" in bad.get_json()["error"]
    check_response("/api/v1/events", 400, bad.get_json())
    missing = c.get("/api/v1/events/nope", headers=h)
    check_response("/api/v1/events/{event_id}", 404, missing.get_json())
    assert c.get("/api/v1/openapi.yaml", headers=h).data.startswith(b"openapi: 3.1")


def test_session_login_also_works_for_the_api(app):
    c = app.test_client()
    login(c)
    assert c.get("/api/v1/events").status_code == 200
