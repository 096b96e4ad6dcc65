"""Tracker settings that follow the analysis rate actually achieved.

The tracker's ``votes``, ``window`` and ``max_age_s`` are configured for the camera's ``detect_fps``. A board
that analyses fewer frames than that (a slow CPU, several cameras, emulation) sees each person in fewer
frames, further apart: with the configured values a track would expire between two analysed frames, or a
person would leave before gathering ``votes`` frames, and nobody would ever be decided.

``AnalysisRate`` measures the achieved interval between analysed frames (a moving average; gaps longer than
``max_gap_s``, such as a camera outage, are ignored). ``adapt_to_rate`` scales the vote counts by the ratio
achieved/configured rate, never below ``MIN_VOTES`` agreeing frames (nor above the configured values), and
keeps a track for at least ``AGE_FRAMES`` achieved intervals, so a track survives missing two analysed
frames. At or above the configured rate the configured values are used unchanged. Pure; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge_agent.core.tracking import TrackerParams

MIN_VOTES = 2
AGE_FRAMES = 3.0


@dataclass(slots=True)
class AnalysisRate:
    """Exponential moving average of the time between analysed frames."""

    smoothing: float = 0.3
    max_gap_s: float = 60.0
    interval_s: float | None = None
    last_time: float | None = None

    def observe(self, time: float) -> None:
        if self.last_time is not None:
            dt = time - self.last_time
            if 0.0 < dt <= self.max_gap_s:
                self.interval_s = dt if self.interval_s is None else (
                    (1.0 - self.smoothing) * self.interval_s + self.smoothing * dt)
        self.last_time = time

    @property
    def fps(self) -> float | None:
        return None if not self.interval_s else 1.0 / self.interval_s


def adapt_to_rate(params: TrackerParams, reference_fps: float, achieved_fps: float | None) -> TrackerParams:
    """``params`` (meant for ``reference_fps``) for the achieved rate; unchanged at or above the reference."""
    if achieved_fps is None or reference_fps <= 0 or achieved_fps >= reference_fps:
        return params
    ratio = achieved_fps / reference_fps
    votes = min(params.votes, max(MIN_VOTES, math.ceil(params.votes * ratio - 1e-9)))
    window = min(params.window, max(votes, votes + math.ceil((params.window - params.votes) * ratio - 1e-9)))
    max_age_s = max(params.max_age_s, AGE_FRAMES / achieved_fps)
    return replace(params, votes=votes, window=window, max_age_s=max_age_s)
