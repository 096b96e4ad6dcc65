"""Wall-clock jumps the agent sees: the wall clock compared with the monotonic clock.

A Pi without a real-time clock boots with a stale time and NTP later jumps it, possibly by days; an operator
may set it by hand. Outbox ages and back-off are monotonic, so nothing is lost, but every time stamp the
agent wrote before the jump (events, stats, status) was wrong by that much, and the dashboard clamps such
times (dashboard/clock_bounds.py). Saying so explains those rows: each jump beyond ``threshold_s`` is logged
once, counted, and shown on ``/healthz``, the stats topic and ``/metrics``. Drift below the threshold (NTP
slewing, a few ms per second) is not a jump.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClockState:
    jumps: int  # wall-clock jumps seen since the agent started
    last_jump_s: float | None  # the latest one, seconds (+ forward, - back)
    total_s: float  # wall clock minus monotonic clock now, relative to the start: all jumps and drift


class ClockWatch:
    """``check()`` from the main loop (a few times a second); ``state()`` from any thread."""

    def __init__(self, threshold_s: float = 2.0, wall: Callable[[], float] | None = None,
                 mono: Callable[[], float] | None = None) -> None:
        if threshold_s <= 0:
            raise ValueError(f"threshold_s must be > 0, got {threshold_s}")
        self.threshold_s = threshold_s
        self.wall = wall or time.time
        self.mono = mono or time.monotonic
        self._lock = threading.Lock()
        self._start = self._last = self.wall() - self.mono()
        self._jumps = 0
        self._last_jump: float | None = None

    def check(self) -> float | None:
        """The jump since the previous check (seconds), or None."""
        offset = self.wall() - self.mono()
        with self._lock:
            step = offset - self._last
            self._last = offset
            if abs(step) < self.threshold_s:
                return None
            self._jumps += 1
            self._last_jump = step
            jumps = self._jumps
        log.warning("the wall clock jumped %s%s (jump %d since start; NTP after a boot without a real-time clock, "
                    "or set by hand): time stamps queued before it were off by that much; queue ages are "
                    "monotonic and lose nothing", "+" if step > 0 else "-", _human(abs(step)), jumps)
        return step

    def state(self) -> ClockState:
        with self._lock:
            return ClockState(self._jumps, self._last_jump, round(self._last - self._start, 3))


def _human(seconds: float) -> str:
    days, rest = divmod(round(seconds, 1), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{int(days)} d" if days else "", f"{int(hours)} h" if hours else "",
             f"{int(minutes)} min" if minutes else "", f"{secs:.1f} s" if secs or not (days or hours or minutes) else ""]
    return " ".join(p for p in parts if p)
