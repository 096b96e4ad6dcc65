"""Rebuild the hourly roll-up from the stored events and stats samples (after a manual repair, or to check
that the incremental roll-up is right). Hours whose raw rows were purged are kept as they are."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from sqlalchemy import Engine, delete, select

from dashboard.store import EVENTS, HOURLY, SAMPLES, hour_of
from dashboard.vocabulary import EVENT_COLS, HOURLY_COLS, PEOPLE_COLS


def rebuild_hourly(engine: Engine) -> int:
    """Recompute ``hourly_counts`` for every hour that has events or samples; returns the rows written."""
    counts: dict[tuple[int, datetime], Counter[str]] = defaultdict(Counter)
    with engine.connect() as conn:
        for cid, t, verdict in conn.execute(select(EVENTS.c.camera_id, EVENTS.c.time, EVENTS.c.verdict)
                                            .execution_options(yield_per=10_000)):
            counts[(cid, hour_of(t))][EVENT_COLS[verdict]] += 1
        q = select(SAMPLES.c.camera_id, SAMPLES.c.time, *(SAMPLES.c[label] for label in PEOPLE_COLS)
                   ).execution_options(yield_per=10_000)
        for cid, t, *people in conn.execute(q):
            c = counts[(cid, hour_of(t))]
            for col, n in zip(PEOPLE_COLS.values(), people, strict=True):
                c[col] += n
    rows = [{"camera_id": cid, "hour": hour, **{c: cnt.get(c, 0) for c in HOURLY_COLS}}
            for (cid, hour), cnt in counts.items()]
    with engine.begin() as conn:
        for cid, hour in counts:
            conn.execute(delete(HOURLY).where(HOURLY.c.camera_id == cid, HOURLY.c.hour == hour))
        if rows:
            conn.execute(HOURLY.insert(), rows)
    return len(rows)
