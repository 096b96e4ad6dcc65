"""The ingest's camera claims (dashboard.camera_claims) on a real SQLite file: a camera belongs to the agent that
reports it while that agent is online and reports it; another agent's messages for it are refused and counted.
The end-to-end case through the shipped broker is tests/faults/test_faults_custody.py."""

from __future__ import annotations

from dashboard_support import event, jpeg, raw, stats, status, topic
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.camera_claims import CameraClaims
from dashboard.db import make_engine, upgrade
from dashboard.ingest import Ingester, Received
from dashboard.models import Camera, Event, Snapshot


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def ingester(tmp_path, hold_s: float = 300.0) -> tuple[Ingester, Clock]:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    ing = Ingester(engine, tmp_path / "snaps", "maskwatch", name="claims", camera_claim_s=hold_s)
    clock = Clock()
    assert ing.claims is not None
    ing.claims.clock = clock
    return ing, clock


def send(ing: Ingester, *items: tuple[str, bytes]) -> None:
    ing.process([Received(t, p, qos=1) for t, p in items])


def online(agent: str) -> tuple[str, bytes]:
    return f"maskwatch/hq/agent/{agent}/available", b"online"


def stored(ing: Ingester) -> set[str]:
    with Session(ing.engine) as db:
        return set(db.scalars(select(Event.event_id)))


def owner(ing: Ingester) -> str | None:
    with Session(ing.engine) as db:
        return db.scalar(select(Camera.agent).where(Camera.name == "door"))


def test_a_second_agent_is_refused_while_the_online_owner_reports_the_camera(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ing, clock = ingester(tmp_path)
    send(ing, online("a1"), (topic("event"), raw(event("mine", agent="a1"))))
    clock.t += 60
    send(ing, online("a2"), (topic("event"), raw(event("forged", agent="a2"))),
         (topic("snapshot", event_id="forged"), jpeg()),
         (topic("stats"), raw(stats(agent="a2"))), (topic("status"), raw(status(state="offline", agent="a2"))))
    assert stored(ing) == {"mine"}
    assert ing.counters["rejected_agent_mismatch"] == 4
    assert owner(ing) == "a1"
    with Session(ing.engine) as db:
        assert db.scalar(select(Camera.state).where(Camera.name == "door")) == "unknown"
        assert not list(db.scalars(select(Snapshot)))
    send(ing, (topic("event"), raw(event("mine2", agent="a1"))))  # the owner goes on
    assert stored(ing) == {"mine", "mine2"}


def test_the_camera_moves_when_its_owner_stops_or_falls_silent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ing, clock = ingester(tmp_path, hold_s=300)
    send(ing, online("a1"), online("a2"), (topic("event"), raw(event("one", agent="a1"))))
    send(ing, ("maskwatch/hq/agent/a1/available", b"stopped"), (topic("event"), raw(event("two", agent="a2"))))
    assert stored(ing) == {"one", "two"} and owner(ing) == "a2"
    send(ing, online("a1"), (topic("event"), raw(event("three", agent="a1"))))  # a2 holds it now
    assert "three" not in stored(ing)
    clock.t += 301  # a2 silent for longer than hold_s: a1 may take it back although a2 is online
    send(ing, (topic("event"), raw(event("four", agent="a1"))))
    assert "four" in stored(ing) and owner(ing) == "a1"
    assert ing.counters["rejected_agent_mismatch"] == 1


def test_a_restarted_ingest_keeps_the_pins_from_the_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ing, _ = ingester(tmp_path)
    send(ing, online("a1"), (topic("event"), raw(event("mine", agent="a1"))))
    again, _ = ingester(tmp_path)  # the same database, a new process
    send(again, (topic("event"), raw(event("forged", agent="a2"))))
    assert stored(again) == {"mine"}
    assert again.counters["rejected_agent_mismatch"] == 1


def test_without_the_owners_availability_nothing_is_refused() -> None:
    """An agent whose availability was never seen online (an older agent, a test publisher) holds nothing."""
    claims = CameraClaims(300, clock=lambda: 0.0)
    from dashboard.messages import EventMsg
    from edge_agent.events import ViolationEvent

    first = EventMsg(ViolationEvent.model_validate(event("x", agent="a1")))
    second = EventMsg(ViolationEvent.model_validate(event("y", agent="a2")))
    assert claims.check(first, "t") is None
    assert claims.check(second, "t") is None
    assert claims.owners[("hq", "door")][0] == "a2"


def test_the_check_is_off_with_null(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    ing = Ingester(engine, tmp_path / "snaps", "maskwatch", camera_claim_s=None)
    send(ing, online("a1"), (topic("event"), raw(event("mine", agent="a1"))),
         (topic("event"), raw(event("other", agent="a2"))))
    assert stored(ing) == {"mine", "other"}
