"""The review loop: an operator marks a violation confirmed, a false positive, or relabelled; reviewed face
crops are exported as a class-folder data set that ``maskwatch train --folders`` imports unchanged.

- ``confirmed``: the verdict was right; the face is training data for that verdict.
- ``false_positive``: there was no violation to see (not a face, a photo on a poster, nobody there); the
  event leaves the statistics when corrections are applied and is not exported.
- ``relabelled``: a face, but the verdict was wrong: ``label`` says what the person wore (``with_mask``
  included). Statistics move the person to that label; the face is exported under it.

Who and when are stored on the event and written to the audit trail through
``dashboard.access_log.record_action`` (the one function the team dashboard's audit log is to take over) and
the ``maskwatch.audit`` logger. Pure database work, no Flask.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.models import Event, FaceCrop
from dashboard.vocabulary import EVENT_COLS, PEOPLE_COLS
from edge_agent.core.labels import LABELS

log = logging.getLogger(__name__)
audit_log = logging.getLogger("maskwatch.audit")

ACTIONS = ("confirmed", "false_positive", "relabelled")


class ReviewError(ValueError):
    """A review that cannot be recorded (unknown action or label); the message names the allowed values."""


def audit(db: Session, user: str, action: str, detail: str) -> None:
    """Record who did what, in the caller's transaction (``access_log.record_action``) and in the log."""
    from dashboard import access_log

    access_log.record_action(db.connection(), user, action, detail[:255])
    audit_log.info("user=%s action=%s %s", user, action, detail)


def review_event(db: Session, event: Event, action: str, user: str, label: str | None = None,
                 now: datetime | None = None) -> Event:
    """Store the review on the event (a later review replaces an earlier one) and audit it. Commits."""
    if action not in ACTIONS:
        raise ReviewError(f"review must be one of {', '.join(ACTIONS)}, got {action!r}")
    if action == "relabelled":
        if label not in LABELS:
            raise ReviewError(f"relabelled needs a label, one of {', '.join(LABELS)}, got {label!r}")
        if label == event.verdict:
            raise ReviewError(f"the event is already {label}: use 'confirmed'")
    else:
        label = None
    event.review, event.review_label = action, label
    event.reviewed_by, event.reviewed_at = user, now or datetime.now(UTC)
    audit(db, user, "review", f"event {event.event_id}: {action}" + (f" as {label}" if label else ""))
    db.commit()
    return event


def true_label(event: Event) -> str | None:
    """What the reviewed face shows: the verdict if confirmed, the new label if relabelled, else ``None``."""
    if event.review == "confirmed":
        return event.verdict
    if event.review == "relabelled":
        return event.review_label
    return None


def corrections(db: Session, start: datetime, end: datetime, camera_ids: list[int]) -> list[tuple[Any, ...]]:
    """What the reviews change in the hourly roll-up for [start, end): rows shaped like ``hourly_counts``
    (camera id, UTC hour, people per label, events per violation label; ``dashboard.vocabulary``), to be
    added to it. A false positive leaves the counts; a relabelled person moves to the new label."""
    people = {label: i for i, label in enumerate(PEOPLE_COLS)}
    events = {label: len(people) + i for i, label in enumerate(EVENT_COLS)}
    out: list[tuple[Any, ...]] = []
    q = select(Event.camera_id, Event.time, Event.verdict, Event.review, Event.review_label).where(
        Event.review.in_(("false_positive", "relabelled")), Event.time >= start, Event.time < end,
        Event.camera_id.in_(camera_ids))
    for cid, t, verdict, action, label in db.execute(q):
        d = [0] * (len(people) + len(events))
        for index in (people.get(verdict), events.get(verdict)):
            if index is not None:
                d[index] -= 1
        if action == "relabelled" and label is not None:
            for index in (people.get(label), events.get(label)):
                if index is not None:
                    d[index] += 1
        out.append((cid, t.astimezone(UTC).replace(minute=0, second=0, microsecond=0), *d))
    return out


@dataclass(frozen=True, slots=True)
class ExportReport:
    written: dict[str, int]  # faces per class folder
    without_face_crop: int  # reviewed events whose agent kept no face crop (snapshots.face_crops off)


def export_reviewed(db: Session, snapshot_dir: Path, out: Path) -> ExportReport:
    """Write every reviewed face crop as ``out/<label>/<event_id>.jpg``. Idempotent: a crop already there is
    rewritten, a crop whose review changed moves to its new folder."""
    written: Counter[str] = Counter()
    missing = 0
    base = Path(snapshot_dir).resolve()
    q = select(Event, FaceCrop).outerjoin(FaceCrop, FaceCrop.event_id == Event.event_id).where(
        Event.review.in_(("confirmed", "relabelled")))
    for event, crop in db.execute(q):
        label = true_label(event)
        if label is None:
            continue
        src = (base / crop.path).resolve() if crop is not None else None
        if src is None or base not in src.parents or not src.is_file():
            missing += 1
            continue
        for other in LABELS:  # a review that changed moves the file
            (out / other / f"{event.event_id}.jpg").unlink(missing_ok=True)
        dest = out / label / f"{event.event_id}.jpg"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(src.read_bytes())
        written[label] += 1
    return ExportReport(dict(written), missing)
